//! callback-core: the host-agnostic engine of mod_callback.
//!
//! Map of the crate (each module a noun, one concept per file):
//! - [`model`]: what a callback *is*: the request and its type, source and lifecycle
//!   [`model::State`] machine, and the [`model::Attempt`] record of every leg.
//! - [`number`]: phone numbers, validated to E.164 with a maintained library, deny-listed prefixes.
//! - [`schedule`]: due-time rules as pure functions of (request, config, now): business
//!   hours, closed dates, the horizon, slots with capacity, DST-safe local times, the
//!   availability grid.
//! - [`retry`]: the retry policy as data, and what happens after each attempt.
//! - [`config`]: `callback.conf.xml` read into plain key/values, then validated with errors
//!   that name the key.
//! - [`store`]: the durable [`store::Store`], split into doors by who uses them (lifecycle
//!   and lease-based claims, agents, do-not-call, reads for reports and the panel,
//!   retention); `store::rules` decides for both backends and holds the doors, written once
//!   over a statement executor each backend implements once (`rules::exec`), and the
//!   schema's migration steps, one list rendered in each dialect (`rules::schema`); the
//!   backends sit side by side and hold only their SQL: SQLite (WAL) and PostgreSQL for
//!   several nodes.
//! - [`transcribe`]: whisper transcription of recordings on bounded worker threads fed by a
//!   durable job queue; audio conversion, tag rules (`intent=billing`), WER.
//! - [`recording`]: the recordings directory: server-made file names, WAV inspection.
//! - [`ivr`]: the turnkey callback IVR as a dialogue over an abstract caller.
//! - [`dispatch`]: at the due time: agents, the decisions without I/O (`plan`), the
//!   scheduler loop that carries them out, the agent leg's preview, the customer leg and
//!   what follows each outcome.
//! - [`answer`]: the customer leg on answer: answering-machine detection (the server's
//!   own, the cadence of the first seconds, a machine's phrases) and the queue's greeting
//!   with its confirmation key, judged before the agent is connected.
//! - [`host`]: the [`host::Host`] trait, all the engine asks of the telephony server.
//! - [`centre`]: contact-centre agents (a queue's `agents-from`): the centre's agent and
//!   tier tables read, and who of them may take a callback now.
//! - [`line`]: holding lines (callers parked by priority slot, then arrival): how many
//!   live callers are ahead of a place in one.
//! - [`clock`]: where time comes from (the system, or a host's virtual clock in tests).
//! - [`when`]: time expressions people type (`+15m`, `tomorrow 09:30`, ISO 8601), read into
//!   the one [`when::Requested`], whose `implied_type` is the type a time implies.
//! - [`access`]: who may see and control a callback, one rule for every door (what a
//!   client created, or what its key or role reaches), and what a create discloses.
//! - [`service`]: the facade every front end (dialplan apps, fs_cli, HTTP) calls.
//! - [`capture`]: a request captured on a call from `key=value` arguments (the dialplan's
//!   building block): its grammar and rules.
//! - [`command`]: the admin console's command (`callback list|show|...`): grammar and
//!   execution, returning typed replies the host words.
//! - [`node`]: a running node, the one composition root: from a configuration, a host and
//!   a clock it starts the store, the workers, the dispatcher and the API, and stops them
//!   in order. The module, the demo, the benches and the tests start one.
//! - [`metrics`]: the Prometheus figures.
//! - [`offer`]: the in-queue offer of a callback to a caller whose estimated wait is long.
//! - [`handover`]: a caller leaving a contact-centre queue or a holding line by its exit
//!   key becomes a callback that keeps the queue, the join time, the caller's name and
//!   listed variables.
//! - [`estimate`]: a waiting callback's place in its queue and estimated wait.
//! - [`api`]: the REST API (axum) over the service: keys, customer tokens, rate limits;
//!   the embeddable callback widget and the customer's manage page.
//! - [`panel`]: the agent panel and operator view (pages + their JSON, staff sessions,
//!   roles, live updates), served beside the REST API.
//! - [`history`]: the recent callbacks with their attempts and the promise each was made.
//! - [`insight`]: supervisors' figures over that history (due per hour, promises kept,
//!   outcomes, lateness, per agent), for the operator view's charts and `/metrics`.
//! - [`report`]: filtered reports (one row per callback and per attempt) as CSV or JSON.
//! - [`background`]: a background thread working in passes, nudged and stopped (the
//!   webhook and notice workers).
//! - [`webhook`]: outbound webhooks: every event POSTed, signed, from the durable outbox.
//! - [`notice`]: confirmations and reminders to customers (e-mail, SMS webhook, signed
//!   webhook) with the manage link, from the same outbox.
//!
//! Nothing here knows FreeSWITCH; the module shell in `plugins/mod_callback` adapts it.
#![forbid(unsafe_code)]

pub mod access;
pub mod answer;
pub mod api;
pub mod background;
pub mod capture;
pub mod centre;
pub mod clock;
pub mod command;
pub mod config;
pub mod dispatch;
pub mod estimate;
pub mod handover;
pub mod history;
pub mod host;
pub mod insight;
pub mod ivr;
pub mod line;
pub mod metrics;
pub mod model;
pub mod node;
pub mod notice;
pub mod number;
pub mod offer;
pub mod panel;
pub mod recording;
pub mod report;
pub mod retry;
pub mod schedule;
pub mod service;
pub mod store;
pub mod transcribe;
pub mod webhook;
pub mod when;
