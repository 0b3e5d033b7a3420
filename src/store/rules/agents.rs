//! The agents' door ([`crate::store::AgentStore`]), written once over a backend's
//! statements: ready/away shared by every process or node on the database (a ready agent
//! is news for the other nodes' dispatchers), the open agent legs, the handling times, and
//! after-call work (`writes::agent_writes`).

use super::exec::{params, Backend, Query};
use super::rows::{int, text, time};
use super::{mean_duration, secs, sql, validate_agent};
use crate::store::{AgentBoard, AgentRecord, StoreError};
use chrono::{DateTime, Duration, Utc};

/// [`crate::store::AgentStore::set_agent_ready`].
pub(crate) fn set_ready(
    b: &impl Backend,
    agent: &str,
    ready: bool,
    node: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    validate_agent(agent)?;
    let doing = "recording an agent's state";
    b.writing(doing, |x| {
        x.execute(
            doing,
            sql::AGENT_READY,
            &params![agent, i64::from(ready), secs(now), node],
        )?;
        if ready {
            x.notify()?;
        }
        Ok(())
    })
}

/// [`crate::store::AgentStore::agent_board`].
pub(crate) fn board(b: &impl Backend, now: DateTime<Utc>) -> Result<AgentBoard, StoreError> {
    let doing = "reading the agents";
    b.reading(|x| {
        let states = x.rows(doing, sql::AGENTS, &[], |r| {
            Ok(AgentRecord {
                id: text(r, 0, "id")?,
                ready: int(r, 1, "ready")? != 0,
                since: time(r, 2, "since")?,
                node: text(r, 3, "node")?,
            })
        })?;
        let busy_sql = &x.dialect().agents_busy;
        let busy = x.rows(doing, busy_sql, &params![secs(now)], |r| {
            Ok((text(r, 0, "agent")?, int(r, 1, "callback_id")?))
        })?;
        Ok(AgentBoard { states, busy })
    })
}

/// [`crate::store::AgentStore::handling_time`].
pub(crate) fn handling_time(
    b: &impl Backend,
    queue: &str,
    last: usize,
) -> Result<Option<Duration>, StoreError> {
    let last = i64::try_from(last).unwrap_or(i64::MAX);
    b.reading(|x| {
        let sql = &x.dialect().handling_time;
        x.one("reading handling times", sql, &params![queue, last], |r| {
            r.real(0, "avg")
        })
        .map(mean_duration)
    })
}

/// The [`crate::store::AgentStore`] of a backend: the functions above and the shared
/// after-call writes.
macro_rules! agent_store {
    ($store:ty) => {
        impl $crate::store::AgentStore for $store {
            $crate::store::rules::writes::agent_writes!();

            fn set_agent_ready(
                &self,
                agent: &str,
                ready: bool,
                node: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                $crate::store::rules::agents::set_ready(self, agent, ready, node, now)
            }

            fn agent_board(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::AgentBoard, $crate::store::StoreError> {
                $crate::store::rules::agents::board(self, now)
            }

            fn handling_time(
                &self,
                queue: &str,
                last: usize,
            ) -> Result<Option<chrono::Duration>, $crate::store::StoreError> {
                $crate::store::rules::agents::handling_time(self, queue, last)
            }
        }
    };
}
pub(crate) use agent_store;
