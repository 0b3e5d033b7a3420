//! The module's own answering-machine judgement: the cadence of the first seconds after
//! answer, as a pure function over 8 kHz 16-bit PCM.
//!
//! A person answers with a short "hello?" and then waits for the caller to speak; a machine
//! plays a greeting that runs on for several seconds with only short pauses between
//! words. So: voice that goes on (pauses under [`Cadence::end_of_turn_ms`]) for longer than
//! [`Cadence::greeting_ms`] is a machine; a short stretch of voice followed by a pause of
//! `end_of_turn_ms` is a person. No voice at all within the listening window (an open or a
//! noisy line) is unsure: the policy treats that as a person, since hanging up on a person
//! is the worse mistake.
//!
//! "Voice" is energy well above the line's own floor, the quietest stretch heard so far:
//! steady line noise, however loud, never rises above its own floor, so a noisy line with
//! nobody speaking stays unsure instead of reading as a long greeting.

/// Samples per second the detector reads (narrowband telephone audio).
pub const RATE: usize = 8000;
/// One analysis frame: 20 ms, the telephone packet size.
pub const FRAME: usize = RATE / 50;
const FRAME_MS: u32 = 20;

/// What the first seconds sounded like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    Human,
    Machine,
    /// Nobody spoke in the window, or the audio ended before the cadence told.
    Unsure,
}

impl Judgement {
    pub fn as_str(self) -> &'static str {
        match self {
            Judgement::Human => "human",
            Judgement::Machine => "machine",
            Judgement::Unsure => "unsure",
        }
    }
}

/// The judgement and how much audio it took (from the start of the audio).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub judgement: Judgement,
    pub after_ms: u32,
}

/// The cadence rules, in milliseconds of audio. The defaults are those the bench
/// (`cargo bench --bench amd`) was measured with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    /// Voice running on this long (pauses shorter than `end_of_turn_ms` included) is a
    /// greeting: a machine. Longer than a person's "Hello, Sarah speaking." (~1.3 s).
    pub greeting_ms: u32,
    /// A pause this long after voice ends a person's turn: they wait for an answer.
    pub end_of_turn_ms: u32,
    /// Voice shorter than this is a click or a breath, not speech.
    pub min_voice_ms: u32,
    /// With no voice by now: unsure (an open line).
    pub initial_silence_ms: u32,
    /// The listening window: undecided by then is unsure.
    pub window_ms: u32,
    /// Voice is energy at least this many times the floor (power ratio; 6 = 7.8 dB).
    pub voice_over_floor: f64,
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            greeting_ms: 1800,
            end_of_turn_ms: 700,
            min_voice_ms: 120,
            initial_silence_ms: 2500,
            window_ms: 4000,
            voice_over_floor: 6.0,
        }
    }
}

/// The quietest power a frame may have as the floor: digital silence (a floor of zero)
/// would make any click voice. About -60 dBFS.
const MIN_FLOOR: f64 = 1000.0;
/// The floor is the least mean power of this many frames in a row seen so far.
const FLOOR_FRAMES: usize = 5;

fn power(frame: &[i16]) -> f64 {
    if frame.is_empty() {
        return 0.0;
    }
    let sum: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    sum / frame.len() as f64
}

