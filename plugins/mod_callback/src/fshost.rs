//! [`FsHost`]: the core's [`Host`] over FreeSWITCH string commands — `originate` and
//! `uuid_kill` through `switch_api_execute`, notifications as CUSTOM `callback::info`
//! events, mod_callcenter's agents through `callcenter_config`, mod_fifo's callers through
//! `fifo list`. The commands are built by [`crate::dial`], which refuses anything unsafe first.

use crate::dial;
use callback_core::host::{
    CentreMark, CentreTable, Host, HostError, LegOutcome, LegRequest, LineCaller, Notification,
};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The event subclass of every notification.
pub const EVENT_SUBCLASS: &str = "callback::info";

/// What `FsHost` needs from the switch (the FFI layer implements it; tests fake it).
pub trait Switch: Send + Sync {
    /// Runs an API command; `None` when it could not be run at all.
    fn api(&self, cmd: &str, arg: &str) -> Option<String>;
    /// Fires a `callback::info` CUSTOM event with these headers.
    fn fire(&self, headers: &[(&str, String)]) -> bool;
    /// The XML text of `<configuration name="{name}">` from the switch's configuration.
    fn config_xml(&self, name: &str) -> Result<String, String>;
    /// A global variable (`global_getvar`): the core's directories (`db_dir`,
    /// `recordings_dir`, `sounds_dir`, ...) and `vars.xml`'s; `None` when unset.
    fn global(&self, name: &str) -> Option<String> {
        self.api("global_getvar", name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && !v.starts_with("-ERR"))
    }
}

/// The `Host` of the module.
pub struct FsHost<S: Switch> {
    switch: S,
    counter: AtomicU64,
}

impl<S: Switch> FsHost<S> {
    pub fn new(switch: S) -> Self {
        Self {
            switch,
            counter: AtomicU64::new(0),
        }
    }

    fn new_uuid(&self) -> String {
        self.counter.fetch_add(1, Ordering::Relaxed);
        fresh_uuid()
    }
}

/// A fresh version-4-style uuid for `origination_uuid`, so a leg is known before it
/// answers.
pub fn fresh_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let word = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u64(salt);
        h.finish()
    };
    let (a, b) = (word(1), word(2));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// The headers of a notification's event.
pub fn event_headers(note: &Notification) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("Callback-Action", note.action.clone()),
        ("Callback-ID", note.callback_id.to_string()),
        ("Callback-State", note.state.as_str().to_string()),
        ("Callback-Queue", note.queue.clone()),
        ("Callback-Type", note.kind.as_str().to_string()),
    ];
    if let Some(due) = note.due {
        h.push(("Callback-Due", due.timestamp().to_string()));
    }
    if let Some(text) = &note.transcript {
        // One header line: a merged request's transcripts are joined by a space.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        h.push(("Callback-Transcript", text));
    }
    if !note.tags.is_empty() {
        let tags: Vec<String> = note.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        h.push(("Callback-Tags", tags.join(",")));
    }
    h
}

impl<S: Switch> Host for FsHost<S> {
    fn originate(&self, leg: &LegRequest) -> Result<LegOutcome, HostError> {
        // The engine's uuid when it chose one (to hang the leg up while it rings).
        let uuid = match &leg.uuid {
            Some(u) => {
                dial::check_uuid(u).map_err(|e| HostError(e.to_string()))?;
                u.clone()
            }
            None => self.new_uuid(),
        };
        let args = dial::originate_args(leg, &uuid).map_err(|e| HostError(e.to_string()))?;
        let reply = self
            .switch
            .api("originate", &args)
            .ok_or_else(|| HostError("originate could not be run".into()))?;
        let reply = reply.trim();
        if let Some(rest) = reply.strip_prefix("+OK") {
            let answered_uuid = rest.trim();
            Ok(LegOutcome {
                uuid: Some(if answered_uuid.is_empty() {
                    uuid
                } else {
                    answered_uuid.to_string()
                }),
                answered: true,
                cause: None,
            })
        } else if let Some(cause) = reply.strip_prefix("-ERR") {
            let cause = cause.trim();
            Ok(LegOutcome {
                uuid: Some(uuid),
                answered: false,
                cause: Some(if cause.is_empty() {
                    "NORMAL_TEMPORARY_FAILURE".into()
                } else {
                    cause.to_string()
                }),
            })
        } else {
            Err(HostError(format!("unexpected originate reply: {reply}")))
        }
    }

