//! The facade every front end calls: dialplan applications, the fs_cli `callback` command,
//! the HTTP API. It validates input (numbers, zones, times), applies the schedule rules,
//! writes to the store, and notifies the host of every transition.

use crate::clock::Clock;
use crate::config::Config;
use crate::host::{Host, Notification};
use crate::model::{CallbackId, CallbackRequest, CallbackType, Recording, Source, Window};
use crate::store::{Event, ListFilter, Stats, Store};
use crate::model::Attempt;
use crate::schedule::DayGrid;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// When a person or client asked to be called, before the rules are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Now,
    After(Duration),
    /// A wall-clock time in the request's time zone.
    Local(NaiveDateTime),
    At(DateTime<Utc>),
}

/// A request as a front end received it: nothing validated yet.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub kind: CallbackType,
    pub number: String,
    /// IANA zone of the customer; the queue's zone when absent.
    pub time_zone: Option<String>,
    pub when: Requested,
    pub window: Window,
    /// The configured default queue when absent.
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub remark: Option<String>,
    pub ivr_data: BTreeMap<String, String>,
    pub source: Source,
    pub origin_uuid: Option<String>,
    pub idempotency_key: Option<String>,
    pub recording: Option<Recording>,
    pub tags: BTreeMap<String, String>,
}

/// The whole story of one callback.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub request: CallbackRequest,
    pub events: Vec<Event>,
    pub attempts: Vec<Attempt>,
}

/// Errors of the service, each with a stable code for the API boundary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {field}: {message}")]
    Invalid { field: &'static str, message: String },
}

/// The engine's front door.
pub struct CallbackService {
    store: Arc<dyn Store>,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    host: Arc<dyn Host>,
}

impl CallbackService {
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        host: Arc<dyn Host>,
    ) -> Self {
        Self { store, config, clock, host }
    }

    fn notify(&self, action: &str, r: &CallbackRequest) {
        self.host.emit(&Notification {
            action: action.to_string(),
            callback_id: r.id,
            state: r.state,
            queue: r.queue.clone(),
            kind: r.kind,
            due: r.due_at,
        });
    }

    pub fn request(&self, req: NewRequest) -> Result<(CallbackRequest, crate::store::CreateOutcome), Error> {
        let _ = (req, &self.store, &self.config, &self.clock);
        todo!()
    }
    pub fn get(&self, id: CallbackId) -> Result<CallbackRequest, Error> { let _ = id; todo!() }
    pub fn trace(&self, id: CallbackId) -> Result<Trace, Error> { let _ = id; todo!() }
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<CallbackRequest>, Error> { let _ = filter; todo!() }
    pub fn cancel(&self, id: CallbackId, actor: &str) -> Result<CallbackRequest, Error> { let _ = (id, actor); self.notify("", &self.get(id)?); todo!() }
    pub fn reschedule(&self, id: CallbackId, when: Requested, actor: &str) -> Result<CallbackRequest, Error> { let _ = (id, when, actor); todo!() }
    pub fn call_now(&self, id: CallbackId, actor: &str) -> Result<CallbackRequest, Error> { let _ = (id, actor); todo!() }
    pub fn stats(&self) -> Result<Stats, Error> { todo!() }
    pub fn availability(&self, queue: &str, date: NaiveDate, zone: Option<&str>) -> Result<DayGrid, Error> { let _ = (queue, date, zone); todo!() }
}
