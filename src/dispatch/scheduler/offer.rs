//! The in-queue offer's part of a turn: for each queue with `offer-after-wait` and
//! `agents-from` (or `line-from`), the centre's (or the fifo's) waiting callers whose
//! estimated wait passes the threshold are offered a callback on their call, once
//! ([`crate::offer`]).

use super::Dispatcher;
use crate::config::Config;
use crate::estimate::Estimate;
use std::collections::BTreeSet;
use std::sync::PoisonError;

impl Dispatcher {
    /// Offers a callback to the callers whose estimated wait passed their queue's
    /// threshold. A call is offered once: remembered while it waits in a queue read this
    /// turn (a caller offered and still waiting is not asked again).
    pub(super) fn offer_in_queues(&self, cfg: &Config) {
        let mut seen = BTreeSet::new();
        let mut all_read = true;
        for q in cfg.queues.values() {
            let Some(threshold) = q.dial.offer_after_wait else {
                continue;
            };
            let estimated: Result<Vec<(String, Estimate)>, String> =
                match (&q.dial.agents_from, &q.dial.line_from) {
                    (Some(_), _) => Estimate::for_callers(&self.svc, q.name())
                        .map(|c| c.into_iter().map(|(m, e)| (m.session_uuid, e)).collect())
                        .map_err(|e| e.to_string()),
                    (None, Some(fifo)) => self
                        .svc
                        .host()
                        .line_callers(fifo)
                        .map_err(|e| format!("fifo {fifo} not read: {e}"))
                        .and_then(|callers| {
                            Estimate::for_line_callers(&self.svc, q.name(), &callers)
                                .map_err(|e| e.to_string())
                        })
                        .map(|c| c.into_iter().map(|(c, e)| (c.uuid, e)).collect()),
                    (None, None) => continue,
                };
            let callers: Vec<(String, Estimate)> = match estimated {
                Ok(c) => c.into_iter().filter(|(call, _)| !call.is_empty()).collect(),
                Err(e) => {
                    all_read = false;
                    tracing::debug!("queue {}: waiting callers not estimated: {e}", q.name());
                    continue;
                }
            };
            seen.extend(callers.iter().map(|(c, _)| c.clone()));
            let mut offered = self.offered.lock().unwrap_or_else(PoisonError::into_inner);
            for (call, e) in crate::offer::due(&callers, threshold, &offered) {
                // Once, whatever the host answers (a call that is gone is not asked again).
                offered.insert(call.clone());
                match self.svc.host().offer_callback(call, e.minutes()) {
                    Ok(()) => tracing::info!(
                        "queue {}: call {call} (place {}, about {} min) offered a callback",
                        q.name(),
                        e.place,
                        e.minutes()
                    ),
                    Err(err) => tracing::info!(
                        "queue {}: call {call} not offered a callback: {err}",
                        q.name()
                    ),
                }
            }
        }
        if all_read {
            self.offered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|c| seen.contains(c));
        }
    }
}
