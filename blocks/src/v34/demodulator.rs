//! The V.34 QAM demodulator (`qam_demodulator`; modem-standards.md §4.12,
//! §6.1): line samples in, soft channel points for the Viterbi decoder out.
//!
//! * **Front end.** The line is mixed down by the nominal carrier (an exact
//!   integer phase, as in the modulator) and matched-filtered by the same
//!   root-raised-cosine pulse, evaluated at any instant from a table of 256
//!   phases per sample: the receiver picks its own sampling instants, two
//!   per symbol (T/2), on its estimate of the far clock.
//! * **Acquisition.** Energy above −48 dBm0 starts a search. The training
//!   (`v34_train`: S, S̄, PP, TRN, all known) is found by normalised
//!   correlation with S̄, PP and the start of TRN; nothing that correlates
//!   (silence, noise, a V.21 signal, a cut-off recording) is taken for V.34.
//! * **Training.** Least-squares equalizers solved on a stretch at each end
//!   of the training give, by how far their taps' centre of energy and their
//!   phase moved, the clock ratio of the two modems and the carrier offset.
//!   The training is resampled with both corrected and the equalizer solved
//!   over all of it; its error gives the SNR and, with `precoding`, the
//!   noise predictor h(1…3) of §9.6.2 (Levinson–Durbin), which goes out on
//!   `h` for the far transmitter's precoder.
//! * **Data.** Decision-directed: each output r is turned back by the
//!   carrier phase, scaled to lattice units (the mode's average energy, as
//!   `v34_train` scaled it), whitened by 1 + h(D) into z ≈ y(n) for the
//!   Viterbi decoder; the nearest lattice point ŷ gives x̂ = ŷ − p̂ (the
//!   precoder's arithmetic), whose error against r drives an NLMS update, a
//!   second-order carrier loop and, through the taps' centre of energy, a
//!   second-order timing loop.
//! * **End.** The modulator ends with silence; symbols that are silent at
//!   the end of the input are not data and are not passed on.

use super::constellation::{average_energy, nearest_odd};
use super::equalizer::{noise_predictor, Equalizer, SplitEqualizer};
use super::modulator::{carrier_param, pulse, rolloff_param};
use super::nonlinear::{theta_arg, theta_param, Nonlinear};
use super::params::{check_mode, mode_arg, mode_params};
use super::precoder::{Coefficients, Precoder, X_LIMIT_POINTS};
use super::rates::{reduce, Mode};
use super::scrambler::Polynomial;
use super::training::{layout_arg, layout_params, preamble, Layout, S_LEN};
use crate::core::fir::dot;
use crate::core::level::{dbm0_to_rms_f32, hundredths};
#[cfg(target_arch = "x86_64")]
use crate::core::simd::dot2_avx;
use crate::core::simd::{dot2, has_avx};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, ParamSpec, PortSpec, Rate, Registry, Status,
    Value, WorkIo,
};
use num_complex::{Complex32, Complex64};
use serde_json::json;
use std::collections::BTreeMap;
use std::f64::consts::PI;

/// Half-span of the receive matched filter, in symbols.
const RX_SPAN: usize = 6;
/// Phases per sample of the matched filter's table (a power of two).
const PHASE_BITS: u32 = 8;
const PHASES: usize = 1 << PHASE_BITS;
/// Energy windows for finding a signal: 10 ms.
const WINDOW: usize = 80;
/// A signal below this is not looked at (V.34's receivers work to about −43 dBm0).
const ONSET_DBM0: f64 = -48.0;
/// Normalised correlation with the training above which it is taken as found:
/// a V.34 training gives 0.9 and more on any line it can work on; noise or
/// another signal, about 1/√560 ≈ 0.04.
const FOUND: f64 = 0.45;
/// Symbols of TRN in the template that finds the training.
const TEMPLATE_TRN: usize = 256;
/// Symbols of each stretch whose equalizers measure the clocks.
const STRETCH: usize = 512;
/// The last TRN symbols, which training does not wait for: they cover the
/// pulse filters' and the line's delays, so that the transmitter can hold
/// its data back until this receiver has trained and answered (its noise
/// predictor on `h`) without the two waiting for each other.
pub const UNUSED_TRN: usize = 160;
/// Symbols before the preamble's end that must have arrived before
/// training: what the last training symbol's filters reach plus the
/// uncertainty of where the signal started.
const NEED_BEFORE_END: f64 = 40.0;
/// Below this SNR after training the line is not usable.
const MIN_SNR_DB: f64 = 6.0;
/// The carrier loop's gains: proportional and integral, per symbol.
const PHASE_GAIN: f64 = 0.02;
const FREQ_GAIN: f64 = 4e-5;
/// The timing loop, per symbol, on the timing error Re(s̄·e)/|s|² (in T/2
/// samples; s the output's slope): proportional and integral gains, a time
/// constant of about 100 symbols, fast against the equalizer's own (N/μ
/// symbols) so that the sampling, not the taps, follows the far clock.
/// Every symbol's estimate counts: taking every fourth with four times the
/// gains quadruples the timing jitter, which cost 33 600 bit/s 2 dB.
const TIMING_PHASE_GAIN: f64 = 0.01;
const TIMING_RATE_GAIN: f64 = 2.5e-5;
/// A timing error estimate is believed only this far (T/2 samples).
const TIMING_CLAMP: f64 = 0.2;
/// Symbols between refreshes of the slope filter from the taps, and the
/// gain by which the taps' centre of energy is kept where training put it
/// (so that sampling and taps cannot walk away together).
const SLOPE_EVERY: u64 = 32;
const CENTRE_GAIN: f64 = 0.002;
/// A frame is silence when its mean |r|² is below the geometric mean of
/// the decision error's power and 2, the least |u|² of any data point: far
/// from both, whatever the SNR the link works at.
const DATA_FLOOR: f64 = 2.0;
/// Mapping frames (8 symbols) always held back before they are passed on:
/// V.34 sends whole frames, so the data ends on a frame boundary, and a
/// frame is judged silent or not as a whole.
const HOLD: usize = 2;
/// Symbols between `taps` records on the optional output.
const TAPS_EVERY: u64 = 4096;

/// What the demodulator is set up for.
#[derive(Clone, Debug)]
pub struct Config {
    pub mode: Mode,
    pub high: bool,
    pub rolloff: f64,
    pub layout: Layout,
    pub poly: Polynomial,
    pub taps: usize,
    pub mu: f32,
    pub precoding: bool,
    pub theta: f64,
}

/// ⌊t⌋ without a library call.
#[inline]
fn floor_i64(t: f64) -> i64 {
    let i = t as i64;
    if (i as f64) > t {
        i - 1
    } else {
        i
    }
}

fn c64(v: Complex32) -> Complex64 {
    Complex64::new(f64::from(v.re), f64::from(v.im))
}

