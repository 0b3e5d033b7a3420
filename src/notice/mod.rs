//! Confirmations and reminders to customers (`<notices>`): each configured notice sends,
//! through its channel (e-mail over SMTP, an SMS provider's webhook, or a signed webhook to
//! the admin's system), a confirmation when a callback of its queues is booked and a
//! reminder `reminder-before` its due time, each with the customer's manage link.
//!
//! Durable without a store change of its own: both ride on the webhook outbox's cursors
//! (`webhook_cursors`, one row per name), leases included, so with several nodes on one
//! PostgreSQL store one node at a time sends a notice's messages (see `crate::webhook`).
//! - Confirmations read the `events` outbox after the cursor `notice:<name>`, as a webhook
//!   does: a `created` event of a served queue is owed one; the cursor moves on when it is
//!   sent, so a relay that is down or a restart loses none (at least once: a crash between
//!   the relay's acceptance and the cursor's update sends it again).
//! - Reminders keep, in the cursor `notice:<name>:reminders`, the due time (Unix seconds)
//!   up to which reminders are sent: each pass sends one to every waiting callback due
//!   after that mark and within `reminder-before` from now, in due order, and moves the
//!   mark. A callback moved later is reminded again before its new time; one booked inside
//!   the lead time gets its confirmation only; one moved earlier than a reminder already
//!   sent for a later time gets none.
//!
//! Nothing personal reaches the log: lines name the notice, the kind and the callback id,
//! never the address, number or text.

mod message;
mod send;

pub use message::{render, when_text, Kind, Message};
pub use send::{SendError, Sender};

use crate::background::{Background, Signal, Wake};
use crate::config::Notice;
use crate::model::{CallbackRequest, State};
use crate::service::CallbackService;
use crate::store::{ListFilter, Position, WebhookLog};
use crate::webhook::{worker_name, LEASE};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::Arc;

/// How often the worker looks for work when nothing wakes it.
const POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// Events read per pass.
const BATCH: usize = 100;
/// How often the waiting callbacks are read for reminders (a nudge reads them at once):
/// reminders are minutes ahead, and the read lists every waiting callback.
const REMINDER_SCAN: std::time::Duration = std::time::Duration::from_secs(15);

/// The notice thread. [`NoticeWorker::stop`] (or drop) stops and joins it.
pub struct NoticeWorker {
    thread: Background,
}

struct Run {
    log: Arc<dyn WebhookLog>,
    /// This worker's name in the cursors' leases.
    owner: String,
    service: Arc<CallbackService>,
    notices: Vec<Notice>,
    sender: Sender,
    base: String,
    token_secret: String,
    retry: Duration,
    max: Duration,
    signal: Arc<Signal>,
}

fn confirm_cursor(n: &Notice) -> String {
    format!("notice:{}", n.name)
}

fn remind_cursor(n: &Notice) -> String {
    format!("notice:{}:reminders", n.name)
}

impl NoticeWorker {
    /// Starts sending the configured notices; `None` when there are none. An error: the
    /// store cannot be read or the thread cannot start.
    pub fn start(
        log: Arc<dyn WebhookLog>,
        service: Arc<CallbackService>,
    ) -> std::io::Result<Option<Self>> {
        let cfg = service.config();
        if cfg.notices.notices.is_empty() {
            return Ok(None);
        }
        // The configuration refuses notices without a token secret; this is belt and braces.
        let Some(token_secret) = cfg.api.token_secret.clone() else {
            return Err(std::io::Error::other(
                "notices need http-token-secret for their manage links",
            ));
        };
        let base = match (&cfg.notices.public_url, cfg.api.listen) {
            (Some(u), _) => u.clone(),
            (None, Some(addr)) => format!("http://{addr}"),
            (None, None) => String::new(),
        };
        // A notice seen for the first time is owed what happens from now on.
        let now = service.now();
        for n in &cfg.notices.notices {
            for name in [confirm_cursor(n), remind_cursor(n)] {
                log.webhook_cursor(&name, now)
                    .map_err(|e| std::io::Error::other(format!("notice {}: {e}", n.name)))?;
            }
        }
        let signal = Arc::new(Signal::default());
        let run = Run {
            log,
            owner: worker_name(&cfg.settings.node_id),
            notices: cfg.notices.notices.clone(),
            sender: Sender::new(cfg.notices.smtp.as_ref()),
            base,
            token_secret,
            retry: cfg.api.webhook_retry_delay,
            max: cfg.api.webhook_max_delay,
            service,
            signal: signal.clone(),
        };
        let thread = Background::spawn("callback-notices", "notices", signal, move || run.main())?;
        Ok(Some(Self { thread }))
    }

