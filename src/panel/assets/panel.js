// The agent panel and the operator view: plain DOM, no framework. Every call goes to the
// module's /panel/api; changes carry X-Callback-Panel: 1 (the server refuses them without).
'use strict';

const CHANGE = { 'X-Callback-Panel': '1' };
const AGENT_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const $ = (id) => document.getElementById(id);

// What the browser test reads: the last list, how many live updates arrived.
window.panel = { pending: null, live: 0, refreshed: 0, me: null, selected: null };

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') Object.assign(opts.headers, CHANGE);
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const j = await r.json().catch(() => null);
  if (!r.ok) {
    const e = new Error((j && j.error && j.error.message) || ('HTTP ' + r.status));
    e.status = r.status;
    throw e;
  }
  return j;
}

function say(text, bad) {
  const m = $('msg');
  m.textContent = text;
  m.className = bad ? 'bad' : 'good';
}

function fmt(iso, zone) {
  if (!iso) return '-';
  try {
    return new Intl.DateTimeFormat(undefined, {
      timeZone: zone, year: 'numeric', month: 'short', day: 'numeric',
      weekday: 'short', hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
    }).format(new Date(iso));
  } catch (e) {
    return iso;
  }
}

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text);
  tr.appendChild(td);
  return td;
}

function option(select, value, label) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  select.appendChild(o);
}

function kv(obj) {
  const keys = Object.keys(obj || {});
  return keys.length ? keys.map((k) => k + '=' + obj[k]).join(', ') : '-';
}

// ---- agent panel ---------------------------------------------------------------------

async function start() {
  try {
    window.panel.me = await api('GET', '/panel/api/me');
  } catch (e) {
    if (e.status === 401) return showLogin();
    return say(e.message, true);
  }
  showPanel();
}

function showLogin() {
  $('offer').hidden = true;
  $('login').hidden = false;
  $('panel').hidden = true;
  $('who').hidden = true;
}

function showPanel() {
  const me = window.panel.me;
  $('login').hidden = true;
  $('panel').hidden = false;
  $('who').hidden = false;
  $('user').textContent = me.user + ' (' + me.role + ')';
  $('operator-link').hidden = !me.may.operator;
  showAgent(me.agent);
  $('autoplay').checked = autoplayOn();
  const q = $('new-queue');
  q.textContent = '';
  for (const x of me.queues) option(q, x.name, x.name);
  if (me.queues.some((x) => x.name === me.default_queue)) q.value = me.default_queue;
  const zone = me.queues.find((x) => x.name === q.value);
  $('new-zone').value = zone ? zone.time_zone : '';
  const route = $('new-route');
  route.textContent = '';
  option(route, '', 'the team (any agent of the queue)');
  if (me.agent) option(route, me.agent.id, 'me (agent ' + me.agent.id + ')');
  if (me.may.reassign) {
    for (const a of me.agents) if (!me.agent || a !== me.agent.id) option(route, a, 'agent ' + a);
  }
  $('schedule-form').hidden = !me.may.schedule;
  const zones = $('zones');
  zones.textContent = '';
  for (const z of (Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : [])) option(zones, z, z);
  const res = $('w-result');
  res.textContent = '';
  for (const r of me.results) option(res, r, r);
  const disp = $('w-disposition');
  disp.textContent = '';
  for (const d of me.dispositions.concat(['do-not-call'])) option(disp, d, d);
  const team = $('a-queue');
  team.textContent = '';
  for (const x of me.queues) option(team, x.name, x.name);
  const who = $('a-agent');
  who.textContent = '';
  option(who, '', 'the team (any agent of the queue)');
  for (const a of me.agents) option(who, a, 'agent ' + a);
  refresh();
  live();
}

function showAgent(agent) {
  $('agent-box').hidden = !agent;
  if (!agent) return;
  $('agent-id').textContent = agent.id;
  $('agent-state').textContent = agent.state || '?';
  $('agent-state').className = 'state-' + (agent.state || 'unknown');
}

