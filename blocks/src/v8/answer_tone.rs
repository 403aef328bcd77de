//! Answer tones (V.25 §2; V.8 §7.2): ANS, ANS with phase reversals (ANS/),
//! ANSam and ANSam/ — and the `answer_tone_source` block that sends them.

use crate::core::level::dbm0_to_peak_f32;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Rate, Status, WorkIo,
};
use std::f64::consts::TAU;

/// V.25 §2.3: the answer tone is 2100 ± 15 Hz.
pub const ANS_HZ: f64 = 2100.0;
/// V.8 §7.2: ANSam's amplitude modulation, 15 ± 0.1 Hz.
pub const AM_HZ: f64 = 15.0;
/// V.8 §7.2: the envelope swings between 0.8 and 1.2 of its mean (20 % depth).
pub const AM_DEPTH: f64 = 0.2;
/// V.25 §2.3.2: phase reversals every 450 ± 25 ms.
pub const REVERSAL_INTERVAL_S: f64 = 0.45;
/// Sample rate of the line.
const FS: f64 = 8000.0;

/// Which answer tone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerTone {
    /// Plain 2100 Hz (disables echo suppressors only).
    Ans,
    /// 2100 Hz with phase reversals (also disables echo cancellers).
    AnsPr,
    /// 2100 Hz with 15 Hz amplitude modulation (V.8 capability).
    Ansam,
    /// ANSam with phase reversals, as V.34 and V.90 require.
    AnsamPr,
}

impl AnswerTone {
    pub fn parse(s: &str) -> Option<AnswerTone> {
        match s {
            "ans" => Some(AnswerTone::Ans),
            "ans_pr" => Some(AnswerTone::AnsPr),
            "ansam" => Some(AnswerTone::Ansam),
            "ansam_pr" => Some(AnswerTone::AnsamPr),
            _ => None,
        }
    }

    pub fn modulated(self) -> bool {
        matches!(self, AnswerTone::Ansam | AnswerTone::AnsamPr)
    }

    pub fn reversals(self) -> bool {
        matches!(self, AnswerTone::AnsPr | AnswerTone::AnsamPr)
    }
}

/// Generates an answer tone: `A·[1 + 0.2·sin(2π·15·t)]·sin(2π·2100·t + φ(t))`
/// with φ flipping by π every 450 ms for the variants with reversals.
#[derive(Clone, Debug)]
pub struct AnswerToneGenerator {
    tone: AnswerTone,
    peak: f64,
    n: u64,
    total: u64,
    reversal_every: u64,
}

impl AnswerToneGenerator {
    /// `level_dbm0` is the power of the unmodulated carrier; `seconds` its
    /// duration (0 for no end).
    pub fn new(tone: AnswerTone, level_dbm0: f64, seconds: f64) -> Self {
        AnswerToneGenerator {
            tone,
            peak: dbm0_to_peak_f32(level_dbm0),
            n: 0,
            total: (seconds.max(0.0) * FS).round() as u64,
            reversal_every: (REVERSAL_INTERVAL_S * FS).round() as u64,
        }
    }

    /// Samples left (`None` when endless).
    pub fn remaining(&self) -> Option<u64> {
        (self.total > 0).then(|| self.total.saturating_sub(self.n))
    }

    /// Fills `out`, returning how many samples it wrote (fewer at the end).
    pub fn fill(&mut self, out: &mut [f32]) -> usize {
        let n = match self.remaining() {
            Some(r) => out.len().min(r as usize),
            None => out.len(),
        };
        for o in &mut out[..n] {
            let t = self.n as f64 / FS;
            let env = if self.tone.modulated() {
                1.0 + AM_DEPTH * (TAU * AM_HZ * t).sin()
            } else {
                1.0
            };
            // The carrier phase is computed from the sample index modulo a
            // whole number of cycles, so long tones stay exact.
            let k = self.n % 80; // 2100 Hz repeats every 80 samples (21 cycles)
            let mut phase = TAU * ANS_HZ * k as f64 / FS;
            if self.tone.reversals() && (self.n / self.reversal_every) % 2 == 1 {
                phase += std::f64::consts::PI;
            }
            *o = (self.peak * env * phase.sin()) as f32;
            self.n += 1;
        }
        n
    }
}

struct Source(AnswerToneGenerator);

impl Block for Source {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let out = &mut io.outputs[0];
        let space = out.space();
        let buf = out.append::<f32>(space);
        let made = self.0.fill(buf);
        let v = out.items::<f32>();
        v.truncate(v.len() - (space - made));
        Ok(if self.0.remaining() == Some(0) {
            Status::Done
        } else {
            Status::Ok
        })
    }

    fn length_hint(&self) -> Option<u64> {
        (self.0.total > 0).then_some(self.0.total)
    }
}

fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let tone = AnswerTone::parse(&a.string("tone")?)
        .ok_or_else(|| "tone must be ans, ans_pr, ansam or ansam_pr".to_string())?;
    Ok(Box::new(Source(AnswerToneGenerator::new(
        tone,
        a.float("level")?,
        a.float("duration")?,
    ))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "answer_tone_source",
        "V.8",
        "Sends ANS, ANS/, ANSam or ANSam/ (the answering modem's 2100 Hz tone)",
        make,
    )
    .doc(
        "The answer tone of V.25 §2 and V.8 §7.2: 2100 Hz; ANSam adds 15 Hz amplitude modulation at 20 % depth \
         (envelope 0.8…1.2); the variants with phase reversals (ans_pr, ansam_pr) flip the carrier phase by \
         180° every 450 ms, which is what disables network echo cancellers. `level` is the power of the \
         unmodulated carrier; V.2 limits continuous tones to −13 dBm0 (spandsp sends ANSam/ at −12 dBm0). \
         V.8 §8.2.2: without a CM, ANSam lasts 5 ± 1 s.",
    )
    .param(
        ParamSpec::choice("tone", &["ans", "ans_pr", "ansam", "ansam_pr"], "Which answer tone")
            .default("ansam_pr"),
    )
    .param(
        ParamSpec::float("level", "Power of the carrier")
            .default(-12.0)
            .range(-60.0, 0.0)
            .unit("dBm0"),
    )
    .param(
        ParamSpec::float("duration", "Length of the tone (0 = without end)")
            .default(5.0)
            .range(0.0, 3600.0)
            .unit("s"),
    )
    .output(PortSpec::new("out", ItemType::F32, "The tone").rate(Rate::Varies))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(t: AnswerTone, seconds: f64) -> Vec<f32> {
        let mut g = AnswerToneGenerator::new(t, -12.0, seconds);
        let mut v = vec![0f32; (seconds * FS) as usize + 100];
        let n = g.fill(&mut v);
        v.truncate(n);
        v
    }

    /// Phase of the 2100 Hz carrier over `len` samples from `at` (radians).
    fn carrier_phase(x: &[f32], at: usize, len: usize) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (k, &v) in x[at..at + len].iter().enumerate() {
            let w = TAU * ANS_HZ * (at + k) as f64 / FS;
            re += f64::from(v) * w.cos();
            im += f64::from(v) * w.sin();
        }
        im.atan2(re)
    }

    #[test]
    fn ansam_pr_has_its_envelope_and_reversals_every_450_ms() {
        let x = tone(AnswerTone::AnsamPr, 2.0);
        assert_eq!(x.len(), 16000);
        // Envelope 0.8 … 1.2 of the carrier peak.
        let peak = dbm0_to_peak_f32(-12.0);
        let max = x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
        assert!((max / peak - 1.2).abs() < 0.01, "{}", max / peak);
        // The phase flips by π at 3600, 7200, 10800 and 14400 samples only.
        for b in [3600usize, 7200, 10800, 14400] {
            let before = carrier_phase(&x, b - 400, 400);
            let after = carrier_phase(&x, b, 400);
            let d = (after - before).rem_euclid(TAU);
            assert!((d - std::f64::consts::PI).abs() < 0.05, "at {b}: {d}");
            let steady = (carrier_phase(&x, b + 400, 400) - after).rem_euclid(TAU);
            assert!(steady.min(TAU - steady) < 0.05, "after {b}: {steady}");
        }
    }

    /// Starts of the 40-sample blocks where the carrier phase jumps by about π.
    fn reversals(x: &[f32]) -> Vec<usize> {
        let mut found = Vec::new();
        let mut prev: Option<f64> = None;
        for at in (0..x.len().saturating_sub(40)).step_by(40) {
            let energy: f64 = x[at..at + 40].iter().map(|v| f64::from(*v).powi(2)).sum();
            if energy < 1e-6 {
                prev = None;
                continue;
            }
            let p = carrier_phase(x, at, 40);
            if let Some(q) = prev {
                let d = (p - q).rem_euclid(TAU);
                if (d - std::f64::consts::PI).abs() < 1.0 {
                    found.push(at);
                }
            }
            prev = Some(p);
        }
        found
    }

    #[test]
    fn reversals_fall_where_spandsp_puts_them() {
        // peers ansam_pr.wav: spandsp's ANSam/ from sample 1600, reversals
        // listed in its sidecar. The same analysis of our tone, started at
        // sample 1600, finds reversals within one 40-sample block of them.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}ansam_pr.json")).unwrap())
                .unwrap();
        let want: Vec<i64> = side["phase_reversal_samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let spandsp: Vec<f32> = hound::WavReader::open(format!("{dir}ansam_pr.wav"))
            .unwrap()
            .samples::<i16>()
            .map(|s| f32::from(s.unwrap()) / 32768.0)
            .collect();
        let mut ours = vec![0f32; 1600];
        ours.extend(tone(AnswerTone::AnsamPr, 5.0));
        for (name, x) in [("spandsp", &spandsp), ("ours", &ours)] {
            let got = reversals(x);
            assert_eq!(got.len(), want.len(), "{name}: {got:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (*g as i64 - w).abs() <= 40,
                    "{name}: reversal at {g}, spandsp {w}"
                );
            }
        }
    }

    #[test]
    fn plain_ans_is_a_steady_2100_hz_tone() {
        let x = tone(AnswerTone::Ans, 1.0);
        let crossings = x
            .windows(2)
            .filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0))
            .count();
        assert!(
            (crossings as f64 / 2.0 - ANS_HZ).abs() <= 1.0,
            "{crossings}"
        );
        let p0 = carrier_phase(&x, 0, 800);
        let p1 = carrier_phase(&x, 7000, 800);
        let d = (p1 - p0).rem_euclid(TAU);
        assert!(d.min(TAU - d) < 0.01);
    }
}