    fn hangup(&self, uuid: &str, cause: &str) -> Result<(), HostError> {
        dial::check_uuid(uuid).map_err(|e| HostError(e.to_string()))?;
        dial::check_cause(cause).map_err(|e| HostError(e.to_string()))?;
        let reply = self
            .switch
            .api("uuid_kill", &format!("{uuid} {cause}"))
            .ok_or_else(|| HostError("uuid_kill could not be run".into()))?;
        if reply.trim_start().starts_with("+OK") {
            Ok(())
        } else {
            Err(HostError(reply.trim().to_string()))
        }
    }

    fn press(&self, uuid: &str, keys: &str) -> Result<(), HostError> {
        dial::check_uuid(uuid).map_err(|e| HostError(e.to_string()))?;
        // Keys the core chose (1 accept, 9 reject, a queue's exit key), never text from a
        // browser.
        if keys.is_empty()
            || !keys
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
        {
            return Err(HostError(format!("'{keys}' are not keys to press")));
        }
        // mod_commands.c:6396-6437 (v1.10.12): `uuid_recv_dtmf <uuid> <digits>` queues the
        // digits on the channel as received DTMF (switch_channel_queue_dtmf_string), which
        // the play_and_get_digits running on the call reads as the caller's keys.
        let reply = self
            .switch
            .api("uuid_recv_dtmf", &format!("{uuid} {keys}"))
            .ok_or_else(|| HostError("uuid_recv_dtmf could not be run".into()))?;
        if reply.trim_start().starts_with("+OK") {
            Ok(())
        } else {
            Err(HostError(reply.trim().to_string()))
        }
    }

    /// `callcenter_config agent list` / `tier list`: mod_callcenter prints the whole table,
    /// a header of column names, `|`-separated rows and `+OK`
    /// (src/mod/applications/mod_callcenter/mod_callcenter.c:3456-3480, :3689-3704 and
    /// :3822-3830 at v1.10.12).
    fn centre_table(&self, table: CentreTable) -> Result<String, HostError> {
        let arg = match table {
            CentreTable::Agents => "agent list".to_string(),
            CentreTable::Tiers => "tier list".to_string(),
            // `queue list members <queue>`: every member with its score, highest first
            // (mod_callcenter.c:3936-3941).
            CentreTable::Members(q) => {
                dial::check_agent(&q).map_err(|e| HostError(e.to_string()))?;
                format!("queue list members {q}")
            }
        };
        self.switch
            .api("callcenter_config", &arg)
            .ok_or_else(|| HostError("callcenter_config could not be run".into()))
    }

    /// `fifo list <fifo>`: mod_fifo's XML report of the fifo, its waiting callers with
    /// their join time and slot (src/mod/applications/mod_fifo/mod_fifo.c:4222-4247 and
    /// :3986-4068 at v1.10.12), read by [`crate::fifo::callers`].
    fn line_callers(&self, line: &str) -> Result<Vec<LineCaller>, HostError> {
        crate::fifo::check_name(line).map_err(HostError)?;
        let reply = self
            .switch
            .api("fifo", &format!("list {line}"))
            .ok_or_else(|| HostError("fifo could not be run".into()))?;
        crate::fifo::callers(&reply).map_err(|e| HostError(e.to_string()))
    }

    /// `uuid_broadcast <uuid> callback_queue_offer::<minutes> aleg`: mod_commands.c
    /// (:3878-3925 at v1.10.12) queues the application on the call as a private execute
    /// event (src/switch_ivr_async.c:5727-5750), and mod_callcenter's wait, which plays the
    /// queue's music (mod_callcenter.c:3210), runs it as the music plays
    /// (src/switch_ivr_play_say.c:1684). The uuid is the centre's and the minutes are ours:
    /// the uuid is checked, nothing else reaches the command.
    fn offer_callback(&self, uuid: &str, wait_minutes: u32) -> Result<(), HostError> {
        dial::check_uuid(uuid).map_err(|e| HostError(e.to_string()))?;
        let reply = self
            .switch
            .api(
                "uuid_broadcast",
                &format!("{uuid} callback_queue_offer::{wait_minutes} aleg"),
            )
            .ok_or_else(|| HostError("uuid_broadcast could not be run".into()))?;
        if reply.trim_start().starts_with("+OK") {
            Ok(())
        } else {
            Err(HostError(reply.trim().to_string()))
        }
    }

