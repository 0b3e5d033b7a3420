//! Configuration: `callback.conf.xml` read into plain key/values ([`raw`]), then validated
//! here into [`Config`] with errors that name the key (`queues/sales/slot-minutes`) and why.
//! Keys are kebab-case, as in FreeSWITCH's own autoload_configs. Unknown keys are refused:
//! a typo silently ignored is a callback that never happens.

mod answer;
mod api;
mod dispatch;
mod ivr;
mod notice;
mod params;
mod queue;
pub mod raw;
mod reload;
mod staff;

use crate::ivr::IvrProfile;
use crate::number::NumberPolicy;
use crate::schedule::LegalHours;
use crate::transcribe::{AudioLimits, EngineConfig, TagRule, TagRules, WorkerConfig};
pub use answer::{AfterMessage, OnMachine, QueueAnswer};
pub use api::{calling_code, ApiConfig, ApiKey, Scope, WebhookTarget, WidgetConfig};
use chrono::Duration;
use chrono_tz::Tz;
pub use dispatch::{
    endpoint_problem, ringback_variable, AgentConfig, DispatchConfig, PreviewTimeout, QueueDial,
    Routing, DEFAULT_RINGBACK,
};
pub use notice::{Channel, Notice, NoticeConfig, Smtp, PLACEHOLDERS};
use params::{check_token, language, legal_week, list, Params};
pub use queue::QueueConfig;
use queue::QUEUE_KEYS;
use raw::RawConfig;
pub use staff::{Role, StaffConfig, StaffUser, Visibility};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A configuration error, naming where (`settings/horizon-days`, `queues/sales/hours`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ConfigError {
    pub at: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            message: message.into(),
        }
    }
}

/// Where the host keeps its databases and recordings: the defaults of `db-path`
/// (`<db>/callback.db`) and `recordings-dir` (`<recordings>/callback`). The module passes
/// its switch's own directories, so a package install, a source install and a container
/// each get theirs; [`HostDirs::default`] (relative `db` and `recordings`) serves the core
/// alone (the demo, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDirs {
    pub db: PathBuf,
    pub recordings: PathBuf,
}

impl Default for HostDirs {
    fn default() -> Self {
        Self {
            db: PathBuf::from("db"),
            recordings: PathBuf::from("recordings"),
        }
    }
}

/// Module-wide settings (`<settings>`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The SQLite database file (unused when `db_url` is set).
    pub db_path: PathBuf,
    /// A PostgreSQL server shared by several nodes (`db-url`); `None`: the SQLite file.
    pub db_url: Option<DbUrl>,
    /// The certificate authority (PEM) the PostgreSQL server's certificate must chain to
    /// (`db-ca-file`): connections to `db-url` use TLS, verified against it only.
    pub db_ca_file: Option<PathBuf>,
    /// SQLite's page cache ceiling, KiB (`db-cache-mb`, default 16): it fills as the file
    /// grows, so the module's resident size grows with the database up to this much. Not
    /// larger by default: a commit after a b-tree page swap scans the whole cache (see
    /// `store::sqlite`'s `CACHE_KIB`).
    pub db_cache_kib: i64,
    /// Where callers' recordings are written (server-made names only).
    pub recordings_dir: PathBuf,
    /// This node's name, the owner of its leases.
    pub node_id: String,
    /// Region assumed for numbers typed without a country code (ISO 3166, e.g. `DE`).
    pub default_region: Option<String>,
    /// E.164 prefixes never dialled (premium rate, ...).
    pub deny_prefixes: Vec<String>,
    /// The queue of requests that name none.
    pub default_queue: String,
    /// The zone of queues and customers that name none.
    pub default_time_zone: Tz,
    /// A second request from a number with one pending in the same queue is merged into it.
    pub merge_pending: bool,
    /// How long a dispatcher holds a claimed callback before another may take it over.
    pub lease: Duration,
    /// Longest remark kept, in characters.
    pub max_remark_chars: usize,
    /// Recordings and transcripts are deleted this long after their callback finished
    /// (`None`: kept).
    pub retention: Option<Duration>,
    /// A callback's promise is kept when its first customer dial comes within this long of
    /// the time promised (`promise-minutes`): the operator view's and `/metrics`' figure.
    pub promise: Duration,
}