async function refresh() {
  let data;
  try {
    data = await api('GET', '/panel/api/callbacks');
  } catch (e) {
    if (e.status === 401) return showLogin();
    return say(e.message, true);
  }
  showOffer(data.offer);
  window.panel.pending = data.pending;
  window.panel.now = data.now;
  window.panel.refreshed += 1;
  $('badge').textContent = String(data.pending);
  const body = $('callbacks').tBodies[0];
  body.textContent = '';
  for (const c of data.callbacks) {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    tr.className = 'cb state-' + c.state + (window.panel.selected === c.id ? ' selected' : '');
    cell(tr, c.id);
    cell(tr, fmt(c.due_at, c.time_zone));
    cell(tr, fmt(c.due_at, AGENT_ZONE));
    cell(tr, c.number);
    cell(tr, c.queue);
    cell(tr, c.type);
    cell(tr, c.state);
    tr.addEventListener('click', () => select(c.id));
    body.appendChild(tr);
  }
  const rb = $('recent').tBodies[0];
  rb.textContent = '';
  for (const c of data.recent) {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    tr.className = 'cb state-' + c.state;
    cell(tr, c.id);
    cell(tr, fmt(c.updated_at || c.due_at, AGENT_ZONE));
    cell(tr, c.number);
    cell(tr, c.queue);
    cell(tr, c.state);
    tr.addEventListener('click', () => select(c.id));
    rb.appendChild(tr);
  }
  if (window.panel.selected) loadDetail(window.panel.selected, false);
}

// Auto-play of an offer's recording: a per-user setting of this browser, off by default.
function autoplayKey() {
  return 'callback-panel:autoplay:' + (window.panel.me ? window.panel.me.user : '');
}
function autoplayOn() {
  try {
    return localStorage.getItem(autoplayKey()) === 'on';
  } catch (e) {
    return false;
  }
}

// The callback offered to the user's agent (ringing, or its preview playing): shown with
// Accept / Reject, opened in the detail, its recording played when auto-play is on.
let lastOffer = null;
async function showOffer(o) {
  $('offer').hidden = !o;
  window.panel.offer = o ? o.id : null;
  if (!o) {
    lastOffer = null;
    return;
  }
  $('o-id').textContent = o.id;
  $('o-state').textContent = o.state === 'offering' ? 'your phone is ringing' : 'the preview is playing';
  $('o-number').textContent = o.number;
  $('o-queue').textContent = 'queue ' + o.queue;
  $('o-type').textContent = '(' + o.type + ')';
  $('o-transcript').textContent = o.transcript || '';
  if (lastOffer === o.id) return;
  lastOffer = o.id;
  await select(o.id);
  if (autoplayOn() && o.recording) {
    try {
      await $('audio').play();
      window.panel.autoplayed = o.id;
    } catch (e) {
      say('The recording could not be played: ' + e.message, true);
    }
  }
}

// A burst of changes (a busy dispatcher) costs one reload in flight and one after it, and
// reloads start at most every RELOAD_GAP ms: each one reads the store.
const RELOAD_GAP = 2000;
function coalesced(load, gap = RELOAD_GAP) {
  let loading = false;
  let again = false;
  let last = 0;
  let timer = null;
  const run = () => {
    if (loading) {
      again = true;
      return;
    }
    const wait = last + gap - Date.now();
    if (wait > 0) {
      if (!timer) timer = setTimeout(() => { timer = null; run(); }, wait);
      return;
    }
    loading = true;
    last = Date.now();
    Promise.resolve(load()).catch(() => {}).finally(() => {
      loading = false;
      if (again) {
        again = false;
        run();
      }
    });
  };
  return run;
}
const refreshSoon = coalesced(() => refresh());

// One stream per page, also after a login again without a reload.
let events = null;
function live() {
  if (!window.EventSource) return;
  if (events) events.close();
  const es = new EventSource('/panel/api/events');
  events = es;
  es.addEventListener('changed', () => {
    window.panel.live += 1;
    refreshSoon();
  });
  es.addEventListener('hello', () => { window.panel.connected = true; });
  es.onerror = () => { window.panel.connected = false; };
}

async function select(id) {
  window.panel.selected = id;
  for (const tr of document.querySelectorAll('tr.cb')) {
    tr.classList.toggle('selected', Number(tr.dataset.id) === id);
  }
  await loadDetail(id, true);
}

