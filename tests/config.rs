//! callback.conf.xml: the shipped sample loads, and every broken fixture is refused with an
//! error that names the key (and line) and says why.

use callback_core::config::Config;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_sample_loads_with_its_queues() {
    // The commented sample an admin copies is valid and means what its comments say.
    let c = Config::load_file(&root().join("plugins/mod_callback/conf/callback.conf.xml")).unwrap();
    assert_eq!(c.settings.default_queue, "support");
    assert_eq!(c.queues.len(), 3);
    let support = c.queue(None).unwrap();
    assert_eq!(support.name(), "support");
    assert_eq!(support.zone().name(), "America/New_York");
    assert_eq!(support.rules.slots.minutes, 30);
    assert_eq!(support.rules.slots.capacity, 6);
    assert_eq!(support.retry.max_attempts, 3);
    assert_eq!(support.retry.failover_queue.as_deref(), Some("overflow"));
    assert_eq!(support.retry.ttl, Some(chrono::Duration::days(3)));
    assert_eq!(
        c.queue(Some("berlin-sales")).unwrap().rules.horizon,
        chrono::Duration::days(14)
    );
    assert_eq!(
        c.numbers.normalize("(212) 555-0142").unwrap(),
        "+12125550142"
    );
    assert!(c.numbers.normalize("+1 900 555 0100").is_err());
}

#[test]
fn minimal_file_gets_documented_defaults() {
    // A file with only a region yields one always-open default queue with the defaults.
    let c = Config::load_file(&root().join("fixtures/config/minimal.conf.xml")).unwrap();
    assert_eq!(c.settings.default_queue, "default");
    assert_eq!(c.settings.lease, chrono::Duration::seconds(300));
    assert!(c.settings.merge_pending);
    let q = c.queue(None).unwrap();
    assert_eq!(q.rules.horizon, chrono::Duration::days(30));
    assert_eq!(q.rules.slots.minutes, 30);
    assert_eq!(q.retry.max_attempts, 3);
}

#[test]
fn broken_files_name_the_key_and_the_reason() {
    // Each broken fixture fails with the offending key (or line) and why.
    let cases = [
        (
            "bad-unknown-key",
            "queues/support/slot-minuts (line 7)",
            "unknown key",
        ),
        (
            "bad-zone",
            "queues/default/time-zone",
            "unknown time zone 'Europe/Atlantis'",
        ),
        ("bad-hours", "queues/default/hours", "fry"),
        ("bad-range", "settings/horizon-days", "out of range"),
        ("bad-failover", "queues/default/failover-queue", "'nowhere'"),
        ("bad-xml", "line", "malformed XML"),
    ];
    for (file, at, why) in cases {
        let path = root().join(format!("fixtures/config/{file}.conf.xml"));
        let err = Config::load_file(&path).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(at), "{file}: {text}");
        assert!(text.contains(why), "{file}: {text}");
        assert!(
            text.contains(&format!("{file}.conf.xml")),
            "{file}: names the file: {text}"
        );
    }
}

#[test]
fn a_missing_file_says_so() {
    // A path that does not exist is an error naming the path, not a panic.
    let err = Config::load_file(&root().join("fixtures/config/nope.conf.xml")).unwrap_err();
    assert!(err.to_string().contains("nope.conf.xml"));
    assert!(err.to_string().contains("cannot read"));
}
