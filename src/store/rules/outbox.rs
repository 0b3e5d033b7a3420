//! The outbox's decisions, the same on both backends: who may take a cursor's lease,
//! where a cursor moves, the rows it is read from, and its writes over a backend's
//! statements ([`Cursors`]). The design is explained in `store/webhooks.rs`.

use super::exec::{params, Exec, Query};
use super::rows::{self, int, time, Columns};
use super::{secs, sql};
use crate::store::{OutboxEvent, Position, StoreError, WebhookCursor};
use chrono::{DateTime, Duration, Utc};

/// The columns of an outbox read (`events e JOIN callbacks c`), in the order
/// [`outbox_event`] decodes them: an event's columns, the callback's queue, the position's
/// transaction (the backend's SQL gives it as a plain integer).
pub(crate) const OUTBOX_COLUMNS: &str = "e.id, e.callback_id, e.at, e.action, e.from_state, \
     e.to_state, e.actor, e.detail, c.queue";

pub(crate) fn outbox_event<C: Columns + ?Sized>(r: &C) -> Result<OutboxEvent, C::Error> {
    let event = rows::event(r)?;
    let position = Position {
        tx: int(r, 9, "tx")?,
        id: event.id,
    };
    Ok(OutboxEvent {
        queue: rows::text(r, 8, "queue")?,
        event,
        position,
    })
}

/// The columns of `webhook_cursors` [`cursor_row`] decodes, in its order.
pub(crate) const CURSOR_COLUMNS: &str =
    "last_tx, last_event, attempts, next_try_at, last_error, lease_owner, lease_expires";

/// A cursor with its lease.
pub(crate) struct CursorRow {
    pub cursor: WebhookCursor,
    pub owner: Option<String>,
    pub expires: i64,
}

pub(crate) fn cursor_row<C: Columns + ?Sized>(r: &C) -> Result<CursorRow, C::Error> {
    Ok(CursorRow {
        cursor: WebhookCursor {
            last: Position {
                tx: int(r, 0, "last_tx")?,
                id: int(r, 1, "last_event")?,
            },
            attempts: u32::try_from(int(r, 2, "attempts")?).unwrap_or(u32::MAX),
            next_try_at: time(r, 3, "next_try_at")?,
            last_error: r.text(4, "last_error")?,
        },
        owner: r.text(5, "lease_owner")?,
        expires: int(r, 6, "lease_expires")?,
    })
}

/// `owner` may take the lease: nobody holds it, `owner` does, or it ran out.
pub(crate) fn may_claim(row: &CursorRow, owner: &str, now_s: i64) -> bool {
    match row.owner.as_deref() {
        None => true,
        Some(o) if o == owner => true,
        Some(_) => row.expires <= now_s,
    }
}

/// Whether a claim by `owner` writes the lease (until `until`): not while its own lease
/// still has more than half its length to run. A worker claims on every pass (twice a
/// second) and delivers rarely; a write each time would be a transaction per pass per
/// webhook on every node for nothing.
pub(crate) fn renewal_due(row: &CursorRow, owner: &str, now_s: i64, until: i64) -> bool {
    !holds(row, owner) || row.expires - now_s <= (until - now_s) / 2
}

/// `owner` still holds the lease it was given: a cursor moves only for its holder. An
/// expired lease nobody took yet still counts (nobody else delivered meanwhile).
pub(crate) fn holds(row: &CursorRow, owner: &str) -> bool {
    row.owner.as_deref() == Some(owner)
}

/// Where a cursor delivered up to `to` stands: never back (a stale update of a worker
/// that lost and regained its lease cannot resend what was delivered).
pub(crate) fn advanced(last: Position, to: Position) -> Position {
    last.max(to)
}

/// A failure's text as kept: bounded, whatever the receiver answered.
pub(crate) fn error_text(error: &str) -> String {
    error.chars().take(500).collect()
}

/// The cursors' statements, over a backend's transaction: the texts its dialect writes its
/// own way ([`super::exec::Dialect`]: where a cursor starts, whether it is locked) and the
/// shared ones ([`super::sql`]).
struct Cursors<'x>(&'x mut dyn Exec);