/// A PostgreSQL connection string (`db-url`). Its password never shows: `Debug` and
/// `Display` print it as `***`; [`DbUrl::expose`] gives the whole string to the driver.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl DbUrl {
    /// Checks the scheme (`postgres://` or `postgresql://`) and that the URL names a host
    /// and a database.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| {
                format!(
                    "'{}' must start with postgres:// or postgresql://",
                    crate::store::redact_url(url)
                )
            })?;
        let rest = rest.split('?').next().unwrap_or_default();
        let host_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        match host_path.split_once('/') {
            Some((host, db)) if !host.is_empty() && !db.is_empty() => Ok(Self(url.to_string())),
            _ => Err(format!(
                "'{}' must name a host and a database (postgres://user:password@host:5432/callbacks)",
                crate::store::redact_url(url)
            )),
        }
    }

    /// The full string, password included: for the driver only, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbUrl({})", crate::store::redact_url(&self.0))
    }
}

impl std::fmt::Display for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::store::redact_url(&self.0))
    }
}

/// Transcription of recordings (`whisper-*`, `transcribe-*` settings and `<tags>`).
#[derive(Debug, Clone)]
pub struct TranscribeConfig {
    /// `model_path` is `None` when `whisper-model` is unset or empty: transcription off.
    pub engine: EngineConfig,
    pub workers: WorkerConfig,
    /// `<tags><tag name="intent=billing">`, in file order (first match per key wins).
    pub tags: TagRules,
    /// `whisper-language` of the queues that name their own (queue -> code or `auto`).
    pub queue_languages: BTreeMap<String, String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub queues: BTreeMap<String, QueueConfig>,
    pub numbers: NumberPolicy,
    pub transcribe: TranscribeConfig,
    /// `<ivr-profiles><profile name="...">` by name.
    pub ivr_profiles: BTreeMap<String, IvrProfile>,
    /// `<legal-hours><country name="US">`: when numbers of a country may be called, in the
    /// customer's zone.
    pub legal: LegalHours,
    /// How agents are rung and previews run.
    pub dispatch: DispatchConfig,
    /// `<agents><agent name="...">`, in file order.
    pub agents: Vec<AgentConfig>,
    /// The REST API: listen address, limits and `<api-keys>`.
    pub api: ApiConfig,
    /// The agent panel's `<staff>` and `<roles>`.
    pub staff: StaffConfig,
    /// Confirmations and reminders to customers (`<notices>`), the SMTP relay, `public-url`.
    pub notices: NoticeConfig,
}

const SETTINGS_KEYS: &[&str] = &[
    "db-path",
    "db-url",
    "db-ca-file",
    "db-cache-mb",
    "recordings-dir",
    "node-id",
    "default-region",
    "deny-prefixes",
    "default-queue",
    "default-time-zone",
    "horizon-days",
    "merge-pending",
    "lease-seconds",
    "max-remark-chars",
    "retention-days",
    "promise-minutes",
    "whisper-model",
    "whisper-language",
    "whisper-threads",
    "whisper-beam-size",
    "whisper-prompt",
    "whisper-vocabulary",
    "whisper-temperature-fallback",
    "whisper-second-view",
    "whisper-telephone-band",
    "whisper-no-speech-threshold",
    "transcribe-workers",
    "transcribe-max-seconds",
    "transcribe-truncate-long",
    "transcribe-max-attempts",
    "transcribe-retry-delay",
];

const TAG_KEYS: &[&str] = &["words", "regex", "queue", "priority"];

/// Keys of `<legal-hours><country name="US">`.
const LEGAL_KEYS: &[&str] = &["hours"];

impl Config {
    /// Reads and validates a `callback.conf.xml` file.
    pub fn load_file(path: &Path) -> Result<Self, ConfigError> {
        Self::load_file_in(path, &HostDirs::default())
    }

