//! The module's life, in safe Rust: read and validate `callback.conf.xml`, open the store,
//! build the service; on the runtime thread, once a second, the retention purge and the
//! dispatcher's clock watch; stop everything on shutdown.
//!
//! Configuration: `callback.conf` from FreeSWITCH's own XML configuration
//! (`switch_xml_open_cfg`: the conf directory of whatever install this is, `X-PRE-PROCESS`
//! includes and `$${vars}` done, mod_xml_curl asked first when loaded), unless the
//! environment variable `MOD_CALLBACK_CONF` names a file, which then wins. Default
//! directories (database, recordings) are the switch's own (`db_dir`, `recordings_dir`).
//!
//! Unloading: the module is unloadable. `shutdown` stops and joins everything the module
//! started (the transcription workers, joined first; then the service object, whose store
//! is closed when the last handle is dropped; the runtime thread is FreeSWITCH's and
//! returns `TERM`), so nothing of ours runs after `dlclose`.

use crate::fshost::{FsHost, Switch};
use crate::transcription::{self, Transcription};
use callback_core::api::HttpServer;
use callback_core::clock::Clock;
use callback_core::config::{Config, HostDirs};
use callback_core::dispatch::Dispatcher;
use callback_core::host::Host;
use callback_core::service::CallbackService;
use callback_core::store::{Listener, PgStore, SqliteStore, Store, TranscriptStore};
use callback_core::webhook::WebhookWorker;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The environment variable naming a configuration file, over FreeSWITCH's configuration.
pub const CONF_ENV: &str = "MOD_CALLBACK_CONF";
/// The name of the configuration in FreeSWITCH's XML registry (`autoload_configs/
/// callback.conf.xml` holds `<configuration name="callback.conf">`).
pub const CONF_NAME: &str = "callback.conf";

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
    /// Reads the configuration again (`callback reload`), from where the load read it.
    reader: Reader,
}

/// Reads and validates the configuration; the error is the line to say.
type Reader = Box<dyn Fn() -> Result<(Config, ConfSource), String> + Send + Sync>;

/// What `callback reload` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub source: String,
    pub queues: usize,
    pub agents: usize,
    pub staff: usize,
    pub tag_rules: usize,
    pub agents_added: Vec<String>,
    pub agents_removed: Vec<String>,
    /// Changed settings that only a new load applies (still as before).
    pub not_applied: Vec<&'static str>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfSource {
    /// `MOD_CALLBACK_CONF`: this file.
    File(PathBuf),
    /// FreeSWITCH's configuration, `<configuration name="callback.conf">`.
    Switch,
}

impl std::fmt::Display for ConfSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{} ({CONF_ENV})", p.display()),
            Self::Switch => write!(f, "{CONF_NAME} from FreeSWITCH's configuration"),
        }
    }
}

/// Where the configuration is read from: the file `MOD_CALLBACK_CONF` names, else the
/// switch's configuration.
pub fn conf_source() -> ConfSource {
    std::env::var_os(CONF_ENV)
        .filter(|p| !p.is_empty())
        .map(|p| ConfSource::File(PathBuf::from(p)))
        .unwrap_or(ConfSource::Switch)
}

/// The switch's directories for the configuration's defaults.
pub fn host_dirs(switch: &impl Switch) -> HostDirs {
    let fallback = HostDirs::default();
    HostDirs {
        db: switch.global("db_dir").map_or(fallback.db, PathBuf::from),
        recordings: switch
            .global("recordings_dir")
            .map_or(fallback.recordings, PathBuf::from),
    }
}

/// Reads and validates the configuration. The error is the one line to log.
pub fn read_config(switch: &impl Switch) -> Result<(Config, ConfSource), String> {
    let source = conf_source();
    let dirs = host_dirs(switch);
    let config = match &source {
        ConfSource::File(path) => Config::load_file_in(path, &dirs).map_err(|e| e.to_string()),
        ConfSource::Switch => switch.config_xml(CONF_NAME).and_then(|text| {
            Config::from_xml_in(&text, &dirs).map_err(|e| format!("{CONF_NAME}: {e}"))
        }),
    }?;
    Ok((config, source))
}

/// The stock sounds the read-back says numbers, dates and times with (`say` plays
/// `digits/*.wav` and `time/*.wav` under the language's sound prefix, vars.xml's
/// `sound_prefix`, stock `$${sounds_dir}/en/us/callie`). Missing, every read-back is a
/// dozen "Can't open file" lines: said once here instead. `None` when they are there.
pub fn missing_sounds(switch: &impl Switch) -> Option<String> {
    let prefix = switch
        .global("sound_prefix")
        .map(PathBuf::from)
        .or_else(|| {
            switch
                .global("sounds_dir")
                .map(|d| Path::new(&d).join("en/us/callie"))
        })?;
    let missing: Vec<&str> = ["digits", "time"]
        .into_iter()
        .filter(|d| !prefix.join(d).is_dir())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "the IVR's read-back needs FreeSWITCH's sounds, and {} has no {}/: install them \
             (Debian: apt install freeswitch-sounds-en-us-callie; source install: make \
             cd-sounds-install) or set sound_prefix in vars.xml to where they are",
            prefix.display(),
            missing.join("/ or ")
        )
    })
}

/// A database file whose directory does not exist can never be opened: that is a mistake
/// in the configuration, said at load, not an outage to wait out.
fn check_db_dir(config: &Config) -> Result<(), String> {
    if config.settings.db_url.is_some() {
        return Ok(());
    }
    let path = &config.settings.db_path;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "mod_callback not loaded: db-path {}: the directory {} does not exist (create it, \
             writable by FreeSWITCH, or set db-path)",
            path.display(),
            dir.display()
        ))
    }
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
        Some(url) => PgStore::open_tls(url.expose(), config.settings.db_ca_file.as_deref())
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
pub fn start<S: Switch + Clone + 'static>(switch: S, clock: Arc<dyn Clock>) -> Result<(), String> {
    let (config, source) =
        read_config(&switch).map_err(|e| format!("mod_callback not loaded: {e}"))?;
    let reader: Reader = {
        let switch = switch.clone();
        Box::new(move || read_config(&switch))
    };
    check_db_dir(&config)?;
    if let Some(line) = missing_sounds(&switch) {
        tracing::warn!("{line}");
    }
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
        reader,
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
    tracing::info!("mod_callback loaded ({source})");
    Ok(())
}

/// `callback reload`: reads the configuration again and puts it in force without
/// unloading — queues, hours, numbers, agents, staff and roles, IVR profiles, dispatch
/// settings and tag rules. What only a new load applies is kept as it was and named. A new
/// configuration that does not validate changes nothing; the error is the one line to say.
pub fn reload() -> Result<Reloaded, String> {
    let m = current().ok_or_else(|| "mod_callback is not running".to_string())?;
    let (config, source) = (m.reader)().map_err(|e| {
        let line = format!("callback reload refused, the running configuration stays: {e}");
        tracing::error!("{line}");
        line
    })?;
    let old = m.service.config();
    let not_applied = old.restart_only_changes(&config);
    let config = Arc::new(config);
    m.service.reconfigure(config.clone());
    let (agents_added, agents_removed) = m.dispatcher.reconfigure(&config);
    m.transcription
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .set_rules(config.transcribe.tags.clone());
    let done = Reloaded {
        source: source.to_string(),
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
    Ok(done)
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
