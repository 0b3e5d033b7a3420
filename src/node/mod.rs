//! A running node: everything one callback server runs, started from a configuration, a
//! host and a clock, and stopped in order. The FreeSWITCH module, the demo, the benches and
//! the tests all start one, so the parts are put together in this one place.
//!
//! Start (all or nothing): the store of `db-path` or `db-url`, the recordings directory,
//! the webhook worker, the whisper workers, the service, the dispatcher, the PostgreSQL
//! listener, the REST API. A part whose failure does not stop calls (webhooks, the API's
//! port, the listener, the recordings directory) is one log line, not a failed start.
//!
//! Stop: the REST API first (no request starts work late), the webhooks and the listener,
//! then the dispatcher's loop and ringing legs (nothing dials after that), then the whisper
//! workers (they hold the store); the store itself closes when the last handle of the
//! service is dropped.

mod store;
mod transcription;

use crate::api::HttpServer;
use crate::clock::Clock;
pub use crate::command::Reloaded;
use crate::command::{self, Command, CommandError, Reply};
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::host::Host;
use crate::notice::NoticeWorker;
use crate::service::CallbackService;
use crate::store::{Listener, PgStore, WebhookLog};
use crate::webhook::WebhookWorker;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use transcription::Transcription;

/// Reads and validates the configuration again, for [`Node::reload`]: the configuration
/// and where it came from (for messages), or the one line saying why not.
pub type Reader = Box<dyn Fn() -> Result<(Config, String), String> + Send + Sync>;

/// Why a node did not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(
        "db-path {}: the directory {} does not exist (create it, writable by the server, or \
         set db-path)",
        path.display(),
        dir.display()
    )]
    NoDbDir { path: PathBuf, dir: PathBuf },
    #[error("{location}: cannot open the store: {reason}")]
    Store { location: String, reason: String },
    #[error("cannot start the dispatcher: {0}")]
    Dispatcher(std::io::Error),
    /// `reload` on a node started without a [`Reader`].
    #[error("this node was started without a configuration to read again")]
    NoReader,
    #[error("callback reload refused, the running configuration stays: {0}")]
    Reload(String),
}

/// The parts of a node that stop: each taken out once, by [`Node::stop`].
struct Running {
    http: Option<HttpServer>,
    webhooks: Option<WebhookWorker>,
    /// Customers' confirmations and reminders (`<notices>`); stopped with the webhooks.
    notices: Option<NoticeWorker>,
    listener: Option<Listener>,
    transcription: Transcription,
}

