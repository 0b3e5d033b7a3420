//! Statements both backends run as the same text. They use PostgreSQL's `$N` parameters,
//! which SQLite also accepts but binds by order of first appearance, not by the number:
//! so in each statement here the `$N` first appear as `$1, $2, …` in order (the test below
//! keeps it so), and each backend passes its values in that order.

/// Removes the panel sessions expired by `$1` (epoch seconds).
pub(crate) const SESSIONS_PURGE: &str = "DELETE FROM panel_sessions WHERE expires_at <= $1";

/// Opens a panel session: digest, user, now, expiry.
pub(crate) const SESSION_INSERT: &str =
    "INSERT INTO panel_sessions (token_sha256, user_name, created_at, last_used, \
     expires_at) VALUES ($1, $2, $3, $3, $4)";

/// Removes the session `$1` if it expired by `$2`.
pub(crate) const SESSION_EXPIRE: &str =
    "DELETE FROM panel_sessions WHERE token_sha256 = $1 AND expires_at <= $2";

/// Renews a session: now, new expiry, digest.
pub(crate) const SESSION_RENEW: &str =
    "UPDATE panel_sessions SET last_used = $1, expires_at = $2 WHERE token_sha256 = $3";

/// Closes the session `$1`.
pub(crate) const SESSION_CLOSE: &str = "DELETE FROM panel_sessions WHERE token_sha256 = $1";

/// Records an agent ready or away: id, ready (0/1), since, node.
pub(crate) const AGENT_READY: &str = "INSERT INTO agents (id, ready, since, node) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id) DO UPDATE SET ready = $2, since = $3, node = $4";

/// Every agent's ready state: id, ready (0/1), since, node.
pub(crate) const AGENTS: &str = "SELECT id, ready, since, node FROM agents ORDER BY id";

/// Queues a transcription: callback, file, now; its id.
pub(crate) const JOB_INSERT: &str =
    "INSERT INTO transcriptions (callback_id, wav_path, state, next_try_at, \
     created_at, updated_at) VALUES ($1, $2, 'queued', $3, $3, $3) RETURNING id";

/// Claims the job `$3` until `$1` at now `$2`: one attempt more, the claim's token.
pub(crate) const JOB_CLAIM: &str =
    "UPDATE transcriptions SET state = 'running', attempts = attempts + 1, \
     lease_until = $1, updated_at = $2 WHERE id = $3 \
     RETURNING callback_id, wav_path, attempts";

/// Stores a transcription job's failure: its next state, next try, error and now, for the
/// job `$5` still running at attempt `$6` (whoever lost the lease changes nothing).
pub(crate) const JOB_FAIL: &str =
    "UPDATE transcriptions SET state = $1, next_try_at = $2, lease_until = NULL, \
     error = $3, updated_at = $4 \
     WHERE id = $5 AND state = 'running' AND attempts = $6";

/// Leases the webhook cursor `$3` to `$1` (none: released) until `$2`.
pub(crate) const CURSOR_LEASE: &str =
    "UPDATE webhook_cursors SET lease_owner = $1, lease_expires = $2 WHERE name = $3";

/// Moves the webhook cursor `$5` past a delivered position (tx, id) at now, keeping its
/// lease until `$4`; a delivery clears the failures.
pub(crate) const CURSOR_MOVE: &str =
    "UPDATE webhook_cursors SET last_tx = $1, last_event = $2, attempts = 0, \
     next_try_at = 0, last_error = NULL, updated_at = $3, lease_expires = $4 \
     WHERE name = $5";

/// Counts a failed delivery of the webhook cursor `$4`: next try, error, now.
pub(crate) const CURSOR_FAILURE: &str =
    "UPDATE webhook_cursors SET attempts = attempts + 1, next_try_at = $1, \
     last_error = $2, updated_at = $3 WHERE name = $4";

