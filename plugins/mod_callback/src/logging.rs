//! The core's `tracing` output, forwarded to the host's logger (FreeSWITCH:
//! `switch_log_printf` with a literal `"%s"`). The call uuid and callback id are taken from
//! the event's fields or from an enclosing span (`uuid`, `callback_id`), so the log line of
//! a transition names the call and the callback.

use std::fmt::Write as _;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Where a log line comes from: a real source file (relative to the workspace, as `file!()`
/// and `tracing` give it) and line, which FreeSWITCH prints beside the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: &'static str,
    pub line: u32,
}

impl Origin {
    /// The caller's own file and line.
    #[track_caller]
    pub fn here() -> Self {
        let at = std::panic::Location::caller();
        Self {
            file: at.file(),
            line: at.line(),
        }
    }
}

/// Where formatted lines go: `(freeswitch log level, call uuid, source, text)`.
pub type Sink = Box<dyn Fn(i32, Option<&str>, Origin, &str) + Send + Sync>;

/// FreeSWITCH's level for a tracing level.
pub fn switch_level(level: &Level) -> i32 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// The fields a line is labelled with.
#[derive(Default, Clone)]
struct Labels {
    uuid: Option<String>,
    callback_id: Option<String>,
}

#[derive(Default)]
struct Collect {
    labels: Labels,
    message: String,
    rest: String,
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Collect {
    fn record(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            "uuid" | "call_uuid" => self.labels.uuid = Some(value),
            "callback_id" => self.labels.callback_id = Some(value),
            other => {
                let _ = write!(self.rest, " {other}={value}");
            }
        }
    }
}

/// The layer that forwards events to a [`Sink`].
pub struct HostLayer {
    sink: Sink,
    max: Level,
}

impl HostLayer {
    /// `max`: the most verbose level forwarded (`MOD_CALLBACK_LOG=debug` raises it).
    pub fn new(sink: Sink, max: Level) -> Self {
        Self { sink, max }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for HostLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut c = Collect::default();
        attrs.record(&mut c);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(c.labels);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() > self.max {
            return;
        }
        let mut c = Collect::default();
        event.record(&mut c);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(l) = span.extensions().get::<Labels>() {
                    c.labels.uuid = c.labels.uuid.take().or_else(|| l.uuid.clone());
                    c.labels.callback_id = c
                        .labels
                        .callback_id
                        .take()
                        .or_else(|| l.callback_id.clone());
                }
            }
        }
        let mut line = String::from("mod_callback: ");
        if let Some(id) = &c.labels.callback_id {
            let _ = write!(line, "[callback {id}] ");
        }
        // Numbers in logs show their last four digits only (privacy: logs travel further
        // than the callback data).
        line.push_str(&callback_core::number::mask_numbers(&c.message));
        line.push_str(&callback_core::number::mask_numbers(&c.rest));
        let meta = event.metadata();
        // `tracing` always records the call site; the fallback only keeps the type total.
        let at = match (meta.file(), meta.line()) {
            (Some(file), Some(line)) => Origin { file, line },
            _ => Origin::here(),
        };
        (self.sink)(
            switch_level(meta.level()),
            c.labels.uuid.as_deref(),
            at,
            &line,
        );
    }
}

/// Installs the layer as this library's global subscriber (once; later calls are no-ops,
/// e.g. after a reload that kept the library mapped).
pub fn install(sink: Sink) {
    use tracing_subscriber::layer::SubscriberExt;
    let max = match std::env::var("MOD_CALLBACK_LOG").as_deref() {
        Ok("debug") | Ok("trace") => Level::DEBUG,
        _ => Level::INFO,
    };
    let subscriber = tracing_subscriber::registry().with(HostLayer::new(sink, max));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn lines_carry_the_call_uuid_and_callback_id() {
        // An event inside a call's span is logged with the span's uuid and its own callback id.
        type Lines = Arc<Mutex<Vec<(i32, Option<String>, String)>>>;
        let lines: Lines = Arc::default();
        let sink_lines = lines.clone();
        let origins: Arc<Mutex<Vec<Origin>>> = Arc::default();
        let sink_origins = origins.clone();
        let sink: Sink = Box::new(move |lvl, uuid, at, text| {
            sink_origins.lock().unwrap().push(at);
            sink_lines
                .lock()
                .unwrap()
                .push((lvl, uuid.map(str::to_string), text.to_string()))
        });
        let sub = tracing_subscriber::registry().with(HostLayer::new(sink, Level::INFO));
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("call", uuid = "abc-123");
            let _e = span.enter();
            tracing::info!(callback_id = 7, queue = "sales", "callback created");
            tracing::debug!("not forwarded at info");
            tracing::warn!("no callback here");
            tracing::info!(number = "+12125550142", "refused +4930123456");
        });
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 3);
        // Each line names this file and the line of its macro call.
        let origins = origins.lock().unwrap();
        assert!(origins.iter().all(|o| o.file.ends_with("src/logging.rs")));
        let source = include_str!("logging.rs");
        for o in origins.iter() {
            let text = source.lines().nth(o.line as usize - 1).unwrap_or_default();
            assert!(text.contains("tracing::"), "line {} is {text:?}", o.line);
        }
        assert_eq!(lines[2].2, "mod_callback: refused …3456 number=…0142");
        assert_eq!(lines[0].0, 6);
        assert_eq!(lines[0].1.as_deref(), Some("abc-123"));
        assert_eq!(
            lines[0].2,
            "mod_callback: [callback 7] callback created queue=sales"
        );
        assert_eq!(lines[1].0, 4);
        assert_eq!(lines[1].2, "mod_callback: no callback here");
    }
}
