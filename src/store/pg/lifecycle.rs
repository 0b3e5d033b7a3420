//! The lifecycle door on PostgreSQL: creates, transitions, claims and legs. The steps of
//! each write are `store::rules::writes`; what is here is the SQL of the claims: rows are
//! picked `FOR UPDATE SKIP LOCKED`, so two nodes claiming at once take different callbacks
//! and never wait on each other.

use super::exec::PgConn;
use super::rows::{col, exists, load_with, prefixed};
use super::tx::{insert_callback, insert_events, INSERT_CALLBACK};
use super::{pg_err, PgStore, PgTx, ACTIVE, CLAIMABLE};
use crate::model::{CallbackId, CallbackRequest, Draft, State};
use crate::store::rules::exec::Exec;
use crate::store::rules::rows::{self, Columns, CALLBACK_COLUMN_COUNT};
use crate::store::rules::tx::count_slot;
use crate::store::rules::writes;
use crate::store::rules::{
    ceil_secs, check_claim, claim_detail, lease_until, next_wakeup, parse_state, reclaim_detail,
    secs, validate, validate_transition, NewEvent,
};
use crate::store::{Lifecycle, NewAttempt, Offered, StoreError, Transition, FIRST_BOOST};
use chrono::{DateTime, Duration, Utc};

impl Lifecycle for PgStore {
    writes::lifecycle_writes!();

    fn create_batch(
        &self,
        drafts: &[Draft],
        now: DateTime<Utc>,
    ) -> Result<Vec<CallbackId>, StoreError> {
        drafts.iter().try_for_each(validate)?;
        let now_s = secs(now);
        self.write("storing a batch of callbacks", |tx| {
            let stmt = tx
                .prepare(INSERT_CALLBACK)
                .map_err(pg_err("storing a batch of callbacks"))?;
            let mut ids = Vec::with_capacity(drafts.len());
            for d in drafts {
                ids.push(insert_callback(tx, &stmt, d, now_s)?);
            }
            let events: Vec<NewEvent<'_>> = drafts
                .iter()
                .zip(&ids)
                .map(|(d, id)| NewEvent {
                    callback_id: *id,
                    at: now_s,
                    action: "created",
                    from: None,
                    to: d.state,
                    actor: None,
                    detail: None,
                })
                .collect();
            insert_events(tx, &events)?;
            let mut w = PgTx { c: tx, store: self };
            for (d, id) in drafts.iter().zip(&ids) {
                writes::queue_recording(&mut w, *id, d, now_s)?;
            }
            w.notify()?;
            Ok(ids)
        })
    }

    fn get(&self, id: CallbackId) -> Result<CallbackRequest, StoreError> {
        self.with(|c| load_with(c, id, false))
    }