/// A started node. Dropping it stops it.
pub struct Node {
    service: Arc<CallbackService>,
    dispatcher: Arc<Dispatcher>,
    running: Mutex<Running>,
    /// Where the REST API listens (the bound port when `http-listen` asked for port 0).
    http_addr: Option<SocketAddr>,
    /// When the retention purge last ran (the node's clock).
    last_purge: Mutex<Option<DateTime<Utc>>>,
    reader: Option<Reader>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A part that panicked while holding the lock left nothing half-done that stopping
    // would make worse.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Node {
    /// Starts everything the configuration asks for. `reader` reads the configuration again
    /// for [`Node::reload`] (`None`: the node cannot reload).
    pub fn start(
        config: Config,
        host: Arc<dyn Host>,
        clock: Arc<dyn Clock>,
        reader: Option<Reader>,
    ) -> Result<Self, NodeError> {
        store::check_db_dir(&config)?;
        let opened = store::open(&config)?;
        // The numbering plan is decoded on its first use (tens of milliseconds): at start,
        // not inside the first caller's capture or the first client's create.
        crate::number::load_plan();
        // Callbacks work without recordings, so a recordings directory that cannot be made
        // is said once here (and the IVR goes on without recording), not a failed start.
        let rec_dir = &config.settings.recordings_dir;
        if let Err(e) = std::fs::create_dir_all(rec_dir) {
            tracing::error!(
                "recordings-dir {}: {e}; callers will not be recorded until it is writable",
                rec_dir.display()
            );
        }
        let webhooks = start_webhooks(&config, &opened.outbox, &clock);
        // The dispatcher hears of each stored transcript (a callback may wait for it); it is
        // made after the workers, so they reach it through this slot.
        let stored_to: Arc<OnceLock<Weak<Dispatcher>>> = Arc::default();
        let slot = stored_to.clone();
        let on_stored = Box::new(move |id| {
            if let Some(d) = slot.get().and_then(Weak::upgrade) {
                d.transcribed(id);
            }
        });
        let mut transcription = transcription::start(
            &config,
            opened.transcripts,
            host.clone(),
            clock.clone(),
            on_stored,
        );
        let service = CallbackService::new(opened.store, Arc::new(config), clock, host)
            .with_transcription(transcription.link());
        let service = Arc::new(service);
        let dispatcher = Dispatcher::new(service.clone());
        let weak = Arc::downgrade(&dispatcher);
        let _ = stored_to.set(weak.clone());
        service.set_waker(Box::new(move |changed| {
            if let Some(d) = weak.upgrade() {
                d.changed(changed);
            }
        }));
        if let Err(e) = dispatcher.start() {
            // Nothing started may outlive a failed start (a host may unmap our code).
            transcription.stop();
            if let Some(w) = webhooks {
                w.stop();
            }
            return Err(NodeError::Dispatcher(e));
        }
        tracing::info!(
            "dispatcher started: {} agent(s), {} ready",
            dispatcher.agents().list().len(),
            dispatcher.agents().ready()
        );
        let listener = opened.pg.and_then(|pg| listen(&pg, &dispatcher));
        let http = start_http(&service, &dispatcher);
        let notices = start_notices(&service, opened.outbox);
        Ok(Self {
            http_addr: http.as_ref().map(HttpServer::local_addr),
            running: Mutex::new(Running {
                http,
                webhooks,
                notices,
                listener,
                transcription,
            }),
            last_purge: Mutex::new(None),
            service,
            dispatcher,
            reader,
        })
    }

    pub fn service(&self) -> &Arc<CallbackService> {
        &self.service
    }

    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// The host the service uses.
    pub fn host(&self) -> &Arc<dyn Host> {
        self.service.host()
    }

    /// Where the REST API listens; `None` when it is off or its port could not be bound.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// One turn of the host's housekeeping (FreeSWITCH's runtime thread calls it about once
    /// a second): the retention purge once an hour, and the dispatcher's check that the
    /// clock has not stepped past the instant it sleeps until.
    pub fn tick(&self) {
        let now = self.service.now();
        let purge_due = {
            let mut last = lock(&self.last_purge);
            let due = last.is_none_or(|t| now - t >= chrono::Duration::hours(1));
            if due {
                *last = Some(now);
            }
            due
        };
        if purge_due {
            match self.service.purge(None) {
                Ok(_) => {}
                // The database's outage is said where it is found (start, the loops, the
                // callers' errors): here it only means trying again in a minute.
                Err(crate::service::Error::Store(e)) if e.fault().is_some() => {
                    tracing::debug!("retention purge postponed: {e}");
                    *lock(&self.last_purge) = Some(now - chrono::Duration::minutes(59));
                }
                Err(e) => tracing::error!("retention purge: {e}"),
            }
        }
        self.dispatcher.check_clock();
    }

    /// Reads the configuration again and puts it in force: queues, hours, numbers, agents,
    /// staff and roles, IVR profiles, dispatch settings and tag rules. What only a new start
    /// applies is kept as it was and named. A configuration that does not validate changes
    /// nothing.
    pub fn reload(&self) -> Result<Reloaded, NodeError> {
        let reader = self.reader.as_ref().ok_or(NodeError::NoReader)?;
        let (config, source) = reader().map_err(|e| {
            let e = NodeError::Reload(e);
            tracing::error!("{e}");
            e
        })?;
        Ok(self.reconfigure(config, source))
    }

