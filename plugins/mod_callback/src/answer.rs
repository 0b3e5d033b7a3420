//! `callback_answer <id>`: the check on an answered customer leg, before the agent is
//! connected. The agent's `bridge` runs it through FreeSWITCH's group confirm: with
//! `group_confirm_key=exec` and `group_confirm_file=callback_answer <id>` on the agent's
//! call (copied into the originate's variables, src/switch_ivr_originate.c:2373-2386 at
//! v1.10.12), the originate runs the application on the answered leg, on a thread of its
//! own (`collect_thread_run`, :186-286, launched at :292-301); when it returns with the leg
//! still up the leg wins and the bridge completes (:228-233), and when the application
//! hung the leg up the originate fails with that leg's cause (:3936-3946), which the
//! agent's `bridge` reads as a leg not answered.
//!
//! The check itself is the core's ([`callback_core::answer::run`]). This file adapts the
//! leg: prompts, keys and the recording through [`FsCaller`], the telephony server's own
//! detection read from channel variables, and the verdict handed to the agent's call with
//! `uuid_setvar` (its uuid and the verdict both checked: a uuid and a fixed word).

use crate::dial::check_uuid;
use crate::ffi::switch;
use crate::ivr::{CallControl, FsCaller};
use callback_core::answer::{self, CustomerLine, HostDetection, Verdict};
use callback_core::dispatch::Dispatcher;
use callback_core::ivr::{Answer, Ask, Caller, Prompt, RecordSpec};
use std::path::Path;

/// The agent call's variable that receives the verdict.
pub const VERDICT_VAR: &str = "callback_answer";

/// The customer's answered leg as the core's [`CustomerLine`].
struct FsCustomerLine<'a> {
    call: &'a dyn CallControl,
    caller: FsCaller<'a>,
    id: i64,
    /// The agent's call (checked as a uuid), which receives the verdict.
    agent_uuid: String,
}

impl Caller for FsCustomerLine<'_> {
    fn caller_id(&self) -> Option<String> {
        self.caller.caller_id()
    }
    fn uuid(&self) -> Option<String> {
        self.caller.uuid()
    }
    fn alive(&self) -> bool {
        self.caller.alive()
    }
    fn play(&mut self, prompts: &[Prompt]) -> bool {
        self.caller.play(prompts)
    }
    fn ask(&mut self, prompts: &[Prompt], ask: &Ask) -> Answer {
        self.caller.ask(prompts, ask)
    }
    fn record(&mut self, path: &Path, spec: &RecordSpec) {
        self.caller.record(path, spec)
    }
}

impl CustomerLine for FsCustomerLine<'_> {
    /// An AMD module's `amd_result` (`MACHINE` / `HUMAN` / `NOTSURE`; third-party modules
    /// such as mod_amd set it, with `amd_cause`), and mod_avmd's `avmd_detect=TRUE`, set on
    /// the channel when it hears a voicemail beep (src/mod/applications/mod_avmd/
    /// mod_avmd.c:1971 at v1.10.12, with the `avmd::beep` event, :128). An admin starts
    /// them with `execute_on_answer` on the leg.
    fn host_detection(&self) -> HostDetection {
        let amd = self.call.var("amd_result");
        HostDetection {
            machine: match amd.as_deref().map(str::trim) {
                Some(v) if v.eq_ignore_ascii_case("machine") => Some(true),
                Some(v) if v.eq_ignore_ascii_case("human") => Some(false),
                _ => None,
            },
            beep: self
                .call
                .var("avmd_detect")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        }
    }

    /// The verdict first (`uuid_setvar` on the agent's call), then the hangup: the agent's
    /// bridge returns once this leg is gone, while this thread (the originate's detached
    /// collect thread, src/switch_ivr_originate.c:292-301) may still be running.
    fn hang_up(&mut self, verdict: Verdict) {
        let arg = format!("{} {VERDICT_VAR} {}", self.agent_uuid, verdict.as_str());
        let taken = switch::api_execute("uuid_setvar", &arg)
            .is_some_and(|(_, out)| out.trim_start().starts_with("+OK"));
        if !taken {
            tracing::error!(
                callback_id = self.id,
                "callback {}: the agent's call did not take the verdict",
                self.id
            );
        }
        self.call.execute("hangup", "NORMAL_CLEARING");
    }
}

/// Runs `callback_answer <id>` on the customer's answered leg.
pub fn run(dispatcher: Option<&Dispatcher>, call: &dyn CallControl, data: &str) {
    let Some(d) = dispatcher else {
        return;
    };
    let Ok(id) = data.trim().parse::<i64>() else {
        tracing::error!("callback_answer needs a callback id, not '{}'", data.trim());
        return;
    };
    // Only a leg the agent's bridge dialled carries these (its dial string set them).
    let ours = call.var("callback_leg").as_deref() == Some("customer")
        && call.var("callback_id").as_deref() == Some(data.trim());
    let agent_uuid = call
        .var("callback_agent_uuid")
        .filter(|u| check_uuid(u).is_ok());
    let (true, Some(agent_uuid)) = (ours, agent_uuid) else {
        tracing::warn!("callback_answer {id}: not a customer leg of callback {id}; no check");
        return;
    };
    let svc = d.service();
    let cfg = svc.config();
    let Some(queue) = svc
        .store()
        .get(id)
        .ok()
        .and_then(|r| cfg.queue(Some(&r.queue)).cloned())
    else {
        tracing::warn!("callback_answer {id}: no such callback or queue; no check");
        return;
    };
    let language = cfg
        .ivr_profile(None)
        .map(|p| p.language)
        .unwrap_or_else(|| "en".into());
    let leg = call.uuid().unwrap_or_default();
    // In the module's own recordings directory, not the shared temp directory, where
    // another local user could have planted a link at a guessable name.
    let scratch = cfg.settings.recordings_dir.join(format!(
        "callback-answer-{id}-{}.wav",
        leg.chars()
            .filter(|c| c.is_ascii_hexdigit() || *c == '-')
            .collect::<String>()
    ));
    let mut line = FsCustomerLine {
        call,
        caller: FsCaller::new(call, &language),
        id,
        agent_uuid,
    };
    let engine = svc.transcription_engine();
    let (verdict, why) = answer::run(&queue.answer, &mut line, engine.as_deref(), &scratch);
    tracing::info!(
        callback_id = id,
        "callback {id}: on answer, {}: {why}",
        verdict.as_str()
    );
}
