//! The store's reads and records against real databases, every test on both backends:
//! the do-not-call list, stats, `/metrics` figures, the panel's lists, transcription jobs
//! and a transcript's tags, and the purge of what callers said.

#[path = "support/backends.rs"]
mod backends;
#[path = "support/store_fixtures.rs"]
mod fixtures;

use backends::on_each;
use callback_core::model::{Recording, State};
use callback_core::store::{CreateOptions, JobState, StoreError};
use callback_core::transcribe::{Retry, TagRule, TagRules};
use chrono::Duration;
use fixtures::*;

#[test]
fn do_not_call_is_idempotent_and_keeps_the_first_date() {
    // Adding twice keeps one entry with the first date; removal reports whether it was there.
    on_each(|b| {
        let store = &*b.store;
        store.dnc_add("+493012345678", Some("asked"), t(0)).unwrap();
        store.dnc_add("+493012345678", None, t(100)).unwrap();
        store.dnc_add("+12125550142", None, t(5)).unwrap();
        assert!(store.dnc_contains("+493012345678").unwrap());
        assert!(!store.dnc_contains("+493012345679").unwrap());
        let list = store.dnc_list().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].number, "+493012345678");
        assert_eq!(
            (list[1].reason.as_deref(), list[1].added_at),
            (Some("asked"), t(0))
        );
        assert!(store.dnc_remove("+493012345678").unwrap());
        assert!(!store.dnc_remove("+493012345678").unwrap());
        assert!(!store.dnc_contains("+493012345678").unwrap());
    });
}

#[test]
fn stats_count_callbacks_by_queue_and_state() {
    // Stats group by queue and state, sorted by queue then lifecycle order.
    on_each(|b| {
        let store = &*b.store;
        for (i, q) in ["sales", "support", "sales", "sales"].iter().enumerate() {
            store
                .create(
                    &draft(&format!("+49301234567{i}"), q, i as i64),
                    &CreateOptions::default(),
                    t(0),
                )
                .unwrap();
        }
        store
            .claim_due("w", t(0), Duration::seconds(30), 1)
            .unwrap();
        let stats = store.stats().unwrap();
        assert_eq!(
            stats.by_queue_state,
            vec![
                ("sales".to_string(), State::Scheduled, 2),
                ("sales".to_string(), State::Due, 1),
                ("support".to_string(), State::Scheduled, 1),
            ]
        );
    });
}

#[test]
fn figures_count_attempt_results_jobs_and_transcription_times() {
    // What /metrics reads: finished attempts by queue, leg and result (unfinished ones not
    // counted), transcription jobs by state, and the finished jobs' times per bound.
    on_each(|b| {
        let store = &*b.store;
        let mut ids = Vec::new();
        for (i, q) in ["sales", "support"].iter().enumerate() {
            let (r, _) = store
                .create(
                    &draft(&format!("+49301234567{i}"), q, 0),
                    &CreateOptions::default(),
                    t(0),
                )
                .unwrap();
            ids.push(r.id);
        }
        for (id, leg, result) in [
            (ids[0], "agent", Some("answered")),
            (ids[0], "customer", Some("no-answer")),
            (ids[0], "customer", Some("no-answer")),
            (ids[1], "customer", Some("answered")),
            (ids[1], "customer", None),
        ] {
            let result = result.map_or("NULL".to_string(), |r| format!("'{r}'"));
            b.raw.execute(&format!(
                "INSERT INTO attempts (callback_id, leg, attempt_no, started_at, result) \
                 VALUES ({id}, '{leg}', 1, 0, {result})"
            ));
        }
        for (state, ms) in [
            ("done", Some(300)),
            ("done", Some(1500)),
            ("done", Some(40_000)),
            ("queued", None),
            ("failed", None),
        ] {
            let ms = ms.map_or("NULL".to_string(), |m: i64| m.to_string());
            b.raw.execute(&format!(
                "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, \
                 processing_ms, created_at, updated_at) VALUES ({}, 'x.wav', '{state}', 0, {ms}, 0, 0)",
                ids[0]
            ));
        }
        let f = store.figures(&[500, 2000, 60_000]).unwrap();
        let s = |x: &str| x.to_string();
        assert_eq!(
            f.attempts,
            vec![
                (s("sales"), s("agent"), s("answered"), 1),
                (s("sales"), s("customer"), s("no-answer"), 2),
                (s("support"), s("customer"), s("answered"), 1),
            ]
        );
        assert_eq!(
            f.transcription_jobs,
            vec![(s("done"), 3), (s("failed"), 1), (s("queued"), 1)]
        );
        assert_eq!(f.transcription_ms.count, 3);
        assert_eq!(f.transcription_ms.sum, 41_800.0);
        assert_eq!(f.transcription_ms.cumulative, vec![1, 2, 3]);
    });
}

