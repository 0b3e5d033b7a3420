//! The schema as an ordered list of migration steps, written once for both engines in the
//! words of [`super::ddl`] (which says what each dialect writes its own way, and why).
//!
//! Step `i` (0-based) brings a database from version `i` to `i + 1`: SQLite's
//! `PRAGMA user_version`, PostgreSQL's one row of `callback_schema`. A step means the same
//! schema on both engines; a step that changes nothing on one (SQLite's own index costs,
//! steps 4 and 13) is still counted there, so the version numbers stay one scale.
//!
//! Steps are only ever appended: a released step is never edited, or databases already past
//! it would silently differ from new ones. `tests/store_schema.rs` holds every step to the
//! schema its release built (`fixtures/schema/`, dumped from each engine's catalog), so an
//! edit that changes what a step builds fails there. The tables and columns (names and
//! order) are the same on both engines, so one mapping reads both.

use super::ddl::{id, int, render, text, Engine, Filter, Index, Item, Step, Table};

/// The schema version this build writes.
pub(crate) fn latest() -> usize {
    STEPS.len()
}

/// The text of every step, oldest first, as `engine` runs it.
pub(crate) fn steps(engine: Engine) -> Vec<String> {
    STEPS.iter().map(|step| render(step, engine)).collect()
}

/// An index on every row of `table` by `keys`.
const fn plain(name: &'static str, table: &'static str, keys: &'static str) -> Item {
    Item::Index(Index {
        name,
        table,
        unique: false,
        keys,
        by_id: false,
        filter: Filter::All,
    })
}

/// An index of the rows `filter` (one text on both engines) keeps.
const fn filtered(
    name: &'static str,
    table: &'static str,
    keys: &'static str,
    filter: &'static str,
) -> Item {
    partial(name, table, keys, false, Filter::Sql(filter))
}

/// An index of the rows `filter` keeps.
const fn partial(
    name: &'static str,
    table: &'static str,
    keys: &'static str,
    by_id: bool,
    filter: Filter,
) -> Item {
    Item::Index(Index {
        name,
        table,
        unique: false,
        keys,
        by_id,
        filter,
    })
}

// The state sets of the indexes, as each step was released (not the live queries'
// constants: a step's text must never follow a change of those).
const WAITING: &[&str] = &["scheduled", "rescheduled"];
const PENDING: &[&str] = &["requested", "scheduled", "rescheduled"];
const ACTIVE: &[&str] = &["due", "offering", "previewing", "dialing", "connected"];
const FINISHED: &[&str] = &["completed", "failed", "cancelled", "expired", "done"];
const OPEN: &[&str] = &[
    "requested",
    "scheduled",
    "rescheduled",
    "due",
    "offering",
    "previewing",
    "dialing",
    "connected",
];

