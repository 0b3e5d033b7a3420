//! The IVR dialogue: type → number → (day and slot) → recording → store → read-back.
//!
//! Rules a caller can rely on:
//! - every menu allows `tries` attempts (bad key or silence); then the IVR says goodbye and
//!   nothing is stored;
//! - the callback number is the caller ID when the caller confirms it, else one they key
//!   in, validated to E.164 (deny-listed prefixes refused with their own prompt);
//! - a scheduled callback offers only days and slots with capacity left, read out in the
//!   caller's zone (the profile's zone for the number's country, else the queue's);
//! - a recording with less voice than `min-record-ms` is "we did not hear you": asked once
//!   more, then the request goes on without one;
//! - a caller who hangs up after the number is known and after saying something still gets
//!   the callback, tagged `confirmed=no` (profile `keep-unconfirmed`);
//! - the request is stored before the read-back, and the read-back says the due time the
//!   store accepted.

use super::{Answer, Ask, Caller, IvrProfile, Prompt, RecordSpec};
use crate::access::{Disclosure, Principal, Reach};
use crate::model::{CallbackRequest, CallbackType, Recording, Source, Window};
use crate::number::NumberError;
use crate::recording::{self, RecordingDir};
use crate::schedule::{Slot, SlotState};
use crate::service::{self, CallbackService, NewRequest, Requested};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use std::path::Path;

/// What the caller's request became, as far as the caller may know it ([`crate::access`]):
/// a caller in the IVR holds a phone number, not a credential for callbacks others made.
#[derive(Debug)]
pub enum Stored {
    /// Their own callback (new), shown to them and to the dialplan.
    Own(Box<CallbackRequest>),
    /// It joined a callback already waiting for that number, made by someone else: the
    /// caller hears that one is pending, not when, and the dialplan gets no id.
    Joined,
}

/// How a run of the IVR ended.
#[derive(Debug)]
pub enum Outcome {
    /// Stored, and the caller heard when they will be called (or that a callback is
    /// already pending).
    Booked(Stored),
    /// The caller hung up; the request kept for them (unconfirmed), if any.
    HungUp(Option<Stored>),
    /// Ended politely without a request: why.
    Ended(String),
    /// The request could not be stored.
    Failed(service::Error),
}

/// Why the dialogue stopped early.
enum Stop {
    HungUp,
    Ended(String),
    Failed(service::Error),
}

type Flow<T> = Result<T, Stop>;

/// Keys of the slot menu beyond the slots themselves.
const MORE_KEY: &str = "9";
const ENTER_KEY: &str = "0";
const SLOTS_PER_PAGE: usize = 8;
/// Days offered at most (one key each).
const MAX_DAYS: usize = 9;

enum SlotPick {
    Slot(usize),
    More,
    Enter,
}

struct Dialogue<'a> {
    svc: &'a CallbackService,
    p: &'a IvrProfile,
    caller: &'a mut dyn Caller,
    kind: CallbackType,
    number: Option<String>,
    zone: Tz,
    when: Requested,
    /// The hours the caller said they may be called between (profile `ask-window`).
    window: Window,
    recording: Option<Recording>,
}

/// Runs the IVR on a call.
pub fn run(svc: &CallbackService, profile: &IvrProfile, caller: &mut dyn Caller) -> Outcome {
    let zone = svc
        .config()
        .queue(profile.queue.as_deref())
        .map(|q| q.zone())
        .unwrap_or(svc.config().settings.default_time_zone);
    let mut d = Dialogue {
        svc,
        p: profile,
        caller,
        kind: CallbackType::Immediate,
        number: None,
        zone,
        when: Requested::Now,
        window: Window::default(),
        recording: None,
    };
    match d.converse() {
        Ok(r) => Outcome::Booked(r),
        Err(Stop::Ended(why)) => Outcome::Ended(why),
        Err(Stop::Failed(e)) => Outcome::Failed(e),
        Err(Stop::HungUp) => d.after_hangup(),
    }
}