/// Judges `samples` (8 kHz mono 16-bit PCM from the moment of answer), frame by frame,
/// and stops at the first frame that decides.
pub fn judge(samples: &[i16], c: &Cadence) -> Decision {
    let mut floor = f64::INFINITY;
    let mut recent: Vec<f64> = Vec::with_capacity(FLOOR_FRAMES);
    // The current turn: when voice first started, voice heard in it, and the pause since.
    let mut turn_start: Option<u32> = None;
    let mut voiced_ms = 0u32;
    let mut run_ms = 0u32;
    let mut pause_ms = 0u32;
    let mut at = 0u32;
    for frame in samples.chunks_exact(FRAME) {
        at += FRAME_MS;
        let p = power(frame);
        recent.push(p);
        if recent.len() > FLOOR_FRAMES {
            recent.remove(0);
        }
        if recent.len() == FLOOR_FRAMES {
            let mean = recent.iter().sum::<f64>() / FLOOR_FRAMES as f64;
            floor = floor.min(mean);
        } else if floor.is_infinite() {
            // Until five frames are in, the first frame stands for the floor.
            floor = p;
        }
        let voice = p > floor.max(MIN_FLOOR) * c.voice_over_floor;
        if voice {
            run_ms += FRAME_MS;
            if run_ms >= c.min_voice_ms {
                if turn_start.is_none() {
                    turn_start = Some(at - run_ms);
                }
                pause_ms = 0;
            }
            if turn_start.is_some() {
                voiced_ms += FRAME_MS;
            }
        } else {
            run_ms = 0;
            if turn_start.is_some() {
                pause_ms += FRAME_MS;
            }
        }
        if let Some(start) = turn_start {
            let length = at.saturating_sub(start).saturating_sub(pause_ms);
            if length >= c.greeting_ms && voiced_ms * 2 >= length {
                return Decision {
                    judgement: Judgement::Machine,
                    after_ms: at,
                };
            }
            if pause_ms >= c.end_of_turn_ms {
                return Decision {
                    judgement: Judgement::Human,
                    after_ms: at,
                };
            }
        } else if at >= c.initial_silence_ms {
            return Decision {
                judgement: Judgement::Unsure,
                after_ms: at,
            };
        }
        if at >= c.window_ms {
            break;
        }
    }
    Decision {
        judgement: Judgement::Unsure,
        after_ms: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tone burst of `ms` at `amp`, as a stand-in for a spoken syllable.
    fn tone(ms: usize, amp: f64) -> Vec<i16> {
        (0..ms * RATE / 1000)
            .map(|i| (amp * (i as f64 * 2.0 * std::f64::consts::PI * 300.0 / 8000.0).sin()) as i16)
            .collect()
    }

    fn hiss(ms: usize, amp: i32, seed: &mut u32) -> Vec<i16> {
        (0..ms * RATE / 1000)
            .map(|_| {
                *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((*seed >> 16) as i32 % (2 * amp + 1) - amp) as i16
            })
            .collect()
    }

    fn words(pattern: &[(usize, usize)], seed: &mut u32) -> Vec<i16> {
        let mut v = hiss(300, 30, seed);
        for &(speak, pause) in pattern {
            v.extend(tone(speak, 8000.0));
            v.extend(hiss(pause, 30, seed));
        }
        v
    }

    #[test]
    fn a_short_hello_then_waiting_is_a_person() {
        // Half a second of voice, then a pause the length of a turn: human, decided in
        // the pause, not at the end of the window.
        let mut seed = 7;
        let d = judge(
            &words(&[(250, 80), (300, 3000)], &mut seed),
            &Cadence::default(),
        );
        assert_eq!(d.judgement, Judgement::Human);
        assert!(d.after_ms < 2000, "{d:?}");
    }

    #[test]
    fn a_greeting_that_runs_on_is_a_machine() {
        // Words with short gaps for three seconds: a machine, decided once the voice ran
        // past the greeting length.
        let mut seed = 9;
        let pattern = vec![(280, 90); 10];
        let d = judge(&words(&pattern, &mut seed), &Cadence::default());
        assert_eq!(d.judgement, Judgement::Machine);
        assert!((1800..=2600).contains(&d.after_ms), "{d:?}");
    }

    #[test]
    fn an_open_line_and_a_steady_noise_are_unsure() {
        // Nobody speaks: quiet hiss and loud steady hiss alike give no verdict.
        let mut seed = 11;
        let quiet = judge(&hiss(4000, 30, &mut seed), &Cadence::default());
        assert_eq!(quiet.judgement, Judgement::Unsure);
        let loud = judge(&hiss(4000, 9000, &mut seed), &Cadence::default());
        assert_eq!(loud.judgement, Judgement::Unsure);
        assert_eq!(judge(&[], &Cadence::default()).judgement, Judgement::Unsure);
    }

    #[test]
    fn two_hellos_with_a_pause_between_are_a_person() {
        // "Hello? ... Hello?": the first pause already ends the turn.
        let mut seed = 13;
        let d = judge(
            &words(&[(400, 1200), (400, 2000)], &mut seed),
            &Cadence::default(),
        );
        assert_eq!(d.judgement, Judgement::Human);
    }

    #[test]
    fn clicks_are_not_voice() {
        // 40 ms bursts (clicks) on an open line never start a turn.
        let mut seed = 17;
        let d = judge(&words(&[(40, 500); 6], &mut seed), &Cadence::default());
        assert_eq!(d.judgement, Judgement::Unsure);
    }
}