/// Empties a purged callback `$2`'s transcriptions at now (`$1`): a job still to run fails
/// as purged.
pub(crate) const TRANSCRIPTS_PURGE: &str =
    "UPDATE transcriptions SET wav_path = '', text = NULL, segments = NULL, \
     language = NULL, lease_until = NULL, updated_at = $1, \
     error = CASE WHEN state IN ('queued', 'running') THEN 'purged' ELSE error END, \
     state = CASE WHEN state IN ('queued', 'running') THEN 'failed' ELSE state END \
     WHERE callback_id = $2";

/// Stores a transcript: text, segments, language, processing ms, now, for the job `$6`
/// still running at attempt `$7`.
pub(crate) const JOB_DONE: &str =
    "UPDATE transcriptions SET state = 'done', lease_until = NULL, text = $1, \
     segments = $2, language = $3, processing_ms = $4, updated_at = $5 \
     WHERE id = $6 AND state = 'running' AND attempts = $7";

/// Whether the callback `$1` exists.
pub(crate) const CALLBACK_EXISTS: &str = "SELECT 1 FROM callbacks WHERE id = $1";

/// The legs of the callback `$1`, oldest first.
pub(crate) const ATTEMPTS_OF: &str = concat!(
    "SELECT ",
    super::rows::attempt_columns!(),
    " FROM attempts WHERE callback_id = $1 ORDER BY id"
);

/// Callbacks counted by queue and state.
pub(crate) const STATS: &str = "SELECT queue, state, count(*) FROM callbacks GROUP BY queue, state";

/// Finished attempts counted by queue, leg and result.
pub(crate) const ATTEMPT_RESULTS: &str = "SELECT c.queue, a.leg, a.result, count(*) \
     FROM attempts a JOIN callbacks c ON c.id = a.callback_id \
     WHERE a.result IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

/// Transcription jobs counted by state.
pub(crate) const JOB_STATES: &str =
    "SELECT state, count(*) FROM transcriptions GROUP BY state ORDER BY state";

/// The newest trace row's id, 0 without any.
pub(crate) const LAST_EVENT: &str = "SELECT COALESCE(MAX(id), 0) FROM events";

/// Customer calls of the queue `$1` ended at or after `$2`, counted by result.
pub(crate) const RESULTS_SINCE: &str = "SELECT a.result, count(*) FROM attempts a \
     JOIN callbacks c ON c.id = a.callback_id \
     WHERE c.queue = $1 AND a.leg = 'customer' AND a.ended_at >= $2 \
     GROUP BY a.result ORDER BY a.result";

/// Every statement above, for the test.
#[cfg(test)]
const ALL: &[&str] = &[
    SESSIONS_PURGE,
    SESSION_INSERT,
    SESSION_EXPIRE,
    SESSION_RENEW,
    SESSION_CLOSE,
    AGENT_READY,
    AGENTS,
    JOB_INSERT,
    JOB_CLAIM,
    JOB_FAIL,
    CURSOR_LEASE,
    CURSOR_MOVE,
    CURSOR_FAILURE,
    TRANSCRIPTS_PURGE,
    JOB_DONE,
    CALLBACK_EXISTS,
    ATTEMPTS_OF,
    STATS,
    ATTEMPT_RESULTS,
    JOB_STATES,
    LAST_EVENT,
    RESULTS_SINCE,
];

/// The `$N` numbers of `sql` in order of first appearance.
#[cfg(test)]
pub(crate) fn first_appearances(sql: &str) -> Vec<u32> {
    let mut seen = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<u32>() {
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::{first_appearances, ALL};

    #[test]
    fn shared_statements_number_their_parameters_in_order_of_first_appearance() {
        // SQLite binds $N by first appearance: a statement out of order would bind wrong values.
        for sql in ALL {
            let seen = first_appearances(sql);
            let expected: Vec<u32> = (1..=u32::try_from(seen.len()).unwrap()).collect();
            assert_eq!(seen, expected, "parameters out of order in: {sql}");
        }
    }

    #[test]
    fn the_order_check_sees_a_statement_out_of_order() {
        // The check above can fail: an UPDATE naming $2 before $1 is caught.
        assert_eq!(
            first_appearances("UPDATE t SET a = $2 WHERE b = $1"),
            vec![2, 1]
        );
    }
}