    /// Looks for work now (reminders included) instead of at the next poll.
    pub fn nudge(&self) {
        self.thread.nudge();
    }

    /// Stops after the send in progress (bounded by its timeout) and joins the thread.
    pub fn stop(self) {
        self.thread.stop();
    }
}

impl Run {
    fn stopping(&self) -> bool {
        self.signal.stopping()
    }

    fn main(self) {
        let mut outages: Vec<crate::store::Outage> =
            self.notices.iter().map(|_| Default::default()).collect();
        let mut last_scan: Option<std::time::Instant> = None;
        // A nudge: the next pass reads reminders whatever the time since the last.
        let mut nudged = false;
        while !self.stopping() {
            let scan = nudged || last_scan.is_none_or(|t| t.elapsed() >= REMINDER_SCAN);
            if scan {
                last_scan = Some(std::time::Instant::now());
            }
            for (n, outage) in self.notices.iter().zip(outages.iter_mut()) {
                let who = format!("notice {}", n.name);
                let done =
                    self.confirmations(n).and_then(
                        |()| {
                            if scan {
                                self.reminders(n)
                            } else {
                                Ok(())
                            }
                        },
                    );
                match done {
                    Ok(()) => outage.ok(&who),
                    Err(e) => {
                        outage.failed(&who, &e, e.fault());
                    }
                }
            }
            match self.signal.wait(POLL) {
                Wake::Stop => break,
                wake => nudged = wake == Wake::Nudged,
            }
        }
        // Another node need not wait for the leases to run out.
        for n in &self.notices {
            for name in [confirm_cursor(n), remind_cursor(n)] {
                if let Err(e) = self.log.release_webhook(&name, &self.owner) {
                    tracing::debug!("notice {}: lease not given up: {e}", n.name);
                }
            }
        }
    }

    /// The message of `kind` for `r`.
    fn message(&self, n: &Notice, kind: Kind, r: &CallbackRequest) -> Option<Message> {
        let template = match kind {
            Kind::Confirmation => n.confirmation.as_deref()?,
            Kind::Reminder => n.reminder.as_deref()?,
        };
        let link = format!(
            "{}/widget/manage#{}",
            self.base,
            crate::api::customer_token(&self.token_secret, r)
        );
        Some(Message {
            kind,
            callback_id: r.id,
            queue: r.queue.clone(),
            number: r.number.clone(),
            email: r.ivr_data.get("email").cloned(),
            due_at: r.due_at,
            text: render(template, r, &link),
            link,
        })
    }

    /// Sends `m`; `Ok(true)` when it was sent or cannot ever be (skipped, said once per
    /// callback without personal data), `Ok(false)` when it failed and is to be retried.
    /// `attempts`: the failures in a row so far (the backoff).
    fn deliver(
        &self,
        n: &Notice,
        cursor: &str,
        attempts: u32,
        m: &Message,
    ) -> Result<bool, crate::store::StoreError> {
        let now = self.service.now();
        match self.sender.send(&n.channel, m, now.timestamp()) {
            Ok(()) => {
                tracing::info!(
                    "notice {}: {} of callback {} sent ({})",
                    n.name,
                    m.kind.as_str(),
                    m.callback_id,
                    n.channel.as_str()
                );
                Ok(true)
            }
            Err(e) if !e.is_retryable() => {
                tracing::info!(
                    "notice {}: {} of callback {} not sent: {e}",
                    n.name,
                    m.kind.as_str(),
                    m.callback_id
                );
                Ok(true)
            }
            Err(e) => {
                let delay = (self.retry * 2i32.pow(attempts.min(16))).min(self.max);
                if attempts == 0 {
                    tracing::warn!(
                        "notice {}: {} of callback {} not sent: {e}; retrying with backoff",
                        n.name,
                        m.kind.as_str(),
                        m.callback_id
                    );
                }
                self.log
                    .webhook_failed(cursor, &self.owner, &e.to_string(), now + delay, now)?;
                Ok(false)
            }
        }
    }

