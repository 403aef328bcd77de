//! Timing recovery for the analogue modem (modem-standards.md §6.1): its A/D
//! clock is not the network's, so the line samples drift against the PCM
//! symbols (±100 ppm is 0.8 samples a second). The receiver resamples the
//! line at its estimate of the symbol instants, t_s = t_{s−1} + ρ, with the
//! band-limited interpolator of `core::interp`, and steers ρ and the phase:
//!
//! * before training, from where TRN1d's first and last stretches correlate
//!   best on the line (their distance, against the symbols between them,
//!   is the clock ratio);
//! * after, symbol by symbol, by a second-order loop on the equalizer's
//!   timing error e·y′ / ⟨y′²⟩ (the error against the output's slope: a
//!   symbol sampled δ late leaves e ≈ −δ·y′), so a constant clock offset
//!   leaves no lasting phase error.

use crate::core::interp::{self, interp_table, INTERP_TAPS};

/// Symbols in each of the two stretches of the training whose positions on
/// the line give the first estimate of the clock ratio.
const STRETCH: usize = 1024;
/// Symbols of TRN1d skipped before the first stretch.
const SETTLE: usize = 512;
/// Loop gains: proportional (per symbol, of the normalised timing error)
/// and integral (into the rate). A time constant of some 200 symbols: fast
/// against a clock drifting 10⁻⁴ samples per symbol, slow against the
/// error's noise.
const PHASE_GAIN: f64 = 5e-3;
const RATE_GAIN: f64 = 6e-6;
/// The slope power ⟨y′²⟩ is averaged over about this many symbols.
const SLOPE_SYMBOLS: f64 = 256.0;
/// Ratios further than this from 1 are not a clock (±1000 ppm is already
/// far beyond any crystal).
const MAX_OFFSET: f64 = 2e-3;

/// The resampler and its loop.
#[derive(Clone, Debug)]
pub struct Timing {
    table: &'static [[f32; INTERP_TAPS]],
    /// Line samples from global index `raw_base` on (silence before 0).
    raw: Vec<f32>,
    raw_base: i64,
    ended: bool,
    /// Position on the line of symbol 0 and of the next symbol, in line samples.
    t0: f64,
    t_next: f64,
    /// Line samples per symbol.
    rate: f64,
    slope_power: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing::new()
    }
}

impl Timing {
    pub fn new() -> Timing {
        let lead = INTERP_TAPS / 2 - 1;
        Timing {
            table: interp_table(),
            raw: vec![0.0; lead],
            raw_base: -(lead as i64),
            ended: false,
            t0: 0.0,
            t_next: 0.0,
            rate: 1.0,
            slope_power: 0.0,
        }
    }

    /// Appends line samples (non-finite ones count as silence).
    pub fn push(&mut self, x: &[f32]) {
        if !self.ended {
            self.raw.extend(x.iter().map(|&v| {
                if v.is_finite() {
                    v.clamp(-4.0, 4.0)
                } else {
                    0.0
                }
            }));
        }
    }

    /// The line has ended: silence after it.
    pub fn end(&mut self) {
        if !self.ended {
            self.raw.extend(std::iter::repeat_n(0.0, INTERP_TAPS / 2));
            self.ended = true;
        }
    }

    /// Line samples received so far.
    pub fn received(&self) -> usize {
        (self.raw_base + self.raw.len() as i64).max(0) as usize
    }

