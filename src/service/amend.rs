//! Changes to a waiting callback: a new time or number, Call Now, another agent; and the
//! caps every change and every new request passes (the number's pending limit, the
//! schedule rules).

use super::*;
use crate::config::Routing;

/// A change to a callback through [`CallbackService::amend_with`]: a new time (whose
/// implied type becomes the callback's: now is immediate, a delay delayed, a clock time
/// scheduled), a new number, and where it goes when an agent reschedules it.
#[derive(Debug, Clone, Default)]
pub struct Amendment<'a> {
    pub when: Option<Requested>,
    pub number: Option<&'a str>,
    /// The new number's type (mobile, home, work, other); with no new number, the current
    /// number's. A new number without one has none.
    pub number_type: Option<NumberType>,
    /// The agent's choice, personal or campaign; `None` keeps its routing (unless the
    /// queue's `rescheduled-callbacks` forces one).
    pub routing: Option<Routing>,
    /// The agent rescheduling it (the one a personal callback goes to); `None`: not an
    /// agent (an admin's fs_cli, a client of the API), whose change keeps the routing.
    pub agent: Option<&'a str>,
    /// The dispatcher's node when it reschedules under its lease (the agent's key after the
    /// call); `None`: a person, refused while a dispatcher holds the callback.
    pub owner: Option<&'a str>,
}

impl CallbackService {
    /// Moves a pending callback to a new time, checked by the same rules as a new request.
    pub fn reschedule(
        &self,
        id: CallbackId,
        when: Requested,
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        self.amend(id, Some(when), None, actor)
    }

    /// Changes a pending callback: a new time (checked by the same rules as a new request)
    /// and/or a new number (validated like a new request's). Both in one transition.
    pub fn amend(
        &self,
        id: CallbackId,
        when: Option<Requested>,
        number: Option<&str>,
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        self.amend_with(
            id,
            &Amendment {
                when,
                number,
                ..Amendment::default()
            },
            actor,
        )
    }

    /// [`CallbackService::amend`] with the number's type: a new number takes the type
    /// given with it (none when none is given: the old number's type is not the new
    /// one's); a type alone retypes the current number.
    pub fn amend_typed(
        &self,
        id: CallbackId,
        when: Option<Requested>,
        number: Option<&str>,
        number_type: Option<NumberType>,
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        self.amend_with(
            id,
            &Amendment {
                when,
                number,
                number_type,
                ..Amendment::default()
            },
            actor,
        )
    }

    /// Where a callback an agent reschedules goes: the queue's `rescheduled-callbacks`
    /// when it forces one (an agent's other choice is refused, naming the rule), else
    /// the agent's choice. `Some(None)`: the queue; `None`: unchanged.
    fn routing_after(
        queue: &QueueConfig,
        a: &Amendment<'_>,
    ) -> Result<Option<Option<String>>, Error> {
        let forced = queue.dial.reschedule_routing;
        if let (Some(f), Some(c)) = (forced, a.routing) {
            if f != c {
                return Err(Error::invalid(
                    "routing",
                    format!(
                        "queue '{}' makes every rescheduled callback a {} callback: {} is not \
                         allowed",
                        queue.name(),
                        f.as_str(),
                        c.as_str()
                    ),
                ));
            }
        }
        match (forced.or(a.routing), a.agent) {
            (Some(Routing::Campaign), _) => Ok(Some(None)),
            (Some(Routing::Personal), Some(agent)) => Ok(Some(Some(agent.to_string()))),
            // Forced personal, but no agent reschedules it (an admin): kept as it is.
            (Some(Routing::Personal), None) if forced.is_some() => Ok(None),
            (Some(Routing::Personal), None) => Err(Error::invalid(
                "routing",
                "a personal callback needs an agent: this login is not one",
            )),
            (None, _) => Ok(None),
        }
    }

