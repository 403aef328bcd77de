//! The local loop between the line card and the analogue modem (`analog_loop`):
//! the line card's analogue output in, what the analogue modem's A/D samples out.
//!
//! Three things happen between the central office's D/A and the modem's A/D,
//! and a V.90 analogue receiver has to cope with each:
//!
//! * **The loop's response.** The line card and the modem both couple to the
//!   pair through transformers, which block DC: a 2nd-order high-pass with a
//!   corner `hp_hz` of some 20–200 Hz. The band is limited above by the codec
//!   filters and the loop itself: a low-pass with a corner `lp_hz` of
//!   3.4–4 kHz. Between them the loop attenuates the signal by a flat `loss`.
//!   Both filters are Butterworth, made digital by the bilinear transform with
//!   the corner pre-warped, so the response is exactly the analogue
//!   prototype's at warped frequency:
//!
//!   ```text
//!   |H(f)|² = 1/(1 + (tan(π·hp/fs)/tan(π·f/fs))^(2·n_hp)) · 1/(1 + (tan(π·f/fs)/tan(π·lp/fs))^(2·n_lp))
//!   ```
//!
//!   3.01 dB down at each corner (plus `loss`), with fs = 8000 Hz. They are
//!   minimum-phase, like a real loop, so the band edges bring group-delay
//!   distortion that the modem's equaliser must undo.
//! * **Noise** at the A/D: white Gaussian noise of `noise` dBm0, added to
//!   each output sample (after the loop and the clock offset, so its level is
//!   exactly `noise` whatever the loop), from the project's `awgn` kernel.
//! * **Clock offset.** The analogue modem's A/D runs on its own crystal,
//!   (1 + ppm·10⁻⁶) times as fast as the network's 8000 Hz clock. The output is
//!   therefore the loop's continuous-time output sampled at t_k = k/(1 +
//!   ppm·10⁻⁶) input-sample periods, k = 0, 1, 2, …. The continuous-time
//!   signal is the band-limited interpolation of the 8000 Hz samples, computed
//!   with a Kaiser-windowed sinc of [`INTERP_TAPS`] taps (β = [`KAISER_BETA`](crate::core::interp::KAISER_BETA))
//!   from a table of [`INTERP_PHASES`](crate::core::interp::INTERP_PHASES) fractional delays, interpolated
//!   linearly between neighbouring phases. With ppm = 0 the resampler is
//!   skipped and the output is exactly the loop's.
//!
//! Presets (`loop`), chosen as realistic orders of magnitude, not measured
//! loops; the response columns are |H| in dB from the formula above,
//! measured by the tests with sines within 0.01 dB:
//!
//! | preset | high-pass | low-pass | loss | at 100 Hz | 1 kHz | 3 kHz | 3.8 kHz |
//! |---|---|---|---|---|---|---|---|
//! | none (a wire) | – | – | 0 dB | 0 | 0 | 0 | 0 |
//! | mild | 20 Hz, 2nd order | 3800 Hz, 4th order | 2 dB | −2.01 | −2.00 | −2.00 | −5.01 |
//! | medium | 100 Hz, 2nd order | 3600 Hz, 4th order | 6 dB | −9.01 | −6.00 | −6.00 | −30.31 |
//! | long | 200 Hz, 2nd order | 3400 Hz, 4th order | 12 dB | −24.33 | −12.01 | −12.05 | −50.75 |
//!
//! `mild` is a short loop on a good line card, gentle enough that a V.90
//! receiver with an adaptive equaliser can still reach 56 000 bit/s: flat
//! within 0.01 dB from 100 Hz to 3.4 kHz, and its group delay varies by
//! 0.23 ms (under two samples) across 300–3400 Hz, 0.58 ms up to 3.6 kHz.
//! `medium` and `long` cut the band edges harder, as longer loops and older
//! line cards do: group-delay spread 0.57 and 0.95 ms across 300–3400 Hz,
//! 1.45 and 0.99 ms across 300–3600 Hz (test `group_delay_spread_is_small_for_mild`).
//! The block's `loss` parameter adds flat loss on top of the preset's own.
//!
//! **Interpolation error** (tests `interpolation_error_is_small`): a random
//! PCM signal (uniformly random µ-law octets through the line card's D/A,
//! full band) through each preset, resampled at ±1000 ppm and compared with
//! its exact band-limited interpolation (a periodic signal, interpolated by
//! its DFT): the error is −63.8 dB below the signal after `mild`, −77.2 dB
//! after `medium`, −78.7 dB after `long`, but only −24.5 dB for `none`, whose
//! full-band signal has energy right up to 4 kHz, where no finite
//! interpolator works (use a preset with a band edge when `ppm` is not 0).
//! The figures are the same at +1000 and −1000 ppm.
//!
//! **Rate.** N input samples give exactly the outputs k ≥ 0 with
//! k/(1 + ppm·10⁻⁶) < N, i.e. ⌈N·(1 + ppm·10⁻⁶)⌉ (N with ppm = 0); the port
//! rate is declared as varying. With ppm ≠ 0 an output needs the input up to
//! [`INTERP_TAPS`]/2 samples past its instant, so the block holds that many
//! samples back until more input comes; at the end of the stream it treats
//! the missing future as silence and emits the rest. (In a feedback loop,
//! give the loop at least that much delay.)

use super::awgn::Awgn;
use crate::core::interp::{self, interp_table, INTERP_TAPS};
use crate::core::tone::SAMPLE_RATE;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Rate, Registry, Status, Value,
    WorkIo,
};
use num_complex::Complex64;
use std::f64::consts::PI;

/// Largest clock offset accepted, in ppm: ±1000 ppm (±8 Hz at 8000 Hz) is far
/// beyond any crystal (tens of ppm), and keeps the band the resampler folds
/// when it slows down (fs·(1 − r)/2 ≤ 4 Hz below Nyquist) negligible.
pub const MAX_PPM: f64 = 1000.0;

/// Largest magnitude an input sample keeps (120 dB above full scale): no real
/// signal comes near it, and the filters and the interpolator stay finite.
const INPUT_LIMIT: f32 = 1e6;

/// IIR states below this are flushed to zero, so a long silence never runs
/// the filters on subnormal numbers; far below the f32 output's resolution.
const STATE_FLOOR: f64 = 1e-100;

/// Noise levels outside this range are clamped (the block's range is
/// −150 … 0 dBm0; this only guards the kernel's own callers).
const NOISE_RANGE_DBM0: (f64, f64) = (-400.0, 20.0);

/// The documented parameters of a loop: a Butterworth high-pass and
/// low-pass (order 0 = absent) and a flat loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoopShape {
    pub hp_hz: f64,
    pub hp_order: usize,
    pub lp_hz: f64,
    pub lp_order: usize,
    pub loss_db: f64,
}

impl LoopShape {
    /// A plain wire: no filtering, no loss.
    pub const WIRE: LoopShape = LoopShape {
        hp_hz: 0.0,
        hp_order: 0,
        lp_hz: 0.0,
        lp_order: 0,
        loss_db: 0.0,
    };

