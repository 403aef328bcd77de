//! The V.34 QAM modulator (`qam_modulator`; V.34 §5, Tables 1–4;
//! modem-standards.md §4.1): points at the symbol rate S = 2400·a/c to line
//! samples at 8000 Hz, s(t) = Re{Σ a_n g(t − nT) e^{j2πf_c t}}.
//!
//! g is a root-raised-cosine pulse (V.34 leaves the pulse to the
//! implementation; the receiver's matched filter is the same). 8000/S is the
//! rational 10c/(3a), so output sample k falls at symbol time k·3a/(10c),
//! whose fraction takes v = 10c/gcd values: the pulse is tabulated once per
//! phase (a polyphase filter bank) and the carrier's phase is an exact
//! integer count, so nothing drifts however long the call.

use super::preemphasis;
use super::rates::{reduce, SymbolRate, SYMBOL_RATE_NAMES};
use crate::core::fir::Fir;
use crate::core::level::dbm0_to_rms_f32;
#[cfg(target_arch = "x86_64")]
use crate::core::simd::dot2_avx;
use crate::core::simd::{dot2, has_avx};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Rate, Registry, Status, WorkIo,
};
use num_complex::Complex32;
use std::f64::consts::PI;

/// Half-span of the pulse in symbols.
pub const SPAN: usize = 10;
/// Taps per output sample: the pulse's 2·SPAN, padded with zeros to whole
/// runs of 8 for the dot product.
const WIDTH: usize = (2 * SPAN).next_multiple_of(8);
/// Kaiser window parameter of the truncated pulse.
const WINDOW_BETA: f64 = 3.0;

/// The root-raised-cosine pulse with roll-off β at t symbols, unit energy.
pub fn rrc(t: f64, beta: f64) -> f64 {
    let b = beta.clamp(1e-6, 1.0);
    if t.abs() < 1e-9 {
        return 1.0 - b + 4.0 * b / PI;
    }
    let q = 4.0 * b * t;
    if (q.abs() - 1.0).abs() < 1e-9 {
        let a = PI / (4.0 * b);
        return b / 2f64.sqrt() * ((1.0 + 2.0 / PI) * a.sin() + (1.0 - 2.0 / PI) * a.cos());
    }
    ((PI * t * (1.0 - b)).sin() + q * (PI * t * (1.0 + b)).cos()) / (PI * t * (1.0 - q * q))
}

/// The truncated, windowed pulse.
pub fn pulse(t: f64, beta: f64) -> f64 {
    let r = t / SPAN as f64;
    if r.abs() >= 1.0 {
        return 0.0;
    }
    let i0 = crate::core::interp::bessel_i0;
    rrc(t, beta) * i0(WINDOW_BETA * (1.0 - r * r).sqrt()) / i0(WINDOW_BETA)
}

/// The modulator.
pub struct Modulator {
    /// Symbols per sample = u/v.
    u: u64,
    v: u64,
    /// taps[phase·W + j] multiplies symbol n0 − SPAN + 1 + j (W = [`WIDTH`]).
    taps: Vec<f32>,
    /// Symbols from global index `base` on, real and imaginary parts apart
    /// (zeros stand for those before 0).
    sym_re: Vec<f32>,
    sym_im: Vec<f32>,
    base: i64,
    /// Next output sample, and where it falls: symbol n0 + ph/v, kept as
    /// counters (no division per sample).
    k: u64,
    n0: i64,
    ph: u64,
    /// The carrier's phase index of sample k (k·p mod q).
    ci: u64,
    /// The carrier: cycles per sample p/q, and its table.
    cp: u64,
    cq: u64,
    carrier: Vec<(f32, f32)>,
    gain: f32,
    pre: Option<Fir>,
    scratch: Vec<f32>,
    /// Set at the end of the input: symbols stop here.
    end: Option<i64>,
}

