//! The `switch_*` functions mod_callback.so binds, exported from the executable so the
//! module resolves them at dlopen, as it would against libfreeswitch. Necessarily `unsafe`:
//! they receive raw pointers from C.
//!
//! Over 800 lines on purpose: this file is the one place that lists every switch symbol the
//! module links against (a missing one fails the module's dlopen), each a thin
//! `extern "C"` shim over `core.rs`.
//!
//! Variadic functions (`switch_log_printf`, `switch_console_stream_write`) cannot be defined
//! in stable Rust. The module always calls them with the literal `"%s"` and one `char *`,
//! and on the System V x86_64 and AAPCS64 (Linux) ABIs a variadic call passes its arguments
//! exactly where a fixed-argument callee with one more parameter reads them. So they are
//! defined with that one argument; any other format is recorded as a violation (a test
//! checks there are none).
//!
//! # Safety (every export)
//! Callers pass what FreeSWITCH's own functions expect: null or NUL-terminated strings,
//! session/channel/event/stream pointers this simulator handed out, valid out-pointers.
//!
//! Length: over 800 lines on purpose: this is the whole ABI surface the simulator offers,
//! one list to hold against FreeSWITCH's `switch_*.h` (a symbol missing here is a module
//! that fails to load), so it is kept in one file.
#![allow(clippy::missing_safety_doc)]

use crate::core::{self, lock, state, Act, Endpoint, FiredEvent, LogLine, SimSession};
use chrono::Duration;
use mod_callback::ffi::types::*;
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

extern "C" {
    fn calloc(n: usize, size: usize) -> *mut c_void;
    fn realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn free(p: *mut c_void);
}

