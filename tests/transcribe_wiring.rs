//! Transcription wired into the store, against real SQLite files (no model needed): the job
//! is queued in the transaction that stores the recording, merges keep every recording,
//! and a stored transcript tags, re-routes and raises the priority of its request.

use callback_core::host::Detached;
use callback_core::model::{CallbackType, Draft, Recording, Source, State, Window};
use callback_core::store::prelude::*;
use callback_core::store::{
    CreateOptions, CreateOutcome, JobState, SqliteStore, StoreError, Transition,
};
use callback_core::transcribe::{
    JobQueue, Segment, TagRule, TagRules, TaggingQueue, TranscriptResult,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use tempfile::TempDir;

fn t(offset_s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap() + Duration::seconds(offset_s)
}

fn open() -> (TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callbacks.db");
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, store)
}

fn draft(number: &str, queue: &str, due: i64, recording: Option<&str>) -> Draft {
    Draft {
        kind: CallbackType::Immediate,
        number: number.into(),
        time_zone: "Europe/Berlin".into(),
        desired_at: None,
        window: Window::default(),
        number_type: None,
        queue: queue.into(),
        agent: None,
        remark: None,
        ivr_data: BTreeMap::new(),
        source: Source::Ivr,
        origin_uuid: None,
        idempotency_key: None,
        recording: recording.map(|p| Recording {
            path: p.into(),
            duration_ms: 4000,
            sample_rate: 8000,
        }),
        tags: BTreeMap::new(),
        state: State::Scheduled,
        due_at: Some(t(due)),
        expires_at: None,
    }
}

fn merge() -> CreateOptions {
    CreateOptions {
        merge_pending: true,
        ..CreateOptions::default()
    }
}

fn result(text: &str) -> TranscriptResult {
    TranscriptResult {
        text: text.into(),
        segments: vec![Segment {
            start_ms: 0,
            end_ms: 2000,
            text: text.into(),
        }],
        language: Some("en".into()),
        processing_ms: 321,
        no_speech: None,
    }
}

fn rules() -> TagRules {
    TagRules::new(vec![
        TagRule::words("intent=billing", "invoice, bill, refund")
            .unwrap()
            .with_queue("billing"),
        TagRule::regex("urgency=high", r"\b(urgent|asap)\b")
            .unwrap()
            .with_priority(10),
    ])
}

/// Claims the next job and stores `text` for it with the rules.
fn transcribe(
    store: &SqliteStore,
    now: DateTime<Utc>,
    text: &str,
) -> callback_core::store::Transcribed {
    let job = store
        .claim_next(now, Duration::minutes(10))
        .unwrap()
        .unwrap();
    store
        .complete_tagged(&job, &result(text), &rules(), now)
        .unwrap()
}

#[test]
fn create_with_recording_queues_its_job_in_the_same_transaction() {
    // A stored recording has its queued job; none without a recording; and when the job
    // cannot be written the callback is not stored either (one transaction).
    let (_dir, path, store) = open();
    let (with, outcome) = store
        .create(
            &draft("+4930100", "support", 0, Some("/rec/a.wav")),
            &merge(),
            t(0),
        )
        .unwrap();
    assert_eq!(outcome, CreateOutcome::Created);
    let job = store.transcription(with.id).unwrap().expect("a queued job");
    assert_eq!(
        (job.state, job.wav_path.as_str()),
        (JobState::Queued, "/rec/a.wav")
    );
    assert_eq!(job.next_try_at, t(0));
    let (without, _) = store
        .create(&draft("+4930101", "support", 0, None), &merge(), t(0))
        .unwrap();
    assert_eq!(store.transcription(without.id).unwrap(), None);
    // Batch imports queue their recordings too.
    let ids = store
        .create_batch(&[draft("+4930102", "support", 0, Some("/rec/b.wav"))], t(0))
        .unwrap();
    assert_eq!(
        store.transcription(ids[0]).unwrap().unwrap().wav_path,
        "/rec/b.wav"
    );

    // Make every job insert fail from another connection: the create must fail as a whole.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER no_jobs BEFORE INSERT ON transcriptions \
         BEGIN SELECT RAISE(ABORT, 'job insert refused'); END;",
    )
    .unwrap();
    let before = store.list(&Default::default()).unwrap().len();
    let err = store
        .create(
            &draft("+4930103", "support", 0, Some("/rec/c.wav")),
            &merge(),
            t(0),
        )
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("job insert refused")),
        "{err}"
    );
    assert_eq!(store.list(&Default::default()).unwrap().len(), before);
    // Without a recording nothing touches the queue, so the create still works.
    store
        .create(&draft("+4930104", "support", 0, None), &merge(), t(0))
        .unwrap();
}

