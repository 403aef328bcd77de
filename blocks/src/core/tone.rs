//! A phase-continuous sine generator (`tone_source`).

use super::level::{dbm0_to_peak_f32, DBM0_BELOW_FULL_SCALE_DB};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, Value, WorkIo,
};
use std::f64::consts::TAU;

/// Samples per second of every stream.
pub const SAMPLE_RATE: f64 = 8000.0;

/// A sine oscillator whose frequency and level can change without a phase jump.
#[derive(Clone, Debug)]
pub struct Tone {
    phase: f64,
    step: f64,
    amplitude: f64,
}

impl Tone {
    pub fn new(frequency: f64, level_dbm0: f64, phase: f64) -> Self {
        let mut t = Tone {
            phase: phase.rem_euclid(TAU),
            step: 0.0,
            amplitude: 0.0,
        };
        t.set_frequency(frequency);
        t.set_level(level_dbm0);
        t
    }

    pub fn set_frequency(&mut self, hz: f64) {
        self.step = TAU * hz / SAMPLE_RATE;
    }

    pub fn set_level(&mut self, level_dbm0: f64) {
        self.amplitude = dbm0_to_peak_f32(level_dbm0);
    }

    pub fn fill(&mut self, out: &mut [f32]) {
        for o in out {
            *o = (self.amplitude * self.phase.sin()) as f32;
            self.phase += self.step;
            if self.phase >= TAU {
                self.phase -= TAU;
            }
        }
    }
}

struct ToneSource(Tone);

impl Block for ToneSource {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let out = &mut io.outputs[0];
        let n = out.space();
        self.0.fill(out.append::<f32>(n));
        Ok(Status::Ok)
    }

    fn set_param(&mut self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value.as_f64()) {
            ("frequency", Some(f)) => self.0.set_frequency(f),
            ("level", Some(l)) => self.0.set_level(l),
            _ => {
                return Err(format!(
                    "parameter `{name}` cannot be changed while running"
                ))
            }
        }
        Ok(())
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(ToneSource(Tone::new(
        args.float("frequency")?,
        args.float("level")?,
        args.float("phase")?,
    ))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "tone_source",
        "Sources",
        "sine wave at a level in dBm0",
        make,
    )
    .doc(
        "An endless sine, phase-continuous across changes of frequency and level. \
             0 dBm0 has a peak 3.14 dB below µ-law full scale; the largest level, \
             3.14 dBm0, reaches it (32124/32768 on the f32 scale).",
    )
    .param(
        ParamSpec::float("frequency", "frequency")
            .default(1000.0)
            .range(0.0, 4000.0)
            .unit("Hz")
            .live(),
    )
    .param(
        ParamSpec::float("level", "power of the sine")
            .default(-10.0)
            .range(-120.0, DBM0_BELOW_FULL_SCALE_DB)
            .unit("dBm0")
            .live(),
    )
    .param(
        ParamSpec::float("phase", "phase of the first sample")
            .default(0.0)
            .unit("rad"),
    )
    .output(PortSpec::new("out", ItemType::F32, "the sine"))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::level::rms_f32_to_dbm0;
    use crate::testutil::{items, make as build, run};

    /// Power at `hz` relative to total power, by Goertzel.
    fn goertzel_share(x: &[f32], hz: f64) -> f64 {
        let w = TAU * hz / SAMPLE_RATE;
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = f64::from(v) + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let p = s1 * s1 + s2 * s2 - c * s1 * s2;
        let total: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        2.0 * p / (x.len() as f64 * total)
    }

    #[test]
    fn level_and_frequency() {
        let mut b = build(
            &spec(),
            &[
                ("frequency", Value::Float(1004.0)),
                ("level", Value::Float(-13.0)),
            ],
        )
        .unwrap();
        let r = run(&mut *b, None, &[], &[ItemType::F32], 333, 8000).unwrap();
        let x: Vec<f32> = items(&r.outputs[0]);
        let x = &x[..8000];
        let rms = (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
        assert!((rms_f32_to_dbm0(rms) + 13.0).abs() < 0.01);
        assert!(goertzel_share(x, 1004.0) > 0.99);
        let crossings = x.windows(2).filter(|w| w[0] <= 0.0 && w[1] > 0.0).count();
        assert!((1003..=1005).contains(&crossings), "{crossings}");
    }

    #[test]
    fn frequency_change_is_phase_continuous() {
        let mut t = Tone::new(500.0, 0.0, 0.3);
        let mut a = vec![0.0f32; 101];
        t.fill(&mut a);
        t.set_frequency(2000.0);
        let mut b = vec![0.0f32; 1];
        t.fill(&mut b);
        let peak = dbm0_to_peak_f32(0.0);
        let expected = peak * (0.3 + 101.0 * TAU * 500.0 / SAMPLE_RATE).sin();
        assert!((f64::from(b[0]) - expected).abs() < 1e-6);
    }
}