impl Dialogue<'_> {
    fn converse(&mut self) -> Flow<Stored> {
        if !self.caller.alive() {
            return Err(Stop::HungUp);
        }
        if self.p.tell_wait && !self.play(&self.wait_prompts()) {
            return Err(Stop::HungUp);
        }
        self.kind = self.choose_type()?;
        let number = self.confirm_number()?;
        // A number on the do-not-call list is refused now, before the caller records a
        // message for a callback that would never come.
        match self.svc.check_callable(&number) {
            Ok(()) => {}
            Err(service::Error::DoNotCall(_)) => {
                tracing::info!("callback_ivr: refused, the number is on the do-not-call list");
                if !self.play(&[self.p.prompt("do-not-call")]) {
                    return Err(Stop::HungUp);
                }
                return Err(self.goodbye("the number is on the do-not-call list"));
            }
            Err(e) => {
                // The list could not be read (the store failing): said as the store's
                // failure is everywhere, once, as an error; the caller hears the error prompt.
                if e.is_store_unavailable() {
                    tracing::error!("callback_ivr: the request was not stored: {e}");
                } else {
                    tracing::warn!("callback_ivr: the request was refused: {e}");
                }
                self.play(&[self.p.prompt("error")]);
                return Err(Stop::Failed(e));
            }
        }
        self.zone = self.zone_for(&number);
        self.number = Some(number);
        self.when = match self.kind {
            CallbackType::Immediate | CallbackType::AgentPreview => Requested::Now,
            CallbackType::Delayed => Requested::After(self.p.delay),
            CallbackType::Scheduled => self.choose_slot()?,
        };
        // A chosen slot is its own time; "now" and "in 30 minutes" may be bounded.
        if self.p.ask_window && !matches!(self.kind, CallbackType::Scheduled) {
            self.window = self.choose_window()?;
        }
        self.recording = self.record()?;
        let stored = match self.store(true) {
            Ok(r) => r,
            Err(e) => {
                self.discard_recording();
                // Put on the list while the caller was recording: said as such.
                let prompt = match e {
                    service::Error::DoNotCall(_) => "do-not-call",
                    _ => "error",
                };
                self.play(&[self.p.prompt(prompt)]);
                return Err(Stop::Failed(e));
            }
        };
        self.read_back(&stored);
        Ok(stored)
    }

    /// After a hang-up: keep the request when the number is known and something was said.
    fn after_hangup(&mut self) -> Outcome {
        if !self.p.keep_unconfirmed || self.number.is_none() || self.recording.is_none() {
            self.discard_recording();
            return Outcome::HungUp(None);
        }
        match self.store(false) {
            Ok(r) => Outcome::HungUp(Some(r)),
            Err(e) => {
                self.discard_recording();
                Outcome::Failed(e)
            }
        }
    }

    fn discard_recording(&mut self) {
        if let Some(r) = self.recording.take() {
            let _ = std::fs::remove_file(&r.path);
        }
    }

    fn play(&mut self, prompts: &[Prompt]) -> bool {
        self.caller.play(prompts)
    }

    fn goodbye(&mut self, why: impl Into<String>) -> Stop {
        if !self.play(&[self.p.prompt("goodbye")]) {
            return Stop::HungUp;
        }
        Stop::Ended(why.into())
    }

    /// Asks until `pick` accepts the answer, at most `tries` times; then says goodbye.
    fn choose<T>(
        &mut self,
        step: &str,
        prompts: &[Prompt],
        ask: &Ask,
        pick: impl Fn(&str) -> Option<T>,
    ) -> Flow<T> {
        match self.ask_tries(prompts, ask, pick)? {
            Some(v) => Ok(v),
            None => Err(self.goodbye(format!("no valid choice at {step}"))),
        }
    }

    /// Asks until `pick` accepts the answer, at most `tries` times; `None` when no try did.
    fn ask_tries<T>(
        &mut self,
        prompts: &[Prompt],
        ask: &Ask,
        pick: impl Fn(&str) -> Option<T>,
    ) -> Flow<Option<T>> {
        for _ in 0..self.p.tries.max(1) {
            match self.caller.ask(prompts, ask) {
                Answer::HungUp => return Err(Stop::HungUp),
                Answer::Digits(d) => {
                    if let Some(v) = pick(&d) {
                        return Ok(Some(v));
                    }
                    if !self.play(&[self.p.prompt("invalid-choice")]) {
                        return Err(Stop::HungUp);
                    }
                }
                Answer::Nothing => {
                    if !self.caller.alive() {
                        return Err(Stop::HungUp);
                    }
                }
            }
        }
        Ok(None)
    }

    fn key(&self) -> Ask {
        Ask::key(self.p.input_timeout_ms)
    }

    fn choose_type(&mut self) -> Flow<CallbackType> {
        let offer = self.p.offer.clone();
        if let [only] = offer.as_slice() {
            return Ok(*only);
        }
        let prompts = [self.p.prompt("offer")];
        let ask = self.key();
        self.choose("the type menu", &prompts, &ask, |k| {
            let n: usize = k.parse().ok()?;
            offer.get(n.checked_sub(1)?).copied()
        })
    }

    fn confirm_number(&mut self) -> Flow<String> {
        let numbers = &self.svc.config().numbers;
        let caller_id = self
            .caller
            .caller_id()
            .and_then(|c| numbers.normalize(&c).ok());
        if let Some(e164) = caller_id {
            let prompts = [
                self.p.prompt("number-is"),
                Prompt::Digits(e164.clone()),
                self.p.prompt("number-menu"),
            ];
            let ask = self.key();
            let keep = self.choose("the number menu", &prompts, &ask, |k| match k {
                "1" => Some(true),
                "2" => Some(false),
                _ => None,
            })?;
            if keep {
                return Ok(e164);
            }
        }
        self.enter_number()
    }

    fn enter_number(&mut self) -> Flow<String> {
        let ask = Ask {
            min: 3,
            max: 15,
            timeout_ms: self.p.input_timeout_ms,
            terminators: "#",
        };
        for _ in 0..self.p.tries.max(1) {
            let answer = self.caller.ask(&[self.p.prompt("enter-number")], &ask);
            let complaint = match answer {
                Answer::HungUp => return Err(Stop::HungUp),
                Answer::Nothing if !self.caller.alive() => return Err(Stop::HungUp),
                Answer::Nothing => "invalid-number",
                Answer::Digits(d) => match self.svc.config().numbers.normalize(&d) {
                    Ok(e164) => return Ok(e164),
                    Err(NumberError::Denied { .. }) => "denied-number",
                    Err(_) => "invalid-number",
                },
            };
            if !self.play(&[self.p.prompt(complaint)]) {
                return Err(Stop::HungUp);
            }
        }
        Err(self.goodbye("no valid callback number"))
    }

    /// The caller's zone: the profile's zone for the number's country, else the queue's.
    fn zone_for(&self, number: &str) -> Tz {
        crate::number::region_of(number)
            .and_then(|r| self.p.country_zones.get(&r).copied())
            .unwrap_or(self.zone)
    }

    fn free_slots(&self, date: NaiveDate) -> Flow<Vec<Slot>> {
        let grid = self
            .svc
            .availability(self.p.queue.as_deref(), date, Some(self.zone.name()))
            .map_err(Stop::Failed)?;
        Ok(grid
            .slots
            .into_iter()
            .filter(|s| s.state == SlotState::Available && s.left() > 0)
            .collect())
    }

    /// What to say for a day: "today", "tomorrow" or the date.
    fn day_prompt(&self, date: NaiveDate, at: DateTime<Utc>) -> Vec<Prompt> {
        let today = self.svc.now().with_timezone(&self.zone).date_naive();
        if date == today {
            vec![self.p.prompt("today")]
        } else if Some(date) == today.succ_opt() {
            vec![self.p.prompt("tomorrow")]
        } else {
            vec![self.p.prompt("on"), Prompt::Date(at, self.zone)]
        }
    }

    fn choose_slot(&mut self) -> Flow<Requested> {
        let today = self.svc.now().with_timezone(&self.zone).date_naive();
        let mut days: Vec<(NaiveDate, Vec<Slot>)> = Vec::new();
        for i in 0..self.p.schedule_days {
            let Some(date) = today.checked_add_signed(Duration::days(i64::from(i))) else {
                break;
            };
            let free = self.free_slots(date)?;
            if !free.is_empty() {
                days.push((date, free));
            }
            if days.len() == MAX_DAYS {
                break;
            }
        }
        if days.is_empty() {
            if !self.play(&[self.p.prompt("no-slots")]) {
                return Err(Stop::HungUp);
            }
            return Err(self.goodbye("no free slots in the coming days"));
        }
        let mut prompts = vec![self.p.prompt("choose-day")];
        for (i, (date, free)) in days.iter().enumerate() {
            prompts.push(self.p.prompt("for"));
            prompts.extend(self.day_prompt(*date, free[0].start));
            prompts.push(self.p.prompt("press"));
            prompts.push(Prompt::Number(i as u32 + 1));
        }
        let ask = self.key();
        let n = days.len();
        let day = self.choose("the day menu", &prompts, &ask, |k| {
            let d: usize = k.parse().ok()?;
            (1..=n).contains(&d).then_some(d - 1)
        })?;
        let (date, free) = days.swap_remove(day);
        self.choose_in_day(date, &free)
    }

    fn choose_in_day(&mut self, date: NaiveDate, free: &[Slot]) -> Flow<Requested> {
        let pages = free.len().div_ceil(SLOTS_PER_PAGE);
        let mut page = 0;
        let mut misses = 0;
        loop {
            let shown = &free[page * SLOTS_PER_PAGE..((page + 1) * SLOTS_PER_PAGE).min(free.len())];
            let mut prompts = vec![self.p.prompt("choose-time")];
            for (i, s) in shown.iter().enumerate() {
                prompts.push(self.p.prompt("for"));
                prompts.push(Prompt::Time(s.start, self.zone));
                prompts.push(self.p.prompt("press"));
                prompts.push(Prompt::Number(i as u32 + 1));
            }
            prompts.push(self.p.prompt("more-times"));
            let ask = self.key();
            let count = shown.len();
            let pick = self.choose("the time menu", &prompts, &ask, |k| match k {
                MORE_KEY => Some(SlotPick::More),
                ENTER_KEY => Some(SlotPick::Enter),
                _ => {
                    let n: usize = k.parse().ok()?;
                    (1..=count).contains(&n).then_some(SlotPick::Slot(n - 1))
                }
            })?;
            match pick {
                SlotPick::Slot(i) => return Ok(Requested::At(shown[i].start)),
                SlotPick::More => page = (page + 1) % pages.max(1),
                SlotPick::Enter => {
                    if let Some(at) = self.enter_time(date, free)? {
                        return Ok(Requested::At(at));
                    }
                    misses += 1;
                    if misses >= self.p.tries.max(1) {
                        return Err(self.goodbye("no available time entered"));
                    }
                }
            }
        }
    }

    /// A time keyed in as HHMM on `date`: accepted when a free slot holds it.
    fn enter_time(&mut self, date: NaiveDate, free: &[Slot]) -> Flow<Option<DateTime<Utc>>> {
        let ask = Ask {
            min: 4,
            max: 4,
            timeout_ms: self.p.input_timeout_ms,
            terminators: "#",
        };
        let answer = self.caller.ask(&[self.p.prompt("enter-time")], &ask);
        let at = match answer {
            Answer::HungUp => return Err(Stop::HungUp),
            Answer::Nothing if !self.caller.alive() => return Err(Stop::HungUp),
            Answer::Nothing => None,
            Answer::Digits(d) => {
                let hm = d.parse::<u32>().ok().filter(|_| d.len() == 4);
                hm.and_then(|hm| NaiveTime::from_hms_opt(hm / 100, hm % 100, 0))
                    .map(|t| crate::schedule::resolve_local(self.zone, date.and_time(t)))
            }
        };
        match at.filter(|t| free.iter().any(|s| s.start <= *t && *t < s.end)) {
            Some(t) => Ok(Some(t)),
            None => {
                if !self.play(&[self.p.prompt("slot-unavailable")]) {
                    return Err(Stop::HungUp);
                }
                Ok(None)
            }
        }
    }

    /// "Between 9 and 17": the hour from which and the hour until which the caller may be
    /// called, in the caller's zone (today's hours, or tomorrow's when today's are over).
    /// Just the pound key, or nothing, at the first question: any time.
    fn choose_window(&mut self) -> Flow<Window> {
        let ask = Ask {
            min: 1,
            max: 2,
            timeout_ms: self.p.input_timeout_ms,
            terminators: "#",
        };
        for _ in 0..self.p.tries.max(1) {
            let from = match self.caller.ask(&[self.p.prompt("window-from")], &ask) {
                Answer::HungUp => return Err(Stop::HungUp),
                Answer::Nothing if !self.caller.alive() => return Err(Stop::HungUp),
                Answer::Nothing => return Ok(Window::default()),
                Answer::Digits(d) => d.parse::<u32>().ok(),
            };
            let until = match from {
                None => None,
                Some(_) => match self.caller.ask(&[self.p.prompt("window-until")], &ask) {
                    Answer::HungUp => return Err(Stop::HungUp),
                    Answer::Nothing if !self.caller.alive() => return Err(Stop::HungUp),
                    Answer::Nothing => None,
                    Answer::Digits(d) => d.parse::<u32>().ok(),
                },
            };
            let window = from
                .zip(until)
                .and_then(|(f, u)| Window::hours(f, u, self.zone, self.svc.now()));
            if let Some(w) = window {
                return Ok(w);
            }
            if !self.play(&[self.p.prompt("invalid-choice")]) {
                return Err(Stop::HungUp);
            }
        }
        Err(self.goodbye("no valid hours for the window"))
    }

    /// Records the name and reason; `None` when the caller said nothing twice (the request
    /// goes on without a recording) or recordings cannot be written (logged).
    fn record(&mut self) -> Flow<Option<Recording>> {
        let dir = RecordingDir::new(&self.svc.config().settings.recordings_dir);
        let spec = RecordSpec {
            max_seconds: self.p.max_record_seconds,
            silence_threshold: self.p.silence_threshold,
            silence_seconds: self.p.silence_seconds,
        };
        if self.p.consent {
            let ask = self.key();
            let agreed = self.ask_tries(&[self.p.prompt("consent")], &ask, |k| match k {
                "1" => Some(true),
                "2" => Some(false),
                _ => None,
            })?;
            if agreed != Some(true) {
                tracing::info!("callback_ivr: the caller did not consent to a recording");
                return Ok(None);
            }
        }
        let mut quiet = 0;
        loop {
            let path = match dir.fresh(self.svc.now()) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("callback_ivr: the caller cannot be recorded: {e}");
                    return Ok(None);
                }
            };
            let intro = [self.p.prompt("record"), Prompt::File(self.p.tone.clone())];
            if !self.play(&intro) {
                return Err(Stop::HungUp);
            }
            self.caller.record(&path, &spec);
            let heard = self.heard(&path);
            if !self.caller.alive() {
                // What the caller said before hanging up is kept with the request.
                self.recording = heard;
                if self.recording.is_none() {
                    let _ = std::fs::remove_file(&path);
                }
                return Err(Stop::HungUp);
            }
            let Some(rec) = heard else {
                let _ = std::fs::remove_file(&path);
                quiet += 1;
                if quiet >= 2 {
                    return Ok(None);
                }
                if !self.play(&[self.p.prompt("too-short")]) {
                    return Err(Stop::HungUp);
                }
                continue;
            };
            if !self.p.review {
                return Ok(Some(rec));
            }
            match self.review(&rec)? {
                true => return Ok(Some(rec)),
                false => {
                    let _ = std::fs::remove_file(&rec.path);
                }
            }
        }
    }

    /// The recording when it holds at least `min-record-ms` of voice.
    fn heard(&self, path: &Path) -> Option<Recording> {
        let rec = match recording::inspect(path) {
            Ok(r) => r,
            Err(e) => {
                // Silence is a valid, quiet file; no file or a broken one means it could not
                // be written (its disk full or gone): said, and the caller goes on.
                tracing::warn!(
                    "callback_ivr: the recording {} is unusable: {e}",
                    path.display()
                );
                return None;
            }
        };
        let voiced = recording::voiced_ms(path, self.p.silence_threshold).ok()?;
        (voiced >= self.p.min_record_ms.min(rec.duration_ms).max(1)).then_some(rec)
    }

    /// Keep (true) or record again (false); listening back loops.
    fn review(&mut self, rec: &Recording) -> Flow<bool> {
        let ask = self.key();
        loop {
            let prompts = [self.p.prompt("review")];
            let choice = self.ask_tries(&prompts, &ask, |k| match k {
                "1" | "2" | "3" => k.chars().next(),
                _ => None,
            });
            match choice {
                // Said nothing to the review menu: what was recorded is kept.
                Ok(None) | Ok(Some('1')) => return Ok(true),
                Ok(Some('2')) => {
                    if !self.play(&[Prompt::File(rec.path.clone())]) {
                        self.recording = Some(rec.clone());
                        return Err(Stop::HungUp);
                    }
                }
                Ok(Some(_)) => return Ok(false),
                Err(Stop::HungUp) => {
                    self.recording = Some(rec.clone());
                    return Err(Stop::HungUp);
                }
                Err(other) => return Err(other),
            }
        }
    }

    fn store(&mut self, confirmed: bool) -> Result<Stored, service::Error> {
        let number = self.number.clone().unwrap_or_default();
        let mut req = NewRequest::new(self.kind, number, self.when.clone(), Source::Ivr);
        req.queue = self.p.queue.clone();
        req.time_zone = Some(self.zone.name().to_string());
        req.window = self.window;
        req.origin_uuid = self.caller.uuid();
        req.recording = self.recording.clone();
        req.ivr_data
            .insert("ivr-profile".into(), self.p.name.clone());
        if !confirmed {
            req.tags.insert("confirmed".into(), "no".into());
        }
        req.actor = Some("ivr".into());
        // The caller reaches no callback but the one they make (crate::access).
        let caller = Principal::new("ivr", Reach::Own);
        let result = self.svc.request(req);
        match &result {
            Ok((r, _)) => tracing::info!(
                callback_id = r.id,
                "callback_ivr: stored callback {} ({}{})",
                r.id,
                r.kind,
                if confirmed {
                    ""
                } else {
                    ", unconfirmed: the caller hung up"
                }
            ),
            // The store failing (its disk full, read-only, locked) is the admin's to fix.
            Err(e) if e.is_store_unavailable() => {
                tracing::error!("callback_ivr: the request was not stored: {e}")
            }
            Err(e) => tracing::warn!("callback_ivr: the request was refused: {e}"),
        }
        result.map(|(r, outcome)| match caller.disclosure(&r, outcome) {
            Disclosure::Full => Stored::Own(Box::new(r)),
            Disclosure::Withheld => Stored::Joined,
        })
    }

    /// "You are number 4 in line. The wait is about 10 minutes.": where a callback asked
    /// for now would stand in the profile's queue, before the caller chooses. Nothing
    /// without handling history (a guess would sound like a promise) or when the estimate
    /// cannot be made (logged).
    fn wait_prompts(&self) -> Vec<Prompt> {
        let cfg = self.svc.config();
        let Some(queue) = cfg.queue(self.p.queue.as_deref()) else {
            return Vec::new();
        };
        match crate::estimate::Estimate::next(self.svc, queue.name()) {
            Ok(e) if e.from_history => vec![
                self.p.prompt("position"),
                Prompt::Number(u32::try_from(e.place).unwrap_or(u32::MAX)),
                self.p.prompt("in-line"),
                self.p.prompt("wait-about"),
                Prompt::Number(e.minutes()),
                self.p.prompt("minutes"),
            ],
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!("callback_ivr: no wait estimate for {}: {e}", queue.name());
                Vec::new()
            }
        }
    }

    /// "We will call you back today at 3:15 PM. Goodbye." An immediate (or agent-preview)
    /// one: "... as soon as an agent is free. The wait is about 5 minutes." (the figure only
    /// from the queue's own recent handling times), never the current time as if it were a
    /// promise. A request that joined someone else's callback hears only "we will call you
    /// back": not that callback's time.
    fn read_back(&mut self, stored: &Stored) {
        let mut prompts = vec![self.p.prompt("booked")];
        match stored {
            Stored::Own(r) if matches!(self.when, Requested::Now) => {
                prompts.push(self.p.prompt("asap"));
                match crate::estimate::Estimate::of(self.svc, r) {
                    Ok(e) if e.from_history => {
                        prompts.push(self.p.prompt("wait-about"));
                        prompts.push(Prompt::Number(e.minutes()));
                        prompts.push(self.p.prompt("minutes"));
                    }
                    Ok(_) => {}
                    // The booking stands; only the figure is left out.
                    Err(e) => tracing::warn!(
                        callback_id = r.id,
                        "callback_ivr: no wait estimate for callback {}: {e}",
                        r.id
                    ),
                }
            }
            Stored::Own(r) => {
                if let Some(due) = r.due_at {
                    let date = due.with_timezone(&self.zone).date_naive();
                    prompts.extend(self.day_prompt(date, due));
                    prompts.push(self.p.prompt("at"));
                    prompts.push(Prompt::Time(due, self.zone));
                }
            }
            Stored::Joined => {}
        }
        prompts.push(self.p.prompt("goodbye"));
        self.play(&prompts);
    }
}
