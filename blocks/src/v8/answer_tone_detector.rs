//! The `answer_tone_detector` block: finds a 2100 Hz answer tone (V.25 §2;
//! V.8 §7.2; modem-standards.md §3.1), tells ANS from ANSam by its 15 Hz
//! amplitude modulation, and reports every 180° phase reversal.
//!
//! The kernel works sample by sample, so its events do not depend on how the
//! input is chunked:
//!
//! * the signal is mixed down by 2100 Hz and low-passed by two 10 ms boxcars
//!   in cascade (a 20 ms triangular window, nulls at every multiple of
//!   100 Hz, so the 4200 Hz image vanishes); `2·|y|²` is the power in about
//!   2100 ± 30 Hz;
//! * the total power `x²` goes through the same two boxcars, so for a pure
//!   tone the two agree exactly and their ratio is 1;
//! * the tone is present while the band holds [`BAND_FRACTION`] of the
//!   power and is above `threshold`; gaps up to [`HANGOVER`] samples (the
//!   dip of a phase reversal) are bridged;
//! * the AM depth is the 15 Hz component of the total power over exactly
//!   three periods of 15 Hz (0.2 s), which phase reversals do not disturb;
//! * a reversal makes `Re(y[n]·conj(y[n−80]))` strongly negative; its most
//!   negative sample, minus the filter delay, dates the reversal.

use super::answer_tone::{AM_DEPTH, AM_HZ, ANS_HZ, REVERSAL_INTERVAL_S};
use crate::core::level::{dbm0_to_rms_f32, rms_f32_to_dbm0};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, ParamSpec, PortSpec, Rate, Status, WorkIo,
};
use serde_json::{json, Value as Json};
use std::f64::consts::TAU;

/// Sample rate of the line.
const FS: f64 = 8000.0;
/// Length of each boxcar (10 ms); 2100 Hz repeats every 80 samples (21 cycles).
const N: usize = 80;
/// Fraction of the total power the 2100 Hz band must hold. V.8 §7.2 / V.25:
/// the tone's out-of-band power is ≥ 24 dB below the in-band power, so a
/// real answer tone holds well over 99 %.
pub const BAND_FRACTION: f64 = 0.8;
/// Gaps in the tone up to 40 ms are bridged (a reversal's dip lasts ~14 ms).
pub const HANGOVER: u64 = 320;
/// Samples after the tone is first seen before the AM measurement starts
/// (the 20 ms filters have settled).
const SETTLE: u64 = 2 * N as u64;
/// AM measurement window: three periods of 15 Hz (V.8 §7.2), 0.2 s.
const AM_WINDOW: u64 = 1600;
/// Gain of the two boxcars at 15 Hz (the AM measurement is corrected by it).
fn gain_at(hz: f64) -> f64 {
    let w = std::f64::consts::PI * hz / FS;
    let g = (w * N as f64).sin() / (N as f64 * w.sin());
    g * g
}
/// AM depth above which the tone is ANSam: half of V.8 §7.2's 20 %.
pub const AM_DECISION: f64 = AM_DEPTH / 2.0;
/// The band/total ratio first reaches 0.8 about 109 samples after an onset.
const ONSET_LAG: u64 = 109;
/// ... and falls below it about 51 samples after the tone stops.
const END_LAG: u64 = 51;
/// Delay from a reversal to the most negative `Re(y·conj(y₋₈₀))`: the
/// 79-sample group delay of the filters plus half the 80-sample lag.
const REVERSAL_LAG: f64 = 118.5;
/// `Re(y·conj(y₋₈₀))` below this fraction of `|y|²` marks a reversal.
const REVERSAL_THRESHOLD: f64 = -0.25;
/// Reversals closer than this to the previous one are ignored (V.25 §2.3.2:
/// 450 ± 25 ms apart).
const MIN_REVERSAL_GAP: u64 = ((REVERSAL_INTERVAL_S / 4.0) * FS) as u64;
/// Inputs are clamped to this magnitude so no sum can overflow.
const CLAMP: f64 = 1.0e4;