async function loadDetail(id, fresh) {
  let c;
  try {
    c = await api('GET', '/panel/api/callbacks/' + id);
  } catch (e) {
    return say(e.message, true);
  }
  const me = window.panel.me;
  $('detail').hidden = false;
  $('d-id').textContent = c.id;
  $('d-state').textContent = c.state;
  // The type someone gave, and the line type the numbering plan knows.
  const kinds = [c.number_type, c.line_type && ('line ' + c.line_type)].filter(Boolean);
  $('d-number').textContent = c.number + (kinds.length ? ' (' + kinds.join(', ') + ')' : '');
  $('d-zone').textContent = c.time_zone;
  $('d-due-customer').textContent = fmt(c.due_at, c.time_zone);
  $('d-due-agent').textContent = fmt(c.due_at, AGENT_ZONE) + ' (' + AGENT_ZONE + ')';
  $('d-window').textContent = (c.window.from || c.window.until)
    ? fmt(c.window.from, c.time_zone) + ' to ' + fmt(c.window.until, c.time_zone) : 'any time';
  $('d-queue').textContent = c.queue;
  $('d-type').textContent = c.type + ' (from ' + c.source + ')';
  $('d-agent').textContent = c.agent || 'the team';
  $('d-remark').textContent = c.remark || '-';
  $('d-ivr').textContent = kv(c.ivr_data);
  $('d-tags').textContent = kv(c.tags);
  $('transcript').textContent = c.transcript
    || (c.no_speech ? '(no speech: the caller said nothing in the recording)'
      : (c.transcription ? '(transcription ' + c.transcription + ')' : '-'));
  const audio = $('audio');
  if (c.recording) {
    audio.hidden = false;
    if (fresh || audio.dataset.for !== String(c.id)) {
      audio.dataset.for = String(c.id);
      audio.src = c.recording.url;
      audio.load();
    }
  } else {
    audio.hidden = true;
    audio.removeAttribute('src');
    audio.dataset.for = '';
  }
  $('call-now').hidden = !(c.pending && me.agent);
  $('cancel').hidden = !(me.may.cancel && (c.pending || ['offering', 'previewing', 'dialing'].includes(c.state)));
  // After the call the agent may move a completed callback again (a chosen time, maybe a
  // new number); a waiting one can also be closed as done without a call.
  const waiting = ['requested', 'scheduled', 'rescheduled'].includes(c.state);
  $('done').hidden = !(me.may.reschedule && waiting);
  $('reschedule-form').hidden = !(me.may.reschedule && (c.pending || c.state === 'completed'));
  $('r-title').textContent = c.state === 'completed' ? 'Call again (after the call)' : 'Reschedule';
  // The queue decides whether the agent chooses personal or campaign.
  const q = me.queues.find((x) => x.name === c.queue);
  const rule = q ? q.rescheduled_callbacks : 'agent-choice';
  $('r-routing-box').hidden = rule !== 'agent-choice';
  $('r-routing').querySelector('option[value="personal"]').disabled = !me.agent;
  $('r-routing-rule').hidden = rule === 'agent-choice';
  $('r-routing-rule').textContent = rule === 'personal'
    ? 'Queue ' + c.queue + ': a rescheduled callback becomes personal to you.'
    : 'Queue ' + c.queue + ': a rescheduled callback goes to the team (campaign).';
  $('assign-form').hidden = !(me.may.reassign && c.pending);
  $('window-form').hidden = !(me.may.reschedule && c.pending);
  const wrap = c.wrap_up;
  // After the call: while it is live its own result would overwrite the agent's.
  $('wrapup-form').hidden = !(wrap && wrap.ended);
  $('w-done').hidden = !(wrap && wrap.done);
  if (fresh) {
    $('r-zone').value = c.time_zone;
    $('r-number').value = '';
    $('r-routing').value = '';
    if (c.due_at) {
      const parts = new Intl.DateTimeFormat('en-CA', {
        timeZone: c.time_zone, year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
      }).formatToParts(new Date(c.due_at));
      const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
      $('r-date').value = p.year + '-' + p.month + '-' + p.day;
      $('r-time').value = p.hour + ':' + p.minute;
    }
    $('cw-from').value = localInput(c.window.from, c.time_zone);
    $('cw-until').value = localInput(c.window.until, c.time_zone);
    $('a-agent').value = c.agent || '';
    $('a-queue').value = c.queue;
    slots();
  }
  const ev = $('d-events');
  ev.textContent = '';
  for (const e of c.events) {
    const li = document.createElement('li');
    li.textContent = fmt(e.at, AGENT_ZONE) + ' ' + e.action + ' ' + (e.from || '-') + ' -> ' + e.to
      + (e.actor ? ' by ' + e.actor : '') + (e.detail ? ' (' + e.detail + ')' : '');
    ev.appendChild(li);
  }
}