    /// Line samples per symbol, as estimated.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Estimates the clock ratio from where the first and the last
    /// [`STRETCH`] symbols of `train` lie on the line (searched over
    /// `max_delay` samples). Needs the line up to the end of the training.
    pub fn estimate(&mut self, train: &[f32], max_delay: usize) {
        let t = train.len();
        if t < SETTLE + 3 * STRETCH {
            return;
        }
        // Lags from −LEAD (a loop's response starts before its peak) to max_delay.
        const LEAD: usize = INTERP_TAPS / 2;
        let at = |from: usize| -> Option<f64> {
            let corr = |lag: usize| -> f64 {
                (from..from + STRETCH)
                    .map(|n| {
                        f64::from(train[n])
                            * f64::from(self.sample_at(n as i64 + lag as i64 - LEAD as i64))
                    })
                    .sum()
            };
            let c: Vec<f64> = (0..=LEAD + max_delay).map(corr).collect();
            let k = (1..c.len() - 1).max_by(|&a, &b| c[a].abs().total_cmp(&c[b].abs()))?;
            // The correlation is band-limited like the line: find its peak
            // between lags on a 1/64-sample grid by interpolating it.
            let h = INTERP_TAPS / 2 - 1;
            let mut padded = vec![0f32; h];
            padded.extend(c.iter().map(|&v| v as f32));
            padded.extend(std::iter::repeat_n(0.0, INTERP_TAPS));
            let value = |tau: f64| -> f64 {
                let n = tau.floor();
                let first = n as usize;
                f64::from(interp::at(
                    self.table,
                    &padded[first..first + INTERP_TAPS],
                    tau - n,
                ))
                .abs()
            };
            let steps = 128;
            let best = (0..=steps)
                .map(|j| k as f64 - 1.0 + 2.0 * j as f64 / steps as f64)
                .max_by(|&a, &b| value(a).total_cmp(&value(b)))?;
            Some(best)
        };
        // TRN1d starts with long runs of equal signs (the scrambler leaving
        // its zero state), whose low frequencies a loop's high-pass bends:
        // the first stretch starts after them.
        let (first, last) = (SETTLE, t - STRETCH);
        if let (Some(a), Some(b)) = (at(first), at(last)) {
            // The stretch from `last` drifted (b − a) samples over (last − first) symbols.
            let r = 1.0 + (b - a) / (last - first) as f64;
            if (r - 1.0).abs() <= MAX_OFFSET {
                self.rate = r;
            }
        }
    }

    /// Line sample `i` (0 outside what has arrived).
    fn sample_at(&self, i: i64) -> f32 {
        let k = i - self.raw_base;
        if k < 0 {
            0.0
        } else {
            self.raw.get(k as usize).copied().unwrap_or(0.0)
        }
    }

    /// The line at symbol `s`'s instant t0 + s·ρ, before any symbol has been
    /// taken with [`Timing::next_sample`] (which forgets the line behind it).
    pub fn at_symbol(&self, s: usize) -> f32 {
        let t = self.t0 + s as f64 * self.rate;
        let n = t.floor();
        let first = n as i64 - (INTERP_TAPS / 2 - 1) as i64 - self.raw_base;
        if first < 0 || first as usize + INTERP_TAPS > self.raw.len() {
            return 0.0;
        }
        let first = first as usize;
        interp::at(self.table, &self.raw[first..first + INTERP_TAPS], t - n)
    }

    /// Moves the instants of symbol s by `phase` + `slope`·s samples (a
    /// correction measured over the training).
    pub fn correct(&mut self, phase: f64, slope: f64) {
        if phase.is_finite() && slope.is_finite() {
            self.t0 += phase.clamp(-2.0, 2.0);
            self.rate = (self.rate + slope).clamp(1.0 - MAX_OFFSET, 1.0 + MAX_OFFSET);
        }
    }

    /// Carries on with [`Timing::next_sample`] from symbol `s`; `slope_power` is
    /// ⟨y′²⟩ as measured over the training, the loop's normalisation.
    pub fn continue_from(&mut self, s: usize, slope_power: f64) {
        self.t_next = self.t0 + s as f64 * self.rate;
        if slope_power.is_finite() && slope_power > 0.0 {
            self.slope_power = slope_power;
        }
    }

    /// The next symbol-instant sample, if the line has reached far enough.
    pub fn next_sample(&mut self) -> Option<f32> {
        let n = self.t_next.floor();
        let mu = self.t_next - n;
        let first = n as i64 - (INTERP_TAPS / 2 - 1) as i64 - self.raw_base;
        if first < 0 {
            return Some(0.0);
        }
        let first = first as usize;
        if first + INTERP_TAPS > self.raw.len() {
            return None;
        }
        let v = interp::at(self.table, &self.raw[first..first + INTERP_TAPS], mu);
        self.t_next += self.rate;
        // Forget line samples no later symbol needs.
        if first > 4096 {
            self.raw.drain(..first);
            self.raw_base += first as i64;
        }
        Some(v)
    }

