//! The transcription keys of `callback.conf.xml`: the decoder's vocabulary (tag rules'
//! words and `whisper-vocabulary`), the no-speech threshold, temperature fallback and a
//! queue's own language; bad values refused naming the key.

use callback_core::config::Config;

fn conf(settings: &str, queue_params: &str) -> String {
    format!(
        r#"<configuration name="callback.conf">
  <settings><param name="default-queue" value="support"/>{settings}</settings>
  <queues>
    <queue name="support"><param name="hours" value="always"/></queue>
    <queue name="berlin"><param name="hours" value="always"/>{queue_params}</queue>
  </queues>
  <tags>
    <tag name="intent=billing"><param name="words" value="invoice, bill, charged twice"/></tag>
    <tag name="urgency=high"><param name="regex" value="\b(urgent|asap)\b"/></tag>
    <tag name="intent=cancel"><param name="words" value="cancel, Invoice"/></tag>
  </tags>
</configuration>"#
    )
}

#[test]
fn the_prompt_holds_tag_words_then_product_names_once() {
    // Word rules' phrases in order, then the products; a repeated word (any case) once,
    // regex rules not at all; the free prompt text comes first.
    let c = Config::from_xml(&conf(
        r#"<param name="whisper-vocabulary" value="FiberMax, HomeShield , bill"/>
           <param name="whisper-prompt" value="A customer asks for a callback"/>"#,
        "",
    ))
    .unwrap();
    let e = &c.transcribe.engine;
    assert_eq!(
        e.vocabulary,
        [
            "invoice",
            "bill",
            "charged twice",
            "cancel",
            "FiberMax",
            "HomeShield"
        ]
    );
    assert_eq!(
        e.prompt().as_deref(),
        Some(
            "A customer asks for a callback. invoice, bill, charged twice, cancel, \
             FiberMax, HomeShield."
        )
    );
}

#[test]
fn defaults_and_settings_of_the_decoder() {
    // Without keys: fallback on, threshold 0.6, no queue languages; each key changes its value.
    let c = Config::from_xml(&conf("", "")).unwrap();
    assert!(c.transcribe.engine.temperature_fallback);
    assert!((c.transcribe.engine.no_speech_threshold - 0.6).abs() < 1e-6);
    assert!(c.transcribe.queue_languages.is_empty());
    assert!(c.transcribe.engine.second_view_emphasis > 0.0);
    assert!(c.transcribe.engine.telephone_band);
    let c = Config::from_xml(&conf(
        r#"<param name="whisper-second-view" value="false"/>
           <param name="whisper-telephone-band" value="false"/>
           <param name="whisper-temperature-fallback" value="false"/>
           <param name="whisper-no-speech-threshold" value="0.8"/>"#,
        r#"<param name="whisper-language" value="de"/>"#,
    ))
    .unwrap();
    assert!(!c.transcribe.engine.temperature_fallback);
    assert_eq!(c.transcribe.engine.second_view_emphasis, 0.0);
    assert!(!c.transcribe.engine.telephone_band);
    assert!((c.transcribe.engine.no_speech_threshold - 0.8).abs() < 1e-6);
    assert_eq!(
        c.transcribe
            .queue_languages
            .get("berlin")
            .map(String::as_str),
        Some("de")
    );
}

#[test]
fn bad_transcription_values_are_refused_naming_the_key() {
    // A threshold that is no probability, a queue language that is no code, a flag that is
    // not true or false: the load fails with the key named.
    for (settings, queue, key) in [
        (
            r#"<param name="whisper-no-speech-threshold" value="1.5"/>"#,
            "",
            "whisper-no-speech-threshold",
        ),
        (
            r#"<param name="whisper-no-speech-threshold" value="high"/>"#,
            "",
            "whisper-no-speech-threshold",
        ),
        (
            "",
            r#"<param name="whisper-language" value="German"/>"#,
            "queues/berlin/whisper-language",
        ),
        (
            r#"<param name="whisper-temperature-fallback" value="maybe"/>"#,
            "",
            "whisper-temperature-fallback",
        ),
        (
            r#"<param name="whisper-second-view" value="twice"/>"#,
            "",
            "whisper-second-view",
        ),
        (
            r#"<param name="whisper-telephone-band" value="3"/>"#,
            "",
            "whisper-telephone-band",
        ),
    ] {
        let e = Config::from_xml(&conf(settings, queue))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
}

#[test]
fn an_over_long_vocabulary_is_cut_at_a_word() {
    // whisper keeps only the end of a long prompt; ours is cut at a word boundary instead,
    // so the first (tag) words survive and no word is cut in half.
    let products: Vec<String> = (0..200).map(|n| format!("Product{n}")).collect();
    let c = Config::from_xml(&conf(
        &format!(
            r#"<param name="whisper-vocabulary" value="{}"/>"#,
            products.join(", ")
        ),
        "",
    ))
    .unwrap();
    let p = c.transcribe.engine.prompt().unwrap();
    assert!(p.chars().count() <= callback_core::transcribe::engine::PROMPT_MAX_CHARS);
    assert!(p.starts_with("invoice, bill"), "{p}");
    let last = p.rsplit(", ").next().unwrap();
    assert!(products.iter().any(|w| w == last), "{last}");
}