    /// Changes a callback (see [`Amendment`]): one that waits, or one completed that the
    /// agent moves after the call (the customer asked to be called again). One transition.
    pub fn amend_with(
        &self,
        id: CallbackId,
        a: &Amendment<'_>,
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        let cfg = self.config();
        let now = self.clock.now();
        let (when, number, number_type) = (a.when.as_ref(), a.number, a.number_type);
        if when.is_none() && number.is_none() && number_type.is_none() {
            return Err(Error::invalid(
                "when",
                "give a new time, a new number or a number type",
            ));
        }
        let current = self.store.get(id)?;
        let queue = Self::queue_config(&cfg, Some(&current.queue))?;
        let zone = self.zone_or(Some(&current.time_zone), queue.zone())?;
        // An agent-preview callback keeps its type: it says how it is delivered (the
        // agent accepts first), not when.
        let kind = when.map(|w| match current.kind {
            CallbackType::AgentPreview => CallbackType::AgentPreview,
            _ => w.implied_type(),
        });
        let routing = Self::routing_after(queue, a)?;
        if let Some(Some(agent)) = &routing {
            self.check_agent_serves(agent, &current.queue)?;
        }
        if current.state == State::Completed && when.is_none() {
            return Err(Error::invalid(
                "when",
                format!("callback {id} is completed: give the time of the next call"),
            ));
        }
        // The lock of the number the callback will have, as the cap counts it (a number
        // that is not one is refused by the check below).
        let target = match number {
            Some(n) => cfg.numbers.normalize(n).unwrap_or_else(|_| n.to_string()),
            None => current.number.clone(),
        };
        let _one_at_a_time = self.caps_lock(&target);
        let checked = self.check_caps(
            &Change {
                number: number.unwrap_or(&current.number),
                normalized: false,
                callback: Some(&current),
                timing: when.zip(kind).map(|(when, kind)| Timing {
                    kind,
                    when,
                    window: &current.window,
                    queue,
                    zone,
                }),
                idempotency_key: None,
            },
            now,
        )?;
        let mut t = Transition::new(self.pending_state_after(current.state), "reschedule");
        t.expect = Some(current.state);
        t.actor = Some(actor.to_string());
        t.owner = a.owner.map(str::to_string);
        let mut details = Vec::new();
        if current.state == State::Completed || current.state == State::Connected {
            details.push("after the call".to_string());
        }
        if let Some(plan) = checked.plan {
            t.due_at = Some(plan.due_at);
            details.push(format!(
                "due {}",
                plan.due_at.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z")
            ));
        } else {
            t.action = "amend".into();
        }
        let new_number = number.is_some();
        if let Some(k) = kind.filter(|k| *k != current.kind) {
            t.kind = Some(k);
            details.push(format!("type {k}"));
        }
        let number = number.map(|_| checked.number);
        if let Some(n) = &number {
            details.push(format!("number {n}"));
        }
        if let Some(ty) = number_type {
            details.push(format!("a {ty} number"));
        }
        t.number = number;
        if new_number || number_type.is_some() {
            t.number_type = Some(number_type);
        }
        if let Some(agent) = routing {
            details.push(match &agent {
                Some(a) => format!("personal to agent {a}"),
                None => format!("any agent of queue {}", current.queue),
            });
            t.agent = Some(agent);
        }
        t.detail = Some(details.join(", "));
        let r = self.store.transition(id, &t, now)?;
        self.notify(&t.action, &r);
        Ok(r)
    }

    /// Sets the customer's window of a waiting callback (either end open): it is never
    /// dialled outside it. A due time before the new start moves to the start; a window
    /// already over is refused (the callback would only expire).
    pub fn set_window(
        &self,
        id: CallbackId,
        window: Window,
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        let now = self.clock.now();
        check_window(&window, now)?;
        let current = self.store.get(id)?;
        let cfg = self.config();
        let zone = cfg
            .queue(Some(&current.queue))
            .map_or(Ok(cfg.settings.default_time_zone), |q| {
                self.zone_or(Some(&current.time_zone), q.zone())
            })?;
        let mut t = Transition::new(self.pending_state_after(current.state), "window");
        t.expect = Some(current.state);
        t.actor = Some(actor.to_string());
        t.window = Some(window);
        if let (Some(from), Some(due)) = (window.from, current.due_at) {
            if due < from {
                t.due_at = Some(from);
            }
        }
        t.detail = Some(window_text(&window, zone));
        let r = self.store.transition(id, &t, now)?;
        self.notify(&t.action, &r);
        Ok(r)
    }

    /// Closes a waiting callback without calling: the agent settled the matter otherwise
    /// (the seeds' "Done"). Its own outcome, `done`, never counted as a cancel.
    pub fn mark_done(
        &self,
        id: CallbackId,
        note: Option<&str>,
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if let Some(n) = note {
            check_text("note", n, self.config().settings.max_remark_chars)?;
        }
        let current = self.store.get(id)?;
        waiting(&current, "mark it done without a call")?;
        let mut t = Transition::new(State::Done, "done");
        t.expect = Some(current.state);
        t.actor = Some(actor.to_string());
        t.detail = Some(match note {
            Some(n) => format!("done without a call: {n}"),
            None => "done without a call".to_string(),
        });
        let r = self.store.transition(id, &t, self.clock.now())?;
        self.notify("done", &r);
        Ok(r)
    }