/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn text(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-null and NUL-terminated per the contract; copied at once.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

/// # Safety
/// `p` is a session pointer this simulator handed out (an `Arc<SimSession>` kept alive in
/// the state until the simulator is reset).
unsafe fn session<'a>(p: *mut CoreSession) -> Option<&'a SimSession> {
    // SAFETY: per the contract, a live `SimSession`.
    unsafe { p.cast::<SimSession>().as_ref() }
}

fn session_ptr(s: &Arc<SimSession>) -> *mut CoreSession {
    Arc::as_ptr(s).cast_mut().cast::<CoreSession>()
}

/// A module's record: the interfaces `load` created, as the core allocates them (zeroed and
/// larger than the prefix the module writes).
#[repr(C)]
struct Allocated<T> {
    prefix: T,
    _rest: [usize; 32],
}

#[derive(Default)]
struct ModuleRecord {
    name: String,
    apps: Vec<*mut ApplicationInterface>,
    apis: Vec<*mut ApiInterface>,
}

/// Every module interface ever created; read back by the loader after `load`.
static MODULES: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

#[no_mangle]
pub unsafe extern "C" fn switch_loadable_module_create_module_interface(
    _pool: *mut MemoryPool,
    name: *const c_char,
) -> *mut LoadableModuleInterface {
    // SAFETY: the module passes a NUL-terminated name.
    let name = unsafe { text(name) }.unwrap_or_default();
    let rec = Box::into_raw(Box::new(ModuleRecord {
        name,
        ..Default::default()
    }));
    lock(&MODULES).push(rec as usize);
    rec.cast::<LoadableModuleInterface>()
}

#[no_mangle]
pub unsafe extern "C" fn switch_loadable_module_create_interface(
    module: *mut LoadableModuleInterface,
    iname: c_int,
) -> *mut c_void {
    // SAFETY: `module` is a record created above (or null).
    let Some(rec) = (unsafe { module.cast::<ModuleRecord>().as_mut() }) else {
        return ptr::null_mut();
    };
    match iname {
        SWITCH_APPLICATION_INTERFACE => {
            // SAFETY: all-zero is a valid value of these plain C structs (null pointers, None).
            let p = Box::into_raw(Box::new(unsafe {
                std::mem::zeroed::<Allocated<ApplicationInterface>>()
            }));
            rec.apps.push(p.cast());
            p.cast()
        }
        SWITCH_API_INTERFACE => {
            // SAFETY: as above.
            let p = Box::into_raw(Box::new(unsafe {
                std::mem::zeroed::<Allocated<ApiInterface>>()
            }));
            rec.apis.push(p.cast());
            p.cast()
        }
        _ => ptr::null_mut(),
    }
}

/// What a loaded module registered: `(module name, applications, API commands)`.
///
/// # Safety
/// `mi` is a module interface returned by `switch_loadable_module_create_module_interface`.
pub(crate) unsafe fn registered(
    mi: *mut LoadableModuleInterface,
) -> Option<(String, Vec<String>, Vec<String>)> {
    // SAFETY: per the contract.
    let rec = unsafe { mi.cast::<ModuleRecord>().as_ref() }?;
    let mut apps = Vec::new();
    let mut apis = Vec::new();
    let mut st = state();
    for a in &rec.apps {
        // SAFETY: allocated above; the module filled the prefix with 'static strings.
        let a = unsafe { &**a };
        // SAFETY: the module's interface name is a NUL-terminated string (or null).
        if let (Some(name), Some(f)) = (unsafe { text(a.interface_name) }, a.application_function) {
            st.apps.insert(name.clone(), f);
            apps.push(name);
        }
    }
    for a in &rec.apis {
        // SAFETY: as above.
        let a = unsafe { &**a };
        // SAFETY: as above.
        if let (Some(name), Some(f)) = (unsafe { text(a.interface_name) }, a.function) {
            st.apis.insert(name.clone(), f);
            apis.push(name);
        }
    }
    Some((rec.name.clone(), apps, apis))
}

/// Forgets a module's interfaces (unload).
pub(crate) fn unregister(apps: &[String], apis: &[String]) {
    let mut st = state();
    for a in apps {
        st.apps.remove(a);
    }
    for a in apis {
        st.apis.remove(a);
    }
}

#[no_mangle]
pub unsafe extern "C" fn switch_core_session_get_channel(s: *mut CoreSession) -> *mut Channel {
    // The channel is the session itself in this simulator.
    s.cast()
}

#[no_mangle]
pub unsafe extern "C" fn switch_core_session_get_uuid(s: *mut CoreSession) -> *mut c_char {
    // SAFETY: a session pointer this simulator handed out.
    match unsafe { session(s) } {
        Some(s) => s.uuid.as_ptr().cast_mut(),
        None => ptr::null_mut(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn switch_channel_get_variable_dup(
    ch: *mut Channel,
    name: *const c_char,
    _dup: c_int,
    _idx: c_int,
) -> *const c_char {
    // SAFETY: the channel is one of our sessions; the name is NUL-terminated.
    let (Some(s), Some(name)) = (unsafe { session(ch.cast()) }, unsafe { text(name) }) else {
        return ptr::null();
    };
    match s.var(&name).and_then(|v| CString::new(v).ok()) {
        Some(v) => {
            let p = v.as_ptr();
            // Kept until the session ends, like a copy in the session's pool.
            lock(&s.pool).push(v);
            p
        }
        None => ptr::null(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn switch_channel_set_variable_var_check(
    ch: *mut Channel,
    name: *const c_char,
    value: *const c_char,
    var_check: c_int,
) -> SwitchStatus {
    // SAFETY: as above.
    let (Some(s), Some(name)) = (unsafe { session(ch.cast()) }, unsafe { text(name) }) else {
        return SWITCH_STATUS_FALSE;
    };
    // SAFETY: null (unset) or NUL-terminated.
    match unsafe { text(value) } {
        // FreeSWITCH's var_check refuses values that would expand (`${` / `$${`).
        Some(v) if var_check == SWITCH_TRUE && v.contains("${") => SWITCH_STATUS_FALSE,
        Some(v) => {
            s.set(&name, &v);
            SWITCH_STATUS_SUCCESS
        }
        None => {
            lock(&s.vars).remove(&name);
            SWITCH_STATUS_SUCCESS
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn switch_channel_test_ready(
    ch: *mut Channel,
    _check_ready: c_int,
    _check_media: c_int,
) -> c_int {
    // SAFETY: the channel is one of our sessions (or null).
    match unsafe { session(ch.cast()) } {
        Some(s) if s.ready() => SWITCH_TRUE,
        _ => SWITCH_FALSE,
    }
}

#[no_mangle]
pub unsafe extern "C" fn switch_core_session_execute_application_get_flags(
    s: *mut CoreSession,
    app: *const c_char,
    arg: *const c_char,
    flags: *mut i32,
) -> SwitchStatus {
    if !flags.is_null() {
        // SAFETY: a valid out-pointer from the module.
        unsafe { *flags = 0 };
    }
    // SAFETY: NUL-terminated strings from the module.
    let (Some(app), arg) = (
        unsafe { text(app) },
        unsafe { text(arg) }.unwrap_or_default(),
    ) else {
        return SWITCH_STATUS_FALSE;
    };
    // SAFETY: a session pointer we handed out.
    let Some(sess) = (unsafe { session(s) }) else {
        return SWITCH_STATUS_FALSE;
    };
    let Some(arc) = state().sessions.get(&sess.uuid()).cloned() else {
        return SWITCH_STATUS_FALSE;
    };
    if execute_app(&arc, &app, &arg) {
        SWITCH_STATUS_SUCCESS
    } else {
        SWITCH_STATUS_FALSE
    }
}

fn log_sim(text: String) {
    state().push_log(LogLine {
        level: SWITCH_LOG_INFO,
        uuid: None,
        text: format!("[sim] {text}"),
        origin: None,
    });
}

/// What a `record` captures: the caller's speech (a WAV file), a tone, then silence.
enum Heard<'a> {
    Speech(&'a std::path::Path),
    Tone(u32),
    Nothing,
}

/// Writes the recording as FreeSWITCH does on a narrowband call: 8 kHz, 16-bit mono. The
/// heard audio, then `silence_secs` of silence (what ends it), all cut at `limit` seconds
/// (0 = none). Returns the milliseconds written.
fn write_recording(path: &str, heard: &Heard<'_>, silence_secs: u32, limit: u32) -> Option<u32> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut samples: Vec<i16> = match heard {
        Heard::Speech(file) => {
            let mut r = hound::WavReader::open(file).ok()?;
            let src = r.spec();
            if src.sample_rate != 8000 || src.channels != 1 || src.bits_per_sample != 16 {
                return None;
            }
            r.samples::<i16>().collect::<Result<_, _>>().ok()?
        }
        Heard::Tone(secs) => (0..8000 * secs)
            .map(|i| {
                ((i as f32 * 440.0 * 2.0 * std::f32::consts::PI / 8000.0).sin() * 2000.0) as i16
            })
            .collect(),
        Heard::Nothing => Vec::new(),
    };
    samples.extend(std::iter::repeat_n(0i16, 8000 * silence_secs as usize));
    if limit > 0 {
        samples.truncate(8000 * limit as usize);
    }
    let mut w = hound::WavWriter::create(path, spec).ok()?;
    for v in &samples {
        w.write_sample(*v).ok()?;
    }
    w.finalize().ok()?;
    u32::try_from(samples.len() / 8).ok()
}

/// `record <path> [limit] [threshold] [silence_secs]`: takes the caller's next act: speech
/// (then silence ends it), a hang-up (the file holds what was said so far: nothing), or —
/// when the caller does something else next — silence only.
fn record(s: &SimSession, args: &[&str]) -> bool {
    let Some(path) = args.first() else {
        return false;
    };
    let limit = args.get(1).and_then(|a| a.parse::<u32>().ok()).unwrap_or(0);
    let silence = args.get(3).and_then(|a| a.parse::<u32>().ok()).unwrap_or(3);
    let act = {
        let mut acts = lock(&s.acts);
        match acts.front() {
            Some(Act::Speak(_) | Act::Hangup) => acts.pop_front(),
            _ => None,
        }
    };
    let tone = s.var("sim_record_seconds").and_then(|v| v.parse().ok());
    let (heard, hang_up) = match (&act, tone) {
        (Some(Act::Speak(file)), _) => {
            // Speaking and then hanging up is scripted as Speak followed by Hangup.
            let next_is_hangup = lock(&s.acts).front() == Some(&Act::Hangup);
            if next_is_hangup {
                lock(&s.acts).pop_front();
            }
            (Heard::Speech(file.as_path()), next_is_hangup)
        }
        (Some(_), _) => (Heard::Nothing, true),
        (None, Some(secs)) => (Heard::Tone(secs), false),
        (None, None) => (Heard::Nothing, false),
    };
    // A caller who hangs up stops the recording at once: no trailing silence.
    let trailing = if hang_up { 0 } else { silence };
    let Some(ms) = write_recording(path, &heard, trailing, limit) else {
        log_sim(format!("record: cannot write {path}"));
        return false;
    };
    core::advance(Duration::milliseconds(ms.into()));
    s.set("record_seconds", &(ms / 1000).to_string());
    s.set("record_ms", &ms.to_string());
    if !hang_up {
        s.set("silence_hits_exhausted", "true");
    }
    if hang_up {
        s.hang_up();
    }
    *lock(&s.recorded_at) = Some(std::time::Instant::now());
    true
}

/// `play_and_get_digits min max tries timeout_ms terminators file invalid_file var regexp
/// [digit_timeout]`, as `switch_play_and_get_digits` does it: per try, read up to `max`
/// digits (a terminator ends them; fewer than `min` is bad input), check the regexp, else
/// play the invalid file and try again. On success the variable holds the digits; a
/// regexp failure clears it; a timeout leaves it as it was.
fn play_and_get_digits(s: &SimSession, args: &[&str]) -> bool {
    if args.len() < 9 {
        return false;
    }
    let min: usize = args[0].parse().unwrap_or(1);
    let max: usize = args[1].parse().unwrap_or(1);
    let tries: i64 = args[2].parse().unwrap_or(1);
    let timeout: i64 = args[3].parse().unwrap_or(5000);
    let terminators = args[4];
    let var = args[7];
    let Ok(re) = regex::Regex::new(args[8]) else {
        log_sim(format!("play_and_get_digits: bad regexp {}", args[8]));
        return false;
    };
    // The application ran, whatever the caller did: its status is SUCCESS either way.
    for _ in 0..tries.max(1) {
        if !s.ready() {
            return true;
        }
        // Keys queued on the channel come first: the prompt breaks on a queued digit and
        // the digit collector dequeues them (src/switch_ivr_play_say.c:1691-1697 and
        // src/switch_ivr.c:1453-1470 at v1.10.12).
        let act = match received(s) {
            Some(keys) => Some(Act::Press(keys)),
            None => {
                let mut acts = lock(&s.acts);
                match acts.front() {
                    Some(Act::Press(_) | Act::Silent | Act::Hangup | Act::Listen(_)) => {
                        acts.pop_front()
                    }
                    _ => None,
                }
            }
        };
        let act = match act {
            Some(Act::Listen(ms)) => {
                let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
                loop {
                    if let Some(keys) = received(s) {
                        break Some(Act::Press(keys));
                    }
                    if std::time::Instant::now() >= until || !s.ready() {
                        break None;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
            other => other,
        };
        match act {
            Some(Act::Hangup) => {
                s.hang_up();
                return true;
            }
            Some(Act::Press(keys)) => {
                core::advance(Duration::milliseconds(500));
                let typed: String = keys
                    .chars()
                    .take_while(|c| !terminators.contains(*c))
                    .take(max)
                    .collect();
                if typed.len() >= min && !typed.is_empty() {
                    s.set(var, &typed);
                    if re.is_match(&typed) {
                        return true;
                    }
                    lock(&s.vars).remove(var);
                }
            }
            _ => core::advance(Duration::milliseconds(timeout)),
        }
        // The invalid-input file plays before the next try.
        lock(&s.apps).push(("playback".into(), args[6].to_string()));
    }
    true
}

/// The DTMF queued on a call as received, taken (`None`: none).
fn received(s: &SimSession) -> Option<String> {
    let mut q = lock(&s.received_dtmf);
    (!q.is_empty()).then(|| std::mem::take(&mut *q))
}

/// `uuid_recv_dtmf <uuid> <digits>` (mod_commands.c:6396-6437 at v1.10.12): the digits are
/// queued on the channel as if its caller pressed them; an unknown uuid is `-ERR Cannot
/// locate session!`, missing arguments the usage.
fn uuid_recv_dtmf(arg: &str) -> (SwitchStatus, String) {
    let mut it = arg.split_whitespace();
    let (Some(uuid), Some(digits)) = (it.next(), it.next()) else {
        return (SWITCH_STATUS_SUCCESS, "-USAGE: <uuid> <dtmf_data>\n".into());
    };
    let found = state().sessions.get(uuid).cloned();
    match found {
        Some(s) => {
            lock(&s.received_dtmf).push_str(digits);
            (
                SWITCH_STATUS_SUCCESS,
                format!("+OK {uuid} received DTMF {digits}.\n"),
            )
        }
        None => (
            SWITCH_STATUS_SUCCESS,
            "-ERR Cannot locate session!\n".into(),
        ),
    }
}

/// `uuid_broadcast <uuid> <app>::<arg> [aleg]` (mod_commands.c:3878-3925 at v1.10.12):
/// the argument is split at spaces into at most four words; `app::arg` names an
/// application (a bare path is `playback`'s, switch_ivr_async.c:5673-5678). With `aleg`
/// the application is queued on the call as a private execute event (:5727-5750), which
/// the application the call runs then executes as it plays (see `member_waits`).
fn uuid_broadcast(arg: &str) -> (SwitchStatus, String) {
    let argv: Vec<&str> = arg.splitn(4, ' ').collect();
    if arg.trim().is_empty() || argv.len() < 2 {
        return (
            SWITCH_STATUS_SUCCESS,
            "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n".into(),
        );
    }
    let (app, app_arg) = match argv[1].split_once("::") {
        Some((a, rest)) => (a.to_string(), rest.to_string()),
        None => ("playback".to_string(), argv[1].to_string()),
    };
    let found = state().sessions.get(argv[0]).cloned();
    match found {
        Some(s) => {
            // Without a leg word the a-leg is among the flags set (:3913).
            let aleg = argv
                .get(2)
                .is_none_or(|w| w.contains("aleg") || w.contains("both"));
            if aleg {
                lock(&s.broadcasts).push((app, app_arg));
            }
            (SWITCH_STATUS_SUCCESS, "+OK Message sent\n".into())
        }
        None => (SWITCH_STATUS_SUCCESS, "-ERR invalid uuid\n".into()),
    }
}

/// Runs an application on a call: one the module registered, or a simulated one.
pub(crate) fn execute_app(s: &Arc<SimSession>, app: &str, arg: &str) -> bool {
    lock(&s.apps).push((app.to_string(), arg.to_string()));
    let module_app = state().apps.get(app).copied();
    if let Some(f) = module_app {
        let Ok(carg) = CString::new(arg) else {
            return false;
        };
        // SAFETY: the module's application function, called with a live session (kept alive
        // by `s`) and a NUL-terminated argument, on this (the call's) thread; no lock held.
        unsafe { f(session_ptr(s), carg.as_ptr()) };
        return true;
    }
    let args: Vec<&str> = arg.split_whitespace().collect();
    // A hung-up call runs nothing more (FreeSWITCH returns at once).
    if !s.ready() && app != "hangup" {
        return false;
    }
    match app {
        "answer" => {
            s.answered.store(true, Ordering::SeqCst);
            true
        }
        "playback" | "say" => true,
        "sleep" => {
            let ms = args
                .first()
                .and_then(|a| a.parse::<i64>().ok())
                .unwrap_or(0);
            core::advance(Duration::milliseconds(ms));
            true
        }
        "record" => record(s, &args),
        "callcenter" => crate::callcenter::member_waits(s, arg),
        "fifo" => crate::fifo::caller_waits(s, arg),
        "play_and_get_digits" => play_and_get_digits(s, &args),
        "bridge" => {
            // From an answered call FreeSWITCH plays the caller `transfer_ringback`, else
            // `ringback`, while the other leg rings (src/switch_ivr_originate.c:2440-2448 at
            // v1.10.12); the dial string's ignore_early_media=true means nothing else reaches
            // it. With neither set the agent hears silence: refused here, so a test fails.
            let answered = s.answered.load(Ordering::SeqCst);
            let ringback = answered
                .then(|| s.var("transfer_ringback").or_else(|| s.var("ringback")))
                .flatten()
                .filter(|v| !v.is_empty());
            state().bridges.push(core::Bridge {
                from: s.uuid(),
                ringback: ringback.clone(),
            });
            if answered && ringback.is_none() {
                state().log_violations.push(format!(
                    "bridge from answered call {} with no ringback: the agent would hear silence",
                    s.uuid()
                ));
                s.set("originate_disposition", "SIM_SILENT_RINGBACK");
                s.set("bridge_hangup_cause", "SIM_SILENT_RINGBACK");
                return false;
            }
            let timeout = s
                .var("call_timeout")
                .and_then(|v| v.parse().ok())
                .unwrap_or(60u32);
            // The caller's group_confirm_* variables join the originate's own
            // (src/switch_ivr_originate.c:2373-2386 at v1.10.12). Only `exec` is modelled;
            // a key to press would be a test of something we do not use.
            let confirm = match s.var("group_confirm_key").as_deref() {
                None | Some("") => None,
                Some("exec") => s.var("group_confirm_file").filter(|f| !f.is_empty()),
                Some(other) => {
                    state().log_violations.push(format!(
                        "bridge with group_confirm_key={other}: not modelled by the simulator"
                    ));
                    None
                }
            };
            let (status, out) = originate_confirmed(
                &format!("{} &park()", arg.trim()),
                Some(timeout),
                confirm.as_deref(),
            );
            if status == SWITCH_STATUS_SUCCESS {
                let talk = state().talk_ms;
                std::thread::sleep(std::time::Duration::from_millis(talk));
            }
            let cause = out
                .trim()
                .strip_prefix("-ERR ")
                .unwrap_or("SUCCESS")
                .to_string();
            s.set("originate_disposition", &cause);
            s.set(
                "bridge_hangup_cause",
                if status == SWITCH_STATUS_SUCCESS {
                    "NORMAL_CLEARING"
                } else {
                    &cause
                },
            );
            status == SWITCH_STATUS_SUCCESS
        }
        "hangup" => {
            *lock(&s.hangup_cause) = Some(args.first().unwrap_or(&"NORMAL_CLEARING").to_string());
            true
        }
        _ => {
            log_sim(format!("invalid application {app}"));
            false
        }
    }
}

/// `originate {vars}target &app(arg)`: rings a scripted endpoint on the virtual clock.
fn originate(arg: &str, default_timeout: Option<u32>) -> (SwitchStatus, String) {
    originate_confirmed(arg, default_timeout, None)
}

/// The group confirm with `group_confirm_key=exec` on an answered leg, as
/// `collect_thread_run` does it (src/switch_ivr_originate.c:186-233 at v1.10.12): the
/// application named by the file (`<app> <data>`, split at the first space) runs on the
/// answered leg on a thread of its own (launched at :292-301, while the originate keeps
/// waiting); an unknown application hangs the leg up with DESTINATION_OUT_OF_ORDER
/// (:215-219). When the application returns with the leg still up it is the winner
/// (`group_dial_status=winner`, :228-233) and the originate succeeds with it; a leg the
/// application hung up is counted as a hang-up (:762-770), and the originate fails with
/// that leg's cause (:3936-3946).
fn confirm_exec(s: &Arc<SimSession>, line: &str) -> Result<(), String> {
    let (app, data) = line.split_once(' ').unwrap_or((line, ""));
    let known = state().apps.contains_key(app);
    if !known {
        log_sim(format!("Invalid Application {app}"));
        *lock(&s.hangup_cause) = Some("DESTINATION_OUT_OF_ORDER".into());
        return Err("DESTINATION_OUT_OF_ORDER".into());
    }
    let (leg, app, data) = (s.clone(), app.to_string(), data.to_string());
    let collect = std::thread::spawn(move || {
        execute_app(&leg, &app, &data);
    });
    // The collect thread is detached (:292-301): the originate does not wait for it to
    // end, only for the leg to win or to be hung up, whichever comes first; an
    // application still running after its leg hung up goes on on its own.
    loop {
        if collect.is_finished() {
            if collect.join().is_err() {
                *lock(&s.hangup_cause) = Some("DESTINATION_OUT_OF_ORDER".into());
            }
            break;
        }
        if lock(&s.hangup_cause).is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    match lock(&s.hangup_cause).clone() {
        None => {
            s.set("group_dial_status", "winner");
            Ok(())
        }
        Some(cause) => Err(cause),
    }
}

/// [`originate`], with the group confirm's `exec` line when the caller set one.
fn originate_confirmed(
    arg: &str,
    default_timeout: Option<u32>,
    confirm: Option<&str>,
) -> (SwitchStatus, String) {
    let arg = arg.trim();
    let (vars, rest) = match arg.strip_prefix('{').and_then(|r| r.split_once('}')) {
        Some((v, rest)) => (v, rest),
        None => ("", arg),
    };
    let vars: Vec<(String, String)> = vars
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    core::log_customer_dial(&vars);
    let mut parts = rest.split_whitespace();
    let target = parts.next().unwrap_or_default().to_string();
    let app = parts.next().unwrap_or("&park()").to_string();
    let timeout: u32 = get("originate_timeout")
        .and_then(|t| t.parse().ok())
        .or(default_timeout)
        .unwrap_or(60);
    let behaviour = state().endpoints.get(&target).copied();
    let fail = |cause: &str| (SWITCH_STATUS_FALSE, format!("-ERR {cause}\n"));
    let behaviour = match behaviour {
        Some(Endpoint::Rings(ms)) => {
            // The ringing leg is a channel already: `uuid_kill` finds it (mod_commands.c
            // 2852-2877 at v1.10.12) and hangs it up with the cause given, and the
            // originate then fails with the peer channel's cause (src/switch_ivr_originate.c
            // 3936-3946), which the originate API replies as `-ERR <cause>`
            // (mod_commands.c:5139).
            let uuid = get("origination_uuid").unwrap_or_else(core::new_uuid);
            let ringing = SimSession::new(&uuid);
            ringing.set("uuid", &uuid);
            ringing.set("destination_number", &target);
            state().add_leg(uuid.clone(), ringing.clone());
            let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
            loop {
                let killed = lock(&ringing.hangup_cause).clone();
                if let Some(cause) = killed {
                    state().sessions.remove(&uuid);
                    return fail(&cause);
                }
                if std::time::Instant::now() >= until {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Some(Endpoint::Answer(0))
        }
        other => other,
    };
    match behaviour {
        None => fail("NO_ROUTE_DESTINATION"),
        // Answered above (`Answer(0)`) or failed there.
        Some(Endpoint::Rings(_)) => fail("NORMAL_TEMPORARY_FAILURE"),
        Some(Endpoint::Busy) => fail("USER_BUSY"),
        Some(Endpoint::Reject) => fail("CALL_REJECTED"),
        Some(Endpoint::WrongNumber) => fail("UNALLOCATED_NUMBER"),
        Some(Endpoint::NotRegistered) => fail("USER_NOT_REGISTERED"),
        Some(Endpoint::NoAnswer) => {
            core::advance(Duration::seconds(timeout.into()));
            fail("NO_ANSWER")
        }
        Some(Endpoint::Answer(after)) if after > timeout => {
            core::advance(Duration::seconds(timeout.into()));
            fail("NO_ANSWER")
        }
        Some(Endpoint::AnswerOnly(after)) if after <= timeout => {
            core::advance(Duration::seconds(after.into()));
            let uuid = get("origination_uuid").unwrap_or_else(core::new_uuid);
            let s = SimSession::new(&uuid);
            s.set("uuid", &uuid);
            s.set("destination_number", &target);
            s.answered.store(true, Ordering::SeqCst);
            state().add_leg(uuid.clone(), s);
            (SWITCH_STATUS_SUCCESS, format!("+OK {uuid}\n"))
        }
        Some(Endpoint::AnswerOnly(_)) => {
            core::advance(Duration::seconds(timeout.into()));
            fail("NO_ANSWER")
        }
        Some(Endpoint::Answer(after)) => {
            core::advance(Duration::seconds(after.into()));
            let uuid = get("origination_uuid").unwrap_or_else(core::new_uuid);
            let s = SimSession::new(&uuid);
            for (k, v) in &vars {
                s.set(k, v);
            }
            s.set("uuid", &uuid);
            s.set("direction", "outbound");
            s.set("destination_number", &target);
            s.set("endpoint_disposition", "ANSWER");
            s.answered.store(true, Ordering::SeqCst);
            let script = state()
                .scripts
                .get_mut(&target)
                .and_then(VecDeque::pop_front);
            if let Some(acts) = script {
                lock(&s.acts).extend(acts);
            }
            let detected = state()
                .answer_vars
                .get_mut(&target)
                .and_then(VecDeque::pop_front);
            for (k, v) in detected.unwrap_or_default() {
                s.set(&k, &v);
            }
            state().add_leg(uuid.clone(), s.clone());
            if let Some(line) = confirm {
                if let Err(cause) = confirm_exec(&s, line) {
                    return fail(&cause);
                }
            }
            // `&app(arg)` runs on the new call's own thread, as in FreeSWITCH.
            if let Some((name, a)) = app
                .strip_prefix('&')
                .and_then(|a| a.strip_suffix(')'))
                .and_then(|a| a.split_once('('))
            {
                if name != "park" {
                    let (name, a) = (name.to_string(), a.to_string());
                    let t = std::thread::spawn(move || {
                        execute_app(&s, &name, &a);
                    });
                    state().push_thread(t);
                }
            }
            (SWITCH_STATUS_SUCCESS, format!("+OK {uuid}\n"))
        }
    }
}

/// The `callback_id=` of an originate's `{vars}`.
fn callback_id(arg: &str) -> Option<i64> {
    let vars = arg.trim().strip_prefix('{')?.split_once('}')?.0;
    vars.split(',')
        .find_map(|kv| kv.strip_prefix("callback_id="))
        .and_then(|v| v.parse().ok())
}

/// `uuid_setvar <uuid> <var> [value]` (mod_commands.c:6123-6166 at v1.10.12): sets (or,
/// without a value, unsets) the variable on the call; `+OK`, or `-ERR No such channel!`.
fn uuid_setvar(arg: &str) -> (SwitchStatus, String) {
    let mut it = arg.splitn(3, ' ');
    let (Some(uuid), Some(name)) = (it.next(), it.next()) else {
        return (
            SWITCH_STATUS_SUCCESS,
            "-USAGE: <uuid> <var> [value]\n".into(),
        );
    };
    let value = it.next();
    let found = state().sessions.get(uuid).cloned();
    match found {
        Some(s) if !name.is_empty() => {
            match value {
                Some(v) => s.set(name, v),
                None => {
                    lock(&s.vars).remove(name);
                }
            }
            (SWITCH_STATUS_SUCCESS, "+OK\n".into())
        }
        Some(_) => (SWITCH_STATUS_SUCCESS, "-ERR No variable specified\n".into()),
        None => (SWITCH_STATUS_SUCCESS, "-ERR No such channel!\n".into()),
    }
}

fn uuid_kill(arg: &str) -> (SwitchStatus, String) {
    let mut it = arg.split_whitespace();
    let uuid = it.next().unwrap_or_default();
    let cause = it.next().unwrap_or("NORMAL_CLEARING");
    match state().sessions.get(uuid) {
        Some(s) => {
            *lock(&s.hangup_cause) = Some(cause.to_string());
            (SWITCH_STATUS_SUCCESS, "+OK\n".into())
        }
        None => (SWITCH_STATUS_FALSE, "-ERR No such channel!\n".into()),
    }
}

/// Runs an API command: the module's, or a simulated core command. Module commands get a
/// stream set up exactly as `SWITCH_STANDARD_STREAM` does.
pub(crate) fn api_execute(cmd: &str, arg: &str) -> (SwitchStatus, String) {
    let arrived = std::time::SystemTime::now();
    let module_api = state().apis.get(cmd).copied();
    if let Some(f) = module_api {
        return call_module_api(f, arg);
    }
    {
        let mut s = state();
        s.push_command(format!("{cmd} {arg}"));
        if cmd == "originate" {
            if let Some(id) = callback_id(arg) {
                s.push_originated(id, arrived);
            }
        }
    }
    match cmd {
        "originate" => originate(arg, None),
        "uuid_kill" => uuid_kill(arg),
        "uuid_setvar" => uuid_setvar(arg),
        "uuid_recv_dtmf" => uuid_recv_dtmf(arg),
        "uuid_broadcast" => uuid_broadcast(arg),
        "callcenter_config" => {
            let now = core::now().timestamp();
            let reply = state().callcenter.api(arg, now);
            (SWITCH_STATUS_SUCCESS, reply)
        }
        "fifo" => {
            let reply = state().fifo.api(arg);
            (SWITCH_STATUS_SUCCESS, reply)
        }
        // mod_commands.c:6550-6560: the value, or nothing for an unknown name.
        "global_getvar" => (
            SWITCH_STATUS_SUCCESS,
            core::global_var(arg.trim()).unwrap_or_default(),
        ),
        "uuid_getvar" => {
            let mut it = arg.split_whitespace();
            let (uuid, var) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
            let found = state().sessions.get(uuid).cloned();
            match found {
                Some(s) => (
                    SWITCH_STATUS_SUCCESS,
                    s.var(var).unwrap_or_else(|| "_undef_".into()),
                ),
                None => (SWITCH_STATUS_FALSE, "-ERR No such channel!\n".into()),
            }
        }
        _ => (
            SWITCH_STATUS_FALSE,
            format!("-ERR {cmd} Command not found!\n"),
        ),
    }
}

fn call_module_api(f: ApiFn, arg: &str) -> (SwitchStatus, String) {
    const CHUNK: usize = 1024;
    let Ok(carg) = CString::new(arg) else {
        return (SWITCH_STATUS_FALSE, "-ERR NUL in command\n".into());
    };
    // SAFETY: a zeroed block from the C allocator, as SWITCH_STANDARD_STREAM makes it.
    let data = unsafe { calloc(1, CHUNK) };
    let write: StreamWriteFn = {
        let f: unsafe extern "C" fn(
            *mut StreamHandle,
            *const c_char,
            *const c_char,
        ) -> SwitchStatus = switch_console_stream_write;
        // SAFETY: see the module doc: the one-argument definition reads a "%s" call's
        // argument where the variadic caller put it.
        unsafe { std::mem::transmute::<_, StreamWriteFn>(f) }
    };
    let mut stream = StreamHandle {
        read_function: ptr::null_mut(),
        write_function: Some(write),
        raw_write_function: Some(switch_console_stream_raw_write),
        data,
        end: data,
        data_size: CHUNK,
        data_len: 0,
        alloc_len: CHUNK,
        alloc_chunk: CHUNK,
        param_event: ptr::null_mut(),
    };
    // An empty command line reaches the module as NULL, as in FreeSWITCH.
    let cmd_ptr = if arg.is_empty() {
        ptr::null()
    } else {
        carg.as_ptr()
    };
    // SAFETY: the module's API function with a NUL-terminated (or null) command, no session
    // and a valid stream; no lock held.
    let status = unsafe { f(cmd_ptr, ptr::null_mut(), &mut stream) };
    // SAFETY: `data` is NUL-terminated (calloc'ed, kept terminated by our writer) and freed
    // once with the allocator that made it.
    let out = unsafe { text(stream.data.cast()) }.unwrap_or_default();
    // SAFETY: as above.
    unsafe { free(stream.data) };
    (status, out)
}

/// # Safety
/// `stream` is a valid stream whose `data` came from the C allocator.
unsafe fn append(stream: *mut StreamHandle, bytes: &[u8]) -> SwitchStatus {
    // SAFETY: per the contract.
    let Some(st) = (unsafe { stream.as_mut() }) else {
        return SWITCH_STATUS_FALSE;
    };
    let need = st.data_len + bytes.len() + 1;
    if need > st.data_size {
        let size = need.div_ceil(st.alloc_chunk.max(1)) * st.alloc_chunk.max(1);
        // SAFETY: `data` came from calloc/realloc.
        let p = unsafe { realloc(st.data, size) };
        if p.is_null() {
            return SWITCH_STATUS_FALSE;
        }
        st.data = p;
        st.data_size = size;
        st.alloc_len = size;
    }
    // SAFETY: the buffer holds at least `need` bytes now.
    unsafe {
        let base = st.data.cast::<u8>().add(st.data_len);
        ptr::copy_nonoverlapping(bytes.as_ptr(), base, bytes.len());
        *base.add(bytes.len()) = 0;
        st.data_len += bytes.len();
        st.end = st.data.cast::<u8>().add(st.data_len).cast();
    }
    SWITCH_STATUS_SUCCESS
}

#[no_mangle]
pub unsafe extern "C" fn switch_console_stream_write(
    stream: *mut StreamHandle,
    fmt: *const c_char,
    arg: *const c_char,
) -> SwitchStatus {
    // SAFETY: the format is NUL-terminated.
    let fmt = unsafe { text(fmt) }.unwrap_or_default();
    if fmt != "%s" {
        state()
            .format_violations
            .push(format!("stream write with format {fmt:?}"));
        return SWITCH_STATUS_FALSE;
    }
    // SAFETY: with "%s" the one argument is a NUL-terminated string.
    let t = unsafe { text(arg) }.unwrap_or_default();
    // SAFETY: the stream the module got from us (or from `api_execute`'s caller).
    unsafe { append(stream, t.as_bytes()) }
}

#[no_mangle]
pub unsafe extern "C" fn switch_console_stream_raw_write(
    stream: *mut StreamHandle,
    data: *mut u8,
    len: usize,
) -> SwitchStatus {
    if data.is_null() {
        return SWITCH_STATUS_FALSE;
    }
    // SAFETY: `data` holds `len` bytes per the caller.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    // SAFETY: as above.
    unsafe { append(stream, bytes) }
}

#[no_mangle]
pub unsafe extern "C" fn switch_api_execute(
    cmd: *const c_char,
    arg: *const c_char,
    _session: *mut CoreSession,
    stream: *mut StreamHandle,
) -> SwitchStatus {
    // SAFETY: NUL-terminated strings from the module.
    let (Some(cmd), arg) = (
        unsafe { text(cmd) },
        unsafe { text(arg) }.unwrap_or_default(),
    ) else {
        return SWITCH_STATUS_FALSE;
    };
    let (status, out) = api_execute(&cmd, &arg);
    // SAFETY: the module's stream, set up as SWITCH_STANDARD_STREAM.
    unsafe { append(stream, out.as_bytes()) };
    status
}

#[no_mangle]
pub unsafe extern "C" fn switch_log_printf(
    _channel: c_int,
    file: *const c_char,
    _func: *const c_char,
    line: c_int,
    userdata: *const c_char,
    level: c_int,
    fmt: *const c_char,
    arg: *const c_char,
) {
    // SAFETY: NUL-terminated format.
    let fmt = unsafe { text(fmt) }.unwrap_or_default();
    if fmt != "%s" {
        state()
            .format_violations
            .push(format!("log with format {fmt:?}"));
        return;
    }
    // SAFETY: with "%s" the argument is a NUL-terminated string; user data is the uuid;
    // the file is a NUL-terminated name.
    let (raw, uuid, file) = unsafe { (text(arg).unwrap_or_default(), text(userdata), text(file)) };
    let file = file.unwrap_or_default();
    let line = u32::try_from(line).unwrap_or(0);
    let problems = log_line_problems(&raw, &file, line);
    let line = LogLine {
        level,
        uuid,
        text: raw.strip_suffix('\n').unwrap_or(&raw).to_string(),
        origin: Some((file, line)),
    };
    if std::env::var_os("SIM_LOG").is_some() {
        eprintln!("[{level}] {}", line.text);
    }
    let mut st = state();
    for p in problems {
        st.log_violations.push(format!("{p}: {:?}", line.text));
    }
    st.push_log(line);
}

/// What FreeSWITCH would print badly about a log line. `switch_log_meta_vprintf`
/// (src/switch_log.c:554-632 at v1.10.12) prefixes the date, level and
/// `switch_cut_path(file):line` (format `"%s [%s] %s:%d%c%s"`, :568-570) and then prints the
/// caller's formatted text as given, adding no newline: a text without `\n` runs into the
/// next line, and the file and line must name real source for the log to say where a line
/// came from.
fn log_line_problems(text: &str, file: &str, line: u32) -> Vec<String> {
    let mut out = Vec::new();
    if !text.ends_with('\n') {
        out.push("no closing newline".to_string());
    }
    match source_lines(file) {
        None => out.push(format!("names {file:?}, not a source file")),
        Some(n) if line == 0 || line > n => {
            out.push(format!("names line {line} of {file} ({n} lines)"))
        }
        Some(_) => {}
    }
    out
}

/// How many lines `file` has (a path as `file!()` gives it: relative to the workspace, or
/// absolute for a dependency's source), cached; `None` when there is no such file.
fn source_lines(file: &str) -> Option<u32> {
    static SEEN: std::sync::Mutex<std::collections::BTreeMap<String, Option<u32>>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let mut seen = core::lock(&SEEN);
    if let Some(n) = seen.get(file) {
        return *n;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let n = (!file.is_empty())
        .then(|| std::fs::read_to_string(root.join(file)).ok())
        .flatten()
        .map(|t| u32::try_from(t.lines().count()).unwrap_or(u32::MAX));
    seen.insert(file.to_string(), n);
    n
}

#[no_mangle]
pub unsafe extern "C" fn switch_event_reserve_subclass_detailed(
    owner: *const c_char,
    subclass: *const c_char,
) -> SwitchStatus {
    // SAFETY: NUL-terminated strings.
    let (Some(owner), Some(sub)) = (unsafe { text(owner) }, unsafe { text(subclass) }) else {
        return SWITCH_STATUS_FALSE;
    };
    let mut st = state();
    match st.subclasses.get(&sub) {
        Some(o) if *o != owner => SWITCH_STATUS_FALSE,
        _ => {
            st.subclasses.insert(sub, owner);
            SWITCH_STATUS_SUCCESS
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn switch_event_free_subclass_detailed(
    owner: *const c_char,
    subclass: *const c_char,
) -> SwitchStatus {
    // SAFETY: NUL-terminated strings.
    let (Some(owner), Some(sub)) = (unsafe { text(owner) }, unsafe { text(subclass) }) else {
        return SWITCH_STATUS_FALSE;
    };
    let mut st = state();
    if st.subclasses.get(&sub) == Some(&owner) {
        st.subclasses.remove(&sub);
        SWITCH_STATUS_SUCCESS
    } else {
        SWITCH_STATUS_FALSE
    }
}

#[no_mangle]
pub unsafe extern "C" fn switch_event_create_subclass_detailed(
    _file: *const c_char,
    _func: *const c_char,
    _line: c_int,
    event: *mut *mut Event,
    event_id: c_int,
    subclass: *const c_char,
) -> SwitchStatus {
    if event.is_null() {
        return SWITCH_STATUS_FALSE;
    }
    let e = Box::new(FiredEvent {
        event_id,
        // SAFETY: null or NUL-terminated.
        subclass: unsafe { text(subclass) },
        headers: Vec::new(),
        at: core::now(),
    });
    // SAFETY: a valid out-pointer from the module.
    unsafe { *event = Box::into_raw(e).cast() };
    SWITCH_STATUS_SUCCESS
}

#[no_mangle]
pub unsafe extern "C" fn switch_event_add_header_string(
    event: *mut Event,
    _stack: c_int,
    name: *const c_char,
    value: *const c_char,
) -> SwitchStatus {
    // SAFETY: an event created above (or null); NUL-terminated strings.
    let (Some(e), Some(n), Some(v)) = (
        unsafe { event.cast::<FiredEvent>().as_mut() },
        unsafe { text(name) },
        unsafe { text(value) },
    ) else {
        return SWITCH_STATUS_FALSE;
    };
    e.headers.push((n, v));
    SWITCH_STATUS_SUCCESS
}

#[no_mangle]
pub unsafe extern "C" fn switch_event_fire_detailed(
    _file: *const c_char,
    _func: *const c_char,
    _line: c_int,
    event: *mut *mut Event,
    _user_data: *mut c_void,
) -> SwitchStatus {
    // SAFETY: a valid pointer to an event created above; ownership moves to the core.
    let Some(p) = (unsafe { event.as_mut() }) else {
        return SWITCH_STATUS_FALSE;
    };
    if p.is_null() {
        return SWITCH_STATUS_FALSE;
    }
    // SAFETY: created by `Box::into_raw` above, taken once.
    let e = unsafe { Box::from_raw(p.cast::<FiredEvent>()) };
    *p = ptr::null_mut();
    state().push_event(*e);
    SWITCH_STATUS_SUCCESS
}

#[no_mangle]
pub unsafe extern "C" fn switch_event_destroy(event: *mut *mut Event) {
    // SAFETY: null or a pointer to an event created above.
    if let Some(p) = unsafe { event.as_mut() } {
        if !p.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once.
            drop(unsafe { Box::from_raw(p.cast::<FiredEvent>()) });
            *p = ptr::null_mut();
        }
    }
}

#[no_mangle]
pub extern "C" fn switch_micro_time_now() -> i64 {
    core::now_us()
}

/// Keeps every export in the executable even though nothing in it calls them (the linker
/// would otherwise drop them before `-rdynamic` could export them).
/// The module's configuration lookup (src/switch_xml.c:2499-2513): the registry root, and
/// through `node` the `<configuration>` element; both are one owned text here.
#[no_mangle]
pub unsafe extern "C" fn switch_xml_open_cfg(
    file_path: *const c_char,
    node: *mut *mut Xml,
    _params: *mut Event,
) -> *mut Xml {
    if node.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: a valid out-pointer from the module; FreeSWITCH clears it first (:2503).
    unsafe { *node = ptr::null_mut() };
    // SAFETY: a NUL-terminated name.
    let Some(name) = (unsafe { text(file_path) }) else {
        return ptr::null_mut();
    };
    state().xml_lookups.push(name.clone());
    match crate::xmlconf::open_cfg(&name) {
        Some(found) => {
            let root = Box::into_raw(Box::new(found)).cast::<Xml>();
            // SAFETY: as above.
            unsafe { *node = root };
            root
        }
        None => ptr::null_mut(),
    }
}

/// The element as text, in memory from the C allocator (the caller frees it).
#[no_mangle]
pub unsafe extern "C" fn switch_xml_toxml_ex(
    xml: *mut Xml,
    _prn_header: c_int,
    _use_utf8_encoding: c_int,
) -> *mut c_char {
    // SAFETY: a node this simulator handed out (a boxed String) or null.
    let Some(t) = (unsafe { xml.cast::<String>().as_ref() }) else {
        return ptr::null_mut();
    };
    // SAFETY: a fresh zeroed block one byte longer than the text (so NUL-terminated).
    let p = unsafe { calloc(1, t.len() + 1) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: `p` has room for the text; the regions do not overlap.
        unsafe { ptr::copy_nonoverlapping(t.as_ptr(), p, t.len()) };
    }
    p.cast()
}

/// Frees what `switch_xml_open_cfg` returned.
#[no_mangle]
pub unsafe extern "C" fn switch_xml_free(xml: *mut Xml) {
    if !xml.is_null() {
        // SAFETY: a root this simulator boxed, freed once by the module.
        drop(unsafe { Box::from_raw(xml.cast::<String>()) });
    }
}

pub fn keep_exports() -> usize {
    let table: &[usize] = &[
        switch_loadable_module_create_module_interface as *const () as usize,
        switch_loadable_module_create_interface as *const () as usize,
        switch_core_session_get_channel as *const () as usize,
        switch_core_session_get_uuid as *const () as usize,
        switch_channel_get_variable_dup as *const () as usize,
        switch_channel_set_variable_var_check as *const () as usize,
        switch_core_session_execute_application_get_flags as *const () as usize,
        switch_channel_test_ready as *const () as usize,
        switch_console_stream_write as *const () as usize,
        switch_console_stream_raw_write as *const () as usize,
        switch_api_execute as *const () as usize,
        switch_log_printf as *const () as usize,
        switch_event_reserve_subclass_detailed as *const () as usize,
        switch_event_free_subclass_detailed as *const () as usize,
        switch_event_create_subclass_detailed as *const () as usize,
        switch_event_add_header_string as *const () as usize,
        switch_event_fire_detailed as *const () as usize,
        switch_event_destroy as *const () as usize,
        switch_micro_time_now as *const () as usize,
        switch_xml_open_cfg as *const () as usize,
        switch_xml_toxml_ex as *const () as usize,
        switch_xml_free as *const () as usize,
    ];
    std::hint::black_box(table)
        .iter()
        .filter(|p| **p != 0)
        .count()
}