// An instant as a datetime-local field's value in a zone (YYYY-MM-DDTHH:MM), '' for none.
function localInput(iso, zone) {
  if (!iso) return '';
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(iso));
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return p.year + '-' + p.month + '-' + p.day + 'T' + p.hour + ':' + p.minute;
}

// 24-hour HH:MM of an instant in a zone (what <input type=time> takes).
function hhmm(iso, zone) {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .format(new Date(iso));
}

// The slot grid of the chosen date: full (and past) slots are greyed out.
async function slots() {
  const box = $('slots');
  box.textContent = '';
  const id = window.panel.selected;
  const date = $('r-date').value;
  if (!id || !date) return;
  const queue = $('d-queue').textContent;
  const zone = $('r-zone').value;
  let grid;
  try {
    grid = await api('GET', '/panel/api/availability?queue=' + encodeURIComponent(queue)
      + '&date=' + encodeURIComponent(date) + (zone ? '&time_zone=' + encodeURIComponent(zone) : ''));
  } catch (e) {
    box.textContent = e.message;
    return;
  }
  for (const s of grid.slots) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'slot slot-' + s.state;
    b.disabled = s.state !== 'available';
    b.textContent = hhmm(s.start, grid.zone) + ' (' + Math.max(0, s.capacity - s.used) + ' left)';
    b.title = s.state;
    b.addEventListener('click', () => { $('r-time').value = hhmm(s.start, grid.zone); });
    box.appendChild(b);
  }
  if (!grid.slots.length) box.textContent = 'closed that day';
}

async function act(what, fn) {
  try {
    const r = await fn();
    say(what);
    return r;
  } catch (e) {
    say(e.message, true);
    return null;
  }
}

