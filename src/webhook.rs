//! Outbound webhooks: every callback event (the `events` table is the durable outbox) is
//! POSTed to each configured URL in order, signed, and retried with backoff until the
//! receiver takes it, so a receiver that is down, or a restart, loses nothing.
//!
//! Delivery is at least once: a crash between the receiver's `2xx` and the cursor update
//! sends that event again. Receivers deduplicate by `X-Callback-Event` (the event id).
//!
//! Nodes sharing a store (PostgreSQL) each run this worker; each webhook's cursor has a
//! lease in the store ([`WebhookLog::claim_webhook`]), so one node at a time delivers a
//! webhook, in order, and another takes over when that node stops (it gives the lease up)
//! or dies (after [`LEASE`]). Why a cursor can be trusted there: `store/webhooks.rs`.
//!
//! Each request carries `X-Callback-Timestamp` (Unix seconds) and `X-Callback-Signature:
//! sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` under the webhook's secret: the
//! receiver recomputes it, compares in constant time and refuses old timestamps (replays).

use crate::background::{Background, Signal, Wake};
use crate::clock::Clock;
use crate::config::WebhookTarget;
use crate::store::{OutboxEvent, StoreError, WebhookLog};
use chrono::Duration;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

/// How often the worker looks for new events when nothing wakes it.
const POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// Events sent per webhook per pass.
const BATCH: usize = 100;

/// How long a worker's claim on a cursor holds without renewal. Every delivery renews it,
/// and one delivery takes at most a connect and a request timeout (3 s + 5 s; a notice's
/// SMTP exchange 10 s), so a live worker never loses it between two deliveries; a dead
/// node's webhooks wait this long for another node.
pub const LEASE: Duration = Duration::seconds(60);