/// Mixed and matched-filtered line samples at any instant.
struct FrontEnd {
    half: usize,
    /// (PHASES + 1) rows of 2·half taps.
    table: Vec<f32>,
    /// e^{−jωn} for n = 0 … len − 1, real and imaginary apart: the carrier
    /// repeats after cq samples (ω = 2π·cp/cq), and len is a multiple of cq,
    /// so that mixing is long runs of element-wise products.
    carrier_re: Vec<f32>,
    carrier_im: Vec<f32>,
    /// Mixed samples from global index `base` on, real and imaginary apart.
    bbr: Vec<f32>,
    bbi: Vec<f32>,
    base: i64,
    /// Input samples received, and the carrier's index for the next.
    received: u64,
    ci: usize,
}

/// The shortest carrier table: runs of at least this many samples.
const CARRIER_RUN: usize = 512;

impl FrontEnd {
    fn new(cfg: &Config) -> FrontEnd {
        let s = cfg.mode.symbol_rate;
        let sps = 8000.0 / s.hz();
        // A multiple of 4, so that each dot product is whole runs of 8.
        let half = ((RX_SPAN as f64 * sps).ceil() as usize).next_multiple_of(4);
        let w = 2 * half;
        let mut table = vec![0f32; (PHASES + 1) * w];
        for p in 0..=PHASES {
            let mu = p as f64 / PHASES as f64;
            for j in 0..w {
                let tau = (mu + half as f64 - 1.0 - j as f64) / sps;
                // The same pulse as the transmitter's, but only ±RX_SPAN symbols:
                // the equalizer takes up what the shorter window leaves.
                let g = if tau.abs() < RX_SPAN as f64 {
                    pulse(tau, cfg.rolloff)
                } else {
                    0.0
                };
                table[p * w + j] = (g / sps.sqrt()) as f32;
            }
        }
        let (d, e) = if cfg.high { s.high } else { s.low };
        let (u, v) = reduce(3 * s.a, 10 * s.c);
        let (cp, cq) = reduce(d * u, e * v);
        let (cp, cq) = (u64::from(cp), u64::from(cq.max(1)));
        let len = CARRIER_RUN.next_multiple_of(cq as usize);
        // The phase index of sample n is n·cp mod cq.
        let angle = |n: usize| -2.0 * PI * ((n as u64 * cp) % cq) as f64 / cq as f64;
        FrontEnd {
            half,
            table,
            carrier_re: (0..len).map(|n| angle(n).cos() as f32).collect(),
            carrier_im: (0..len).map(|n| angle(n).sin() as f32).collect(),
            bbr: Vec::new(),
            bbi: Vec::new(),
            base: 0,
            received: 0,
            ci: 0,
        }
    }

    fn push(&mut self, x: &[f32]) {
        let mut start = self.bbr.len();
        self.bbr.resize(start + x.len(), 0.0);
        self.bbi.resize(start + x.len(), 0.0);
        let mut rest = x;
        while !rest.is_empty() {
            let run = rest.len().min(self.carrier_re.len() - self.ci);
            let (cr, ci) = (
                &self.carrier_re[self.ci..self.ci + run],
                &self.carrier_im[self.ci..self.ci + run],
            );
            let (r, i) = (
                &mut self.bbr[start..start + run],
                &mut self.bbi[start..start + run],
            );
            for n in 0..run {
                let v = if rest[n].is_finite() {
                    rest[n].clamp(-8.0, 8.0)
                } else {
                    0.0
                };
                r[n] = cr[n] * v;
                i[n] = ci[n] * v;
            }
            rest = &rest[run..];
            start += run;
            self.ci = (self.ci + run) % self.carrier_re.len();
        }
        self.received += x.len() as u64;
    }

    /// One past the last sample held.
    fn end(&self) -> i64 {
        self.base + self.bbr.len() as i64
    }

    /// Instant `t` (samples) to the nearest table phase, in units of
    /// 1/PHASES sample: sample index tq >> PHASE_BITS, phase tq & (PHASES − 1).
    #[inline]
    fn quantise(t: f64) -> i64 {
        floor_i64(t * PHASES as f64 + 0.5)
    }

    /// Whether the value at quantised instant `tq` can be computed from
    /// what is held.
    #[inline]
    fn ready(&self, tq: i64) -> bool {
        (tq >> PHASE_BITS) + (self.half as i64) < self.end()
    }

    /// The matched filter's output at instant `t` (samples); zeros stand
    /// for what is not held.
    fn at(&self, t: f64) -> Complex32 {
        self.at_quantised(FrontEnd::quantise(t), &dot2)
    }

    /// T/2 samples k = `from` … `to` at the instants `grid` gives them, onto
    /// (xr, xi), while the input holds what they need; returns the first k
    /// not made. With AVX the whole loop is compiled for it, so that each
    /// sample's dot product is inlined rather than called.
    fn fill(&self, grid: &Grid, from: i64, to: i64, xr: &mut Vec<f32>, xi: &mut Vec<f32>) -> i64 {
        #[cfg(target_arch = "x86_64")]
        if has_avx() {
            // SAFETY: AVX is present (checked above).
            return unsafe { self.fill_avx(grid, from, to, xr, xi) };
        }
        self.fill_with(grid, (from, to), (xr, xi), dot2)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn fill_avx(
        &self,
        grid: &Grid,
        from: i64,
        to: i64,
        xr: &mut Vec<f32>,
        xi: &mut Vec<f32>,
    ) -> i64 {
        self.fill_with(grid, (from, to), (xr, xi), |a, b, c| dot2_avx(a, b, c))
    }

    #[inline(always)]
    fn fill_with(
        &self,
        grid: &Grid,
        (from, to): (i64, i64),
        (xr, xi): (&mut Vec<f32>, &mut Vec<f32>),
        dot: impl Fn(&[f32], &[f32], &[f32]) -> (f32, f32),
    ) -> i64 {
        let mut k = from;
        while k <= to {
            let tq = FrontEnd::quantise(grid.t(k));
            if !self.ready(tq) {
                break;
            }
            let v = self.at_quantised(tq, &dot);
            xr.push(v.re);
            xi.push(v.im);
            k += 1;
        }
        k
    }

    /// The same at quantised instant `tq` ([`FrontEnd::quantise`]), with
    /// `dot` for the dot products.
    #[inline(always)]
    fn at_quantised(
        &self,
        tq: i64,
        dot: &impl Fn(&[f32], &[f32], &[f32]) -> (f32, f32),
    ) -> Complex32 {
        let n = tq >> PHASE_BITS;
        let p = (tq & (PHASES as i64 - 1)) as usize;
        let w = 2 * self.half;
        let first = n - self.half as i64 + 1 - self.base;
        let taps = &self.table[p * w..(p + 1) * w];
        if first >= 0 && first as usize + w <= self.bbr.len() {
            let f = first as usize;
            let (re, im) = dot(&self.bbr[f..f + w], &self.bbi[f..f + w], taps);
            return Complex32::new(re, im);
        }
        let mut acc = Complex32::new(0.0, 0.0);
        for (j, &g) in taps.iter().enumerate() {
            let i = first + j as i64;
            if i >= 0 && (i as usize) < self.bbr.len() {
                acc += Complex32::new(self.bbr[i as usize], self.bbi[i as usize]) * g;
            }
        }
        acc
    }

    /// Forgets samples before global index `keep`.
    fn forget_before(&mut self, keep: i64) {
        let drop = keep - self.base;
        if drop > 8192 && drop as usize <= self.bbr.len() {
            self.bbr.drain(..drop as usize);
            self.bbi.drain(..drop as usize);
            self.base = keep;
        }
    }
}

/// The receiver's timing: T/2 sample k is taken at t0 + (k − k0)·step.
#[derive(Clone, Copy, Debug)]
struct Grid {
    t0: f64,
    k0: i64,
    step: f64,
}

impl Grid {
    fn t(&self, k: i64) -> f64 {
        self.t0 + (k - self.k0) as f64 * self.step
    }
}

/// Why no data came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Silence,
    NotFound,
    Poor,
    Cut,
}