    /// mod_callcenter's own states: `state_if_waiting` changes the state only of an agent
    /// still `Waiting` and `Available` (or on demand), in one SQL update, and answers
    /// `-ERR Agent not found!` otherwise (mod_callcenter.c:1147-1170): the same step the
    /// centre takes to reserve an agent for its own queue call (:2358-2367). A value with
    /// spaces is quoted, as `switch_separate_string` reads single quotes
    /// (src/switch_utils.c:2687-2730, :2796-2853).
    fn centre_mark(&self, agent: &str, mark: CentreMark) -> Result<(), HostError> {
        dial::check_agent(agent).map_err(|e| HostError(e.to_string()))?;
        let arg = match mark {
            CentreMark::Claim => format!("agent set state_if_waiting {agent} Receiving"),
            CentreMark::OnCall => format!("agent set state {agent} 'In a queue call'"),
            CentreMark::Free => format!("agent set state {agent} Waiting"),
            // mod_callcenter offers a queue call only to an agent whose ready_time has
            // passed (mod_callcenter.c:2335-2337); `agent set ready_time` sets it
            // (:1097-1102).
            CentreMark::ReadyAt(epoch) => format!("agent set ready_time {agent} {epoch}"),
        };
        let reply = self
            .switch
            .api("callcenter_config", &arg)
            .ok_or_else(|| HostError("callcenter_config could not be run".into()))?;
        if reply.trim_start().starts_with("+OK") {
            Ok(())
        } else {
            Err(HostError(reply.trim().to_string()))
        }
    }

