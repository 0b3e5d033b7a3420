//! The agents' door on PostgreSQL: ready/away shared by every node (a ready agent is news
//! for the other nodes' dispatchers), the open agent legs, and after-call work.

use super::rows::col as rows_col;
use super::{pg_err, PgStore, PgTx};
use crate::store::rules::rows;
use crate::store::rules::writes::{self, Tx};
use crate::store::rules::{mean_duration, secs, sql, validate_agent};
use crate::store::{AgentBoard, AgentRecord, AgentStore, StoreError};
use chrono::{DateTime, Duration, Utc};

impl AgentStore for PgStore {
    writes::agent_writes!();

    fn set_agent_ready(
        &self,
        agent: &str,
        ready: bool,
        node: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        validate_agent(agent)?;
        self.write("recording an agent's state", |tx| {
            let mut w = PgTx { c: tx, store: self };
            w.c.execute(
                sql::AGENT_READY,
                &[&agent, &i64::from(ready), &secs(now), &node],
            )
            .map_err(pg_err("recording an agent's state"))?;
            if ready {
                w.notify()?;
            }
            Ok(())
        })
    }

    fn agent_board(&self, now: DateTime<Utc>) -> Result<AgentBoard, StoreError> {
        let now_s = secs(now);
        self.with(|c| {
            let err = pg_err("reading the agents");
            let states = c
                .query("SELECT id, ready, since, node FROM agents ORDER BY id", &[])
                .map_err(&err)?
                .iter()
                .map(|r| {
                    Ok(AgentRecord {
                        id: rows::text(r, 0, "id")?,
                        ready: rows::int(r, 1, "ready")? != 0,
                        since: rows::time(r, 2, "since")?,
                        node: rows::text(r, 3, "node")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let busy = c
                .query(
                    "SELECT a.agent, a.callback_id FROM attempts a \
                     JOIN callbacks c ON c.id = a.callback_id \
                     WHERE a.leg = 'agent' AND a.ended_at IS NULL AND a.agent IS NOT NULL \
                     AND c.lease_expires > $1 ORDER BY a.agent",
                    &[&now_s],
                )
                .map_err(&err)?
                .iter()
                .map(|r| Ok((rows::text(r, 0, "agent")?, rows::int(r, 1, "callback_id")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(AgentBoard { states, busy })
        })
    }

    fn handling_time(&self, queue: &str, last: usize) -> Result<Option<Duration>, StoreError> {
        let last = i64::try_from(last).unwrap_or(i64::MAX);
        self.with(|c| {
            let r = c
                .query_one(
                    "SELECT avg(ended_at - started_at)::float8 FROM (SELECT a.ended_at, \
                     a.started_at FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
                     WHERE c.queue = $1 AND a.leg = 'agent' AND a.result = 'answered' \
                     AND a.ended_at IS NOT NULL ORDER BY a.id DESC LIMIT $2) last",
                    &[&queue, &last],
                )
                .map_err(pg_err("reading handling times"))?;
            let avg: Option<f64> = rows_col(&r, 0, "avg")?;
            Ok(mean_duration(avg))
        })
    }
}
