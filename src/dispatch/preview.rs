//! The agent leg, once the agent answered (`callback_agent <id>` on the agent's call):
//!
//! 1. **Preview**: "callback request from" + the number, then the caller's own recording;
//!    keys: `1` dial now, `2` replay, `3` reschedule (+ `reschedule-delay`), `7` do not
//!    call this number (added to the list; the callback fails), `9` reject (offered to
//!    another agent; no customer attempt used). No key within `preview-seconds`: requeue
//!    (the default), or dial with `preview-timeout=dial`.
//! 2. **Customer leg**, bridged from the agent's call (the agent hears ringback): checked
//!    against the do-not-call list, business hours and the customer's window first; the
//!    queue's gateway and caller ID, its no-answer timeout, `ignore_early_media`.
//!    The callback is marked connected the moment the host sees the customer answer.
//! 3. **Outcome**: classified from the hangup cause; the retry policy decides what follows.
//! 4. **After the call** (optional): the agent keys a disposition (1..n of `dispositions`,
//!    0 = do not call again), or 8 = call again later: the minutes until the next call,
//!    then the customer's new number if they gave one (pound keeps it). The callback is
//!    then rescheduled, not completed (its routing as the queue's `rescheduled-callbacks`
//!    says).

use super::agents::Released;
use super::outcome;
use super::scheduler::{Dispatcher, Offer};
use crate::config::Routing;
use crate::host::{LegOutcome, LegRequest, Target};
use crate::ivr::{Answer, Ask, Prompt};
use crate::model::{classify_hangup, AttemptResult, CallbackRequest, CallbackType, Leg, State};
use crate::service::{Amendment, Error, Requested};
use crate::store::{AttemptEnd, NewAttempt, Transition};
use chrono::{DateTime, Utc};

/// The agent's call, as the preview sees it. Blocking, on the call's own thread.
pub trait AgentLine {
    fn alive(&self) -> bool;
    fn play(&mut self, prompts: &[Prompt]) -> bool;
    fn ask(&mut self, prompts: &[Prompt], ask: &Ask) -> Answer;
    /// Dials the customer and bridges them to this call; returns when the bridge ends.
    /// `on_answer` is called (from any thread, at most once) as soon as the host sees the
    /// customer answer, so the callback is marked connected during the call, not after it.
    fn bridge(&mut self, leg: &LegRequest, on_answer: &(dyn Fn() + Sync)) -> LegOutcome;
    /// The agent leg's call uuid.
    fn uuid(&self) -> Option<String>;
    /// Sets the callback's IVR data on the agent's call as `callback_data_<key>` channel
    /// variables (keys of `a-z`, `0-9`, `_`), through the host's checked setter: free text
    /// travels only so, never in a command line.
    fn set_data(&mut self, _data: &std::collections::BTreeMap<String, String>) {}
    /// What the check on the customer's answered leg found, when it ended the leg before
    /// the agent was connected (a machine, no key after the greeting); read after
    /// [`AgentLine::bridge`].
    fn answer_verdict(&self) -> Option<crate::answer::Verdict> {
        None
    }
}

/// How the agent leg ended, for the application's result variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewEnd {
    /// No offer of this callback is waiting for this call.
    NotOffered,
    Rejected,
    Rescheduled,
    DoNotCall,
    /// The customer leg ran; its result.
    Dialled(AttemptResult),
    /// Dialling was not allowed (do-not-call, closed, window); the callback moved on.
    NotDialled(String),
    Requeued,
}

