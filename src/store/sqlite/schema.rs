//! The SQLite schema as an ordered list of migrations, applied by `PRAGMA user_version`.
//!
//! Step `i` (0-based) brings a database from `user_version = i` to `i + 1`. Steps are only
//! ever appended: a released step is never edited, or databases already past it would
//! silently differ from new ones.
//!
//! Why this file pairs with `pg/schema.rs` line for line yet shares no text: the dialects
//! differ in almost every column (INTEGER keys, OR chains in partial indexes), and a released
//! step's text is never edited, since a database migrated by it must stay valid; so the two
//! lists stay side by side, checked by the test comparing the tables.

/// The migrations, oldest first. `user_version` counts how many have been applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: callbacks, their trace, attempts, do-not-call.
    //
    // Times are UTC epoch seconds (INTEGER: compact, and compares without parsing); enums
    // are their `as_str()` text so the file reads the same as the APIs; key/value maps are
    // JSON, NULL when empty, to keep the common row small.
    r#"
CREATE TABLE callbacks (
    id                  INTEGER PRIMARY KEY,
    kind                TEXT    NOT NULL,
    number              TEXT    NOT NULL,
    time_zone           TEXT    NOT NULL,
    queue               TEXT    NOT NULL,
    source              TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    due_at              INTEGER,
    customer_attempts   INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    desired_at          INTEGER,
    window_from         INTEGER,
    window_until        INTEGER,
    expires_at          INTEGER,
    agent               TEXT,
    remark              TEXT,
    ivr_data            TEXT,
    origin_uuid         TEXT,
    idempotency_key     TEXT,
    recording_path      TEXT,
    recording_ms        INTEGER,
    recording_rate      INTEGER,
    transcript_text     TEXT,
    transcript_language TEXT,
    tags                TEXT,
    lease_owner         TEXT,
    lease_expires       INTEGER,
    -- The claim index only sees rows that can be claimed; a waiting row without a due time
    -- would be invisible to the scheduler forever, so refuse it outright.
    CHECK (state NOT IN ('scheduled', 'rescheduled') OR due_at IS NOT NULL)
);

-- Claiming: the next pending rows by due time (then id, which SQLite appends to every
-- index). Partial, so it holds only waiting work and claimed rows leave it.
CREATE INDEX callbacks_claimable ON callbacks (due_at)
    WHERE state IN ('scheduled', 'rescheduled');

-- Taking over from a crashed owner: active rows by lease expiry (a handful of rows).
CREATE INDEX callbacks_leases ON callbacks (lease_expires)
    WHERE state IN ('due', 'offering', 'previewing', 'dialing', 'connected');

CREATE UNIQUE INDEX callbacks_idempotency ON callbacks (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Merging a repeated request into the pending one of the same number and queue.
CREATE INDEX callbacks_pending_number ON callbacks (number, queue)
    WHERE state IN ('requested', 'scheduled', 'rescheduled');

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    callback_id INTEGER NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    from_state  TEXT,
    to_state    TEXT    NOT NULL,
    actor       TEXT,
    detail      TEXT
);
CREATE INDEX events_callback ON events (callback_id);

CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY,
    callback_id  INTEGER NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    leg          TEXT    NOT NULL,
    attempt_no   INTEGER NOT NULL,
    agent        TEXT,
    call_uuid    TEXT,
    started_at   INTEGER NOT NULL,
    answered_at  INTEGER,
    ended_at     INTEGER,
    hangup_cause TEXT,
    result       TEXT,
    disposition  TEXT,
    note         TEXT
);
CREATE INDEX attempts_callback ON attempts (callback_id);