impl Cursors<'_> {
    /// Makes the cursor `name` if missing, at the newest settled position.
    fn make_cursor(&mut self, name: &str, now: i64) -> Result<(), StoreError> {
        let sql = &self.0.dialect().cursor_make;
        self.0
            .execute("starting a webhook cursor", sql, &params![name, now])
            .map(drop)
    }

    /// The cursor `name`, locked for the rest of the transaction (PostgreSQL's rows).
    fn cursor(&mut self, name: &str) -> Result<Option<CursorRow>, StoreError> {
        let sql = &self.0.dialect().cursor_read;
        self.0
            .row("reading a webhook cursor", sql, &params![name], |r| {
                cursor_row(r)
            })
    }

    /// Sets (or, with `None`, clears) the lease.
    fn set_lease(&mut self, name: &str, owner: Option<&str>, until: i64) -> Result<(), StoreError> {
        self.0
            .execute(
                "leasing a webhook cursor",
                sql::CURSOR_LEASE,
                &params![owner, until, name],
            )
            .map(drop)
    }

    /// Moves the cursor to `at`, clears its retry state and extends the lease to `until`.
    fn move_cursor(
        &mut self,
        name: &str,
        at: Position,
        now: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        self.0
            .execute(
                "recording a webhook delivery",
                sql::CURSOR_MOVE,
                &params![at.tx, at.id, now, until, name],
            )
            .map(drop)
    }

    /// Counts a failed try: the next at `next_try`.
    fn count_failure(
        &mut self,
        name: &str,
        error: &str,
        next_try: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.0
            .execute(
                "recording a webhook failure",
                sql::CURSOR_FAILURE,
                &params![next_try, error, now, name],
            )
            .map(drop)
    }
}

/// The cursor `name`, made if missing.
pub(crate) fn cursor(
    x: &mut dyn Exec,
    name: &str,
    now: DateTime<Utc>,
) -> Result<CursorRow, StoreError> {
    Cursors(x).make_cursor(name, secs(now))?;
    Cursors(x)
        .cursor(name)?
        .ok_or_else(|| StoreError::Backend(format!("webhook cursor '{name}' vanished")))
}

