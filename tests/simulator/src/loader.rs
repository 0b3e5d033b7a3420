//! Loading mod_callback.so the way FreeSWITCH's `switch_loadable_module_load_file` does:
//! `dlopen(path, RTLD_NOW | RTLD_LOCAL)`, the data symbol `<file name up to the first
//! dot>_module_interface`, the API-version check ("out of date module"), `load`, then the
//! runtime function in a loop on its own thread until it returns `TERM`; on unload
//! `shutdown`, join the runtime thread, `dlclose`.

use crate::exports;
use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use mod_callback::ffi::types::*;
use std::path::{Path, PathBuf};
use std::ptr;
use std::thread::JoinHandle;

/// A loaded module.
pub struct Loaded {
    lib: Option<Library>,
    shutdown: Option<NoArgFn>,
    runtime: Option<JoinHandle<()>>,
    pub name: String,
    pub applications: Vec<String>,
    pub api_commands: Vec<String>,
    /// `load` returned `SWITCH_STATUS_NOUNLOAD`: FreeSWITCH refuses to unload it.
    pub permanent: bool,
    /// A scratch directory (configuration, database) removed after unload.
    pub scratch: Option<PathBuf>,
}

/// Loads a module file. The error is what FreeSWITCH would log.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let _ = exports::keep_exports();
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or("bad module path")?;
    let name = file.split('.').next().unwrap_or(file).to_string();
    // SAFETY: loading a library runs its initialisers; mod_callback's are Rust's own.
    let lib = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|e| format!("Error Loading module {}\n**{e}**", path.display()))?;
    let symbol = format!("{name}_module_interface");
    // SAFETY: the symbol is a data object of type `switch_loadable_module_function_table_t`;
    // we take its address only.
    let table: *const ModuleFunctionTable = unsafe {
        lib.get::<*const ModuleFunctionTable>(symbol.as_bytes())
            .map(|s| *s)
            .map_err(|_| format!("Invalid module: no {symbol}"))?
    };
    // SAFETY: the address of the table inside the open library.
    let t = unsafe { &*table };
    if t.switch_api_version != SWITCH_API_VERSION {
        return Err(format!(
            "Trying to load an out of date module, please rebuild the module ({file})"
        ));
    }
    let load = t.load.ok_or("module has no load function")?;
    let mut mi: *mut LoadableModuleInterface = ptr::null_mut();
    let pool = ptr::NonNull::<u8>::dangling().as_ptr().cast::<MemoryPool>();
    // SAFETY: the module's load with a valid out-pointer and an (opaque, never dereferenced
    // by the module) pool pointer, as the core passes them.
    let status = unsafe { load(&mut mi, pool) };
    if status != SWITCH_STATUS_SUCCESS && status != SWITCH_STATUS_NOUNLOAD {
        return Err(format!(
            "Error Loading module {}: load returned {status}",
            path.display()
        ));
    }
    if mi.is_null() {
        return Err(format!("Module {name} did not return a module interface"));
    }
    // SAFETY: `mi` came from our switch_loadable_module_create_module_interface.
    let (_, applications, api_commands) =
        unsafe { exports::registered(mi) }.ok_or("module interface unreadable")?;
    let runtime = t.runtime.map(|run| {
        std::thread::spawn(move || loop {
            // SAFETY: the module's runtime function, valid while the library is open
            // (unload joins this thread before closing it).
            if unsafe { run() } == SWITCH_STATUS_TERM {
                break;
            }
        })
    });
    Ok(Loaded {
        lib: Some(lib),
        shutdown: t.shutdown,
        runtime,
        name,
        applications,
        api_commands,
        permanent: status == SWITCH_STATUS_NOUNLOAD,
        scratch: None,
    })
}

impl Loaded {
    /// Unloads: `shutdown`, join the runtime thread, forget the interfaces, `dlclose`.
    /// Returns the shutdown status.
    pub fn unload(mut self) -> SwitchStatus {
        self.do_unload()
    }

    fn do_unload(&mut self) -> SwitchStatus {
        let Some(lib) = self.lib.take() else {
            return SWITCH_STATUS_SUCCESS;
        };
        let status = match self.shutdown {
            // SAFETY: the module's shutdown, library still open.
            Some(f) => unsafe { f() },
            None => SWITCH_STATUS_SUCCESS,
        };
        if let Some(t) = self.runtime.take() {
            let _ = t.join();
        }
        crate::core::Sim::settle();
        exports::unregister(&self.applications, &self.api_commands);
        if !self.permanent {
            let _ = lib.close();
        } else {
            std::mem::forget(lib);
        }
        if let Some(dir) = self.scratch.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        status
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        self.do_unload();
    }
}

/// Finds the built `libmod_callback.so` (newest of target/{debug,release}[/deps]), or
/// `MOD_CALLBACK_SO`; builds it with cargo when there is none. Then installs it as
/// FreeSWITCH would, under the name `mod_callback.so`, in a directory of its own.
/// Builds the release `mod_callback.so` (as a production install would use) and makes
/// [`find_module`] load it: for benchmarks.
pub fn use_release_module() {
    let root = crate::scenario::repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = std::process::Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "-p", "mod_callback"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "cannot build mod_callback (release)");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    std::env::set_var(
        "MOD_CALLBACK_SO",
        target.join("release").join("libmod_callback.so"),
    );
}

pub fn find_module() -> Result<PathBuf, String> {
    // Once per process, and atomically (copy, then rename): a test that maps a half-copied
    // file dies of SIGBUS.
    static INSTALLED: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(install_module).clone()
}

fn install_module() -> Result<PathBuf, String> {
    let built = match std::env::var_os("MOD_CALLBACK_SO") {
        Some(p) => PathBuf::from(p),
        None => match newest_built() {
            Some(p) => p,
            None => {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let ok = std::process::Command::new(cargo)
                    .args(["build", "-p", "mod_callback"])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if !ok {
                    return Err("cannot build mod_callback".into());
                }
                newest_built().ok_or("libmod_callback.so not found after building it")?
            }
        },
    };
    remove_stale_installs();
    let dir = std::env::temp_dir().join(format!("callback-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let installed = dir.join("mod_callback.so");
    let partial = dir.join("mod_callback.so.partial");
    std::fs::copy(&built, &partial).map_err(|e| format!("install {}: {e}", built.display()))?;
    std::fs::rename(&partial, &installed)
        .map_err(|e| format!("install {}: {e}", installed.display()))?;
    Ok(installed)
}

/// Removes the install directories of simulator processes that have ended (each holds a
/// copy of the .so).
fn remove_stale_installs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("callback-sim-") else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn newest_built() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut candidates = Vec::new();
    for dir in exe.ancestors().skip(1).take(4) {
        for sub in ["", "deps"] {
            let p = dir.join(sub).join("libmod_callback.so");
            if let Ok(m) = p.metadata().and_then(|m| m.modified()) {
                candidates.push((m, p));
            }
        }
    }
    candidates.sort();
    candidates.pop().map(|(_, p)| p)
}