impl Failure {
    fn text(self) -> &'static str {
        match self {
            Failure::Silence => "nothing above −48 dBm0: the line was silent",
            Failure::NotFound => "a signal, but no V.34 training sequence in it",
            Failure::Poor => "a V.34 training, but too noisy to train on (SNR below 6 dB)",
            Failure::Cut => "the input ended before the training did",
        }
    }
}

/// Data-mode state.
struct Data {
    grid: Grid,
    /// T/2 samples from index `xs_base` on, real and imaginary parts apart.
    xr: Vec<f32>,
    xi: Vec<f32>,
    xs_base: i64,
    /// T/2 index of the next symbol's own sample.
    k_next: i64,
    eq: SplitEqualizer,
    /// The taps as training left them.
    trained: SplitEqualizer,
    /// The input window's mean power (for the normalised LMS step).
    window_power: f32,
    /// e^{−jφ}, the carrier phase taken out of each output, and φ's step per symbol.
    rot: Complex64,
    freq: f64,
    h: [Complex32; 3],
    /// r(n−1 … n−3) for the whitening filter (zero before the data).
    past: [Complex32; 3],
    pre: Precoder,
    nl: Nonlinear,
    centroid_ref: f64,
    /// The slope filter: s = Σ slope_i·x_i = (y(k+1) − y(k−1))/2.
    slope: SplitEqualizer,
    /// The previous symbol's equalizer error (its window is two T/2
    /// samples back), timing correction (phase, centre) and carrier phase
    /// error, applied one symbol late: so the next symbol's output, samples
    /// and phase need not wait for this symbol's decision, and consecutive
    /// symbols overlap in the processor. One symbol against the loops' time
    /// constants (the equalizer's N/μ, the timing's 100, the carrier's 1/gain)
    /// changes nothing measurable. (The error is 0 before the first symbol:
    /// a step of nothing.)
    late_error: Complex32,
    late_timing: Option<(f64, f64)>,
    late_phase: f64,
    symbols: u64,
    err_sum: f64,
    sig_sum: f64,
    /// The newest symbols (soft point, error, |r|²), held back: at least
    /// [`HOLD`] mapping frames, and every frame of a silence at the end (it
    /// may be the end of the transmission).
    held: std::collections::VecDeque<(Complex32, f32, f32, f32)>,
    /// Whole frames in `held` that were silent, counted back from its last.
    silent_frames: usize,
    /// Symbols passed on so far (whole mapping frames).
    released: u64,
    /// The mean decision error power over the frames passed on.
    data_error: f64,
}

impl Data {
    /// Whether the frame of `held` from `start` is silence.
    fn frame_is_silent(&self, start: usize) -> bool {
        let mean = (start..start + 8)
            .map(|i| f64::from(self.held[i].2))
            .sum::<f64>()
            / 8.0;
        mean < (self.data_error.max(1e-6) * DATA_FLOOR).sqrt()
    }

    /// Passes on the oldest `n` held symbols.
    fn release(&mut self, n: usize, out: &mut Vec<Complex32>, mut err: Option<&mut Vec<f32>>) {
        for _ in 0..n {
            let Some((z, e, _, sig)) = self.held.pop_front() else {
                break;
            };
            out.push(z);
            self.released += 1;
            self.err_sum += f64::from(e * e);
            self.sig_sum += f64::from(sig);
            // The error over data only: silence's decisions mean nothing.
            self.data_error += (f64::from(e * e) - self.data_error) / 1024.0;
            if let Some(v) = err.as_deref_mut() {
                v.push(e);
            }
        }
    }
}

enum State {
    Hunt,
    Collect { onset: i64 },
    Data(Box<Data>),
}

/// The demodulator kernel.
pub struct Demodulator {
    cfg: Config,
    fe: FrontEnd,
    state: State,
    preamble: Vec<Complex32>,
    sps: f64,
    /// Lattice units per equalizer output unit: √E of the mode.
    lattice: f32,
    /// Input samples examined for energy.
    scanned: i64,
    onset_power: f64,
    worst: Option<Failure>,
    attempts: u32,
    ended: bool,
    /// The noise predictor, once trained (for the `h` output).
    pub coefficients: Option<Coefficients>,
}

/// What one call produced besides symbols.
#[derive(Debug, Default)]
pub struct Report {
    pub training: Option<serde_json::Value>,
    pub no_signal: Option<serde_json::Value>,
    pub end: Option<serde_json::Value>,
}

impl Demodulator {
    pub fn new(cfg: Config) -> Demodulator {
        let fe = FrontEnd::new(&cfg);
        let preamble = preamble(cfg.layout, cfg.poly);
        let sps = 8000.0 / cfg.mode.symbol_rate.hz();
        let lattice = average_energy(&cfg.mode).sqrt() as f32;
        let r = dbm0_to_rms_f32(ONSET_DBM0);
        Demodulator {
            cfg,
            fe,
            state: State::Hunt,
            preamble,
            sps,
            lattice,
            scanned: 0,
            onset_power: r * r,
            worst: None,
            attempts: 0,
            ended: false,
            coefficients: None,
        }
    }

    /// Lookahead of the equalizer past a symbol's own T/2 sample.
    fn ahead(&self) -> i64 {
        (self.cfg.taps * 3 / 8) as i64
    }

    fn fail(&mut self, f: Failure) {
        self.worst = Some(match self.worst {
            // The most telling reason wins: a training seen beats none.
            Some(w) if (w as u8) > (f as u8) => w,
            _ => f,
        });
    }

