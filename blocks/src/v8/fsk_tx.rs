//! V.21 FSK modulator (`fsk_modulator`).
//!
//! Continuous-phase binary FSK: one oscillator whose step changes between the
//! mark and space frequencies at bit boundaries, so the phase never jumps.
//! Bit n occupies the samples k with ⌊k·baud/8000⌋ = n; the bit clock is an
//! integer accumulator in milli-bit/s, so 26⅔-sample bits never drift.

use super::fsk::{baud_arg, baud_param, channel_arg, channel_param, Channel};
use crate::core::level::dbm0_to_peak_f32;
use crate::core::tone::SAMPLE_RATE;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Rate, Registry, Status, Value,
    WorkIo,
};
use std::f64::consts::TAU;

/// The bit clock counts in thousandths of a bit per second.
const CLOCK_SCALE: f64 = 1000.0;
/// One bit's worth of bit-clock units per sample period: 8000 samples/s.
const CLOCK_WRAP: u64 = 8000 * 1000;

/// A continuous-phase FSK modulator for one V.21 channel.
#[derive(Clone, Debug)]
pub struct FskModulator {
    /// Phase steps per sample for space (index 0) and mark (index 1).
    step: [f64; 2],
    phase: f64,
    amplitude: f64,
    /// Bit-clock advance per sample, in milli-bit/s.
    rate: u64,
    /// Position of the next sample within its bit, in [0, CLOCK_WRAP).
    clock: u64,
    /// The bit being sent, while some of its samples are still to come.
    bit: Option<u8>,
}

impl FskModulator {
    /// A modulator for `channel` at `baud` bit/s and `level_dbm0`, starting
    /// at phase 0 at the start of a bit.
    pub fn new(channel: Channel, baud: f64, level_dbm0: f64) -> Self {
        let mut m = FskModulator {
            step: [0.0; 2],
            phase: 0.0,
            amplitude: 0.0,
            rate: 1,
            clock: 0,
            bit: None,
        };
        m.set_channel(channel);
        m.set_baud(baud);
        m.set_level(level_dbm0);
        m
    }

    /// Sets the tones; also used for tests with a carrier offset.
    pub fn set_channel(&mut self, channel: Channel) {
        self.step = [
            TAU * channel.space_hz / SAMPLE_RATE,
            TAU * channel.mark_hz / SAMPLE_RATE,
        ];
    }

    pub fn set_baud(&mut self, baud: f64) {
        // Clamped so that a bit lasts at least one sample and the clock moves.
        let r = (baud * CLOCK_SCALE).round();
        self.rate = if r.is_finite() {
            r.clamp(1.0, CLOCK_WRAP as f64) as u64
        } else {
            CLOCK_WRAP
        };
    }

    pub fn set_level(&mut self, level_dbm0: f64) {
        self.amplitude = dbm0_to_peak_f32(level_dbm0);
    }

    /// True when every sample of every bit taken so far has been produced.
    pub fn idle(&self) -> bool {
        self.bit.is_none()
    }

    /// Produces samples into `out` from `bits` (one per byte, bit 0 used),
    /// taking a new bit whenever the previous one is complete. Stops when
    /// `out` is full or a new bit is needed and `bits` is exhausted. Returns
    /// (bits taken, samples written).
    pub fn modulate(&mut self, bits: &[u8], out: &mut [f32]) -> (usize, usize) {
        let mut taken = 0;
        let mut written = 0;
        while written < out.len() {
            let bit = match self.bit {
                Some(b) => b,
                None => {
                    let Some(&b) = bits.get(taken) else { break };
                    taken += 1;
                    self.bit = Some(b & 1);
                    b & 1
                }
            };
            out[written] = (self.amplitude * self.phase.sin()) as f32;
            written += 1;
            self.phase += self.step[usize::from(bit)];
            if self.phase >= TAU {
                self.phase -= TAU;
            }
            self.clock += self.rate;
            if self.clock >= CLOCK_WRAP {
                self.clock -= CLOCK_WRAP;
                self.bit = None;
            }
        }
        (taken, written)
    }
}

struct FskModulatorBlock(FskModulator);

