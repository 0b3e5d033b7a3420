//! `/metrics`: the module's figures in the Prometheus text format.
//!
//! Most figures are read from the store at each scrape (callbacks by queue and state,
//! attempt results, transcription jobs and their processing times): they are durable, so a
//! restart does not reset them, and with a shared store they are the cluster's. The one
//! figure only the process sees — how late the dispatcher takes due callbacks — is a
//! histogram kept by the dispatcher since the module started.
//!
//! The exposition itself (names, labels, escaping, cumulative buckets) is the `prometheus`
//! crate's text encoder.

use crate::dispatch::{AgentState, Dispatcher};
use crate::model::State;
use crate::service::{CallbackService, Error};
use prometheus::proto::{Bucket, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, HistogramOpts, TextEncoder};
use std::collections::BTreeMap;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bounds of the dispatch lateness histogram, in seconds.
const LATENESS_BOUNDS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Bounds of the estimate error histogram, in seconds (the wait that happened less the
/// one told: below zero, called back sooner than told).
const ESTIMATE_ERROR_BOUNDS: &[f64] = &[
    -1800.0, -900.0, -300.0, -120.0, -60.0, -30.0, 0.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0,
];

/// Bounds of the transcription time histogram, in milliseconds.
const TRANSCRIPTION_BOUNDS_MS: &[u64] = &[250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

/// Why the figures could not be given.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Service(#[from] Error),
    #[error("encoding metrics: {0}")]
    Encode(String),
}

impl From<crate::store::StoreError> for MetricsError {
    fn from(e: crate::store::StoreError) -> Self {
        MetricsError::Service(e.into())
    }
}

/// A new dispatch lateness histogram: seconds from the due time a callback is claimed at to
/// the dispatcher taking it (0 when it was taken on time). A callback that waited for a
/// free agent was re-timed by each wait: this measures the dispatcher, not the queue. `None` only if the crate refused the fixed
/// name and bounds, which a test rules out.
pub fn lateness_histogram() -> Option<prometheus::Histogram> {
    let opts = HistogramOpts::new(
        "callback_dispatch_lateness_seconds",
        "Seconds from a callback's due time to this node's dispatcher taking it",
    )
    .buckets(LATENESS_BOUNDS.to_vec());
    prometheus::Histogram::with_opts(opts).ok()
}

/// A new estimate error histogram: for each callback that was told an estimated wait when
/// it was made, the seconds from then to its first offer to an agent, less the estimate.
/// `None` only if the crate refused the fixed name and bounds, which a test rules out.
pub fn estimate_error_histogram() -> Option<prometheus::Histogram> {
    let opts = HistogramOpts::new(
        "callback_estimate_error_seconds",
        "Seconds a callback waited for its first offer to an agent less the wait it was told",
    )
    .buckets(ESTIMATE_ERROR_BOUNDS.to_vec());
    prometheus::Histogram::with_opts(opts).ok()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name((*k).to_string());
            l.set_value((*v).to_string());
            l
        })
        .collect()
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

fn gauge(pairs: &[(&str, &str)], value: u64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value as f64);
    let mut m = Metric::default();
    m.set_label(labels(pairs));
    m.set_gauge(g);
    m
}

