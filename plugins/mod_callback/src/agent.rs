//! `callback_agent <id>`: the agent leg of a callback, run on the agent's call once it
//! answered (the dispatcher originates the agent with `&callback_agent(<id>)`). The preview,
//! the customer leg and the outcome are the core's ([`callback_core::dispatch::preview`]);
//! this file adapts the call: prompts and keys through [`crate::ivr::FsCaller`], the
//! customer leg through the `bridge` application with a dial string built by
//! [`crate::dial::bridge_args`] from checked pieces only.

use crate::capture::set_error;
use crate::dial;
use crate::ffi::switch;
use crate::fshost::fresh_uuid;
use crate::ivr::{CallControl, FsCaller};
use callback_core::answer::Verdict;
use callback_core::dispatch::{preview, AgentLine, Dispatcher, PreviewEnd};
use callback_core::host::{LegOutcome, LegRequest};
use callback_core::ivr::{Answer, Ask, Caller, Prompt};

/// The agent's call as the preview's [`AgentLine`].
pub struct FsAgentLine<'a> {
    call: &'a dyn CallControl,
    caller: FsCaller<'a>,
}

impl<'a> FsAgentLine<'a> {
    pub fn new(call: &'a dyn CallControl, language: &str) -> Self {
        Self {
            call,
            caller: FsCaller::new(call, language),
        }
    }
}

impl AgentLine for FsAgentLine<'_> {
    fn alive(&self) -> bool {
        self.call.ready()
    }

    fn play(&mut self, prompts: &[Prompt]) -> bool {
        self.caller.play(prompts)
    }

    fn ask(&mut self, prompts: &[Prompt], ask: &Ask) -> Answer {
        self.caller.ask(prompts, ask)
    }

    fn uuid(&self) -> Option<String> {
        self.call.uuid()
    }

    fn set_data(&mut self, data: &std::collections::BTreeMap<String, String>) {
        for (k, v) in data {
            if !callback_core::capture::is_data_key(k) {
                continue;
            }
            // The checked setter refuses a value that would expand (`${...}`): left unset.
            if !self.call.set_var(&format!("callback_data_{k}"), Some(v)) {
                tracing::warn!("IVR data '{k}' not set on the agent's call: it would expand");
            }
        }
    }

    fn answer_verdict(&self) -> Option<Verdict> {
        verdict(self.call)
    }

    fn bridge(&mut self, leg: &LegRequest, on_answer: &(dyn Fn() + Sync)) -> LegOutcome {
        let uuid = fresh_uuid();
        let args = match dial::bridge_args(leg, &uuid) {
            Ok(a) => a,
            Err(e) => return not_dialled(leg, &e),
        };
        // The agent's call is answered, so while the customer rings FreeSWITCH plays it
        // `transfer_ringback`, else `ringback` (src/switch_ivr_originate.c:2440-2448), and
        // the customer's early media is ignored (the dial string says so): without them
        // the agent hears nothing at all until the customer answers.
        if let Some(tone) = leg.ringback.as_deref().and_then(ringback_value) {
            self.call.set_var("ringback", Some(&tone));
            self.call.set_var("transfer_ringback", Some(&tone));
        }
        // Old values would read as this bridge's outcome.
        self.call.set_var("originate_disposition", None);
        self.call.set_var("bridge_hangup_cause", None);
        self.call.set_var(crate::answer::VERDICT_VAR, None);
        // The check on answer (`callback_answer <id>`) runs on the customer's leg through
        // the originate's group confirm: `exec` runs the named application on the answered
        // leg before it wins (src/switch_ivr_originate.c:204-233 at v1.10.12); the agent
        // call's group_confirm_* variables are copied into the originate's (:2373-2386), and
        // `group_confirm_timeout` gives the leg that long after answer (:789-806) instead of
        // what is left of the no-answer timeout.
        let confirm = match &leg.application {
            Some((app, arg)) => match dial::check_app(app, arg) {
                Ok(()) => Some(format!("{app} {arg}")),
                Err(e) => return not_dialled(leg, &e),
            },
            None => None,
        };
        let confirm_vars: [(&str, Option<String>); 3] = [
            (
                "group_confirm_key",
                confirm.as_ref().map(|_| "exec".to_string()),
            ),
            ("group_confirm_file", confirm.clone()),
            (
                "group_confirm_timeout",
                confirm.as_ref().map(|_| CONFIRM_SECS.to_string()),
            ),
        ];
        for (name, value) in &confirm_vars {
            self.call.set_var(name, value.as_deref());
        }
        // With a check, the customer counts as reached when the check lets the leg win
        // (`group_dial_status=winner`, :228-233), not when it answers.
        let (watch_var, watch_value) = if confirm.is_some() {
            ("group_dial_status", "winner")
        } else {
            ("endpoint_disposition", "ANSWER")
        };
        // While the bridge runs on this thread, a watcher asks the switch whether the
        // customer leg (known by the uuid we gave it) has answered: FreeSWITCH marks an
        // answered channel `endpoint_disposition=ANSWER`.
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let answered =
                        switch::api_execute("uuid_getvar", &format!("{uuid} {watch_var}"))
                            .is_some_and(|(_, out)| out.trim() == watch_value);
                    if answered {
                        on_answer();
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
            self.call.execute("bridge", &args);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // A later bridge from this call must not run the check again.
        if confirm.is_some() {
            for (name, _) in &confirm_vars {
                self.call.set_var(name, None);
            }
        }
        let disposition = self.call.var("originate_disposition");
        let answered = matches!(disposition.as_deref(), Some("SUCCESS" | "ANSWER"));
        let cause = if answered {
            self.call.var("bridge_hangup_cause")
        } else {
            disposition
                .filter(|d| !d.is_empty())
                .or_else(|| self.call.var("bridge_hangup_cause"))
        };
        LegOutcome {
            uuid: Some(uuid),
            answered,
            cause,
        }
    }
}

