//! Safe wrappers over the bound core functions. Every C string that comes back is copied
//! into an owned `String` at once; every string that goes in is NUL-terminated by us;
//! text is only ever passed as the argument of a literal `"%s"` format.

use super::sys;
use super::types::*;
use crate::logging::Origin;
use crate::vars::ChannelVars;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;

/// The file and line of the events the module fires (the log lines name their own).
const FILE: &CStr = c"plugins/mod_callback/src/ffi/switch.rs";
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

/// The buffers one log line needs: text, call uuid, file name.
#[derive(Default)]
struct LineBufs {
    text: Vec<u8>,
    uuid: Vec<u8>,
    file: Vec<u8>,
}

thread_local! {
    // One reusable set of buffers per thread: no allocation (and nothing leaked) per line.
    static LOG_BUF: RefCell<LineBufs> = RefCell::new(LineBufs::default());
}

fn fill(buf: &mut Vec<u8>, text: &str) {
    buf.clear();
    buf.extend(text.bytes().map(|b| if b == 0 { b'?' } else { b }));
    buf.push(0);
}

/// Like [`fill`], ending the text with exactly one newline: `switch_log_printf` prints the
/// text as given, so a line without one runs into the next line of the log.
fn fill_line(buf: &mut Vec<u8>, text: &str) {
    fill(buf, text.trim_end_matches(['\n', '\r']));
    buf.pop();
    buf.extend_from_slice(b"\n\0");
}

/// Writes one line to FreeSWITCH's log (`SWITCH_CHANNEL_UUID_LOG(uuid)` when a call is
/// known), naming the source file and line it came from.
pub fn log(level: i32, uuid: Option<&str>, at: Origin, text: &str) {
    let write = |b: &LineBufs, with_uuid: bool| {
        let user = if with_uuid {
            b.uuid.as_ptr().cast::<c_char>()
        } else {
            ptr::null()
        };
        let line = c_int::try_from(at.line).unwrap_or(0);
        // SAFETY: every pointer is a NUL-terminated buffer alive for the call; the format is
        // the literal "%s" and exactly one `char *` argument follows it.
        unsafe {
            sys::switch_log_printf(
                SWITCH_CHANNEL_ID_LOG,
                b.file.as_ptr().cast::<c_char>(),
                FUNC.as_ptr(),
                line,
                user,
                level,
                FMT_S.as_ptr(),
                b.text.as_ptr().cast::<c_char>(),
            )
        }
    };
    let fill_all = |b: &mut LineBufs| {
        fill_line(&mut b.text, text);
        fill(&mut b.file, at.file);
        if let Some(u) = uuid {
            fill(&mut b.uuid, u);
        }
    };
    // A log line emitted while this thread already logs (re-entrancy) falls back to owned
    // buffers instead of panicking on the borrow.
    let done = LOG_BUF
        .try_with(|cell| {
            let Ok(mut bufs) = cell.try_borrow_mut() else {
                return false;
            };
            fill_all(&mut bufs);
            write(&bufs, uuid.is_some());
            true
        })
        .unwrap_or(false);
    if !done {
        let mut bufs = LineBufs::default();
        fill_all(&mut bufs);
        write(&bufs, uuid.is_some());
    }
}

/// The XML text of `<configuration name="{name}">` as FreeSWITCH's configuration has it
/// (conf directory, `X-PRE-PROCESS` includes and `$${vars}` done; a binding such as
/// mod_xml_curl asked first). `Err` says why there is none.
pub fn config_xml(name: &str) -> Result<String, String> {
    let cname = c_text(name).ok_or_else(|| format!("{name}: not a configuration name"))?;
    let mut node: *mut Xml = ptr::null_mut();
    // SAFETY: a NUL-terminated name, a valid out-pointer, no params (allowed: NULL).
    let root = unsafe { sys::switch_xml_open_cfg(cname.as_ptr(), &mut node, ptr::null_mut()) };
    if root.is_null() || node.is_null() {
        if !root.is_null() {
            // SAFETY: the root the core returned, freed once.
            unsafe { sys::switch_xml_free(root) };
        }
        return Err(format!(
            "FreeSWITCH's configuration has no <configuration name=\"{name}\"> (put \
             callback.conf.xml in autoload_configs/ of its conf directory, then reloadxml)"
        ));
    }
    // SAFETY: `node` is an element of the live `root`; no header; UTF-8 kept as is.
    let text_ptr = unsafe { sys::switch_xml_toxml_ex(node, SWITCH_FALSE, SWITCH_FALSE) };
    // SAFETY: null or a NUL-terminated malloc'ed string, copied at once and freed once.
    let text = unsafe { owned(text_ptr) };
    if !text_ptr.is_null() {
        // SAFETY: malloc'ed by the core (switch_must_malloc), ours to free.
        unsafe { sys::free(text_ptr.cast()) };
    }
    // SAFETY: the root the core returned, freed once, after the last use of `node`.
    unsafe { sys::switch_xml_free(root) };
    text.ok_or_else(|| format!("{name}: FreeSWITCH could not print its configuration"))
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
