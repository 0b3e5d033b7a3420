//! The FreeSWITCH core functions the module calls (all exported by libfreeswitch 1.10).
//! Undefined in the `.so`; resolved against the running core at `dlopen` (RTLD_NOW).

use super::types::*;
use std::ffi::{c_char, c_int, c_void};

extern "C" {
    /// src/include/switch_xml.h:415: the root of the registry lookup (free it with
    /// `switch_xml_free`; that also lifts the registry's read lock) and, through `node`,
    /// the `<configuration name="...">` element, or null.
    pub fn switch_xml_open_cfg(
        file_path: *const c_char,
        node: *mut *mut Xml,
        params: *mut Event,
    ) -> *mut Xml;
    /// src/include/switch_xml.h:228: the node as XML text, malloc'ed (free with `free`).
    pub fn switch_xml_toxml_ex(
        xml: *mut Xml,
        prn_header: c_int,
        use_utf8_encoding: c_int,
    ) -> *mut c_char;
    /// src/include/switch_xml.h:255.
    pub fn switch_xml_free(xml: *mut Xml);

    pub fn switch_loadable_module_create_module_interface(
        pool: *mut MemoryPool,
        name: *const c_char,
    ) -> *mut LoadableModuleInterface;
    pub fn switch_loadable_module_create_interface(
        module: *mut LoadableModuleInterface,
        iname: c_int,
    ) -> *mut c_void;

    pub fn switch_core_session_get_channel(session: *mut CoreSession) -> *mut Channel;
    pub fn switch_core_session_get_uuid(session: *mut CoreSession) -> *mut c_char;
    pub fn switch_channel_get_variable_dup(
        channel: *mut Channel,
        name: *const c_char,
        dup: c_int,
        idx: c_int,
    ) -> *const c_char;
    pub fn switch_channel_set_variable_var_check(
        channel: *mut Channel,
        name: *const c_char,
        value: *const c_char,
        var_check: c_int,
    ) -> SwitchStatus;
    pub fn switch_channel_test_ready(
        channel: *mut Channel,
        check_ready: c_int,
        check_media: c_int,
    ) -> c_int;
    pub fn switch_core_session_execute_application_get_flags(
        session: *mut CoreSession,
        app: *const c_char,
        arg: *const c_char,
        flags: *mut i32,
    ) -> SwitchStatus;

    pub fn switch_api_execute(
        cmd: *const c_char,
        arg: *const c_char,
        session: *mut CoreSession,
        stream: *mut StreamHandle,
    ) -> SwitchStatus;
    pub fn switch_console_stream_write(
        stream: *mut StreamHandle,
        fmt: *const c_char,
        ...
    ) -> SwitchStatus;
    pub fn switch_console_stream_raw_write(
        stream: *mut StreamHandle,
        data: *mut u8,
        len: usize,
    ) -> SwitchStatus;

    pub fn switch_log_printf(
        channel: c_int,
        file: *const c_char,
        func: *const c_char,
        line: c_int,
        userdata: *const c_char,
        level: c_int,
        fmt: *const c_char,
        ...
    );

    pub fn switch_event_reserve_subclass_detailed(
        owner: *const c_char,
        subclass: *const c_char,
    ) -> SwitchStatus;
    pub fn switch_event_free_subclass_detailed(
        owner: *const c_char,
        subclass: *const c_char,
    ) -> SwitchStatus;
    pub fn switch_event_create_subclass_detailed(
        file: *const c_char,
        func: *const c_char,
        line: c_int,
        event: *mut *mut Event,
        event_id: c_int,
        subclass: *const c_char,
    ) -> SwitchStatus;
    pub fn switch_event_add_header_string(
        event: *mut Event,
        stack: c_int,
        name: *const c_char,
        value: *const c_char,
    ) -> SwitchStatus;
    pub fn switch_event_fire_detailed(
        file: *const c_char,
        func: *const c_char,
        line: c_int,
        event: *mut *mut Event,
        user_data: *mut c_void,
    ) -> SwitchStatus;
    pub fn switch_event_destroy(event: *mut *mut Event);

    pub fn switch_micro_time_now() -> i64;

    // The C library's allocator: a stream buffer the core reallocs must come from it.
    pub fn calloc(n: usize, size: usize) -> *mut c_void;
    pub fn free(p: *mut c_void);
}