/// A customer leg refused before dialling (a piece of its dial string failed its check):
/// logged, and ended as an invalid number.
fn not_dialled(leg: &LegRequest, e: &dial::DialError) -> LegOutcome {
    tracing::error!(callback_id = leg.callback_id, "not dialling: {e}");
    LegOutcome {
        uuid: None,
        answered: false,
        cause: Some("INVALID_NUMBER_FORMAT".into()),
    }
}

/// How long the customer's leg may take after answer for the check (listening, the
/// greeting and its key, a message left on a machine) before the originate gives up on it.
const CONFIRM_SECS: u32 = 60;

/// The verdict the check on answer handed to this call, if any.
fn verdict(call: &dyn CallControl) -> Option<Verdict> {
    call.var(crate::answer::VERDICT_VAR)
        .and_then(|v| Verdict::parse(&v))
}

/// The value to set for a configured ringback: as configured, or, for `${name}`, the global
/// variable's value (a channel variable set through the API is never expanded, and
/// `var_check` refuses `${` outright). An unknown variable falls back to the default tone,
/// said in the log: a silent agent is worse than the wrong cadence.
fn ringback_value(configured: &str) -> Option<String> {
    use callback_core::config::{ringback_variable, DEFAULT_RINGBACK};
    let Some(name) = ringback_variable(configured) else {
        return Some(configured.to_string());
    };
    let value = switch::api_execute("global_getvar", name)
        .map(|(_, out)| out.trim().to_string())
        .filter(|v| !v.is_empty() && !v.starts_with("-ERR") && !v.contains("${"));
    Some(value.unwrap_or_else(|| {
        tracing::warn!(
            "ringback ${{{name}}}: no such global variable; the agent hears {DEFAULT_RINGBACK}"
        );
        DEFAULT_RINGBACK.to_string()
    }))
}

/// Runs `callback_agent <id>` on an agent's call.
pub fn run(dispatcher: Option<&Dispatcher>, call: &dyn CallControl, data: &str) {
    let Some(d) = dispatcher else {
        return set_error(call, "mod_callback is not running");
    };
    let Ok(id) = data.trim().parse::<i64>() else {
        return set_error(call, "callback_agent needs a callback id");
    };
    let language = d
        .service()
        .config()
        .ivr_profile(None)
        .map(|p| p.language)
        .unwrap_or_else(|| "en".into());
    // Only a leg the dispatcher originated carries these (set in its dial string); a
    // phone that dials the application by hand has neither.
    let agent = call
        .var("callback_agent")
        .filter(|_| call.var("callback_leg").as_deref() == Some("agent"))
        .filter(|_| call.var("callback_id").as_deref() == Some(data.trim()));
    let mut line = FsAgentLine::new(call, &language);
    match preview::run(d, id, agent.as_deref(), &mut line) {
        Ok(end) => {
            let result = match &end {
                PreviewEnd::NotOffered => "NOT_OFFERED".to_string(),
                PreviewEnd::Rejected => "REJECTED".into(),
                PreviewEnd::Rescheduled => "RESCHEDULED".into(),
                PreviewEnd::DoNotCall => "DO_NOT_CALL".into(),
                PreviewEnd::Requeued => "REQUEUED".into(),
                PreviewEnd::NotDialled(_) => "NOT_DIALLED".into(),
                PreviewEnd::Dialled(r) => {
                    format!("DIALLED_{}", r.as_str().to_uppercase().replace('-', "_"))
                }
            };
            call.set_var("callback_result", Some(&result));
            call.set_var("callback_error", None);
        }
        Err(e) => {
            tracing::error!(callback_id = id, "callback_agent {id}: {e}");
            set_error(call, &e.to_string());
        }
    }
}