/// A running worker's name in the cursors' leases: its node and a random part, so two
/// workers never take each other for themselves (two nodes given the same `node-id`, or a
/// node and its own earlier run, whose lease must lapse or be given up first).
pub fn worker_name(node: &str) -> String {
    let mut raw = [0u8; 6];
    // Without a random source the time stands in: unique enough between two starts.
    if getrandom::fill(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        raw.copy_from_slice(&nanos.to_le_bytes()[..6]);
    }
    let tail: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let node = if node.is_empty() { "node" } else { node };
    format!("{node}/{tail}")
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut m = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    m.update(format!("{timestamp}.{body}").as_bytes());
    let bytes = m.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The JSON body of one event.
pub fn payload(e: &OutboxEvent) -> String {
    serde_json::json!({
        "event_id": e.event.id,
        "callback_id": e.event.callback_id,
        "action": e.event.action,
        "from": e.event.from,
        "state": e.event.to,
        "queue": e.queue,
        "at": e.event.at,
        "actor": e.event.actor,
        "detail": e.event.detail,
    })
    .to_string()
}

/// The delivery thread. [`WebhookWorker::stop`] (or drop) stops and joins it.
pub struct WebhookWorker {
    thread: Background,
}

struct Run {
    log: Arc<dyn WebhookLog>,
    /// This worker's name in the leases ([`worker_name`]).
    owner: String,
    targets: Vec<WebhookTarget>,
    retry: Duration,
    max: Duration,
    clock: Arc<dyn Clock>,
    agent: ureq::Agent,
    signal: Arc<Signal>,
}

impl WebhookWorker {
    /// Starts delivering to `targets` as one of the workers of `node` (its `node-id`);
    /// `None` when there are none.
    pub fn start(
        log: Arc<dyn WebhookLog>,
        node: &str,
        targets: Vec<WebhookTarget>,
        retry: Duration,
        max: Duration,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Option<Self>> {
        // An error: the store cannot be read or the thread cannot start.
        if targets.is_empty() {
            return Ok(None);
        }
        // A webhook seen for the first time is owed everything from this moment: its cursor
        // is set here, before start returns, not whenever the thread first looks.
        for t in &targets {
            log.webhook_cursor(&t.name, clock.now())
                .map_err(|e| std::io::Error::other(format!("webhook {}: {e}", t.name)))?;
        }
        let signal = Arc::new(Signal::default());
        let run = Run {
            log,
            owner: worker_name(node),
            targets,
            retry,
            max,
            clock,
            agent: ureq::AgentBuilder::new()
                .timeout_connect(std::time::Duration::from_secs(3))
                .timeout(std::time::Duration::from_secs(5))
                .redirects(0)
                .build(),
            signal: signal.clone(),
        };
        let thread =
            Background::spawn("callback-webhooks", "webhooks", signal, move || run.main())?;
        Ok(Some(Self { thread }))
    }

    /// Looks for new events now instead of at the next poll.
    pub fn nudge(&self) {
        self.thread.nudge();
    }

    /// Stops after the delivery in progress (bounded by its timeout) and joins the thread.
    pub fn stop(self) {
        self.thread.stop();
    }
}

impl Run {
    fn stopping(&self) -> bool {
        self.signal.stopping()
    }

    fn main(self) {
        // One outage per target: its failure is said once, and once when it is over.
        let mut outages: Vec<crate::store::Outage> =
            self.targets.iter().map(|_| Default::default()).collect();
        while !self.stopping() {
            for (t, outage) in self.targets.iter().zip(outages.iter_mut()) {
                let who = format!("webhook {}", t.name);
                match self.deliver(t) {
                    Ok(()) => outage.ok(&who),
                    Err(e) => {
                        outage.failed(&who, &e, e.fault());
                    }
                }
            }
            if self.signal.wait(POLL) == Wake::Stop {
                break;
            }
        }
        // Another node need not wait for the leases to run out.
        for t in &self.targets {
            if let Err(e) = self.log.release_webhook(&t.name, &self.owner) {
                tracing::debug!("webhook {}: lease not given up: {e}", t.name);
            }
        }
    }

    /// Sends what `t` is owed, in order, until done, a failure, a stop, or the lease lost
    /// (another node delivers it; this one leaves it alone while that lease lasts).
    fn deliver(&self, t: &WebhookTarget) -> Result<(), StoreError> {
        let now = self.clock.now();
        let Some(cursor) = self.log.claim_webhook(&t.name, &self.owner, now, LEASE)? else {
            return Ok(());
        };
        if cursor.next_try_at > now {
            return Ok(());
        }
        for e in self.log.events_after(cursor.last, BATCH)? {
            if self.stopping() {
                return Ok(());
            }
            match self.post(t, &e) {
                Ok(()) => {
                    let held = self.log.webhook_delivered(
                        &t.name,
                        &self.owner,
                        e.position,
                        self.clock.now(),
                        LEASE,
                    )?;
                    if !held {
                        tracing::info!(
                            "webhook {}: another worker took it over; this one stops sending",
                            t.name
                        );
                        return Ok(());
                    }
                }
                Err(why) => {
                    let doublings = cursor.attempts.min(20);
                    let delay = (self.retry * 2i32.pow(doublings.min(16))).min(self.max);
                    if cursor.attempts == 0 {
                        tracing::warn!(
                            "webhook {} ({}): event {} not delivered: {why}; retrying with backoff",
                            t.name,
                            t.url,
                            e.event.id
                        );
                    }
                    let now = self.clock.now();
                    self.log
                        .webhook_failed(&t.name, &self.owner, &why, now + delay, now)?;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn post(&self, t: &WebhookTarget, e: &OutboxEvent) -> Result<(), String> {
        let body = payload(e);
        let ts = self.clock.now().timestamp();
        let r = self
            .agent
            .post(&t.url)
            .set("Content-Type", "application/json")
            .set("X-Callback-Event", &e.event.id.to_string())
            .set("X-Callback-Timestamp", &ts.to_string())
            .set("X-Callback-Signature", &signature(&t.secret, ts, &body))
            .send_string(&body);
        match r {
            Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
            Ok(resp) => Err(format!("status {}", resp.status())),
            Err(ureq::Error::Status(code, _)) => Err(format!("status {code}")),
            Err(e) => Err(e.to_string()),
        }
    }
}