    /// The preset called `name` (none, mild, medium or long).
    pub fn preset(name: &str) -> Option<LoopShape> {
        PRESETS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// |H(f)| in dB from the closed form in the module doc, loss included.
    pub fn response_db(&self, hz: f64) -> f64 {
        let w = |f: f64| (PI * f / SAMPLE_RATE).tan();
        let mut p = 1.0;
        if self.hp_order > 0 {
            p /= 1.0 + (w(self.hp_hz) / w(hz)).powi(2 * self.hp_order as i32);
        }
        if self.lp_order > 0 {
            p /= 1.0 + (w(hz) / w(self.lp_hz)).powi(2 * self.lp_order as i32);
        }
        10.0 * p.log10() - self.loss_db
    }
}

/// The presets of the `loop` parameter (see the table in the module doc).
pub const PRESETS: [(&str, LoopShape); 4] = [
    ("none", LoopShape::WIRE),
    (
        "mild",
        LoopShape {
            hp_hz: 20.0,
            hp_order: 2,
            lp_hz: 3800.0,
            lp_order: 4,
            loss_db: 2.0,
        },
    ),
    (
        "medium",
        LoopShape {
            hp_hz: 100.0,
            hp_order: 2,
            lp_hz: 3600.0,
            lp_order: 4,
            loss_db: 6.0,
        },
    ),
    (
        "long",
        LoopShape {
            hp_hz: 200.0,
            hp_order: 2,
            lp_hz: 3400.0,
            lp_order: 4,
            loss_db: 12.0,
        },
    ),
];

/// One second-order section, y = (b0 + b1 z⁻¹ + b2 z⁻²)/(1 + a1 z⁻¹ + a2 z⁻²)
/// x, in transposed direct form II and f64 (a 20 Hz pole pair sits within
/// 0.02 of z = 1, too close for f32 coefficients).
#[derive(Clone, Debug)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    s: [f64; 2],
}

impl Biquad {
    /// Butterworth section of quality `q` (or first order when `q` is None)
    /// at pre-warped corner `k` = tan(π·fc/fs), by the bilinear transform.
    fn new(high: bool, k: f64, q: Option<f64>) -> Biquad {
        let (b, a) = match q {
            None => {
                let n = 1.0 / (1.0 + k);
                let b = if high {
                    [n, -n, 0.0]
                } else {
                    [k * n, k * n, 0.0]
                };
                (b, [(k - 1.0) * n, 0.0])
            }
            Some(q) => {
                let n = 1.0 / (1.0 + k / q + k * k);
                let b = if high {
                    [n, -2.0 * n, n]
                } else {
                    [k * k * n, 2.0 * k * k * n, k * k * n]
                };
                (b, [2.0 * (k * k - 1.0) * n, (1.0 - k / q + k * k) * n])
            }
        };
        Biquad { b, a, s: [0.0; 2] }
    }

    fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.s[0];
        self.s[0] = self.b[1] * x - self.a[0] * y + self.s[1];
        self.s[1] = self.b[2] * x - self.a[1] * y;
        for s in &mut self.s {
            if s.abs() < STATE_FLOOR {
                *s = 0.0;
            }
        }
        y
    }

    fn response(&self, z1: Complex64) -> Complex64 {
        let z2 = z1 * z1;
        (self.b[0] + self.b[1] * z1 + self.b[2] * z2) / (1.0 + self.a[0] * z1 + self.a[1] * z2)
    }
}

/// The Butterworth sections of an `order`-th order filter at `hz`.
fn butterworth(high: bool, hz: f64, order: usize) -> Vec<Biquad> {
    let k = (PI * hz / SAMPLE_RATE).tan();
    let mut v = Vec::new();
    if order % 2 == 1 {
        v.push(Biquad::new(high, k, None));
    }
    // Pole pairs at angles π(2i + 1)/(2n) from the negative real axis.
    for i in 0..order / 2 {
        let theta = PI * (2 * i + 1) as f64 / (2 * order) as f64;
        v.push(Biquad::new(high, k, Some(1.0 / (2.0 * theta.cos()))));
    }
    v
}

/// A sample the loop accepts: non-finite counts as 0, and magnitudes beyond
/// [`INPUT_LIMIT`] are clamped to it.
fn sanitize(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-INPUT_LIMIT, INPUT_LIMIT)
    } else {
        0.0
    }
}

/// The loop's frequency response as a cascade of sections, at unity
/// passband gain (the loss is applied by [`AnalogLoop`]).
#[derive(Clone, Debug)]
pub struct LoopFilter {
    sections: Vec<Biquad>,
}

impl LoopFilter {
    /// Orders go up to 8; a high-pass corner must lie in 0 … 4000 Hz and a
    /// low-pass one too, above the high-pass's.
    pub fn new(shape: &LoopShape) -> Result<LoopFilter, String> {
        let nyq = SAMPLE_RATE / 2.0;
        let mut sections = Vec::new();
        for (name, hz, order, high) in [
            ("hp_hz", shape.hp_hz, shape.hp_order, true),
            ("lp_hz", shape.lp_hz, shape.lp_order, false),
        ] {
            if order == 0 {
                continue;
            }
            if order > 8 {
                return Err(format!("filter order {order} for `{name}`: use 1 … 8"));
            }
            if !(hz > 0.0 && hz < nyq) {
                return Err(format!(
                    "`{name}` = {hz} Hz: a corner must lie between 0 and {nyq} Hz"
                ));
            }
            sections.extend(butterworth(high, hz, order));
        }
        if shape.hp_order > 0 && shape.lp_order > 0 && shape.lp_hz <= shape.hp_hz {
            return Err(format!(
                "`lp_hz` = {} Hz must be above `hp_hz` = {} Hz",
                shape.lp_hz, shape.hp_hz
            ));
        }
        Ok(LoopFilter { sections })
    }

    /// Filters `input` into `output` (as long; extra items are left alone).
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        for (y, &x) in output.iter_mut().zip(input) {
            let mut v = f64::from(sanitize(x));
            for s in &mut self.sections {
                v = s.run(v);
            }
            *y = v as f32;
        }
    }

    /// The complex response at `hz`, from the coefficients.
    pub fn response(&self, hz: f64) -> Complex64 {
        let z1 = Complex64::from_polar(1.0, -2.0 * PI * hz / SAMPLE_RATE);
        self.sections
            .iter()
            .fold(Complex64::new(1.0, 0.0), |h, s| h * s.response(z1))
    }

    /// Group delay at `hz` in seconds, from the phase of [`Self::response`].
    pub fn group_delay(&self, hz: f64) -> f64 {
        let d = 0.01;
        let (a, b) = (self.response(hz - d), self.response(hz + d));
        -(b / a).arg() / (2.0 * PI * 2.0 * d)
    }
}

