//! The module's life, in safe Rust: read and validate `callback.conf.xml`, open the store,
//! build the service; on the runtime thread, once a second, the retention purge and the
//! dispatcher's clock watch; stop everything on shutdown.
//!
//! Configuration path: the environment variable `MOD_CALLBACK_CONF` if set, else
//! [`DEFAULT_CONF`] (FreeSWITCH's conf directory is not reachable through the functions the
//! module binds).
//!
//! Unloading: the module is unloadable. `shutdown` stops and joins everything the module
//! started (the transcription workers, joined first; then the service object, whose store
//! is closed when the last handle is dropped; the runtime thread is FreeSWITCH's and
//! returns `TERM`), so nothing of ours runs after `dlclose`.

use crate::fshost::{FsHost, Switch};
use crate::transcription::{self, Transcription};
use callback_core::api::HttpServer;
use callback_core::clock::Clock;
use callback_core::config::Config;
use callback_core::dispatch::Dispatcher;
use callback_core::host::Host;
use callback_core::service::CallbackService;
use callback_core::store::{Listener, PgStore, SqliteStore, Store, TranscriptStore};
use callback_core::webhook::WebhookWorker;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The environment variable naming the configuration file.
pub const CONF_ENV: &str = "MOD_CALLBACK_CONF";
/// The configuration file when [`CONF_ENV`] is not set.
pub const DEFAULT_CONF: &str = "/etc/freeswitch/autoload_configs/callback.conf.xml";

/// A running module.
pub struct Module {
    service: Arc<CallbackService>,
    host: Arc<dyn Host>,
    stopping: Mutex<bool>,
    wake: Condvar,
    /// The whisper workers; stopped before the service lets go of the store.
    transcription: Mutex<Transcription>,
    /// Rings agents at the due time; stopped before the store closes.
    dispatcher: Arc<Dispatcher>,
    /// The REST API server (`http-listen`); stopped first, so no request starts work late.
    http: Mutex<Option<HttpServer>>,
    /// Delivers events to `<webhooks>` from the store's outbox; stopped with the API.
    webhooks: Mutex<Option<WebhookWorker>>,
    /// When the retention purge last ran (host clock).
    last_purge: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// With `db-url`: the other nodes' notifications, nudging this node's dispatcher.
    listener: Mutex<Option<Listener>>,
}

impl Module {
    pub fn service(&self) -> &CallbackService {
        &self.service
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// The host the service uses (for the debug-build probe).
    pub fn host(&self) -> &dyn Host {
        self.host.as_ref()
    }
}

static CURRENT: Mutex<Option<Arc<Module>>> = Mutex::new(None);

/// The running module, if loaded.
pub fn current() -> Option<Arc<Module>> {
    CURRENT.lock().ok().and_then(|m| m.clone())
}

/// Where the configuration is read from.
pub fn conf_path() -> PathBuf {
    std::env::var_os(CONF_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONF))
}

/// The stores the configuration names, one database seen through the traits the parts
/// need: the PostgreSQL server of `db-url` (shared by several nodes), else the SQLite file
/// of `db-path`. The SQLite store comes back a third time for what only it implements so
/// far: the webhook outbox.
struct Opened {
    store: Arc<dyn Store>,
    transcripts: Arc<dyn TranscriptStore>,
    sqlite: Option<Arc<SqliteStore>>,
    pg: Option<Arc<PgStore>>,
}

fn open_store(config: &Config) -> Result<Opened, String> {
    match &config.settings.db_url {
        Some(url) => PgStore::open(url.expose())
            .map(|s| {
                let s = Arc::new(s.for_node(&config.settings.node_id));
                Opened {
                    store: s.clone(),
                    transcripts: s.clone(),
                    sqlite: None,
                    pg: Some(s),
                }
            })
            .map_err(|e| e.to_string()),
        None => {
            // A fault of the database's disk (read-only, full, locked) does not stop the
            // load: it is said once, callers hear the apology prompt and the API answers
            // 503 until it is fixed, and every use tries again, so no reload is needed.
            let (store, fault) = SqliteStore::open_or_later(
                &config.settings.db_path,
                Some(config.settings.db_cache_kib),
            )
            .map_err(|e| e.to_string())?;
            if let Some(e) = fault {
                tracing::error!(
                    "{}: the store is unavailable: {e}; callback requests are refused until \
                     it is fixed (no reload needed)",
                    config.settings.db_path.display()
                );
            }
            let s = Arc::new(store);
            Ok(Opened {
                store: s.clone(),
                transcripts: s.clone(),
                sqlite: Some(s),
                pg: None,
            })
        }
    }
}

/// Where the store is, for messages (the password of a `db-url` hidden).
fn store_location(config: &Config) -> String {
    match &config.settings.db_url {
        Some(url) => url.to_string(),
        None => config.settings.db_path.display().to_string(),
    }
}

