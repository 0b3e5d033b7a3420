//! The lifecycle on SQLite: the door and the steps of each write are `store::rules`'
//! (`lifecycle`, `writes`); what is here is what SQLite does its own way: a batch through
//! prepared statements, the SQL of the claims, which SQLite runs best as reads through its
//! partial indexes followed by one cached `UPDATE` a row, and a turn's offers in
//! savepoints.

use super::rows::read_callback;
use super::tx::{insert_callback, insert_event_with, INSERT_CALLBACK, INSERT_EVENT};
use super::{backend, SqliteStore, SqliteTx, ACTIVE, CLAIMABLE};
use crate::model::{CallbackId, CallbackRequest, Draft, State};
use crate::store::rules::lifecycle::ClaimBounds;
use crate::store::rules::rows::callback_columns;
use crate::store::rules::{claim_detail, parse_state, reclaim_detail, writes, NewEvent};
use crate::store::{NewAttempt, Offered, StoreError, Transition};
use rusqlite::params;

crate::store::rules::lifecycle::lifecycle_door!(SqliteStore);

impl SqliteStore {
    /// Stores a checked batch ([`Lifecycle::create_batch`]).
    pub(crate) fn store_batch(
        &self,
        drafts: &[Draft],
        now_s: i64,
    ) -> Result<Vec<CallbackId>, StoreError> {
        self.bulk("storing a batch of callbacks", |tx| {
            let mut ids = Vec::with_capacity(drafts.len());
            let mut insert = tx
                .prepare_cached(INSERT_CALLBACK)
                .map_err(backend("storing a batch of callbacks"))?;
            let mut trace = tx
                .prepare_cached(INSERT_EVENT)
                .map_err(backend("storing a batch of callbacks"))?;
            for d in drafts {
                let id = insert_callback(&mut insert, d, now_s)?;
                insert_event_with(
                    &mut trace,
                    &NewEvent {
                        callback_id: id,
                        at: now_s,
                        action: "created",
                        from: None,
                        to: d.state,
                        actor: None,
                        detail: None,
                    },
                )?;
                writes::queue_recording(&mut SqliteTx(tx), id, d, now_s)?;
                ids.push(id);
            }
            Ok(ids)
        })
    }

    /// Claims due callbacks within checked bounds ([`Lifecycle::claim_due_ahead`]).
    pub(crate) fn claim(
        &self,
        owner: &str,
        bounds: ClaimBounds,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        let (now_s, horizon_s, until, limit) = bounds.parts();
        self.write("claiming due callbacks", |tx| {
            let err = backend("claiming due callbacks");
            // Expired leases first: those callbacks fell due before anything still waiting.
            let expired: Vec<(CallbackId, String, Option<String>, Option<i64>)> = tx
                .prepare_cached(&format!(
                    "SELECT id, state, lease_owner, lease_expires FROM callbacks \
                     WHERE {ACTIVE} AND lease_expires <= ?1 \
                     ORDER BY lease_expires, id LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(params![horizon_s, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect()
                })
                .map_err(&err)?;
            let remaining = limit - i64::try_from(expired.len()).unwrap_or(limit);
            // Then due rows a transcript raised (few, their own partial index), highest
            // priority first, and the rest by due time, oldest first.
            let mut due: Vec<(CallbackId, String)> = Vec::new();
            for sql in [
                format!(
                    "SELECT id, state FROM callbacks WHERE {CLAIMABLE} AND priority > 0 \
                     AND due_at <= ?1 ORDER BY priority DESC, due_at, id LIMIT ?2"
                ),
                format!(
                    "SELECT id, state FROM callbacks WHERE {CLAIMABLE} AND due_at <= ?1 \
                     AND priority <= 0 ORDER BY due_at, id LIMIT ?2"
                ),
            ] {
                let left = remaining - i64::try_from(due.len()).unwrap_or(remaining);
                if left <= 0 {
                    break;
                }
                let rows: Vec<(CallbackId, String)> = tx
                    .prepare_cached(&sql)
                    .and_then(|mut s| {
                        s.query_map(params![horizon_s, left], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect()
                    })
                    .map_err(&err)?;
                due.extend(rows);
            }

            let mut claimed = Vec::with_capacity(expired.len() + due.len());
            let mut trace = tx.prepare_cached(INSERT_EVENT).map_err(&err)?;
            // A claim of a waiting row (a state given) sets its first claim once; a
            // reclaim (no state) does not.
            let mut take = tx
                .prepare_cached(concat!(
                    "UPDATE callbacks SET state = coalesce(?2, state), lease_owner = ?3, \
                     lease_expires = ?4, updated_at = ?5, \
                     first_claimed_at = CASE WHEN ?2 IS NULL THEN first_claimed_at \
                                        ELSE coalesce(first_claimed_at, ?5) END, \
                     priority = CASE WHEN priority >= 1073741824 \
                                THEN priority - 1073741824 ELSE priority END \
                     WHERE id = ?1 RETURNING ",
                    callback_columns!()
                ))
                .map_err(&err)?;
            for (id, state, previous, previous_until) in expired {
                let row = take
                    .query_row(
                        params![id, None::<&str>, owner, until, now_s],
                        read_callback,
                    )
                    .map_err(&err)?;
                let detail = reclaim_detail(until, previous.as_deref(), previous_until);
                let from = parse_state(&state, "claiming due callbacks")?;
                insert_event_with(
                    &mut trace,
                    &NewEvent {
                        callback_id: id,
                        at: now_s,
                        action: "reclaim",
                        from: Some(from),
                        to: row.state,
                        actor: Some(owner),
                        detail: Some(&detail),
                    },
                )?;
                claimed.push(row);
            }
            let detail = claim_detail(until);
            for (id, state) in due {
                let row = take
                    .query_row(
                        params![id, State::Due.as_str(), owner, until, now_s],
                        read_callback,
                    )
                    .map_err(&err)?;
                insert_event_with(
                    &mut trace,
                    &NewEvent {
                        callback_id: id,
                        at: now_s,
                        action: "claim",
                        from: Some(parse_state(&state, "claiming due callbacks")?),
                        to: State::Due,
                        actor: Some(owner),
                        detail: Some(&detail),
                    },
                )?;
                claimed.push(row);
            }
            Ok(claimed)
        })
    }

    /// A turn's checked offers ([`Lifecycle::start_offers`]).
    pub(crate) fn offer(
        &self,
        offers: &[(CallbackId, Transition, NewAttempt)],
        owner: &str,
        now_s: i64,
    ) -> Result<Vec<Offered>, StoreError> {
        self.write("starting offers", |tx| {
            let err = backend("starting offers");
            // Cached statements: a burst runs these three times per offer.
            let run = |sql: &str| {
                tx.prepare_cached(sql)
                    .and_then(|mut s| s.execute([]))
                    .map_err(&err)
            };
            let mut out = Vec::with_capacity(offers.len());
            for (id, t, attempt) in offers {
                run("SAVEPOINT offer")?;
                let mut w = SqliteTx(tx);
                let one = writes::apply_transition(&mut w, *id, t, now_s).and_then(|r| {
                    writes::start_attempt(&mut w, attempt, owner, now_s).map(|a| (r, a))
                });
                if one.is_err() {
                    run("ROLLBACK TO offer")?;
                }
                run("RELEASE offer")?;
                out.push(one);
            }
            Ok(out)
        })
    }
}
