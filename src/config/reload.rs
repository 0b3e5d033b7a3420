//! What a reloaded configuration may change while the module runs, and what only a new
//! load applies: the database and this node's name (leases and connections are bound to
//! them), the HTTP server's address, keys and limits and the webhooks (fixed when the
//! server and the outbox worker start), and the whisper engine and workers.

use super::Config;

impl Config {
    /// The settings that differ between `self` (in force) and `new` and that a reload
    /// cannot apply, named as in `callback.conf.xml`. Empty: everything applies live.
    pub fn restart_only_changes(&self, new: &Config) -> Vec<&'static str> {
        let (a, b) = (&self.settings, &new.settings);
        let (x, y) = (&self.api, &new.api);
        let mut out = Vec::new();
        let mut differs = |changed: bool, name: &'static str| {
            if changed {
                out.push(name);
            }
        };
        differs(a.db_path != b.db_path, "db-path");
        differs(
            a.db_url.as_ref().map(|u| u.expose()) != b.db_url.as_ref().map(|u| u.expose()),
            "db-url",
        );
        differs(a.db_ca_file != b.db_ca_file, "db-ca-file");
        differs(a.db_cache_kib != b.db_cache_kib, "db-cache-mb");
        differs(a.node_id != b.node_id, "node-id");
        differs(x.listen != y.listen, "http-listen");
        differs(
            (
                x.max_body_bytes,
                x.max_recording_bytes,
                x.rate_per_key,
                x.rate_per_ip,
            ) != (
                y.max_body_bytes,
                y.max_recording_bytes,
                y.rate_per_key,
                y.rate_per_ip,
            ) || x.max_pending_per_number != y.max_pending_per_number,
            "http-* limits",
        );
        differs(x.token_secret != y.token_secret, "http-token-secret");
        differs(x.keys != y.keys, "api-keys");
        differs(
            x.webhooks != y.webhooks
                || (x.webhook_retry_delay, x.webhook_max_delay)
                    != (y.webhook_retry_delay, y.webhook_max_delay),
            "webhooks",
        );
        // The tag rules apply live, but the decoder's prompt made from their words is the
        // engine's: a change of words alone is named apart, so the admin knows the tags are
        // in force and only the prompt waits.
        let (e, f) = (&self.transcribe.engine, &new.transcribe.engine);
        let same_but_words = crate::transcribe::EngineConfig {
            vocabulary: f.vocabulary.clone(),
            ..e.clone()
        } == *f;
        differs(
            !same_but_words
                || self.transcribe.workers != new.transcribe.workers
                || self.transcribe.queue_languages != new.transcribe.queue_languages,
            "whisper-* / transcribe-*",
        );
        differs(
            same_but_words && e.vocabulary != f.vocabulary,
            "whisper prompt (tag words, whisper-vocabulary)",
        );
        out
    }
}