#[test]
fn merge_adopts_a_first_recording_and_keeps_a_second() {
    // A repeated request's recording becomes the pending one's when it had none; when it
    // had one, the new file is named in the merge event and queued too, and its transcript
    // is appended to the first.
    let (_dir, _path, store) = open();
    let (first, _) = store
        .create(&draft("+4930200", "support", 60, None), &merge(), t(0))
        .unwrap();
    let (merged, outcome) = store
        .create(
            &draft("+4930200", "support", 60, Some("/rec/1.wav")),
            &merge(),
            t(1),
        )
        .unwrap();
    assert_eq!((outcome, merged.id), (CreateOutcome::Merged, first.id));
    assert_eq!(
        merged.recording.as_ref().map(|r| r.path.as_str()),
        Some("/rec/1.wav")
    );
    assert_eq!(
        store.transcription(first.id).unwrap().unwrap().wav_path,
        "/rec/1.wav"
    );

    let (again, _) = store
        .create(
            &draft("+4930200", "support", 60, Some("/rec/2.wav")),
            &merge(),
            t(2),
        )
        .unwrap();
    assert_eq!(
        again.recording.as_ref().map(|r| r.path.as_str()),
        Some("/rec/1.wav")
    );
    // The same file once more (a retry without a key) queues nothing new.
    store
        .create(
            &draft("+4930200", "support", 60, Some("/rec/2.wav")),
            &merge(),
            t(2),
        )
        .unwrap();
    let merges: Vec<String> = store
        .events(first.id)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "merge")
        .filter_map(|e| e.detail)
        .collect();
    assert_eq!(merges.len(), 3);
    assert_eq!(merges[2], "a repeated request, nothing new to add");
    assert!(merges[0].contains("its recording /rec/1.wav"), "{merges:?}");
    assert!(
        merges[1].contains("a second recording /rec/2.wav"),
        "{merges:?}"
    );
    // Both are transcribed, oldest first; the second text is appended.
    transcribe(&store, t(3), "first words");
    transcribe(&store, t(4), "second words");
    assert!(store
        .claim_next(t(5), Duration::minutes(10))
        .unwrap()
        .is_none());
    let r = store.get(first.id).unwrap();
    assert_eq!(r.transcript.unwrap().text, "first words\nsecond words");
    let job = store.transcription(first.id).unwrap().unwrap();
    assert_eq!(
        (job.wav_path.as_str(), job.state),
        ("/rec/2.wav", JobState::Done)
    );
}

#[test]
fn transcript_tags_reroutes_and_raises_a_pending_request() {
    // A pending request gets the tags, moves to the rule's queue and gets its priority, in
    // the transaction that stores the transcript; the trace says what changed.
    let (_dir, _path, store) = open();
    let mut d = draft("+4930300", "support", 600, Some("/rec/x.wav"));
    d.tags.insert("urgency".into(), "low".into()); // set by the IVR: kept
    let (r, _) = store.create(&d, &merge(), t(0)).unwrap();
    let done = transcribe(&store, t(5), "URGENT: my invoice is wrong");
    let after = store.get(r.id).unwrap();
    assert_eq!(after.queue, "billing");
    assert_eq!(after.priority, 10);
    assert_eq!(
        after.tags.get("intent").map(String::as_str),
        Some("billing")
    );
    assert_eq!(after.tags.get("urgency").map(String::as_str), Some("low"));
    assert_eq!(
        after.transcript.as_ref().unwrap().text,
        "URGENT: my invoice is wrong"
    );
    assert_eq!(after.state, State::Scheduled);
    assert_eq!(done.queue, Some(("support".into(), "billing".into())));
    assert_eq!(done.priority, Some((0, 10)));
    let ev = store.events(r.id).unwrap().pop().unwrap();
    assert_eq!(ev.action, "transcribed");
    assert_eq!(
        ev.detail.as_deref(),
        Some("tags intent=billing; queue support -> billing; priority 0 -> 10")
    );
    let job = store.transcription(r.id).unwrap().unwrap();
    assert_eq!(job.result.unwrap().processing_ms, 321);
}