    /// [`Config::load_file`] with the host's directories for the defaults.
    pub fn load_file_in(path: &Path, dirs: &HostDirs) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(path.display().to_string(), format!("cannot read: {e}"))
        })?;
        Self::from_xml_in(&text, dirs)
            .map_err(|e| ConfigError::new(format!("{}: {}", path.display(), e.at), e.message))
    }

    /// Reads and validates the text of a `callback.conf.xml`.
    pub fn from_xml(text: &str) -> Result<Self, ConfigError> {
        Self::from_xml_in(text, &HostDirs::default())
    }

    /// [`Config::from_xml`] with the host's directories for the defaults.
    pub fn from_xml_in(text: &str, dirs: &HostDirs) -> Result<Self, ConfigError> {
        Self::from_raw_in(&raw::parse(text)?, dirs)
    }

    /// Validates key/values; every default is documented in the sample configuration.
    pub fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Self::from_raw_in(raw, &HostDirs::default())
    }

    /// [`Config::from_raw`] with the host's directories for the defaults.
    pub fn from_raw_in(raw: &RawConfig, dirs: &HostDirs) -> Result<Self, ConfigError> {
        let settings_keys: Vec<&str> = SETTINGS_KEYS
            .iter()
            .chain(dispatch::DISPATCH_SETTINGS)
            .chain(api::API_SETTINGS)
            .chain(notice::NOTICE_SETTINGS)
            .copied()
            .collect();
        let s = Params::new("settings", &raw.settings, &settings_keys)?;
        let default_time_zone = s.zone("default-time-zone", Tz::UTC)?;
        let horizon_days = s.number("horizon-days", 30u32, 1..=365)?;
        let default_queue = s.text("default-queue", "default");
        check_token(&s, "default-queue", &default_queue)?;
        let node_id = s.text("node-id", "node-1");
        check_token(&s, "node-id", &node_id)?;
        let default_region = s
            .get("default-region")
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        let deny_prefixes: Vec<String> = list(s.get("deny-prefixes").unwrap_or(""))
            .into_iter()
            .map(str::to_string)
            .collect();
        for p in &deny_prefixes {
            if !p
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'))
                || !p.chars().any(|c| c.is_ascii_digit())
            {
                return Err(s.err(
                    "deny-prefixes",
                    format!("'{p}' is not a number prefix such as +1900"),
                ));
            }
        }
        let deny_refs: Vec<&str> = deny_prefixes.iter().map(String::as_str).collect();
        let numbers = NumberPolicy::new(default_region.as_deref(), &deny_refs)
            .map_err(|e| s.err("default-region", e.to_string()))?;
        let lease_secs = s.number("lease-seconds", 300i64, 10..=86_400)?;
        let settings = Settings {
            db_path: match s.get("db-path").filter(|p| !p.trim().is_empty()) {
                Some(p) => PathBuf::from(p),
                None => dirs.db.join("callback.db"),
            },
            db_url: match s.get("db-url").map(str::trim).filter(|u| !u.is_empty()) {
                None => None,
                Some(url) => Some(DbUrl::parse(url).map_err(|m| s.err("db-url", m))?),
            },
            db_ca_file: match s.get("db-ca-file").map(str::trim).filter(|p| !p.is_empty()) {
                None => None,
                Some(_) if s.get("db-url").is_none_or(|u| u.trim().is_empty()) => {
                    return Err(s.err("db-ca-file", "is for db-url (PostgreSQL); set db-url too"))
                }
                Some(p) if !Path::new(p).is_file() => {
                    return Err(s.err("db-ca-file", format!("'{p}' is not a readable file")))
                }
                Some(p) => Some(PathBuf::from(p)),
            },
            db_cache_kib: s.number("db-cache-mb", 16i64, 1..=65_536)? * 1024,
            recordings_dir: {
                let fallback = dirs.recordings.join("callback");
                let dir = s.text("recordings-dir", &fallback.to_string_lossy());
                if dir.is_empty() || dir.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(s.err(
                        "recordings-dir",
                        "must be a directory path without spaces (it is played back to callers)",
                    ));
                }
                PathBuf::from(dir)
            },
            node_id,
            default_region,
            deny_prefixes,
            default_queue: default_queue.clone(),
            default_time_zone,
            merge_pending: s.flag("merge-pending", true)?,
            lease: Duration::seconds(lease_secs),
            max_remark_chars: s.number("max-remark-chars", 500usize, 1..=10_000)?,
            retention: match s.number("retention-days", 90i64, 0..=36_500)? {
                0 => None,
                d => Some(Duration::days(d)),
            },
            promise: Duration::minutes(s.number("promise-minutes", 15i64, 1..=1440)?),
        };

        let mut queues = BTreeMap::new();
        let mut tag_rules = Vec::new();
        let mut queue_languages: BTreeMap<String, String> = BTreeMap::new();
        let mut profile_sections = Vec::new();
        let mut agents: Vec<AgentConfig> = Vec::new();
        let queue_keys: Vec<&str> = QUEUE_KEYS
            .iter()
            .chain(dispatch::QUEUE_DIAL_KEYS)
            .chain(answer::QUEUE_ANSWER_KEYS)
            .copied()
            .collect();
        let mut agent_params = Vec::new();
        let mut api_keys: Vec<ApiKey> = Vec::new();
        let mut webhooks: Vec<WebhookTarget> = Vec::new();
        let mut user_sections = Vec::new();
        let mut notice_sections = Vec::new();
        let mut roles: BTreeMap<String, Role> = ["agent", "supervisor", "admin"]
            .into_iter()
            .map(|n| (n.to_string(), Role::builtin(n)))
            .collect();
        let mut roles_seen = Vec::new();
        let mut legal = LegalHours::default();
        for section in &raw.sections {
            if section.group == "legal-hours" && section.kind == "country" {
                let at = format!("{}/{}", section.group, section.name);
                let l = Params::new(&at, &section.params, LEGAL_KEYS)?;
                let code = section.name.trim().to_ascii_uppercase();
                if code.parse::<phonenumber::country::Id>().is_err() {
                    return Err(ConfigError::new(
                        at,
                        format!(
                            "'{}' is not a two-letter ISO 3166 country code such as US or DE",
                            section.name
                        ),
                    ));
                }
                let week = legal_week(&l, "hours")?
                    .ok_or_else(|| l.err("hours", "give the hours, e.g. mon-sat 08:00-21:00"))?;
                if !legal.insert(&code, week) {
                    return Err(ConfigError::new(at, "the country is given twice"));
                }
                continue;
            }
            if section.group == "staff" && section.kind == "user" {
                user_sections.push(section);
                continue;
            }
            if section.group == "notices" && section.kind == "notice" {
                notice_sections.push(section);
                continue;
            }
            if section.group == "roles" && section.kind == "role" {
                let at = format!("{}/{}", section.group, section.name);
                let r = Params::new(&at, &section.params, staff::ROLE_KEYS)?;
                if roles_seen.contains(&section.name) {
                    return Err(ConfigError::new(at, "the role is defined twice"));
                }
                roles_seen.push(section.name.clone());
                roles.insert(section.name.clone(), staff::build_role(&r, &section.name)?);
                continue;
            }
            if section.group == "webhooks" && section.kind == "webhook" {
                let at = format!("{}/{}", section.group, section.name);
                let w = Params::new(&at, &section.params, api::WEBHOOK_KEYS)?;
                let hook = api::build_webhook(&w, &section.name)?;
                if webhooks.iter().any(|x| x.name == hook.name) {
                    return Err(ConfigError::new(at, "the webhook is defined twice"));
                }
                webhooks.push(hook);
                continue;
            }
            if section.group == "api-keys" && section.kind == "key" {
                let at = format!("{}/{}", section.group, section.name);
                let k = Params::new(&at, &section.params, api::KEY_KEYS)?;
                let key = api::build_key(&k, &section.name)?;
                if api_keys.iter().any(|x| x.name == key.name) {
                    return Err(ConfigError::new(at, "the key is defined twice"));
                }
                if api_keys.iter().any(|x| x.secret == key.secret) {
                    return Err(k.err("secret", "two keys share this secret"));
                }
                api_keys.push(key);
                continue;
            }
            if section.group == "agents" && section.kind == "agent" {
                let at = format!("{}/{}", section.group, section.name);
                let a = Params::new(&at, &section.params, dispatch::AGENT_KEYS)?;
                let agent = dispatch::build_agent(&a, &section.name)?;
                if agents.iter().any(|x| x.id == agent.id) {
                    return Err(ConfigError::new(at, "the agent is defined twice"));
                }
                agents.push(agent);
                agent_params.push(a);
                continue;
            }
            if section.group == "ivr-profiles" && section.kind == "profile" {
                profile_sections.push(section);
                continue;
            }
            let at = format!("{}/{}", section.group, section.name);
            if section.group == "tags" && section.kind == "tag" {
                let t = Params::new(&at, &section.params, TAG_KEYS)?;
                tag_rules.push((Self::build_tag(&t, &section.name)?, t));
                continue;
            }
            if section.group != "queues" || section.kind != "queue" {
                return Err(ConfigError::new(
                    format!("{}/{} (line {})", section.group, section.kind, section.line),
                    "unknown section (known: <queues><queue name=\"...\">, \
                     <tags><tag name=\"key=value\">, <ivr-profiles><profile name=\"...\">, \
                     <agents><agent name=\"...\">, <api-keys><key name=\"...\">, <webhooks><webhook name=\"...\">, \
                     <staff><user name=\"...\">, <roles><role name=\"...\">, \
                     <notices><notice name=\"...\">, <legal-hours><country name=\"US\">)",
                ));
            }
            let q = Params::new(&at, &section.params, &queue_keys)?;
            check_token(&q, "name", &section.name)?;
            if queues.contains_key(&section.name) {
                return Err(ConfigError::new(at, "the queue is defined twice"));
            }
            if let Some(lang) = q.get("whisper-language") {
                queue_languages.insert(section.name.clone(), language(&q, lang)?);
            }
            queues.insert(
                section.name.clone(),
                queue::build_queue(&q, &section.name, &settings, horizon_days)?,
            );
        }
        if queues.is_empty() {
            // A module with no <queues> still works: one always-open default queue.
            let q = Params::new("queues/default", &[], &queue_keys)?;
            queues.insert(
                default_queue.clone(),
                queue::build_queue(&q, &default_queue, &settings, horizon_days)?,
            );
        }
        if !queues.contains_key(&default_queue) {
            return Err(s.err(
                "default-queue",
                format!("queue '{default_queue}' is not defined in <queues>"),
            ));
        }
        for (name, q) in &queues {
            if let Some(f) = &q.retry.failover_queue {
                if f == name || !queues.contains_key(f) {
                    return Err(ConfigError::new(
                        format!("queues/{name}/failover-queue"),
                        format!("'{f}' must name another queue defined in <queues>"),
                    ));
                }
            }
        }
        for (rule, t) in &tag_rules {
            if let Some(q) = &rule.queue {
                if !queues.contains_key(q) {
                    return Err(t.err("queue", format!("queue '{q}' is not defined in <queues>")));
                }
            }
        }
        for (agent, a) in agents.iter().zip(&agent_params) {
            for q in &agent.queues {
                if !queues.contains_key(q) {
                    return Err(a.err("queues", format!("queue '{q}' is not defined in <queues>")));
                }
            }
        }
        let queue_names: Vec<&String> = queues.keys().collect();
        let mut users: Vec<StaffUser> = Vec::new();
        for section in user_sections {
            let at = format!("{}/{}", section.group, section.name);
            let u = Params::new(&at, &section.params, staff::USER_KEYS)?;
            let user = staff::build_user(&u, &section.name, &roles, &agents, &queue_names)?;
            if users.iter().any(|x| x.name == user.name) {
                return Err(ConfigError::new(at, "the user is defined twice"));
            }
            users.push(user);
        }
        let staff = StaffConfig { users, roles };
        let mut notices: Vec<Notice> = Vec::new();
        for section in notice_sections {
            let at = format!("{}/{}", section.group, section.name);
            let n = Params::new(&at, &section.params, notice::NOTICE_KEYS)?;
            let notice = notice::build_notice(&n, &section.name, &queue_names)?;
            if notices.iter().any(|x| x.name == notice.name) {
                return Err(ConfigError::new(at, "the notice is defined twice"));
            }
            notices.push(notice);
        }
        let dispatch = dispatch::build_dispatch(&s)?;
        let api = api::build_api(&s, api_keys, webhooks)?;
        let notices = notice::build_notices(&s, notices, api.token_secret.as_deref())?;
        let profile_keys = ivr::known_keys();
        let profile_keys: Vec<&str> = profile_keys.iter().map(String::as_str).collect();
        let mut ivr_profiles = BTreeMap::new();
        for section in profile_sections {
            let at = format!("{}/{}", section.group, section.name);
            let p = Params::new(&at, &section.params, &profile_keys)?;
            check_token(&p, "name", &section.name)?;
            let profile = ivr::build_profile(&p, &section.name, &queues)?;
            if ivr_profiles.insert(section.name.clone(), profile).is_some() {
                return Err(ConfigError::new(at, "the profile is defined twice"));
            }
        }
        let transcribe = Self::build_transcribe(
            &s,
            TagRules::new(tag_rules.into_iter().map(|(r, _)| r).collect()),
            queue_languages,
        )?;
        Ok(Self {
            settings,
            queues,
            numbers,
            transcribe,
            ivr_profiles,
            legal,
            dispatch,
            agents,
            api,
            staff,
            notices,
        })
    }

    fn build_transcribe(
        s: &Params<'_>,
        tags: TagRules,
        queue_languages: BTreeMap<String, String>,
    ) -> Result<TranscribeConfig, ConfigError> {
        let model_path = s
            .get("whisper-model")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        let language = language(s, &s.text("whisper-language", "en"))?;
        let prompt = s.get("whisper-prompt").filter(|p| !p.trim().is_empty());
        if prompt.is_some_and(|p| p.contains('\0')) {
            return Err(s.err("whisper-prompt", "the prompt contains a NUL character"));
        }
        // Product names and other words callers say that whisper would not guess; with the
        // tag rules' words they prime the decoder.
        let products = s.get("whisper-vocabulary").unwrap_or("");
        if products.contains('\0') {
            return Err(s.err("whisper-vocabulary", "the list contains a NUL character"));
        }
        let mut vocabulary = tags.vocabulary();
        for w in products.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if !vocabulary.iter().any(|v| v.eq_ignore_ascii_case(w)) {
                vocabulary.push(w.to_string());
            }
        }
        let defaults = EngineConfig::default();
        let no_speech_threshold = match s.get("whisper-no-speech-threshold") {
            None => defaults.no_speech_threshold,
            Some(v) => v
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or_else(|| {
                    s.err(
                        "whisper-no-speech-threshold",
                        format!("'{v}' is not a probability from 0 to 1"),
                    )
                })?,
        };
        let engine = EngineConfig {
            model_path,
            language,
            threads: s.number("whisper-threads", defaults.threads, 1..=16)?,
            beam_size: s.number("whisper-beam-size", defaults.beam_size, 0..=8)?,
            temperature_fallback: s.flag(
                "whisper-temperature-fallback",
                defaults.temperature_fallback,
            )?,
            initial_prompt: prompt.map(str::to_string),
            second_view_emphasis: if s.flag("whisper-second-view", true)? {
                crate::transcribe::engine::SECOND_VIEW_EMPHASIS
            } else {
                0.0
            },
            telephone_band: s.flag("whisper-telephone-band", true)?,
            vocabulary,
            no_speech_threshold,
            limits: AudioLimits {
                max_seconds: s.number("transcribe-max-seconds", 120u32, 1..=3600)?,
                truncate_long: s.flag("transcribe-truncate-long", false)?,
                ..AudioLimits::default()
            },
            ..defaults
        };
        let wd = WorkerConfig::default();
        let base = s.duration("transcribe-retry-delay", "30s")?;
        if base <= Duration::zero() {
            return Err(s.err("transcribe-retry-delay", "must be longer than zero"));
        }
        let workers = WorkerConfig {
            workers: s.number("transcribe-workers", 1usize, 1..=8)?,
            max_attempts: s.number("transcribe-max-attempts", wd.max_attempts, 1..=20)?,
            backoff_base: base,
            ..wd
        };
        Ok(TranscribeConfig {
            engine,
            workers,
            tags,
            queue_languages,
        })
    }

    /// `<tag name="key=value">` with `words` or `regex` (one of them), `queue`, `priority`.
    fn build_tag(t: &Params<'_>, name: &str) -> Result<TagRule, ConfigError> {
        let rule = match (t.get("words"), t.get("regex")) {
            (Some(w), None) => TagRule::words(name, w).map_err(|e| t.err("words", e.message))?,
            (None, Some(r)) => TagRule::regex(name, r).map_err(|e| t.err("regex", e.message))?,
            _ => return Err(t.err("words", "give either words or regex (exactly one)")),
        };
        let rule = match t.get("queue").filter(|q| !q.is_empty()) {
            Some(q) => {
                check_token(t, "queue", q)?;
                rule.with_queue(q)
            }
            None => rule,
        };
        Ok(match t.get("priority") {
            Some(_) => rule.with_priority(t.number("priority", 0i32, -1000..=1000)?),
            None => rule,
        })
    }

    /// The IVR profile named; without a name the one called `default`, or the built-in
    /// defaults when none is configured. `None` for an unknown name.
    pub fn ivr_profile(&self, name: Option<&str>) -> Option<IvrProfile> {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => self.ivr_profiles.get(n).cloned(),
            None => Some(
                self.ivr_profiles
                    .get("default")
                    .cloned()
                    .unwrap_or_else(|| IvrProfile::default_named("default")),
            ),
        }
    }

    /// The queue named, or the default queue when `name` is `None`.
    pub fn queue(&self, name: Option<&str>) -> Option<&QueueConfig> {
        self.queues
            .get(name.unwrap_or(&self.settings.default_queue))
    }
}
