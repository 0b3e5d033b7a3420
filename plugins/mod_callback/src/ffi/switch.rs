//! Safe wrappers over the bound core functions. Every C string that comes back is copied
//! into an owned `String` at once; every string that goes in is NUL-terminated by us;
//! text is only ever passed as the argument of a literal `"%s"` format.

use super::sys;
use super::types::*;
use crate::vars::ChannelVars;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::ptr;

const FILE: &CStr = c"mod_callback.rs";
const FUNC: &CStr = c"mod_callback";
const FMT_S: &CStr = c"%s";

/// Copies a nullable C string into an owned `String` (lossy UTF-8).
///
/// # Safety
/// `p` is null or points to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn owned(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract; copied at once.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// A C copy of `text`, or `None` when it holds a NUL (it would be silently cut).
pub(crate) fn c_text(text: &str) -> Option<CString> {
    CString::new(text).ok()
}

thread_local! {
    // One reusable buffer per thread for log lines: no allocation (and nothing leaked) per line.
    static LOG_BUF: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

fn fill(buf: &mut Vec<u8>, text: &str) {
    buf.clear();
    buf.extend(text.bytes().map(|b| if b == 0 { b'?' } else { b }));
    buf.push(0);
}

/// Writes one line to FreeSWITCH's log (`SWITCH_CHANNEL_UUID_LOG(uuid)` when a call is known).
pub fn log(level: i32, uuid: Option<&str>, text: &str) {
    let write = |line: &[u8], uuid: Option<&[u8]>| {
        let user = uuid.map_or(ptr::null(), |u| u.as_ptr().cast::<c_char>());
        // SAFETY: every pointer is a NUL-terminated buffer alive for the call; the format is
        // the literal "%s" and exactly one `char *` argument follows it.
        unsafe {
            sys::switch_log_printf(
                SWITCH_CHANNEL_ID_LOG,
                FILE.as_ptr(),
                FUNC.as_ptr(),
                0,
                user,
                level,
                FMT_S.as_ptr(),
                line.as_ptr().cast::<c_char>(),
            )
        }
    };
    // A log line emitted while this thread already logs (re-entrancy) falls back to owned
    // buffers instead of panicking on the borrow.
    let done = LOG_BUF.with(|cell| {
        let Ok(mut bufs) = cell.try_borrow_mut() else {
            return false;
        };
        let (line, id) = &mut *bufs;
        fill(line, text);
        let id = uuid.map(|u| {
            fill(id, u);
            id.as_slice()
        });
        write(line, id);
        true
    });
    if !done {
        let mut line = Vec::new();
        fill(&mut line, text);
        let mut id = Vec::new();
        let id = uuid.map(|u| {
            fill(&mut id, u);
            id.as_slice()
        });
        write(&line, id);
    }
}

/// The host's clock, microseconds since the epoch (virtual in the simulator).
pub fn micro_time_now() -> i64 {
    // SAFETY: no arguments, no pointers; a plain read of the core's clock.
    unsafe { sys::switch_micro_time_now() }
}

/// Runs an API command the way `SWITCH_STANDARD_STREAM` + `switch_api_execute` do, and
/// returns what it wrote. `None` when the command name or argument holds a NUL.
pub fn api_execute(cmd: &str, arg: &str) -> Option<(SwitchStatus, String)> {
    let cmd = c_text(cmd)?;
    let arg = c_text(arg)?;
    const CHUNK: usize = 1024;
    // SAFETY: calloc from the C library, because the core's stream writer reallocs it.
    let data = unsafe { sys::calloc(1, CHUNK) };
    if data.is_null() {
        return None;
    }
    let mut stream = StreamHandle {
        read_function: ptr::null_mut(),
        write_function: Some(sys::switch_console_stream_write),
        raw_write_function: Some(sys::switch_console_stream_raw_write),
        data,
        end: data,
        data_size: CHUNK,
        data_len: 0,
        alloc_len: CHUNK,
        alloc_chunk: CHUNK,
        param_event: ptr::null_mut(),
    };
    // SAFETY: NUL-terminated strings alive for the call; a stream set up as
    // SWITCH_STANDARD_STREAM does; no session (we are never on a call's thread here).
    let status = unsafe {
        sys::switch_api_execute(cmd.as_ptr(), arg.as_ptr(), ptr::null_mut(), &mut stream)
    };
    let out = if stream.data.is_null() {
        String::new()
    } else {
        // SAFETY: the core keeps `data` NUL-terminated (it was calloc'ed and every write
        // terminates it); copied at once, then freed with the allocator that made it.
        let text = unsafe { owned(stream.data.cast::<c_char>()) }.unwrap_or_default();
        // SAFETY: `data` came from calloc/realloc and is freed exactly once, here.
        unsafe { sys::free(stream.data) };
        text
    };
    Some((status, out))
}

/// Fires a CUSTOM event of `subclass` with string headers. Returns whether it was fired.
pub fn fire_custom(subclass: &CStr, headers: &[(&str, String)]) -> bool {
    let mut event: *mut Event = ptr::null_mut();
    // SAFETY: `event` is a valid out-pointer; the strings are NUL-terminated literals.
    let status = unsafe {
        sys::switch_event_create_subclass_detailed(
            FILE.as_ptr(),
            FUNC.as_ptr(),
            0,
            &mut event,
            SWITCH_EVENT_CUSTOM,
            subclass.as_ptr(),
        )
    };
    if status != SWITCH_STATUS_SUCCESS || event.is_null() {
        return false;
    }
    for (name, value) in headers {
        let (Some(n), Some(v)) = (c_text(name), c_text(value)) else {
            continue;
        };
        // SAFETY: `event` is the live event created above; the core copies name and value.
        unsafe {
            sys::switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, n.as_ptr(), v.as_ptr())
        };
    }
    // SAFETY: on success the core takes the event and nulls our pointer.
    let status = unsafe {
        sys::switch_event_fire_detailed(
            FILE.as_ptr(),
            FUNC.as_ptr(),
            0,
            &mut event,
            ptr::null_mut(),
        )
    };
    if !event.is_null() {
        // SAFETY: the core did not take it; we still own it and destroy it once.
        unsafe { sys::switch_event_destroy(&mut event) };
    }
    status == SWITCH_STATUS_SUCCESS
}

