//! The real mod_callback.so in the simulator sends customer notices (issue #22): a callback
//! captured by `callback_capture` gets its confirmation through the configured SMS
//! provider's webhook (a real HTTP receiver on 127.0.0.1), with the manage link; unload
//! stops the notice thread.

use callback_simulator::scenario::load_with_config;
use callback_simulator::Sim;
use chrono::{TimeZone, Utc};
use mod_callback::ffi::types::SWITCH_STATUS_SUCCESS;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "sms-secret-0123456789";

/// A one-route HTTP receiver keeping each request's body.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sms", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((h, b)) = text.split_once("\r\n\r\n") {
                    let len = h
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if b.len() >= len {
                        keep.lock().unwrap().push(b.to_string());
                        break;
                    }
                }
            }
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn a_captured_callback_is_confirmed_by_sms_from_the_loaded_module() {
    // callback_capture stores a delayed callback; the module's notice thread POSTs its
    // confirmation (number, time in the customer's zone, manage link) to the SMS webhook.
    let (url, got) = receiver();
    let dir = std::env::temp_dir().join(format!("callback-notices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("notices.conf.xml");
    std::fs::write(
        &conf,
        format!(
            r#"<configuration name="callback.conf">
  <settings>
    <param name="db-path" value="@TMP@/callback.db"/>
    <param name="recordings-dir" value="@TMP@/rec"/>
    <param name="default-region" value="US"/>
    <param name="default-queue" value="support"/>
    <param name="http-listen" value=""/>
    <param name="http-token-secret" value="token-secret-0123456789"/>
    <param name="public-url" value="https://callback.example.com"/>
  </settings>
  <queues>
    <queue name="support">
      <param name="time-zone" value="America/New_York"/>
      <param name="hours" value="always"/>
    </queue>
  </queues>
  <notices>
    <notice name="text">
      <param name="channel" value="sms"/>
      <param name="url" value="{url}"/>
      <param name="secret" value="{SECRET}"/>
      <param name="confirmation" value="Callback {{id}} at {{when}}: {{link}}"/>
    </notice>
  </notices>
</configuration>"#
        ),
    )
    .unwrap();
    // Monday 2026-11-23 14:00 UTC: 09:00 in New York.
    let sim = Sim::new(Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
    let m = load_with_config(&conf).unwrap_or_else(|e| panic!("load failed: {e}"));
    let call = sim.new_call("+12125550142");
    sim.execute(&call, "callback_capture", "type=delayed delay=30m");
    assert_eq!(sim.var(&call, "callback_result").as_deref(), Some("OK"));
    let id = sim.var(&call, "callback_id").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}\nlog: {:#?}", sim.logs());
    let sms: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(sms["to"], "+12125550142");
    let text = sms["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "Callback {id} at Monday 23 November 2026, 09:30 (America/New_York): \
             https://callback.example.com/widget/manage#cbt_{id}_"
        )),
        "{text}"
    );
    assert_eq!(m.unload(), SWITCH_STATUS_SUCCESS);
    let _ = std::fs::remove_dir_all(&dir);
}
