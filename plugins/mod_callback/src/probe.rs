//! Debug builds only: hidden `callback` sub-commands that drive [`crate::fshost::FsHost`]
//! through the real switch, so the simulator can prove the originate / uuid_kill path end
//! to end before the dispatcher (which will be its real caller) exists. Not compiled into
//! release builds, so no caller can reach them on a production PBX.
//!
//! ```text
//! callback _originate <callback id> agent <dial template> <timeout secs>
//! callback _originate <callback id> customer <e164> <gateway template> <timeout secs>
//! callback _kill <uuid> <CAUSE>
//! ```

use callback_core::host::{Host, LegRequest, Target};
use callback_core::model::Leg;

/// Runs a probe line, or `None` when the line is not one.
pub fn run(host: &dyn Host, line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let reply = match words.as_slice() {
        ["_originate", id, rest @ ..] => {
            let Ok(callback_id) = id.parse() else {
                return Some("-ERR bad callback id\n".into());
            };
            let (leg, target, timeout) = match rest {
                ["agent", dial, t] => (
                    Leg::Agent,
                    Target::Agent {
                        id: "probe".into(),
                        dial: dial.to_string(),
                    },
                    t,
                ),
                ["customer", e164, gateway, t] => (
                    Leg::Customer,
                    Target::Customer {
                        e164: e164.to_string(),
                        gateway: gateway.to_string(),
                    },
                    t,
                ),
                _ => return Some("-ERR usage: callback _originate <id> agent <dial> <secs> | customer <e164> <gateway> <secs>\n".into()),
            };
            let req = LegRequest {
                callback_id,
                leg,
                target,
                timeout_secs: timeout.parse().unwrap_or(0),
                caller_id_name: "Callback".into(),
                caller_id_number: "+10000000000".into(),
                variables: vec![("callback_probe".into(), "true".into())],
                application: (leg == Leg::Agent)
                    .then(|| ("callback_agent".to_string(), callback_id.to_string())),
                ringback: None,
                uuid: None,
            };
            match host.originate(&req) {
                Ok(o) if o.answered => format!("+OK answered {}\n", o.uuid.unwrap_or_default()),
                Ok(o) => format!("+OK not-answered {}\n", o.cause.unwrap_or_default()),
                Err(e) => format!("-ERR {e}\n"),
            }
        }
        ["_kill", uuid, cause] => match host.hangup(uuid, cause) {
            Ok(()) => "+OK\n".into(),
            Err(e) => format!("-ERR {e}\n"),
        },
        _ => return None,
    };
    Some(reply)
}
