/* mod_callback's customer widget: a "request a callback" form for any web page, and the
 * page where a customer manages their callback. No build step, no third-party code.
 *
 * On a site:
 *   <div id="callback"></div>
 *   <script src="https://pbx.example.com:8089/widget/widget.js" data-key="<create key>"
 *           data-queue="support" data-target="callback" async></script>
 * The site's origin must be in http-cors-origins. The key is a `create` key: it can create
 * callbacks and read free slots, nothing else (it is as public as the form).
 *
 * The manage page (/widget/manage#<token>) loads this script with data-mode="manage"; the
 * customer's token stays in the URL's fragment, which browsers never send to a server.
 *
 * Everything the server says is put in the page as text (never as HTML). */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src, document.baseURI).origin;
  var opts = script.dataset || {};
  var zone = visitorZone();
  var seq = 0;

  // ---- small helpers -------------------------------------------------------------------

  function visitorZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    } catch (e) {
      return "UTC";
    }
  }

  function el(tag, attrs, children) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") n.textContent = v;
      else if (k === "class") n.className = v;
      else if (v === true) n.setAttribute(k, "");
      else n.setAttribute(k, String(v));
    });
    (children || []).forEach(function (c) {
      if (c) n.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return n;
  }

  function api(method, path, auth, body, extraHeaders) {
    var headers = { Authorization: "Bearer " + auth };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    Object.keys(extraHeaders || {}).forEach(function (k) {
      headers[k] = extraHeaders[k];
    });
    return fetch(base + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
    }).then(
      function (r) {
        return r.text().then(function (t) {
          var data = null;
          try {
            data = t ? JSON.parse(t) : null;
          } catch (e) {
            data = null;
          }
          return { status: r.status, body: data };
        });
      },
      function () {
        return { status: 0, body: null };
      }
    );
  }

  function errorOf(reply) {
    if (reply.body && reply.body.error) return reply.body.error;
    if (reply.status === 0)
      return { code: "network", message: "The callback service cannot be reached. Please try again." };
    return { code: "error", message: "Something went wrong (" + reply.status + "). Please try again." };
  }

  function today(tz) {
    return localParts(new Date(), tz).date;
  }

  // The date (YYYY-MM-DD) and time (HH:MM) of an instant in a zone.
  function localParts(d, tz) {
    var f = new Intl.DateTimeFormat("en-CA", {
      timeZone: tz,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    var p = {};
    f.formatToParts(d).forEach(function (x) {
      p[x.type] = x.value;
    });
    return { date: p.year + "-" + p.month + "-" + p.day, time: p.hour + ":" + p.minute };
  }

  function addDays(isoDate, n) {
    var d = new Date(isoDate + "T12:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  function timeOf(iso) {
    return new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: "2-digit", minute: "2-digit" }).format(
      new Date(iso)
    );
  }

  function whenText(iso) {
    return new Intl.DateTimeFormat(undefined, {
      timeZone: zone,
      weekday: "long",
      day: "numeric",
      month: "long",
      hour: "2-digit",
      minute: "2-digit",
    }).format(new Date(iso));
  }

  function minutesText(seconds) {
    var m = Math.max(1, Math.round(seconds / 60));
    return m === 1 ? "about 1 minute" : "about " + m + " minutes";
  }

  function countryName(region) {
    try {
      return new Intl.DisplayNames(undefined, { type: "region" }).of(region) || region;
    } catch (e) {
      return region;
    }
  }

  function injectStyle() {
    if (document.getElementById("cbw-style")) return;
    var css =
      ".cbw{box-sizing:border-box;max-width:28rem;width:100%;font:16px/1.4 system-ui,sans-serif;color:#1a1a1a;" +
      "background:#fff;border:1px solid #c8c8c8;border-radius:8px;padding:1rem}" +
      ".cbw *{box-sizing:border-box}" +
      ".cbw h2{font-size:1.25rem;margin:0 0 .75rem}" +
      ".cbw label,.cbw legend{display:block;font-weight:600;margin:.5rem 0 .25rem}" +
      ".cbw fieldset{border:0;padding:0;margin:.5rem 0}" +
      ".cbw input[type=tel],.cbw input[type=date],.cbw input[type=time],.cbw select,.cbw textarea{" +
      "width:100%;min-height:44px;font-size:1rem;padding:.5rem;border:1px solid #767676;border-radius:4px}" +
      ".cbw .cbw-row{display:flex;gap:.5rem}.cbw .cbw-row>div{flex:1}" +
      ".cbw .cbw-choice{display:flex;align-items:center;gap:.5rem;font-weight:400;min-height:44px;margin:0}" +
      ".cbw .cbw-choice input{width:1.25rem;height:1.25rem;margin:0}" +
      ".cbw .cbw-slots{display:grid;grid-template-columns:repeat(auto-fill,minmax(7.5rem,1fr));gap:.25rem}" +
      ".cbw .cbw-slots label{border:1px solid #767676;border-radius:4px;padding:0 .5rem}" +
      ".cbw .cbw-hint{color:#4a4a4a;font-size:.9rem;margin:.25rem 0}" +
      ".cbw .cbw-error{color:#b00020;font-size:.95rem;margin:.25rem 0}" +
      ".cbw .cbw-error:empty{display:none}" +
      ".cbw [aria-invalid=true]{border-color:#b00020;outline:2px solid #b00020}" +
      ".cbw button{min-height:44px;font-size:1rem;padding:.5rem 1rem;border-radius:4px;border:1px solid #0b57d0;" +
      "background:#0b57d0;color:#fff;cursor:pointer;margin-top:.75rem}" +
      ".cbw button.cbw-secondary{background:#fff;color:#0b57d0}" +
      ".cbw button:focus-visible,.cbw input:focus-visible,.cbw select:focus-visible,.cbw textarea:focus-visible,.cbw a:focus-visible{" +
      "outline:3px solid #f9ab00;outline-offset:2px}" +
      ".cbw .cbw-done{border-left:4px solid #188038;padding-left:.75rem}" +
      ".cbw [hidden]{display:none!important}" +
      ".cbw .cbw-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
      "@media (max-width:360px){.cbw{padding:.75rem}.cbw .cbw-row{flex-direction:column;gap:0}}";
    document.head.appendChild(el("style", { id: "cbw-style", text: css }));
  }

  // A field's error, shown next to it and tied to it for screen readers.
  function fieldError(input, box, message) {
    box.textContent = message || "";
    if (input) {
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  // ---- the slot picker (shared by the form and the manage page) ------------------------

  function slotPicker(id, auth, queue, horizonDays, announce) {
    var dayId = id + "-day";
    var day = el("input", {
      type: "date",
      id: dayId,
      name: "day",
      min: today(zone),
      max: addDays(today(zone), Math.max(0, horizonDays - 1)),
      value: today(zone),
      "aria-describedby": id + "-slots-error",
    });
    var legend = el("legend", { text: "Free times (your time, " + zone + ")" });
    var list = el("div", { class: "cbw-slots", id: id + "-slots" });
    var error = el("p", { class: "cbw-error", id: id + "-slots-error" });
    var box = el("div", {}, [
      el("label", { for: dayId, text: "Day" }),
      day,
      el("fieldset", { "aria-describedby": id + "-slots-error" }, [legend, list]),
      error,
    ]);

    var generation = 0;
    function load() {
      var mine = ++generation;
      list.textContent = "";
      fieldError(null, error, "");
      if (!day.value) return Promise.resolve();
      var q =
        "/v1/availability?date=" +
        encodeURIComponent(day.value) +
        "&time_zone=" +
        encodeURIComponent(zone) +
        (queue ? "&queue=" + encodeURIComponent(queue) : "");
      return api("GET", q, auth).then(function (r) {
        // Only the latest day asked for is shown (an earlier reply may come later).
        if (mine !== generation) return;
        if (r.status !== 200) {
          fieldError(null, error, errorOf(r).message);
          return;
        }
        // Only free slots are offered: a full or past one is not a choice.
        var free = (r.body.slots || []).filter(function (s) {
          return s.state === "available";
        });
        free.forEach(function (s, i) {
          var rid = id + "-slot-" + i;
          list.appendChild(
            el("label", { class: "cbw-choice", for: rid }, [
              el("input", { type: "radio", name: id + "-slot", id: rid, value: s.start, "data-start": s.start }),
              timeOf(s.start) + " – " + timeOf(s.end),
            ])
          );
        });
        if (!free.length) fieldError(null, error, "No free times on this day. Please choose another day.");
        announce(free.length ? free.length + " free times on this day." : "No free times on this day.");
      });
    }
    day.addEventListener("change", load);
    return {
      node: box,
      load: load,
      chosen: function () {
        var c = list.querySelector("input:checked");
        return c ? c.value : null;
      },
      error: function (m) {
        fieldError(null, error, m);
      },
      focus: function () {
        day.focus();
      },
    };
  }

  // ---- the request form ----------------------------------------------------------------

  function form(host) {
    var key = opts.key;
    var queue = opts.queue || "";
    var id = "cbw" + ++seq;
    injectStyle();
    var status = el("div", { class: "cbw-sr", role: "status", "aria-live": "polite", id: id + "-status" });
    var root = el("section", { class: "cbw", "aria-labelledby": id + "-title" }, [
      el("h2", { id: id + "-title", text: opts.title || "Request a callback" }),
      status,
    ]);
    host.appendChild(root);
    function announce(m) {
      status.textContent = "";
      // A fresh text node each time, so the same words are read again.
      setTimeout(function () {
        status.textContent = m;
      }, 50);
    }
    if (!key) {
      root.appendChild(el("p", { class: "cbw-error", text: "This form is not set up (no data-key)." }));
      return;
    }
    api("GET", "/v1/widget" + (queue ? "?queue=" + encodeURIComponent(queue) : ""), key).then(function (r) {
      if (r.status !== 200) {
        root.appendChild(el("p", { class: "cbw-error", role: "alert", text: errorOf(r).message }));
        return;
      }
      build(root, r.body, key, queue, id, announce);
    });
  }

  function build(root, cfg, key, queue, id, announce) {
    var countries = cfg.countries || [];
    var country = null;
    var parts = [];
    if (countries.length) {
      country = el(
        "select",
        { id: id + "-country", name: "country", autocomplete: "country" },
        countries.map(function (c) {
          return el("option", { value: c.region, text: countryName(c.region) + " (+" + c.code + ")" });
        })
      );
      parts.push(el("label", { for: id + "-country", text: "Country" }), country);
    }
    var number = el("input", {
      type: "tel",
      id: id + "-number",
      name: "number",
      required: true,
      autocomplete: country ? "tel-national" : "tel",
      inputmode: "tel",
      "aria-describedby": id + "-number-hint " + id + "-number-error",
    });
    var numberError = el("p", { class: "cbw-error", id: id + "-number-error" });
    parts.push(
      el("label", { for: id + "-number", text: "Phone number" }),
      el("p", {
        class: "cbw-hint",
        id: id + "-number-hint",
        text: country ? "The number we should call." : "With the country code, for example +44 20 7946 0018.",
      }),
      number,
      numberError
    );

    var asap = el("input", { type: "radio", name: id + "-when", id: id + "-asap", value: "asap", checked: true });
    var later = el("input", { type: "radio", name: id + "-when", id: id + "-later", value: "later" });
    var waitHint = el("span", {
      class: "cbw-hint",
      id: id + "-wait",
      text: " (" + minutesText(cfg.estimated_wait_seconds || 60) + ")",
    });
    parts.push(
      el("fieldset", {}, [
        el("legend", { text: "When should we call?" }),
        el("label", { class: "cbw-choice", for: id + "-asap" }, [asap, "As soon as possible", waitHint]),
        el("label", { class: "cbw-choice", for: id + "-later" }, [later, "At a time I choose"]),
      ])
    );

    // The window: only with "as soon as possible" (a chosen slot is its own window).
    var from = el("input", { type: "time", id: id + "-from", name: "window_from" });
    var until = el("input", { type: "time", id: id + "-until", name: "window_until" });
    var windowError = el("p", { class: "cbw-error", id: id + "-window-error" });
    var windowBox = el("fieldset", { "aria-describedby": id + "-window-error" }, [
      el("legend", { text: "Only call me today between (optional)" }),
      el("div", { class: "cbw-row" }, [
        el("div", {}, [el("label", { for: id + "-from", text: "From" }), from]),
        el("div", {}, [el("label", { for: id + "-until", text: "Until" }), until]),
      ]),
      windowError,
    ]);
    parts.push(windowBox);

    var picker = slotPicker(id, key, queue, cfg.horizon_days || 30, announce);
    picker.node.hidden = true;
    parts.push(picker.node);

    var email = null;
    var emailError = el("p", { class: "cbw-error", id: id + "-email-error" });
    if (cfg.email) {
      email = el("input", {
        type: "email",
        id: id + "-email",
        name: "email",
        autocomplete: "email",
        "aria-describedby": id + "-email-error",
      });
      parts.push(el("label", { for: id + "-email", text: "E-mail for your confirmation (optional)" }), email, emailError);
    }

    var reason = el("textarea", { id: id + "-reason", name: "reason", rows: 3, maxlength: 500 });
    var reasonError = el("p", { class: "cbw-error", id: id + "-reason-error" });
    reason.setAttribute("aria-describedby", id + "-reason-error");
    parts.push(el("label", { for: id + "-reason", text: "Reason (optional)" }), reason, reasonError);

    var consent = null;
    var consentError = el("p", { class: "cbw-error", id: id + "-consent-error" });
    if (cfg.consent) {
      consent = el("input", {
        type: "checkbox",
        id: id + "-consent",
        name: "consent",
        required: true,
        "aria-describedby": id + "-consent-error",
      });
      parts.push(el("label", { class: "cbw-choice", for: id + "-consent" }, [consent, cfg.consent]), consentError);
    }
    var general = el("p", { class: "cbw-error", role: "alert", id: id + "-error" });
    var send = el("button", { type: "submit", text: "Request callback" });
    parts.push(general, send);

    var f = el("form", { novalidate: true, "aria-describedby": id + "-error" }, parts);
    root.appendChild(f);

    function switchWhen() {
      var choose = later.checked;
      picker.node.hidden = !choose;
      windowBox.hidden = choose;
      if (choose) picker.load();
    }
    asap.addEventListener("change", switchWhen);
    later.addEventListener("change", switchWhen);

    // The number is checked by the server's own rules as soon as the visitor leaves it.
    var checked = { text: null, e164: null };
    function checkNumber() {
      var text = number.value.trim();
      if (!text) {
        fieldError(number, numberError, "Please enter the number we should call.");
        return Promise.resolve(null);
      }
      var q = "/v1/number?number=" + encodeURIComponent(text) + (country ? "&country=" + country.value : "");
      return api("GET", q, key).then(function (r) {
        if (r.status === 200) {
          fieldError(number, numberError, "");
          checked = { text: text, e164: r.body.number };
          return r.body.number;
        }
        var e = errorOf(r);
        fieldError(number, numberError, e.field === "number" ? e.message : e.message);
        announce("Phone number: " + e.message);
        return null;
      });
    }
    number.addEventListener("change", checkNumber);
    if (country) country.addEventListener("change", function () {
      if (number.value.trim()) checkNumber();
    });

    var idem = null;
    f.addEventListener("input", function () {
      idem = null; // another request: another idempotency key
    });

    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fieldError(null, general, "");
      fieldError(null, windowError, "");
      fieldError(null, reasonError, "");
      if (email) fieldError(email, emailError, "");
      picker.error("");
      if (consent) fieldError(consent, consentError, "");
      var slot = later.checked ? picker.chosen() : null;
      if (later.checked && !slot) {
        picker.error("Please choose a free time.");
        announce("Please choose a free time.");
        return;
      }
      if (consent && !consent.checked) {
        fieldError(consent, consentError, "Please agree before we can call you.");
        consent.focus();
        return;
      }
      send.disabled = true;
      checkNumber().then(function (e164) {
        if (!e164) {
          send.disabled = false;
          number.focus();
          return;
        }
        var body = { number: e164, time_zone: zone, source: "web" };
        if (queue) body.queue = queue;
        if (slot) body.desired_time = slot;
        if (!slot && from.value) body.window_from = "today " + from.value;
        if (!slot && until.value) body.window_until = "today " + until.value;
        if (reason.value.trim()) body.remark = reason.value.trim();
        if (consent || (email && email.value.trim())) body.data = {};
        if (consent) body.data.consent = "given";
        if (email && email.value.trim()) body.data.email = email.value.trim();
        // A retry of this same submission (a lost reply) is answered with the same callback.
        idem = idem || "w-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
        api("POST", "/v1/callbacks", key, body, { "Idempotency-Key": idem }).then(function (r) {
          send.disabled = false;
          if (r.status === 201 || r.status === 200) return confirmed(root, f, r.body, announce);
          if (r.status === 202) return merged(root, f, announce);
          var e = errorOf(r);
          if (e.field === "number") {
            fieldError(number, numberError, e.message);
            number.focus();
          } else if (e.field === "when" || e.field === "desired_time") {
            picker.error(e.message);
            if (slot) picker.load();
          } else if (e.field && e.field.indexOf("window") === 0) {
            fieldError(null, windowError, e.message);
          } else if (e.field === "data.email" && email) {
            fieldError(email, emailError, e.message);
            email.focus();
          } else if (e.field === "remark") {
            fieldError(reason, reasonError, e.message);
          } else {
            fieldError(null, general, e.message);
          }
          announce(e.message);
        });
      });
    });
  }

  function merged(root, f, announce) {
    f.remove();
    var h = el("h3", { tabindex: "-1", text: "We already have your request" });
    root.appendChild(
      el("div", { class: "cbw-done" }, [h, el("p", { text: "A callback for this number is already pending. We will call you." })])
    );
    h.focus();
    announce("A callback for this number is already pending.");
  }

  function confirmed(root, f, reply, announce) {
    var cb = reply.callback;
    var link = base + "/widget/manage#" + reply.token;
    f.remove();
    var h = el("h3", { tabindex: "-1", text: "Your callback is booked" });
    var when = el("p", { class: "cbw-when" });
    var box = el("div", { class: "cbw-done" }, [
      h,
      when,
      el("p", {}, [
        el("a", { href: link, class: "cbw-manage", target: "_blank", rel: "noopener noreferrer", text: "Manage your callback" }),
      ]),
      el("p", { class: "cbw-hint", text: "Keep this link: it lets you change or cancel this callback." }),
    ]);
    root.appendChild(box);
    if (cb.type === "scheduled" && cb.due_at) {
      when.textContent = "We will call you on " + whenText(cb.due_at) + " (your time).";
      h.focus();
      announce("Your callback is booked. " + when.textContent);
      return;
    }
    when.textContent = "We will call you as soon as possible.";
    h.focus();
    api("GET", "/v1/callbacks/" + cb.id, reply.token).then(function (r) {
      if (r.status === 200 && r.body.estimated_wait_seconds !== undefined)
        when.textContent =
          "We will call you as soon as possible, in " + minutesText(r.body.estimated_wait_seconds) + ".";
      announce("Your callback is booked. " + when.textContent);
    });
  }

  // ---- the manage page -----------------------------------------------------------------

  var STATES = {
    requested: "Waiting",
    scheduled: "Booked",
    rescheduled: "Booked",
    due: "Due now: we are calling",
    offering: "An agent is being connected",
    previewing: "An agent is about to call you",
    dialing: "We are calling you",
    connected: "On the call",
    completed: "Done",
    cancelled: "Cancelled",
    expired: "Expired",
    failed: "Could not reach you",
  };

  function manage(host) {
    injectStyle();
    var id = "cbw" + ++seq;
    var token = decodeURIComponent((location.hash || "").replace(/^#/, ""));
    var m = /^cbt_(\d+)_[0-9a-f]+$/.exec(token);
    var status = el("div", { class: "cbw-sr", role: "status", "aria-live": "polite" });
    var title = el("h2", { id: id + "-title", tabindex: "-1", text: "Your callback" });
    var root = el("section", { class: "cbw", "aria-labelledby": id + "-title" }, [title, status]);
    host.appendChild(root);
    function announce(msg) {
      status.textContent = "";
      setTimeout(function () {
        status.textContent = msg;
      }, 50);
    }
    var body = el("div", { class: "cbw-body" });
    root.appendChild(body);
    function plain(heading, text) {
      body.textContent = "";
      var h = el("p", { class: "cbw-state", role: "alert", text: heading });
      body.appendChild(h);
      if (text) body.appendChild(el("p", { text: text }));
      announce(heading + (text ? " " + text : ""));
    }
    if (!m) {
      plain("This link is not complete.", "Please open the whole link from your confirmation.");
      return;
    }
    var cbId = m[1];

    function show() {
      return api("GET", "/v1/callbacks/" + cbId, token).then(function (r) {
        if (r.status === 410) {
          plain(
            "This link has expired.",
            "The callback it was for is over (" + (errorOf(r).message.match(/\(([a-z]+)\)/) || [, "finished"])[1] + "), so the link no longer opens anything. To be called again, please ask for a new callback."
          );
          return;
        }
        if (r.status === 401 || r.status === 404) {
          plain("This link is not valid.", "Please check that you opened the whole link from your confirmation.");
          return;
        }
        if (r.status !== 200) {
          plain(errorOf(r).message);
          return;
        }
        render(r.body);
      });
    }

    function render(cb) {
      body.textContent = "";
      var state = el("p", { class: "cbw-state" }, [el("strong", { text: "Status: " }), STATES[cb.state] || cb.state]);
      var when = el("p", { class: "cbw-when" });
      if (cb.type === "scheduled" && cb.due_at) when.textContent = "We will call you on " + whenText(cb.due_at) + " (your time).";
      else if (cb.estimated_wait_seconds !== undefined)
        when.textContent = "We will call you as soon as possible, in " + minutesText(cb.estimated_wait_seconds) + ".";
      else if (cb.due_at) when.textContent = "Planned for " + whenText(cb.due_at) + " (your time).";
      body.appendChild(state);
      body.appendChild(when);
      if (cb.window_from || cb.window_until)
        body.appendChild(
          el("p", {
            class: "cbw-window",
            text:
              "Only " +
              (cb.window_from ? "from " + timeOf(cb.window_from) + " " : "") +
              (cb.window_until ? "until " + timeOf(cb.window_until) : "") +
              " (your time).",
          })
        );
      body.appendChild(el("p", { class: "cbw-hint", text: "Number: " + cb.number }));
      var waiting = ["requested", "scheduled", "rescheduled"].indexOf(cb.state) >= 0;
      if (!waiting) return;
      var error = el("p", { class: "cbw-error", role: "alert" });
      var change = el("button", { type: "button", class: "cbw-secondary", text: "Choose another time" });
      var cancel = el("button", { type: "button", class: "cbw-secondary", text: "Cancel my callback" });
      body.appendChild(el("div", { class: "cbw-row" }, [change, cancel]));
      body.appendChild(error);
      var picker = null;
      change.addEventListener("click", function () {
        if (picker) return picker.focus();
        picker = slotPicker(id, token, null, 30, announce);
        var save = el("button", { type: "button", text: "Move my callback to this time" });
        var f = el("div", {}, [picker.node, save]);
        body.insertBefore(f, error);
        picker.load().then(function () {
          picker.focus();
        });
        save.addEventListener("click", function () {
          var slot = picker.chosen();
          if (!slot) {
            picker.error("Please choose a free time.");
            announce("Please choose a free time.");
            return;
          }
          save.disabled = true;
          api("PATCH", "/v1/callbacks/" + cbId, token, { desired_time: slot }).then(function (r) {
            save.disabled = false;
            if (r.status === 200) {
              render(r.body);
              var msg = "Your callback is moved to " + whenText(r.body.due_at) + " (your time).";
              body.insertBefore(el("p", { class: "cbw-done", text: msg }), body.firstChild);
              title.focus();
              announce(msg);
              return;
            }
            picker.error(errorOf(r).message);
            announce(errorOf(r).message);
            picker.load();
          });
        });
      });
      cancel.addEventListener("click", function () {
        // One more step: a cancel cannot be undone.
        var sure = el("button", { type: "button", text: "Yes, cancel it" });
        var keep = el("button", { type: "button", class: "cbw-secondary", text: "No, keep it" });
        var ask = el("div", { role: "group", "aria-label": "Confirm cancelling" }, [
          el("p", { text: "Cancel this callback? This cannot be undone." }),
          el("div", { class: "cbw-row" }, [sure, keep]),
        ]);
        cancel.disabled = true;
        body.insertBefore(ask, error);
        sure.focus();
        keep.addEventListener("click", function () {
          ask.remove();
          cancel.disabled = false;
          cancel.focus();
        });
        sure.addEventListener("click", function () {
          sure.disabled = true;
          api("DELETE", "/v1/callbacks/" + cbId, token).then(function (r) {
            if (r.status === 200) {
              plain("Your callback is cancelled.", "We will not call you. This link has now expired.");
              title.focus();
              return;
            }
            sure.disabled = false;
            fieldError(null, error, errorOf(r).message);
          });
        });
      });
    }
    show();
  }

  // ---- start -----------------------------------------------------------------------------

  function start() {
    var host = (opts.target && document.getElementById(opts.target)) || null;
    if (!host) {
      host = document.createElement("div");
      script.parentNode.insertBefore(host, script.nextSibling);
    }
    if (opts.mode === "manage") manage(host);
    else form(host);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