#[test]
fn the_panel_lists_are_scoped_in_sql_ordered_and_counted_exactly() {
    // Pending by due time (not by id), the user's queues plus their agent's personal ones,
    // the badge exact even past the limit; recent newest change first; another team's
    // rows never read into the lists.
    on_each(|b| {
        let store = &*b.store;
        let mk = |n: u32, queue: &str, due: i64, agent: Option<&str>| {
            let mut d = draft(&format!("+4930123456{n:02}"), queue, due);
            d.agent = agent.map(str::to_string);
            store
                .create(&d, &CreateOptions::default(), t(0))
                .unwrap()
                .0
                .id
        };
        let late = mk(1, "sales", 900, None);
        let early = mk(2, "sales", 100, None);
        let mine = mk(3, "support", 500, Some("a"));
        let _other = mk(4, "support", 50, None);
        let done_first = mk(5, "sales", 10, None);
        let done_last = mk(6, "sales", 20, None);
        for (id, at) in [(done_first, 30), (done_last, 40)] {
            store
                .transition(id, &move_to(State::Cancelled, None), t(at))
                .unwrap();
        }
        let scope = callback_core::store::PanelScope {
            all: false,
            queues: vec!["sales".into()],
            agent: Some("a".into()),
        };
        let l = store.panel_lists(&scope, t(0), 10).unwrap();
        let ids = |v: &[callback_core::model::CallbackRequest]| {
            v.iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(&l.pending), vec![early, mine, late]);
        assert_eq!(l.pending_count, 3);
        assert_eq!(ids(&l.recent), vec![done_last, done_first]);
        let capped = store.panel_lists(&scope, t(35), 1).unwrap();
        assert_eq!(ids(&capped.pending), vec![early]);
        assert_eq!(
            capped.pending_count, 3,
            "the badge is not capped by the list"
        );
        assert_eq!(ids(&capped.recent), vec![done_last], "since t(35)");
        let all = callback_core::store::PanelScope {
            all: true,
            ..Default::default()
        };
        assert_eq!(store.panel_lists(&all, t(0), 10).unwrap().pending_count, 4);
    });
}

#[test]
fn transcription_jobs_are_claimed_once_retried_and_taken_over() {
    // The job queue on each backend: a job is claimed once while its lease lives; a retry is
    // not claimable before its time; a lapsed claim is taken over and the old worker's late
    // result refused; a permanent failure keeps its reason.
    on_each(|b| {
        let q = b.transcripts();
        let lease = Duration::minutes(10);
        let id = q.enqueue(42, "/rec/42.wav", t(0)).unwrap();
        assert!(q.enqueue(42, " ", t(0)).is_err());
        let job = q.claim_next(t(0), lease).unwrap().unwrap();
        assert_eq!((job.id, job.callback_id, job.attempts), (id, 42, 1));
        assert!(q.claim_next(t(0), lease).unwrap().is_none());
        let at = t(30);
        q.fail(&job, "whisper failed", Retry::At(at), t(1)).unwrap();
        assert!(q.claim_next(t(29), lease).unwrap().is_none());
        let old = q.claim_next(at, lease).unwrap().unwrap();
        assert_eq!(old.attempts, 2);
        let new = q.claim_next(at + lease, lease).unwrap().unwrap();
        assert_eq!(new.attempts, 3);
        assert!(matches!(
            q.complete(&old, &transcript("late"), at + lease),
            Err(StoreError::LeaseLost { .. })
        ));
        q.complete(&new, &transcript("call me back"), at + lease)
            .unwrap();
        let row = b.store.transcription(42).unwrap().unwrap();
        assert_eq!(row.state, JobState::Done);
        assert_eq!(row.result, Some(transcript("call me back")));
        assert_eq!(row.error.as_deref(), Some("whisper failed"));

        q.enqueue(7, "/rec/7.wav", t(0)).unwrap();
        let job = q.claim_next(t(0), lease).unwrap().unwrap();
        q.fail(&job, "corrupt WAV", Retry::Never, t(0)).unwrap();
        assert!(q.claim_next(t(86_400), lease).unwrap().is_none());
        let row = b.store.transcription(7).unwrap().unwrap();
        assert_eq!(
            (row.state, row.error.as_deref()),
            (JobState::Failed, Some("corrupt WAV"))
        );
    });
}