/// The migrations, oldest first. The version counts how many have been applied.
const STEPS: &[Step] = &[
    // 1: callbacks, their trace, attempts, do-not-call.
    //
    // Times are UTC epoch seconds (compact, and compare without parsing); enums are their
    // `as_str()` text so the database reads the same as the APIs; key/value maps are JSON in
    // TEXT (NULL when empty, to keep the common row small), so both engines encode them
    // with the same code. The claim index only sees rows that can be claimed: a waiting row
    // without a due time would be invisible to the scheduler forever, so the table refuses it.
    &[
        Item::Table(Table {
            name: "callbacks",
            columns: &[
                id(),
                text("kind", "NOT NULL"),
                text("number", "NOT NULL"),
                text("time_zone", "NOT NULL"),
                text("queue", "NOT NULL"),
                text("source", "NOT NULL"),
                text("state", "NOT NULL"),
                int("due_at", ""),
                int("customer_attempts", "NOT NULL DEFAULT 0"),
                int("created_at", "NOT NULL"),
                int("updated_at", "NOT NULL"),
                int("desired_at", ""),
                int("window_from", ""),
                int("window_until", ""),
                int("expires_at", ""),
                text("agent", ""),
                text("remark", ""),
                text("ivr_data", ""),
                text("origin_uuid", ""),
                text("idempotency_key", ""),
                text("recording_path", ""),
                int("recording_ms", ""),
                int("recording_rate", ""),
                text("transcript_text", ""),
                text("transcript_language", ""),
                text("tags", ""),
                text("lease_owner", ""),
                int("lease_expires", ""),
            ],
            check: Some("state NOT IN ('scheduled', 'rescheduled') OR due_at IS NOT NULL"),
            rowid: true,
        }),
        // Claiming: the next waiting rows by due time, then id. Partial, so it holds only
        // waiting work and claimed rows leave it.
        partial(
            "callbacks_claimable",
            "callbacks",
            "due_at",
            true,
            Filter::In(WAITING),
        ),
        // Taking over from a crashed owner: active rows by lease expiry (a handful of rows).
        partial(
            "callbacks_leases",
            "callbacks",
            "lease_expires",
            true,
            Filter::In(ACTIVE),
        ),
        Item::Index(Index {
            name: "callbacks_idempotency",
            table: "callbacks",
            unique: true,
            keys: "idempotency_key",
            by_id: false,
            filter: Filter::Sql("idempotency_key IS NOT NULL"),
        }),
        // Merging a repeated request into the pending one of the same number and queue.
        partial(
            "callbacks_pending_number",
            "callbacks",
            "number, queue",
            false,
            Filter::In(PENDING),
        ),
        Item::Table(Table {
            name: "events",
            columns: &[
                id(),
                int("callback_id", "NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE"),
                int("at", "NOT NULL"),
                text("action", "NOT NULL"),
                text("from_state", ""),
                text("to_state", "NOT NULL"),
                text("actor", ""),
                text("detail", ""),
            ],
            check: None,
            rowid: true,
        }),
        plain("events_callback", "events", "callback_id"),
        Item::Table(Table {
            name: "attempts",
            columns: &[
                id(),
                int("callback_id", "NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE"),
                text("leg", "NOT NULL"),
                int("attempt_no", "NOT NULL"),
                text("agent", ""),
                text("call_uuid", ""),
                int("started_at", "NOT NULL"),
                int("answered_at", ""),
                int("ended_at", ""),
                text("hangup_cause", ""),
                text("result", ""),
                text("disposition", ""),
                text("note", ""),
            ],
            check: None,
            rowid: true,
        }),
        plain("attempts_callback", "attempts", "callback_id"),
        Item::Table(Table {
            name: "do_not_call",
            columns: &[
                text("number", "PRIMARY KEY"),
                text("reason", ""),
                int("added_at", "NOT NULL"),
            ],
            check: None,
            rowid: false,
        }),
    ],
    // 2: the transcription job queue (issue 5). One row per recording to transcribe; the
    // workers claim rows with a lease like dispatchers claim callbacks. No foreign key to
    // `callbacks`: the queue is keyed by callback id but must not block deleting a callback
    // whose job is still running (the job then completes into nothing).
    &[
        Item::Table(Table {
            name: "transcriptions",
            columns: &[
                id(),
                int("callback_id", "NOT NULL"),
                text("wav_path", "NOT NULL"),
                text(
                    "state",
                    "NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed'))",
                ),
                int("attempts", "NOT NULL DEFAULT 0"),
                int("next_try_at", "NOT NULL"),
                int("lease_until", ""),
                text("error", ""),
                text("text", ""),
                text("segments", ""),
                text("language", ""),
                int("processing_ms", ""),
                int("created_at", "NOT NULL"),
                int("updated_at", "NOT NULL"),
            ],
            check: None,
            rowid: true,
        }),
        filtered("transcriptions_due", "transcriptions", "next_try_at", "state = 'queued'"),
        filtered("transcriptions_leases", "transcriptions", "lease_until", "state = 'running'"),
        plain("transcriptions_callback", "transcriptions", "callback_id"),
    ],
    // 3: priority from transcript tags (issue 5). 0 is normal; a tag rule may raise it. Claims
    // take due rows with a priority above 0 first, through their own small partial index, and
    // then the rest by due time as before, so the common all-zero case keeps its plan.
    &[
        Item::AddColumn("callbacks", int("priority", "NOT NULL DEFAULT 0")),
        partial(
            "callbacks_claimable_priority",
            "callbacks",
            "priority DESC, due_at",
            true,
            Filter::Sql("state IN ('scheduled', 'rescheduled') AND priority > 0"),
        ),
    ],
    // 4: cheaper index upkeep on every insert and update (issue 2, the 1M-row store bench),
    // SQLite's own costs (nothing changes on PostgreSQL).
    //
    // The partial WHEREs of three or more states become OR chains (see `ddl::Filter`). The
    // merge index is keyed by the number as an integer (E.164 has no leading zero, so the
    // mapping is one to one) and no longer holds the queue: inserts land at random places
    // in it, so at a million rows a batch dirties most of its pages, and an entry now takes
    // about half the bytes. The merge lookup still compares `number` and `queue` on the few
    // rows of that number. PostgreSQL keeps the number as text: SQLite's integer key halved
    // its entries in a b-tree without prefix compression, and PostgreSQL's cast would make
    // any non-digit number in a row an insert error rather than a mere miss.
    &[Item::Only(
        Engine::Sqlite,
        &[
            Item::DropIndex("callbacks_leases"),
            partial(
                "callbacks_leases",
                "callbacks",
                "lease_expires",
                true,
                Filter::AnyOf(ACTIVE),
            ),
            Item::DropIndex("callbacks_pending_number"),
            partial(
                "callbacks_pending_number",
                "callbacks",
                "CAST(substr(number, 2) AS INTEGER)",
                false,
                Filter::AnyOf(PENDING),
            ),
        ],
    )],
    // 5: outbound webhooks (issue 7). The events table is the outbox: every transition
    // already writes its event row in the transition's own transaction. Each configured
    // webhook keeps here how far it has delivered (`last_event`, an events.id) and its
    // retry state, so a receiver that is down, or a restart, loses nothing.
    &[Item::Table(Table {
        name: "webhook_cursors",
        columns: &[
            text("name", "PRIMARY KEY"),
            int("last_event", "NOT NULL"),
            int("attempts", "NOT NULL DEFAULT 0"),
            int("next_try_at", "NOT NULL DEFAULT 0"),
            text("last_error", ""),
            int("updated_at", "NOT NULL"),
        ],
        check: None,
        rowid: true,
    })],
    // 6: the agent panel's reads (its lists reload on every live update, so none may scan
    // the table). Recently finished callbacks, newest first, by the time they last changed;
    // callbacks still waiting for a due time, by age; and the day's call results by the
    // time the call ended.
    &[
        plain("callbacks_updated", "callbacks", "updated_at"),
        filtered("callbacks_requested", "callbacks", "created_at", "state = 'requested'"),
        plain("attempts_ended", "attempts", "ended_at"),
    ],
    // 7: agents shared by several nodes (issue 10). An agent is offered one callback at a
    // time whichever node offers it: an agent leg still open holds its agent, and the
    // unique index refuses a second one (older open legs of the same agent, and open legs
    // of callbacks no longer in a dispatch, which earlier builds could leave after a crash
    // or a cancel during the preview, are closed as interrupted first; transitions out of
    // a dispatch now close them). `agents` keeps each agent's ready/away as last set on
    // any node (no row: the configured start state).
    &[
        Item::Sql(
            "UPDATE attempts SET ended_at = started_at, hangup_cause = 'INTERRUPTED', result = 'error'
    WHERE leg = 'agent' AND ended_at IS NULL AND agent IS NOT NULL
      AND id < (SELECT MAX(b.id) FROM attempts b
                WHERE b.leg = 'agent' AND b.ended_at IS NULL AND b.agent = attempts.agent)",
        ),
        Item::Sql(
            "UPDATE attempts SET ended_at = started_at, hangup_cause = 'INTERRUPTED', result = 'error'
    WHERE leg = 'agent' AND ended_at IS NULL
      AND callback_id NOT IN (SELECT id FROM callbacks
                              WHERE state IN ('due', 'offering', 'previewing', 'dialing', 'connected'))",
        ),
        Item::Index(Index {
            name: "attempts_agent_busy",
            table: "attempts",
            unique: true,
            keys: "agent",
            by_id: false,
            filter: Filter::Sql("leg = 'agent' AND ended_at IS NULL"),
        }),
        Item::Table(Table {
            name: "agents",
            columns: &[
                text("id", "PRIMARY KEY"),
                int("ready", "NOT NULL"),
                int("since", "NOT NULL"),
                text("node", "NOT NULL"),
            ],
            check: None,
            rowid: true,
        }),
    ],
    // 8: idempotency scoped to the request (issue 17). A create with an Idempotency-Key
    // keeps a digest of the request it came with; the same key replayed with another
    // request is refused instead of answering with the first callback. NULL for rows
    // without a key, and for rows stored before this step (not compared).
    //
    // The per-number cap (every door, issue 17) counts the callbacks still open for a
    // number on each change: the waiting ones through `callbacks_pending_number`, the ones
    // being dispatched through this index (a handful of rows), never by a table scan.
    &[
        Item::AddColumn("callbacks", text("request_hash", "")),
        partial(
            "callbacks_active_number",
            "callbacks",
            "number",
            false,
            Filter::AnyOf(ACTIVE),
        ),
    ],
    // 9: the dispatcher's counters as columns (issue 18): waits in a row (the back-off of a
    // callback waiting for an agent, and whether an agent getting ready pulls it forward),
    // failovers so far, and when it was first claimed (a personal callback's fallback).
    // Earlier builds found them by searching the trace for `wait`, `failover` and `claim`;
    // the backfill counts them the same way from the trace, so a running site keeps them:
    // the waits since the last trace row that was neither a wait nor a claim.
    &[
        Item::AddColumn("callbacks", int("waits", "NOT NULL DEFAULT 0")),
        Item::AddColumn("callbacks", int("failovers", "NOT NULL DEFAULT 0")),
        Item::AddColumn("callbacks", int("first_claimed_at", "")),
        Item::Sql(
            "UPDATE callbacks SET first_claimed_at =
    (SELECT e.at FROM events e WHERE e.callback_id = callbacks.id AND e.action = 'claim'
     ORDER BY e.id LIMIT 1)
    WHERE id IN (SELECT callback_id FROM events WHERE action = 'claim')",
        ),
        Item::Sql(
            "UPDATE callbacks SET failovers =
    (SELECT count(*) FROM events e WHERE e.callback_id = callbacks.id AND e.action = 'failover')
    WHERE id IN (SELECT callback_id FROM events WHERE action = 'failover')",
        ),
        Item::Sql(
            "UPDATE callbacks SET waits =
    (SELECT count(*) FROM events e WHERE e.callback_id = callbacks.id AND e.action = 'wait'
       AND e.id > coalesce((SELECT max(x.id) FROM events x WHERE x.callback_id = callbacks.id
                            AND x.action NOT IN ('wait', 'claim')), 0))
    WHERE id IN (SELECT callback_id FROM events WHERE action = 'wait')",
        ),
    ],
    // 10: the outbox and the panel's logins on a store several nodes share (issue 18).
    // An event's place in the outbox is (tx, id). SQLite's single writer makes ids follow
    // commits, so tx stays 0 there. PostgreSQL's ids come from a sequence in insert order,
    // not commit order, so tx is the writing transaction's id (`xid8`, set by the column's
    // default in every insert) and the outbox reads in (tx, id) order up to the oldest
    // transaction still running (see store/webhooks.rs); rows older than this step get 0
    // (added with a constant default, then the default changes, so the table is not
    // rewritten), and no cursor can be behind them, none existed there. A cursor keeps the
    // pair, and a lease (owner, expiry) so one worker at a time delivers it. Panel sessions:
    // the SHA-256 of the token (never the token), the user, when it was made and last used,
    // and when it expires (by that index, so pruning reads none).
    &[
        Item::Only(
            Engine::Sqlite,
            &[Item::AddColumn("events", int("tx", "NOT NULL DEFAULT 0"))],
        ),
        Item::Only(
            Engine::Postgres,
            &[
                Item::Sql("ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT '0'::xid8"),
                Item::Sql("ALTER TABLE events ALTER COLUMN tx SET DEFAULT pg_current_xact_id()"),
                plain("events_outbox", "events", "tx, id"),
            ],
        ),
        Item::AddColumn("webhook_cursors", int("last_tx", "NOT NULL DEFAULT 0")),
        Item::AddColumn("webhook_cursors", text("lease_owner", "")),
        Item::AddColumn("webhook_cursors", int("lease_expires", "NOT NULL DEFAULT 0")),
        Item::Table(Table {
            name: "panel_sessions",
            columns: &[
                text("token_sha256", "PRIMARY KEY"),
                text("user_name", "NOT NULL"),
                int("created_at", "NOT NULL"),
                int("last_used", "NOT NULL"),
                int("expires_at", "NOT NULL"),
            ],
            check: None,
            rowid: true,
        }),
        plain("panel_sessions_expiry", "panel_sessions", "expires_at"),
    ],
    // 11: the time-last-changed index holds finished callbacks only (issue 18, the claim
    // figure). Its readers (the panel's recently finished list, the retention purge) only
    // ask for finished callbacks, while every claim and transition of a live callback
    // moved its entry: one more random page of a 1M-entry index written per callback
    // claimed. The states are `FINISHED` as the panel's query said it at the release.
    &[
        Item::DropIndex("callbacks_updated"),
        partial(
            "callbacks_updated",
            "callbacks",
            "updated_at",
            false,
            Filter::AnyOf(FINISHED),
        ),
    ],
    // 12: the number's type (issue 24: mobile, home, work, other) as the caller, client or
    // agent gave it; NULL when nobody said (every row before this step).
    &[Item::AddColumn("callbacks", text("number_type", ""))],
    // 13: one index of a number's open callbacks instead of two (issue 18, the claim
    // figure), SQLite's own cost (nothing changes on PostgreSQL, whose update writes a new
    // index entry either way). A claim moves a row from waiting to due: it left
    // `callbacks_pending_number` and entered `callbacks_active_number`, two random pages of
    // 1M-entry indexes written per row claimed. Keyed and filtered on every open state, the
    // row's entry stays where it is (SQLite rewrites it in the same leaf page). Its readers
    // (the merge into a pending request, the per-number cap) add their own state test on
    // the few rows of the number.
    &[Item::Only(
        Engine::Sqlite,
        &[
            Item::DropIndex("callbacks_pending_number"),
            Item::DropIndex("callbacks_active_number"),
            partial(
                "callbacks_open_number",
                "callbacks",
                "CAST(substr(number, 2) AS INTEGER)",
                false,
                Filter::AnyOf(OPEN),
            ),
        ],
    )],
];