function wire() {
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/panel/api/login', { user: $('login-user').value, password: $('login-password').value });
      $('login-password').value = '';
      say('');
      start();
    } catch (e) {
      say(e.message, true);
    }
  });
  $('logout').addEventListener('click', async () => {
    await api('POST', '/panel/api/logout').catch(() => null);
    location.reload();
  });
  for (const [btn, ready] of [['ready', true], ['away', false]]) {
    $(btn).addEventListener('click', async () => {
      const r = await act(ready ? 'You are ready.' : 'You are away.', () => api('POST', '/panel/api/me/state', { ready }));
      if (r) showAgent({ id: r.agent, state: r.state });
    });
  }
  $('autoplay').addEventListener('change', () => {
    try {
      localStorage.setItem(autoplayKey(), $('autoplay').checked ? 'on' : 'off');
    } catch (e) {
      say('This browser does not keep settings: ' + e.message, true);
    }
  });
  for (const [btn, decision] of [['o-accept', 'accept'], ['o-reject', 'reject']]) {
    $(btn).addEventListener('click', () => {
      const id = window.panel.offer;
      if (!id) return;
      act(decision === 'accept' ? 'Callback ' + id + ': accepted, calling the customer.'
        : 'Callback ' + id + ': rejected, back to the queue.',
      () => api('POST', '/panel/api/callbacks/' + id + '/offer', { decision }));
    });
  }
  $('call-now').addEventListener('click', () => {
    const id = window.panel.selected;
    act('Callback ' + id + ': calling you now.', () => api('POST', '/panel/api/callbacks/' + id + '/call-now'));
  });
  $('cancel').addEventListener('click', () => {
    const id = window.panel.selected;
    if (!confirm('Cancel callback ' + id + '?')) return;
    act('Callback ' + id + ' cancelled.', () => api('POST', '/panel/api/callbacks/' + id + '/cancel'));
  });
  $('done').addEventListener('click', () => {
    const id = window.panel.selected;
    act('Callback ' + id + ': done without a call.', () => api('POST', '/panel/api/callbacks/' + id + '/done', {}))
      .then((r) => { if (r) loadDetail(id, false); });
  });
  $('r-date').addEventListener('change', slots);
  $('r-zone').addEventListener('change', slots);
  $('r-type').addEventListener('change', () => {
    const t = $('r-type').value;
    $('r-delay-box').hidden = t !== 'delayed';
    $('r-at-box').hidden = t !== 'scheduled';
    $('slots').hidden = t !== 'scheduled';
  });
  $('reschedule-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = window.panel.selected;
    const type = $('r-type').value;
    const body = { type };
    if (type === 'scheduled') {
      Object.assign(body, { date: $('r-date').value, time: $('r-time').value, time_zone: $('r-zone').value });
    }
    if (type === 'delayed') body.delay_minutes = Number($('r-delay').value);
    if ($('r-number').value.trim()) body.number = $('r-number').value.trim();
    if (!$('r-routing-box').hidden && $('r-routing').value) body.routing = $('r-routing').value;
    act('Callback ' + id + ' rescheduled.', () => api('POST', '/panel/api/callbacks/' + id + '/reschedule', body))
      .then((r) => { if (r) loadDetail(id, false); slots(); });
  });
  $('window-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = window.panel.selected;
    act('Callback ' + id + ': window saved.', () => api('POST', '/panel/api/callbacks/' + id + '/window', {
      from: $('cw-from').value, until: $('cw-until').value,
    }));
  });
  $('assign-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = window.panel.selected;
    act('Callback ' + id + ' reassigned.', () => api('POST', '/panel/api/callbacks/' + id + '/assign', {
      agent: $('a-agent').value || null,
      queue: $('a-queue').value || null,
    }));
  });
  $('wrapup-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = window.panel.selected;
    act('Callback ' + id + ': done.', () => api('POST', '/panel/api/callbacks/' + id + '/wrap-up', {
      result: $('w-result').value || null,
      disposition: $('w-disposition').value || null,
      note: $('w-note').value || null,
      do_not_call: $('w-dnc').checked,
    })).then((r) => { if (r) loadDetail(id, false); });
  });
  $('new-queue').addEventListener('change', () => {
    const q = window.panel.me.queues.find((x) => x.name === $('new-queue').value);
    if (q) $('new-zone').value = q.time_zone;
  });
  // The list and badge follow through the live updates, like any other change.
  $('schedule-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await act('Callback scheduled.', () => api('POST', '/panel/api/callbacks', {
      number: $('new-number').value,
      number_type: $('new-number-type').value,
      queue: $('new-queue').value || null,
      date: $('new-date').value,
      time: $('new-time').value,
      time_zone: $('new-zone').value || null,
      agent: $('new-route').value || null,
      remark: $('new-remark').value || null,
      window_from: $('new-window-from').value,
      window_until: $('new-window-until').value,
    }));
    if (r) {
      say('Callback ' + r.callback.id + ' scheduled.');
      window.panel.scheduled = r.callback.id;
      $('new-number').value = '';
      $('new-remark').value = '';
    }
  });
}

// ---- operator view -------------------------------------------------------------------

async function operator() {
  let o;
  try {
    o = await api('GET', '/panel/api/operator');
  } catch (e) {
    if (e.status === 401) { location.href = '/panel/'; return; }
    return say(e.message, true);
  }
  const qb = $('queues').tBodies[0];
  qb.textContent = '';
  for (const q of o.queues) {
    const tr = document.createElement('tr');
    cell(tr, q.name + ' (' + q.time_zone + ')');
    cell(tr, kv(q.states));
    cell(tr, kv(q.today));
    qb.appendChild(tr);
  }
  const ob = $('overdue').tBodies[0];
  ob.textContent = '';
  for (const c of o.overdue) {
    const tr = document.createElement('tr');
    cell(tr, c.id);
    cell(tr, fmt(c.due_at, c.time_zone));
    cell(tr, c.number);
    cell(tr, c.queue);
    cell(tr, c.state + (c.waiting_for_agent ? ' (waiting for an agent)' : ''));
    ob.appendChild(tr);
  }
  if (!o.overdue.length) {
    const tr = document.createElement('tr');
    cell(tr, 'none').colSpan = 5;
    ob.appendChild(tr);
  }
  const ab = $('agents').tBodies[0];
  ab.textContent = '';
  for (const a of o.agents) {
    const tr = document.createElement('tr');
    cell(tr, a.id);
    cell(tr, a.state).className = 'state-' + a.state;
    cell(tr, a.queues.join(', '));
    cell(tr, a.callback == null ? '-' : a.callback);
    cell(tr, fmt(a.idle_since, AGENT_ZONE));
    ab.appendChild(tr);
  }
}