/// Samples a stream at t_k = k/r input periods, r = 1 + ppm·10⁻⁶, by
/// band-limited interpolation (see the module doc). Push input, pull output;
/// an output is made once the input it needs has arrived, or at the end.
#[derive(Clone, Debug)]
pub struct ClockOffset {
    ratio: f64,
    table: &'static [[f32; INTERP_TAPS]],
    /// Input x[first …], with silence before the stream and, once it has
    /// ended, after it.
    hist: Vec<f32>,
    first: i64,
    received: u64,
    next: u64,
    ended: bool,
}

impl ClockOffset {
    /// A resampler for an A/D clock `ppm` parts per million fast (negative:
    /// slow), |ppm| ≤ [`MAX_PPM`].
    pub fn new(ppm: f64) -> Result<ClockOffset, String> {
        if ppm.is_nan() || ppm.abs() > MAX_PPM {
            return Err(format!(
                "`ppm` = {ppm} must be between −{MAX_PPM} and {MAX_PPM} (parts per million of \
                 the network's 8000 Hz)"
            ));
        }
        let lead = INTERP_TAPS / 2 - 1;
        Ok(ClockOffset {
            ratio: 1.0 + ppm * 1e-6,
            table: interp_table(),
            hist: vec![0.0; lead],
            first: -(lead as i64),
            received: 0,
            next: 0,
            ended: false,
        })
    }

    /// r = 1 + ppm·10⁻⁶: output samples per input sample.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// How many outputs `n` inputs give in all: the k ≥ 0 with k/r < n.
    pub fn output_count(&self, n: u64) -> u64 {
        let mut c = (n as f64 * self.ratio).ceil() as u64;
        while (c as f64) / self.ratio < n as f64 {
            c += 1;
        }
        while c > 0 && ((c - 1) as f64) / self.ratio >= n as f64 {
            c -= 1;
        }
        c
    }

    /// Appends input samples (ignored once the input has ended).
    pub fn push(&mut self, x: &[f32]) {
        if self.ended {
            return;
        }
        self.hist.extend(x.iter().map(|&v| sanitize(v)));
        self.received += x.len() as u64;
    }

    /// Marks the end of the input: the future beyond it is silence.
    pub fn end(&mut self) {
        if !self.ended {
            self.hist.extend(std::iter::repeat_n(0.0, INTERP_TAPS / 2));
            self.ended = true;
        }
    }

    /// True once the input has ended and every output has been pulled.
    pub fn is_done(&self) -> bool {
        self.ended && self.next >= self.output_count(self.received)
    }

    /// Appends to `out` every output that can be made now, at most `max`.
    /// Returns how many.
    pub fn pull(&mut self, out: &mut Vec<f32>, max: usize) -> usize {
        let h = (INTERP_TAPS / 2) as i64;
        let end = self.first + self.hist.len() as i64;
        let mut made = 0;
        while made < max {
            let t = self.next as f64 / self.ratio;
            if self.ended && t >= self.received as f64 {
                break;
            }
            let n = t.floor();
            let mu = t - n;
            let n = n as i64;
            if n + h >= end {
                break;
            }
            let at = (n - h + 1 - self.first) as usize;
            out.push(interp::at(self.table, &self.hist[at..at + INTERP_TAPS], mu));
            self.next += 1;
            made += 1;
        }
        // Forget input no later output can reach.
        let t = self.next as f64 / self.ratio;
        let keep_from = (t.floor() as i64 - h + 1).max(self.first);
        let drop = ((keep_from - self.first) as usize).min(self.hist.len());
        self.hist.drain(..drop);
        self.first += drop as i64;
        made
    }
}

/// The whole model: loop filter, clock offset (none when ppm = 0), flat loss
/// and noise at the A/D. One noise draw per output sample, in order, so the
/// output does not depend on how the stream is chunked.
#[derive(Clone, Debug)]
pub struct AnalogLoop {
    shape: LoopShape,
    filter: LoopFilter,
    clock: Option<ClockOffset>,
    extra_loss_db: f64,
    gain: f32,
    noise: Awgn,
    relative: RelativeNoise,
    filtered: Vec<f32>,
    clean: Vec<f32>,
}

/// SNRs at or above this add no relative noise at all (the default).
pub const NO_SNR_DB: f64 = 150.0;

/// White noise whose power follows the signal's: `snr` dB below the mean
/// power of the loop's output so far (sample by sample, so the result does
/// not depend on chunking). A test of a receiver at a given SNR then needs
/// no knowledge of the loop's loss or the transmitter's level.
#[derive(Clone, Debug)]
struct RelativeNoise {
    ratio: Option<f64>,
    rng: rand_pcg::Pcg64,
    sum: f64,
    count: f64,
}

impl RelativeNoise {
    fn new(snr_db: f64, seed: u64) -> RelativeNoise {
        use rand::SeedableRng;
        RelativeNoise {
            ratio: (snr_db < NO_SNR_DB).then(|| 10f64.powf(-snr_db / 10.0)),
            // Its own draw, apart from the absolute noise's.
            rng: rand_pcg::Pcg64::seed_from_u64(seed ^ 0x5eed_0f5a),
            sum: 0.0,
            count: 0.0,
        }
    }

    fn process(&mut self, x: &mut [f32]) {
        use rand::Rng;
        let Some(ratio) = self.ratio else { return };
        for v in x {
            self.sum += f64::from(*v) * f64::from(*v);
            self.count += 1.0;
            let sigma = (self.sum / self.count * ratio).sqrt() as f32;
            let g: f32 = self.rng.sample(rand_distr::StandardNormal);
            *v += sigma * g;
        }
    }
}

impl AnalogLoop {
    /// The loop `shape` with `loss_db` of flat loss on top of its own,
    /// `noise_dbm0` of white noise at the A/D (seeded with `seed`) and an A/D
    /// clock `ppm` fast (0 = locked to the network: no resampling).
    pub fn new(
        shape: LoopShape,
        loss_db: f64,
        noise_dbm0: f64,
        ppm: f64,
        seed: u64,
    ) -> Result<AnalogLoop, String> {
        let filter = LoopFilter::new(&shape)?;
        let clock = if ppm == 0.0 {
            None
        } else {
            Some(ClockOffset::new(ppm)?)
        };
        let mut l = AnalogLoop {
            shape,
            filter,
            clock,
            extra_loss_db: 0.0,
            gain: 1.0,
            noise: Awgn::new(-400.0, seed),
            relative: RelativeNoise::new(NO_SNR_DB, seed),
            filtered: Vec::new(),
            clean: Vec::new(),
        };
        l.set_loss(loss_db);
        l.set_noise(noise_dbm0);
        Ok(l)
    }

    /// Sets the flat loss added to the shape's own, in dB (negative or NaN
    /// counts as 0: the loop is passive). Applies from the next output.
    pub fn set_loss(&mut self, loss_db: f64) {
        self.extra_loss_db = loss_db.max(0.0);
        let total = self.shape.loss_db.max(0.0) + self.extra_loss_db;
        self.gain = 10f64.powf(-total / 20.0) as f32;
    }

    /// Adds noise `snr_db` below the output signal's mean power (on top of
    /// the absolute noise); [`NO_SNR_DB`] or more: none.
    pub fn with_snr(mut self, snr_db: f64, seed: u64) -> AnalogLoop {
        self.relative = RelativeNoise::new(snr_db, seed);
        self
    }

