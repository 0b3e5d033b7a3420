//! callback.conf.xml: the shipped sample loads, and every broken fixture is refused with an
//! error that names the key (and line) and says why.
//! About 1,000 lines: one test per setting or rule, the catalogue of what callback.conf.xml
//! accepts and refuses, kept in one file so every key's tests are found in one place.

use callback_core::config::{Config, Scope, Visibility};
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
    // A preview nobody answers with a key goes back to the queue; dialling is opted into.
    assert_eq!(
        c.dispatch.preview_timeout,
        callback_core::config::PreviewTimeout::Requeue
    );
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

#[test]
fn transcription_settings_and_tag_rules_load() {
    // Whisper keys and <tags> rules are read; no model means transcription off, not an error.
    let xml = r#"<configuration name="callback.conf">
  <settings>
    <param name="whisper-model" value="/opt/models/ggml-tiny.en.bin"/>
    <param name="whisper-threads" value="3"/>
    <param name="transcribe-max-seconds" value="90"/>
    <param name="transcribe-retry-delay" value="1m"/>
  </settings>
  <queues><queue name="default"/><queue name="billing"/></queues>
  <tags>
    <tag name="intent=billing">
      <param name="words" value="invoice, bill, account number"/>
      <param name="queue" value="billing"/>
    </tag>
    <tag name="urgency=high">
      <param name="regex" value="\b(urgent|asap)\b"/>
      <param name="priority" value="10"/>
    </tag>
  </tags>
</configuration>"#;
    let c = Config::from_xml(xml).unwrap();
    let t = &c.transcribe;
    assert_eq!(
        t.engine.model_path.as_deref(),
        Some(std::path::Path::new("/opt/models/ggml-tiny.en.bin"))
    );
    assert_eq!(t.engine.threads, 3);
    assert_eq!(t.engine.limits.max_seconds, 90);
    assert_eq!(t.workers.workers, 1);
    assert_eq!(t.workers.backoff_base, chrono::Duration::minutes(1));
    let out = t.tags.apply("This is URGENT, about my bill");
    assert_eq!(out.tags.get("intent").map(String::as_str), Some("billing"));
    assert_eq!(out.queue.as_deref(), Some("billing"));
    assert_eq!(out.priority, Some(10));

    let off = Config::from_xml(r#"<configuration name="callback.conf"/>"#).unwrap();
    assert!(off.transcribe.engine.model_path.is_none());
    assert!(off.transcribe.tags.is_empty());
}

#[test]
fn bad_tag_rules_are_refused_naming_the_key() {
    // A tag routing to an unknown queue, or with a broken regex, is a config error.
    let bad_queue = r#"<configuration name="callback.conf"><tags>
      <tag name="intent=billing"><param name="words" value="bill"/>
        <param name="queue" value="nowhere"/></tag></tags></configuration>"#;
    let e = Config::from_xml(bad_queue).unwrap_err().to_string();
    assert!(
        e.contains("tags/intent=billing/queue") && e.contains("nowhere"),
        "{e}"
    );
    let bad_regex = r#"<configuration name="callback.conf"><tags>
      <tag name="urgency=high"><param name="regex" value="(urgent"/></tag></tags></configuration>"#;
    let e = Config::from_xml(bad_regex).unwrap_err().to_string();
    assert!(e.contains("tags/urgency=high/regex"), "{e}");
    let bad_lang = r#"<configuration name="callback.conf"><settings>
      <param name="whisper-language" value="English"/></settings></configuration>"#;
    let e = Config::from_xml(bad_lang).unwrap_err().to_string();
    assert!(e.contains("whisper-language"), "{e}");
}

#[test]
fn a_bad_closed_date_names_the_closed_dates_key() {
    // The hours and the closed dates are separate keys; an error blames the right one.
    let xml = r#"<configuration name="callback.conf"><queues><queue name="default">
      <param name="hours" value="mon-fri 09:00-17:00"/>
      <param name="closed-dates" value="2026-12-25, 2026-13-01"/>
    </queue></queues></configuration>"#;
    let err = Config::from_xml(xml).unwrap_err().to_string();
    assert!(err.starts_with("queues/default/closed-dates"), "{err}");
    assert!(err.contains("'2026-13-01'"), "{err}");
}

#[test]
fn legal_calling_hours_load_per_country_and_queue_and_bad_ones_name_the_key() {
    // <legal-hours><country> and a queue's legal-hours load; an unknown country, a bad
    // week, a country given twice and missing hours are refused naming where.
    let ok = r#"<configuration name="callback.conf"><queues><queue name="default">
      <param name="legal-hours" value="mon-fri 09:00-20:00"/>
    </queue></queues><legal-hours>
      <country name="us"><param name="hours" value="mon-sun 08:00-21:00"/></country>
    </legal-hours></configuration>"#;
    let c = Config::from_xml(ok).unwrap();
    assert!(!c.legal.is_empty());
    assert!(c.queue(None).unwrap().legal_hours.is_some());
    for (xml, at, why) in [
        (
            r#"<country name="XX"><param name="hours" value="always"/></country>"#,
            "legal-hours/XX",
            "ISO 3166",
        ),
        (
            r#"<country name="DE"><param name="hours" value="mon-fri 9-5"/></country>"#,
            "legal-hours/DE/hours",
            "not a time range",
        ),
        (
            r#"<country name="DE"><param name="hours" value="always"/></country>
               <country name="de"><param name="hours" value="always"/></country>"#,
            "legal-hours/de",
            "twice",
        ),
        (
            r#"<country name="DE"></country>"#,
            "legal-hours/DE/hours",
            "give the hours",
        ),
    ] {
        let text = format!(
            r#"<configuration name="callback.conf"><legal-hours>{xml}</legal-hours></configuration>"#
        );
        let err = Config::from_xml(&text).unwrap_err().to_string();
        assert!(err.starts_with(at) && err.contains(why), "{xml}: {err}");
    }
    let bad_queue = r#"<configuration name="callback.conf"><queues><queue name="default">
      <param name="legal-hours" value="weekdays"/>
    </queue></queues></configuration>"#;
    let err = Config::from_xml(bad_queue).unwrap_err().to_string();
    assert!(err.starts_with("queues/default/legal-hours"), "{err}");
}

#[test]
fn ivr_profiles_load_with_defaults_and_overrides() {
    // The sample's profile means what its comments say; a config without profiles still
    // has the built-in default; an unknown profile name is None.
    let c = Config::load_file(&root().join("plugins/mod_callback/conf/callback.conf.xml")).unwrap();
    let p = c.ivr_profile(None).unwrap();
    assert_eq!(p.name, "default");
    assert_eq!(p.offer.len(), 3);
    assert_eq!(p.delay, chrono::Duration::minutes(30));
    assert_eq!(p.queue.as_deref(), Some("support"));
    assert_eq!(
        p.country_zones.get("DE").map(|z| z.name()),
        Some("Europe/Berlin")
    );
    assert_eq!(
        p.prompts.get("goodbye").map(String::as_str),
        Some("callback/goodbye.wav")
    );
    // The sample leaves the directories to the switch's own (db_dir, recordings_dir).
    assert_eq!(
        c.settings.recordings_dir,
        PathBuf::from("recordings/callback")
    );
    let dirs = callback_core::config::HostDirs {
        db: PathBuf::from("/usr/local/freeswitch/db"),
        recordings: PathBuf::from("/usr/local/freeswitch/recordings"),
    };
    let on_host = Config::load_file_in(
        &root().join("plugins/mod_callback/conf/callback.conf.xml"),
        &dirs,
    )
    .unwrap();
    assert_eq!(
        on_host.settings.recordings_dir,
        PathBuf::from("/usr/local/freeswitch/recordings/callback")
    );
    assert_eq!(
        on_host.settings.db_path,
        PathBuf::from("/usr/local/freeswitch/db/callback.db")
    );
    assert!(c.ivr_profile(Some("nosuch")).is_none());
    let m = Config::load_file(&root().join("fixtures/config/minimal.conf.xml")).unwrap();
    let d = m.ivr_profile(None).unwrap();
    assert_eq!((d.tries, d.review, d.keep_unconfirmed), (3, true, true));
    let ivr = Config::load_file(&root().join("fixtures/config/ivr.conf.xml")).unwrap();
    let preview = ivr.ivr_profile(Some("preview")).unwrap();
    assert_eq!(
        preview.prompts.get("record").map(String::as_str),
        Some("acme/callback-record.wav")
    );
    assert_eq!(
        preview.prompts.get("goodbye").map(String::as_str),
        Some("acme/bye.wav")
    );
}

#[test]
fn bad_ivr_profiles_are_refused_naming_the_key() {
    // Each broken profile names profile/key and the reason.
    let cases = [
        (
            "<param name=\"offer\" value=\"immediate, soon\"/>",
            "ivr-profiles/p/offer",
            "soon",
        ),
        (
            "<param name=\"offer\" value=\"delayed, delayed\"/>",
            "ivr-profiles/p/offer",
            "twice",
        ),
        (
            "<param name=\"queue\" value=\"nowhere\"/>",
            "ivr-profiles/p/queue",
            "nowhere",
        ),
        (
            "<param name=\"prompt-offer\" value=\"my offer.wav\"/>",
            "ivr-profiles/p/prompt-offer",
            "without spaces",
        ),
        (
            "<param name=\"tone\" value=\"${system(id)}\"/>",
            "ivr-profiles/p/tone",
            "${...}",
        ),
        (
            "<param name=\"country-zones\" value=\"DE=Mars/Base\"/>",
            "ivr-profiles/p/country-zones",
            "Mars/Base",
        ),
        (
            "<param name=\"country-zones\" value=\"Germany\"/>",
            "ivr-profiles/p/country-zones",
            "COUNTRY=Zone",
        ),
        (
            "<param name=\"tries\" value=\"0\"/>",
            "ivr-profiles/p/tries",
            "out of range",
        ),
        (
            "<param name=\"delay\" value=\"soon\"/>",
            "ivr-profiles/p/delay",
            "soon",
        ),
        (
            "<param name=\"colour\" value=\"red\"/>",
            "ivr-profiles/p/colour",
            "unknown key",
        ),
    ];
    for (param, at, why) in cases {
        let xml = format!(
            "<configuration name=\"callback.conf\"><ivr-profiles><profile name=\"p\">{param}\
             </profile></ivr-profiles></configuration>"
        );
        let e = Config::from_xml(&xml).unwrap_err().to_string();
        assert!(e.contains(at) && e.contains(why), "{param}: {e}");
    }
    let spaced = r#"<configuration name="callback.conf"><settings>
      <param name="recordings-dir" value="/var/my recordings"/></settings></configuration>"#;
    let e = Config::from_xml(spaced).unwrap_err().to_string();
    assert!(e.contains("settings/recordings-dir"), "{e}");
}

#[test]
fn agents_and_dispatch_settings_load_and_bad_ones_are_refused() {
    // The sample's agents and customer leg mean what they say; dial strings and caller IDs
    // that could carry code are refused, naming the key.
    let c = Config::load_file(&root().join("plugins/mod_callback/conf/callback.conf.xml")).unwrap();
    assert_eq!(c.agents.len(), 2);
    assert_eq!(c.agents[0].dial, "user/1001");
    assert!(c.agents[0].serves("overflow"));
    assert!(!c.agents[1].start_ready);
    let support = c.queue(Some("support")).unwrap();
    assert_eq!(support.dial.gateway, "sofia/gateway/pstn/{e164}");
    assert_eq!(support.dial.customer_timeout_secs, 60);
    assert_eq!(c.dispatch.agent_ring_secs, 20);
    assert_eq!(c.dispatch.dispositions.len(), 3);
    assert_eq!(
        c.dispatch.personal_fallback,
        Some(chrono::Duration::minutes(30))
    );
    let cases = [
        (
            r#"<agents><agent name="7"><param name="queues" value="nowhere"/></agent></agents>"#,
            "agents/7/queues",
        ),
        (
            r#"<agents><agent name="7"><param name="dial" value="user/7,sofia/gateway/x/1"/></agent></agents>"#,
            "agents/7/dial",
        ),
        (
            r#"<queues><queue name="q"><param name="gateway" value="sofia/gateway/${x}/{e164}"/></queue></queues>"#,
            "queues/q/gateway",
        ),
        (
            r#"<queues><queue name="q"><param name="caller-id-number" value="+1 212"/></queue></queues>"#,
            "queues/q/caller-id-number",
        ),
        (
            r#"<queues><queue name="q"><param name="strategy" value="random"/></queue></queues>"#,
            "queues/q/strategy",
        ),
        (
            r#"<settings><param name="preview-timeout" value="hangup"/></settings>"#,
            "settings/preview-timeout",
        ),
        (
            r#"<settings><param name="agent-caller-id-name" value="Call {number}"/></settings>"#,
            "settings/agent-caller-id-name",
        ),
        (
            r#"<settings><param name="agent-caller-id-name" value="Callback_for_our_most_valued_customers_please_answer_{number}"/></settings>"#,
            "settings/agent-caller-id-name",
        ),
    ];
    for (xml, at) in cases {
        let text = format!("<configuration name=\"callback.conf\">{xml}</configuration>");
        let e = Config::from_xml(&text).unwrap_err().to_string();
        assert!(e.contains(at), "{xml}: {e}");
    }
}

#[test]
fn the_dial_strings_an_admin_writes_load_as_written() {
    // Agents' dial and queues' gateway take what FreeSWITCH takes from an admin (host:port,
    // URI parameters, user%domain, loopback, verto); several legs, variables and expansions
    // are still refused, naming the key and what to write instead.
    let agents = [
        "sofia/internal/1001@10.0.0.5:5060",
        "sofia/internal/sip:1001@pbx.example.com:5080;transport=tcp",
        "sofia/internal/1001%pbx.example.com",
        "user/1001@pbx.example.com",
        "loopback/9000/default",
        "verto.rtc/u:3f2a9c1e-0000-4000-8000-000000000001",
    ];
    let gateways = [
        "sofia/gateway/pstn/{e164}",
        "sofia/external/{digits}@203.0.113.7:5080",
        "sofia/external/{e164}@sip.carrier.example:5061;transport=tls",
        "sofia/gateway/pstn/",
    ];
    for (dial, gateway) in agents.iter().zip(gateways.iter().cycle()) {
        let xml = format!(
            r#"<configuration name="callback.conf">
                 <settings><param name="default-queue" value="q"/></settings>
                 <queues><queue name="q"><param name="gateway" value="{gateway}"/></queue></queues>
                 <agents><agent name="7"><param name="dial" value="{dial}"/>
                   <param name="queues" value="q"/></agent></agents></configuration>"#
        );
        let c = Config::from_xml(&xml).unwrap_or_else(|e| panic!("{dial} / {gateway}: {e}"));
        assert_eq!(c.agents[0].dial, *dial);
        assert_eq!(c.queue(Some("q")).unwrap().dial.gateway, *gateway);
    }
    let refused_dials = [
        ("user/1001:_:user/1002", "':_:'"),
        ("user/1001|user/1002", "may only hold"),
        ("{ignore_early_media=true}user/1001", "may only hold"),
        ("[leg_timeout=5]user/1001", "may only hold"),
        ("user/${sofia_contact(1001)}", "may only hold"),
        ("user/1001 park", "may only hold"),
        ("user", "must name an endpoint"),
        ("/1001", "must name an endpoint"),
    ];
    for (dial, why) in refused_dials {
        let xml = format!(
            r#"<configuration name="callback.conf"><agents><agent name="7">
                 <param name="dial" value="{dial}"/></agent></agents></configuration>"#
        );
        let e = Config::from_xml(&xml).unwrap_err().to_string();
        assert!(
            e.contains("agents/7/dial") && e.contains(why),
            "{dial}: {e}"
        );
        assert!(
            e.contains("sofia/internal/1001@10.0.0.5:5060"),
            "{dial}: {e}"
        );
    }
    for (gateway, why) in [
        ("{e164}", "must name an endpoint"),
        ("sofia/gateway/{x}/{e164}", "may only hold"),
        (
            "sofia/gateway/pstn/{e164},sofia/gateway/b/{e164}",
            "may only hold",
        ),
        ("sofia/gateway/pstn/{e164}:_:loopback/1", "':_:'"),
    ] {
        let xml = format!(
            r#"<configuration name="callback.conf">
                 <settings><param name="default-queue" value="q"/></settings><queues><queue name="q">
                 <param name="gateway" value="{gateway}"/></queue></queues></configuration>"#
        );
        let e = Config::from_xml(&xml).unwrap_err().to_string();
        assert!(
            e.contains("queues/q/gateway") && e.contains(why),
            "{gateway}: {e}"
        );
    }
}

#[test]
fn the_rest_api_settings_and_keys_load_and_bad_ones_are_refused() {
    // The sample's API settings mean what its comments say; short secrets, unknown scopes,
    // bad addresses and shared secrets are refused naming the key; empty listen is off.
    let c = Config::load_file(&root().join("plugins/mod_callback/conf/callback.conf.xml")).unwrap();
    assert_eq!(c.api.listen, Some("127.0.0.1:8089".parse().unwrap()));
    assert_eq!(c.api.max_pending_per_number, 2);
    assert_eq!((c.api.rate_per_key, c.api.rate_per_ip), (600, 120));
    // The sample ships no keys (every request refused until the admin adds some).
    assert!(c.api.keys.is_empty());
    let keyed = Config::from_xml(
        r#"<configuration name="callback.conf"><api-keys>
             <key name="website"><param name="secret" value="website-key-0001-abcd"/>
               <param name="scope" value="create"/></key>
             <key name="crm"><param name="secret" value="staff-key-0002-abcdef"/>
               <param name="scope" value="staff"/></key>
             <key name="prometheus"><param name="secret" value="metrics-key-0004-abcd"/>
               <param name="scope" value="metrics"/></key>
           </api-keys></configuration>"#,
    )
    .unwrap();
    let scopes: Vec<(&str, Scope)> = keyed
        .api
        .keys
        .iter()
        .map(|k| (k.name.as_str(), k.scope))
        .collect();
    assert_eq!(
        scopes,
        vec![
            ("website", Scope::Create),
            ("crm", Scope::Staff),
            ("prometheus", Scope::Metrics)
        ]
    );
    assert!(
        !format!("{:?}", keyed.api).contains("key-000"),
        "secrets stay out of Debug"
    );

    let with = |settings: &str, keys: &str| {
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf"><settings>{settings}</settings>
               <api-keys>{keys}</api-keys></configuration>"#
        ))
    };
    let key = |name: &str, secret: &str, scope: &str| {
        format!(
            r#"<key name="{name}"><param name="secret" value="{secret}"/><param name="scope" value="{scope}"/></key>"#
        )
    };
    let off = with(r#"<param name="http-listen" value=""/>"#, "").unwrap();
    assert_eq!(off.api.listen, None);
    let cases = [
        (
            with(r#"<param name="http-listen" value="localhost"/>"#, ""),
            "settings/http-listen",
        ),
        (
            with(r#"<param name="http-token-secret" value="short"/>"#, ""),
            "settings/http-token-secret",
        ),
        (with("", &key("a", "short", "staff")), "api-keys/a/secret"),
        (
            with("", &key("a", "long-enough-secret-1", "admin")),
            "api-keys/a/scope",
        ),
        (
            with(
                "",
                &(key("a", "long-enough-secret-1", "staff")
                    + &key("b", "long-enough-secret-1", "create")),
            ),
            "api-keys/b/secret",
        ),
        (
            with(
                "",
                r#"<key name="a"><param name="colour" value="red"/></key>"#,
            ),
            "api-keys/a/colour",
        ),
    ];
    let hook = |url: &str| {
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf"><webhooks><webhook name="w">
               <param name="url" value="{url}"/><param name="secret" value="long-enough-secret-1"/>
               </webhook></webhooks></configuration>"#
        ))
    };
    let err = hook("https://example.com/x").unwrap_err().to_string();
    assert!(err.starts_with("webhooks/w/url"), "{err}");
    assert!(hook("http://example.com/x").is_ok());
    for (result, at) in cases {
        let err = result.unwrap_err().to_string();
        assert!(err.starts_with(at), "{at}: {err}");
    }
}