/// The agent leg's prompts (`callback/agent-<name>.wav`) and what each should say.
pub const AGENT_PROMPTS: &[(&str, &str)] = &[
    ("intro", "Callback request from"),
    ("menu", "To call now, press 1. To listen again, press 2. To call later, press 3. Never to call this number, press 7. To pass it on, press 9."),
    ("rescheduled", "The callback is moved to later."),
    ("do-not-call", "This number will not be called again."),
    ("not-dialled", "This callback cannot be dialled now. It has been moved on."),
    ("customer-not-reached", "The customer did not answer. The callback will be tried again."),
    ("disposition", "Please key the result of the call. To call the customer again later, press 8."),
    ("later-minutes", "Key the minutes until the next call, then press pound."),
    ("later-number", "Key the customer's new number, then press pound. To keep the number, press pound."),
    ("not-moved", "The callback could not be moved. It is marked completed."),
    ("thanks", "Thank you."),
    ("no-callback", "There is no callback for you on this call."),
];

/// Writes `dialing -> connected` when the host reports the customer's answer (from the
/// host's thread, while the bridge runs).
fn mark_connected(
    d: &Dispatcher,
    id: i64,
    node: &str,
    agent: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut t = Transition::new(State::Connected, "connected");
    t.expect = Some(State::Dialing);
    t.owner = Some(node.to_string());
    t.actor = Some(agent.to_string());
    t.detail = Some("the customer answered".into());
    let stored = d.service().store().transition(id, &t, now)?;
    d.service().notify("connected", &stored);
    Ok(())
}

/// Prompt files of the agent leg.
fn prompt(name: &str) -> Prompt {
    Prompt::File(format!("callback/agent-{name}.wav"))
}

struct Leg2<'a> {
    d: &'a Dispatcher,
    line: &'a mut dyn AgentLine,
    offer: Offer,
    answered_at: DateTime<Utc>,
}

/// Runs the agent leg of callback `id` on the call of `agent` (the `callback_agent` variable
/// the dispatcher set on the leg it originated; a call without it, or of another agent,
/// gets no offer).
pub fn run(
    d: &Dispatcher,
    id: i64,
    agent: Option<&str>,
    line: &mut dyn AgentLine,
) -> Result<PreviewEnd, Error> {
    let Some(offer) = agent.and_then(|a| d.take_offer_for(id, a)) else {
        line.play(&[prompt("no-callback")]);
        return Ok(PreviewEnd::NotOffered);
    };
    let agent = offer.agent.id.clone();
    // From here the panel's Accept / Reject is pressed on this call (see `decide`).
    d.preview_started(id, &agent, line.uuid());
    let mut leg = Leg2 {
        d,
        line,
        answered_at: d.service().now(),
        offer,
    };
    let end = leg.go();
    let now = d.service().now();
    let how = match &end {
        Ok(PreviewEnd::Rejected | PreviewEnd::Requeued) => Released::Declined,
        Ok(_) => Released::Handled,
        Err(_) => Released::Withdrawn,
    };
    d.offer_ended(id);
    d.release_agent(&agent, how, now);
    d.let_go(id);
    end
}

