//! The store a node's configuration names, opened once and seen through the traits its
//! parts need: the PostgreSQL server of `db-url` (shared by several nodes), else the SQLite
//! file of `db-path`.

use super::NodeError;
use crate::config::Config;
use crate::store::{PgStore, SqliteStore, Store, TranscriptStore, WebhookLog};
use std::path::Path;
use std::sync::Arc;

/// One database, by role: the callbacks, the transcription jobs, the outbox's cursors
/// (webhooks and notices); the PostgreSQL store once more for its notifications.
pub(super) struct Opened {
    pub store: Arc<dyn Store>,
    pub transcripts: Arc<dyn TranscriptStore>,
    pub outbox: Arc<dyn WebhookLog>,
    pub pg: Option<Arc<PgStore>>,
}

/// A database file whose directory does not exist can never be opened: that is a mistake
/// in the configuration, said at start, not an outage to wait out.
pub(super) fn check_db_dir(config: &Config) -> Result<(), NodeError> {
    if config.settings.db_url.is_some() {
        return Ok(());
    }
    let path = &config.settings.db_path;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(NodeError::NoDbDir {
            path: path.clone(),
            dir: dir.to_path_buf(),
        })
    }
}

/// Where the store is, for messages (the password of a `db-url` hidden).
pub(super) fn location(config: &Config) -> String {
    match &config.settings.db_url {
        Some(url) => url.to_string(),
        None => config.settings.db_path.display().to_string(),
    }
}

/// Opens the configured store.
pub(super) fn open(config: &Config) -> Result<Opened, NodeError> {
    let failed = |e: crate::store::StoreError| NodeError::Store {
        location: location(config),
        reason: e.to_string(),
    };
    match &config.settings.db_url {
        Some(url) => {
            let s = Arc::new(
                PgStore::open_tls(url.expose(), config.settings.db_ca_file.as_deref())
                    .map_err(failed)?
                    .for_node(&config.settings.node_id),
            );
            tracing::info!(
                "store: PostgreSQL at {} (db-url); db-path is not used",
                location(config)
            );
            Ok(Opened {
                store: s.clone(),
                transcripts: s.clone(),
                outbox: s.clone(),
                pg: Some(s),
            })
        }
        None => {
            // A fault of the database's disk (read-only, full, locked) does not stop the
            // start: it is said once, callers hear the apology prompt and the API answers
            // 503 until it is fixed, and every use tries again, so no reload is needed.
            let (store, fault) = SqliteStore::open_or_later(
                &config.settings.db_path,
                Some(config.settings.db_cache_kib),
            )
            .map_err(failed)?;
            if let Some(e) = fault {
                tracing::error!(
                    "{}: the store is unavailable: {e}; callback requests are refused until \
                     it is fixed (no reload needed)",
                    config.settings.db_path.display()
                );
            }
            let s = Arc::new(store);
            Ok(Opened {
                store: s.clone(),
                transcripts: s.clone(),
                outbox: s,
                pg: None,
            })
        }
    }
}