CREATE TABLE do_not_call (
    number   TEXT PRIMARY KEY,
    reason   TEXT,
    added_at INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    // 2: the transcription job queue (issue 5). One row per recording to transcribe; the
    // workers claim rows with a lease like dispatchers claim callbacks. No foreign key to
    // `callbacks`: the queue is keyed by callback id but must not block deleting a callback
    // whose job is still running (the job then completes into nothing).
    r#"
CREATE TABLE transcriptions (
    id            INTEGER PRIMARY KEY,
    callback_id   INTEGER NOT NULL,
    wav_path      TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_try_at   INTEGER NOT NULL,
    lease_until   INTEGER,
    error         TEXT,
    text          TEXT,
    segments      TEXT,
    language      TEXT,
    processing_ms INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX transcriptions_due ON transcriptions (next_try_at) WHERE state = 'queued';
CREATE INDEX transcriptions_leases ON transcriptions (lease_until) WHERE state = 'running';
CREATE INDEX transcriptions_callback ON transcriptions (callback_id);
"#,
    // 3: priority from transcript tags (issue 5). 0 is normal; a tag rule may raise it. Claims
    // take due rows with a priority above 0 first, through their own small partial index, and
    // then the rest by due time as before, so the common all-zero case keeps its plan.
    r#"
ALTER TABLE callbacks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX callbacks_claimable_priority ON callbacks (priority DESC, due_at)
    WHERE state IN ('scheduled', 'rescheduled') AND priority > 0;
"#,
    // 4: cheaper index upkeep on every insert and update (issue 2, the 1M-row store bench).
    //
    // The partial WHEREs of three or more states become OR chains: SQLite evaluates an
    // `IN (...)` of three or more constants through a temporary b-tree, built and freed for
    // each row written. The merge index is keyed by the number as an integer (E.164 has no
    // leading zero, so the mapping is one to one) and no longer holds the queue: inserts
    // land at random places in it, so at a million rows a batch dirties most of its pages,
    // and an entry now takes about half the bytes. The merge lookup still compares `number`
    // and `queue` on the few rows of that number.
    r#"
DROP INDEX callbacks_leases;
CREATE INDEX callbacks_leases ON callbacks (lease_expires)
    WHERE (state = 'due' OR state = 'offering' OR state = 'previewing'
           OR state = 'dialing' OR state = 'connected');

DROP INDEX callbacks_pending_number;
CREATE INDEX callbacks_pending_number ON callbacks (CAST(substr(number, 2) AS INTEGER))
    WHERE (state = 'requested' OR state = 'scheduled' OR state = 'rescheduled');
"#,
    // 5: outbound webhooks (issue 7). The events table is the outbox: every transition
    // already writes its event row in the transition's own transaction. Each configured
    // webhook keeps here how far it has delivered (`last_event`, an events.id) and its
    // retry state, so a receiver that is down, or a restart, loses nothing.
    r#"
CREATE TABLE webhook_cursors (
    name        TEXT    PRIMARY KEY,
    last_event  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    updated_at  INTEGER NOT NULL
);
"#,
    // 6: the agent panel's reads (its lists reload on every live update, so none may scan
    // the table). Recently finished callbacks, newest first, by the time they last changed;
    // callbacks still waiting for a due time, by age; and the day's call results by the
    // time the call ended. Plain indexes, standard SQL but for the partial WHERE, which
    // PostgreSQL also has.
    r#"
CREATE INDEX callbacks_updated ON callbacks (updated_at);
CREATE INDEX callbacks_requested ON callbacks (created_at) WHERE state = 'requested';
CREATE INDEX attempts_ended ON attempts (ended_at);
"#,
    // 7: agents shared by several nodes (issue 10). An agent is offered one callback at a
    // time whichever node offers it: an agent leg still open holds its agent, and the
    // unique index refuses a second one (older open legs of the same agent, and open legs
    // of callbacks no longer in a dispatch, which earlier builds could leave after a crash
    // or a cancel during the preview, are closed as interrupted first; transitions out of
    // a dispatch now close them). `agents` keeps each agent's
    // ready/away as last set on any node (no row: the configured start state).
    r#"
UPDATE attempts SET ended_at = started_at, hangup_cause = 'INTERRUPTED', result = 'error'
    WHERE leg = 'agent' AND ended_at IS NULL AND agent IS NOT NULL
      AND id < (SELECT MAX(b.id) FROM attempts b
                WHERE b.leg = 'agent' AND b.ended_at IS NULL AND b.agent = attempts.agent);
UPDATE attempts SET ended_at = started_at, hangup_cause = 'INTERRUPTED', result = 'error'
    WHERE leg = 'agent' AND ended_at IS NULL
      AND callback_id NOT IN (SELECT id FROM callbacks
                              WHERE state IN ('due', 'offering', 'previewing', 'dialing', 'connected'));
CREATE UNIQUE INDEX attempts_agent_busy ON attempts (agent)
    WHERE leg = 'agent' AND ended_at IS NULL;
CREATE TABLE agents (
    id      TEXT    PRIMARY KEY,
    ready   INTEGER NOT NULL,
    since   INTEGER NOT NULL,
    node    TEXT    NOT NULL
);
"#,
    // 8: idempotency scoped to the request (issue 17). A create with an Idempotency-Key
    // keeps a digest of the request it came with; the same key replayed with another
    // request is refused instead of answering with the first callback. NULL for rows
    // without a key, and for rows stored before this step (not compared).
    //
    // The per-number cap (every door, issue 17) counts the callbacks still open for a
    // number on each change: the waiting ones through `callbacks_pending_number`, the ones
    // being dispatched through this index (a handful of rows), never by a table scan.
    r#"
ALTER TABLE callbacks ADD COLUMN request_hash TEXT;
CREATE INDEX callbacks_active_number ON callbacks (number)
    WHERE (state = 'due' OR state = 'offering' OR state = 'previewing'
           OR state = 'dialing' OR state = 'connected');
"#,
    // 9: the dispatcher's counters as columns (issue 18): waits in a row (the back-off of a
    // callback waiting for an agent, and whether an agent getting ready pulls it forward),
    // failovers so far, and when it was first claimed (a personal callback's fallback).
    // Earlier builds found them by searching the trace for `wait`, `failover` and `claim`;
    // the backfill counts them the same way from the trace, so a running site keeps them:
    // the waits since the last trace row that was neither a wait nor a claim.
    r#"
ALTER TABLE callbacks ADD COLUMN waits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN failovers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN first_claimed_at INTEGER;
UPDATE callbacks SET first_claimed_at =
    (SELECT e.at FROM events e WHERE e.callback_id = callbacks.id AND e.action = 'claim'
     ORDER BY e.id LIMIT 1)
    WHERE id IN (SELECT callback_id FROM events WHERE action = 'claim');
UPDATE callbacks SET failovers =
    (SELECT count(*) FROM events e WHERE e.callback_id = callbacks.id AND e.action = 'failover')
    WHERE id IN (SELECT callback_id FROM events WHERE action = 'failover');
UPDATE callbacks SET waits =
    (SELECT count(*) FROM events e WHERE e.callback_id = callbacks.id AND e.action = 'wait'
       AND e.id > coalesce((SELECT max(x.id) FROM events x WHERE x.callback_id = callbacks.id
                            AND x.action NOT IN ('wait', 'claim')), 0))
    WHERE id IN (SELECT callback_id FROM events WHERE action = 'wait');
"#,
    // 10: the outbox and the panel's logins on a store several nodes share (issue 18).
    // An event's place in the outbox is (tx, id): SQLite's single writer makes ids follow
    // commits, so tx stays 0 here (PostgreSQL records the writing transaction's id). A
    // cursor keeps the pair, and a lease (owner, expiry) so one worker at a time delivers
    // it. Panel sessions: the SHA-256 of the token (never the token), the user, when it
    // was made and last used, and when it expires (by that index, so pruning reads none).
    r#"
ALTER TABLE events ADD COLUMN tx INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_cursors ADD COLUMN last_tx INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_cursors ADD COLUMN lease_owner TEXT;
ALTER TABLE webhook_cursors ADD COLUMN lease_expires INTEGER NOT NULL DEFAULT 0;
CREATE TABLE panel_sessions (
    token_sha256 TEXT    PRIMARY KEY,
    user_name    TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX panel_sessions_expiry ON panel_sessions (expires_at);
"#,
    // 11: the time-last-changed index holds finished callbacks only (issue 18, the claim
    // figure). Its readers (the panel's recently finished list, the retention purge) only
    // ask for finished callbacks, while every claim and transition of a live callback
    // moved its entry: one more random page of a 1M-entry index written per callback
    // claimed. The WHERE is `FINISHED` word for word, as the panel's query says it.
    r#"
DROP INDEX callbacks_updated;
CREATE INDEX callbacks_updated ON callbacks (updated_at)
    WHERE (state = 'completed' OR state = 'failed' OR state = 'cancelled'
           OR state = 'expired' OR state = 'done');
"#,
    // 12: the number's type (issue 24: mobile, home, work, other) as the caller, client or
    // agent gave it; NULL when nobody said (every row before this step).
    r#"
ALTER TABLE callbacks ADD COLUMN number_type TEXT;
"#,
    // 13: one index of a number's open callbacks instead of two (issue 18, the claim
    // figure). A claim moves a row from waiting to due: it left `callbacks_pending_number`
    // and entered `callbacks_active_number`, two random pages of 1M-entry indexes written
    // per row claimed. Keyed and filtered on every open state, the row's entry stays where
    // it is (SQLite rewrites it in the same leaf page). Its readers (the merge into a
    // pending request, the per-number cap) add their own state test on the few rows of the
    // number. SQLite only: a PostgreSQL update writes a new index entry either way.
    r#"
DROP INDEX callbacks_pending_number;
DROP INDEX callbacks_active_number;
CREATE INDEX callbacks_open_number ON callbacks (CAST(substr(number, 2) AS INTEGER))
    WHERE (state = 'requested' OR state = 'scheduled' OR state = 'rescheduled'
           OR state = 'due' OR state = 'offering' OR state = 'previewing'
           OR state = 'dialing' OR state = 'connected');
"#,
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    // The list is a handful of entries; the cast cannot truncate.
    MIGRATIONS.len() as u32
}