    /// Feeds line samples; soft points go to `out` (and their error
    /// magnitudes to `err` when asked).
    pub fn process(
        &mut self,
        x: &[f32],
        out: &mut Vec<Complex32>,
        mut err: Option<&mut Vec<f32>>,
        report: &mut Report,
    ) {
        self.fe.push(x);
        loop {
            match &mut self.state {
                State::Hunt => {
                    if !self.hunt() {
                        return;
                    }
                }
                State::Collect { onset } => {
                    let onset = *onset;
                    let need =
                        onset as f64 + (self.preamble.len() as f64 - NEED_BEFORE_END) * self.sps;
                    if (self.fe.end() as f64) < need {
                        return;
                    }
                    self.attempts += 1;
                    match self.train(onset) {
                        Ok((data, event)) => {
                            report.training = Some(event);
                            self.state = State::Data(data);
                        }
                        Err(f) => {
                            self.fail(f);
                            // Look again after this stretch.
                            self.scanned = onset + (S_LEN as f64 * self.sps) as i64;
                            self.state = State::Hunt;
                        }
                    }
                }
                State::Data(_) => {
                    self.run_data(out, err.as_deref_mut());
                    return;
                }
            }
        }
    }

    /// Looks for energy; true when a signal starts (state moves to Collect).
    fn hunt(&mut self) -> bool {
        let end = self.fe.end();
        while self.scanned + WINDOW as i64 <= end {
            let s = (self.scanned - self.fe.base).max(0) as usize;
            let p = (dot(&self.fe.bbr[s..s + WINDOW], &self.fe.bbr[s..s + WINDOW])
                + dot(&self.fe.bbi[s..s + WINDOW], &self.fe.bbi[s..s + WINDOW]))
                as f64
                / WINDOW as f64;
            // |mixed|² is the line's power.
            if p > self.onset_power {
                let onset = self.scanned - WINDOW as i64;
                self.state = State::Collect { onset };
                return true;
            }
            self.scanned += WINDOW as i64;
            self.fe.forget_before(self.scanned - 2 * WINDOW as i64 - 64);
        }
        false
    }

