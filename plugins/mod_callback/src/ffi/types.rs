//! The C ABI of FreeSWITCH 1.10 as far as the module touches it: the module table, the
//! leading fields of the interfaces the core allocates, the stream handle, and the
//! constants. One definition of each, shared with the host simulator; `tests::layout`
//! checks the offsets against `switch_module_interfaces.h` / `switch_loadable_module.h`
//! (x86_64, LP64).

use std::ffi::{c_char, c_int, c_void};
use std::marker::{PhantomData, PhantomPinned};

/// `switch_status_t` (a C enum, so an `int`).
pub type SwitchStatus = c_int;
pub const SWITCH_STATUS_SUCCESS: SwitchStatus = 0;
pub const SWITCH_STATUS_FALSE: SwitchStatus = 1;
pub const SWITCH_STATUS_GENERR: SwitchStatus = 9;
pub const SWITCH_STATUS_NOTFOUND: SwitchStatus = 14;
pub const SWITCH_STATUS_NOUNLOAD: SwitchStatus = 16;
pub const SWITCH_STATUS_TERM: SwitchStatus = 21;

/// `switch_bool_t`.
pub const SWITCH_FALSE: c_int = 0;
pub const SWITCH_TRUE: c_int = 1;

/// `SWITCH_API_VERSION`, unchanged since 2010.
pub const SWITCH_API_VERSION: c_int = 5;

/// `switch_module_interface_name_t` values the module creates.
pub const SWITCH_APPLICATION_INTERFACE: c_int = 4;
pub const SWITCH_API_INTERFACE: c_int = 5;

/// `switch_log_level_t`.
pub const SWITCH_LOG_CONSOLE: c_int = 0;
pub const SWITCH_LOG_CRIT: c_int = 2;
pub const SWITCH_LOG_ERROR: c_int = 3;
pub const SWITCH_LOG_WARNING: c_int = 4;
pub const SWITCH_LOG_NOTICE: c_int = 5;
pub const SWITCH_LOG_INFO: c_int = 6;
pub const SWITCH_LOG_DEBUG: c_int = 7;

/// `switch_text_channel_t`: `SWITCH_CHANNEL_UUID_LOG(uuid)` is `ID_LOG` with the uuid as
/// user data.
pub const SWITCH_CHANNEL_ID_LOG: c_int = 0;

/// `switch_event_types_t::SWITCH_EVENT_CUSTOM`.
pub const SWITCH_EVENT_CUSTOM: c_int = 0;
/// `switch_stack_t::SWITCH_STACK_BOTTOM`.
pub const SWITCH_STACK_BOTTOM: c_int = 1;

/// `SAF_NONE`: an ordinary dialplan application.
pub const SAF_NONE: u32 = 0;

