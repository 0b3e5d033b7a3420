//! The SQLite backend (rusqlite, bundled): WAL, `PRAGMA user_version` migrations.

/// The embedded store.
pub struct SqliteStore {
    // the store helper decides
}
