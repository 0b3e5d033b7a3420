//! The per-number cap's lock: one per share of the numbers, not one for every create.

use super::*;
use crate::clock::SystemClock;
use crate::host::Detached;
use crate::store::SqliteStore;

#[test]
fn a_create_for_another_number_does_not_wait_for_a_held_cap_check() {
    // While the cap check of one number holds its lock, a create for another number goes
    // through (with one lock for all numbers it waited for the first to finish).
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("cb.db")).unwrap();
    let config = Config::from_xml(
        r#"<configuration name="callback.conf"><settings>
          <param name="default-region" value="US"/>
          <param name="default-queue" value="web"/>
          <param name="max-pending-per-number" value="2"/>
        </settings>
        <queues><queue name="web"><param name="hours" value="always"/></queue></queues>
        </configuration>"#,
    )
    .unwrap();
    let svc = Arc::new(CallbackService::new(
        Arc::new(store),
        Arc::new(config),
        Arc::new(SystemClock),
        Arc::new(Detached::default()),
    ));
    // Two numbers guarded by different locks.
    let held = "+12125550100";
    let other = (101..200)
        .map(|n| format!("+12125550{n}"))
        .find(|n| svc.caps_lock_index(n) != svc.caps_lock_index(held))
        .unwrap();
    let guard = svc.caps_lock(held);
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = {
        let svc = svc.clone();
        std::thread::spawn(move || {
            let req = NewRequest::new(CallbackType::Immediate, other, Requested::Now, Source::Web);
            let _ = tx.send(svc.request(req).map(|(r, _)| r.id));
        })
    };
    // A bound so a regression fails instead of hanging the suite; not a timing assertion.
    let stored = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the create for another number waited for the held lock");
    assert!(stored.is_ok(), "{stored:?}");
    drop(guard);
    worker.join().unwrap();
}