macro_rules! opaque {
    ($($(#[$m:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$m])*
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )+};
}

opaque!(
    /// `switch_memory_pool_t`.
    MemoryPool,
    /// `switch_loadable_module_interface_t` (created and owned by the core).
    LoadableModuleInterface,
    /// `switch_core_session_t`.
    CoreSession,
    /// `switch_channel_t`.
    Channel,
    /// `switch_event_t`.
    Event,
    /// `struct switch_xml` (`switch_xml_t` is a pointer to it).
    Xml,
);

/// `switch_module_load_t`.
pub type LoadFn =
    unsafe extern "C" fn(*mut *mut LoadableModuleInterface, *mut MemoryPool) -> SwitchStatus;
/// `switch_module_shutdown_t` / `switch_module_runtime_t`.
pub type NoArgFn = unsafe extern "C" fn() -> SwitchStatus;
/// `switch_application_function_t`.
pub type AppFn = unsafe extern "C" fn(*mut CoreSession, *const c_char);
/// `switch_api_function_t`.
pub type ApiFn =
    unsafe extern "C" fn(*const c_char, *mut CoreSession, *mut StreamHandle) -> SwitchStatus;
/// `switch_stream_handle_write_function_t`: variadic, always called with `"%s"`.
pub type StreamWriteFn =
    unsafe extern "C" fn(*mut StreamHandle, *const c_char, ...) -> SwitchStatus;
/// `switch_stream_handle_raw_write_function_t`.
pub type StreamRawWriteFn = unsafe extern "C" fn(*mut StreamHandle, *mut u8, usize) -> SwitchStatus;

/// `switch_loadable_module_function_table_t`: the one symbol a module exports.
/// Note the order: shutdown before runtime.
#[repr(C)]
pub struct ModuleFunctionTable {
    pub switch_api_version: c_int,
    pub load: Option<LoadFn>,
    pub shutdown: Option<NoArgFn>,
    pub runtime: Option<NoArgFn>,
    pub flags: u32,
}

/// The leading fields of `switch_application_interface_t` (the core allocates the rest).
#[repr(C)]
pub struct ApplicationInterface {
    pub interface_name: *const c_char,
    pub application_function: Option<AppFn>,
    pub long_desc: *const c_char,
    pub short_desc: *const c_char,
    pub syntax: *const c_char,
    pub flags: u32,
}

/// The leading fields of `switch_api_interface_t`.
#[repr(C)]
pub struct ApiInterface {
    pub interface_name: *const c_char,
    pub desc: *const c_char,
    pub function: Option<ApiFn>,
    pub syntax: *const c_char,
}

/// `switch_stream_handle_t` (80 bytes), filled by `SWITCH_STANDARD_STREAM`.
#[repr(C)]
pub struct StreamHandle {
    pub read_function: *mut c_void,
    pub write_function: Option<StreamWriteFn>,
    pub raw_write_function: Option<StreamRawWriteFn>,
    pub data: *mut c_void,
    pub end: *mut c_void,
    pub data_size: usize,
    pub data_len: usize,
    pub alloc_len: usize,
    pub alloc_chunk: usize,
    pub param_event: *mut Event,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layout() {
        // The Rust structs put every field where FreeSWITCH 1.10's headers put it (LP64).
        assert_eq!(size_of::<ModuleFunctionTable>(), 40);
        assert_eq!(offset_of!(ModuleFunctionTable, load), 8);
        assert_eq!(offset_of!(ModuleFunctionTable, shutdown), 16);
        assert_eq!(offset_of!(ModuleFunctionTable, runtime), 24);
        assert_eq!(offset_of!(ModuleFunctionTable, flags), 32);

        assert_eq!(offset_of!(ApplicationInterface, interface_name), 0);
        assert_eq!(offset_of!(ApplicationInterface, application_function), 8);
        assert_eq!(offset_of!(ApplicationInterface, long_desc), 16);
        assert_eq!(offset_of!(ApplicationInterface, short_desc), 24);
        assert_eq!(offset_of!(ApplicationInterface, syntax), 32);
        assert_eq!(offset_of!(ApplicationInterface, flags), 40);

        assert_eq!(offset_of!(ApiInterface, interface_name), 0);
        assert_eq!(offset_of!(ApiInterface, desc), 8);
        assert_eq!(offset_of!(ApiInterface, function), 16);
        assert_eq!(offset_of!(ApiInterface, syntax), 24);

        assert_eq!(size_of::<StreamHandle>(), 80);
        assert_eq!(offset_of!(StreamHandle, write_function), 8);
        assert_eq!(offset_of!(StreamHandle, raw_write_function), 16);
        assert_eq!(offset_of!(StreamHandle, data), 24);
        assert_eq!(offset_of!(StreamHandle, end), 32);
        assert_eq!(offset_of!(StreamHandle, data_size), 40);
        assert_eq!(offset_of!(StreamHandle, data_len), 48);
        assert_eq!(offset_of!(StreamHandle, alloc_len), 56);
        assert_eq!(offset_of!(StreamHandle, alloc_chunk), 64);
        assert_eq!(offset_of!(StreamHandle, param_event), 72);
    }
}