impl Modulator {
    pub fn new(
        s: SymbolRate,
        high: bool,
        level_dbm0: f64,
        beta: f64,
        preemphasis: u32,
    ) -> Modulator {
        // Symbols per sample: S/8000 = 3a/(10c).
        let (u, v) = reduce(3 * s.a, 10 * s.c);
        let (u, v) = (u64::from(u), u64::from(v));
        let w = WIDTH;
        let mut taps = vec![0f32; v as usize * w];
        let mut energy = 0.0;
        for ph in 0..v as usize {
            let frac = ph as f64 / v as f64;
            for j in 0..2 * SPAN {
                let t = frac + (SPAN - 1) as f64 - j as f64;
                let g = pulse(t, beta);
                taps[ph * w + j] = g as f32;
                energy += g * g;
            }
        }
        // Σ over phases of Σ g² is v times the pulse energy per symbol
        // (∫g² = 1 for the untruncated pulse); with unit-power points the
        // baseband has power ⟨Σ|g|²⟩ and the passband half of it.
        let per_sample = energy / v as f64;
        let rms = dbm0_to_rms_f32(level_dbm0);
        let gain = (rms * rms * 2.0 / per_sample).sqrt() as f32;
        let (d, e) = if high { s.high } else { s.low };
        // Carrier cycles per sample: (d/e)·(u/v).
        let (cp, cq) = reduce(d * u as u32, e * v as u32);
        let carrier = (0..cq)
            .map(|i| {
                let a = 2.0 * PI * f64::from(i) / f64::from(cq);
                (a.cos() as f32, a.sin() as f32)
            })
            .collect();
        let fc = s.carrier_hz(high);
        Modulator {
            u,
            v,
            taps,
            sym_re: vec![0.0; SPAN],
            sym_im: vec![0.0; SPAN],
            base: -(SPAN as i64),
            k: 0,
            n0: 0,
            ph: 0,
            ci: 0,
            cp: u64::from(cp),
            cq: u64::from(cq),
            carrier,
            gain,
            pre: preemphasis::design(preemphasis, s.hz(), fc),
            scratch: Vec::new(),
            end: None,
        }
    }

    /// Appends symbols.
    pub fn push(&mut self, points: &[Complex32]) {
        if self.end.is_none() {
            for p in points {
                let ok = p.re.is_finite() && p.im.is_finite();
                self.sym_re
                    .push(if ok { p.re.clamp(-16.0, 16.0) } else { 0.0 });
                self.sym_im
                    .push(if ok { p.im.clamp(-16.0, 16.0) } else { 0.0 });
            }
        }
    }

    /// No more symbols: the pulse's tail follows, then `SPAN` symbols of silence.
    pub fn finish(&mut self) {
        if self.end.is_none() {
            let n = self.base + self.sym_re.len() as i64;
            self.end = Some(n + 2 * SPAN as i64);
            // Silence after the last symbol, and room for the padded taps.
            let pad = 3 * SPAN + WIDTH;
            self.sym_re.extend(std::iter::repeat_n(0.0, pad));
            self.sym_im.extend(std::iter::repeat_n(0.0, pad));
        }
    }

    pub fn done(&self) -> bool {
        self.end.is_some_and(|e| self.n0 >= e)
    }