    /// The caps every change that sets a number or a time passes, whichever door it came
    /// through (REST create and PATCH, the panel's schedule, reschedule and Call Now, fs_cli
    /// `reschedule` and `now`, `callback_capture`, the IVR): the number policy (a valid
    /// number, not under a `deny-prefixes` entry), at most `max-pending-per-number`
    /// callbacks open for a number the change adds one to, and for a new time a positive
    /// delay, business hours, closed dates, the customer's window, slot capacity and the
    /// booking horizon. Rate limits belong to a credential, so they stay at the one door
    /// that has credentials to count (HTTP, every route).
    pub(super) fn check_caps(&self, c: &Change<'_>, now: DateTime<Utc>) -> Result<Checked, Error> {
        let cfg = self.config();
        let number = if c.normalized {
            c.number.to_string()
        } else {
            cfg.numbers.normalize(c.number)?
        };
        // A finished callback moved again (after the call) is one more open for its number.
        let adds = c
            .callback
            .is_none_or(|r| r.number != number || r.state.is_terminal());
        if adds {
            self.check_callable(&number)?;
            self.check_pending(&number, c)?;
        }
        let plan = match &c.timing {
            None => None,
            Some(t) => {
                if let Requested::After(d) = t.when {
                    if *d <= chrono::Duration::zero() {
                        return Err(Error::invalid("when", "the delay must be positive"));
                    }
                }
                let plan = self.plan(t.kind, t.when, t.window, t.queue, t.zone, now)?;
                Some(self.lawful(plan, t, &number)?)
            }
        };
        Ok(Checked { number, plan })
    }

    /// A planned due time inside the legal calling hours in the customer's zone (the
    /// number's country's and the queue's `legal-hours`): a time the customer chose outside
    /// them is refused, naming them; "now" or a delay moves to the first instant they and
    /// the queue's hours allow, within the customer's window. So the time told at booking
    /// is the time of the call.
    fn lawful(&self, plan: Plan, t: &Timing<'_>, number: &str) -> Result<Plan, Error> {
        let cfg = self.config();
        let legal = cfg
            .legal
            .weeks_for(number, t.queue.legal_hours.as_ref(), t.zone);
        if legal.iter().all(|w| w.is_open(plan.due_at)) {
            return Ok(plan);
        }
        let shown = plan
            .due_at
            .with_timezone(&t.zone)
            .format("%Y-%m-%d %H:%M %Z");
        if matches!(t.when, Requested::Local(_) | Requested::At(_)) {
            return Err(Error::invalid(
                "when",
                format!(
                    "{shown} is outside the legal calling hours in the customer's time zone ({})",
                    t.zone.name()
                ),
            ));
        }
        let all: Vec<&crate::schedule::BusinessHours> = std::iter::once(&t.queue.rules.hours)
            .chain(&legal)
            .collect();
        let limit = plan.due_at + t.queue.rules.horizon;
        let at = crate::schedule::next_open_in_all(&all, plan.due_at, limit)
            .filter(|at| t.window.until.is_none_or(|u| *at < u))
            .ok_or_else(|| {
                Error::invalid(
                    "window",
                    format!(
                        "no time within the customer's window and the queue's hours is inside \
                         the legal calling hours in the customer's time zone ({})",
                        t.zone.name()
                    ),
                )
            })?;
        Ok(Plan { due_at: at, ..plan })
    }

    /// Refuses a number (E.164) on the do-not-call list, so the caller or client hears it
    /// at booking instead of a confirmation followed by a callback that never comes. The
    /// dispatcher checks again at the due time (the list may change meanwhile).
    pub fn check_callable(&self, number: &str) -> Result<(), Error> {
        if self.store().dnc_contains(number)? {
            return Err(Error::DoNotCall(number.to_string()));
        }
        Ok(())
    }