    fn claim_due_ahead(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        ahead: Duration,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        if !check_claim(owner, ahead, limit)? {
            return Ok(Vec::new());
        }
        let now_s = secs(now);
        let horizon_s = secs(now + ahead);
        let until = lease_until(now, lease)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cols = prefixed("c");
        self.write("claiming due callbacks", |tx| {
            let err = pg_err("claiming due callbacks");
            // Expired leases first (they fell due before anything still waiting); rows
            // another node is changing right now are skipped, not waited for.
            let expired = tx
                .query(
                    &format!(
                        "UPDATE callbacks c SET lease_owner = $1, lease_expires = $2, \
                         updated_at = $3 FROM (SELECT id, state, lease_owner, lease_expires \
                         FROM callbacks WHERE {ACTIVE} AND lease_expires <= $5 \
                         ORDER BY lease_expires, id LIMIT $4 FOR UPDATE SKIP LOCKED) old \
                         WHERE c.id = old.id \
                         RETURNING {cols}, old.state, old.lease_owner, old.lease_expires"
                    ),
                    &[&owner, &until, &now_s, &limit, &horizon_s],
                )
                .map_err(&err)?;
            let mut expired = expired
                .iter()
                .map(|r| {
                    Ok((
                        rows::callback(r)?,
                        col::<String>(r, CALLBACK_COLUMN_COUNT, "state")?,
                        col::<Option<String>>(r, CALLBACK_COLUMN_COUNT + 1, "lease_owner")?,
                        col::<Option<i64>>(r, CALLBACK_COLUMN_COUNT + 2, "lease_expires")?,
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            expired.sort_by_key(|(row, _, _, until)| (*until, row.id));

            // Then due rows a transcript raised, highest priority first, and the rest by
            // due time, oldest first (the SQLite order).
            let mut due: Vec<(CallbackRequest, String)> = Vec::new();
            for filter in [
                "priority > 0 ORDER BY priority DESC, due_at, id",
                "priority <= 0 ORDER BY due_at, id",
            ] {
                let left = limit - i64::try_from(expired.len() + due.len()).unwrap_or(limit);
                if left <= 0 {
                    break;
                }
                let rows = tx
                    .query(
                        &format!(
                            "UPDATE callbacks c SET state = 'due', lease_owner = $1, \
                             lease_expires = $2, updated_at = $3, \
                             first_claimed_at = coalesce(c.first_claimed_at, $3), \
                             priority = CASE WHEN c.priority >= {boost} \
                                        THEN c.priority - {boost} ELSE c.priority END \
                             FROM (SELECT id, state \
                             FROM callbacks WHERE {CLAIMABLE} AND due_at <= $5 AND {filter} \
                             LIMIT $4 FOR UPDATE SKIP LOCKED) old WHERE c.id = old.id \
                             RETURNING {cols}, old.state",
                            boost = FIRST_BOOST
                        ),
                        &[&owner, &until, &now_s, &left, &horizon_s],
                    )
                    .map_err(&err)?;
                let mut rows = rows
                    .iter()
                    .map(|r| {
                        Ok((
                            rows::callback(r)?,
                            col::<String>(r, CALLBACK_COLUMN_COUNT, "state")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                // RETURNING comes in no promised order: put it back in claim order.
                rows.sort_by_key(|(row, _)| (-i64::from(row.priority.max(0)), row.due_at, row.id));
                due.extend(rows);
            }

            let reclaim_details: Vec<String> = expired
                .iter()
                .map(|(_, _, previous, previous_until)| {
                    reclaim_detail(until, previous.as_deref(), *previous_until)
                })
                .collect();
            let claim_detail = claim_detail(until);
            let mut events = Vec::with_capacity(expired.len() + due.len());
            for ((row, state, _, _), detail) in expired.iter().zip(&reclaim_details) {
                events.push(NewEvent {
                    callback_id: row.id,
                    at: now_s,
                    action: "reclaim",
                    from: Some(parse_state(state, "claiming due callbacks")?),
                    to: row.state,
                    actor: Some(owner),
                    detail: Some(detail),
                });
            }
            for (row, state) in &due {
                events.push(NewEvent {
                    callback_id: row.id,
                    at: now_s,
                    action: "claim",
                    from: Some(parse_state(state, "claiming due callbacks")?),
                    to: State::Due,
                    actor: Some(owner),
                    detail: Some(&claim_detail),
                });
            }
            insert_events(tx, &events)?;
            Ok(expired
                .into_iter()
                .map(|(row, _, _, _)| row)
                .chain(due.into_iter().map(|(row, _)| row))
                .collect())
        })
    }

    fn renew_lease(
        &self,
        id: CallbackId,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<(), StoreError> {
        let now_s = secs(now);
        let until = lease_until(now, lease)?;
        self.write("renewing a lease", |tx| {
            let n = tx
                .execute(
                    &format!(
                        "UPDATE callbacks SET lease_expires = $3 WHERE id = $1 \
                         AND lease_owner = $2 AND lease_expires > $4 AND {ACTIVE}"
                    ),
                    &[&id, &owner, &until, &now_s],
                )
                .map_err(pg_err("renewing a lease"))?;
            if n == 1 {
                return Ok(());
            }
            exists(tx, id)?;
            Err(StoreError::LeaseLost {
                id,
                owner: owner.to_string(),
            })
        })
    }

    fn next_wakeup(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (due, lease) = self.with(|c| {
            let r = c
                .query_one(
                    &format!(
                        "SELECT (SELECT min(due_at) FROM callbacks WHERE {CLAIMABLE}), \
                                (SELECT min(lease_expires) FROM callbacks WHERE {ACTIVE})"
                    ),
                    &[],
                )
                .map_err(pg_err("finding the next wake-up"))?;
            Ok((r.int(0, "due_at")?, r.int(1, "lease_expires")?))
        })?;
        next_wakeup(due, lease)
    }

    fn count_due_between(
        &self,
        queue: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        self.with(|c| count_slot(&mut PgConn(c), queue, ceil_secs(start), ceil_secs(end)))
    }

    fn start_offers(
        &self,
        offers: &[(CallbackId, Transition, NewAttempt)],
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Offered>, StoreError> {
        for (_, t, _) in offers {
            validate_transition(t)?;
        }
        let now_s = secs(now);
        self.write("starting offers", |tx| {
            let err = pg_err("starting offers");
            // Lock the turn's callbacks up front in id order, so two writers locking several
            // of them (another turn, a purge) cannot deadlock on the order they were given.
            let ids: Vec<CallbackId> = offers.iter().map(|(id, _, _)| *id).collect();
            tx.execute(
                "SELECT 1 FROM (SELECT id FROM callbacks WHERE id = ANY($1) ORDER BY id \
                 FOR UPDATE) locked",
                &[&ids],
            )
            .map_err(&err)?;
            // The agent legs in agent order: a node inserting a leg for an agent another
            // node's uncommitted turn has just taken waits for that turn, so two turns
            // taking the same agents in different orders would deadlock.
            let mut order: Vec<usize> = (0..offers.len()).collect();
            order.sort_by(|a, b| offers[*a].2.agent.cmp(&offers[*b].2.agent));
            let mut out: Vec<Option<Offered>> = (0..offers.len()).map(|_| None).collect();
            for i in order {
                let (id, t, attempt) = &offers[i];
                // Each offer in its own savepoint: a refused one leaves no trace.
                let mut sp = tx.savepoint("offer").map_err(&err)?;
                let mut w = PgTx {
                    c: &mut sp,
                    store: self,
                };
                let one = writes::apply_transition(&mut w, *id, t, now_s).and_then(|r| {
                    writes::start_attempt(&mut w, attempt, owner, now_s).map(|a| (r, a))
                });
                if one.is_ok() {
                    sp.commit().map_err(&err)?;
                } else {
                    sp.rollback().map_err(&err)?;
                }
                out[i] = Some(one);
            }
            Ok(out.into_iter().flatten().collect())
        })
    }
}