#[test]
fn staff_and_roles_load_with_defaults_and_bad_ones_are_refused() {
    // Users get their agent's queues as teams (plus `teams`); the three roles exist with
    // their defaults, a configured one overrides only what it names; unknown roles, agents,
    // queues, short passwords and agents without an agent id are refused naming the key;
    // passwords stay out of Debug.
    let with = |staff: &str, roles: &str| {
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf">
               <settings><param name="default-queue" value="support"/></settings>
               <queues><queue name="support"/><queue name="sales"/></queues>
               <agents><agent name="1001"><param name="queues" value="support"/></agent></agents>
               <staff>{staff}</staff><roles>{roles}</roles></configuration>"#
        ))
    };
    let user = |name: &str, params: &[(&str, &str)]| {
        let p: String = params
            .iter()
            .map(|(k, v)| format!(r#"<param name="{k}" value="{v}"/>"#))
            .collect();
        format!(r#"<user name="{name}">{p}</user>"#)
    };
    let alice = user(
        "alice",
        &[
            ("password", "alice-pass-1"),
            ("role", "agent"),
            ("agent", "1001"),
        ],
    );
    let sam = user(
        "sam",
        &[
            ("password", "sam-pass-12"),
            ("role", "supervisor"),
            ("teams", "sales, support"),
        ],
    );
    let c = with(
        &(alice.clone() + &sam),
        r#"<role name="agent"><param name="cancel" value="true"/></role>
           <role name="viewer"><param name="see" value="all"/></role>"#,
    )
    .unwrap();
    let a = c.staff.user("alice").unwrap();
    assert_eq!(a.agent.as_deref(), Some("1001"));
    assert_eq!(a.teams, vec!["support".to_string()]);
    assert_eq!(
        c.staff.user("sam").unwrap().teams,
        vec!["sales".to_string(), "support".to_string()]
    );
    let agent = c.staff.role("agent");
    assert!(agent.schedule && agent.reschedule && agent.cancel && !agent.reassign);
    assert!(!agent.operator);
    assert_eq!(agent.see, Visibility::Teams);
    let sup = c.staff.role("supervisor");
    assert!(sup.cancel && sup.reassign && sup.operator);
    assert_eq!(c.staff.role("admin").see, Visibility::All);
    let viewer = c.staff.role("viewer");
    assert!(!viewer.schedule && !viewer.cancel);
    assert_eq!(viewer.see, Visibility::All);
    assert!(
        !format!("{:?}", c.staff).contains("alice-pass-1"),
        "passwords stay out of Debug"
    );

    let cases = [
        (
            with(
                &user(
                    "bob",
                    &[("password", "short"), ("role", "agent"), ("agent", "1001")],
                ),
                "",
            ),
            "staff/bob/password",
        ),
        (
            with(
                &user("bob", &[("password", "long-enough"), ("role", "boss")]),
                "",
            ),
            "staff/bob/role",
        ),
        (
            with(
                &user("bob", &[("password", "long-enough"), ("role", "agent")]),
                "",
            ),
            "staff/bob/agent",
        ),
        (
            with(
                &user(
                    "bob",
                    &[
                        ("password", "long-enough"),
                        ("role", "agent"),
                        ("agent", "9999"),
                    ],
                ),
                "",
            ),
            "staff/bob/agent",
        ),
        (
            with(
                &user(
                    "bob",
                    &[
                        ("password", "long-enough"),
                        ("role", "admin"),
                        ("teams", "nope"),
                    ],
                ),
                "",
            ),
            "staff/bob/teams",
        ),
        (
            with(
                &user(
                    "bob",
                    &[
                        ("password", "long-enough"),
                        ("role", "admin"),
                        ("colour", "red"),
                    ],
                ),
                "",
            ),
            "staff/bob/colour",
        ),
        (with(&(alice.clone() + &alice), ""), "staff/alice"),
        (
            with(
                "",
                r#"<role name="agent"><param name="see" value="everyone"/></role>"#,
            ),
            "roles/agent/see",
        ),
        (
            with(
                "",
                r#"<role name="agent"><param name="cancel" value="maybe"/></role>"#,
            ),
            "roles/agent/cancel",
        ),
        (
            with(
                "",
                r#"<role name="agent"><param name="fly" value="true"/></role>"#,
            ),
            "roles/agent/fly",
        ),
    ];
    for (result, at) in cases {
        let err = result.unwrap_err().to_string();
        assert!(err.starts_with(at), "{at}: {err}");
    }
}

#[test]
fn db_url_is_checked_and_its_password_never_shows() {
    // `db-url` picks PostgreSQL; a wrong scheme or a URL without a database is refused with
    // the key named, and the password is hidden in Debug, Display and the error.
    let conf = |url: &str| {
        format!(
            r#"<configuration name="callback.conf"><settings>
      <param name="db-url" value="{url}"/></settings></configuration>"#
        )
    };
    let c = Config::from_xml(&conf("postgres://cb:s3cret@db.example:5432/callbacks")).unwrap();
    let url = c.settings.db_url.clone().expect("db-url set");
    assert_eq!(
        url.expose(),
        "postgres://cb:s3cret@db.example:5432/callbacks"
    );
    assert_eq!(
        url.to_string(),
        "postgres://cb:***@db.example:5432/callbacks"
    );
    let debug = format!("{:?}", c.settings);
    assert!(
        debug.contains("cb:***@db.example") && !debug.contains("s3cret"),
        "{debug}"
    );
    assert!(Config::from_xml(&conf("postgresql://cb@db/callbacks")).is_ok());

    let c = Config::from_xml(&conf("")).unwrap();
    assert!(c.settings.db_url.is_none(), "empty: the SQLite file");
    for (bad, why) in [
        (
            "mysql://cb:s3cret@db/callbacks",
            "must start with postgres://",
        ),
        (
            "postgres://cb:s3cret@db.example",
            "must name a host and a database",
        ),
        (
            "postgres://cb:s3cret@/callbacks",
            "must name a host and a database",
        ),
    ] {
        let e = Config::from_xml(&conf(bad)).unwrap_err().to_string();
        assert!(
            e.contains("settings/db-url") && e.contains(why),
            "{bad}: {e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
    }
}

#[test]
fn a_broken_element_around_a_multibyte_character_is_an_error_not_a_panic() {
    // Found by fuzzing: the XML reader stops inside a multi-byte character; the file is
    // refused naming its line instead of a panic slicing the text there.
    let bytes = std::fs::read(
        root().join("fixtures/fuzz/config/regressions/position-inside-a-character.xml"),
    )
    .unwrap();
    let err = Config::from_xml(&String::from_utf8_lossy(&bytes)).unwrap_err();
    assert!(err.at.starts_with("line "), "{err}");
    assert!(!err.message.is_empty(), "{err}");
}

#[test]
fn the_samples_placeholder_secrets_are_refused_naming_the_key() {
    // A `change-me` value left from the sample guards nothing: the API key, the token
    // secret, a webhook's secret and a staff password are each refused with the key named.
    let cases = [
        (
            r#"<api-keys><key name="web"><param name="secret" value="change-me-website-key-0001"/>
               <param name="scope" value="create"/></key></api-keys>"#,
            "api-keys/web/secret",
        ),
        (
            r#"<settings><param name="http-token-secret" value="change-me-to-a-long-random-string"/></settings>"#,
            "settings/http-token-secret",
        ),
        (
            r#"<webhooks><webhook name="crm"><param name="url" value="http://127.0.0.1:9000/x"/>
               <param name="secret" value="change-me-webhook-secret-0003"/></webhook></webhooks>"#,
            "webhooks/crm/secret",
        ),
        (
            r#"<agents><agent name="1001"/></agents><staff><user name="alice">
               <param name="password" value="change-me-alice"/><param name="role" value="agent"/>
               <param name="agent" value="1001"/></user></staff>"#,
            "staff/alice/password",
        ),
    ];
    for (xml, at) in cases {
        let text = format!("<configuration name=\"callback.conf\">{xml}</configuration>");
        let e = Config::from_xml(&text).unwrap_err().to_string();
        assert!(e.contains(at) && e.contains("placeholder"), "{xml}: {e}");
    }
}

#[test]
fn a_queue_ringback_is_a_tone_a_file_or_one_variable() {
    // The agent's ringback defaults to the US ring tone; a tone, a file or ${us-ring} are
    // accepted; an expansion inside other text, quotes or control characters are refused.
    let queue = |ringback: Option<&str>| {
        let p = ringback
            .map(|r| format!(r#"<param name="ringback" value="{r}"/>"#))
            .unwrap_or_default();
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf"><queues><queue name="q">{p}</queue></queues>
               <settings><param name="default-queue" value="q"/></settings></configuration>"#
        ))
    };
    let rb = |c: Config| c.queues["q"].dial.ringback.clone();
    assert_eq!(rb(queue(None).unwrap()), "%(2000,4000,440,480)");
    for ok in [
        "%(400,200,400,450);%(400,2000,400,450)",
        "/usr/share/sounds/ring.wav",
        "${us-ring}",
        "local_stream://moh",
    ] {
        assert_eq!(rb(queue(Some(ok)).unwrap()), ok);
    }
    for bad in ["a${system(id)}", "${us-ring}x", "&quot;x", ""] {
        let e = queue(Some(bad)).unwrap_err().to_string();
        assert!(e.contains("queues/q/ringback"), "{bad}: {e}");
    }
}

#[test]
fn a_queue_waits_for_transcripts_a_few_seconds_unless_told_otherwise() {
    // transcript-wait defaults to 8 s; a duration or 0 is taken; more than 10 minutes or
    // a word that is no duration is refused, naming the key.
    let queue = |wait: Option<&str>| {
        let p = wait
            .map(|w| format!(r#"<param name="transcript-wait" value="{w}"/>"#))
            .unwrap_or_default();
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf"><queues><queue name="q">{p}</queue></queues>
               <settings><param name="default-queue" value="q"/></settings></configuration>"#
        ))
    };
    let wait = |c: Config| c.queues["q"].dial.transcript_wait.num_seconds();
    assert_eq!(wait(queue(None).unwrap()), 8);
    assert_eq!(wait(queue(Some("30s")).unwrap()), 30);
    assert_eq!(wait(queue(Some("0")).unwrap()), 0);
    assert_eq!(wait(queue(Some("10m")).unwrap()), 600);
    for bad in ["11m", "soon", "-5s", ""] {
        let e = queue(Some(bad)).unwrap_err().to_string();
        assert!(e.contains("queues/q/transcript-wait"), "{bad}: {e}");
    }
}

#[test]
fn a_queue_says_where_its_rescheduled_callbacks_go() {
    // `rescheduled-callbacks`: the sample lets the agent choose; personal and campaign are
    // read; anything else is refused naming the queue's key and the three values.
    let c = Config::load_file(&root().join("plugins/mod_callback/conf/callback.conf.xml")).unwrap();
    assert_eq!(c.queue(None).unwrap().dial.reschedule_routing, None);
    let xml = |v: &str| {
        format!(
            r#"<configuration name="callback.conf"><settings><param name="default-region" value="US"/><param name="default-queue" value="sales"/></settings>
  <queues><queue name="sales"><param name="rescheduled-callbacks" value="{v}"/></queue></queues>
</configuration>"#
        )
    };
    for (v, want) in [
        ("personal", Some(callback_core::config::Routing::Personal)),
        ("campaign", Some(callback_core::config::Routing::Campaign)),
        ("agent-choice", None),
    ] {
        let c = Config::from_xml(&xml(v)).unwrap();
        assert_eq!(
            c.queue(Some("sales")).unwrap().dial.reschedule_routing,
            want
        );
    }
    let err = Config::from_xml(&xml("mine")).unwrap_err().to_string();
    assert!(
        err.contains("queues/sales/rescheduled-callbacks")
            && err.contains("must be personal, campaign or agent-choice"),
        "{err}"
    );
}

#[test]
fn a_queue_takes_agents_from_a_callcenter_queue_named_in_agents_from() {
    // agents-from="callcenter:<queue>" names mod_callcenter's queue; anything else (another
    // source, no queue, characters a command line would read) is refused naming the key.
    let queue = |from: Option<&str>| {
        let p = from
            .map(|f| format!(r#"<param name="agents-from" value="{f}"/>"#))
            .unwrap_or_default();
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf"><queues><queue name="q">{p}</queue></queues>
               <settings><param name="default-queue" value="q"/></settings></configuration>"#
        ))
    };
    let from = |c: Config| c.queues["q"].dial.agents_from.clone();
    assert_eq!(from(queue(None).unwrap()), None);
    assert_eq!(
        from(queue(Some("callcenter:sales@default")).unwrap()).as_deref(),
        Some("sales@default")
    );
    for bad in [
        "sales@default",
        "fifo:sales",
        "callcenter:",
        "callcenter:sales default",
        "callcenter:sales;rm",
    ] {
        let e = queue(Some(bad)).unwrap_err().to_string();
        assert!(e.contains("queues/q/agents-from"), "{bad}: {e}");
    }
}

#[test]
fn the_in_queue_offer_needs_agents_from_and_a_threshold_from_30s_to_4h() {
    // offer-after-wait is a duration with agents-from; off (or absent) offers nothing; too
    // short, too long, not a duration or without agents-from is refused naming the key.
    let queue = |params: &str| {
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf"><queues><queue name="q">{params}</queue></queues>
               <settings><param name="default-queue" value="q"/></settings></configuration>"#
        ))
    };
    let from = r#"<param name="agents-from" value="callcenter:sales@default"/>"#;
    let offer = |v: &str| format!(r#"{from}<param name="offer-after-wait" value="{v}"/>"#);
    let after = |c: Config| c.queues["q"].dial.offer_after_wait;
    assert_eq!(after(queue(from).unwrap()), None);
    assert_eq!(after(queue(&offer("off")).unwrap()), None);
    assert_eq!(
        after(queue(&offer("5m")).unwrap()),
        Some(chrono::Duration::minutes(5))
    );
    for bad in ["10s", "5h", "soon"] {
        let e = queue(&offer(bad)).unwrap_err().to_string();
        assert!(e.contains("queues/q/offer-after-wait"), "{bad}: {e}");
    }
    let e = queue(r#"<param name="offer-after-wait" value="5m"/>"#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("queues/q/offer-after-wait") && e.contains("agents-from"),
        "{e}"
    );
}

#[test]
fn the_fifo_offer_needs_line_from_naming_a_fifo_and_not_agents_from_too() {
    // line-from="fifo:<name>" lets offer-after-wait watch a fifo's callers; a value that
    // is no fifo name, or one beside agents-from, is refused naming the key.
    let queue = |params: &str| {
        Config::from_xml(&format!(
            r#"<configuration name="callback.conf"><queues><queue name="q">{params}</queue></queues>
               <settings><param name="default-queue" value="q"/></settings></configuration>"#
        ))
    };
    let line = |v: &str| format!(r#"<param name="line-from" value="{v}"/>"#);
    let offer = r#"<param name="offer-after-wait" value="5m"/>"#;
    let c = queue(&format!("{}{offer}", line("fifo:support"))).unwrap();
    assert_eq!(c.queues["q"].dial.line_from.as_deref(), Some("support"));
    assert_eq!(
        c.queues["q"].dial.offer_after_wait,
        Some(chrono::Duration::minutes(5))
    );
    for bad in [
        "support",
        "fifo:",
        "fifo:a b",
        "fifo:${x}",
        "callcenter:support",
    ] {
        let e = queue(&line(bad)).unwrap_err().to_string();
        assert!(e.contains("queues/q/line-from"), "{bad}: {e}");
    }
    let both = format!(
        r#"{}<param name="agents-from" value="callcenter:sales@default"/>"#,
        line("fifo:support")
    );
    let e = queue(&both).unwrap_err().to_string();
    assert!(
        e.contains("queues/q/line-from") && e.contains("not both"),
        "{e}"
    );
}