    /// At most `max-pending-per-number` callbacks waiting or in progress per number. A new
    /// request that adds nothing passes: a retry (its idempotency key is on one of them) or
    /// one the store will merge into a waiting callback of the same queue.
    pub(super) fn check_pending(&self, number: &str, c: &Change<'_>) -> Result<(), Error> {
        let cfg = self.config();
        let max = cfg.api.max_pending_per_number;
        if max == 0 {
            return Ok(());
        }
        let open: Vec<CallbackRequest> = self
            .store
            .open_for_number(number)?
            .into_iter()
            .filter(|r| c.callback.is_none_or(|own| own.id != r.id))
            .collect();
        if open.len() < max as usize {
            return Ok(());
        }
        if c.callback.is_none() {
            let repeat = c.idempotency_key.is_some()
                && open
                    .iter()
                    .any(|r| r.idempotency_key.as_deref() == c.idempotency_key);
            let merges = cfg.settings.merge_pending
                && c.timing.as_ref().is_some_and(|t| {
                    open.iter()
                        .any(|r| r.queue == t.queue.name() && r.state.is_pending())
                });
            if repeat || merges {
                return Ok(());
            }
        }
        Err(Error::Conflict {
            code: TOO_MANY_PENDING,
            message: format!(
                "this number already has {} callbacks waiting (at most {max}); cancel one or \
                 wait until one is done",
                open.len()
            ),
        })
    }

    /// Makes a pending callback due at once (it still waits for an agent).
    pub fn call_now(&self, id: CallbackId, actor: &str) -> Result<CallbackRequest, Error> {
        let now = self.clock.now();
        let current = self.store.get(id)?;
        self.check_caps(&Change::unchanged(&current), now)?;
        let mut t = Transition::new(self.pending_state_after(current.state), "now");
        t.expect = Some(current.state);
        t.actor = Some(actor.to_string());
        t.due_at = Some(now);
        let r = self.store.transition(id, &t, now)?;
        self.notify("now", &r);
        Ok(r)
    }

    /// Makes a pending callback due at once and personal to `agent`: the dispatcher offers
    /// it to that agent (when ready) at its next turn, which this change wakes.
    pub fn call_now_for(
        &self,
        id: CallbackId,
        agent: &str,
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        self.check_agent(agent)?;
        let now = self.clock.now();
        let current = self.store.get(id)?;
        waiting(&current, "call it now")?;
        self.check_caps(&Change::unchanged(&current), now)?;
        let mut t = Transition::new(self.pending_state_after(current.state), "now");
        t.expect = Some(current.state);
        t.actor = Some(actor.to_string());
        t.due_at = Some(now);
        t.agent = Some(Some(agent.to_string()));
        // Before the backlog of other due callbacks: the next claim takes it first.
        t.first = true;
        t.detail = Some(format!("call now by agent {agent}"));
        let r = self.store.transition(id, &t, now)?;
        self.notify("now", &r);
        Ok(r)
    }

    /// Routes a pending callback to one agent (`Some`) or to any agent of its queue
    /// (`None`), and to another queue (team) when `queue` names one; its due time stays.
    pub fn assign(
        &self,
        id: CallbackId,
        agent: Option<&str>,
        queue: Option<&str>,
        actor: &str,
    ) -> Result<CallbackRequest, Error> {
        let cfg = self.config();
        if let Some(a) = agent {
            self.check_agent(a)?;
        }
        if let Some(q) = queue {
            Self::queue_config(&cfg, Some(q))?;
        }
        let now = self.clock.now();
        let current = self.store.get(id)?;
        waiting(&current, "assign it")?;
        let mut t = Transition::new(self.pending_state_after(current.state), "assign");
        t.expect = Some(current.state);
        t.actor = Some(actor.to_string());
        t.agent = Some(agent.map(str::to_string));
        t.queue = queue.map(str::to_string);
        let team = queue.unwrap_or(&current.queue);
        t.detail = Some(match agent {
            Some(a) => format!("personal to agent {a} (queue {team})"),
            None => format!("any agent of queue {team}"),
        });
        let r = self.store.transition(id, &t, now)?;
        self.notify("assign", &r);
        Ok(r)
    }
}

/// The one refusal of a window that cannot hold a call, whichever door set it: an end
/// before the start, or an end already past.
pub fn check_window(w: &Window, now: DateTime<Utc>) -> Result<(), Error> {
    if let (Some(from), Some(until)) = (w.from, w.until) {
        if until <= from {
            return Err(Error::invalid(
                "window",
                "the window must end after it starts",
            ));
        }
    }
    if w.until.is_some_and(|u| u <= now) {
        return Err(Error::invalid("window", "the window has already ended"));
    }
    Ok(())
}

/// A window as the trace says it, in the customer's zone.
pub fn window_text(w: &Window, zone: Tz) -> String {
    let at = |t: Option<DateTime<Utc>>| {
        t.map_or("open".to_string(), |t| {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
    };
    format!("window from {} until {}", at(w.from), at(w.until))
}
