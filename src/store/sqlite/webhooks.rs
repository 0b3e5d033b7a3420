//! The webhook outbox on SQLite ([`WebhookLog`]).

use super::{backend, SqliteStore};
use crate::model::State;
use crate::store::rules::secs;
use crate::store::{Event, OutboxEvent, StoreError, WebhookCursor, WebhookLog};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, OptionalExtension};
use std::str::FromStr;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

impl WebhookLog for SqliteStore {
    fn webhook_cursor(&self, name: &str, now: DateTime<Utc>) -> Result<WebhookCursor, StoreError> {
        self.write("reading a webhook cursor", |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO webhook_cursors (name, last_event, updated_at) \
                 VALUES (?1, COALESCE((SELECT MAX(id) FROM events), 0), ?2)",
                params![name, secs(now)],
            )
            .map_err(backend("starting a webhook cursor"))?;
            tx.query_row(
                "SELECT last_event, attempts, next_try_at, last_error FROM webhook_cursors \
                 WHERE name = ?1",
                [name],
                |r| {
                    Ok(WebhookCursor {
                        last_event: r.get(0)?,
                        attempts: r.get(1)?,
                        next_try_at: at(r.get(2)?),
                        last_error: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(backend("reading a webhook cursor"))?
            .ok_or_else(|| StoreError::Backend(format!("webhook cursor '{name}' vanished")))
        })
    }

    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut s = c
                .prepare_cached(
                    "SELECT e.id, e.callback_id, e.at, e.action, e.from_state, e.to_state, \
                     e.actor, e.detail, c.queue FROM events e JOIN callbacks c \
                     ON c.id = e.callback_id WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
                )
                .map_err(backend("reading the outbox"))?;
            let rows = s
                .query_map(params![after, limit], |r| {
                    let state = |i: usize| -> rusqlite::Result<Option<State>> {
                        let t: Option<String> = r.get(i)?;
                        Ok(t.and_then(|t| State::from_str(&t).ok()))
                    };
                    Ok((
                        Event {
                            id: r.get(0)?,
                            callback_id: r.get(1)?,
                            at: at(r.get(2)?),
                            action: r.get(3)?,
                            from: state(4)?,
                            to: state(5)?.unwrap_or(State::Requested),
                            actor: r.get(6)?,
                            detail: r.get(7)?,
                        },
                        r.get::<_, String>(8)?,
                    ))
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(backend("reading the outbox"))?;
            Ok(rows
                .into_iter()
                .map(|(event, queue)| OutboxEvent { event, queue })
                .collect())
        })
    }

    fn webhook_delivered(
        &self,
        name: &str,
        event: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("recording a webhook delivery", |tx| {
            tx.execute(
                "UPDATE webhook_cursors SET last_event = MAX(last_event, ?2), attempts = 0, \
                 next_try_at = 0, last_error = NULL, updated_at = ?3 WHERE name = ?1",
                params![name, event, secs(now)],
            )
            .map(|_| ())
            .map_err(backend("recording a webhook delivery"))
        })
    }

    fn webhook_failed(
        &self,
        name: &str,
        error: &str,
        next_try_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(500).collect();
        self.write("recording a webhook failure", |tx| {
            tx.execute(
                "UPDATE webhook_cursors SET attempts = attempts + 1, next_try_at = ?2, \
                 last_error = ?3, updated_at = ?4 WHERE name = ?1",
                params![name, secs(next_try_at), error, secs(now)],
            )
            .map(|_| ())
            .map_err(backend("recording a webhook failure"))
        })
    }
}