    /// Finds the training from `onset`, learns the line, and sets up data mode.
    fn train(&mut self, onset: i64) -> Result<(Box<Data>, serde_json::Value), Failure> {
        let half_step = self.sps / 2.0;
        let lead = 16.0;
        let grid = Grid {
            t0: onset as f64 - lead * self.sps,
            k0: 0,
            step: half_step,
        };
        let total = 2 * (self.preamble.len() + 64 + self.cfg.taps) + 2 * lead as usize;
        let xs: Vec<Complex32> = (0..total as i64).map(|k| self.fe.at(grid.t(k))).collect();
        let p = xs.iter().map(|c| f64::from(c.norm_sqr())).sum::<f64>() / xs.len() as f64;
        if p.is_nan() || p <= 0.0 {
            return Err(Failure::NotFound);
        }
        let norm = (1.0 / p.sqrt()) as f32;
        // Where preamble symbol S_LEN (S̄'s first) lands, in T/2 samples.
        let tpl_end = (self.cfg.layout.trn_start() + TEMPLATE_TRN).min(self.preamble.len());
        let tpl = &self.preamble[S_LEN..tpl_end];
        let tpl_e: f64 = tpl.iter().map(|c| f64::from(c.norm_sqr())).sum();
        let search = 2 * (lead as usize + S_LEN + 3 * WINDOW / self.sps.ceil() as usize + 64);
        let mut best = (0.0, 0usize, Complex64::new(0.0, 0.0));
        for d in 0..search {
            if d + 2 * (tpl.len() - 1) >= xs.len() {
                break;
            }
            let mut c = Complex64::new(0.0, 0.0);
            let mut e = 0.0;
            for (i, t) in tpl.iter().enumerate() {
                let v = xs[d + 2 * i];
                c += Complex64::new(f64::from(v.re), f64::from(v.im))
                    * Complex64::new(f64::from(t.re), -f64::from(t.im));
                e += f64::from(v.norm_sqr());
            }
            let rho = c.norm() / (e * tpl_e).sqrt().max(1e-30);
            if rho > best.0 {
                best = (rho, d, c);
            }
        }
        if best.0 < FOUND {
            return Err(Failure::NotFound);
        }
        // Symbol n of the preamble is at T/2 sample k(n) = d + 2(n − S_LEN).
        let d0 = best.1 as i64 - 2 * S_LEN as i64;
        let layout = self.cfg.layout;
        let n_taps = self.cfg.taps;
        let ahead = self.ahead();
        let pre = &self.preamble;
        let window_of = |xs: &[Complex32], k: i64| -> Option<Vec<Complex32>> {
            let first = k + ahead - n_taps as i64 + 1;
            if first < 0 || (k + ahead) as usize >= xs.len() {
                return None;
            }
            Some(
                xs[first as usize..=(k + ahead) as usize]
                    .iter()
                    .map(|v| v * norm)
                    .collect(),
            )
        };
        let solve = |xs: &[Complex32], from: usize, to: usize| {
            Equalizer::solve(n_taps, to - from, |i| {
                let n = from + i;
                window_of(xs, d0 + 2 * n as i64).map(|w| (w, pre[n]))
            })
        };
        let a0 = layout.trn_start();
        let b1 = pre.len() - UNUSED_TRN;
        let a1 = (a0 + STRETCH).min(b1);
        let b0 = b1.saturating_sub(STRETCH).max(a0);
        let (ca, cb) = ((a0 + a1) as f64 / 2.0, (b0 + b1) as f64 / 2.0);
        let ka = d0 + 2 * ca.round() as i64;
        // How late (in T/2 samples) stretch B's symbols are, by the
        // equalizer solved on A, and the phase it leaves there: with the
        // output's slope s = (y(k+1) − y(k−1))/2, a symbol late by δ leaves
        // the error e ≈ −δ·s, so δ = −Re Σ s̄e / Σ|s|².
        let late = |xs: &[Complex32], wa: &Equalizer| -> (f64, Complex64) {
            let (mut c, mut num, mut den) = (Complex64::new(0.0, 0.0), 0.0, 0.0);
            let mut outs = Vec::with_capacity(b1 - b0);
            for (n, &d) in pre.iter().enumerate().take(b1).skip(b0) {
                let k = d0 + 2 * n as i64;
                if let (Some(w0), Some(wp), Some(wm)) =
                    (window_of(xs, k), window_of(xs, k + 1), window_of(xs, k - 1))
                {
                    let y = wa.output(&w0);
                    let sl = (wa.output(&wp) - wa.output(&wm)) * 0.5;
                    c += c64(y) * c64(d).conj();
                    outs.push((y, sl, d));
                }
            }
            let turn = Complex64::from_polar(1.0, -c.arg());
            for (y, sl, d) in outs {
                let e = c64(y) * turn - c64(d);
                let sl = c64(sl) * turn;
                num += (sl.conj() * e).re;
                den += sl.norm_sqr();
            }
            (if den > 0.0 { -num / den } else { 0.0 }, c)
        };
        // Two rounds: measure, resample with the corrected clock ratio
        // (anchored at A's centre), measure what is left.
        let mut grid = grid;
        let mut xs = xs;
        let mut c = Complex64::new(0.0, 0.0);
        let mut wa = None;
        for _ in 0..3 {
            let Some(w) = solve(&xs, a0, a1) else {
                return Err(Failure::Poor);
            };
            let (delta, phase) = late(&xs, &w);
            c = phase;
            wa = Some(w);
            if cb <= ca || delta.abs() < 1e-4 {
                break;
            }
            let t_a = grid.t(ka);
            grid = Grid {
                t0: t_a,
                k0: ka,
                step: grid.step * (1.0 + delta / (2.0 * (cb - ca))),
            };
            xs = (0..total as i64).map(|k| self.fe.at(grid.t(k))).collect();
        }
        let Some(wa) = wa else {
            return Err(Failure::Poor);
        };
        let _ = wa;
        let omega = if cb > ca { c.arg() / (cb - ca) } else { 0.0 };
        // Derotate by the offset (phase 0 at A's centre) and solve over all.
        let rot = |k: i64| {
            let a = -omega * (k - ka) as f64 / 2.0;
            Complex32::new(a.cos() as f32, a.sin() as f32)
        };
        let xs: Vec<Complex32> = xs
            .iter()
            .enumerate()
            .map(|(k, v)| v * rot(k as i64))
            .collect();
        let Some(mut eq) = solve(&xs, a0, b1) else {
            return Err(Failure::Poor);
        };
        // Training error: SNR, and the noise predictor.
        let mut r = [Complex64::new(0.0, 0.0); 4];
        let mut errs: Vec<Complex64> = Vec::with_capacity(b1 - a0);
        let (mut e_sum, mut s_sum, mut w_sum) = (0.0, 0.0, 0.0);
        for (n, &d) in pre.iter().enumerate().take(b1).skip(a0) {
            if let Some(w) = window_of(&xs, d0 + 2 * n as i64) {
                let e = eq.output(&w) - d;
                e_sum += f64::from(e.norm_sqr());
                s_sum += f64::from(d.norm_sqr());
                w_sum += w.iter().map(|v| f64::from(v.norm_sqr())).sum::<f64>();
                errs.push(Complex64::new(f64::from(e.re), f64::from(e.im)));
            }
        }
        for (k, rk) in r.iter_mut().enumerate() {
            for i in k..errs.len() {
                *rk += errs[i] * errs[i - k].conj();
            }
            *rk /= errs.len().max(1) as f64;
        }
        let count = errs.len().max(1) as f64;
        let snr_db = 10.0 * (s_sum / e_sum.max(1e-30)).log10();
        if snr_db.is_nan() || snr_db < MIN_SNR_DB {
            return Err(Failure::Poor);
        }
        let (h, gain) = if self.cfg.precoding {
            let (a, g) = noise_predictor(&r);
            let q = Coefficients::from_f64(&[a[0].re, a[0].im, a[1].re, a[1].im, a[2].re, a[2].im]);
            (q, g)
        } else {
            (Coefficients::default(), 1.0)
        };
        self.coefficients = Some(h);
        let hf = h.to_f64();
        let hc = [
            Complex32::new(hf[0] as f32, hf[1] as f32),
            Complex32::new(hf[2] as f32, hf[3] as f32),
            Complex32::new(hf[4] as f32, hf[5] as f32),
        ];
        // Data mode: outputs in lattice units; the normalisation of the
        // input folded into the taps.
        eq.scale(norm * self.lattice);
        let eq = SplitEqualizer::new(&eq);
        let trained = eq.clone();
        let centroid_ref = eq.centroid();
        let data_k = d0 + 2 * pre.len() as i64;
        // The carrier phase at the first data symbol, continuing ω per symbol.
        let phase = omega * (data_k - ka) as f64 / 2.0;
        let t_data = grid.t(data_k);
        let ppm = (self.sps / 2.0 / grid.step - 1.0) * 1e6;
        let event = json!({
            "t": (t_data / 8000.0 * 1e4).round() / 1e4,
            "snr_db": hundredths(snr_db),
            "taps": n_taps,
            "ppm": hundredths(ppm),
            "carrier_offset_hz": (omega / (2.0 * PI) * self.cfg.mode.symbol_rate.hz() * 1e3).round() / 1e3,
            "prediction_gain_db": hundredths(10.0 * gain.log10()),
            "h": hf.iter().map(|v| (v * 1e4).round() / 1e4).collect::<Vec<f64>>(),
            "correlation": hundredths(best.0),
        });
        let first = data_k + ahead - n_taps as i64 + 1 - 4;
        let data = Data {
            grid,
            xr: Vec::with_capacity(8192),
            xi: Vec::with_capacity(8192),
            xs_base: first,
            k_next: data_k,
            eq,
            trained,
            window_power: (w_sum / count) as f32 / (norm * norm),
            rot: Complex64::from_polar(1.0, -phase),
            freq: omega,
            h: hc,
            past: [Complex32::new(0.0, 0.0); 3],
            pre: Precoder::new(h, self.cfg.mode.framing.b),
            nl: Nonlinear::new(self.cfg.theta, average_energy(&self.cfg.mode)),
            centroid_ref,
            slope: SplitEqualizer::zeros(n_taps),
            late_error: Complex32::new(0.0, 0.0),
            late_timing: None,
            late_phase: 0.0,
            symbols: 0,
            err_sum: 0.0,
            sig_sum: 0.0,
            held: std::collections::VecDeque::with_capacity(256),
            silent_frames: 0,
            released: 0,
            data_error: 1.0,
        };
        Ok((Box::new(data), event))
    }