    fn emit(&self, note: &Notification) {
        if !self.switch.fire(&event_headers(note)) {
            tracing::warn!(
                callback_id = note.callback_id,
                "could not fire {EVENT_SUBCLASS}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callback_core::host::Target;
    use callback_core::model::{CallbackType, Leg, State};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Fake {
        reply: String,
        calls: Mutex<Vec<(String, String)>>,
        events: Mutex<Vec<Vec<(String, String)>>>,
    }

    impl Switch for &Fake {
        fn api(&self, cmd: &str, arg: &str) -> Option<String> {
            self.calls.lock().unwrap().push((cmd.into(), arg.into()));
            Some(self.reply.clone())
        }
        fn fire(&self, headers: &[(&str, String)]) -> bool {
            self.events.lock().unwrap().push(
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            );
            true
        }
        fn config_xml(&self, name: &str) -> Result<String, String> {
            Err(format!("no {name} in this fake"))
        }
    }

    fn leg(e164: &str) -> LegRequest {
        LegRequest {
            callback_id: 5,
            leg: Leg::Customer,
            target: Target::Customer {
                e164: e164.into(),
                gateway: "sofia/gateway/pstn/".into(),
            },
            timeout_secs: 20,
            caller_id_name: "Callback".into(),
            caller_id_number: "+12125550100".into(),
            variables: vec![],
            application: None,
            ringback: None,
            uuid: None,
        }
    }

    #[test]
    fn a_key_is_pressed_with_uuid_recv_dtmf_and_nothing_else_passes() {
        // The panel's decision becomes `uuid_recv_dtmf <uuid> <digit>`; a uuid or keys that
        // are not what they claim never reach the switch; FreeSWITCH's -ERR is an error.
        let fake = Fake {
            reply: "+OK 11111111-2222-4333-8444-555555555555 received DTMF 1.\n".into(),
            ..Default::default()
        };
        let host = FsHost::new(&fake);
        host.press("11111111-2222-4333-8444-555555555555", "1")
            .unwrap();
        assert!(host.press("1111 &hangup", "1").is_err());
        assert!(host
            .press("11111111-2222-4333-8444-555555555555", "1 &x")
            .is_err());
        assert!(host
            .press("11111111-2222-4333-8444-555555555555", "")
            .is_err());
        assert_eq!(
            *fake.calls.lock().unwrap(),
            [(
                "uuid_recv_dtmf".to_string(),
                "11111111-2222-4333-8444-555555555555 1".to_string()
            )]
        );
        let gone = Fake {
            reply: "-ERR Cannot locate session!\n".into(),
            ..Default::default()
        };
        let err = FsHost::new(&gone)
            .press("11111111-2222-4333-8444-555555555555", "9")
            .unwrap_err();
        assert!(err.0.contains("Cannot locate session"), "{err}");
    }

    #[test]
    fn the_in_queue_offer_is_broadcast_on_the_waiting_call_only() {
        // `uuid_broadcast <uuid> callback_queue_offer::<minutes> aleg`; a uuid that is not
        // one never reaches the switch; FreeSWITCH's -ERR is an error. An exit key such as
        // * may be pressed on a call, text may not.
        let fake = Fake {
            reply: "+OK Message sent\n".into(),
            ..Default::default()
        };
        let host = FsHost::new(&fake);
        host.offer_callback("11111111-2222-4333-8444-555555555555", 8)
            .unwrap();
        assert!(host.offer_callback("1111 &hangup", 8).is_err());
        host.press("11111111-2222-4333-8444-555555555555", "*")
            .unwrap();
        assert!(host
            .press("11111111-2222-4333-8444-555555555555", "*x")
            .is_err());
        assert_eq!(
            fake.calls.lock().unwrap()[0],
            (
                "uuid_broadcast".to_string(),
                "11111111-2222-4333-8444-555555555555 callback_queue_offer::8 aleg".to_string()
            )
        );
        let gone = Fake {
            reply: "-ERR invalid uuid\n".into(),
            ..Default::default()
        };
        let err = FsHost::new(&gone)
            .offer_callback("11111111-2222-4333-8444-555555555555", 8)
            .unwrap_err();
        assert!(err.0.contains("invalid uuid"), "{err}");
    }

    #[test]
    fn originate_replies_become_outcomes() {
        // +OK is an answered leg with its uuid; -ERR carries FreeSWITCH's hangup cause.
        let fake = Fake {
            reply: "+OK 11111111-2222-4333-8444-555555555555\n".into(),
            ..Default::default()
        };
        let host = FsHost::new(&fake);
        let out = host.originate(&leg("+12125550142")).unwrap();
        assert!(out.answered);
        assert_eq!(
            out.uuid.as_deref(),
            Some("11111111-2222-4333-8444-555555555555")
        );
        let busy = Fake {
            reply: "-ERR USER_BUSY\n".into(),
            ..Default::default()
        };
        let out = FsHost::new(&busy).originate(&leg("+12125550142")).unwrap();
        assert!(!out.answered);
        assert_eq!(out.cause.as_deref(), Some("USER_BUSY"));
        let (cmd, arg) = busy.calls.lock().unwrap()[0].clone();
        assert_eq!(cmd, "originate");
        assert!(
            arg.contains("}sofia/gateway/pstn/+12125550142 &park()"),
            "{arg}"
        );
    }

    #[test]
    fn unsafe_legs_never_reach_the_switch() {
        // A number with a dial-string separator is refused and no command is run.
        let fake = Fake::default();
        let host = FsHost::new(&fake);
        assert!(host.originate(&leg("+1212555,0142")).is_err());
        assert!(host.hangup("abc def", "NORMAL_CLEARING").is_err());
        assert!(host.hangup("abcdef", "NORMAL_CLEARING,x").is_err());
        assert!(fake.calls.lock().unwrap().is_empty());
    }

    #[test]
    fn fifo_callers_are_read_with_fifo_list() {
        // `fifo list <fifo>` is asked and its callers read; a refusal is an error, and a
        // fifo name that is not a token never reaches a command line.
        let fake = Fake {
            reply: "<fifo_report>\n  <fifo name=\"support\">\n    <callers>\n      <caller uuid=\"a\" timestamp=\"2026-11-23 14:00:00\" slot=\"1\"></caller>\n    </callers>\n  </fifo>\n</fifo_report>\n\n".into(),
            ..Default::default()
        };
        let host = FsHost::new(&fake);
        let callers = host.line_callers("support").unwrap();
        assert_eq!(callers.len(), 1);
        assert_eq!((callers[0].uuid.as_str(), callers[0].slot), ("a", 1));
        assert!(host.line_callers("support ${x}").is_err());
        assert!(host.line_callers("a,b").is_err());
        assert_eq!(
            *fake.calls.lock().unwrap(),
            [("fifo".to_string(), "list support".to_string())]
        );
        let refused = Fake {
            reply: "-ERR fifo Command not found!\n".into(),
            ..Default::default()
        };
        assert!(FsHost::new(&refused).line_callers("support").is_err());
    }

    #[test]
    fn callcenter_agents_are_read_and_marked_with_callcenter_config() {
        // The tables come from `callcenter_config agent list` / `tier list`; a claim is
        // state_if_waiting, a state with spaces is quoted, a refusal is an error, and an
        // agent name that is not a token never reaches a command line.
        let fake = Fake {
            reply: "-ERR Agent not found!\n".into(),
            ..Default::default()
        };
        let host = FsHost::new(&fake);
        host.centre_table(CentreTable::Agents).unwrap();
        host.centre_table(CentreTable::Tiers).unwrap();
        assert!(host.centre_mark("1001@default", CentreMark::Claim).is_err());
        let ok = Fake {
            reply: "+OK\n".into(),
            ..Default::default()
        };
        let host_ok = FsHost::new(&ok);
        host_ok
            .centre_mark("1001@default", CentreMark::OnCall)
            .unwrap();
        host_ok
            .centre_mark("1001@default", CentreMark::Free)
            .unwrap();
        assert!(host_ok.centre_mark("1001 x", CentreMark::Free).is_err());
        assert!(host_ok.centre_mark("a'b", CentreMark::Free).is_err());
        let calls = |f: &Fake| f.calls.lock().unwrap().clone();
        let args: Vec<String> = calls(&fake)
            .into_iter()
            .map(|(c, a)| format!("{c} {a}"))
            .collect();
        assert_eq!(
            args,
            [
                "callcenter_config agent list",
                "callcenter_config tier list",
                "callcenter_config agent set state_if_waiting 1001@default Receiving"
            ]
        );
        let args: Vec<String> = calls(&ok).into_iter().map(|(_, a)| a).collect();
        assert_eq!(
            args,
            [
                "agent set state 1001@default 'In a queue call'",
                "agent set state 1001@default Waiting"
            ]
        );
    }

    #[test]
    fn notifications_become_callback_info_headers() {
        // A transition is published with the documented Callback-* headers.
        let fake = Fake::default();
        FsHost::new(&fake).emit(&Notification {
            transcript: None,
            tags: Default::default(),
            action: "created".into(),
            callback_id: 9,
            state: State::Scheduled,
            queue: "sales".into(),
            kind: CallbackType::Delayed,
            due: chrono::DateTime::from_timestamp(1_800_000_000, 0),
        });
        let ev = fake.events.lock().unwrap()[0].clone();
        let get = |k: &str| ev.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Callback-Action"), Some("created"));
        assert_eq!(get("Callback-ID"), Some("9"));
        assert_eq!(get("Callback-State"), Some("scheduled"));
        assert_eq!(get("Callback-Queue"), Some("sales"));
        assert_eq!(get("Callback-Type"), Some("delayed"));
        assert_eq!(get("Callback-Due"), Some("1800000000"));
        assert_eq!(get("Callback-Transcript"), None);
        assert_eq!(get("Callback-Tags"), None);
    }

    #[test]
    fn a_transcribed_notification_carries_text_and_tags_on_one_line_each() {
        // A merged request's two transcripts become one header line; tags are key=value,...
        let fake = Fake::default();
        FsHost::new(&fake).emit(&Notification {
            action: "transcribed".into(),
            callback_id: 3,
            state: State::Scheduled,
            queue: "billing".into(),
            kind: CallbackType::Immediate,
            due: None,
            transcript: Some("my invoice\nis wrong".into()),
            tags: [("intent", "billing"), ("urgency", "high")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        let ev = fake.events.lock().unwrap()[0].clone();
        let get = |k: &str| ev.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Callback-Action"), Some("transcribed"));
        assert_eq!(get("Callback-Transcript"), Some("my invoice is wrong"));
        assert_eq!(get("Callback-Tags"), Some("intent=billing,urgency=high"));
    }
}