// The charts (window.charts, charts.js) over /panel/api/operator/charts.
const CHARTS_GAP = 10_000;
const OUTCOME_COLORS = {
  answered: '#2e7d4f', 'no-answer': '#d29a1e', busy: '#8e44ad', machine: '#5d6d7e', failed: '#c0392b',
};

function duration(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (h ? h + ' h ' : '') + m + ' min ' + (s % 60) + ' s';
}

async function operatorCharts() {
  let c;
  try {
    c = await api('GET', '/panel/api/operator/charts');
  } catch (e) {
    if (e.status === 401) { location.href = '/panel/'; return; }
    return say(e.message, true);
  }
  window.panel.charts = c;
  window.panel.chartsDrawn = (window.panel.chartsDrawn || 0) + 1;
  $('charts-zone').textContent = '(' + c.time_zone + ')';
  const hourLabel = (h) => (h.day === 'tomorrow' ? '+' : '') + h.label.slice(0, 2);
  window.charts.stackedBars($('chart-due'), {
    labels: c.due.map(hourLabel),
    series: [
      { name: 'handled', color: '#8fb3d9', values: c.due.map((h) => h.handled) },
      { name: 'waiting', color: '#24324a', values: c.due.map((h) => h.waiting) },
    ],
    lines: [
      { name: 'agents', color: '#5a6476', value: c.agents_configured },
      { name: 'not away', color: '#2e7d4f', value: c.agents_ready },
    ],
  });
  $('promise-note').textContent = 'First customer dial within ' + c.promise_minutes
    + ' min of the time promised, per queue: today, and over 7 days.';
  const rows = [];
  for (const p of c.promises) {
    rows.push({ label: p.queue + ' today', kept: p.today.kept, total: p.today.total });
    rows.push({ label: p.queue + ' 7 days', kept: p.week.kept, total: p.week.total });
  }
  window.charts.shareBars($('chart-promises'), rows);
  window.charts.stackedBars($('chart-outcomes'), {
    labels: c.outcomes.map((h) => h.label.slice(0, 2)),
    series: Object.keys(OUTCOME_COLORS).map((o) => ({
      name: o, color: OUTCOME_COLORS[o], values: c.outcomes.map((h) => h.counts[o] || 0),
    })),
  });
  window.charts.stackedBars($('chart-lateness'), {
    labels: c.lateness.map((b) => b.label),
    series: [{ name: 'callbacks', color: '#24324a', values: c.lateness.map((b) => b.count) }],
  });
  const tb = $('agent-figures').tBodies[0];
  tb.textContent = '';
  for (const a of c.agents) {
    const tr = document.createElement('tr');
    cell(tr, a.agent);
    cell(tr, a.offers);
    cell(tr, a.accepts);
    cell(tr, a.rejects);
    cell(tr, duration(a.talk_seconds));
    tb.appendChild(tr);
  }
  if (!c.agents.length) {
    const tr = document.createElement('tr');
    cell(tr, 'no offers today').colSpan = 5;
    tb.appendChild(tr);
  }
}

// The report links follow the form's filters.
function reportLinks() {
  const q = new URLSearchParams();
  for (const k of ['from', 'to', 'queue', 'type', 'source', 'agent', 'outcome']) {
    const v = $('report-' + k).value.trim();
    if (v) q.set(k, v);
  }
  for (const f of ['csv', 'json']) {
    q.set('format', f);
    $('report-' + f).href = '/panel/api/operator/report?' + q.toString();
  }
}

document.addEventListener('DOMContentLoaded', () => {
  if (document.body.dataset.view === 'operator') {
    $('report-form').addEventListener('input', reportLinks);
    $('report-form').addEventListener('submit', (e) => e.preventDefault());
    reportLinks();
    const reload = coalesced(operator);
    // The charts read a week of callbacks with their legs: redrawn at most every 10 s.
    const redraw = coalesced(operatorCharts, CHARTS_GAP);
    reload();
    redraw();
    if (window.EventSource) {
      const es = new EventSource('/panel/api/events');
      es.addEventListener('changed', reload);
      es.addEventListener('changed', redraw);
    }
    setInterval(reload, 5000);
    setInterval(redraw, 60000);
    return;
  }
  wire();
  start();
});
