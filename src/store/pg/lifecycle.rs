//! The lifecycle on PostgreSQL: the door and the steps of each write are `store::rules`'
//! (`lifecycle`, `writes`); what is here is what PostgreSQL does its own way: a batch in
//! one statement per table, the SQL of the claims (rows are picked `FOR UPDATE SKIP
//! LOCKED`, so two nodes claiming at once take different callbacks and never wait on each
//! other), and a turn's offers locked in id order.

use super::rows::{col, prefixed};
use super::tx::{insert_callback, insert_events, INSERT_CALLBACK};
use super::{pg_err, PgStore, PgTx, ACTIVE, CLAIMABLE};
use crate::model::{CallbackId, CallbackRequest, Draft, State};
use crate::store::rules::exec::Exec;
use crate::store::rules::lifecycle::ClaimBounds;
use crate::store::rules::rows::{self, CALLBACK_COLUMN_COUNT};
use crate::store::rules::writes;
use crate::store::rules::{claim_detail, parse_state, reclaim_detail, NewEvent};
use crate::store::{NewAttempt, Offered, StoreError, Transition, FIRST_BOOST};

crate::store::rules::lifecycle::lifecycle_door!(PgStore);

impl PgStore {
    /// Stores a checked batch ([`Lifecycle::create_batch`]).
    pub(crate) fn store_batch(
        &self,
        drafts: &[Draft],
        now_s: i64,
    ) -> Result<Vec<CallbackId>, StoreError> {
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

    /// Claims due callbacks within checked bounds ([`Lifecycle::claim_due_ahead`]).
    pub(crate) fn claim(
        &self,
        owner: &str,
        bounds: ClaimBounds,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        let (now_s, horizon_s, until, limit) = bounds.parts();
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

    /// A turn's checked offers ([`Lifecycle::start_offers`]).
    pub(crate) fn offer(
        &self,
        offers: &[(CallbackId, Transition, NewAttempt)],
        owner: &str,
        now_s: i64,
    ) -> Result<Vec<Offered>, StoreError> {
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
