//! The module's life, in safe Rust: read `callback.conf` through FreeSWITCH, build the
//! `FsHost`, start a core [`Node`] with them; on the runtime thread, once a second, the
//! node's housekeeping turn; stop the node on shutdown.
//!
//! Configuration: `callback.conf` from FreeSWITCH's own XML configuration
//! (`switch_xml_open_cfg`: the conf directory of whatever install this is, `X-PRE-PROCESS`
//! includes and `$${vars}` done, mod_xml_curl asked first when loaded), unless the
//! environment variable `MOD_CALLBACK_CONF` names a file, which then wins. Default
//! directories (database, recordings) are the switch's own (`db_dir`, `recordings_dir`).
//!
//! Unloading: the module is unloadable. `shutdown` stops and joins everything the node
//! started (in the order [`Node::stop`] gives), then drops the node, whose store is closed
//! when the last handle is dropped; the runtime thread is FreeSWITCH's and returns `TERM`,
//! so nothing of ours runs after `dlclose`.

use crate::fshost::{FsHost, Switch};
use callback_core::clock::Clock;
use callback_core::config::{Config, HostDirs};
use callback_core::node::{Node, Reader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The environment variable naming a configuration file, over FreeSWITCH's configuration.
pub const CONF_ENV: &str = "MOD_CALLBACK_CONF";
/// The name of the configuration in FreeSWITCH's XML registry (`autoload_configs/
/// callback.conf.xml` holds `<configuration name="callback.conf">`).
pub const CONF_NAME: &str = "callback.conf";

/// A running module: the node, and the runtime thread's stop signal.
pub struct Module {
    node: Node,
    stopping: Mutex<bool>,
    wake: Condvar,
}

impl Module {
    pub fn node(&self) -> &Node {
        &self.node
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

/// Starts the module: everything or nothing. The error is the one log line to print.
pub fn start<S: Switch + Clone + 'static>(switch: S, clock: Arc<dyn Clock>) -> Result<(), String> {
    let (config, source) =
        read_config(&switch).map_err(|e| format!("mod_callback not loaded: {e}"))?;
    let reader: Reader = {
        let switch = switch.clone();
        Box::new(move || read_config(&switch).map(|(c, s)| (c, s.to_string())))
    };
    if let Some(line) = missing_sounds(&switch) {
        tracing::warn!("{line}");
    }
    let host = Arc::new(FsHost::new(switch));
    let node = Node::start(config, host, clock, Some(reader))
        .map_err(|e| format!("mod_callback not loaded: {e}"))?;
    let module = Arc::new(Module {
        node,
        stopping: Mutex::new(false),
        wake: Condvar::new(),
    });
    let Ok(mut cur) = CURRENT.lock() else {
        // Dropping the module stops the node: nothing started outlives a failed load.
        return Err("mod_callback: state lock poisoned".to_string());
    };
    *cur = Some(module);
    tracing::info!("mod_callback loaded ({source})");
    Ok(())
}

/// One turn of the runtime thread: the node's housekeeping, then a wait (up to a second)
/// for shutdown. Returns `false` when the module is stopping, so the runtime returns `TERM`.
pub fn runtime_turn() -> bool {
    let Some(m) = current() else {
        return false;
    };
    m.node.tick();
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

/// Stops the module: wakes the runtime thread (which then returns `TERM`), stops the node,
/// waits for the runtime thread and any in-flight command to let go of it, and drops it,
/// closing the store.
pub fn stop() {
    let taken = CURRENT.lock().ok().and_then(|mut m| m.take());
    if let Some(m) = taken {
        if let Ok(mut s) = m.stopping.lock() {
            *s = true;
        }
        m.wake.notify_all();
        m.node.stop();
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