#[test]
fn a_finished_request_only_gets_the_tags() {
    // A request cancelled before its transcript arrives keeps its queue and priority.
    let (_dir, _path, store) = open();
    let (r, _) = store
        .create(
            &draft("+4930400", "support", 600, Some("/rec/y.wav")),
            &merge(),
            t(0),
        )
        .unwrap();
    store
        .transition(r.id, &Transition::new(State::Cancelled, "cancel"), t(1))
        .unwrap();
    let done = transcribe(&store, t(2), "asap about a refund");
    let after = store.get(r.id).unwrap();
    assert_eq!((after.queue.as_str(), after.priority), ("support", 0));
    assert_eq!(after.state, State::Cancelled);
    assert_eq!(
        after.tags.get("intent").map(String::as_str),
        Some("billing")
    );
    assert_eq!(after.tags.get("urgency").map(String::as_str), Some("high"));
    assert_eq!((done.queue, done.priority), (None, None));
    let ev = store.events(r.id).unwrap().pop().unwrap();
    assert_eq!(
        ev.detail.as_deref(),
        Some("tags intent=billing urgency=high; queue billing not applied (cancelled)")
    );
}

#[test]
fn claims_prefer_higher_priority_among_due_requests() {
    // Three due requests: the one a transcript raised to 10 is claimed first although it
    // fell due last; the rest by due time; a raised one not yet due waits its turn.
    let (_dir, _path, store) = open();
    let a = store
        .create(&draft("+4930501", "support", 0, None), &merge(), t(0))
        .unwrap()
        .0;
    let b = store
        .create(&draft("+4930502", "support", 10, None), &merge(), t(0))
        .unwrap()
        .0;
    let c = store
        .create(
            &draft("+4930503", "support", 20, Some("/rec/c.wav")),
            &merge(),
            t(0),
        )
        .unwrap()
        .0;
    let later = store
        .create(
            &draft("+4930504", "support", 3600, Some("/rec/d.wav")),
            &merge(),
            t(0),
        )
        .unwrap()
        .0;
    transcribe(&store, t(1), "urgent call back");
    transcribe(&store, t(1), "asap please");
    assert_eq!(store.get(c.id).unwrap().priority, 10);
    assert_eq!(store.get(later.id).unwrap().priority, 10);
    let lease = Duration::minutes(5);
    let first = store.claim_due("n1", t(30), lease, 1).unwrap();
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), [c.id]);
    let rest = store.claim_due("n1", t(30), lease, 10).unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), [a.id, b.id]);
}

#[test]
fn tagging_queue_announces_the_transcript_to_the_host() {
    // Through the workers' queue, a stored transcript fires one `transcribed` notification
    // with the text and the request's tags, after the commit.
    let (_dir, _path, store) = open();
    let store = Arc::new(store);
    let (r, _) = store
        .create(
            &draft("+4930600", "support", 600, Some("/rec/z.wav")),
            &merge(),
            t(0),
        )
        .unwrap();
    let host = Arc::new(Detached::default());
    let q = TaggingQueue::new(store.clone(), rules(), host.clone());
    let job = q.claim_next(t(1), Duration::minutes(10)).unwrap().unwrap();
    q.complete(&job, &result("a question about my bill"), t(2))
        .unwrap();
    let notes = host.notifications();
    assert_eq!(notes.len(), 1);
    let n = &notes[0];
    assert_eq!((n.action.as_str(), n.callback_id), ("transcribed", r.id));
    assert_eq!(n.queue, "billing");
    assert_eq!(n.transcript.as_deref(), Some("a question about my bill"));
    assert_eq!(n.tags.get("intent").map(String::as_str), Some("billing"));
    // A late second completion of the same claim is refused and announces nothing.
    assert!(q.complete(&job, &result("again"), t(3)).is_err());
    assert_eq!(host.notifications().len(), 1);
}