    /// Data mode: as many symbols as the input allows.
    fn run_data(&mut self, out: &mut Vec<Complex32>, mut err: Option<&mut Vec<f32>>) {
        let State::Data(d) = &mut self.state else {
            return;
        };
        let n_taps = self.cfg.taps;
        let ahead = (n_taps * 3 / 8) as i64;
        let g = self.cfg.mu / (d.window_power + 1e-12);
        loop {
            let k_last = d.k_next + ahead;
            // Fill T/2 samples up to the symbol's lookahead.
            let from = d.xs_base + d.xr.len() as i64;
            let k = self.fe.fill(&d.grid, from, k_last, &mut d.xr, &mut d.xi);
            if k <= k_last {
                break;
            }
            let first = (k_last - n_taps as i64 + 1 - d.xs_base) as usize;
            let (wr, wi) = (&d.xr[first..first + n_taps], &d.xi[first..first + n_taps]);
            // The output and the timing's slope output on this window, and
            // the previous symbol's step (delayed LMS) on its own, in one pass.
            let p = first.saturating_sub(2);
            let e = d.late_error;
            let (y, sl) = d.eq.track(
                &d.slope,
                (wr, wi),
                (&d.xr[p..p + n_taps], &d.xi[p..p + n_taps]),
                e,
                g,
            );
            // The carrier's phase as a unit phasor e^{−jφ}, turned on each symbol.
            let rot = Complex32::new(d.rot.re as f32, d.rot.im as f32);
            let r_nl = y * rot;
            let r = d.nl.decode(r_nl);
            // Whitening: z = r + Σ h(k)·r(n−k) ≈ y(n).
            // (The past's sum first: it is ready before r is.)
            let z = r + (d.h[0] * d.past[0] + d.h[1] * d.past[1] + d.h[2] * d.past[2]);
            d.past = [r, d.past[0], d.past[1]];
            // Decision and its x.
            let yh = nearest_odd(z.re, z.im);
            let xh = if d.pre.is_off() {
                let lim = |v: i32| v.clamp(-X_LIMIT_POINTS, X_LIMIT_POINTS) as f32;
                Complex32::new(lim(yh.0), lim(yh.1))
            } else {
                let (p, _) = d.pre.predict();
                let xh7 = d.pre.push(yh, p);
                Complex32::new(xh7.0 as f32 / 128.0, xh7.1 as f32 / 128.0)
            };
            let xh_nl = d.nl.encode(xh);
            let e = xh_nl - r_nl;
            // Carrier loop on the previous decision's phase.
            let pe = d.late_phase;
            let den = xh_nl.norm_sqr().max(1.0);
            d.late_phase = f64::from((r_nl * xh_nl.conj()).im / den).clamp(-0.5, 0.5);
            d.freq += FREQ_GAIN * pe;
            let turn = d.freq + PHASE_GAIN * pe;
            // e^{−j·turn} for a small turn, then back to unit length.
            let step = Complex64::new(1.0 - turn * turn / 2.0, -turn);
            d.rot *= step;
            d.rot *= 1.5 - 0.5 * d.rot.norm_sqr();
            d.late_error = e * rot.conj();
            d.symbols += 1;
            // Timing loop: a symbol sampled δ T/2 samples early leaves
            // e ≈ δ·s (s the slope of the output), so δ = Re(s̄·e)/|s|².
            if d.symbols % SLOPE_EVERY == 1 {
                if !d.eq.is_finite() {
                    // Only a pathological input could do this: start the
                    // taps again from the training's rather than carry NaN.
                    d.eq = d.trained.clone();
                }
                let n = d.eq.len();
                for j in 0..n {
                    let prev = if j > 0 {
                        d.eq.tap(j - 1)
                    } else {
                        Complex32::new(0.0, 0.0)
                    };
                    let next = if j + 1 < n {
                        d.eq.tap(j + 1)
                    } else {
                        Complex32::new(0.0, 0.0)
                    };
                    d.slope.set(j, (prev - next) * 0.5);
                }
            }
            // Later symbols: sample later, and space samples wider (the
            // previous symbol's correction, from the next sample on).
            if let Some((delta, centre)) = d.late_timing.take() {
                let t_next = d.grid.t(k);
                d.grid.step *= 1.0 + TIMING_RATE_GAIN * delta;
                d.grid.t0 = t_next + (TIMING_PHASE_GAIN * delta + centre) * d.grid.step;
                d.grid.k0 = k;
            }
            let sl = sl * rot;
            let s2 = f64::from(sl.norm_sqr());
            if s2 > 1e-9 {
                let delta = (f64::from((sl.conj() * e).re) / s2).clamp(-TIMING_CLAMP, TIMING_CLAMP);
                let centre = if d.symbols % SLOPE_EVERY == 0 {
                    CENTRE_GAIN * (d.eq.centroid() - d.centroid_ref)
                } else {
                    0.0
                };
                d.late_timing = Some((delta, centre));
            }
            // Held back a little, and silence at the end until data follows it.
            // What the Viterbi decoder sees: z against the nearest point y
            // (the same as the error above without precoding).
            let ez = (z - Complex32::new(yh.0 as f32, yh.1 as f32))
                .norm_sqr()
                .sqrt();
            d.held
                .push_back((z, ez, r.norm_sqr(), (yh.0 * yh.0 + yh.1 * yh.1) as f32));
            if d.held.len() % 8 == 0 {
                if d.frame_is_silent(d.held.len() - 8) {
                    d.silent_frames += 1;
                } else {
                    d.silent_frames = 0;
                }
                while d.held.len() / 8 > HOLD + d.silent_frames {
                    d.release(8, out, err.as_deref_mut());
                }
            }
            d.k_next += 2;
            // Forget what no future symbol needs.
            let keep = d.k_next + ahead - n_taps as i64 - 4;
            if keep - d.xs_base > 4096 {
                let drop = (keep - d.xs_base) as usize;
                d.xr.drain(..drop);
                d.xi.drain(..drop);
                d.xs_base += drop as i64;
                let t_keep =
                    d.grid.t(d.xs_base + d.xr.len() as i64) as i64 - 2 * self.fe.half as i64 - 8;
                self.fe.forget_before(t_keep);
            }
        }
    }

    /// The input has ended: what is still held is processed (silence
    /// after it), and a report says what came out.
    pub fn finish(
        &mut self,
        out: &mut Vec<Complex32>,
        mut err: Option<&mut Vec<f32>>,
        report: &mut Report,
    ) {
        if self.ended {
            return;
        }
        self.ended = true;
        let real_end = self.fe.end();
        // Silence after the input: enough for the last symbols' filters, or
        // for a training that ended just before the input did.
        let pad = 2 * self.fe.half + ((self.cfg.taps + 96) as f64 * self.sps) as usize + 64;
        if let State::Collect { onset } = self.state {
            let trained_by = onset as f64 + (self.preamble.len() - UNUSED_TRN) as f64 * self.sps;
            let need =
                (onset as f64 + self.preamble.len() as f64 * self.sps) as i64 - self.fe.end();
            self.fe.push(&vec![0.0; need.max(0) as usize]);
            self.process(&[], out, err.as_deref_mut(), report);
            if matches!(self.state, State::Collect { .. }) || (real_end as f64) < trained_by {
                if (real_end as f64) < trained_by {
                    self.fail(Failure::Cut);
                }
                self.state = State::Hunt;
            }
        }
        match &self.state {
            State::Data(_) => {
                self.fe.push(&vec![0.0; pad]);
                self.run_data(out, err.as_deref_mut());
                if let State::Data(d) = &mut self.state {
                    // The data ends where the silent frames begin; a frame
                    // cut short is not data either (V.34 sends whole frames).
                    let whole = d.held.len() / 8;
                    let data_frames = whole - d.silent_frames.min(whole);
                    d.release(8 * data_frames, out, err);
                    let silent_end = d.held.len();
                    d.held.clear();
                    let snr = 10.0 * (d.sig_sum / d.err_sum.max(1e-30)).log10();
                    report.end = Some(json!({
                        "symbols": d.released,
                        "snr_db": hundredths(snr),
                        "silent_symbols_at_end": silent_end,
                    }));
                }
            }
            _ => {
                if self.worst.is_none() {
                    self.fail(Failure::Silence);
                }
                self.no_signal(report);
            }
        }
    }

    fn no_signal(&self, report: &mut Report) {
        let f = self.worst.unwrap_or(Failure::Silence);
        report.no_signal = Some(json!({
            "reason": f.text(),
            "seconds": hundredths(self.fe.received as f64 / 8000.0),
            "attempts": self.attempts,
        }));
    }

