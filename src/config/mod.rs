//! Configuration: `callback.conf.xml` read into plain key/values, validated with errors
//! that name the key.

/// A configuration error, naming where (`settings/horizon-days`, `queues/sales/hours`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ConfigError {
    pub at: String,
    pub message: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {}
