//! The dispatcher's agent legs: a turn's offers written together and rung, each on an
//! originate thread; what happens when the agent does not take the call.

use super::{is_call_uuid, Dispatcher, Offer, Pending, APP_START_TIMEOUT};
use crate::config::AgentConfig;
use crate::dispatch::agents::Released;
use crate::dispatch::outcome;
use crate::dispatch::plan::LOOKAHEAD;
use crate::host::{CentreMark, LegOutcome, LegRequest, Target};
use crate::model::{AttemptResult, CallbackId, CallbackRequest, Leg, State};
use crate::service::Error;
use crate::store::{AttemptEnd, NewAttempt, StoreError, Transition};
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

/// A phone busy on another call; also the cause recorded when the contact centre refused
/// to hand over an agent it had just given a queue call (the agent leg was never rung).
const BUSY_IN_CENTRE: &str = "USER_BUSY";

impl Dispatcher {
    /// Tells the contact centre the agent is ringing for a callback, if it is still
    /// waiting there; false when the centre refused (the agent took a queue call).
    fn claim_in_centre(&self, r: &CallbackRequest, agent: &str) -> bool {
        match self.svc.host().centre_mark(agent, CentreMark::Claim) {
            Ok(()) => {
                self.agents.set_claimed(agent);
                self.centre_refused
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .claimed(r.id);
                true
            }
            Err(e) => {
                tracing::info!(
                    callback_id = r.id,
                    "contact-centre agent {agent} is no longer waiting there ({e}): not rung"
                );
                false
            }
        }
    }

    /// Writes the turn's offers (each `offering` and its agent leg) in one transaction,
    /// then rings each agent: a burst of callbacks due at the same second reaches the
    /// agents after one commit, not two per callback before it.
    pub(super) fn ring_all(self: &Arc<Self>, offers: Vec<Pending>, now: DateTime<Utc>) {
        if offers.is_empty() {
            return;
        }
        let items: Vec<(CallbackId, Transition, NewAttempt)> = offers
            .iter()
            .map(|p| {
                let attempt = NewAttempt {
                    callback_id: p.request.id,
                    leg: Leg::Agent,
                    agent: Some(p.agent.id.clone()),
                    call_uuid: None,
                };
                (p.request.id, p.change.clone(), attempt)
            })
            .collect();
        let written = match self.svc.store().start_offers(&items, self.node(), now) {
            Ok(w) => w,
            Err(e) => {
                let e = Error::from(e);
                for p in offers {
                    self.release_agent(&p.agent.id, Released::Withdrawn, now);
                    self.drop_claim(p.request.id, &e);
                }
                return;
            }
        };
        let _burst = self
            .ringing_burst
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (p, w) in offers.into_iter().zip(written) {
            // Claimed up to LOOKAHEAD early: rung at the due instant, not before. (On a
            // virtual clock that does not move, the wait is at most LOOKAHEAD of real time.)
            if let Some(due) = p.request.due_at {
                if let Ok(early) = (due - self.svc.now()).to_std() {
                    std::thread::sleep(early.min(LOOKAHEAD.to_std().unwrap_or_default()));
                }
            }
            match w {
                Ok((stored, attempt)) => {
                    self.measure_estimate(&stored, now);
                    self.svc.notify(&p.change.action, &stored);
                    self.ring_offer(stored, p.agent, attempt.id, now);
                }
                Err(StoreError::AgentBusy { agent }) => {
                    // Another node offered this agent a callback first: this one goes
                    // back to be offered again at once, to someone free.
                    self.release_agent(&agent, Released::Withdrawn, now);
                    self.agent_taken(&p.request, &agent, now);
                }
                Err(e) => {
                    self.release_agent(&p.agent.id, Released::Withdrawn, now);
                    self.drop_claim(p.request.id, &Error::from(e));
                }
            }
        }
    }

    /// Whether the centre's refusal of `agent` for callback `id` is the first in a row for
    /// that agent (see [`super::refusals::Refusals::first`]); a claim refused again is an
    /// ordinary busy agent, offered again after the re-offer delay.
    fn first_refusal(&self, id: CallbackId, agent: &str) -> bool {
        self.centre_refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first(id, agent)
    }

    /// A callback whose contact-centre agent the centre gave a queue call first: due again
    /// at once (the loop is nudged), not counted as a wait.
    fn centre_took(&self, r: &CallbackRequest, agent: &str, now: DateTime<Utc>) {
        let mut t = Transition::new(State::Rescheduled, "centre-took");
        t.due_at = Some(now);
        t.detail = Some(format!(
            "contact-centre agent {agent} was given a queue call before it could be rung"
        ));
        if let Err(e) = self.transition(r, t, now) {
            tracing::error!(callback_id = r.id, "callback {}: {e}", r.id);
        }
        self.nudge();
    }