    /// Sets the noise power at the A/D in dBm0 (NaN: no noise).
    pub fn set_noise(&mut self, level_dbm0: f64) {
        let (lo, hi) = NOISE_RANGE_DBM0;
        let l = if level_dbm0.is_nan() {
            lo
        } else {
            level_dbm0.clamp(lo, hi)
        };
        self.noise.set_level(l);
    }

    /// The loop's shape.
    pub fn shape(&self) -> &LoopShape {
        &self.shape
    }

    /// How many input samples past an output's instant it needs before it is
    /// made: 0 at ppm = 0, else [`INTERP_TAPS`]/2.
    pub fn lookahead(&self) -> usize {
        if self.clock.is_some() {
            INTERP_TAPS / 2
        } else {
            0
        }
    }

    /// Takes input samples and appends at most `max_out` output samples to
    /// `out`. Returns how many input samples it used; the caller keeps the
    /// rest for the next call.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>, max_out: usize) -> usize {
        self.clean.clear();
        let used = match &mut self.clock {
            None => {
                let m = input.len().min(max_out);
                self.clean.resize(m, 0.0);
                self.filter.process(&input[..m], &mut self.clean);
                m
            }
            Some(clock) => {
                clock.pull(&mut self.clean, max_out);
                // About one output per input: take what the space allows.
                let m = input.len().min(max_out - self.clean.len());
                if m > 0 {
                    self.filtered.resize(m, 0.0);
                    self.filter.process(&input[..m], &mut self.filtered);
                    clock.push(&self.filtered);
                    let room = max_out - self.clean.len();
                    clock.pull(&mut self.clean, room);
                }
                m
            }
        };
        self.emit(out);
        used
    }

    /// After the last input: appends at most `max_out` of the outputs still
    /// due. Returns true once there are none left.
    pub fn finish(&mut self, out: &mut Vec<f32>, max_out: usize) -> bool {
        let Some(clock) = &mut self.clock else {
            return true;
        };
        clock.end();
        self.clean.clear();
        clock.pull(&mut self.clean, max_out);
        let done = clock.is_done();
        self.emit(out);
        done
    }

    /// Loss and noise on the samples in `clean`, appended to `out`.
    fn emit(&mut self, out: &mut Vec<f32>) {
        for v in &mut self.clean {
            *v *= self.gain;
        }
        let start = out.len();
        out.resize(start + self.clean.len(), 0.0);
        self.noise.process(&self.clean, &mut out[start..]);
        self.relative.process(&mut out[start..]);
    }
}

struct AnalogLoopBlock(AnalogLoop);

impl Block for AnalogLoopBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let space = io.outputs[0].space();
        let out = io.outputs[0].items::<f32>();
        let start = out.len();
        let used = self.0.process(io.inputs[0].items::<f32>(), out, space);
        io.inputs[0].consume(used);
        if io.inputs[0].finished() {
            let room = space.saturating_sub(out.len() - start);
            if self.0.finish(out, room) {
                return Ok(Status::Done);
            }
        }
        Ok(Status::Ok)
    }

    fn set_param(&mut self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value.as_f64()) {
            ("loss", Some(l)) => self.0.set_loss(l),
            ("noise", Some(l)) => self.0.set_noise(l),
            _ => {
                return Err(format!(
                    "parameter `{name}` cannot be changed while running"
                ))
            }
        }
        Ok(())
    }
}