    /// Writes up to `max` samples into `out`; returns how many. With AVX the
    /// sample loop is compiled for it, so that each sample's dot product is
    /// inlined rather than called.
    pub fn produce(&mut self, out: &mut Vec<f32>, max: usize) -> usize {
        #[cfg(target_arch = "x86_64")]
        if has_avx() {
            // SAFETY: AVX is present (checked above).
            return unsafe { self.produce_avx(out, max) };
        }
        self.produce_with(out, max, dot2)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn produce_avx(&mut self, out: &mut Vec<f32>, max: usize) -> usize {
        self.produce_with(out, max, |a, b, c| dot2_avx(a, b, c))
    }

    #[inline(always)]
    fn produce_with(
        &mut self,
        out: &mut Vec<f32>,
        max: usize,
        dot: impl Fn(&[f32], &[f32], &[f32]) -> (f32, f32),
    ) -> usize {
        let w = WIDTH;
        // Symbols the padded taps may read past the pulse's reach.
        let avail = self.base + self.sym_re.len() as i64 - (WIDTH - 2 * SPAN) as i64;
        let start = out.len();
        while out.len() - start < max {
            let n0 = self.n0;
            if n0 + SPAN as i64 >= avail || self.end.is_some_and(|e| n0 >= e) {
                break;
            }
            let ph = self.ph as usize;
            let taps = &self.taps[ph * w..(ph + 1) * w];
            let first = (n0 - SPAN as i64 + 1 - self.base) as usize;
            let (re, im) = dot(
                &self.sym_re[first..first + w],
                &self.sym_im[first..first + w],
                taps,
            );
            let (c, sn) = self.carrier[self.ci as usize];
            out.push(self.gain * (re * c - im * sn));
            self.k += 1;
            // Sample k + 1 falls u/v symbols later.
            self.ph += self.u;
            while self.ph >= self.v {
                self.ph -= self.v;
                self.n0 += 1;
            }
            self.ci += self.cp;
            if self.ci >= self.cq {
                self.ci -= self.cq;
            }
        }
        // Forget symbols no future sample reaches.
        let keep_from = self.n0 - SPAN as i64 + 1;
        if keep_from - self.base > 4096 {
            let drop = (keep_from - self.base) as usize;
            self.sym_re.drain(..drop);
            self.sym_im.drain(..drop);
            self.base += drop as i64;
        }
        let n = out.len() - start;
        if let Some(f) = &mut self.pre {
            self.scratch.clear();
            self.scratch.extend_from_slice(&out[start..]);
            f.process(&self.scratch, &mut out[start..]);
        }
        n
    }
}

struct ModulatorBlock(Modulator);

impl Block for ModulatorBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0].available();
        self.0.push(&io.inputs[0].items::<Complex32>()[..n]);
        io.inputs[0].consume(n);
        if io.inputs[0].finished() {
            self.0.finish();
        }
        let space = io.outputs[0].space().max(1);
        self.0.produce(io.outputs[0].items::<f32>(), space);
        if self.0.done() {
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

/// The carrier parameter: `low` or `high` (V.34 Table 1).
pub fn carrier_param() -> ParamSpec {
    ParamSpec::choice(
        "carrier",
        &["low", "high"],
        "carrier frequency of V.34 Table 1 (at 3429 baud both are 1959 Hz)",
    )
    .default("low")
}

/// The pulse's roll-off, shared with the receiver's matched filter.
pub fn rolloff_param() -> ParamSpec {
    ParamSpec::float(
        "rolloff",
        "excess bandwidth of the root-raised-cosine pulse",
    )
    .default(0.1)
    .range(0.05, 0.5)
}

/// The symbol rate parameter alone (the modulator needs no data rate).
pub fn symbol_rate_param() -> ParamSpec {
    ParamSpec::int(
        "symbol_rate",
        "symbols per second, by V.34's names (Table 1)",
    )
    .default(3429)
    .allowed(&SYMBOL_RATE_NAMES)
    .unit("baud")
}

pub fn symbol_rate_arg(args: &BlockArgs) -> Result<SymbolRate, String> {
    let s = args.int("symbol_rate")?;
    SymbolRate::by_name(s as u32).ok_or_else(|| format!("`symbol_rate` = {s} is not one of V.34's"))
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let s = symbol_rate_arg(args)?;
    Ok(Box::new(ModulatorBlock(Modulator::new(
        s,
        args.string("carrier")? == "high",
        args.float("level")?,
        args.float("rolloff")?,
        args.int("preemphasis")? as u32,
    ))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "qam_modulator",
        "Modulators",
        "V.34 QAM modulator: points at the symbol rate to line samples at 8000 Hz",
        make,
    )
    .doc(
        "s(t) = Re{Σ aₙ g(t − nT) e^{j2πf_c t}} at 8000 samples/s for every V.34 symbol \
         rate (Table 1: S = 2400·a/c = 2400, 2743, 2800, 3000, 3200, 3429) and its low or \
         high carrier (S·d/e). g is a root-raised-cosine pulse (roll-off `rolloff`, ±10 \
         symbols, Kaiser-windowed); 8000/S = 10c/(3a) is rational, so a polyphase bank \
         of one pulse table per output phase and an exact integer carrier phase give \
         every sample with no drift. Points arrive at unit average power (`v34_train`) \
         and leave at `level` dBm0; the pre-emphasis filter `preemphasis` (Tables 3–4: \
         0 flat, 1–5 a rising boost of 2–10 dB, 6–10 a step and slope) keeps that level \
         over the signal's band. At the end of the input the pulse's tail and ten \
         symbols of silence follow.",
    )
    .param(symbol_rate_param())
    .param(carrier_param())
    .param(
        ParamSpec::float("level", "transmit level")
            .default(-12.0)
            .range(-60.0, 0.0)
            .unit("dBm0"),
    )
    .param(rolloff_param())
    .param(
        ParamSpec::int(
            "preemphasis",
            "pre-emphasis filter index of V.34 Tables 3–4 (0: none)",
        )
        .default(0)
        .range(0.0, (preemphasis::INDICES - 1) as f64),
    )
    .input(PortSpec::new("in", ItemType::C32, "points at unit average power").rate(Rate::Varies))
    .output(PortSpec::new("out", ItemType::F32, "line samples, 8000 Hz").rate(Rate::Varies))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::level::rms_f32_to_dbm0;
    use crate::v34::rates::SYMBOL_RATES;

    fn random_points(n: usize) -> Vec<Complex32> {
        let mut s = 1u32;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let r = std::f32::consts::FRAC_1_SQRT_2;
                Complex32::new(
                    if s >> 31 == 1 { r } else { -r },
                    if (s >> 30) & 1 == 1 { r } else { -r },
                )
            })
            .collect()
    }

    #[test]
    fn rrc_has_unit_energy_and_is_nyquist_squared() {
        let beta = 0.1;
        let dt = 1.0 / 64.0;
        let e: f64 = (-2000..=2000)
            .map(|i| rrc(i as f64 * dt, beta).powi(2) * dt)
            .sum();
        assert!((e - 1.0).abs() < 2e-3, "{e}");
        // Matched-filtered: zero at other whole symbols.
        for n in 1..4 {
            let c: f64 = (-2000..=2000)
                .map(|i| rrc(i as f64 * dt, beta) * rrc(i as f64 * dt - n as f64, beta) * dt)
                .sum();
            assert!(c.abs() < 5e-3, "lag {n}: {c}");
        }
    }

    #[test]
    fn level_samples_and_carrier() {
        for s in SYMBOL_RATES {
            for high in [false, true] {
                let mut m = Modulator::new(s, high, -12.0, 0.1, 0);
                let pts = random_points(20_000);
                m.push(&pts);
                let mut out = Vec::new();
                m.produce(&mut out, usize::MAX);
                // 8000/S samples per symbol.
                let want = 20_000.0 * 8000.0 / s.hz();
                assert!(
                    (out.len() as f64 - want).abs() < 2.0 * SPAN as f64 * 4.0,
                    "{}",
                    s.name
                );
                let p: f64 = out[200..]
                    .iter()
                    .map(|&x| f64::from(x).powi(2))
                    .sum::<f64>()
                    / (out.len() - 200) as f64;
                assert!(
                    (rms_f32_to_dbm0(p.sqrt()) + 12.0).abs() < 0.15,
                    "{}: {}",
                    s.name,
                    rms_f32_to_dbm0(p.sqrt())
                );
                // Energy sits around the carrier: little below fc − S/2·1.2 or above.
                let fc = s.carrier_hz(high);
                let band = |f0: f64, f1: f64| -> f64 {
                    let n = 4096.min(out.len() - 200);
                    let x = &out[200..200 + n];
                    (0..64)
                        .map(|i| {
                            let f = f0 + (f1 - f0) * (i as f64 + 0.5) / 64.0;
                            let (mut re, mut im) = (0.0, 0.0);
                            for (k, &v) in x.iter().enumerate() {
                                let a = 2.0 * PI * f * k as f64 / 8000.0;
                                re += f64::from(v) * a.cos();
                                im += f64::from(v) * a.sin();
                            }
                            re * re + im * im
                        })
                        .sum::<f64>()
                };
                let inside = band(fc - 0.3 * s.hz(), fc + 0.3 * s.hz());
                // Beyond the pulse's band (fc ± 0.55·S), where there is room.
                let edge = 0.55 * s.hz() * 1.0 + 40.0;
                let outside = if fc + edge + 100.0 < 3990.0 {
                    band(fc + edge, fc + edge + 100.0)
                } else if fc - edge - 100.0 > 10.0 {
                    band(fc - edge - 100.0, fc - edge)
                } else {
                    band(3930.0, 3990.0)
                };
                assert!(
                    inside > 300.0 * outside,
                    "{} {}: {inside} {outside}",
                    s.name,
                    high
                );
            }
        }
    }

    #[test]
    fn ends_with_the_tail_and_never_panics() {
        let s = SymbolRate::by_name(2743).unwrap();
        let mut m = Modulator::new(s, false, -12.0, 0.25, 7);
        m.push(&[Complex32::new(f32::NAN, 1e30), Complex32::new(1.0, 0.0)]);
        m.finish();
        let mut out = Vec::new();
        m.produce(&mut out, usize::MAX);
        assert!(m.done());
        assert!(out.iter().all(|v| v.is_finite()));
        // Two symbols plus 2·SPAN of tail and silence, at 35/12 samples each.
        assert!(
            (out.len() as f64 - 22.0 * 35.0 / 12.0).abs() < 4.0,
            "{}",
            out.len()
        );
    }
}