/// The figures, as the text a Prometheus server scrapes. `dispatcher`: this node's (its
/// agents and lateness histogram), when it runs.
pub fn render(
    service: &CallbackService,
    dispatcher: Option<&Dispatcher>,
) -> Result<String, MetricsError> {
    let store = service.store();
    let stats = store.stats()?;
    let figures = store.figures(TRANSCRIPTION_BOUNDS_MS)?;
    let mut families = Vec::new();

    // Every state of every configured queue, zeros included, so a graph has no gaps.
    let mut by: BTreeMap<(String, State), u64> = BTreeMap::new();
    for q in service.config().queues.keys() {
        for s in State::ALL {
            by.insert((q.clone(), *s), 0);
        }
    }
    for (queue, state, n) in stats.by_queue_state {
        by.insert((queue, state), n);
    }
    families.push(family(
        "callback_requests",
        "Callbacks in the store, by queue and state",
        MetricType::GAUGE,
        by.iter()
            .map(|((q, s), n)| gauge(&[("queue", q), ("state", s.as_str())], *n))
            .collect(),
    ));
    // A gauge, not a counter: an agent may correct an attempt's result after the call
    // (`callback result`, the panel's Mark Done), which moves it between series.
    families.push(family(
        "callback_attempts",
        "Finished call attempts in the store, by queue, leg (agent or customer) and result",
        MetricType::GAUGE,
        figures
            .attempts
            .iter()
            .map(|(q, leg, result, n)| gauge(&[("queue", q), ("leg", leg), ("result", result)], *n))
            .collect(),
    ));

    // Supervisors' figures (crate::insight): the backlog per queue and today's promises
    // kept, so alerts can fire on them. Today only (the last 24 hours cover every zone's
    // today): Prometheus keeps the history, so a scrape need not re-read a week
    // (`cargo bench --bench insight`: the week is ~7 times the work).
    let now = service.now();
    let cfg = service.config();
    // Waiting callbacks matter up to an hour ahead (due within the hour).
    let entries = crate::history::read(
        store.as_ref(),
        now - chrono::Duration::days(1),
        Some(now + chrono::Duration::hours(1)),
    )?;
    let queues: Vec<String> = cfg.queues.keys().cloned().collect();
    let mut backlog = crate::insight::backlog(&entries, now);
    for q in &queues {
        backlog.entry(q.clone()).or_default();
    }
    families.push(family(
        "callback_overdue",
        "Waiting callbacks whose due time passed over a minute ago, by queue",
        MetricType::GAUGE,
        backlog
            .iter()
            .map(|(q, (overdue, _))| gauge(&[("queue", q)], *overdue))
            .collect(),
    ));
    families.push(family(
        "callback_due_next_hour",
        "Waiting callbacks due within the next hour (overdue ones included), by queue",
        MetricType::GAUGE,
        backlog
            .iter()
            .map(|(q, (_, soon))| gauge(&[("queue", q)], *soon))
            .collect(),
    ));
    let today_start = |q: &str| {
        let zone = cfg
            .queues
            .get(q)
            .map_or(cfg.settings.default_time_zone, |c| c.zone());
        crate::insight::today(zone, now)
    };
    let promises =
        crate::insight::promises(&entries, &queues, cfg.settings.promise, today_start, now);
    let mut counted = Vec::new();
    let mut ratios = Vec::new();
    for p in &promises {
        let k = p.today;
        let q = p.queue.as_str();
        counted.push(gauge(
            &[("queue", q), ("period", "today"), ("kept", "yes")],
            k.kept,
        ));
        counted.push(gauge(
            &[("queue", q), ("period", "today"), ("kept", "no")],
            k.total - k.kept,
        ));
        if let Some(r) = k.ratio() {
            let mut g = Gauge::default();
            g.set_value(r);
            let mut m = Metric::default();
            m.set_label(labels(&[("queue", q), ("period", "today")]));
            m.set_gauge(g);
            ratios.push(m);
        }
    }
    families.push(family(
        "callback_promises",
        "Callbacks whose promise can be told, by queue, period (today) and whether the \
         first customer dial came within promise-minutes of the time promised",
        MetricType::GAUGE,
        counted,
    ));
    families.push(family(
        "callback_promise_kept_ratio",
        "Share of promises kept, by queue and period (today); absent without any",
        MetricType::GAUGE,
        ratios,
    ));

    let mut jobs: BTreeMap<&str, u64> = ["queued", "running", "done", "failed"]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    for (state, n) in &figures.transcription_jobs {
        jobs.insert(state.as_str(), *n);
    }
    let depth =
        jobs.get("queued").copied().unwrap_or(0) + jobs.get("running").copied().unwrap_or(0);
    families.push(family(
        "callback_transcription_queue_depth",
        "Recordings waiting for or in transcription",
        MetricType::GAUGE,
        vec![gauge(&[], depth)],
    ));
    families.push(family(
        "callback_transcription_jobs",
        "Transcription jobs in the store, by state",
        MetricType::GAUGE,
        jobs.iter()
            .map(|(s, n)| gauge(&[("state", s)], *n))
            .collect(),
    ));
    let h = &figures.transcription_ms;
    let mut hist = Histogram::default();
    hist.set_sample_count(h.count);
    hist.set_sample_sum(h.sum / 1000.0);
    hist.set_bucket(
        TRANSCRIPTION_BOUNDS_MS
            .iter()
            .zip(&h.cumulative)
            .map(|(bound, n)| {
                let mut b = Bucket::default();
                b.set_upper_bound(*bound as f64 / 1000.0);
                b.set_cumulative_count(*n);
                b
            })
            .collect(),
    );
    let mut m = Metric::default();
    m.set_histogram(hist);
    families.push(family(
        "callback_transcription_duration_seconds",
        "Processing time of finished transcriptions",
        MetricType::HISTOGRAM,
        vec![m],
    ));

    if let Some(d) = dispatcher {
        let mut states: BTreeMap<&str, u64> =
            AgentState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for a in d.agents().list() {
            *states.entry(a.state.as_str()).or_default() += 1;
        }
        families.push(family(
            "callback_agents",
            "Agents of this node, by state",
            MetricType::GAUGE,
            states
                .iter()
                .map(|(s, n)| gauge(&[("state", s)], *n))
                .collect(),
        ));
        if let Some(h) = d.lateness() {
            families.extend(prometheus::core::Collector::collect(h));
        }
        if let Some(h) = d.estimate_error() {
            families.extend(prometheus::core::Collector::collect(h));
        }
    }

    // The encoder refuses a family without a series (no attempt finished yet on a fresh
    // install): such a family is left out, as Prometheus clients do.
    families.retain(|f| !f.get_metric().is_empty());
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut out)
        .map_err(|e| MetricsError::Encode(e.to_string()))?;
    String::from_utf8(out).map_err(|e| MetricsError::Encode(e.to_string()))
}