impl Block for FskModulatorBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let space = io.outputs[0].space();
        let out = io.outputs[0].items::<f32>();
        let start = out.len();
        out.resize(start + space, 0.0);
        let (taken, written) = self
            .0
            .modulate(io.inputs[0].items::<u8>(), &mut out[start..]);
        out.truncate(start + written);
        io.inputs[0].consume(taken);
        Ok(if io.inputs[0].finished() && self.0.idle() {
            Status::Done
        } else {
            Status::Ok
        })
    }

    fn set_param(&mut self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value.as_f64()) {
            ("level", Some(l)) => {
                self.0.set_level(l);
                Ok(())
            }
            _ => Err(format!(
                "parameter `{name}` cannot be changed while running"
            )),
        }
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(FskModulatorBlock(FskModulator::new(
        channel_arg(args)?,
        baud_arg(args)?,
        args.float("level")?,
    ))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "fsk_modulator",
        "Modulators",
        "V.21 FSK modulator (V.8 CI/CM/CJ/JM)",
        make,
    )
    .doc(
        "Continuous-phase binary FSK on a V.21 channel as V.8 uses it: channel 1 \
         sends 980 Hz for a 1 (mark) and 1180 Hz for a 0 (space), channel 2 1650 Hz \
         and 1850 Hz. Bit n lasts from sample ⌈n·8000/baud⌉ (26⅔ samples at 300 \
         bit/s, kept exact over any length). The phase is continuous across bit \
         boundaries. The block ends after the last sample of the last bit.",
    )
    .param(channel_param())
    .param(
        ParamSpec::float("level", "transmit power")
            .default(-14.0)
            .range(-60.0, 0.0)
            .unit("dBm0")
            .live(),
    )
    .param(baud_param())
    .input(PortSpec::new(
        "in",
        ItemType::Bit,
        "line bits, first sent first",
    ))
    .output(PortSpec::new("out", ItemType::F32, "the FSK signal").rate(Rate::Ratio(80, 3)))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::level::rms_f32_to_dbm0;
    use crate::testutil::{chunked, items, make as build, run};

    fn modulate(channel: Channel, bits: &[u8], level: f64) -> Vec<f32> {
        let mut m = FskModulator::new(channel, 300.0, level);
        let mut out = vec![0.0f32; bits.len() * 27 + 1];
        let (taken, n) = m.modulate(bits, &mut out);
        assert_eq!(taken, bits.len());
        assert!(m.idle());
        out.truncate(n);
        out
    }

    /// Frequency from positive-going zero crossings, interpolated.
    fn zero_crossing_hz(x: &[f32]) -> f64 {
        let mut first = None;
        let mut last = 0.0;
        let mut count = 0;
        for (i, w) in x.windows(2).enumerate() {
            if w[0] <= 0.0 && w[1] > 0.0 {
                let t = i as f64 + f64::from(w[0] / (w[0] - w[1]));
                if first.is_none() {
                    first = Some(t);
                } else {
                    count += 1;
                }
                last = t;
            }
        }
        f64::from(count) * SAMPLE_RATE / (last - first.unwrap())
    }

    #[test]
    fn tones_of_ones_and_zeros() {
        for (ch, mark, space) in [
            (Channel::ONE, 980.0, 1180.0),
            (Channel::TWO, 1650.0, 1850.0),
        ] {
            let ones = modulate(ch, &[1; 300], -14.0);
            let zeros = modulate(ch, &[0; 300], -14.0);
            assert!((zero_crossing_hz(&ones) - mark).abs() < 0.05);
            assert!((zero_crossing_hz(&zeros) - space).abs() < 0.05);
        }
    }

    #[test]
    fn level_is_the_parameter() {
        let bits: Vec<u8> = (0..3000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 30 & 1) as u8)
            .collect();
        for level in [-9.0, -14.0, -43.0] {
            let x = modulate(Channel::ONE, &bits, level);
            let rms =
                (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
            let got = rms_f32_to_dbm0(rms);
            assert!((got - level).abs() < 0.2, "{level}: {got}");
        }
    }

    #[test]
    fn phase_is_continuous() {
        let bits: Vec<u8> = (0..2000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 29 & 1) as u8)
            .collect();
        for ch in [Channel::ONE, Channel::TWO] {
            let x = modulate(ch, &bits, 0.0);
            // A sine of peak A and step w changes by at most 2A·sin(w/2) per sample.
            let peak = dbm0_to_peak_f32(0.0);
            let max = 2.0 * peak * (TAU * ch.space_hz / SAMPLE_RATE / 2.0).sin() + 1e-6;
            for w in x.windows(2) {
                assert!(f64::from((w[1] - w[0]).abs()) <= max);
            }
        }
    }

    #[test]
    fn bit_n_starts_at_its_sample_without_drift() {
        let bits: Vec<u8> = (0..3000u32).map(|i| (i & 1) as u8).collect();
        let x = modulate(Channel::ONE, &bits, -14.0);
        assert_eq!(x.len(), 80_000);
        // Bits 0, 1 and 2 last 27, 27 and 26 samples: bit n starts at ⌈n·80/3⌉.
        let mut m = FskModulator::new(Channel::ONE, 300.0, -14.0);
        let mut out = [0.0f32; 80];
        let mut ends = Vec::new();
        let mut at = 0;
        for _ in 0..3 {
            let (_, n) = m.modulate(&[1], &mut out[at..]);
            at += n;
            ends.push(at);
        }
        assert_eq!(ends, vec![27, 54, 80]);
    }

    #[test]
    fn block_output_is_the_same_for_any_chunking() {
        let bits: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 28 & 1) as u8)
            .collect();
        let p = [("channel", Value::Int(2)), ("level", Value::Float(-20.0))];
        let mut outs = Vec::new();
        for (sizes, cap) in [
            (&[1usize][..], 1usize),
            (&[7, 300, 1], 50),
            (&[1000], 100_000),
        ] {
            let mut b = build(&spec(), &p).unwrap();
            let r = run(
                &mut *b,
                Some(ItemType::Bit),
                &chunked(&bits, sizes),
                &[ItemType::F32],
                cap,
                0,
            )
            .unwrap();
            outs.push(items::<f32>(&r.outputs[0]));
        }
        assert_eq!(outs[0].len(), 1000 * 80 / 3 + 1);
        assert_eq!(outs[0], outs[1]);
        assert_eq!(outs[0], outs[2]);
    }
}
