//! The simulated core itself: scripted endpoints, simulated applications and the virtual
//! clock behave as FreeSWITCH's do, as far as the module relies on them.

use callback_simulator::{Endpoint, Sim};
use chrono::{Duration, TimeZone, Utc};

fn sim() -> Sim {
    Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap())
}

#[test]
fn originate_meets_scripted_endpoints_on_the_virtual_clock() {
    // Answer after N s, busy, reject, wrong number and no answer give FreeSWITCH's replies and times.
    let sim = sim();
    let t0 = sim.now();
    sim.endpoint("user/1001", Endpoint::Answer(5));
    sim.endpoint("user/1002", Endpoint::Busy);
    sim.endpoint("user/1003", Endpoint::NoAnswer);
    sim.endpoint("user/1004", Endpoint::Reject);
    sim.endpoint("sofia/gateway/pstn/+12125550199", Endpoint::WrongNumber);
    let r = sim.api(
        "originate {origination_uuid=aaaa-1,originate_timeout=20,callback_id=7}user/1001 &park()",
    );
    assert_eq!(r, "+OK aaaa-1\n");
    assert_eq!(sim.now() - t0, Duration::seconds(5));
    assert_eq!(sim.var("aaaa-1", "callback_id").as_deref(), Some("7"));
    assert_eq!(sim.api("originate user/1002 &park()"), "-ERR USER_BUSY\n");
    assert_eq!(
        sim.api("originate user/1004 &park()"),
        "-ERR CALL_REJECTED\n"
    );
    assert_eq!(
        sim.api("originate sofia/gateway/pstn/+12125550199 &park()"),
        "-ERR UNALLOCATED_NUMBER\n"
    );
    let before = sim.now();
    assert_eq!(
        sim.api("originate {originate_timeout=30}user/1003 &park()"),
        "-ERR NO_ANSWER\n"
    );
    assert_eq!(sim.now() - before, Duration::seconds(30));
    assert_eq!(
        sim.api("originate user/9999 &park()"),
        "-ERR NO_ROUTE_DESTINATION\n"
    );
    // An endpoint slower than the timeout is a no-answer too.
    sim.endpoint("user/1005", Endpoint::Answer(45));
    assert_eq!(
        sim.api("originate {originate_timeout=20}user/1005 &park()"),
        "-ERR NO_ANSWER\n"
    );
    assert_eq!(sim.api("uuid_kill aaaa-1 NORMAL_CLEARING"), "+OK\n");
    assert_eq!(sim.api("uuid_kill nope"), "-ERR No such channel!\n");
    assert_eq!(sim.api("frob x"), "-ERR frob Command not found!\n");
}

#[test]
fn record_writes_a_wav_and_sets_the_record_variables() {
    // record writes a valid WAV at the given path and sets record_seconds / record_ms.
    let sim = sim();
    let call = sim.new_call("+12125550142");
    let path = std::env::temp_dir().join(format!("sim-record-{}.wav", std::process::id()));
    let p = path.to_string_lossy().to_string();
    assert!(sim.execute(&call, "record", &format!("{p} 120 200 3")));
    let wav = hound::WavReader::open(&path).unwrap();
    assert_eq!(wav.spec().sample_rate, 8000);
    assert_eq!(wav.duration(), 3 * 8000);
    assert_eq!(sim.var(&call, "record_seconds").as_deref(), Some("3"));
    assert_eq!(sim.var(&call, "record_ms").as_deref(), Some("3000"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn play_and_get_digits_uses_scripted_digits_and_times_out() {
    // Scripted digits land in the variable; with none, every try times out on the virtual
    // clock and the variable keeps its old value (as switch_ivr_read leaves it).
    let sim = sim();
    let call = sim.new_call("+12125550142");
    sim.press(&call, "2");
    let args = "1 1 3 5000 # menu.wav invalid.wav choice \\d";
    assert!(sim.execute(&call, "play_and_get_digits", args));
    assert_eq!(sim.var(&call, "choice").as_deref(), Some("2"));
    let before = sim.now();
    assert!(sim.execute(&call, "play_and_get_digits", args));
    assert_eq!(sim.var(&call, "choice").as_deref(), Some("2"));
    assert_eq!(sim.now() - before, Duration::seconds(15));
    assert!(sim.execute(&call, "sleep", "1500"));
    assert_eq!(sim.now() - before, Duration::milliseconds(16_500));
    assert!(sim.execute(&call, "answer", ""));
    assert!(sim.execute(&call, "hangup", "USER_BUSY"));
    assert!(!sim.execute(&call, "no_such_app", ""));
}

#[test]
fn play_and_get_digits_applies_terminators_regexp_and_hangups() {
    // A terminator ends the input; digits that fail the regexp clear the variable and
    // cost a try; a caller who hangs up leaves the call not ready and every later
    // application refused.
    let sim = sim();
    let call = sim.new_call("+12125550142");
    sim.press(&call, "12#9");
    assert!(sim.execute(
        &call,
        "play_and_get_digits",
        "1 4 1 5000 # m.wav i.wav v \\d+"
    ));
    assert_eq!(sim.var(&call, "v").as_deref(), Some("12"));
    sim.press(&call, "7");
    sim.press(&call, "1");
    assert!(sim.execute(
        &call,
        "play_and_get_digits",
        "1 1 2 5000 # m.wav i.wav w ^1$"
    ));
    assert_eq!(sim.var(&call, "w").as_deref(), Some("1"));
    sim.press(&call, "7");
    assert!(sim.execute(
        &call,
        "play_and_get_digits",
        "1 1 1 5000 # m.wav i.wav w ^1$"
    ));
    assert_eq!(sim.var(&call, "w"), None);
    sim.act(&call, callback_simulator::Act::Hangup);
    assert!(sim.execute(
        &call,
        "play_and_get_digits",
        "1 1 1 5000 # m.wav i.wav x \\d"
    ));
    assert!(!sim.session(&call).unwrap().ready());
    assert!(!sim.execute(&call, "playback", "m.wav"));
}