/// An event the detector found: its kind and fields.
pub type Found = (&'static str, Json);

#[derive(Clone, Debug)]
struct Tone {
    /// Sample where the band condition first held.
    start: u64,
    /// Last sample where it held.
    last_true: u64,
    confirmed: bool,
    /// AM accumulators: Σp, Σp·cos, Σp·sin over the window.
    s0: f64,
    sc: f64,
    ss: f64,
    am_depth: f64,
    reversals: Vec<f64>,
    /// Reversals found before confirmation, still to report.
    pending: usize,
    /// Inside a negative excursion: its most negative value and sample.
    excursion: Option<(f64, u64)>,
    last_reversal: Option<u64>,
}

/// Streaming answer-tone detector for 8000 Hz samples.
#[derive(Clone, Debug)]
pub struct AnswerToneDetector {
    threshold_power: f64,
    min_samples: u64,
    n: u64,
    idx: usize,
    osc: [(f64, f64); N],
    ring_z: [(f64, f64); N],
    ring_y1: [(f64, f64); N],
    ring_y: [(f64, f64); N],
    ring_p: [f64; N],
    ring_p1: [f64; N],
    sum_z: (f64, f64),
    sum_y1: (f64, f64),
    sum_p: f64,
    sum_p1: f64,
    tone: Option<Tone>,
}

impl AnswerToneDetector {
    /// `threshold_dbm0`: least tone level; `min_duration`: seconds the tone
    /// must last before it is reported.
    pub fn new(threshold_dbm0: f64, min_duration: f64) -> Self {
        let mut osc = [(0.0, 0.0); N];
        for (k, o) in osc.iter_mut().enumerate() {
            let w = TAU * ANS_HZ * k as f64 / FS;
            *o = (w.cos(), -w.sin());
        }
        let rms = dbm0_to_rms_f32(threshold_dbm0);
        let md = if min_duration.is_finite() {
            min_duration.clamp(0.0, 3600.0)
        } else {
            0.0
        };
        AnswerToneDetector {
            threshold_power: (rms * rms).max(f64::MIN_POSITIVE),
            min_samples: (md * FS).round() as u64,
            n: 0,
            idx: 0,
            osc,
            ring_z: [(0.0, 0.0); N],
            ring_y1: [(0.0, 0.0); N],
            ring_y: [(0.0, 0.0); N],
            ring_p: [0.0; N],
            ring_p1: [0.0; N],
            sum_z: (0.0, 0.0),
            sum_y1: (0.0, 0.0),
            sum_p: 0.0,
            sum_p1: 0.0,
            tone: None,
        }
    }

    /// Processes samples, appending any events to `found`.
    pub fn push(&mut self, x: &[f32], found: &mut Vec<Found>) {
        for &v in x {
            self.step(v, found);
        }
    }

    /// Ends the stream: a tone still on ends here.
    pub fn finish(&mut self, found: &mut Vec<Found>) {
        if let Some(t) = self.tone.take() {
            if t.confirmed {
                found.push(Self::tone_end(&t, self.n));
            }
        }
    }

    fn tone_end(t: &Tone, end: u64) -> Found {
        let onset = t.start.saturating_sub(ONSET_LAG);
        // A reversal just before the end can hide the end's first samples.
        let last_reversal = t.last_reversal.unwrap_or(0);
        let end = end.max(onset).max(last_reversal);
        let kind = match (t.am_depth >= AM_DECISION, !t.reversals.is_empty()) {
            (false, false) => "ans",
            (false, true) => "ans_pr",
            (true, false) => "ansam",
            (true, true) => "ansam_pr",
        };
        (
            "tone_end",
            json!({
                "t": end as f64 / FS,
                "duration": (end - onset) as f64 / FS,
                "reversals": t.reversals,
                "kind": kind,
            }),
        )
    }

    fn step(&mut self, v: f32, found: &mut Vec<Found>) {
        let x = if v.is_finite() {
            f64::from(v).clamp(-CLAMP, CLAMP)
        } else {
            0.0
        };
        let i = self.idx;
        // Mix down and filter: two boxcars of N samples.
        let (c, s) = self.osc[(self.n % N as u64) as usize];
        let z = (x * c, x * s);
        self.sum_z.0 += z.0 - self.ring_z[i].0;
        self.sum_z.1 += z.1 - self.ring_z[i].1;
        self.ring_z[i] = z;
        let y1 = (self.sum_z.0 / N as f64, self.sum_z.1 / N as f64);
        self.sum_y1.0 += y1.0 - self.ring_y1[i].0;
        self.sum_y1.1 += y1.1 - self.ring_y1[i].1;
        self.ring_y1[i] = y1;
        let y = (self.sum_y1.0 / N as f64, self.sum_y1.1 / N as f64);
        let yd = self.ring_y[i]; // y, N samples ago
        self.ring_y[i] = y;
        // Total power through the same filters.
        let p0 = x * x;
        self.sum_p += p0 - self.ring_p[i];
        self.ring_p[i] = p0;
        let p1 = self.sum_p / N as f64;
        self.sum_p1 += p1 - self.ring_p1[i];
        self.ring_p1[i] = p1;
        let total = (self.sum_p1 / N as f64).max(0.0);
        self.idx = (i + 1) % N;
        if self.idx == 0 {
            // Recompute the running sums exactly, so rounding never builds up.
            self.sum_z = self
                .ring_z
                .iter()
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            self.sum_y1 = self
                .ring_y1
                .iter()
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            self.sum_p = self.ring_p.iter().sum();
            self.sum_p1 = self.ring_p1.iter().sum();
        }

        let band = 2.0 * (y.0 * y.0 + y.1 * y.1);
        let on = band >= self.threshold_power && band >= BAND_FRACTION * total;
        let n = self.n;
        self.n += 1;

        if self.tone.is_none() {
            if on {
                self.tone = Some(Tone {
                    start: n,
                    last_true: n,
                    confirmed: false,
                    s0: 0.0,
                    sc: 0.0,
                    ss: 0.0,
                    am_depth: 0.0,
                    reversals: Vec::new(),
                    pending: 0,
                    excursion: None,
                    last_reversal: None,
                });
            }
            return;
        }
        let Some(t) = self.tone.as_mut() else { return };
        if on {
            t.last_true = n;
        } else if n - t.last_true > HANGOVER {
            if t.confirmed {
                found.push(Self::tone_end(t, (t.last_true + 1).saturating_sub(END_LAG)));
            }
            self.tone = None;
            return;
        }
        let k = n - t.start;
        // AM depth from the total power over three periods of 15 Hz.
        if (SETTLE..SETTLE + AM_WINDOW).contains(&k) {
            let th = TAU * AM_HZ * (k - SETTLE) as f64 / FS;
            t.s0 += total;
            t.sc += total * th.cos();
            t.ss += total * th.sin();
        }
        // Phase reversals.
        if k >= N as u64 {
            let re = y.0 * yd.0 + y.1 * yd.1;
            let reference = total / 2.0;
            if total < self.threshold_power {
                // Too weak to judge (the tone has stopped): no reversal.
                t.excursion = None;
            } else if re < REVERSAL_THRESHOLD * reference {
                match t.excursion {
                    Some((m, _)) if m <= re => {}
                    _ => t.excursion = Some((re, n)),
                }
            } else if let Some((_, at)) = t.excursion.take() {
                let r = (at as f64 - REVERSAL_LAG).max(0.0);
                let rs = r.round() as u64;
                if t.last_reversal.is_none_or(|l| rs >= l + MIN_REVERSAL_GAP) {
                    t.last_reversal = Some(rs);
                    t.reversals.push(r / FS);
                    t.pending += 1;
                }
            }
        }
        if !t.confirmed && k + 1 >= self.min_samples.max(SETTLE + AM_WINDOW) && on {
            t.confirmed = true;
            let mean = t.s0 / AM_WINDOW as f64;
            let amp = 2.0 * t.sc.hypot(t.ss) / AM_WINDOW as f64;
            // Power follows (1 + m·sin)², whose 15 Hz part is 2m/(1 + m²/2)
            // of its mean: solve for m.
            let r = if mean > 0.0 {
                (amp / mean / gain_at(AM_HZ)).min(std::f64::consts::SQRT_2)
            } else {
                0.0
            };
            let m = if r > 1e-12 {
                (2.0 - (4.0 - 2.0 * r * r).max(0.0).sqrt()) / r
            } else {
                0.0
            };
            t.am_depth = m;
            let carrier = mean / (1.0 + m * m / 2.0);
            let level = rms_f32_to_dbm0(carrier.max(1e-30).sqrt());
            let onset = t.start.saturating_sub(ONSET_LAG);
            found.push((
                if m >= AM_DECISION { "ansam" } else { "ans" },
                json!({
                    "t": onset as f64 / FS,
                    "level_dbm0": level,
                    "am_depth": m,
                }),
            ));
        }
        if t.confirmed {
            let first = t.reversals.len() - t.pending;
            for r in &t.reversals[first..] {
                found.push(("phase_reversal", json!({ "t": r })));
            }
            t.pending = 0;
        }
    }
}

struct DetectorBlock {
    det: AnswerToneDetector,
    found: Vec<Found>,
}

impl Block for DetectorBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0].available();
        self.det.push(io.inputs[0].items::<f32>(), &mut self.found);
        io.inputs[0].consume(n);
        let done = io.inputs[0].finished();
        if done {
            self.det.finish(&mut self.found);
        }
        for (kind, fields) in self.found.drain(..) {
            io.emit(kind, fields);
        }
        Ok(if done { Status::Done } else { Status::Ok })
    }
}

fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(DetectorBlock {
        det: AnswerToneDetector::new(a.float("threshold")?, a.float("min_duration")?),
        found: Vec::new(),
    }))
}

pub fn spec() -> BlockSpec {
    let detected: &[(&str, &str)] = &[
        (
            "t",
            "onset of the tone, seconds from the start of the stream",
        ),
        ("level_dbm0", "power of the (unmodulated) carrier"),
        (
            "am_depth",
            "measured 15 Hz modulation depth (0.2 for ANSam, 0 for ANS)",
        ),
    ];
    BlockSpec::new(
        "answer_tone_detector",
        "V.8",
        "Detects ANS, ANS/, ANSam and ANSam/ (2100 Hz answer tones) and their phase reversals",
        make,
    )
    .doc(
        "Finds the answering modem's 2100 Hz tone (V.25 §2, V.8 §7.2): the band 2100 ± ~30 Hz must hold at \
         least 80 % of the power, above `threshold`, for `min_duration` (and at least 0.22 s, to measure the \
         AM). The 15 Hz amplitude modulation of ANSam (20 % depth) is measured over three periods; a depth \
         of 0.1 or more makes it ANSam. Each 180° phase reversal (V.25: every 450 ± 25 ms) is reported. \
         Speech, noise, DTMF, V.21 FSK, ringback and dial tone do not trigger it.",
    )
    .param(
        ParamSpec::float("threshold", "Least tone level")
            .default(-43.0)
            .range(-70.0, 0.0)
            .unit("dBm0"),
    )
    .param(
        ParamSpec::float("min_duration", "How long the tone must last before it is reported")
            .default(0.2)
            .range(0.0, 60.0)
            .unit("s"),
    )
    .input(PortSpec::new("in", ItemType::F32, "Received line signal, 8000 Hz").rate(Rate::Varies))
    .event(EventSpec::new("ans", "A 2100 Hz tone without AM was confirmed", detected))
    .event(EventSpec::new("ansam", "A 2100 Hz tone with 15 Hz AM was confirmed", detected))
    .event(EventSpec::new(
        "phase_reversal",
        "A 180° phase reversal of the tone",
        &[("t", "time of the reversal in seconds")],
    ))
    .event(EventSpec::new(
        "tone_end",
        "The tone stopped (or the stream ended with it on)",
        &[
            ("t", "end of the tone in seconds"),
            ("duration", "seconds from onset to end"),
            ("reversals", "times of every phase reversal, seconds"),
            ("kind", "ans, ans_pr, ansam or ansam_pr"),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::level::dbm0_to_peak_f32;
    use crate::testutil::{chunked, make as build, run};
    use crate::v8::answer_tone::{AnswerTone, AnswerToneGenerator};
    use crate::v8::fsk::Channel;
    use crate::v8::fsk_tx::FskModulator;

    fn detect(x: &[f32]) -> Vec<Found> {
        let mut d = AnswerToneDetector::new(-43.0, 0.2);
        let mut f = Vec::new();
        d.push(x, &mut f);
        d.finish(&mut f);
        f
    }

    fn kinds(f: &[Found]) -> Vec<&'static str> {
        f.iter().map(|e| e.0).collect()
    }

    fn num(e: &Found, k: &str) -> f64 {
        e.1[k].as_f64().unwrap()
    }

    fn wav(name: &str) -> Vec<f32> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
        hound::WavReader::open(format!("{dir}{name}"))
            .unwrap()
            .samples::<i16>()
            .map(|s| f32::from(s.unwrap()) / 32768.0)
            .collect()
    }

    fn silence(seconds: f64) -> Vec<f32> {
        vec![0.0; (seconds * FS) as usize]
    }

    fn generated(tone: AnswerTone, level: f64, seconds: f64) -> Vec<f32> {
        let mut g = AnswerToneGenerator::new(tone, level, seconds);
        let mut v = silence(seconds);
        let n = g.fill(&mut v);
        v.truncate(n);
        v
    }

    /// A seeded uniform generator in [-1, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
        fn gauss(&mut self) -> f64 {
            // Sum of 12 uniforms on [-1, 1): variance 4.
            (0..12).map(|_| self.next()).sum::<f64>() / 2.0
        }
    }

    fn tones(freqs: &[f64], level_each: f64, seconds: f64) -> Vec<f32> {
        let a = dbm0_to_peak_f32(level_each);
        (0..(seconds * FS) as usize)
            .map(|n| {
                freqs
                    .iter()
                    .map(|f| a * (TAU * f * n as f64 / FS).sin())
                    .sum::<f64>() as f32
            })
            .collect()
    }

    #[test]
    fn answer_tone_spandsp_ansam_pr() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
        let side: Json =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}ansam_pr.json")).unwrap())
                .unwrap();
        let want: Vec<f64> = side["phase_reversal_samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() / FS)
            .collect();
        let f = detect(&wav("ansam_pr.wav"));
        let det: Vec<&Found> = f
            .iter()
            .filter(|e| e.0 == "ansam" || e.0 == "ans")
            .collect();
        assert_eq!(det.len(), 1, "{f:?}");
        assert_eq!(det[0].0, "ansam");
        let (t, depth, level) = (
            num(det[0], "t"),
            num(det[0], "am_depth"),
            num(det[0], "level_dbm0"),
        );
        println!("spandsp ANSam/: onset {t:.4} s, depth {depth:.4}, level {level:.3} dBm0");
        assert!((t - 0.2).abs() <= 0.02, "{t}");
        assert!((0.15..=0.25).contains(&depth), "{depth}");
        assert!((level + 12.0).abs() <= 1.0, "{level}");
        let revs: Vec<f64> = f
            .iter()
            .filter(|e| e.0 == "phase_reversal")
            .map(|e| num(e, "t"))
            .collect();
        assert_eq!(revs.len(), want.len(), "{revs:?}");
        let mut worst = 0f64;
        for (g, w) in revs.iter().zip(&want) {
            worst = worst.max((g - w).abs());
            assert!((g - w).abs() <= 0.01, "reversal {g}, spandsp {w}");
        }
        println!("worst reversal error {:.2} ms", worst * 1000.0);
        let end = f.last().unwrap();
        assert_eq!(end.0, "tone_end");
        assert_eq!(end.1["kind"], "ansam_pr");
        assert_eq!(end.1["reversals"].as_array().unwrap().len(), want.len());
        println!("tone_end {}", end.1);
    }

    #[test]
    fn answer_tone_v8_answerer_ansam_then_jm() {
        let f = detect(&wav("v8_answer.wav"));
        println!("{f:?}");
        let det: Vec<&Found> = f
            .iter()
            .filter(|e| e.0 == "ansam" || e.0 == "ans")
            .collect();
        assert_eq!(det.len(), 1, "{f:?}");
        assert_eq!(det[0].0, "ansam");
        assert!((num(det[0], "t") - 0.2).abs() <= 0.02);
        let ends: Vec<&Found> = f.iter().filter(|e| e.0 == "tone_end").collect();
        assert_eq!(ends.len(), 1);
        assert_eq!(ends[0].1["kind"], "ansam_pr");
        let end = num(ends[0], "t");
        assert!((end - 3.355).abs() <= 0.02, "{end}");
        assert!(f.iter().filter(|e| e.0 == "phase_reversal").count() >= 6);
    }

    #[test]
    fn answer_tone_all_variants_and_levels() {
        for tone in [
            AnswerTone::Ans,
            AnswerTone::AnsPr,
            AnswerTone::Ansam,
            AnswerTone::AnsamPr,
        ] {
            for level in [-9.0, -20.0, -40.0] {
                let mut x = silence(0.3);
                x.extend(generated(tone, level, 3.0));
                x.extend(silence(0.5));
                let f = detect(&x);
                let name = format!("{tone:?} at {level} dBm0");
                let det: Vec<&Found> = f
                    .iter()
                    .filter(|e| e.0 == "ansam" || e.0 == "ans")
                    .collect();
                assert_eq!(det.len(), 1, "{name}: {f:?}");
                let want = if tone.modulated() { "ansam" } else { "ans" };
                assert_eq!(det[0].0, want, "{name}");
                let t = num(det[0], "t");
                assert!((t - 0.3).abs() <= 0.02, "{name}: onset {t}");
                let l = num(det[0], "level_dbm0");
                assert!((l - level).abs() <= 0.5, "{name}: level {l}");
                let d = num(det[0], "am_depth");
                if tone.modulated() {
                    assert!((d - 0.2).abs() <= 0.02, "{name}: depth {d}");
                } else {
                    assert!(d < 0.02, "{name}: depth {d}");
                }
                let end = f.last().unwrap();
                assert_eq!(end.0, "tone_end", "{name}");
                let kind = match tone {
                    AnswerTone::Ans => "ans",
                    AnswerTone::AnsPr => "ans_pr",
                    AnswerTone::Ansam => "ansam",
                    AnswerTone::AnsamPr => "ansam_pr",
                };
                assert_eq!(end.1["kind"], kind, "{name}");
                let te = num(end, "t");
                assert!((te - 3.3).abs() <= 0.02, "{name}: end {te}");
                let revs: Vec<f64> = f
                    .iter()
                    .filter(|e| e.0 == "phase_reversal")
                    .map(|e| num(e, "t"))
                    .collect();
                if tone.reversals() {
                    // Reversals at 0.3 + 0.45·k s, k = 1 … 6.
                    assert_eq!(revs.len(), 6, "{name}: {revs:?}");
                    for (k, r) in revs.iter().enumerate() {
                        let w = 0.3 + REVERSAL_INTERVAL_S * (k + 1) as f64;
                        assert!((r - w).abs() <= 0.005, "{name}: {r} vs {w}");
                    }
                } else {
                    assert!(revs.is_empty(), "{name}: {revs:?}");
                }
            }
        }
    }

    #[test]
    fn answer_tone_offset_of_10_hz_is_still_detected() {
        for (am, kind) in [(0.0, "ans_pr"), (AM_DEPTH, "ansam_pr")] {
            let a = dbm0_to_peak_f32(-15.0);
            let x: Vec<f32> = (0..24000)
                .map(|n| {
                    let t = n as f64 / FS;
                    let flip = if (n / 3600) % 2 == 1 {
                        std::f64::consts::PI
                    } else {
                        0.0
                    };
                    (a * (1.0 + am * (TAU * AM_HZ * t).sin())
                        * (TAU * (ANS_HZ + 10.0) * t + flip).sin()) as f32
                })
                .collect();
            let f = detect(&x);
            let end = f.last().unwrap();
            assert_eq!(end.0, "tone_end", "{f:?}");
            assert_eq!(end.1["kind"], kind, "{f:?}");
            assert_eq!(
                f.iter().filter(|e| e.0 == "phase_reversal").count(),
                6,
                "{f:?}"
            );
        }
    }

    #[test]
    fn answer_tone_ignores_other_signals() {
        let mut rng = Lcg(12345);
        let mut x = Vec::new();
        // White noise at −20 dBm0.
        let rms = dbm0_to_rms_f32(-20.0);
        x.extend((0..8 * 8000).map(|_| (rms * rng.gauss()) as f32));
        x.extend(silence(0.5));
        // DTMF-like pairs.
        for pair in [
            [697.0, 1209.0],
            [941.0, 1633.0],
            [852.0, 1477.0],
            [770.0, 1336.0],
        ] {
            x.extend(tones(&pair, -10.0, 1.0));
            x.extend(silence(0.2));
        }
        // Ringback: 440 + 480 Hz, 2 s on, 4 s off, twice.
        for _ in 0..2 {
            x.extend(tones(&[440.0, 480.0], -19.0, 2.0));
            x.extend(silence(4.0));
        }
        // Dial tone and a 1000 Hz tone.
        x.extend(tones(&[350.0, 440.0], -13.0, 5.0));
        x.extend(tones(&[1000.0], -10.0, 3.0));
        x.extend(silence(0.5));
        // V.21 FSK, both channels, random bits.
        for ch in [Channel::ONE, Channel::TWO] {
            let mut m = FskModulator::new(ch, 300.0, -10.0);
            let bits: Vec<u8> = (0..1500).map(|_| u8::from(rng.next() > 0.0)).collect();
            let mut out = vec![0f32; 40_000];
            let (_, w) = m.modulate(&bits, &mut out);
            x.extend(&out[..w]);
        }
        // Synthetic "speech": harmonics of a moving fundamental under a moving
        // formant, in random segments with pauses.
        let mut ph = [0f64; 25];
        for _ in 0..30 {
            let f0 = 120.0 + 80.0 * (rng.next() + 1.0) / 2.0;
            let formant = 500.0 + 2000.0 * (rng.next() + 1.0) / 2.0;
            let len = 2400 + ((rng.next() + 1.0) * 2000.0) as usize;
            for n in 0..len {
                let drift = 1.0 + 0.1 * (TAU * n as f64 / len as f64).sin();
                let fm = formant * (1.0 + 0.2 * (n as f64 / len as f64));
                let mut v = 0.0;
                for (h, p) in ph.iter_mut().enumerate() {
                    let f = f0 * drift * (h + 1) as f64;
                    *p = (*p + TAU * f / FS) % TAU;
                    let g = 1.0 / (1.0 + ((f - fm) / 150.0).powi(2));
                    v += 0.05 * g * p.sin();
                }
                x.push(v as f32);
            }
            x.extend(silence(0.1 * (rng.next() + 1.0)));
        }
        println!("{} s of other signals", x.len() as f64 / FS);
        assert!(x.len() as f64 / FS >= 50.0);
        let f = detect(&x);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn answer_tone_events_do_not_depend_on_chunking() {
        let mut x = silence(0.25);
        x.extend(generated(AnswerTone::AnsamPr, -13.0, 1.5));
        x.extend(silence(0.3));
        x.extend(generated(AnswerTone::Ans, -30.0, 1.0)); // still on at the end
        let spec = spec();
        let mut a = build(&spec, &[]).unwrap();
        let ra = run(
            a.as_mut(),
            Some(ItemType::F32),
            &chunked(&x, &[1]),
            &[],
            0,
            0,
        )
        .unwrap();
        let mut b = build(&spec, &[]).unwrap();
        let rb = run(
            b.as_mut(),
            Some(ItemType::F32),
            &chunked(&x, &[4096]),
            &[],
            0,
            0,
        )
        .unwrap();
        assert_eq!(ra.events, rb.events);
        let k: Vec<&str> = ra.events.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            k,
            [
                "ansam",
                "phase_reversal",
                "phase_reversal",
                "phase_reversal",
                "tone_end",
                "ans",
                "tone_end"
            ]
        );
    }

    #[test]
    fn answer_tone_survives_bad_input() {
        let mut x = generated(AnswerTone::Ans, -12.0, 1.0);
        for (i, v) in x.iter_mut().enumerate().step_by(97) {
            *v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX][i % 4];
        }
        let _ = detect(&x);
        let f = detect(&[f32::NAN; 20000]);
        assert!(f.is_empty());
        assert_eq!(
            kinds(&detect(&generated(AnswerTone::Ans, -12.0, 0.1))),
            Vec::<&str>::new()
        );
    }
}