    /// Confirmations owed: `created` events of served queues after the cursor.
    fn confirmations(&self, n: &Notice) -> Result<(), crate::store::StoreError> {
        if n.confirmation.is_none() {
            return Ok(());
        }
        let name = confirm_cursor(n);
        let now = self.service.now();
        let Some(cursor) = self.log.claim_webhook(&name, &self.owner, now, LEASE)? else {
            return Ok(());
        };
        if cursor.next_try_at > now {
            return Ok(());
        }
        for e in self.log.events_after(cursor.last, BATCH)? {
            if self.stopping() {
                return Ok(());
            }
            let owed = e.event.action == "created" && n.serves(&e.queue);
            if owed {
                let r = match self.service.get(e.event.callback_id) {
                    Ok(r) => Some(r),
                    Err(err) if err.code() == "not-found" => None,
                    Err(crate::service::Error::Store(s)) => return Err(s),
                    Err(_) => None,
                };
                // A callback already finished (cancelled at once) is not confirmed.
                if let Some(m) = r
                    .filter(|r| !r.state.is_terminal())
                    .and_then(|r| self.message(n, Kind::Confirmation, &r))
                {
                    if !self.deliver(n, &name, cursor.attempts, &m)? {
                        return Ok(());
                    }
                }
            }
            if !self.log.webhook_delivered(
                &name,
                &self.owner,
                e.position,
                self.service.now(),
                LEASE,
            )? {
                // Another node took the notice over.
                return Ok(());
            }
        }
        Ok(())
    }

    /// Reminders owed: waiting callbacks of served queues due after the mark and within
    /// `reminder-before` from now, in due order.
    fn reminders(&self, n: &Notice) -> Result<(), crate::store::StoreError> {
        if n.reminder.is_none() {
            return Ok(());
        }
        let name = remind_cursor(n);
        let now = self.service.now();
        let Some(cursor) = self.log.claim_webhook(&name, &self.owner, now, LEASE)? else {
            return Ok(());
        };
        if cursor.next_try_at > now {
            return Ok(());
        }
        let mark = Utc
            .timestamp_opt(cursor.last.id, 0)
            .single()
            .unwrap_or_default();
        let until = now + n.reminder_before;
        let mut owed: Vec<CallbackRequest> = Vec::new();
        for state in [State::Requested, State::Scheduled, State::Rescheduled] {
            let listed = self.service.list(&ListFilter {
                state: Some(state),
                ..ListFilter::default()
            });
            let listed = match listed {
                Ok(l) => l,
                Err(crate::service::Error::Store(s)) => return Err(s),
                Err(_) => Vec::new(),
            };
            owed.extend(listed.into_iter().filter(|r| {
                r.due_at.is_some_and(|d: DateTime<Utc>| {
                    d > now
                        && d > mark
                        && d <= until
                        // Booked inside the lead time: the confirmation says it all.
                        && r.created_at < d - n.reminder_before
                }) && n.serves(&r.queue)
            }));
        }
        owed.sort_by_key(|r| (r.due_at, r.id));
        for (i, r) in owed.iter().enumerate() {
            if self.stopping() {
                return Ok(());
            }
            if let Some(m) = self.message(n, Kind::Reminder, r) {
                if !self.deliver(n, &name, cursor.attempts, &m)? {
                    return Ok(());
                }
            }
            // The mark moves past a due second once every callback due then is sent.
            let due = r.due_at.unwrap_or(now);
            if owed.get(i + 1).and_then(|next| next.due_at) != Some(due) {
                // The mark is a time in the id; the tx stays (PostgreSQL's cursor is made
                // at a transaction horizon, and a cursor never moves back).
                let mark = Position {
                    tx: cursor.last.tx,
                    id: due.timestamp(),
                };
                if !self.log.webhook_delivered(
                    &name,
                    &self.owner,
                    mark,
                    self.service.now(),
                    LEASE,
                )? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}