#[test]
fn the_transcription_job_of_the_callback_due_first_is_taken_first() {
    // Three recordings queued in the order late, soon, gone: the job of the callback due
    // in a minute is claimed before the one due in two hours, and a job whose callback is
    // not waiting (here: none) after both, whatever order they were queued in.
    on_each(|b| {
        let recorded = |number: &str, due: i64, path: &str| {
            let mut d = draft(number, "support", due);
            d.recording = Some(Recording {
                path: path.into(),
                duration_ms: 2000,
                sample_rate: 8000,
            });
            b.store
                .create(&d, &CreateOptions::default(), t(0))
                .unwrap()
                .0
                .id
        };
        let late = recorded("+493012345671", 7200, "/rec/late.wav");
        let soon = recorded("+493012345672", 60, "/rec/soon.wav");
        let q = b.transcripts();
        q.enqueue(4242, "/rec/gone.wav", t(0)).unwrap();
        let lease = Duration::minutes(10);
        let order: Vec<i64> = (0..3)
            .map(|_| q.claim_next(t(1), lease).unwrap().unwrap().callback_id)
            .collect();
        assert_eq!(order, vec![soon, late, 4242]);
    });
}

#[test]
fn a_transcript_tags_routes_and_raises_a_waiting_request() {
    // A recorded request's job (queued in the create) stores its transcript with the rules:
    // tags added, the waiting request moved to the rule's queue and its priority raised,
    // which the next claim honours; the `transcribed` event says so.
    on_each(|b| {
        let mut d = draft("+493012345678", "support", 0);
        d.recording = Some(Recording {
            path: "/rec/1.wav".into(),
            duration_ms: 2000,
            sample_rate: 8000,
        });
        let (r, _) = b.store.create(&d, &CreateOptions::default(), t(0)).unwrap();
        let (plain, _) = b
            .store
            .create(
                &draft("+493012345679", "billing", -10),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        let q = b.transcripts();
        let job = q.claim_next(t(1), Duration::minutes(10)).unwrap().unwrap();
        assert_eq!(job.callback_id, r.id);
        let rules = TagRules::new(vec![
            TagRule::words("intent=billing", "invoice, bill, refund")
                .unwrap()
                .with_queue("billing"),
            TagRule::regex("urgency=high", r"\b(urgent|asap)\b")
                .unwrap()
                .with_priority(10),
        ]);
        let done = q
            .complete_tagged(&job, &transcript("urgent: my bill is wrong"), &rules, t(2))
            .unwrap();
        let after = done.request.unwrap();
        assert_eq!(
            (after.queue.as_str(), after.priority),
            ("billing", 10),
            "{after:?}"
        );
        assert_eq!(
            done.queue,
            Some(("support".to_string(), "billing".to_string()))
        );
        assert_eq!(done.priority, Some((0, 10)));
        assert_eq!(
            after.tags.get("intent").map(String::as_str),
            Some("billing")
        );
        assert_eq!(
            after.transcript.as_ref().map(|t| t.text.as_str()),
            Some("urgent: my bill is wrong")
        );
        let e = b.store.events(r.id).unwrap().pop().unwrap();
        assert_eq!(e.action, "transcribed");
        assert!(
            e.detail
                .as_deref()
                .unwrap_or("")
                .contains("queue support -> billing"),
            "{e:?}"
        );
        // Raised: claimed before the older plain one.
        let claimed: Vec<i64> = b
            .store
            .claim_due("w", t(10), Duration::seconds(60), 10)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(claimed, vec![r.id, plain.id]);
    });
}

#[test]
fn purge_forgets_what_was_said_but_keeps_the_transcription_times() {
    // A purged callback's jobs lose their text, segments and file but keep their timing,
    // so /metrics' histogram never goes down; a job still waiting is failed (no worker
    // transcribes a deleted file); a second purge finds nothing more to do.
    on_each(|b| {
        let store = &*b.store;
        let (r, _) = store
            .create(
                &draft("+493012345670", "sales", 0),
                &CreateOptions::default(),
                t(0),
            )
            .unwrap();
        for (state, text, ms) in [("done", "'call me'", "900"), ("queued", "NULL", "NULL")] {
            b.raw.execute(&format!(
                "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, text, \
                 processing_ms, created_at, updated_at) \
                 VALUES ({}, 'a.wav', '{state}', 0, {text}, {ms}, 0, 0)",
                r.id
            ));
        }
        let before = store.figures(&[1000]).unwrap().transcription_ms;
        let files = store.purge(None, Some(r.id), t(10)).unwrap();
        assert_eq!(files, vec!["a.wav".to_string()]);
        let rows = b.raw.texts(
            "SELECT state, wav_path, text, CAST(processing_ms AS TEXT), error \
             FROM transcriptions ORDER BY id",
        );
        let text = |v: &str| Some(v.to_string());
        assert_eq!(
            rows,
            vec![
                vec![text("done"), text(""), None, text("900"), None],
                vec![text("failed"), text(""), None, None, text("purged")],
            ]
        );
        assert_eq!(store.figures(&[1000]).unwrap().transcription_ms, before);
        assert!(store.purge(None, Some(r.id), t(20)).unwrap().is_empty());
        let purges = store
            .events(r.id)
            .unwrap()
            .iter()
            .filter(|e| e.action == "purge")
            .count();
        assert_eq!(purges, 1);
    });
}
