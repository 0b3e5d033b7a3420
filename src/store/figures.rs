//! What `/metrics` reads from the database: durable totals, so they survive restarts and
//! (with a shared store) count the work of every node.

/// Totals for the metrics endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// `(queue, leg, result, count)` of finished attempts.
    pub attempts: Vec<(String, String, String, u64)>,
    /// `(state, count)` of transcription jobs (`queued`, `running`, `done`, `failed`).
    pub transcription_jobs: Vec<(String, u64)>,
    /// Processing time of finished transcriptions, per the bounds asked for.
    pub transcription_ms: Histogram,
}

/// A histogram of stored durations: `cumulative[i]` counts the values `<= bounds[i]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub count: u64,
    pub sum: f64,
    pub cumulative: Vec<u64>,
}