/// [`crate::store::WebhookLog::claim_webhook`] over a backend's transaction.
pub(crate) fn claim(
    x: &mut dyn Exec,
    name: &str,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<WebhookCursor>, StoreError> {
    let until = super::lease_until(now, lease)?;
    let row = cursor(x, name, now)?;
    if !may_claim(&row, owner, secs(now)) {
        return Ok(None);
    }
    if renewal_due(&row, owner, secs(now), until) {
        Cursors(x).set_lease(name, Some(owner), until)?;
    }
    Ok(Some(row.cursor))
}

/// The cursor `name` when `owner` holds it.
fn held(x: &mut dyn Exec, name: &str, owner: &str) -> Result<Option<CursorRow>, StoreError> {
    Ok(Cursors(x).cursor(name)?.filter(|r| holds(r, owner)))
}

/// [`crate::store::WebhookLog::webhook_delivered`] over a backend's transaction.
pub(crate) fn delivered(
    x: &mut dyn Exec,
    name: &str,
    owner: &str,
    to: Position,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, StoreError> {
    let until = super::lease_until(now, lease)?;
    let Some(row) = held(x, name, owner)? else {
        return Ok(false);
    };
    Cursors(x).move_cursor(name, advanced(row.cursor.last, to), secs(now), until)?;
    Ok(true)
}

/// [`crate::store::WebhookLog::webhook_failed`] over a backend's transaction.
pub(crate) fn failed(
    x: &mut dyn Exec,
    name: &str,
    owner: &str,
    error: &str,
    next_try_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if held(x, name, owner)?.is_none() {
        return Ok(false);
    }
    Cursors(x).count_failure(name, &error_text(error), secs(next_try_at), secs(now))?;
    Ok(true)
}

/// [`crate::store::WebhookLog::release_webhook`] over a backend's transaction.
pub(crate) fn release(x: &mut dyn Exec, name: &str, owner: &str) -> Result<(), StoreError> {
    if held(x, name, owner)?.is_some() {
        Cursors(x).set_lease(name, None, 0)?;
    }
    Ok(())
}

/// The [`crate::store::WebhookLog`] of a backend, the same for both: each door is one
/// transaction of the shared writes above over the backend's statements ([`super::exec::Backend`]),
/// and the outbox read is the backend's own `read_outbox` (the dialects differ there).
macro_rules! webhook_log {
    ($store:ty) => {
        impl $crate::store::WebhookLog for $store {
            fn webhook_cursor(
                &self,
                name: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::WebhookCursor, $crate::store::StoreError> {
                $crate::store::rules::exec::Backend::writing(
                    self,
                    "reading a webhook cursor",
                    |tx| Ok($crate::store::rules::outbox::cursor(tx, name, now)?.cursor),
                )
            }

            fn claim_webhook(
                &self,
                name: &str,
                owner: &str,
                now: chrono::DateTime<chrono::Utc>,
                lease: chrono::Duration,
            ) -> Result<Option<$crate::store::WebhookCursor>, $crate::store::StoreError> {
                $crate::store::rules::exec::Backend::writing(
                    self,
                    "claiming a webhook cursor",
                    |tx| $crate::store::rules::outbox::claim(tx, name, owner, now, lease),
                )
            }

            fn events_after(
                &self,
                after: $crate::store::Position,
                limit: usize,
            ) -> Result<Vec<$crate::store::OutboxEvent>, $crate::store::StoreError> {
                self.read_outbox(after, limit)
            }

            fn webhook_delivered(
                &self,
                name: &str,
                owner: &str,
                to: $crate::store::Position,
                now: chrono::DateTime<chrono::Utc>,
                lease: chrono::Duration,
            ) -> Result<bool, $crate::store::StoreError> {
                $crate::store::rules::exec::Backend::writing(
                    self,
                    "recording a webhook delivery",
                    |tx| $crate::store::rules::outbox::delivered(tx, name, owner, to, now, lease),
                )
            }

            fn webhook_failed(
                &self,
                name: &str,
                owner: &str,
                error: &str,
                next_try_at: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                $crate::store::rules::exec::Backend::writing(
                    self,
                    "recording a webhook failure",
                    |tx| {
                        $crate::store::rules::outbox::failed(
                            tx,
                            name,
                            owner,
                            error,
                            next_try_at,
                            now,
                        )
                    },
                )
            }

            fn release_webhook(
                &self,
                name: &str,
                owner: &str,
            ) -> Result<(), $crate::store::StoreError> {
                $crate::store::rules::exec::Backend::writing(
                    self,
                    "releasing a webhook cursor",
                    |tx| $crate::store::rules::outbox::release(tx, name, owner),
                )
            }
        }
    };
}
pub(crate) use webhook_log;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(owner: Option<&str>, expires: i64) -> CursorRow {
        CursorRow {
            cursor: WebhookCursor {
                last: Position::default(),
                attempts: 0,
                next_try_at: DateTime::<Utc>::default(),
                last_error: None,
            },
            owner: owner.map(str::to_string),
            expires,
        }
    }

    #[test]
    fn a_lease_is_taken_when_free_own_or_expired_and_a_cursor_never_moves_back() {
        // Another owner's live lease is the only refusal; positions order by tx, then id.
        assert!(may_claim(&row(None, 0), "b", 100));
        assert!(may_claim(&row(Some("b"), 200), "b", 100));
        assert!(!may_claim(&row(Some("a"), 101), "b", 100));
        assert!(may_claim(&row(Some("a"), 100), "b", 100));
        assert!(holds(&row(Some("a"), 0), "a") && !holds(&row(Some("a"), 0), "b"));
        // Its own lease is written again only once half of it has run.
        assert!(!renewal_due(&row(Some("b"), 160), "b", 100, 160));
        assert!(!renewal_due(&row(Some("b"), 131), "b", 100, 160));
        assert!(renewal_due(&row(Some("b"), 130), "b", 100, 160));
        assert!(renewal_due(&row(Some("a"), 500), "b", 100, 160));
        let p = |tx, id| Position { tx, id };
        assert_eq!(advanced(p(5, 9), p(6, 2)), p(6, 2));
        assert_eq!(advanced(p(6, 2), p(5, 9)), p(6, 2));
    }
}
