//! Disk and database faults (issue #9, item 4), on real file systems, with the real
//! mod_callback.so in the simulator: the database on a small tmpfs this test mounts, made
//! full by a filler file (ENOSPC, SQLITE_FULL), read-only by `mount -o remount,ro`, or locked
//! by another process holding `BEGIN EXCLUSIVE` past the store's 5 s busy timeout. For each:
//! the IVR caller hears the apology and the app returns to the dialplan with
//! `callback_result=ERR` and a `callback_error` naming the fault; `callback_capture` sets the
//! same; the REST API answers 503 with the fault's code; fs_cli answers one `-ERR` line; the
//! log says it once per failure; nothing is half-written (no row, no trace, no orphaned
//! recording); and once the fault is gone the next caller is stored without reloading the
//! module, and what was stored before is intact (`PRAGMA integrity_check`, counts).
//!
//! Mounting needs root (CAP_SYS_ADMIN). Without it these tests say so and pass, except
//! under `CI=true`, where they fail: a CI that cannot run them must not look green.

use callback_simulator::loader::Loaded;
use callback_simulator::scenario::{load_with_config, repo_root};
use callback_simulator::{Act, Sim};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const KEY: &str = "staff-secret-0123456789";

/// A tmpfs mounted for one test, unmounted (lazily if still busy) on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `kib` KiB, or explains why it cannot (and fails under CI).
    fn mount(name: &str, kib: u32) -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("callback-faults-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { dir }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                let _ = std::fs::remove_dir(&dir);
                let msg = format!(
                    "the fault tests need to mount a tmpfs (root / CAP_SYS_ADMIN): \
                     `mount -t tmpfs` failed: {why}"
                );
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("{msg}");
                }
                eprintln!("SKIPPED: {msg}");
                None
            }
        }
    }

    fn remount(&self, mode: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "remount,{mode} {}: {}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Fills the file system to the last byte; returns the filler.
    fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).expect("the filler");
        let block = vec![0x5a_u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        // The last partial block, byte by byte.
        while let Ok(1) = f.write(&[0x5a]) {}
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("mount")
                .args(["-o", "remount,rw"])
                .arg(&self.dir)
                .status();
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The IVR configuration with the database in `db_dir`, the REST API on a free port and a
/// staff key.
fn config(db_dir: &Path) -> PathBuf {
    config_with(db_dir, None)
}

/// [`config`] with the recordings in `rec_dir` instead of the scratch directory.
fn config_with(db_dir: &Path, rec_dir: Option<&Path>) -> PathBuf {
    let mut text =
        std::fs::read_to_string(repo_root().join("fixtures/config/ivr.conf.xml")).unwrap();
    if let Some(rec) = rec_dir {
        text = text.replace("@TMP@/recordings", &rec.display().to_string());
    }
    let text = text
        .replace(
            "@TMP@/callback.db",
            &db_dir.join("callback.db").display().to_string(),
        )
        .replace(
            r#"<param name="http-listen" value=""/>"#,
            r#"<param name="http-listen" value="127.0.0.1:0"/>"#,
        )
        .replace(
            "</configuration>",
            &format!(
                r#"<api-keys><key name="crm"><param name="secret" value="{KEY}"/>
               <param name="scope" value="staff"/></key></api-keys></configuration>"#
            ),
        );
    let path = db_dir.parent().unwrap().join(format!(
        "faults-{}.conf.xml",
        db_dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

struct Running {
    sim: Sim,
    module: Option<Loaded>,
    base: String,
}

impl Running {
    fn start(sim: Sim, conf: &Path) -> Self {
        let module = load_with_config(conf).unwrap_or_else(|e| panic!("load failed: {e}"));
        let base = sim
            .logs()
            .iter()
            .rev()
            .find(|l| l.text.contains("REST API listening on"))
            .and_then(|l| {
                l.text
                    .rsplit(' ')
                    .next()
                    .map(|a| format!("http://{}", a.trim()))
            })
            .unwrap_or_else(|| panic!("no REST API: {:#?}", sim.logs()));
        Self {
            sim,
            module: Some(module),
            base,
        }
    }

    fn recordings(&self) -> PathBuf {
        self.module
            .as_ref()
            .and_then(|m| m.scratch.clone())
            .expect("a scratch dir")
            .join("recordings")
    }

    /// A caller through `callback_ivr quick`: keys 1, speaks. Returns the call.
    fn ivr(&self, number: &str) -> String {
        let call = self.sim.new_call(number);
        self.sim.act(&call, Act::Press("1".into()));
        self.sim.act(
            &call,
            Act::Speak(repo_root().join("fixtures/speech/john.wav")),
        );
        assert!(self.sim.execute(&call, "callback_ivr", "quick"));
        call
    }

    fn capture(&self, number: &str) -> String {
        let call = self.sim.new_call(number);
        self.sim
            .execute(&call, "callback_capture", "type=immediate");
        call
    }

    fn var(&self, call: &str, name: &str) -> String {
        self.sim.var(call, name).unwrap_or_default()
    }

    fn played(&self, call: &str) -> Vec<String> {
        self.sim
            .session(call)
            .unwrap()
            .apps
            .lock()
            .unwrap()
            .iter()
            .filter(|(app, _)| app == "playback")
            .map(|(_, arg)| arg.clone())
            .collect()
    }

    /// `POST /v1/callbacks`: status and JSON body.
    fn http_create(&self, number: &str) -> (u16, Value) {
        let r = ureq::post(&format!("{}/v1/callbacks", self.base))
            .set("Authorization", &format!("Bearer {KEY}"))
            .send_string(&format!(r#"{{"number": "{number}", "remark": "web"}}"#));
        match r {
            Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or_default()),
            Err(e) => panic!("HTTP: {e}"),
        }
    }

    fn error_lines(&self, with: &str) -> Vec<String> {
        self.sim
            .logs()
            .into_iter()
            .filter(|l| l.level <= 3 && l.text.contains(with))
            .map(|l| l.text)
            .collect()
    }

    fn unload(&mut self) {
        if let Some(mut m) = self.module.take() {
            // Keep the scratch directory (recordings) for the checks after unload.
            let scratch = m.scratch.take();
            drop(m);
            if let Some(s) = scratch {
                let _ = std::fs::remove_dir_all(s);
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.unload();
    }
}

fn wavs(dir: &Path) -> usize {
    fn walk(d: &Path, n: &mut usize) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, n);
            } else if p.extension().is_some_and(|x| x == "wav") {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(dir, &mut n);
    n
}

/// The stored callbacks' count through the module (the test's own SQLite must not open the
/// file while the module's has it open: their POSIX locks would release each other's).
fn stored(sim: &Sim) -> usize {
    let reply: Value = serde_json::from_str(&sim.api("callback json list")).unwrap();
    reply["callbacks"].as_array().map_or(0, Vec::len)
}

/// After unload: integrity, and every callback stored whole (its row and its trace).
fn check_database(db: &Path, callbacks: usize) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM callbacks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, callbacks as i64, "callbacks stored");
    let untraced: i64 = conn
        .query_row(
            "SELECT count(*) FROM callbacks c WHERE NOT EXISTS \
             (SELECT 1 FROM events e WHERE e.callback_id = c.id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(untraced, 0, "a callback without its trace");
}

/// Everything a failure must look like while the fault lasts. `words` is what
/// `callback_error` and the log must say, `code` the API's error code.
fn refused_everywhere(r: &Running, words: &str, code: &str, known_id: &str) {
    let before = r.sim.logs().len();
    let wavs_before = wavs(&r.recordings());

    // The IVR: apology, ERR naming the fault, back to the dialplan (the call is up), the
    // recording removed.
    let call = r.ivr("+12125550177");
    assert_eq!(r.var(&call, "callback_result"), "ERR");
    let error = r.var(&call, "callback_error");
    assert!(error.contains(words), "callback_error: {error}");
    assert_eq!(
        r.played(&call).last().map(String::as_str),
        Some("callback/error.wav")
    );
    assert!(r.sim.session(&call).unwrap().ready(), "the IVR hung up");
    assert!(r.sim.execute(&call, "playback", "next-in-dialplan.wav"));
    assert_eq!(
        wavs(&r.recordings()),
        wavs_before,
        "a recording was left behind"
    );

    // callback_capture.
    let call = r.capture("+12125550178");
    assert_eq!(r.var(&call, "callback_result"), "ERR");
    assert!(r.var(&call, "callback_error").contains(words));
    assert_eq!(r.var(&call, "callback_id"), "");

    // The REST API: 503, the fault's code, a message that names it, no database words.
    let (status, body) = r.http_create("+12125550179");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{message}");
    assert!(!message.contains("callback.db"), "{message}");

    // fs_cli: one -ERR line.
    let reply = r.sim.api(&format!("callback cancel {known_id}"));
    assert!(reply.starts_with(&format!("-ERR {code}: ")), "{reply}");
    assert!(reply.contains(words), "{reply}");
    assert_eq!(reply.trim_end().lines().count(), 1, "{reply}");

    // The log: once per failure (IVR, capture, HTTP, command), naming the fault, as an
    // error; and not again at another level.
    let logs = r.sim.logs();
    let naming: Vec<_> = logs[before..]
        .iter()
        .filter(|l| l.text.contains(words))
        .collect();
    assert!(naming.iter().all(|l| l.level <= 3), "{naming:#?}");
    let logged: Vec<String> = naming.iter().map(|l| l.text.clone()).collect();
    for who in [
        "callback_ivr:",
        "callback_capture:",
        "http:",
        "callback command:",
    ] {
        let n = logged.iter().filter(|t| t.contains(who)).count();
        assert_eq!(n, 1, "{who} said {n} times: {logged:#?}");
    }
}

fn sim() -> Sim {
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
}

#[test]
fn a_full_disk_is_refused_cleanly_and_recovers_when_space_is_freed() {
    // The database's file system fills up (ENOSPC, SQLITE_FULL) while the module runs.
    let Some(fs) = Tmpfs::mount("full", 2048) else {
        return;
    };
    let conf = config(&fs.dir);
    let mut r = Running::start(sim(), &conf);
    let a = r.ivr("+12125550101");
    assert_eq!(r.var(&a, "callback_result"), "OK");
    let a_id = r.var(&a, "callback_id");
    assert_eq!(r.http_create("+12125550102").0, 201);

    let filler = fs.fill();
    refused_everywhere(&r, "the database is full", "database-full", &a_id);
    assert_eq!(stored(&r.sim), 2, "nothing half-written");

    std::fs::remove_file(&filler).unwrap();
    let c = r.ivr("+12125550103");
    assert_eq!(
        r.var(&c, "callback_result"),
        "OK",
        "{}",
        r.var(&c, "callback_error")
    );
    assert_eq!(r.http_create("+12125550104").0, 201);
    assert!(r
        .sim
        .api(&format!("callback cancel {a_id}"))
        .starts_with("+OK"));
    assert_eq!(stored(&r.sim), 4);
    r.unload();
    check_database(&fs.dir.join("callback.db"), 4);
    let _ = std::fs::remove_file(conf);
}

#[test]
fn a_read_only_database_is_refused_cleanly_and_recovers_without_a_reload() {
    // The database's file system is read-only when the module loads (Linux refuses to
    // remount a file system read-only while a file on it is open for writing, so a store
    // in use cannot be made read-only under it): the module loads, says so once, refuses
    // every request; remounted read-write, the next caller is stored by the same module.
    let Some(fs) = Tmpfs::mount("ro", 8192) else {
        return;
    };
    let conf = config(&fs.dir);
    let mut r = Running::start(sim(), &conf);
    let a = r.ivr("+12125550111");
    let a_id = r.var(&a, "callback_id");
    assert!(!a_id.is_empty());
    assert_eq!(r.http_create("+12125550112").0, 201);
    r.unload();
    drop(r);

    fs.remount("ro");
    let mut r = Running::start(sim(), &conf);
    let said = r.error_lines("the database is read-only");
    assert_eq!(said.len(), 1, "{said:#?}");
    assert!(said[0].contains("no reload needed"), "{}", said[0]);
    refused_everywhere(&r, "the database is read-only", "database-read-only", &a_id);
    let list = r.sim.api("callback list");
    assert!(list.starts_with("-ERR database-read-only"), "{list}");

    fs.remount("rw");
    let c = r.ivr("+12125550113");
    assert_eq!(
        r.var(&c, "callback_result"),
        "OK",
        "{}",
        r.var(&c, "callback_error")
    );
    assert_eq!(r.http_create("+12125550114").0, 201);
    assert_eq!(stored(&r.sim), 4);
    r.unload();
    check_database(&fs.dir.join("callback.db"), 4);
    let _ = std::fs::remove_file(conf);
}

#[test]
fn a_locked_database_is_refused_cleanly_and_recovers_when_the_lock_is_released() {
    // Another process holds `BEGIN EXCLUSIVE` longer than the store's busy timeout (5 s);
    // when it commits, the same module stores the next caller.
    let Some(fs) = Tmpfs::mount("locked", 8192) else {
        return;
    };
    let conf = config(&fs.dir);
    let mut r = Running::start(sim(), &conf);
    let a = r.ivr("+12125550121");
    let a_id = r.var(&a, "callback_id");
    assert!(!a_id.is_empty());
    assert_eq!(r.http_create("+12125550122").0, 201);

    let mut holder = Locker::lock(&fs.dir.join("callback.db"));
    refused_everywhere(&r, "the database is busy", "database-busy", &a_id);
    holder.release();

    let c = r.ivr("+12125550123");
    assert_eq!(
        r.var(&c, "callback_result"),
        "OK",
        "{}",
        r.var(&c, "callback_error")
    );
    assert_eq!(r.http_create("+12125550124").0, 201);
    assert_eq!(stored(&r.sim), 4);
    r.unload();
    check_database(&fs.dir.join("callback.db"), 4);
    let _ = std::fs::remove_file(conf);
}

#[test]
fn a_recordings_directory_removed_while_running_is_made_again() {
    // The recordings directory disappears under the running module (an admin's cleanup):
    // the next caller's recording is stored all the same.
    let Some(fs) = Tmpfs::mount("recdir", 8192) else {
        return;
    };
    let conf = config(&fs.dir);
    let r = Running::start(sim(), &conf);
    std::fs::remove_dir_all(r.recordings()).unwrap();
    let call = r.ivr("+12125550131");
    assert_eq!(
        r.var(&call, "callback_result"),
        "OK",
        "{}",
        r.var(&call, "callback_error")
    );
    assert_eq!(wavs(&r.recordings()), 1);
    let _ = std::fs::remove_file(conf);
}

#[test]
fn a_full_recordings_disk_still_stores_the_callback_and_leaves_no_partial_recording() {
    // The recordings' file system is full (the database's is not): the caller's request
    // is stored without a recording, as with no recordings directory, and no partial WAV
    // stays behind; with space again, the next caller's recording is kept.
    let Some(fs) = Tmpfs::mount("recfull", 1024) else {
        return;
    };
    let db_dir =
        std::env::temp_dir().join(format!("callback-faults-recfull-db-{}", std::process::id()));
    std::fs::create_dir_all(&db_dir).unwrap();
    let rec = fs.dir.join("recordings");
    std::fs::create_dir_all(&rec).unwrap();
    let conf = config_with(&db_dir, Some(&rec));
    let r = Running::start(sim(), &conf);
    let filler = fs.fill();
    let call = r.ivr("+12125550141");
    assert_eq!(
        r.var(&call, "callback_result"),
        "OK",
        "{}",
        r.var(&call, "callback_error")
    );
    let id = r.var(&call, "callback_id");
    let shown: Value =
        serde_json::from_str(&r.sim.api(&format!("callback json show {id}"))).unwrap();
    assert!(shown["trace"]["request"]["recording"].is_null(), "{shown}");
    assert_eq!(wavs(&rec), 0, "a partial recording was left behind");
    let said = r
        .sim
        .logs()
        .into_iter()
        .filter(|l| l.level == 4 && l.text.contains("recording") && l.text.contains("unusable"))
        .count();
    assert!(
        said >= 1,
        "the unusable recording was not said: {:#?}",
        r.sim.logs()
    );

    std::fs::remove_file(&filler).unwrap();
    let call = r.ivr("+12125550142");
    assert_eq!(r.var(&call, "callback_result"), "OK");
    let id = r.var(&call, "callback_id");
    let shown: Value =
        serde_json::from_str(&r.sim.api(&format!("callback json show {id}"))).unwrap();
    assert!(
        shown["trace"]["request"]["recording"]["path"].is_string(),
        "{shown}"
    );
    assert_eq!(wavs(&rec), 1);
    drop(r);
    let _ = std::fs::remove_dir_all(db_dir);
    let _ = std::fs::remove_file(conf);
}

/// Another process holding the database's write lock: this test binary run again as
/// [`lock_holder`]. (Not a second connection in this process: two SQLite libraries in one
/// process do not see each other's POSIX locks at all.)
struct Locker {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Locker {
    fn lock(db: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "lock_holder",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FAULTS_LOCK_DB", db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the lock holder");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let locked = (&mut out)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.trim_end().ends_with("locked"));
        assert!(locked, "the lock holder did not take the lock");
        Self { child, out }
    }

    fn release(&mut self) {
        drop(self.child.stdin.take());
        // Read its report to the end (a closed pipe would fail its last lines).
        let _ = std::io::copy(&mut self.out, &mut std::io::sink());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the lock holder failed");
    }
}

impl Drop for Locker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "a helper process of the locked-database test"]
fn lock_holder() {
    let Some(db) = std::env::var_os("FAULTS_LOCK_DB") else {
        return;
    };
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    println!("locked");
    std::io::stdout().flush().unwrap();
    // Until the test closes our stdin.
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
    conn.execute_batch("COMMIT").unwrap();
}
