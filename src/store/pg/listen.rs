//! The other nodes' notifications: a thread of its own listening on the schema's channel,
//! calling the dispatcher's nudge for each burst of them.

use super::pg_err;
use super::tls::Tls;
use postgres::fallible_iterator::FallibleIterator;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The thread of [`PgStore::listen`]; stopped (and joined) by [`Listener::stop`] or drop.
pub struct Listener {
    pub(super) stop: Arc<AtomicBool>,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the PostgreSQL listener thread panicked");
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long the listener waits for a notification before it looks at its stop flag.
const LISTEN_POLL: std::time::Duration = std::time::Duration::from_millis(200);

pub(super) fn listen_loop(
    url: &str,
    tls: &Tls,
    channel: &str,
    node: &str,
    stop: &AtomicBool,
    wake: &(dyn Fn() + Send + Sync),
) {
    let mut lost = false;
    // A quoted identifier: the schema's name may hold any character.
    let listen = format!("LISTEN \"{}\"", channel.replace('"', "\"\""));
    while !stop.load(Ordering::SeqCst) {
        let listening = tls
            .connect(url, Some(LISTEN_CONNECT_TIMEOUT))
            .and_then(|mut c| {
                c.batch_execute(&listen)
                    .map_err(pg_err("listening for other nodes"))?;
                Ok(c)
            });
        let mut client = match listening {
            Ok(c) => {
                if std::mem::take(&mut lost) {
                    tracing::info!("listening for other nodes' changes again");
                }
                // Whatever was said while not listening is looked at now.
                wake();
                c
            }
            Err(e) => {
                if !std::mem::replace(&mut lost, true) {
                    tracing::warn!(
                        "not listening for other nodes' changes: {e}; trying every second \
                         (due callbacks are still found by the dispatcher's timers)"
                    );
                }
                // A second, in steps, so an unload does not wait for it.
                for _ in 0..10 {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                continue;
            }
        };
        while !stop.load(Ordering::SeqCst) {
            let mut failed = None;
            {
                let mut n = client.notifications();
                let mut it = n.timeout_iter(LISTEN_POLL);
                // The iterator waits for a quiet spell: under a steady stream it does not
                // end, so each notification wakes and the stop flag is looked at each time.
                loop {
                    match it.next() {
                        Ok(Some(note)) => {
                            if note.payload() != node {
                                wake();
                            }
                            if stop.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            if failed.is_none() && client.is_closed() {
                tracing::warn!(
                    "listening for other nodes' changes: the connection closed; reconnecting"
                );
                lost = true;
                break;
            }
            if let Some(e) = failed {
                tracing::warn!(
                    "listening for other nodes' changes: {e}; reconnecting (due callbacks \
                     are still found by the dispatcher's timers)"
                );
                lost = true;
                break;
            }
        }
    }
}

/// How long the listener waits for the server when it (re)connects: an unload joins it.
const LISTEN_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
