//! The retry policy as data, and the decision taken after every leg.
//!
//! An agent's rejection or no-answer re-offers the callback to another agent and never uses
//! up one of the customer's attempts: the customer was not called.

use crate::model::{AttemptResult, Leg};
use chrono::{DateTime, Duration, Utc};

/// The pause before the next customer attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryDelay {
    /// The same pause every time.
    Fixed(Duration),
    /// One pause per attempt (after the 1st, 2nd, ...); the last repeats.
    Steps(Vec<Duration>),
}

impl RetryDelay {
    /// The pause after customer attempt number `attempt` (1-based).
    pub fn after(&self, attempt: u32) -> Duration {
        match self {
            RetryDelay::Fixed(d) => *d,
            RetryDelay::Steps(steps) => {
                let i = (attempt.max(1) as usize - 1).min(steps.len().saturating_sub(1));
                steps.get(i).copied().unwrap_or_else(Duration::zero)
            }
        }
    }
}

/// What a queue does when a leg does not reach anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub delay: RetryDelay,
    /// Customer legs per queue before giving up (or failing over).
    pub max_attempts: u32,
    /// Where the callback goes when this queue's attempts are used up.
    pub failover_queue: Option<String>,
    /// How long a request lives after it was made before it expires undelivered.
    pub ttl: Option<Duration>,
    /// Pause before offering to another agent after a rejection or an unanswered agent leg.
    pub reoffer_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            delay: RetryDelay::Steps(vec![
                Duration::minutes(5),
                Duration::minutes(15),
                Duration::minutes(60),
            ]),
            max_attempts: 3,
            failover_queue: None,
            ttl: Some(Duration::days(7)),
            reoffer_delay: Duration::seconds(10),
        }
    }
}

/// What to do after a leg ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The customer was reached: nothing more to do.
    Done,
    /// Offer to an agent again at `at`; the customer's attempts are untouched.
    Reoffer { at: DateTime<Utc> },
    /// Call the customer again at `at`.
    Retry { at: DateTime<Utc> },
    /// Attempts in this queue are used up: move to `queue`, due at `at`, attempts counted anew.
    Failover { queue: String, at: DateTime<Utc> },
    /// Give up, for the reason given.
    Fail { reason: String },
    /// The request's life ran out before anyone was reached.
    Expire,
}

impl RetryPolicy {
    /// The decision after a leg. `customer_attempts` counts customer legs made in this queue
    /// including the one that just ended; `expires_at` is the request's expiry, if any;
    /// `failed_over` says whether the request already moved to the failover queue once.
    pub fn next(
        &self,
        leg: Leg,
        result: AttemptResult,
        customer_attempts: u32,
        expires_at: Option<DateTime<Utc>>,
        failed_over: bool,
        now: DateTime<Utc>,
    ) -> Next {
        let expired = |at: DateTime<Utc>| expires_at.is_some_and(|e| at >= e);
        if leg == Leg::Agent {
            let at = now + self.reoffer_delay;
            return if expired(at) {
                Next::Expire
            } else {
                Next::Reoffer { at }
            };
        }
        match result {
            AttemptResult::Answered => Next::Done,
            AttemptResult::WrongNumber => Next::Fail {
                reason: "the number does not exist (wrong number)".into(),
            },
            _ if customer_attempts < self.max_attempts => {
                let at = now + self.delay.after(customer_attempts);
                if expired(at) {
                    Next::Expire
                } else {
                    Next::Retry { at }
                }
            }
            _ => match (&self.failover_queue, failed_over) {
                (Some(queue), false) => Next::Failover {
                    queue: queue.clone(),
                    at: now + self.delay.after(customer_attempts),
                },
                _ => Next::Fail {
                    reason: format!(
                        "{customer_attempts} customer attempts made, the last {result}"
                    ),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
    }

    #[test]
    fn step_delays_repeat_the_last_step() {
        // A per-attempt delay list is read by attempt number and its last entry repeats.
        let d = RetryDelay::Steps(vec![Duration::minutes(1), Duration::minutes(10)]);
        assert_eq!(d.after(1), Duration::minutes(1));
        assert_eq!(d.after(2), Duration::minutes(10));
        assert_eq!(d.after(7), Duration::minutes(10));
        assert_eq!(
            RetryDelay::Fixed(Duration::minutes(3)).after(9),
            Duration::minutes(3)
        );
    }

    #[test]
    fn agent_rejection_reoffers_without_using_an_attempt() {
        // An agent leg never consumes or exhausts the customer's attempts.
        let p = RetryPolicy::default();
        let next = p.next(Leg::Agent, AttemptResult::Rejected, 3, None, false, now());
        assert_eq!(
            next,
            Next::Reoffer {
                at: now() + Duration::seconds(10)
            }
        );
    }

    #[test]
    fn customer_no_answer_retries_then_fails_over_then_fails() {
        // Retries follow the delay list, then the failover queue, then failure.
        let p = RetryPolicy {
            failover_queue: Some("overflow".into()),
            ..RetryPolicy::default()
        };
        assert_eq!(
            p.next(
                Leg::Customer,
                AttemptResult::NoAnswer,
                1,
                None,
                false,
                now()
            ),
            Next::Retry {
                at: now() + Duration::minutes(5)
            }
        );
        assert_eq!(
            p.next(Leg::Customer, AttemptResult::Busy, 2, None, false, now()),
            Next::Retry {
                at: now() + Duration::minutes(15)
            }
        );
        assert_eq!(
            p.next(
                Leg::Customer,
                AttemptResult::NoAnswer,
                3,
                None,
                false,
                now()
            ),
            Next::Failover {
                queue: "overflow".into(),
                at: now() + Duration::minutes(60)
            }
        );
        assert!(matches!(
            p.next(Leg::Customer, AttemptResult::NoAnswer, 3, None, true, now()),
            Next::Fail { .. }
        ));
    }

    #[test]
    fn answered_wrong_number_and_expiry_end_the_request() {
        // An answer is done, a wrong number is not retried, a retry past the TTL expires.
        let p = RetryPolicy::default();
        assert_eq!(
            p.next(
                Leg::Customer,
                AttemptResult::Answered,
                1,
                None,
                false,
                now()
            ),
            Next::Done
        );
        assert!(matches!(
            p.next(
                Leg::Customer,
                AttemptResult::WrongNumber,
                1,
                None,
                false,
                now()
            ),
            Next::Fail { .. }
        ));
        let soon = Some(now() + Duration::minutes(1));
        assert_eq!(
            p.next(
                Leg::Customer,
                AttemptResult::NoAnswer,
                1,
                soon,
                false,
                now()
            ),
            Next::Expire
        );
    }
}
