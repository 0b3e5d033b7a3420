//! The store's layout, as issue #18 asks it to stay: the backends side by side and apart
//! (neither imports the other, the shared rules import neither), and no file of the store
//! longer than 800 lines unless it says at its top why. Read from the source tree.

use std::path::{Path, PathBuf};

fn store_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store")
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

/// The lines of `text` that are code (not comments), for looking at what a file uses.
fn code(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l))
}

/// `(file:line, words)` of every code line under `dir` naming one of `words`.
fn uses(dir: &Path, words: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in sources(dir) {
        for (n, line) in code(&text) {
            for w in words {
                if line.contains(w) {
                    found.push(format!("{}:{n}: {w}", path.display()));
                }
            }
        }
    }
    found
}

#[test]
fn the_backends_and_the_rules_import_nothing_of_each_other() {
    // PostgreSQL's folder names nothing of SQLite's, SQLite's nothing of PostgreSQL's, and
    // the shared rules neither backend nor driver.
    let store = store_dir();
    let pg = uses(&store.join("pg"), &["sqlite::", "SqliteStore", "rusqlite"]);
    assert!(pg.is_empty(), "pg/ uses the SQLite backend: {pg:#?}");
    let sqlite = uses(&store.join("sqlite"), &["pg::", "PgStore", "postgres::"]);
    assert!(
        sqlite.is_empty(),
        "sqlite/ uses the PostgreSQL backend: {sqlite:#?}"
    );
    let rules = uses(
        &store.join("rules"),
        &[
            "sqlite::",
            "pg::",
            "SqliteStore",
            "PgStore",
            "rusqlite",
            "postgres::",
        ],
    );
    assert!(rules.is_empty(), "rules/ uses a backend: {rules:#?}");
}

#[test]
fn no_store_file_is_longer_than_800_lines_without_saying_why() {
    // A longer file states its reason in its opening comment ("Longer than 800 lines: ...").
    let long: Vec<String> = sources(&store_dir())
        .into_iter()
        .filter(|(_, text)| text.lines().count() > 800)
        .filter(|(_, text)| {
            !text
                .lines()
                .take_while(|l| l.starts_with("//!"))
                .any(|l| l.contains("Longer than 800 lines:"))
        })
        .map(|(path, text)| format!("{} ({} lines)", path.display(), text.lines().count()))
        .collect();
    assert!(long.is_empty(), "too long without a reason: {long:#?}");
}

#[test]
fn every_door_is_written_once_in_the_rules_not_in_a_backend() {
    // Issue #18: a backend folder holds its executor and its own SQL; the doors (their
    // trait impls and the statements of the shared writes) are written once in rules/ and
    // stamped for each backend, so no backend implements one by hand.
    let store = store_dir();
    let doors = [
        "impl SessionStore for",
        "impl AgentStore for",
        "impl Reads for",
        "impl JobQueue for",
        "impl Lifecycle for",
        "impl CursorTx for",
        // A row's cells are read by the driver's typed getter alike (`rules::exec::cells_by!`).
        "impl Cells for",
        "fn set_request_hash(",
        "fn set_disposition(",
        "fn session_get(",
        "fn agent_board(",
        "fn claim_next(",
        "fn next_wakeup(",
    ];
    for backend in ["sqlite", "pg"] {
        let found = uses(&store.join(backend), &doors);
        assert!(
            found.is_empty(),
            "{backend}/ implements a door by hand: {found:#?}"
        );
    }
    // ... and each backend does implement the executor the doors run on.
    for backend in ["sqlite", "pg"] {
        let exec = uses(&store.join(backend), &["impl Backend for", "Exec for"]);
        assert!(exec.len() >= 2, "{backend}/ has no executor: {exec:#?}");
    }
}

#[test]
fn the_migration_steps_are_written_once_in_the_rules() {
    // Issue #18: the schema's steps are one list in rules/ rendered per dialect; a backend
    // folder runs them and writes no table or index of its own.
    let store = store_dir();
    let ddl = [
        "CREATE TABLE",
        "CREATE INDEX",
        "CREATE UNIQUE INDEX",
        "ADD COLUMN",
        "DROP INDEX",
        "ALTER TABLE",
    ];
    for backend in ["sqlite", "pg"] {
        // The runner's own version table (PostgreSQL's user_version) is created where
        // missing, not by a step.
        let found: Vec<String> = sources(&store.join(backend))
            .iter()
            .flat_map(|(path, text)| {
                code(text)
                    .filter(|(_, l)| ddl.iter().any(|w| l.contains(w)))
                    .filter(|(_, l)| !l.contains("CREATE TABLE IF NOT EXISTS"))
                    .map(|(n, l)| format!("{}:{n}: {}", path.display(), l.trim()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(found.is_empty(), "{backend}/ writes schema: {found:#?}");
    }
    // ... and the steps the rules render are the schema: its first step makes the
    // callbacks table, on both engines.
    use callback_core::store::{migration_steps, Engine};
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let steps = migration_steps(engine);
        assert!(
            steps
                .first()
                .is_some_and(|s| s.contains("CREATE TABLE callbacks")),
            "{engine:?}: the rules' first step does not make the callbacks table: {steps:#?}"
        );
    }
}