/// What the engine gives for a recording without speech.
fn no_speech() -> TranscriptResult {
    TranscriptResult::no_speech(
        "no speech: whisper's no-speech probability is 0.93 (above 0.60)".into(),
        Some("en".into()),
        210,
    )
}

#[test]
fn a_recording_without_speech_is_stored_as_no_speech_not_as_words() {
    // The job is done and reads back as no speech; the request gets no transcript and no
    // tags; the `transcribed` event says why there are no words.
    let (_dir, _path, store) = open();
    let (r, _) = store
        .create(
            &draft("+4930700", "support", 600, Some("/rec/q.wav")),
            &merge(),
            t(0),
        )
        .unwrap();
    let job = store
        .claim_next(t(1), Duration::minutes(10))
        .unwrap()
        .unwrap();
    store
        .complete_tagged(&job, &no_speech(), &rules(), t(2))
        .unwrap();
    let after = store.get(r.id).unwrap();
    assert_eq!(after.transcript, None);
    assert!(after.tags.is_empty());
    assert_eq!(after.queue, "support");
    let row = store.transcription(r.id).unwrap().unwrap();
    assert_eq!(row.state, JobState::Done);
    let res = row.result.unwrap();
    assert!(res.no_speech.is_some(), "{res:?}");
    assert_eq!(res.text, "");
    let ev = store.events(r.id).unwrap().pop().unwrap();
    assert_eq!(ev.action, "transcribed");
    assert_eq!(
        ev.detail.as_deref(),
        Some("no speech: whisper's no-speech probability is 0.93 (above 0.60); no new tags")
    );
}

#[test]
fn no_speech_in_a_second_recording_keeps_the_first_transcript() {
    // A merged request whose first recording was transcribed keeps that text as it was
    // when its second recording holds no speech (no blank line appended).
    let (_dir, _path, store) = open();
    let (r, _) = store
        .create(
            &draft("+4930800", "support", 600, Some("/rec/a.wav")),
            &merge(),
            t(0),
        )
        .unwrap();
    transcribe(&store, t(1), "please call me about my order");
    let (again, outcome) = store
        .create(
            &draft("+4930800", "support", 600, Some("/rec/b.wav")),
            &merge(),
            t(2),
        )
        .unwrap();
    assert_eq!(again.id, r.id, "{outcome:?}");
    let job = store
        .claim_next(t(3), Duration::minutes(10))
        .unwrap()
        .unwrap();
    store
        .complete_tagged(&job, &no_speech(), &rules(), t(4))
        .unwrap();
    let after = store.get(r.id).unwrap();
    assert_eq!(
        after.transcript.unwrap().text,
        "please call me about my order"
    );
}

#[test]
fn a_queue_with_its_own_language_gets_its_recordings_heard_in_it() {
    // The workers' queue answers the language of the job's callback's queue: `de` for a
    // queue that names it, the engine's own (None) for the others.
    let (_dir, _path, store) = open();
    let store = Arc::new(store);
    let (berlin, _) = store
        .create(
            &draft("+4930900", "berlin", 600, Some("/rec/de.wav")),
            &merge(),
            t(0),
        )
        .unwrap();
    store
        .create(
            &draft("+4930901", "support", 600, Some("/rec/en.wav")),
            &merge(),
            t(0),
        )
        .unwrap();
    let q = TaggingQueue::new(store.clone(), rules(), Arc::new(Detached::default()))
        .with_languages(BTreeMap::from([("berlin".to_string(), "de".to_string())]));
    let first = q.claim_next(t(1), Duration::minutes(10)).unwrap().unwrap();
    let second = q.claim_next(t(1), Duration::minutes(10)).unwrap().unwrap();
    let (de, other) = if first.callback_id == berlin.id {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(q.language(&de).as_deref(), Some("de"));
    assert_eq!(q.language(&other), None);
}