    /// The equalizer's taps, once trained.
    pub fn taps(&self) -> Option<Vec<Complex32>> {
        match &self.state {
            State::Data(d) => Some(d.eq.taps()),
            _ => None,
        }
    }

    pub fn symbols(&self) -> u64 {
        match &self.state {
            State::Data(d) => d.symbols,
            _ => 0,
        }
    }
}

struct DemodBlock {
    dm: Demodulator,
    sent_h: bool,
    last_taps: u64,
    done: bool,
}

impl DemodBlock {
    fn emit(io: &mut WorkIo<'_>, report: Report) {
        if let Some(e) = report.training {
            io.emit("training", e);
        }
        if let Some(e) = report.no_signal {
            io.emit("no_signal", e);
        }
        if let Some(e) = report.end {
            io.emit("end", e);
        }
    }
}

impl Block for DemodBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        if self.done {
            return Ok(Status::Done);
        }
        let mut report = Report::default();
        let n = io.inputs[0].available();
        let want_err = io.outputs[1].is_wanted();
        let eos = io.inputs[0].is_eos();
        {
            let x = &io.inputs[0].items::<f32>()[..n];
            let (o0, rest) = io.outputs.split_at_mut(1);
            let out = o0[0].items::<Complex32>();
            let mut err = want_err.then(|| rest[0].items::<f32>());
            self.dm.process(x, out, err.as_deref_mut(), &mut report);
            if eos {
                self.dm.finish(out, err, &mut report);
                self.done = true;
            }
        }
        io.inputs[0].consume(n);
        if !self.sent_h {
            if let Some(h) = self.dm.coefficients {
                self.sent_h = true;
                io.outputs[2]
                    .items::<f32>()
                    .extend(h.to_f64().iter().map(|&v| v as f32));
            }
        }
        let sym = self.dm.symbols();
        if io.outputs[3].is_wanted() && (sym >= self.last_taps + TAPS_EVERY || self.last_taps == 0)
        {
            if let Some(t) = self.dm.taps() {
                self.last_taps = sym.max(1);
                io.outputs[3].items::<Complex32>().extend_from_slice(&t);
            }
        }
        Self::emit(io, report);
        Ok(if self.done { Status::Done } else { Status::Ok })
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    let (layout, poly) = layout_arg(args)?;
    let taps = args.int("taps")?;
    let cfg = Config {
        mode,
        high: args.string("carrier")? == "high",
        rolloff: args.float("rolloff")?,
        layout,
        poly,
        taps: usize::try_from(taps).map_err(|_| "`taps` must be positive")?,
        mu: args.float("mu")? as f32,
        precoding: args.bool("precoding")?,
        theta: theta_arg(args)?,
    };
    Ok(Box::new(DemodBlock {
        dm: Demodulator::new(cfg),
        sent_h: false,
        last_taps: 0,
        done: false,
    }))
}

/// The mode's check, then Θ's two values.
fn check(p: &BTreeMap<String, Value>) -> Result<(), (&'static str, String)> {
    check_mode(p)?;
    let t = p.get("theta").and_then(Value::as_f64).unwrap_or(0.0);
    if t != 0.0 && t != super::nonlinear::THETA {
        return Err((
            "theta",
            format!("V.34 allows Θ = 0 or 0.3125, not {t} (§9.7)"),
        ));
    }
    Ok(())
}