    /// One step of the loop after a decision: error `e` and output slope
    /// `dy` (∂y/∂t per line sample).
    pub fn update(&mut self, e: f32, dy: f32) {
        let (e, dy) = (f64::from(e), f64::from(dy));
        self.slope_power += (dy * dy - self.slope_power) / SLOPE_SYMBOLS;
        if self.slope_power <= 0.0 || !e.is_finite() || !dy.is_finite() {
            return;
        }
        // A symbol sampled δ late gives e ≈ −δ·y′: move the instants by +e·y′/⟨y′²⟩.
        let err = (e * dy / self.slope_power).clamp(-0.5, 0.5);
        self.rate = (self.rate + RATE_GAIN * err).clamp(1.0 - MAX_OFFSET, 1.0 + MAX_OFFSET);
        self.t_next += PHASE_GAIN * err;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::law::Law;
    use crate::v90::training::Trn1d;
    use std::f64::consts::PI;

    /// TRN1d through the mild loop (the graph's default line) and its A/D
    /// at a clock offset: the estimate finds it.
    #[test]
    fn the_estimate_holds_through_a_loop() {
        use crate::channel::analog_loop::{AnalogLoop, LoopShape};
        let mut trn = Trn1d::new(Law::Mu, 88);
        let x: Vec<f32> = (0..6000).map(|_| trn.next_value()).collect();
        for ppm in [-100.0, 0.0, 100.0] {
            let mut line =
                AnalogLoop::new(LoopShape::preset("mild").unwrap(), 0.0, -150.0, ppm, 1).unwrap();
            let mut y = Vec::new();
            let mut input = x.clone();
            input.extend(std::iter::repeat_n(0.0, 400));
            line.process(&input, &mut y, usize::MAX);
            let mut tm = Timing::new();
            tm.push(&y);
            tm.estimate(&x, 128);
            let got = (tm.rate() - 1.0) * 1e6;
            assert!((got - ppm).abs() < 10.0, "{ppm} ppm: estimated {got}");
        }
    }

    /// TRN1d sent at one clock, sampled at another: the estimate finds the ratio.
    #[test]
    fn the_training_tells_the_clock_ratio() {
        let mut trn = Trn1d::new(Law::Mu, 88);
        let x: Vec<f32> = (0..6000).map(|_| trn.next_value()).collect();
        for ppm in [-300.0, -100.0, 0.0, 100.0, 300.0] {
            let r: f64 = 1.0 + ppm * 1e-6;
            // Each symbol's impulse, smoothed by a short pulse, at t = 5 + n·r.
            let len = (6000.0 * r) as usize + 40;
            let mut line = vec![0f32; len];
            for (n, &v) in x.iter().enumerate() {
                let t = 5.0 + n as f64 * r;
                let lo = (t - 8.0).ceil().max(0.0) as usize;
                let hi = (t + 8.0).ceil() as usize;
                for (k, l) in line.iter_mut().enumerate().take(hi).skip(lo) {
                    let d = k as f64 - t;
                    let sinc = if d == 0.0 {
                        1.0
                    } else {
                        (PI * d).sin() / (PI * d)
                    };
                    let window = 0.5 + 0.5 * (PI * d / 8.0).cos();
                    *l += (f64::from(v) * sinc * window) as f32;
                }
            }
            let mut tm = Timing::new();
            tm.push(&line);
            tm.estimate(&x, 64);
            let got = (tm.rate() - 1.0) * 1e6;
            // A first guess, which training then refines to within 0.01 ppm.
            assert!((got - ppm).abs() < 15.0, "{ppm} ppm: estimated {got}");
        }
    }

    #[test]
    fn at_the_same_clock_it_passes_samples_through() {
        let x: Vec<f32> = (0..20_000)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let mut tm = Timing::new();
        tm.push(&x);
        for (i, &v) in x.iter().enumerate().take(19_000) {
            let u = tm.next_sample().unwrap();
            assert!((u - v).abs() < 1e-6, "sample {i}: {u} vs {v}");
        }
    }
}