    /// Puts a validated configuration in force (see [`Node::reload`]).
    pub fn reconfigure(&self, config: Config, source: String) -> Reloaded {
        let not_applied = self.service.config().restart_only_changes(&config);
        let config = Arc::new(config);
        self.service.reconfigure(config.clone());
        let (agents_added, agents_removed) = self.dispatcher.reconfigure(&config);
        lock(&self.running)
            .transcription
            .set_rules(config.transcribe.tags.clone());
        let done = Reloaded {
            source,
            queues: config.queues.len(),
            agents: config.agents.len(),
            staff: config.staff.users.len(),
            tag_rules: config.transcribe.tags.len(),
            agents_added,
            agents_removed,
            not_applied,
        };
        tracing::info!(
            "configuration reloaded from {}: {} queue(s), {} agent(s){}",
            done.source,
            done.queues,
            done.agents,
            if done.not_applied.is_empty() {
                String::new()
            } else {
                format!(
                    "; changed but applied only by reloading the module: {}",
                    done.not_applied.join(", ")
                )
            }
        );
        done
    }

    /// Runs one console command: `reload` here, the rest against the service and the
    /// dispatcher ([`command::run`]).
    pub fn command(&self, command: Command) -> Result<Reply, CommandError> {
        match command {
            Command::Reload => self
                .reload()
                .map(Reply::Reloaded)
                .map_err(|e| CommandError::Config(e.to_string())),
            other => command::run(other, &self.service, Some(&self.dispatcher)),
        }
    }

    /// Stops everything the node started, in order, and joins it. The store closes when
    /// the last handle of the service goes (the node's own with the node). Stopping twice
    /// does nothing the second time.
    pub fn stop(&self) {
        let mut running = lock(&self.running);
        // The REST API first (graceful, joined): no request reaches the service after this.
        if let Some(http) = running.http.take() {
            http.stop();
        }
        if let Some(w) = running.webhooks.take() {
            w.stop();
        }
        if let Some(n) = running.notices.take() {
            n.stop();
        }
        if let Some(mut l) = running.listener.take() {
            l.stop();
        }
        // The dispatcher's loop and ringing legs are joined: nothing dials after this.
        self.dispatcher.stop();
        // The workers hold the store too: joined here, before it is closed.
        running.transcription.stop();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// With `db-url`: a connection listening for the other nodes' changes (a callback due, an
/// agent free), nudging this node's dispatcher so it does not wait for its timers. A
/// failure to start is one log line: the timers still find every due callback.
fn listen(pg: &PgStore, dispatcher: &Arc<Dispatcher>) -> Option<Listener> {
    let weak = Arc::downgrade(dispatcher);
    let wake = Box::new(move || {
        if let Some(d) = weak.upgrade() {
            d.nudge();
        }
    });
    pg.listen(wake)
        .map_err(|e| tracing::error!("not listening for other nodes' changes: {e}"))
        .ok()
}

/// The REST API on `http-listen` (none when empty). A port that cannot be bound is one
/// log line, not a failed start: calls and the IVR do not depend on the API.
fn start_http(service: &Arc<CallbackService>, dispatcher: &Arc<Dispatcher>) -> Option<HttpServer> {
    let addr = service.config().api.listen?;
    match HttpServer::start(service.clone(), Some(dispatcher.clone()), addr) {
        Ok(server) => Some(server),
        Err(e) => {
            tracing::error!("http-listen {addr}: {e}; the REST API is off until the next load");
            None
        }
    }
}

/// The notice worker when `<notices>` are configured; a failure to start is one log line.
fn start_notices(
    service: &Arc<CallbackService>,
    outbox: Arc<dyn WebhookLog>,
) -> Option<NoticeWorker> {
    NoticeWorker::start(outbox, service.clone()).unwrap_or_else(|e| {
        tracing::error!("notices not started: {e}");
        None
    })
}

/// The webhook worker when `<webhooks>` are configured; a failure to start is one log line.
fn start_webhooks(
    config: &Config,
    outbox: &Arc<dyn WebhookLog>,
    clock: &Arc<dyn Clock>,
) -> Option<WebhookWorker> {
    let api = &config.api;
    WebhookWorker::start(
        outbox.clone(),
        &config.settings.node_id,
        api.webhooks.clone(),
        api.webhook_retry_delay,
        api.webhook_max_delay,
        clock.clone(),
    )
    .unwrap_or_else(|e| {
        tracing::error!("webhooks not started: {e}");
        None
    })
}