    /// A claimed callback whose agent another node took at the same instant: due again a
    /// second later, and the agents read again so the next turn does not pick that one.
    fn agent_taken(&self, r: &CallbackRequest, agent: &str, now: DateTime<Utc>) {
        // A second later: the race is over by then, and no turn can spin on it.
        let mut t = Transition::new(State::Rescheduled, "agent-taken");
        t.due_at = Some(now + Duration::seconds(1));
        t.detail = Some(format!(
            "agent {agent} was offered another callback by another node first"
        ));
        if let Err(e) = self.transition(r, t, now) {
            tracing::error!(callback_id = r.id, "callback {}: {e}", r.id);
        }
        self.let_go(r.id);
        if let Err(e) = self.agents.sync(|| self.svc.store().agent_board(now), now) {
            tracing::warn!("reading the agents: {e}");
        }
    }

    /// Rings the agent of a written offer on an originate thread.
    fn ring_offer(
        self: &Arc<Self>,
        r: CallbackRequest,
        agent: AgentConfig,
        attempt_id: i64,
        now: DateTime<Utc>,
    ) {
        let leg = self.agent_leg(&r, &agent);
        self.offers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                r.id,
                Offer {
                    callback_id: r.id,
                    agent: agent.clone(),
                    attempt_id,
                    rung_at: now,
                    uuid: leg.uuid.clone(),
                },
            );
        self.ringing.fetch_add(1, Ordering::SeqCst);
        let me = self.clone();
        let (id, agent_id) = (r.id, agent.id.clone());
        let spawned = std::thread::Builder::new()
            .name("callback-ring".into())
            .spawn(move || {
                me.ring(r, agent, attempt_id, leg);
                me.ringing.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(h) => {
                let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
                // Finished ring threads are joined as new ones start; `stop` joins the rest.
                let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut *threads)
                    .into_iter()
                    .partition(|t| t.is_finished());
                *threads = running;
                threads.push(h);
                drop(threads);
                for t in done {
                    let _ = t.join();
                }
            }
            Err(e) => {
                self.ringing.fetch_sub(1, Ordering::SeqCst);
                tracing::error!("cannot start an originate thread: {e}");
                self.take_offer(id);
                self.release_agent(&agent_id, Released::Withdrawn, now);
                let end = AttemptEnd {
                    answered_at: None,
                    hangup_cause: "ORIGINATE_ERROR".into(),
                    result: AttemptResult::Error,
                };
                let moved_on = self
                    .svc
                    .store()
                    .finish_attempt(attempt_id, &end, now)
                    .and_then(|_| self.svc.store().get(id))
                    .map_err(Error::from)
                    .and_then(|current| {
                        outcome::apply(
                            &self.svc,
                            &current,
                            Leg::Agent,
                            AttemptResult::Error,
                            self.node(),
                            None,
                            now,
                        )
                    });
                if let Err(e) = moved_on {
                    // Its lease lapses and recovery offers it again.
                    tracing::error!(callback_id = id, "callback {id}: {e}");
                }
                self.let_go(id);
            }
        }
    }

    fn agent_leg(&self, r: &CallbackRequest, agent: &AgentConfig) -> LegRequest {
        let d = &self.svc.config().dispatch;
        let digits = r.number.trim_start_matches('+');
        let mut variables = vec![
            ("callback_type".to_string(), r.kind.as_str().to_string()),
            (
                "callback_attempt".to_string(),
                (r.customer_attempts + 1).to_string(),
            ),
            ("callback_agent".to_string(), agent.id.clone()),
        ];
        if let Some(u) = r.origin_uuid.as_ref().filter(|u| is_call_uuid(u)) {
            variables.push(("callback_origin_uuid".to_string(), u.clone()));
        }
        // The IVR data that is a plain token rides on the leg from its start (a phone's
        // display, the CDR); the agent-leg application sets all of it once answered.
        variables.extend(crate::host::data_variables(&r.ivr_data));
        LegRequest {
            callback_id: r.id,
            leg: Leg::Agent,
            target: Target::Agent {
                id: agent.id.clone(),
                dial: agent.dial.clone(),
            },
            timeout_secs: d.agent_ring_secs,
            caller_id_name: d.agent_caller_id_name.replace("{number}", digits),
            caller_id_number: r.number.clone(),
            variables,
            application: Some(("callback_agent".into(), r.id.to_string())),
            ringback: None,
            uuid: Some(super::call_uuid()),
        }
    }

    /// On an originate thread: rings the agent. Answered: the agent-leg application takes
    /// over on the agent's call. Not answered: the leg is recorded and the callback is
    /// offered again (no customer attempt used).
    fn ring(&self, r: CallbackRequest, agent: AgentConfig, attempt_id: i64, leg: LegRequest) {
        let centre = self.agents.in_centre(&agent.id);
        let refused = centre && !self.claim_in_centre(&r, &agent.id);
        let outcome = if refused {
            // The centre gave the agent a queue call since the turn read its tables: busy,
            // not rung, not a decline.
            Ok(LegOutcome {
                uuid: None,
                answered: false,
                cause: Some(BUSY_IN_CENTRE.into()),
            })
        } else {
            self.svc.host().originate(&leg)
        };
        if centre && outcome.as_ref().is_ok_and(|o| o.answered) {
            if let Err(e) = self.svc.host().centre_mark(&agent.id, CentreMark::OnCall) {
                tracing::warn!(
                    callback_id = r.id,
                    "contact-centre agent {} not shown on the callback there: {e}",
                    agent.id
                );
            }
        }
        drop(
            self.ringing_burst
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let (cause, result) = match &outcome {
            Ok(o) if o.answered => {
                // The agent-leg application takes the offer as it starts. If it never does
                // (the leg was answered but the application did not run), the offer is
                // withdrawn so neither the agent nor the callback stays stuck.
                let deadline = std::time::Instant::now() + APP_START_TIMEOUT;
                let still_offered = || {
                    self.offers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&r.id)
                        .is_some_and(|o| o.attempt_id == attempt_id)
                };
                while std::time::Instant::now() < deadline {
                    if !still_offered() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                // Free the agent's phone: it is off-hook in a call that will do nothing.
                if let Some(uuid) = &o.uuid {
                    if let Err(e) = self.svc.host().hangup(uuid, "NORMAL_CLEARING") {
                        tracing::warn!(callback_id = r.id, "hanging up {uuid}: {e}");
                    }
                }
                tracing::error!(
                    callback_id = r.id,
                    "agent {} answered but callback_agent did not start on the call; offering again",
                    agent.id
                );
                ("AGENT_APP_NOT_STARTED".to_string(), AttemptResult::Error)
            }
            Ok(o) => {
                let cause = o.cause.clone().unwrap_or_else(|| "NO_ANSWER".into());
                let result = crate::model::classify_hangup(&cause, None);
                (cause, result)
            }
            Err(e) => {
                tracing::error!(callback_id = r.id, "ringing agent {}: {e}", agent.id);
                ("ORIGINATE_ERROR".to_string(), AttemptResult::Error)
            }
        };
        let now = self.svc.now();
        // The application may have taken the offer if the host answered after all.
        if !self.withdraw(r.id, attempt_id) {
            return;
        }
        // A decision the agent gave in the panel while it rang goes with the offer.
        self.offer_ended(r.id);
        // What the agent chose not to take (no answer, a reject, no route, a refused dial
        // string) counts toward setting the agent away, so an agent that cannot be reached
        // does not take every callback in turn. A phone busy on another call, in
        // do-not-disturb or not registered is no decline: the agent did nothing.
        let declined = !matches!(
            cause.as_str(),
            "AGENT_APP_NOT_STARTED"
                | BUSY_IN_CENTRE
                | "USER_NOT_REGISTERED"
                | "SUBSCRIBER_ABSENT"
                | "DO_NOT_DISTURB"
        );
        let end = AttemptEnd {
            answered_at: None,
            hangup_cause: cause.clone(),
            result,
        };
        if let Err(e) = self.svc.store().finish_attempt(attempt_id, &end, now) {
            tracing::error!(callback_id = r.id, "recording agent leg: {e}");
        }
        let how = if declined {
            Released::Declined
        } else {
            Released::Withdrawn
        };
        self.release_agent(&agent.id, how, now);
        // The host says the agent's phone is not registered: no use offering it more (a
        // contact-centre agent's availability is the centre's to say).
        if cause == "USER_NOT_REGISTERED"
            && !centre
            && self.agents.set_state(&agent.id, false, now).is_ok()
        {
            self.store_away(&agent.id, now);
            tracing::warn!(
                "agent {} set away: the phone ({}) is not registered",
                agent.id,
                agent.dial
            );
        }
        tracing::info!(
            callback_id = r.id,
            "callback {}: agent {} {result} ({cause})",
            r.id,
            agent.id
        );
        let current = match self.svc.store().get(r.id) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(callback_id = r.id, "callback {}: {e}", r.id);
                self.let_go(r.id);
                return;
            }
        };
        // Let go first: once the transition below makes it claimable again, a new
        // dispatch of it must not lose its lease renewal to this thread's late let-go.
        self.let_go(r.id);
        if current.state == State::Offering && refused && self.first_refusal(r.id, &agent.id) {
            // The centre gave the agent a queue call between this turn's reading of its
            // tables and the claim: nobody was rung, so the callback is looked at again at
            // the next turn (with the agent held for it then), not after the re-offer delay
            // while an agent is held idle for it.
            self.centre_took(&current, &agent.id, now);
        } else if current.state == State::Offering {
            if let Err(e) = outcome::apply(
                &self.svc,
                &current,
                Leg::Agent,
                result,
                self.node(),
                Some(&agent.id),
                now,
            ) {
                tracing::error!(callback_id = r.id, "callback {}: {e}", r.id);
            }
        }
    }
}
