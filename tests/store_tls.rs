//! TLS to PostgreSQL (`db-ca-file`, issue #18 item 4) against the test server, which
//! `.ci/postgres` gives a certificate from a test CA (copied to `CALLBACK_PG_CA`, default
//! /tmp/callback-pg-ca.pem). Without that server these tests say they skipped; under
//! `CI=true` they fail. The checks of the file itself need no server.

#[path = "support/backends.rs"]
mod backends;
#[path = "support/store_fixtures.rs"]
mod fixtures;

use backends::{pg_available, pg_url, PgSchema};
use callback_core::config::Config;
use callback_core::store::prelude::*;
use callback_core::store::{CreateOptions, PgStore, StoreError};
use fixtures::{draft, t};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The test CA, when the server is there and was given its certificate.
fn test_ca() -> Option<PathBuf> {
    if !pg_available() {
        return None;
    }
    let path = PathBuf::from(
        std::env::var("CALLBACK_PG_CA").unwrap_or_else(|_| "/tmp/callback-pg-ca.pem".into()),
    );
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "TLS to PostgreSQL is tested under CI=true but {} is missing (run .ci/postgres)",
        path.display()
    );
    eprintln!(
        "note: skipping the TLS test: {} is missing; run .ci/postgres",
        path.display()
    );
    None
}

/// `url` with `sslmode=require`: a server without TLS, or a client that cannot verify it,
/// does not connect.
fn require_tls(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode=require")
}

/// Whether every connection of the store named `app` is encrypted, as the server sees it.
fn encrypted(app: &str) -> Vec<bool> {
    let mut admin = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap();
    admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = $1",
            &[&app],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn the_store_speaks_tls_to_a_server_whose_certificate_chains_to_the_ca() {
    // With db-ca-file and sslmode=require the store works over TLS (the server says so);
    // without the CA the same URL cannot be met and the store does not open.
    let Some(ca) = test_ca() else { return };
    let schema = PgSchema::new();
    let url = require_tls(&schema.url);
    let store = PgStore::open_tls(&url, Some(&ca)).unwrap();
    let (created, _) = store
        .create(
            &draft("+493012345678", "sales", 60),
            &CreateOptions::default(),
            t(0),
        )
        .unwrap();
    assert_eq!(store.get(created.id).unwrap().number, "+493012345678");
    let seen = encrypted(&schema.name);
    assert!(!seen.is_empty() && seen.iter().all(|s| *s), "{seen:?}");

    let err = PgStore::open(&url).unwrap_err().to_string();
    assert!(err.contains("TLS"), "{err}");
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    // A CA the server's certificate does not chain to: the handshake fails and says why.
    let Some(_) = test_ca() else { return };
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.pem");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=another CA", "-keyout"])
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other)
        .output()
        .expect("openssl (installed by .ci/setup)");
    assert!(made.status.success(), "{made:?}");
    let schema = PgSchema::new();
    let err = PgStore::open_tls(&require_tls(&schema.url), Some(&other))
        .unwrap_err()
        .to_string();
    assert!(err.contains("certificate"), "{err}");
    assert!(err.contains("TLS"), "{err}");
}

#[test]
fn a_ca_file_that_is_missing_or_holds_no_certificate_is_refused_naming_db_ca_file() {
    // The file is read before any connection: a wrong one is the admin's error, named.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    for path in [dir.path().join("missing.pem"), junk] {
        let err = PgStore::open_tls("postgres://cb@127.0.0.1:1/none", Some(&path)).unwrap_err();
        match &err {
            StoreError::Invalid { field, message } => {
                assert_eq!(*field, "db-ca-file");
                assert!(message.contains(&*path.to_string_lossy()), "{message}");
            }
            other => panic!("{path:?}: {other}"),
        }
    }
}

#[test]
fn db_ca_file_is_checked_when_the_configuration_is_read() {
    // The key needs db-url and a file that is there; a good one is kept for the store.
    let conf = |url: &str, ca: &str| {
        format!(
            r#"<configuration name="callback.conf"><settings>
      <param name="db-url" value="{url}"/><param name="db-ca-file" value="{ca}"/>
      </settings></configuration>"#
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "-").unwrap();
    let ca_text = ca.to_string_lossy().to_string();
    let c = Config::from_xml(&conf("postgres://cb@db/callbacks", &ca_text)).unwrap();
    assert_eq!(c.settings.db_ca_file.as_deref(), Some(Path::new(&ca)));
    for (url, file, why) in [
        ("", ca_text.as_str(), "set db-url too"),
        (
            "postgres://cb@db/callbacks",
            "/nonexistent/ca.pem",
            "not a readable file",
        ),
    ] {
        let err = Config::from_xml(&conf(url, file)).unwrap_err().to_string();
        assert!(err.contains("db-ca-file") && err.contains(why), "{err}");
    }
}