impl Leg2<'_> {
    fn svc(&self) -> &crate::service::CallbackService {
        self.d.service()
    }

    fn node(&self) -> String {
        self.svc().config().settings.node_id.clone()
    }

    fn now(&self) -> DateTime<Utc> {
        self.svc().now()
    }

    fn step(&self, r: &CallbackRequest, mut t: Transition) -> Result<CallbackRequest, Error> {
        t.expect = Some(r.state);
        t.owner = Some(self.node());
        t.actor = Some(self.offer.agent.id.clone());
        let action = t.action.clone();
        let stored = self.svc().store().transition(r.id, &t, self.now())?;
        self.svc().notify(&action, &stored);
        Ok(stored)
    }

    /// Closes the agent leg's attempt. Always before the transition that takes the
    /// callback out of this dispatch (done, rescheduled, failed): a process killed in
    /// between leaves a leased callback that recovery finishes, never a finished callback
    /// with a leg open forever.
    fn end_agent_leg(&self, result: AttemptResult, cause: &str) -> Result<(), Error> {
        let end = AttemptEnd {
            answered_at: Some(self.answered_at),
            hangup_cause: cause.to_string(),
            result,
        };
        self.svc()
            .store()
            .finish_attempt(self.offer.attempt_id, &end, self.now())?;
        Ok(())
    }

    fn go(&mut self) -> Result<PreviewEnd, Error> {
        let id = self.offer.callback_id;
        let r = self.svc().store().get(id)?;
        if r.state != State::Offering {
            self.end_agent_leg(AttemptResult::Error, "NOT_OFFERING")?;
            return Ok(PreviewEnd::NotOffered);
        }
        let mut t = Transition::new(State::Previewing, "preview");
        t.detail = Some(format!("agent {} answered", self.offer.agent.id));
        let r = self.step(&r, t)?;
        self.line.set_data(&r.ivr_data);
        let d: &Dispatcher = self.d;
        let cfg = d.service().config();
        let ask = Ask {
            min: 1,
            max: 1,
            timeout_ms: cfg.dispatch.preview_secs.saturating_mul(1000),
            terminators: "",
        };
        let mut prompts = vec![prompt("intro"), Prompt::Digits(r.number.clone())];
        if let Some(rec) = &r.recording {
            prompts.push(Prompt::File(rec.path.clone()));
        }
        prompts.push(prompt("menu"));
        // Decided in the panel while the phone rang: acted on without the menu.
        let agent = self.offer.agent.id.clone();
        let mut decided = d
            .take_decision(id, &agent)
            .map(|k| Answer::Digits(k.key().to_string()));
        loop {
            let answer = match decided.take() {
                Some(a) => a,
                None => {
                    let heard = self.line.ask(&prompts, &ask);
                    // The panel's decision (pressed on this call as its key) wins over
                    // whatever else the call heard meanwhile.
                    match d.take_decision(id, &agent) {
                        Some(k) => Answer::Digits(k.key().to_string()),
                        None => heard,
                    }
                }
            };
            match answer {
                Answer::Digits(k) if k == "1" => return self.dial(r),
                Answer::Digits(k) if k == "2" => continue,
                Answer::Digits(k) if k == "3" => {
                    let mut t = Transition::new(State::Rescheduled, "reschedule");
                    let at = self.now() + cfg.dispatch.reschedule_delay;
                    t.due_at = Some(at);
                    // The queue's `rescheduled-callbacks` rule (the phone offers no
                    // choice): personal to this agent, or back to the team.
                    let routing = cfg
                        .queue(Some(&r.queue))
                        .and_then(|q| q.dial.reschedule_routing);
                    let to = match routing {
                        Some(Routing::Personal) => {
                            t.agent = Some(Some(self.offer.agent.id.clone()));
                            format!(", personal to agent {}", self.offer.agent.id)
                        }
                        Some(Routing::Campaign) => {
                            t.agent = Some(None);
                            format!(", any agent of queue {}", r.queue)
                        }
                        None => String::new(),
                    };
                    t.detail = Some(format!(
                        "by the agent during the preview, to {}{to}",
                        at.to_rfc3339()
                    ));
                    self.end_agent_leg(AttemptResult::Answered, "NORMAL_CLEARING")?;
                    self.step(&r, t)?;
                    self.line.play(&[prompt("rescheduled")]);
                    return Ok(PreviewEnd::Rescheduled);
                }
                Answer::Digits(k) if k == "7" => {
                    let reason = format!("agent {} during the preview", self.offer.agent.id);
                    self.svc()
                        .store()
                        .dnc_add(&r.number, Some(&reason), self.now())?;
                    let mut t = Transition::new(State::Failed, "do-not-call");
                    t.detail = Some(format!(
                        "{} added to the do-not-call list by {reason}",
                        r.number
                    ));
                    self.end_agent_leg(AttemptResult::Answered, "NORMAL_CLEARING")?;
                    self.step(&r, t)?;
                    self.line.play(&[prompt("do-not-call")]);
                    return Ok(PreviewEnd::DoNotCall);
                }
                Answer::Digits(k) if k == "9" => {
                    self.decline(&r, AttemptResult::Rejected, "AGENT_REJECTED")?;
                    return Ok(PreviewEnd::Rejected);
                }
                Answer::Digits(_) => continue,
                Answer::HungUp => {
                    self.decline(&r, AttemptResult::Rejected, "AGENT_HUNG_UP")?;
                    return Ok(PreviewEnd::Rejected);
                }
                Answer::Nothing if !self.line.alive() => {
                    self.decline(&r, AttemptResult::Rejected, "AGENT_HUNG_UP")?;
                    return Ok(PreviewEnd::Rejected);
                }
                // An agent-preview callback is dialled only on the agent's accept (its
                // whole point is that the agent looked first), whatever the timeout says.
                Answer::Nothing => match (r.kind, cfg.dispatch.preview_timeout) {
                    (CallbackType::AgentPreview, _)
                    | (_, crate::config::PreviewTimeout::Requeue) => {
                        self.decline(&r, AttemptResult::NoAnswer, "PREVIEW_TIMEOUT")?;
                        return Ok(PreviewEnd::Requeued);
                    }
                    (_, crate::config::PreviewTimeout::Dial) => return self.dial(r),
                },
            }
        }
    }

    /// The agent passed (reject, hang-up, preview timeout with requeue): the agent leg is
    /// closed and the callback offered again, no customer attempt used.
    fn decline(
        &self,
        r: &CallbackRequest,
        result: AttemptResult,
        cause: &str,
    ) -> Result<(), Error> {
        self.end_agent_leg(result, cause)?;
        outcome::apply(
            self.svc(),
            r,
            Leg::Agent,
            result,
            &self.node(),
            Some(&self.offer.agent.id),
            self.now(),
        )?;
        Ok(())
    }

    /// Why the customer may not be dialled now (the same rules the dispatcher applied
    /// before ringing the agent, checked again), after closing the agent leg and moving
    /// the callback on.
    fn may_not_dial(&self, r: &CallbackRequest) -> Result<Option<String>, Error> {
        let Some(t) = outcome::hold(self.svc(), r, self.now())? else {
            return Ok(None);
        };
        let why = t.detail.clone().unwrap_or_default();
        self.end_agent_leg(AttemptResult::Answered, "NORMAL_CLEARING")?;
        self.step(r, t)?;
        Ok(Some(why))
    }

    fn dial(&mut self, r: CallbackRequest) -> Result<PreviewEnd, Error> {
        if let Some(why) = self.may_not_dial(&r)? {
            self.line.play(&[prompt("not-dialled")]);
            return Ok(PreviewEnd::NotDialled(why));
        }
        let d: &Dispatcher = self.d;
        let cfg = d.service().config();
        let queue = cfg
            .queue(Some(&r.queue))
            .ok_or_else(|| Error::UnknownQueue(r.queue.clone()))?;
        let mut t = Transition::new(State::Dialing, "dial");
        t.detail = Some(format!(
            "dialling the customer, no-answer timeout {} s",
            queue.dial.customer_timeout_secs
        ));
        let r = self.step(&r, t)?;
        let attempt = self.svc().store().start_attempt(
            &NewAttempt {
                callback_id: r.id,
                leg: Leg::Customer,
                agent: Some(self.offer.agent.id.clone()),
                call_uuid: None,
            },
            &self.node(),
            self.now(),
        )?;
        let mut variables = vec![
            ("callback_type".to_string(), r.kind.as_str().to_string()),
            (
                "callback_attempt".to_string(),
                attempt.attempt_no.to_string(),
            ),
            ("callback_agent".to_string(), self.offer.agent.id.clone()),
        ];
        if let Some(u) = &r.origin_uuid {
            variables.push(("callback_origin_uuid".to_string(), u.clone()));
        }
        // The check on answer hands its verdict to the agent's call by this uuid.
        let check = queue.answer.checks();
        if let Some(u) = self.line.uuid().filter(|_| check) {
            variables.push(("callback_agent_uuid".to_string(), u));
        }
        let leg = LegRequest {
            callback_id: r.id,
            leg: Leg::Customer,
            target: Target::Customer {
                e164: r.number.clone(),
                gateway: queue.dial.gateway.clone(),
            },
            timeout_secs: queue.dial.customer_timeout_secs,
            caller_id_name: queue.dial.caller_id_name.clone(),
            caller_id_number: queue.dial.caller_id_number.clone(),
            variables,
            // Run on the customer's leg once it answers, before the agent is connected.
            application: check.then(|| ("callback_answer".to_string(), r.id.to_string())),
            ringback: Some(queue.dial.ringback.clone()),
            uuid: None,
        };
        let started = self.now();
        // Connected is written the moment the customer answers: a node that dies during
        // the conversation is then recovered as completed, never dialled again.
        let d: &Dispatcher = self.d;
        let (node, agent_id, id) = (self.node(), self.offer.agent.id.clone(), r.id);
        let answered_at = std::sync::Mutex::new(None);
        let on_answer = || {
            let Ok(mut at) = answered_at.lock() else {
                return;
            };
            if at.is_some() {
                return;
            }
            let now = d.service().now();
            *at = Some(now);
            if let Err(e) = mark_connected(d, id, &node, &agent_id, now) {
                tracing::warn!(callback_id = id, "callback {id}: marking connected: {e}");
            }
        };
        let out = self.line.bridge(&leg, &on_answer);
        let answered_at = answered_at
            .into_inner()
            .unwrap_or_default()
            .or(out.answered.then_some(started));
        let now = self.now();
        let cause = out
            .cause
            .clone()
            .unwrap_or_else(|| "NORMAL_CLEARING".into());
        // The check on answer ended the leg: its verdict is the result, whatever cause
        // the hang-up gave.
        let verdict = self.line.answer_verdict();
        let checked = verdict.and_then(|v| v.result()).filter(|_| !out.answered);
        let result = if out.answered {
            AttemptResult::Answered
        } else if let Some(r) = checked {
            r
        } else {
            match classify_hangup(&cause, None) {
                AttemptResult::Answered => AttemptResult::Error,
                other => other,
            }
        };
        self.svc().store().finish_attempt(
            attempt.id,
            &AttemptEnd {
                answered_at: if out.answered { answered_at } else { None },
                hangup_cause: cause.clone(),
                result,
            },
            now,
        )?;
        tracing::info!(
            callback_id = r.id,
            "callback {}: customer attempt {} {result} ({cause})",
            r.id,
            attempt.attempt_no
        );
        let current = self.svc().store().get(r.id)?;
        if out.answered {
            let c = if current.state == State::Connected {
                current
            } else {
                let mut t = Transition::new(State::Connected, "connected");
                t.detail = Some(format!(
                    "agent {} and the customer talked (seen when the call ended)",
                    self.offer.agent.id
                ));
                self.step(&current, t)?
            };
            // The after-call menu while the agent leg is still open: the agent stays
            // busy for every node until it ends (a crash meanwhile completes the callback
            // by recovery). Its failure is said, and the callback completes anyway.
            let later = match self.after_call(attempt.id, &r.number) {
                Ok(later) => later,
                Err(e) => {
                    tracing::error!(
                        callback_id = r.id,
                        "callback {}: after-call menu: {e}",
                        r.id
                    );
                    None
                }
            };
            self.end_agent_leg(AttemptResult::Answered, "NORMAL_CLEARING")?;
            if let Some(later) = later {
                if self.call_again(&c, &later)? {
                    return Ok(PreviewEnd::Dialled(result));
                }
            }
            outcome::apply(
                self.svc(),
                &c,
                Leg::Customer,
                AttemptResult::Answered,
                &self.node(),
                Some(&self.offer.agent.id),
                now,
            )?;
        } else {
            self.end_agent_leg(AttemptResult::Answered, "NORMAL_CLEARING")?;
            let moved = outcome::apply(
                self.svc(),
                &current,
                Leg::Customer,
                result,
                &self.node(),
                Some(&self.offer.agent.id),
                now,
            )?;
            // A message left on a machine can complete the callback: nothing is tried again.
            if moved.state == State::Completed {
                self.line.play(&[prompt("thanks")]);
            } else {
                self.line.play(&[prompt("customer-not-reached")]);
            }
        }
        Ok(PreviewEnd::Dialled(result))
    }

    /// The agent's "call again later" after the call: the connected callback is moved
    /// (the queue's routing rule applied) instead of completed. `false` when the service
    /// refused the time or number (or the store failed): said to the agent, and the
    /// callback completes as if nothing was keyed.
    fn call_again(&mut self, c: &CallbackRequest, later: &Later) -> Result<bool, Error> {
        let node = self.node();
        let agent = self.offer.agent.id.clone();
        let a = Amendment {
            when: Some(Requested::After(later.after)),
            number: later.number.as_deref(),
            number_type: None,
            routing: None,
            agent: Some(&agent),
            owner: Some(&node),
        };
        match self.svc().amend_with(c.id, &a, &agent) {
            Ok(_) => {
                self.line.play(&[prompt("rescheduled")]);
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(
                    callback_id = c.id,
                    "callback {}: agent {agent} asked to call again later: {e}",
                    c.id
                );
                self.line.play(&[prompt("not-moved")]);
                Ok(false)
            }
        }
    }

    /// The optional after-call menu: a disposition key, 0 for do-not-call, or 8 for
    /// "call again later" (what it returns).
    fn after_call(&mut self, attempt_id: i64, number: &str) -> Result<Option<Later>, Error> {
        let disp: &Dispatcher = self.d;
        let d = &disp.service().config().dispatch;
        if !d.after_call_menu || !self.line.alive() {
            return Ok(None);
        }
        let codes = d.dispositions.clone();
        let ask = Ask::key(10_000);
        let Answer::Digits(k) = self.line.ask(&[prompt("disposition")], &ask) else {
            return Ok(None);
        };
        if k == "8" {
            return Ok(self.ask_later());
        }
        let n: usize = k.parse().unwrap_or(usize::MAX);
        if n == 0 {
            let reason = format!("agent {} after the call", self.offer.agent.id);
            self.svc()
                .store()
                .dnc_add(number, Some(&reason), self.now())?;
            self.svc()
                .store()
                .set_disposition(attempt_id, None, Some("do-not-call"), None)?;
        } else if let Some(code) = codes.get(n.wrapping_sub(1)) {
            self.svc()
                .store()
                .set_disposition(attempt_id, None, Some(code), None)?;
        }
        self.line.play(&[prompt("thanks")]);
        Ok(None)
    }

    /// After key 8: the minutes until the next call (1 to 4 digits, pound-ended), then
    /// an optional new number (pound alone keeps it). Nothing keyed: no reschedule.
    fn ask_later(&mut self) -> Option<Later> {
        let minutes = Ask {
            min: 1,
            max: 4,
            timeout_ms: 10_000,
            terminators: "#",
        };
        let Answer::Digits(m) = self.line.ask(&[prompt("later-minutes")], &minutes) else {
            return None;
        };
        let m: i64 = m.parse().ok().filter(|m| *m > 0)?;
        let number = Ask {
            min: 1,
            max: 15,
            timeout_ms: 10_000,
            terminators: "#",
        };
        let number = match self.line.ask(&[prompt("later-number")], &number) {
            Answer::Digits(n) => Some(n),
            _ => None,
        };
        Some(Later {
            after: chrono::Duration::minutes(m),
            number,
        })
    }
}

/// The agent's "call again later" keyed after the call.
struct Later {
    after: chrono::Duration,
    /// Digits the agent keyed (validated by the service as any new number).
    number: Option<String>,
}