/// Starts the module: everything or nothing. The error is the one log line to print.
pub fn start<S: Switch + 'static>(switch: S, clock: Arc<dyn Clock>) -> Result<(), String> {
    let path = conf_path();
    let config = Config::load_file(&path).map_err(|e| format!("mod_callback not loaded: {e}"))?;
    let Opened {
        store,
        transcripts,
        sqlite,
        pg,
    } = open_store(&config).map_err(|e| {
        format!(
            "mod_callback not loaded: {}: cannot open the store: {e}",
            store_location(&config)
        )
    })?;
    if sqlite.is_none() {
        tracing::info!(
            "store: PostgreSQL at {} (db-url); db-path is not used",
            store_location(&config)
        );
    }
    // Callbacks work without recordings, so a recordings directory that cannot be made is
    // said once here (and the IVR goes on without recording), not a failed load.
    let rec_dir = &config.settings.recordings_dir;
    if let Err(e) = std::fs::create_dir_all(rec_dir) {
        tracing::error!(
            "recordings-dir {}: {e}; callers will not be recorded until it is writable",
            rec_dir.display()
        );
    }
    let webhooks = match &sqlite {
        Some(s) => start_webhooks(&config, s, &clock),
        None => {
            if !config.api.webhooks.is_empty() {
                tracing::error!(
                    "webhooks are off: with db-url (PostgreSQL) the webhook outbox is not \
                     implemented yet; use db-path (SQLite) for webhooks"
                );
            }
            None
        }
    };
    let host: Arc<dyn Host> = Arc::new(FsHost::new(switch));
    let mut transcription = transcription::start(&config, transcripts, host.clone(), clock.clone());
    let service = CallbackService::new(store, Arc::new(config), clock, host.clone())
        .with_transcription(transcription.link());
    let service = Arc::new(service);
    let dispatcher = Dispatcher::new(service.clone());
    let weak = Arc::downgrade(&dispatcher);
    service.set_waker(Box::new(move || {
        if let Some(d) = weak.upgrade() {
            d.nudge();
        }
    }));
    if let Err(e) = dispatcher.start() {
        // Nothing started may outlive a failed load (FreeSWITCH unmaps the library).
        transcription.stop();
        return Err(format!(
            "mod_callback not loaded: cannot start the dispatcher: {e}"
        ));
    }
    let agents = dispatcher.agents().list();
    tracing::info!(
        "dispatcher started: {} agent(s), {} ready",
        agents.len(),
        dispatcher.agents().ready()
    );
    let listener = pg.and_then(|pg| listen(&pg, &dispatcher));
    let http = start_http(&service, &dispatcher);
    let module = Arc::new(Module {
        listener: Mutex::new(listener),
        last_purge: Mutex::new(None),
        http: Mutex::new(http),
        webhooks: Mutex::new(webhooks),
        dispatcher,
        service,
        host,
        stopping: Mutex::new(false),
        wake: Condvar::new(),
        transcription: Mutex::new(transcription),
    });
    let Ok(mut cur) = CURRENT.lock() else {
        module.dispatcher.stop();
        module
            .transcription
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stop();
        return Err("mod_callback: state lock poisoned".to_string());
    };
    *cur = Some(module);
    tracing::info!("mod_callback loaded ({})", path.display());
    Ok(())
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
/// log line, not a failed load: calls and the IVR do not depend on the API.
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

/// The webhook worker when `<webhooks>` are configured; a failure to start is one log line.
fn start_webhooks(
    config: &Config,
    store: &Arc<SqliteStore>,
    clock: &Arc<dyn Clock>,
) -> Option<WebhookWorker> {
    let api = &config.api;
    WebhookWorker::start(
        store.clone(),
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

/// One turn of the runtime thread: waits (up to a second) for work or shutdown. Returns
/// `false` when the module is stopping, so the runtime returns `TERM`.
pub fn runtime_turn() -> bool {
    let Some(m) = current() else {
        return false;
    };
    // Retention: recordings and transcripts of long-finished callbacks, once an hour.
    {
        let now = m.service.now();
        let mut last = m
            .last_purge
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_none_or(|t| now - t >= chrono::Duration::hours(1)) {
            *last = Some(now);
            drop(last);
            match m.service.purge(None) {
                Ok(_) => {}
                // The database's outage is said where it is found (load, the loops, the
                // callers' errors): here it only means trying again in a minute.
                Err(callback_core::service::Error::Store(e)) if e.fault().is_some() => {
                    tracing::debug!("retention purge postponed: {e}");
                    if let Ok(mut last) = m.last_purge.lock() {
                        *last = Some(now - chrono::Duration::minutes(59));
                    }
                }
                Err(e) => tracing::error!("retention purge: {e}"),
            }
        }
    }
    // The host's clock may have stepped past the instant the dispatcher sleeps until.
    m.dispatcher.check_clock();
    let Ok(stopping) = m.stopping.lock() else {
        return false;
    };
    if *stopping {
        return false;
    }
    let go_on = match m.wake.wait_timeout(stopping, Duration::from_secs(1)) {
        Ok((s, _)) => !*s,
        Err(_) => false,
    };
    go_on
}

/// Stops the module: wakes the runtime thread (which then returns `TERM`), waits for it and
/// any in-flight command to let go of the service, and drops it, closing the store.
pub fn stop() {
    let taken = CURRENT.lock().ok().and_then(|mut m| m.take());
    if let Some(m) = taken {
        if let Ok(mut s) = m.stopping.lock() {
            *s = true;
        }
        m.wake.notify_all();
        // The REST API first (graceful, joined): no request reaches the service after this.
        if let Some(http) = m
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            http.stop();
        }
        if let Some(w) = m
            .webhooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            w.stop();
        }
        if let Some(mut l) = m
            .listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            l.stop();
        }
        // The dispatcher's loop and ringing legs are joined first: nothing dials after this.
        m.dispatcher.stop();
        // The workers hold the store too: joined here, before it is closed below.
        m.transcription
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stop();
        // Wait (bounded) until the runtime thread and in-flight commands let go, so the
        // service and its store are closed here, before shutdown returns.
        let mut m = m;
        for _ in 0..500 {
            match Arc::try_unwrap(m) {
                Ok(last) => {
                    drop(last);
                    tracing::info!("mod_callback stopped");
                    return;
                }
                Err(still_shared) => {
                    m = still_shared;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        tracing::warn!("mod_callback stopped; a command still held the service after 5 s");
    }
}