/// A call, for the duration of one application call on the call's own thread.
pub struct Session {
    session: *mut CoreSession,
    channel: *mut Channel,
}

impl Session {
    /// # Safety
    /// `session` is null or the live session the core passed to an application function;
    /// the `Session` must not outlive that call (it is neither `Send` nor `Sync`).
    pub(crate) unsafe fn from_raw(session: *mut CoreSession) -> Option<Self> {
        if session.is_null() {
            return None;
        }
        // SAFETY: a live session per the caller's contract.
        let channel = unsafe { sys::switch_core_session_get_channel(session) };
        if channel.is_null() {
            return None;
        }
        Some(Self { session, channel })
    }

    /// `switch_channel_ready()`: false once the call is hanging up.
    pub fn ready(&self) -> bool {
        // SAFETY: live channel (see `from_raw`); plain flags read by the core.
        unsafe { sys::switch_channel_test_ready(self.channel, SWITCH_TRUE, SWITCH_FALSE) != 0 }
    }

    /// Runs a dialplan application on this call (blocks; the call's own thread only).
    pub fn execute(&self, app: &str, arg: &str) -> bool {
        let (Some(app), Some(arg)) = (c_text(app), c_text(arg)) else {
            return false;
        };
        let mut flags: i32 = 0;
        // SAFETY: the session is live (see `from_raw`), we are on its thread, strings are
        // NUL-terminated and `flags` is a valid out-pointer.
        let status = unsafe {
            sys::switch_core_session_execute_application_get_flags(
                self.session,
                app.as_ptr(),
                arg.as_ptr(),
                &mut flags,
            )
        };
        status == SWITCH_STATUS_SUCCESS
    }
}

impl ChannelVars for Session {
    fn uuid(&self) -> Option<String> {
        // SAFETY: the session is live; the uuid is copied at once.
        unsafe { owned(sys::switch_core_session_get_uuid(self.session)) }
    }

    fn var(&self, name: &str) -> Option<String> {
        let name = c_text(name)?;
        // SAFETY: live channel; dup=TRUE puts the copy in the session's pool (never freed by
        // us), and we copy it into a `String` at once.
        unsafe {
            owned(sys::switch_channel_get_variable_dup(
                self.channel,
                name.as_ptr(),
                SWITCH_TRUE,
                -1,
            ))
        }
    }

    fn set_var(&self, name: &str, value: Option<&str>) -> bool {
        let Some(name) = c_text(name) else {
            return false;
        };
        let value = match value.map(c_text) {
            Some(None) => return false,
            Some(Some(v)) => Some(v),
            None => None,
        };
        let vp = value.as_ref().map_or(ptr::null(), |v| v.as_ptr());
        // SAFETY: live channel; the core copies name and value; var_check=TRUE makes it
        // refuse values that would expand `${...}` later.
        let status = unsafe {
            sys::switch_channel_set_variable_var_check(self.channel, name.as_ptr(), vp, SWITCH_TRUE)
        };
        status == SWITCH_STATUS_SUCCESS
    }
}

/// Writes `text` to an API stream through its write function with a literal `"%s"`.
///
/// # Safety
/// `stream` is null or the live stream handle the core passed to the API function.
pub(crate) unsafe fn stream_write(stream: *mut StreamHandle, text: &str) -> bool {
    if stream.is_null() {
        return false;
    }
    // SAFETY: non-null live stream per the caller's contract.
    let Some(write) = (unsafe { (*stream).write_function }) else {
        return false;
    };
    let mut line = Vec::with_capacity(text.len() + 1);
    fill(&mut line, text);
    // SAFETY: the core's write function, the literal "%s" and one NUL-terminated argument.
    unsafe { write(stream, FMT_S.as_ptr(), line.as_ptr().cast::<c_char>()) };
    true
}