pub fn spec() -> BlockSpec {
    layout_params(mode_params(BlockSpec::new(
        "qam_demodulator",
        "Demodulators",
        "V.34 QAM receiver: timing and carrier recovery, trained T/2 equalizer, noise predictor",
        make,
    )))
    .check(check)
    .doc(
        "Line samples (8000 Hz, the receiver's own clock) to soft channel points for \
         `viterbi_decoder`. The line is mixed down by the nominal carrier and \
         matched-filtered (the modulator's pulse), sampled twice per symbol at \
         instants the receiver chooses. Energy above −48 dBm0 starts a search for \
         `v34_train`'s training (S̄, PP and the start of TRN, by normalised \
         correlation); the clock ratio and carrier offset come from least-squares \
         equalizers solved at both ends of the training, and the equalizer \
         (`taps` T/2 taps) is then solved over all of it — which also sets the gain. \
         With `precoding`, the training error's autocorrelation gives the noise \
         predictor h(1…3) (V.34 §9.6.2, Levinson–Durbin, Q2.14), sent once on `h` for \
         the far transmitter and used here: the output is z = r + Σ h(k)·r(n−k). In \
         data mode each output r (in the lattice units of V.34's points) is decided to \
         the nearest odd point ŷ; x̂ = ŷ − p̂ by the precoder's arithmetic drives the \
         NLMS update (step `mu`), a carrier loop and a timing loop on the taps' centre \
         of energy, so the far clock may differ by hundreds of ppm. `theta` undoes the \
         non-linear encoder. At the end of the input, trailing silence is not passed \
         on. Silence, noise or other signals give a `no_signal` event and no output.",
    )
    .param(carrier_param())
    .param(rolloff_param())
    .param(
        ParamSpec::int("taps", "equalizer length in T/2 taps")
            .default(32)
            .range(8.0, 256.0),
    )
    .param(
        ParamSpec::float("mu", "equalizer step in data mode (normalised LMS; 0 freezes it)")
            .default(0.01)
            .range(0.0, 0.5),
    )
    .param(
        ParamSpec::bool(
            "precoding",
            "compute the noise predictor h(1…3) from the training and whiten with it (the far transmitter must precode with the same h)",
        )
        .default(false),
    )
    .param(theta_param())
    .input(PortSpec::new("in", ItemType::F32, "line samples, 8000 Hz").rate(Rate::Varies))
    .output(PortSpec::new("out", ItemType::C32, "soft channel points z(n) ≈ y(n), one per data symbol").rate(Rate::Varies))
    .output(PortSpec::new("error", ItemType::F32, "the decision error |x̂ − r| of each data symbol (lattice units)").rate(Rate::Varies).optional())
    .output(PortSpec::new("h", ItemType::F32, "the noise predictor h1 re, h1 im, … h3 im, once after training (zeros without `precoding`)").rate(Rate::Varies).optional())
    .output(PortSpec::new("taps", ItemType::C32, "the equalizer's taps, after training and every 4096 symbols").rate(Rate::Varies).optional())
    .event(EventSpec::new(
        "training",
        "the receiver has trained on the line",
        &[
            ("t", "time of the first data symbol, s"),
            ("snr_db", "signal to equalizer error over the training"),
            ("taps", "equalizer length (T/2 taps)"),
            ("ppm", "how much faster the far clock runs than this one"),
            ("carrier_offset_hz", "carrier frequency offset"),
            ("prediction_gain_db", "what the noise predictor gains (0 without precoding)"),
            ("h", "h1 re, h1 im, h2 re, h2 im, h3 re, h3 im"),
            ("correlation", "normalised correlation with the known training"),
        ],
    ))
    .event(EventSpec::new(
        "no_signal",
        "at the end, when no V.34 signal was found",
        &[
            ("reason", "silence, no training sequence, too noisy, or cut short"),
            ("seconds", "input examined"),
            ("attempts", "signals that were tried"),
        ],
    ))
    .event(EventSpec::new(
        "end",
        "at the end of the data",
        &[
            ("symbols", "data symbols passed on"),
            ("snr_db", "signal to decision error over the data"),
            ("silent_symbols_at_end", "symbols of silence after the data, not passed on"),
        ],
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v34::frame::MappingFrame;
    use crate::v34::mapper::{to_c32, Mapper};
    use crate::v34::modulator::Modulator;
    use crate::v34::shell::ShellTables;

    /// The lattice points y(n) of `frames` random mapping frames (no trellis, no precoding).
    fn data_points(mode: &Mode, frames: usize, seed: u64) -> Vec<Complex32> {
        let mut s = seed;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let t = ShellTables::get(mode.mapping.m);
        let mut m = Mapper::new(mode);
        let mut out = Vec::new();
        let mut pts = [(0, 0); 8];
        for _ in 0..frames {
            let mut f = MappingFrame::default();
            let k = mode.mapping.k;
            f.rings = t.map(next() % (1u64 << k));
            for j in 0..4 {
                f.i_bits[j] = (next() & 7) as u8;
            }
            for n in 0..8 {
                f.q[n] = (next() % (1 << mode.mapping.q)) as u16;
            }
            m.map(&f, &mut pts);
            out.extend(pts.iter().map(|&p| to_c32(p)));
        }
        out
    }

    pub(crate) fn config(mode: Mode) -> Config {
        Config {
            mode,
            high: false,
            rolloff: 0.1,
            layout: Layout {
                trn: 2048,
                trn_points: 4,
            },
            poly: Polynomial::Gpc,
            taps: 32,
            mu: 0.01,
            precoding: false,
            theta: 0.0,
        }
    }

    /// Modulates the training and `y`, demodulates, and returns z.
    fn through(
        cfg: &Config,
        y: &[Complex32],
        line: impl Fn(&[f32]) -> Vec<f32>,
    ) -> (Vec<Complex32>, Report) {
        let mut m = Modulator::new(cfg.mode.symbol_rate, cfg.high, -12.0, cfg.rolloff, 0);
        let scale = (1.0 / average_energy(&cfg.mode)).sqrt() as f32;
        let mut syms = preamble(cfg.layout, cfg.poly);
        syms.extend(y.iter().map(|v| v * scale));
        m.push(&syms);
        m.finish();
        let mut tx = Vec::new();
        m.produce(&mut tx, usize::MAX);
        let rx = line(&tx);
        let mut d = Demodulator::new(cfg.clone());
        let mut out = Vec::new();
        let mut report = Report::default();
        for chunk in rx.chunks(1000) {
            d.process(chunk, &mut out, None, &mut report);
        }
        let mut end = Report::default();
        d.finish(&mut out, None, &mut end);
        report.end = end.end;
        report.no_signal = report.no_signal.or(end.no_signal);
        (out, report)
    }

    /// A trained receiver fed `junk` after its training (and a few data
    /// symbols): every output finite, the taps too.
    fn survives(junk: &[f32]) {
        let mode = Mode::new(14400, 2400, false).unwrap();
        let cfg = Config {
            layout: Layout {
                trn: 768,
                trn_points: 4,
            },
            ..config(mode)
        };
        let mut m = Modulator::new(mode.symbol_rate, false, -12.0, cfg.rolloff, 0);
        let mut syms = preamble(cfg.layout, cfg.poly);
        syms.extend(data_points(&mode, 40, 3).iter().map(|v| v * 0.1));
        m.push(&syms);
        let mut tx = Vec::new();
        m.produce(&mut tx, usize::MAX);
        let mut d = Demodulator::new(cfg);
        let (mut out, mut err, mut report) = (Vec::new(), Vec::new(), Report::default());
        d.process(&tx, &mut out, Some(&mut err), &mut report);
        assert!(report.training.is_some(), "{report:?}");
        for chunk in junk.chunks(333) {
            d.process(chunk, &mut out, Some(&mut err), &mut report);
        }
        d.finish(&mut out, Some(&mut err), &mut report);
        assert!(out.iter().all(|z| z.re.is_finite() && z.im.is_finite()));
        assert!(err.iter().all(|e| e.is_finite()));
        assert!(d
            .taps()
            .unwrap_or_default()
            .iter()
            .all(|w| w.re.is_finite() && w.im.is_finite()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn no_adaptive_filter_reaches_nan_or_infinity(
            junk in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::f32::ANY,
                    -1.0f32..1.0,
                    proptest::strategy::Just(f32::INFINITY),
                    proptest::strategy::Just(-1e30f32),
                    proptest::strategy::Just(0.0f32),
                ],
                0..6000,
            )
        ) {
            survives(&junk);
        }
    }

    #[test]
    fn extreme_inputs_after_training() {
        let n = 20_000;
        survives(&vec![f32::NAN; n]);
        survives(&vec![8.0; n]);
        survives(
            &(0..n)
                .map(|i| if i % 2 == 0 { 1e30 } else { -1e30 })
                .collect::<Vec<_>>(),
        );
        survives(&vec![0.0; n]);
        // And a receiver that never trains, on the same.
        let mut d = Demodulator::new(config(Mode::new(33600, 3429, false).unwrap()));
        let (mut out, mut report) = (Vec::new(), Report::default());
        d.process(&vec![f32::INFINITY; n], &mut out, None, &mut report);
        d.finish(&mut out, None, &mut report);
        assert!(out.is_empty() && report.no_signal.is_some());
    }

    #[test]
    fn clean_line_gives_back_the_points() {
        let mode = Mode::new(33600, 3429, false).unwrap();
        let cfg = config(mode);
        let y = data_points(&mode, 4000, 1);
        let (z, report) = through(&cfg, &y, |x| x.to_vec());
        assert!(report.training.is_some(), "{report:?}");
        println!("{:?} {} {}", report.end, z.len(), y.len());
        let mut worst = 0.0f32;
        for (i, chunk) in z.chunks(4000).zip(y.chunks(4000)).enumerate() {
            let e: f32 = chunk
                .0
                .iter()
                .zip(chunk.1)
                .map(|(a, b)| (a - b).norm_sqr())
                .sum::<f32>()
                / chunk.0.len() as f32;
            let p: f32 = chunk.1.iter().map(|b| b.norm_sqr()).sum::<f32>() / chunk.0.len() as f32;
            println!(
                "symbols {}..: SNR {:.1} dB",
                i * 4000,
                10.0 * (p / e).log10()
            );
            worst = worst.max(e / p);
        }
        println!("{:?}", report.training);
        assert!(10.0 * (1.0 / worst).log10() > 40.0);
    }
}
