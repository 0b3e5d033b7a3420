//! The agents' door on SQLite: ready/away shared by every process on the file, the open
//! agent legs, and after-call work.

use super::{backend, SqliteStore};
use crate::store::rules::rows::time;
use crate::store::rules::{mean_duration, secs, sql, validate_agent, writes};
use crate::store::{AgentBoard, AgentRecord, AgentStore, StoreError};
use chrono::{DateTime, Duration, Utc};
use rusqlite::params;

impl AgentStore for SqliteStore {
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
            tx.prepare_cached(sql::AGENT_READY)
                .and_then(|mut s| s.execute(params![agent, i64::from(ready), secs(now), node]))
                .map_err(backend("recording an agent's state"))?;
            Ok(())
        })
    }

    fn agent_board(&self, now: DateTime<Utc>) -> Result<AgentBoard, StoreError> {
        let now_s = secs(now);
        self.read(|c| {
            let err = backend("reading the agents");
            let states = c
                .prepare_cached("SELECT id, ready, since, node FROM agents ORDER BY id")
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok(AgentRecord {
                            id: r.get(0)?,
                            ready: r.get::<_, i64>(1)? != 0,
                            since: time(r, 2, "since")?,
                            node: r.get(3)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(&err)?;
            let busy = c
                .prepare_cached(
                    "SELECT a.agent, a.callback_id \
                     FROM attempts a INDEXED BY attempts_agent_busy \
                     JOIN callbacks c ON c.id = a.callback_id \
                     WHERE a.leg = 'agent' AND a.ended_at IS NULL AND a.agent IS NOT NULL \
                     AND c.lease_expires > ?1 ORDER BY a.agent",
                )
                .and_then(|mut s| {
                    s.query_map([now_s], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(&err)?;
            Ok(AgentBoard { states, busy })
        })
    }

    fn handling_time(&self, queue: &str, last: usize) -> Result<Option<Duration>, StoreError> {
        let last = i64::try_from(last).unwrap_or(i64::MAX);
        self.read(|conn| {
            conn.query_row(
                "SELECT avg(ended_at - started_at) FROM (SELECT a.ended_at, a.started_at \
                 FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
                 WHERE c.queue = ?1 AND a.leg = 'agent' AND a.result = 'answered' \
                 AND a.ended_at IS NOT NULL ORDER BY a.id DESC LIMIT ?2)",
                params![queue, last],
                |r| r.get::<_, Option<f64>>(0),
            )
            .map(mean_duration)
            .map_err(backend("reading handling times"))
        })
    }
}