const PRESET_NAMES: [&str; 4] = [PRESETS[0].0, PRESETS[1].0, PRESETS[2].0, PRESETS[3].0];

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let name = args.string("loop")?;
    let shape = LoopShape::preset(&name).ok_or_else(|| {
        format!(
            "`loop` must be one of {}, got `{name}`",
            PRESET_NAMES.join(", ")
        )
    })?;
    let seed = args.int("seed")? as u64;
    Ok(Box::new(AnalogLoopBlock(
        AnalogLoop::new(
            shape,
            args.float("loss")?,
            args.float("noise")?,
            args.float("ppm")?,
            seed,
        )?
        .with_snr(args.float("snr")?, seed),
    )))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "analog_loop",
        "Channel",
        "the local loop to the analogue modem: band limits, loss, noise and A/D clock offset",
        make,
    )
    .doc(
        "Models the path from the line card's D/A to the analogue modem's A/D. The loop: a \
         2nd-order Butterworth high-pass (the transformers), a Butterworth low-pass (codec \
         filters and the loop) and a flat loss, from the preset `loop`: none (a wire), mild \
         (20 Hz, 3800 Hz 4th order, 2 dB; flat from 100 Hz to 3.4 kHz, group delay within \
         0.23 ms across 300–3400 Hz, gentle enough for 56 000 bit/s), medium (100 Hz, 3600 Hz \
         4th order, 6 dB) or long (200 Hz, 3400 Hz 4th order, 12 dB); each corner is 3 dB \
         down. `loss` adds flat loss on top of the preset's. Then the A/D: its clock runs \
         (1 + `ppm`·10⁻⁶) times as fast as the network's, so the loop's continuous-time \
         output is sampled at that rate by band-limited interpolation (96-tap Kaiser-windowed \
         sinc; error about −64 dB after mild, −77 dB after medium, −79 dB after long, but \
         −24 dB after none with a full-band signal); with `ppm` 0 it is not resampled at \
         all. Finally white Gaussian noise of `noise` dBm0 (seeded with `seed`) is added to \
         every output sample, and, with `snr` below 150, more white noise `snr` dB below \
         the mean power of the output so far (the received signal), for tests at a given \
         SNR whatever the loop's loss.\n\n\
         N input samples give ⌈N·(1 + ppm·10⁻⁶)⌉ outputs (N with ppm 0). With ppm ≠ 0 the \
         block holds the last 48 input samples back until more arrive (the interpolator's \
         look-ahead) and at the end of the stream treats what follows as silence. \
         Non-finite input samples count as 0; magnitudes beyond 10⁶ are clamped.",
    )
    .param(
        ParamSpec::choice(
            "loop",
            &PRESET_NAMES,
            "loop preset: none (a wire), mild, medium, long",
        )
        .default("mild"),
    )
    .param(
        ParamSpec::float("loss", "flat loss on top of the preset's own")
            .default(0.0)
            .range(0.0, 60.0)
            .unit("dB")
            .live(),
    )
    .param(
        ParamSpec::float("noise", "white noise power at the A/D")
            .default(-90.0)
            .range(-150.0, 0.0)
            .unit("dBm0")
            .live(),
    )
    .param(
        ParamSpec::float(
            "snr",
            "noise relative to the received signal: this many dB below its mean power (150 or more: none)",
        )
        .default(NO_SNR_DB)
        .range(-20.0, 200.0)
        .unit("dB"),
    )
    .param(
        ParamSpec::float(
            "ppm",
            "how much faster the A/D's clock runs than the network's (negative: slower)",
        )
        .default(0.0)
        .range(-MAX_PPM, MAX_PPM)
        .unit("ppm"),
    )
    .param(ParamSpec::int("seed", "noise generator seed").default(1))
    .input(PortSpec::new(
        "in",
        ItemType::F32,
        "the line card's analogue output, 8000 Hz network clock",
    ))
    .output(
        PortSpec::new(
            "out",
            ItemType::F32,
            "what the analogue modem's A/D samples, at its own clock",
        )
        .rate(Rate::Varies),
    )
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::line_codec::LineCodecDac;
    use crate::core::interp::{interp_coefficients, INTERP_PHASES};
    use crate::core::level::rms_f32_to_dbm0;
    use crate::g711::law::Law;
    use crate::testutil::{chunked, items, make as build, run, GARBAGE_F32};
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    /// Noise this far down (RMS about 2e-8) is below anything the tests
    /// look at.
    const QUIET: f64 = -150.0;

    fn block(params: &[(&str, Value)]) -> Box<dyn Block> {
        build(&spec(), params).unwrap()
    }

    /// Runs the block over `x` in chunks cycling through `sizes`, with `cap`
    /// items of output space per call.
    fn through(params: &[(&str, Value)], x: &[f32], sizes: &[usize], cap: usize) -> Vec<f32> {
        let mut b = block(params);
        let r = run(
            &mut *b,
            Some(ItemType::F32),
            &chunked(x, sizes),
            &[ItemType::F32],
            cap,
            0,
        )
        .unwrap();
        items(&r.outputs[0])
    }

    fn whole(params: &[(&str, Value)], x: &[f32]) -> Vec<f32> {
        let n = x.len().max(1);
        through(params, x, &[n], n + 1024)
    }

    fn sine(hz: f64, amplitude: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (amplitude * (2.0 * PI * hz * i as f64 / SAMPLE_RATE).sin()) as f32)
            .collect()
    }

    /// Amplitude of the `hz` component of `x` (least squares over whole
    /// periods of the 8000 Hz grid, so other frequencies do not leak in).
    fn amplitude(x: &[f32], hz: f64) -> f64 {
        let (mut c, mut s) = (0.0, 0.0);
        for (i, &v) in x.iter().enumerate() {
            let ph = 2.0 * PI * hz * i as f64 / SAMPLE_RATE;
            c += f64::from(v) * ph.cos();
            s += f64::from(v) * ph.sin();
        }
        2.0 * (c * c + s * s).sqrt() / x.len() as f64
    }

    fn level_dbm0(x: &[f32]) -> f64 {
        let p = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
        rms_f32_to_dbm0(p.sqrt())
    }

    /// The module doc's table: (preset, dB at 100 Hz, 1 kHz, 3 kHz, 3.8 kHz).
    const DOC_TABLE: [(&str, [f64; 4]); 4] = [
        ("none", [0.0, 0.0, 0.0, 0.0]),
        ("mild", [-2.01, -2.00, -2.00, -5.01]),
        ("medium", [-9.01, -6.00, -6.00, -30.31]),
        ("long", [-24.33, -12.01, -12.05, -50.75]),
    ];
    const SWEEP: [f64; 4] = [100.0, 1000.0, 3000.0, 3800.0];

    #[test]
    fn presets_have_their_documented_response() {
        for (name, doc) in DOC_TABLE {
            let shape = LoopShape::preset(name).unwrap();
            // The sweep, plus both corners (3.01 dB down, plus the loss).
            let mut points: Vec<(f64, f64)> = SWEEP.iter().copied().zip(doc).collect();
            for (order, hz) in [(shape.hp_order, shape.hp_hz), (shape.lp_order, shape.lp_hz)] {
                if order > 0 {
                    points.push((hz, -3.0103 - shape.loss_db));
                }
            }
            for (hz, want) in points {
                assert!(
                    (shape.response_db(hz) - want).abs() < 0.01,
                    "{name} {hz} Hz: formula {} vs doc {want}",
                    shape.response_db(hz)
                );
                let coeffs = 20.0 * LoopFilter::new(&shape).unwrap().response(hz).norm().log10()
                    - shape.loss_db;
                assert!((coeffs - want).abs() < 0.01, "{name} {hz}: {coeffs}");
                // Measured with a sine through the block, after 1 s to settle.
                let n = 3 * 8000;
                let x = sine(hz, 0.5, n);
                let p = [("loop", Value::from(name)), ("noise", Value::Float(QUIET))];
                let y = whole(&p, &x);
                let got = 20.0 * (amplitude(&y[8000..], hz) / 0.5).log10();
                println!("{name:>6} {hz:>6} Hz: measured {got:8.3} dB, documented {want:8.3}");
                assert!((got - want).abs() < 0.5, "{name} {hz} Hz: {got} vs {want}");
                assert!((got - want).abs() < 0.01, "{name} {hz} Hz: {got} vs {want}");
            }
        }
    }

    #[test]
    fn group_delay_spread_is_small_for_mild() {
        // (preset, largest spread across 300–3400 Hz in ms, across 300–3600)
        for (name, max_3400, max_3600) in [
            ("mild", 0.25, 0.6),
            ("medium", 0.6, 1.5),
            ("long", 1.0, 1.05),
        ] {
            let f = LoopFilter::new(&LoopShape::preset(name).unwrap()).unwrap();
            let spread = |hi: f64| {
                let d: Vec<f64> = (300..=hi as usize)
                    .step_by(10)
                    .map(|hz| f.group_delay(hz as f64) * 1000.0)
                    .collect();
                let max = d.iter().copied().fold(f64::MIN, f64::max);
                let min = d.iter().copied().fold(f64::MAX, f64::min);
                max - min
            };
            let (a, b) = (spread(3400.0), spread(3600.0));
            println!("{name}: group-delay spread {a:.3} ms (300–3400 Hz), {b:.3} ms (300–3600 Hz)");
            assert!(a < max_3400 && b < max_3600, "{name}: {a} {b}");
        }
        // mild is flat within 0.01 dB from 100 Hz to 3.4 kHz.
        let mild = LoopShape::preset("mild").unwrap();
        for hz in (100..=3400).step_by(10) {
            let d = mild.response_db(hz as f64) + mild.loss_db;
            assert!(d.abs() < 0.01, "{hz} Hz: {d}");
        }
        // A wire has none.
        let wire = LoopFilter::new(&LoopShape::WIRE).unwrap();
        assert_eq!(wire.group_delay(1000.0), 0.0);
    }

    #[test]
    fn a_wire_without_noise_or_clock_offset_passes_the_signal_unchanged() {
        let mut rng = Pcg64::seed_from_u64(8);
        let x: Vec<f32> = (0..20_000).map(|_| rng.random_range(-1.0..1.0)).collect();
        let p = [
            ("loop", Value::from("none")),
            ("noise", Value::Float(QUIET)),
            ("ppm", Value::Float(0.0)),
        ];
        let y = through(&p, &x, &[1, 7, 333, 4096], 500);
        assert_eq!(y.len(), x.len());
        for (n, (a, b)) in x.iter().zip(&y).enumerate() {
            assert!((a - b).abs() < 1e-6, "n={n}: {a} vs {b}");
        }
    }

    #[test]
    fn ppm_zero_bypasses_the_resampler_exactly() {
        // The block at ppm = 0 is exactly filter, loss and noise, sample by
        // sample, with no look-ahead.
        let x = sine(1234.0, 0.3, 5000);
        let shape = LoopShape::preset("medium").unwrap();
        let p = [
            ("loop", Value::from("medium")),
            ("loss", Value::Float(3.0)),
            ("noise", Value::Float(-40.0)),
            ("seed", Value::Int(4)),
        ];
        let y = through(&p, &x, &[333], 100);
        let mut f = LoopFilter::new(&shape).unwrap();
        let mut clean = vec![0.0f32; x.len()];
        f.process(&x, &mut clean);
        let g = 10f64.powf(-(6.0 + 3.0) / 20.0) as f32;
        for v in &mut clean {
            *v *= g;
        }
        let mut want = vec![0.0f32; x.len()];
        Awgn::new(-40.0, 4).process(&clean, &mut want);
        assert_eq!(y, want);
        let k = AnalogLoop::new(shape, 0.0, -40.0, 0.0, 1).unwrap();
        assert_eq!(k.lookahead(), 0);
        let k = AnalogLoop::new(shape, 0.0, -40.0, 1.0, 1).unwrap();
        assert_eq!(k.lookahead(), INTERP_TAPS / 2);
    }

    #[test]
    fn relative_noise_follows_the_signal() {
        // A −20 dBm0 tone through `long` (12 dB of loss): noise 30 dB below
        // what arrives, whatever the loss.
        let n = 80_000;
        let tone: Vec<f32> = (0..n)
            .map(|i| {
                (crate::core::level::dbm0_to_peak_f32(-20.0)
                    * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 8000.0).sin())
                    as f32
            })
            .collect();
        let quiet = [
            ("loop", Value::from("long")),
            ("noise", Value::Float(QUIET)),
        ];
        let clean = whole(&quiet, &tone);
        let mut noisy_p = quiet.to_vec();
        noisy_p.push(("snr", Value::Float(30.0)));
        let noisy = whole(&noisy_p, &tone);
        let p = |x: &[f32]| {
            x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64
        };
        let diff: Vec<f32> = noisy.iter().zip(&clean).map(|(a, b)| a - b).collect();
        let snr = 10.0 * (p(&clean[4000..]) / p(&diff[4000..])).log10();
        assert!((snr - 30.0).abs() < 0.3, "{snr}");
    }

    #[test]
    fn noise_has_its_level_whatever_the_loop() {
        let silence = vec![0.0f32; 3 * 8000];
        for (noise, name, ppm) in [
            (-90.0, "mild", 0.0),
            (-60.0, "long", 0.0),
            (-20.0, "medium", 300.0),
            (0.0, "none", -50.0),
        ] {
            let p = [
                ("loop", Value::from(name)),
                ("noise", Value::Float(noise)),
                ("ppm", Value::Float(ppm)),
                ("seed", Value::Int(3)),
            ];
            let got = level_dbm0(&whole(&p, &silence));
            println!("noise {noise} dBm0 ({name}, {ppm} ppm): measured {got:.3} dBm0");
            assert!((got - noise).abs() < 0.3, "{noise}: {got}");
        }
        // The default is −90 dBm0, and the seed changes the draw.
        let a = whole(&[], &silence);
        assert!((level_dbm0(&a) + 90.0).abs() < 0.3);
        assert_ne!(a, whole(&[("seed", Value::Int(2))], &silence));
        assert_eq!(a, whole(&[], &silence));
    }

    #[test]
    fn clock_offset_shifts_frequency_and_output_count() {
        let seconds = 40;
        let n = seconds * 8000;
        let x = sine(1000.0, 0.5, n);
        for ppm in [100.0, -250.0] {
            let r = 1.0 + ppm * 1e-6;
            let p = [
                ("loop", Value::from("none")),
                ("noise", Value::Float(QUIET)),
                ("ppm", Value::Float(ppm)),
            ];
            let y = through(&p, &x, &[4096], 4096);
            let count = (n as f64 * r).ceil() as usize;
            assert_eq!(y.len(), count, "{ppm} ppm");
            // Phase against a 1000 Hz reference, per 0.1 s block of output,
            // unwrapped; its slope is the frequency offset per output sample.
            let blk = 800;
            let mut phases = Vec::new();
            let mut last = 0.0;
            // Skip the end, where the input ran out.
            for (b, chunk) in y[..count - 100].chunks_exact(blk).enumerate() {
                let (mut i, mut q) = (0.0, 0.0);
                for (j, &v) in chunk.iter().enumerate() {
                    let ph = 2.0 * PI * 1000.0 * (b * blk + j) as f64 / SAMPLE_RATE;
                    i += f64::from(v) * ph.sin();
                    q += f64::from(v) * ph.cos();
                }
                let mut ph = q.atan2(i);
                while ph - last > PI {
                    ph -= 2.0 * PI;
                }
                while ph - last < -PI {
                    ph += 2.0 * PI;
                }
                last = ph;
                phases.push(((b * blk) as f64 + (blk as f64 - 1.0) / 2.0, ph));
            }
            let m = phases.len() as f64;
            let (sx, sy) = phases
                .iter()
                .fold((0.0, 0.0), |(a, b), &(t, p)| (a + t, b + p));
            let (mx, my) = (sx / m, sy / m);
            let (num, den) = phases.iter().fold((0.0, 0.0), |(a, b), &(t, p)| {
                (a + (t - mx) * (p - my), b + (t - mx) * (t - mx))
            });
            let hz = 1000.0 + num / den * SAMPLE_RATE / (2.0 * PI);
            println!(
                "{ppm} ppm: {hz:.6} Hz per output sample (1000/r = {:.6}, 1000·(1 − ppm·1e-6) \
                 = {:.6}), drift {:.2} turns over {seconds} s",
                1000.0 / r,
                1000.0 * (1.0 - ppm * 1e-6),
                (phases.last().unwrap().1 - phases[0].1) / (2.0 * PI)
            );
            assert!((hz - 1000.0 / r).abs() < 1e-4, "{ppm}: {hz}");
            assert!(
                (hz - 1000.0 * (1.0 - ppm * 1e-6)).abs() < 1e-4,
                "{ppm}: {hz}"
            );
        }
    }

    #[test]
    fn output_count_is_the_outputs_before_the_end_of_the_input() {
        for ppm in [0.0, 1.0, 100.0, -100.0, 1000.0, -1000.0, 333.3] {
            for n in [0usize, 1, 2, 31, 32, 33, 999, 1000, 1001, 12_345] {
                let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.1).sin()).collect();
                let p = [("ppm", Value::Float(ppm)), ("loop", Value::from("long"))];
                let y = through(&p, &x, &[7], 64);
                let want = if ppm == 0.0 {
                    n as u64
                } else {
                    ClockOffset::new(ppm).unwrap().output_count(n as u64)
                };
                assert_eq!(y.len() as u64, want, "{ppm} ppm, {n} in");
                let r = 1.0 + ppm * 1e-6;
                assert_eq!(want, (n as f64 * r).ceil() as u64, "{ppm} ppm, {n} in");
            }
        }
        // The count the kernel promises is the one it delivers, and it says
        // when it is done.
        let mut c = ClockOffset::new(-1000.0).unwrap();
        c.push(&[0.25; 1000]);
        let mut out = Vec::new();
        // Before the end: the outputs whose look-ahead has arrived.
        let ready = (0u64..)
            .take_while(|&k| (k as f64 / 0.999).floor() as usize + INTERP_TAPS / 2 < 1000)
            .count();
        assert_eq!(c.pull(&mut out, usize::MAX), ready);
        assert!(!c.is_done());
        c.end();
        assert_eq!(c.pull(&mut out, usize::MAX), 999 - ready);
        assert!(c.is_done());
        assert_eq!(c.pull(&mut out, usize::MAX), 0);
    }

    /// The exact band-limited interpolation of one period `x` of a periodic
    /// sequence, at times `t` (in samples), from its DFT.
    fn periodic_interpolation(x: &[f32], t: &[f64]) -> Vec<f64> {
        let m = x.len();
        let twiddle: Vec<Complex64> = (0..m)
            .map(|i| Complex64::from_polar(1.0, -2.0 * PI * i as f64 / m as f64))
            .collect();
        let spectrum: Vec<Complex64> = (0..=m / 2)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .map(|(n, &v)| f64::from(v) * twiddle[(k * n) % m])
                    .sum()
            })
            .collect();
        t.iter()
            .map(|&t| {
                let w = Complex64::from_polar(1.0, 2.0 * PI * t / m as f64);
                let mut z = w;
                let mut acc = spectrum[0].re;
                for s in &spectrum[1..m / 2] {
                    acc += 2.0 * (s * z).re;
                    z *= w;
                }
                acc += spectrum[m / 2].re * (PI * t).cos();
                acc / m as f64
            })
            .collect()
    }

    /// Error power of the resampler relative to the signal, in dB, for a
    /// random full-band PCM signal through `shape`, at `ppm`.
    fn interpolation_error_db(shape: &LoopShape, ppm: f64) -> f64 {
        let m = 4096;
        let mut rng = Pcg64::seed_from_u64(11);
        let octets: Vec<u8> = (0..m).map(|_| rng.random()).collect();
        let mut pcm = vec![0.0f32; m];
        LineCodecDac::new(Law::Mu).process(&octets, &mut pcm);
        // The loop's steady-state output for the periodic input: filter
        // eight periods and keep the last.
        let reps = 8;
        let long: Vec<f32> = pcm.iter().cycle().take(reps * m).copied().collect();
        let mut y = vec![0.0f32; long.len()];
        LoopFilter::new(shape).unwrap().process(&long, &mut y);
        let period = &y[(reps - 1) * m..];
        // Resample three periods; compare the outputs that fall in the
        // middle one, far from the edges.
        let three: Vec<f32> = period.iter().cycle().take(3 * m).copied().collect();
        let mut c = ClockOffset::new(ppm).unwrap();
        c.push(&three);
        c.end();
        let mut out = Vec::new();
        c.pull(&mut out, usize::MAX);
        let r = c.ratio();
        let ks: Vec<usize> = (0..out.len())
            .filter(|&k| {
                let t = k as f64 / r;
                t >= m as f64 && t < 2.0 * m as f64
            })
            .collect();
        let t: Vec<f64> = ks.iter().map(|&k| k as f64 / r).collect();
        let ideal = periodic_interpolation(period, &t);
        let (mut e, mut s) = (0.0, 0.0);
        for (&k, &v) in ks.iter().zip(&ideal) {
            e += (f64::from(out[k]) - v).powi(2);
            s += v * v;
        }
        10.0 * (e / s).log10()
    }

    #[test]
    fn interpolation_error_is_small() {
        // (preset, error bound in dB): the figures in the module doc, with
        // a little margin.
        for (name, bound) in [
            ("none", -23.0),
            ("mild", -62.0),
            ("medium", -75.0),
            ("long", -76.0),
        ] {
            let shape = LoopShape::preset(name).unwrap();
            let e: Vec<f64> = [1000.0, -1000.0]
                .iter()
                .map(|&ppm| interpolation_error_db(&shape, ppm))
                .collect();
            println!(
                "interpolation error after {name}: {:.1} dB (+1000 ppm), {:.1} dB (−1000 ppm)",
                e[0], e[1]
            );
            assert!(e.iter().all(|&v| v < bound), "{name}: {e:?}");
        }
    }

    #[test]
    fn interpolator_table_is_exact_enough() {
        // Linear interpolation between phases against the weights computed
        // directly, half-way between phases (where it is worst).
        let t = interp_table();
        let mut worst = 0.0f64;
        for p in [0, 1, 100, 255, 256, 400, INTERP_PHASES - 1] {
            let exact = interp_coefficients((p as f64 + 0.5) / INTERP_PHASES as f64);
            for (i, &e) in exact.iter().enumerate() {
                let lin = (f64::from(t[p][i]) + f64::from(t[p + 1][i])) / 2.0;
                worst = worst.max((lin - e).abs());
            }
        }
        println!("largest coefficient error between phases: {worst:.2e}");
        assert!(worst < 3e-6, "{worst}");
    }

    #[test]
    fn interpolator_is_exact_on_whole_samples_and_at_dc() {
        let t = interp_table();
        assert_eq!(t.len(), INTERP_PHASES + 1);
        let mut unit = [0.0f32; INTERP_TAPS];
        unit[INTERP_TAPS / 2 - 1] = 1.0;
        assert_eq!(t[0], unit);
        for row in t {
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5);
        }
        // Half a sample: symmetric.
        let half = &t[INTERP_PHASES / 2];
        for i in 0..INTERP_TAPS {
            assert!((half[i] - half[INTERP_TAPS - 1 - i]).abs() < 1e-7);
        }
        // DC comes through at any rate.
        let mut c = ClockOffset::new(-700.0).unwrap();
        c.push(&[0.5; 3000]);
        let mut out = Vec::new();
        c.pull(&mut out, usize::MAX);
        // (Past the start, where the silence before the stream reaches in.)
        assert!(out[INTERP_TAPS..].iter().all(|&v| (v - 0.5).abs() < 1e-5));
    }

    #[test]
    fn same_output_whatever_the_chunking() {
        let mut rng = Pcg64::seed_from_u64(9);
        let x: Vec<f32> = (0..20_000).map(|_| rng.random_range(-0.5..0.5)).collect();
        for ppm in [0.0, 100.0, -700.0] {
            let p = [
                ("loop", Value::from("medium")),
                ("noise", Value::Float(-40.0)),
                ("ppm", Value::Float(ppm)),
                ("seed", Value::Int(7)),
            ];
            let want = whole(&p, &x);
            for (sizes, cap) in [
                (&[1][..], 1),
                (&[7], 7),
                (&[333], 64),
                (&[4096], 4096),
                (&[1, 7, 333, 4096], 5),
                (&[4096], 1),
            ] {
                let y = through(&p, &x, sizes, cap);
                assert_eq!(y, want, "{ppm} ppm, {sizes:?}, cap {cap}");
            }
        }
    }

    #[test]
    fn garbage_input_never_panics_and_output_stays_finite() {
        // Garbage and full scale.
        let mut x = crate::testutil::garbage_f32(5000, 7);
        for v in x.iter_mut().step_by(11) {
            *v = 1.0;
        }
        for (name, _) in PRESETS {
            for ppm in [0.0, 1000.0, -1000.0, 0.5] {
                let p = [
                    ("loop", Value::from(name)),
                    ("noise", Value::Float(0.0)),
                    ("ppm", Value::Float(ppm)),
                ];
                for (sizes, cap) in [(&[1][..], 3), (&[333], 4096)] {
                    let y = through(&p, &x, sizes, cap);
                    assert_eq!(y.len() as f64, (x.len() as f64 * (1.0 + ppm * 1e-6)).ceil());
                    assert!(y.iter().all(|v| v.is_finite()), "{name} {ppm}");
                }
            }
        }
        // Non-finite samples count as silence.
        let nan: Vec<f32> = (0..900).map(|i| GARBAGE_F32[i % 3]).collect();
        let p = [("ppm", Value::Float(50.0))];
        assert_eq!(whole(&p, &nan), whole(&p, &[0.0; 900]));
    }

    #[test]
    fn bad_parameters_say_how_to_fix_them() {
        let err = |p: &[(&str, Value)]| build(&spec(), p).err().unwrap_or_default();
        let e = err(&[("loop", Value::from("short"))]);
        assert!(e.contains("`loop`") && e.contains("mild"), "{e}");
        assert!(err(&[("ppm", Value::Float(2000.0))]).contains("`ppm`"));
        assert!(err(&[("noise", Value::Float(5.0))]).contains("`noise`"));
        assert!(err(&[("loss", Value::Float(-1.0))]).contains("`loss`"));
        let e = ClockOffset::new(f64::NAN).unwrap_err();
        assert!(e.contains("`ppm`") && e.contains("1000"), "{e}");
        let bad = |shape: LoopShape| LoopFilter::new(&shape).unwrap_err();
        let mut s = LoopShape::preset("mild").unwrap();
        s.lp_hz = 4000.0;
        assert!(bad(s).contains("`lp_hz`"));
        s.lp_hz = 10.0;
        assert!(bad(s).contains("above `hp_hz`"));
        s.lp_order = 9;
        assert!(bad(s).contains("1 … 8"));
        // The kernel guards its own callers too.
        let mut k = AnalogLoop::new(LoopShape::WIRE, f64::NAN, f64::NAN, 0.0, 1).unwrap();
        k.set_noise(f64::INFINITY);
        k.set_loss(f64::NEG_INFINITY);
        let mut out = Vec::new();
        k.process(&[0.5; 10], &mut out, 100);
        assert!(out.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn live_parameters_change_the_running_loop() {
        let mut b = block(&[
            ("loop", Value::from("none")),
            ("noise", Value::Float(QUIET)),
        ]);
        assert!(b.set_param("ppm", &Value::Float(5.0)).is_err());
        assert!(b.set_param("loop", &Value::from("long")).is_err());
        assert!(b.set_param("seed", &Value::Int(3)).is_err());
        b.set_param("loss", &Value::Float(6.0)).unwrap();
        let x = sine(1000.0, 0.5, 8000);
        let r = run(
            &mut *b,
            Some(ItemType::F32),
            &chunked(&x, &[500]),
            &[ItemType::F32],
            512,
            0,
        )
        .unwrap();
        let y: Vec<f32> = items(&r.outputs[0]);
        let got = 20.0 * (amplitude(&y, 1000.0) / 0.5).log10();
        assert!((got + 6.0).abs() < 0.01, "{got}");
        b.set_param("noise", &Value::Float(-30.0)).unwrap();

        // A change applies from the next output sample on.
        let shape = LoopShape::preset("mild").unwrap();
        let mut k = AnalogLoop::new(shape, 0.0, QUIET, 200.0, 1).unwrap();
        let x = sine(1000.0, 0.5, 16_000);
        let mut out = Vec::new();
        let used = k.process(&x[..8000], &mut out, 8000);
        let before = out.len();
        k.set_loss(10.0);
        k.process(&x[used..], &mut out, 1 << 20);
        k.finish(&mut out, 1 << 20);
        let a = amplitude(&out[4000..before], 1000.0);
        let b = amplitude(&out[before + 8..before + 4008], 1000.0);
        assert!((20.0 * (b / a).log10() + 10.0).abs() < 0.05);
        k.set_noise(-20.0);
        let mut n = Vec::new();
        k.process(&[], &mut n, 100);
        assert!(n.is_empty());
    }

    #[test]
    fn spec_has_the_documented_parameters() {
        let s = spec();
        for (name, default, range, unit, live) in [
            ("loss", 0.0, (0.0, 60.0), "dB", true),
            ("noise", -90.0, (-150.0, 0.0), "dBm0", true),
            ("ppm", 0.0, (-1000.0, 1000.0), "ppm", false),
            ("snr", 150.0, (-20.0, 200.0), "dB", false),
        ] {
            let p = s.param_spec(name).unwrap();
            assert_eq!(p.default, Some(Value::Float(default)), "{name}");
            assert_eq!(p.range, Some(range), "{name}");
            assert_eq!(p.unit, unit, "{name}");
            assert_eq!(p.live, live, "{name}");
        }
        let l = s.param_spec("loop").unwrap();
        assert_eq!(l.default, Some(Value::from("mild")));
        assert_eq!(
            l.kind,
            modemflow_flow::ParamKind::Choice(vec!["none", "mild", "medium", "long"])
        );
        assert!(!l.live && !s.param_spec("seed").unwrap().live);
        assert_eq!(s.params.len(), 6);
        assert_eq!(s.outputs[0].rate, Rate::Varies);
        assert!(!s.delays);
    }

    #[test]
    fn runs_in_a_flowgraph_with_the_other_channel_blocks() {
        let yaml = "\
blocks:
  - {id: src, type: tone_source, params: {frequency: 1000, level: -10}}
  - {id: conv, type: f32_to_i16}
  - {id: enc, type: g711_encode}
  - {id: net, type: digital_network, params: {pad: 3, rbs: '5'}}
  - {id: dac, type: line_codec_dac}
  - {id: lp, type: analog_loop, params: {loop: medium, ppm: 50}}
  - {id: limit, type: head, params: {count: 4000}}
  - {id: sink, type: null_sink}
connections:
  - src.out -> conv.in
  - conv.out -> enc.in
  - enc.out -> net.in
  - net.out -> dac.in
  - dac.out -> lp.in
  - lp.out -> limit.in
  - limit.out -> sink.in
";
        crate::testutil::run_on_both_schedulers(yaml);
    }
}
