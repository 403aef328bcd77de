//! The analogue modem's equalizer (`pcm_equalizer`; modem-standards.md §6.1):
//! a T-spaced feed-forward filter on the line samples and a decision-feedback
//! filter on past symbols, y[n] = Σ f[k]·r[n + D − P + k] − Σ b[j]·x̂[n − 1 − j].
//!
//! Training: the line carries V.90's TRN1d first (`pcm_train`). The
//! equalizer finds the bulk delay D by correlating the received samples with
//! the known sequence, then solves the least-squares (Wiener) problem for f
//! and b over the whole training in one go — exact where an LMS would still
//! be converging, which matters here: at 56 000 bit/s the nearest levels are
//! some 70 dB below full scale. Its gain also does the AGC's job. After the
//! training it runs decision-directed: each output is sliced to the nearest
//! level of the data constellation, the decision feeds the feedback filter,
//! and a normalised LMS step `mu` lets the taps follow slow changes.
//!
//! Output: one soft value per data symbol (training and the guard after the
//! data removed), on the line's scale (signed Table 1 value / 32768).

use super::constellation::Constellation;
use super::cp::Cp;
use super::designer::{self, Design};
use super::dil::{self, Dil, DilMeasurement};
use super::mapper::Slicer;
use super::rates::FRAME;
use super::timing::Timing;
use super::training::{Trn1d, GUARD};
use crate::core::interp::INTERP_TAPS;
use crate::core::level::{hundredths, power_f32_to_dbm0};
use crate::g711::law::Law;
use num_complex::Complex32;

/// Bulk delays searched, in samples: the loop, the A/D's filters and a
/// resampler together stay well within this.
pub const MAX_DELAY: usize = 128;
/// Leading feed-forward taps (before the main one): the loop's low-pass
/// spreads a symbol mostly after its peak.
fn precursor_taps(ff: usize) -> usize {
    ff / 3
}
/// Passes of training with timing recovery: each resamples the line with
/// the timing error the last one measured.
const TIMING_PASSES: usize = 4;

/// Share of the measured timing error corrected per pass: the error the
/// solved taps leave overstates the true one by about 1.4 (the central
/// difference underrates the slope near 4 kHz, where the line has energy),
/// so a whole correction overshoots; measured on the mild loop at 0, ±100 ppm.
const TIMING_DAMPING: f64 = 0.7;

/// A least-squares line through timing errors q(i) = e·y′ / ⟨y′²⟩.
#[derive(Default)]
struct LineFit {
    n: f64,
    si: f64,
    sii: f64,
    sq: f64,
    siq: f64,
    power: f64,
}

impl LineFit {
    /// One symbol at index `i`: e·y′ and y′².
    fn add(&mut self, i: f64, e_dy: f64, dy2: f64) {
        self.n += 1.0;
        self.si += i;
        self.sii += i * i;
        self.sq += e_dy;
        self.siq += i * e_dy;
        self.power += dy2;
    }

    /// (constant, slope) of the error in samples, and ⟨y′²⟩; zeros
    /// without data.
    fn line(&self) -> (f64, f64, f64) {
        let det = self.n * self.sii - self.si * self.si;
        if self.n < 2.0 || det <= 0.0 || self.power <= 0.0 {
            return (0.0, 0.0, 0.0);
        }
        let p = self.power / self.n;
        let b = (self.n * self.siq - self.si * self.sq) / det / p;
        let a = (self.sq / p - b * self.si) / self.n;
        (a, b, p)
    }
}

/// Guard symbols compared when finding where the data ends.
const GUARD_MATCH: usize = 96;
/// Normalised correlation of the line with the guard above which the guard
/// is taken as found: a loop's main tap alone gives far more; data, which is
/// independent of TRN1d, gives about 1/√96 ≈ 0.1.
const GUARD_CORRELATION: f64 = 0.4;

/// One equalized data symbol: the soft value, the decision (label and
/// sign, V.90 §5.4.6: true = positive) and the decision error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Symbol {
    pub soft: f32,
    pub label: u8,
    pub positive: bool,
    pub error: f32,
}

/// The feedback filter's input: the last n decisions, newest first, as one
/// slice (kept twice over, so no decision ever moves).
#[derive(Clone, Debug)]
struct History {
    buf: Vec<f32>,
    pos: usize,
    n: usize,
}

impl History {
    fn new(n: usize) -> History {
        History {
            buf: vec![0.0; 2 * n],
            pos: 0,
            n,
        }
    }

    /// x̂[s − 1], x̂[s − 2], … x̂[s − n].
    fn get(&self) -> &[f32] {
        &self.buf[self.pos..self.pos + self.n]
    }

    fn push(&mut self, d: f32) {
        if self.n > 0 {
            self.pos = if self.pos == 0 {
                self.n - 1
            } else {
                self.pos - 1
            };
            self.buf[self.pos] = d;
            self.buf[self.pos + self.n] = d;
        }
    }
}

/// The FFE window of symbol `s`: line samples from s + delay − pre on (the
/// line held from global index `base`), silence where there are none.
fn window_into(rx: &[f32], base: usize, from: usize, win: &mut [f32]) {
    for (k, w) in win.iter_mut().enumerate() {
        let idx = (from + k).checked_sub(base);
        *w = idx.and_then(|i| rx.get(i)).copied().unwrap_or(0.0);
    }
}

/// The automatic rate's DIL, its measurement and the design made from it.
struct AutoState {
    sr: u32,
    max_ucode: u8,
    dil: Vec<(u8, bool)>,
    filler: Vec<f32>,
    measured: DilMeasurement,
    /// The feedback filter's memory as the DIL began, for its second pass.
    past_at_start: Option<History>,
    /// Once made: the design (None inside if no rate fits the line).
    design: Option<Option<Design>>,
}

/// How an equalizer is set up.
#[derive(Clone, Debug)]
pub struct Config {
    pub law: Law,
    pub training: usize,
    pub u_info: u8,
    pub ff_taps: usize,
    pub fb_taps: usize,
    /// Normalised LMS step while decision-directed (0: frozen after training).
    pub mu: f32,
    /// Whether to recover the symbol timing (an A/D clock off the network's).
    pub timing: bool,
}

/// What training found.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    /// Bulk delay from a symbol to its main line sample.
    pub delay: usize,
    /// Mean squared error over the training, on the line's scale.
    pub mse: f64,
    /// Signal-to-error ratio over the training, dB.
    pub snr_db: f64,
}

enum Phase {
    /// Collecting the training's line samples.
    Training,
    /// Decision-directed: the next symbol to equalize.
    Tracking { next: usize },
}

/// The equalizer kernel.
pub struct PcmEqualizer {
    cfg: Config,
    /// Decisions on the data constellation (in automatic mode, once designed).
    slicer: Option<Slicer>,
    /// With a fixed rate, its constellation's Ucodes per interval, largest
    /// first (index = label); in automatic mode the design has them.
    ucodes: Option<[Vec<u8>; FRAME]>,
    /// Automatic rate: the DIL's symbols and what they measured, until the
    /// design is made.
    auto: Option<AutoState>,
    /// CP records to send (automatic rate).
    cp_out: Vec<u8>,
    /// The known training symbols.
    train: Vec<f32>,
    /// The guard's symbols (TRN1d continued).
    guard: Vec<f32>,
    /// Line samples not yet needed no more (index 0 is line sample `base`).
    rx: Vec<f32>,
    base: usize,
    phase: Phase,
    delay: usize,
    /// f then b.
    taps: Vec<f32>,
    /// The last symbol's feed-forward step, not yet added to the taps: the
    /// step g and the line index its window starts at. The next output is
    /// the old taps' plus g times the two windows' product, so the next
    /// symbol need not wait for the update (it is added after).
    pending: Option<(f32, usize)>,
    /// Past decisions for the feedback filter.
    past: History,
    /// A window padded with silence, where the line has ended.
    win: Vec<f32>,
    /// NLMS normalisation: the expected |z|² of the taps' input vector,
    /// from the training (the line's power over the FFE span plus the
    /// symbols' power over the feedback span), fixed so each step costs no
    /// extra dot products.
    norm: f32,
    /// Equalized data symbols held back until it is known they are not guard.
    held: Vec<Symbol>,
    trained: Option<Trained>,
    /// Running sum of squared decision errors and their count (data).
    err_sum: f64,
    err_n: u64,
    /// With timing recovery: the resampler between the line and `rx`, which
    /// then holds samples at the symbol instants.
    timing: Option<Timing>,
}

impl PcmEqualizer {
    /// An equalizer for data on `constellation`.
    pub fn new(cfg: Config, constellation: &Constellation) -> PcmEqualizer {
        Self::build(cfg, Some(constellation), None)
    }

    /// An equalizer that learns the line from the DIL after the training
    /// and chooses the rate and constellations itself (rate 0), for shaping
    /// with `sr` and Ucodes up to `max_ucode`.
    pub fn automatic(cfg: Config, sr: u32, max_ucode: u8) -> PcmEqualizer {
        Self::build(cfg, None, Some((sr, max_ucode)))
    }

    fn build(
        cfg: Config,
        constellation: Option<&Constellation>,
        auto: Option<(u32, u8)>,
    ) -> PcmEqualizer {
        let mut trn = Trn1d::new(cfg.law, cfg.u_info);
        let train = (0..cfg.training).map(|_| trn.next_value()).collect();
        // The DIL and the TRN1d after it come next on the line (pcm_train
        // sends them when the rate is automatic).
        let auto = auto.map(|(sr, max_ucode)| {
            let mut seq = Dil::default();
            let dil: Vec<(u8, bool)> = (0..dil::LEN).map(|_| seq.next(&mut trn)).collect();
            let filler: Vec<f32> = (0..dil::FILLER).map(|_| trn.next_value()).collect();
            AutoState {
                sr,
                max_ucode,
                dil,
                filler,
                measured: DilMeasurement::default(),
                past_at_start: None,
                design: None,
            }
        });
        let guard = (0..GUARD).map(|_| trn.next_value()).collect();
        let n = cfg.ff_taps + cfg.fb_taps;
        PcmEqualizer {
            slicer: constellation.map(Slicer::new),
            ucodes: constellation.map(|c| std::array::from_fn(|i| c.interval(i).to_vec())),
            auto,
            cp_out: Vec::new(),
            train,
            guard,
            rx: Vec::new(),
            base: 0,
            phase: Phase::Training,
            delay: 0,
            taps: vec![0.0; n],
            pending: None,
            past: History::new(cfg.fb_taps),
            win: vec![0.0; cfg.ff_taps],
            norm: 1.0,
            held: Vec::new(),
            trained: None,
            err_sum: 0.0,
            err_n: 0,
            timing: cfg.timing.then(Timing::new),
            cfg,
        }
    }

    pub fn set_mu(&mut self, mu: f32) {
        self.cfg.mu = if mu.is_finite() {
            mu.clamp(0.0, 1.0)
        } else {
            0.0
        };
    }

    /// The data constellation's Ucodes per interval, largest first (index =
    /// label); in automatic mode once designed. Data symbol k lies in
    /// interval k mod 6.
    pub fn ucodes(&self) -> Option<&[Vec<u8>; FRAME]> {
        match self.design() {
            Some(design) => design.map(|d| &d.ucodes),
            None => self.ucodes.as_ref(),
        }
    }

    /// The result of training, once it is done.
    pub fn trained(&self) -> Option<&Trained> {
        self.trained.as_ref()
    }

    /// With timing recovery: the A/D clock's offset from the symbol clock as
    /// estimated now, in ppm.
    pub fn clock_ppm(&self) -> Option<f64> {
        self.timing.as_ref().map(|t| (t.rate() - 1.0) * 1e6)
    }

    /// Feed-forward taps, then feedback taps.
    pub fn taps(&self) -> (Vec<f32>, Vec<f32>) {
        let (ff, fb) = self.taps.split_at(self.cfg.ff_taps);
        let mut ff = ff.to_vec();
        if let Some((g, j)) = self.pending {
            if let Some(prev) = j
                .checked_sub(self.base)
                .and_then(|i| self.rx.get(i..i + ff.len()))
            {
                for (t, &x) in ff.iter_mut().zip(prev) {
                    *t += g * x;
                }
            }
        }
        (ff, fb.to_vec())
    }

    /// Mean squared decision error over the data so far.
    pub fn data_mse(&self) -> Option<f64> {
        (self.err_n > 0).then(|| self.err_sum / self.err_n as f64)
    }

    /// Line samples a symbol's window needs beyond its own: the window ends
    /// at symbol + delay − P + ff_taps − 1.
    fn reach(&self) -> usize {
        self.delay + self.cfg.ff_taps - precursor_taps(self.cfg.ff_taps)
    }

    /// Takes line samples; appends each data symbol it can now equalize to
    /// `out`, holding back the last GUARD + GUARD_MATCH (they may be guard).
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<Symbol>) {
        let need = self.cfg.training + MAX_DELAY + self.cfg.ff_taps;
        match &mut self.timing {
            // NaN counts as silence, anything else is kept within ±4 (far
            // beyond full scale); written so that it vectorises.
            None => self.rx.extend(samples.iter().map(|&x| {
                #[allow(clippy::eq_op)]
                let y = if x == x { x } else { 0.0 };
                y.clamp(-4.0, 4.0)
            })),
            Some(tm) => {
                tm.push(samples);
                if matches!(self.phase, Phase::Training) {
                    // The line must reach past the training however fast
                    // the A/D runs before the clock ratio can be estimated.
                    if (tm.received() as f64) < need as f64 * (1.0 + 2e-3) + INTERP_TAPS as f64 {
                        return;
                    }
                    tm.estimate(&self.train, MAX_DELAY);
                    self.rx = (0..need).map(|s| tm.at_symbol(s)).collect();
                }
            }
        }
        if matches!(self.phase, Phase::Training) {
            if self.rx.len() < need {
                return;
            }
            self.train_now();
        }
        let start = out.len();
        out.append(&mut self.held);
        self.equalize(false, out);
        // Hold the newest back again: the guard may start among them.
        let keep = (out.len() - start).min(GUARD + GUARD_MATCH);
        self.held.extend(out.drain(out.len() - keep..));
        self.count_errors(&out[start..]);
        self.trim_line();
    }

    /// End of the line signal: equalizes the rest (the line is silent after
    /// it), finds where the guard starts and appends the data symbols before it.
    pub fn finish(&mut self, out: &mut Vec<Symbol>) {
        if let Some(tm) = &mut self.timing {
            tm.end();
            if matches!(self.phase, Phase::Training) {
                tm.estimate(&self.train, MAX_DELAY);
                let n = tm.received();
                self.rx = (0..n).map(|s| tm.at_symbol(s)).collect();
            }
        }
        if matches!(self.phase, Phase::Training) {
            if self.rx.len() <= self.cfg.training {
                return;
            }
            self.train_now();
        }
        let mut newest = std::mem::take(&mut self.held);
        self.equalize(true, &mut newest);
        self.held = newest;
        let Phase::Tracking { next } = self.phase else {
            return;
        };
        // The guard is TRN1d continued. Find it on the line itself, by
        // correlation like the bulk delay: after the data the decisions (and
        // so the feedback filter's output) are wrong, but the line is not.
        let n = self.held.len();
        let first = next - n;
        let g = GUARD_MATCH.min(self.guard.len());
        let sample = |i: usize| -> f64 {
            i.checked_sub(self.base)
                .and_then(|k| self.rx.get(k))
                .map_or(0.0, |&v| f64::from(v))
        };
        let score = |p: usize| -> f64 {
            let (mut c, mut e) = (0.0, 0.0);
            for k in 0..g {
                let r = sample(first + p + self.delay + k);
                c += f64::from(self.guard[k]) * r;
                e += r * r;
            }
            let eg: f64 = self.guard[..g]
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum();
            if e > 0.0 {
                c / (e * eg).sqrt()
            } else {
                0.0
            }
        };
        let best = (0..n)
            .map(|p| (p, score(p)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let end = match best {
            Some((p, c)) if c > GUARD_CORRELATION => p,
            // No guard found (a line that ended early): everything is data.
            _ => n,
        };
        self.held.truncate(end);
        let released = std::mem::take(&mut self.held);
        self.count_errors(&released);
        out.extend(released);
    }

    /// Adds the decision errors of released data symbols to the running sum.
    fn count_errors(&mut self, released: &[Symbol]) {
        let sum: f32 = released.iter().map(|sym| sym.error * sym.error).sum();
        self.err_sum += f64::from(sum);
        self.err_n += released.len() as u64;
    }

    /// Drops line samples no later window needs, keeping those of the
    /// symbols held back, where the guard may start.
    fn trim_line(&mut self) {
        let Phase::Tracking { next } = self.phase else {
            return;
        };
        let pre = precursor_taps(self.cfg.ff_taps);
        // One symbol more: the last one's window, for its pending step.
        let mut keep_from = (next + self.delay).saturating_sub(pre + self.held.len() + 1);
        if self.auto.as_ref().is_some_and(|a| a.design.is_none()) {
            // The DIL's line samples stay until its second pass.
            keep_from = keep_from.min((self.cfg.training + self.delay).saturating_sub(pre));
        }
        if keep_from > self.base {
            let drop = (keep_from - self.base).min(self.rx.len());
            self.rx.drain(..drop);
            self.base += drop;
        }
    }

    /// Trains on the TRN1d at the start of `rx`. With timing recovery, the
    /// timing error left over the training (a constant and a drift) is
    /// measured with the solved taps, the line is resampled without it and
    /// the taps are solved again: the first estimate of the clock is off by
    /// a few ppm, which over 6000 symbols already costs the training 35 dB.
    fn train_now(&mut self) {
        if self.timing.is_none() {
            self.solve();
            return;
        }
        let mut slope_power = 0.0;
        for pass in 0..TIMING_PASSES {
            let (phase, slope, power) = self.solve();
            slope_power = power;
            let Some(tm) = self.timing.as_mut() else {
                return;
            };
            if pass + 1 < TIMING_PASSES {
                tm.correct(TIMING_DAMPING * phase, TIMING_DAMPING * slope);
                let n = self.rx.len();
                self.rx = (0..n).map(|s| tm.at_symbol(s)).collect();
            }
        }
        if let Some(tm) = self.timing.as_mut() {
            tm.continue_from(self.rx.len(), slope_power);
        }
    }

    /// Solves the taps over the training; returns the timing error it sees
    /// as (constant, per-symbol drift), in line samples, to add to the
    /// sampling instants, and the output slope's power ⟨y′²⟩.
    fn solve(&mut self) -> (f64, f64, f64) {
        let (nf, nb, t) = (self.cfg.ff_taps, self.cfg.fb_taps, self.cfg.training);
        let pre = precursor_taps(nf);
        // Bulk delay: where the known sequence correlates best.
        let corr = |d: usize| -> f64 {
            (0..t)
                .filter(|&n| n + d < self.rx.len())
                .map(|n| f64::from(self.train[n]) * f64::from(self.rx[n + d]))
                .sum::<f64>()
        };
        self.delay = (0..MAX_DELAY)
            .max_by(|&a, &b| corr(a).abs().total_cmp(&corr(b).abs()))
            .unwrap_or(0);
        // Least squares over the training: z = [r window; −past symbols].
        let n = nf + nb;
        let mut phi = vec![0f64; n * n];
        let mut p = vec![0f64; n];
        let mut z = vec![0f64; n];
        let mut count = 0usize;
        for s in nb.max(pre.saturating_sub(self.delay))..t {
            let start = s + self.delay - pre;
            if start + nf > self.rx.len() {
                break;
            }
            for (zk, &r) in z.iter_mut().zip(&self.rx[start..start + nf]) {
                *zk = f64::from(r);
            }
            for j in 0..nb {
                z[nf + j] = -f64::from(self.train[s - 1 - j]);
            }
            let x = f64::from(self.train[s]);
            // Rank-one update of the lower triangle, row by row.
            for a in 0..n {
                let za = z[a];
                p[a] += za * x;
                for (v, &zb) in phi[a * n..=a * n + a].iter_mut().zip(&z[..=a]) {
                    *v += za * zb;
                }
            }
            count += 1;
        }
        // A tiny ridge keeps the system solvable on a silent line.
        let trace: f64 = (0..n).map(|a| phi[a * n + a]).sum();
        let ridge = 1e-9 * trace / n as f64 + 1e-30;
        for a in 0..n {
            phi[a * n + a] += ridge;
        }
        let w = cholesky_solve(&mut phi, &p, n).unwrap_or_else(|| vec![0.0; n]);
        self.taps = w.iter().map(|&v| v as f32).collect();
        // Training error with the solved taps, and its timing error
        // e·y′/⟨y′²⟩ (≈ −lateness) against the sample index, for a fitted line.
        let mut se = 0.0;
        let mut sx = 0.0;
        let mut fit = LineFit::default();
        for s in nb.max(pre.saturating_sub(self.delay))..t {
            let start = s + self.delay - pre;
            if start + nf > self.rx.len() {
                break;
            }
            let mut y: f64 = w[..nf]
                .iter()
                .zip(&self.rx[start..start + nf])
                .map(|(&wk, &r)| wk * f64::from(r))
                .sum();
            for j in 0..nb {
                y -= w[nf + j] * f64::from(self.train[s - 1 - j]);
            }
            let x = f64::from(self.train[s]);
            se += (x - y) * (x - y);
            sx += x * x;
            if start >= 1 && start + 1 + nf <= self.rx.len() {
                let slope = |from: usize| -> f64 {
                    w[..nf]
                        .iter()
                        .zip(&self.rx[from..from + nf])
                        .map(|(&wk, &r)| wk * f64::from(r))
                        .sum()
                };
                let dy = 0.5 * (slope(start + 1) - slope(start - 1));
                fit.add((s + self.delay) as f64, (x - y) * dy, dy * dy);
            }
        }
        let mse = if count > 0 { se / count as f64 } else { 0.0 };
        let snr_db = if se > 0.0 {
            10.0 * (sx / se).log10()
        } else {
            f64::INFINITY
        };
        self.trained = Some(Trained {
            delay: self.delay,
            mse,
            snr_db,
        });
        // The feedback filter starts from the last training symbols.
        self.past = History::new(nb);
        for &x in &self.train[t - nb.min(t)..t] {
            self.past.push(x);
        }
        let line_power = self.rx[..t.min(self.rx.len())]
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            / t.max(1) as f64;
        let norm = nf as f64 * line_power + nb as f64 * sx / count.max(1) as f64;
        self.norm = if norm > 0.0 { norm as f32 } else { 1.0 };
        self.phase = Phase::Tracking { next: t };
        fit.line()
    }

    /// Equalizes every symbol whose window is in (with `all`, every symbol
    /// that has its main sample, the window padded with silence).
    /// The DIL's second pass. In the first, the feedback filter cancelled
    /// each DIL symbol as sent; where the network changed codes (robbed
    /// bits, pads) that leaves errors in the symbols after them, which a
    /// long feedback filter turns into a bias of their measured means. Now
    /// every symbol is fed back at the level the first pass measured for it,
    /// and the DIL is measured again.
    fn remeasure_dil(&mut self) {
        let nf = self.cfg.ff_taps;
        let pre = precursor_taps(nf);
        let t = self.cfg.training;
        let Some(a) = self.auto.as_mut() else {
            return;
        };
        let Some(mut past) = a.past_at_start.clone() else {
            return;
        };
        let mut again = DilMeasurement::default();
        let (ff, fb) = self.taps.split_at(nf);
        let mut win = vec![0f32; nf];
        for (k, &(u, positive)) in a.dil.iter().enumerate() {
            window_into(&self.rx, self.base + pre, t + k + self.delay, &mut win);
            let y = dot(ff, &win) - dot(fb, past.get());
            let interval = k % FRAME;
            again.add(interval, u, positive, y);
            let level = a
                .measured
                .level(interval, u)
                .map_or_else(|| dil::value(self.cfg.law, u, true), |l| l as f32);
            past.push(if positive { level } else { -level });
        }
        a.measured = again;
    }

    /// The DIL is in: choose the rate and constellations, and queue the CP.
    fn design_now(&mut self) {
        self.remeasure_dil();
        let Some(a) = self.auto.as_mut() else {
            return;
        };
        let design = designer::design(&a.measured.profile(), a.sr, a.max_ucode);
        let cp = match &design {
            Some(des) => {
                self.slicer = Some(Slicer::from_levels(&des.levels));
                Cp {
                    d: des.d,
                    ucodes: des.ucodes.clone(),
                }
            }
            None => Cp {
                d: 0,
                ucodes: Default::default(),
            },
        };
        self.cp_out.extend(cp.octets());
        a.design = Some(design);
    }

    /// CP octets to send (automatic rate), taken.
    pub fn take_cp(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.cp_out)
    }

    /// In automatic mode, once made: the design (None if no rate fits).
    pub fn design(&self) -> Option<Option<&Design>> {
        self.auto
            .as_ref()
            .and_then(|a| a.design.as_ref().map(Option::as_ref))
    }

    /// The DIL's noise power per interval, once measured.
    pub fn dil_noise(&self) -> Option<[f64; FRAME]> {
        let a = self.auto.as_ref()?;
        a.design.as_ref()?;
        Some(std::array::from_fn(|i| a.measured.noise(i)))
    }

    /// Equalizes every symbol the line now reaches, appending it to `out`.
    fn equalize(&mut self, all: bool, out: &mut Vec<Symbol>) {
        let Phase::Tracking { next } = self.phase else {
            return;
        };
        let nf = self.cfg.ff_taps;
        let pre = precursor_taps(nf);
        let reach = self.reach();
        let g_scale = self.cfg.mu / self.norm;
        let mut s = next;
        let mut interval = (s - self.cfg.training) % FRAME;
        loop {
            if let Some(tm) = &mut self.timing {
                // Symbol-instant samples as far as this symbol's window and
                // the slope's one more reach.
                while self.base + self.rx.len() < s + reach + 1 {
                    match tm.next_sample() {
                        Some(u) => self.rx.push(u),
                        None => break,
                    }
                }
            }
            let have = self.base + self.rx.len();
            let needed = if all { s + self.delay + 1 } else { s + reach };
            if needed > have {
                break;
            }
            // Window r[s + delay − pre .. + nf]: a slice of the line where it
            // lies inside it, else a copy padded with silence.
            let first = (s + self.delay).checked_sub(pre + self.base);
            let win: &[f32] = match first {
                Some(i) if i + nf <= self.rx.len() => &self.rx[i..i + nf],
                _ => {
                    window_into(&self.rx, self.base + pre, s + self.delay, &mut self.win);
                    &self.win
                }
            };
            let past = self.past.get();
            let (ff, fb) = self.taps.split_at_mut(nf);
            let mut y = dot(ff, win) - dot(fb, past);
            if let Some((g, j)) = self.pending.take() {
                let prev = &self.rx[j - self.base..j - self.base + nf];
                y += g * dot(prev, win);
                for (t, &x) in ff.iter_mut().zip(prev) {
                    *t += g * x;
                }
            }
            // In automatic mode the DIL and filler come before the data: their
            // symbols are known, measured, and not passed on.
            let k = s - self.cfg.training;
            let known = self.auto.as_ref().and_then(|a| {
                if k < a.dil.len() {
                    let (u, positive) = a.dil[k];
                    Some(dil::value(self.cfg.law, u, positive))
                } else {
                    a.filler.get(k - a.dil.len()).copied()
                }
            });
            if let Some(d) = known {
                if let Some(a) = self.auto.as_mut() {
                    if k == 0 {
                        a.past_at_start = Some(self.past.clone());
                    }
                    if let Some(&(u, positive)) = a.dil.get(k) {
                        a.measured.add(interval, u, positive, y);
                    }
                }
                self.past.push(d);
                interval = if interval + 1 == FRAME {
                    0
                } else {
                    interval + 1
                };
                s += 1;
                // The design needs the whole DIL; the filler that follows only
                // keeps the line busy meanwhile.
                if self.auto.as_ref().is_some_and(|a| k + 1 == a.dil.len()) {
                    self.design_now();
                }
                continue;
            }
            let Some(slicer) = &self.slicer else {
                // No rate fits the line: nothing can be decided.
                break;
            };
            let (label, positive, d) = slicer.slice(interval, y);
            interval = if interval + 1 == FRAME {
                0
            } else {
                interval + 1
            };
            let e = d - y;
            if let (Some(tm), Some(i)) = (&mut self.timing, first) {
                // The output's slope: the same taps on the window one symbol
                // either side (a central difference).
                if i >= 1 && i + 1 + nf <= self.rx.len() {
                    let dy = 0.5
                        * (dot(ff, &self.rx[i + 1..i + 1 + nf])
                            - dot(ff, &self.rx[i - 1..i - 1 + nf]));
                    tm.update(e, dy);
                }
            }
            if g_scale > 0.0 {
                let g = g_scale * e;
                match first {
                    // With a feedback filter the next output waits for its
                    // update anyway: the lookahead would only add work.
                    Some(i) if fb.is_empty() && i + nf <= self.rx.len() => {
                        self.pending = Some((g, i + self.base));
                    }
                    _ => {
                        for (t, &x) in ff.iter_mut().zip(win) {
                            *t += g * x;
                        }
                    }
                }
                for (t, &x) in fb.iter_mut().zip(past) {
                    *t -= g * x;
                }
            }
            self.past.push(d);
            out.push(Symbol {
                soft: y,
                label,
                positive,
                error: e,
            });
            s += 1;
        }
        self.phase = Phase::Tracking { next: s };
    }
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    crate::core::fir::dot(a, b)
}

/// Solves A·x = b for symmetric positive definite A (lower triangle filled,
/// row-major n×n) by Cholesky; None if A is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut v = a[i * n + j];
            for k in 0..j {
                v -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = v / d;
        }
    }
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= a[i * n + k] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= a[k * n + i] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    Some(y)
}

struct EqualizerBlock {
    eq: PcmEqualizer,
    out: Vec<Symbol>,
    consumed: u64,
    /// The interval of the next data symbol to go out.
    interval: usize,
    reported: bool,
    finished: bool,
    /// The rate as set (None: the receiver chooses).
    rate: Option<u32>,
}

impl EqualizerBlock {
    fn emit(&mut self, io: &mut modemflow_flow::WorkIo<'_>, space: usize) -> usize {
        let n = self.out.len().min(space);
        let sym = &self.out[..n];
        io.outputs[0]
            .items::<u8>()
            .extend(sym.iter().map(|s| s.label));
        io.outputs[1]
            .items::<u8>()
            .extend(sym.iter().map(|s| u8::from(s.positive)));
        // The outputs for probes cost nothing while nobody reads them.
        if io.outputs[2].is_wanted() {
            io.outputs[2]
                .items::<f32>()
                .extend(sym.iter().map(|s| s.soft));
        }
        if io.outputs[3].is_wanted() {
            io.outputs[3]
                .items::<f32>()
                .extend(sym.iter().map(|s| s.error));
        }
        if io.outputs[5].is_wanted() {
            let tables = self.eq.ucodes();
            let mut interval = self.interval;
            io.outputs[5]
                .items::<Complex32>()
                .extend(sym.iter().map(|s| {
                    let ucode = tables
                        .and_then(|t| t[interval].get(usize::from(s.label)))
                        .map_or(f32::NAN, |&u| f32::from(u));
                    interval = (interval + 1) % FRAME;
                    let level = if s.positive { s.soft } else { -s.soft };
                    Complex32::new(ucode, level)
                }));
        }
        self.interval = (self.interval + n) % FRAME;
        self.out.drain(..n);
        n
    }

    /// CP records go out as soon as they are made (they are small and the
    /// digital modem waits for them).
    fn send_cp(&mut self, io: &mut modemflow_flow::WorkIo<'_>) {
        let cp = self.eq.take_cp();
        if !cp.is_empty() {
            io.outputs[4].items::<u8>().extend_from_slice(&cp);
        }
    }

    /// The `training` event: once trained, or in automatic mode once the
    /// rate is chosen.
    fn report_training(&mut self, io: &mut modemflow_flow::WorkIo<'_>) {
        if self.reported {
            return;
        }
        let Some(t) = self.eq.trained().cloned() else {
            return;
        };
        let (rate, moduli, dil_noise) = match (self.rate, self.eq.design()) {
            (Some(r), _) => (r, None, None),
            (None, None) => return,
            (None, Some(design)) => (
                design.map_or(0, |d| super::rates::bit_rate(d.d)),
                design.map(|d| d.ucodes.iter().map(Vec::len).collect::<Vec<_>>()),
                self.eq.dil_noise().map(|n| {
                    n.iter()
                        .map(|&p| hundredths(power_f32_to_dbm0(p)))
                        .collect::<Vec<_>>()
                }),
            ),
        };
        self.reported = true;
        let (ff, fb) = self.eq.taps();
        let mut fields = serde_json::json!({
            "t": self.consumed as f64 / 8000.0,
            "rate": rate,
            "delay": t.delay,
            "snr_db": hundredths(t.snr_db),
            "mse_dbm0": hundredths(power_f32_to_dbm0(t.mse)),
        });
        if let Some(m) = moduli {
            fields["moduli"] = serde_json::json!(m);
        }
        if let Some(n) = dil_noise {
            fields["dil_noise_dbm0"] = serde_json::json!(n);
        }
        fields["clock_ppm"] = serde_json::json!(self.eq.clock_ppm().map(hundredths));
        fields["ff"] = serde_json::json!(ff.iter().map(|&v| round6(v)).collect::<Vec<_>>());
        fields["fb"] = serde_json::json!(fb.iter().map(|&v| round6(v)).collect::<Vec<_>>());
        io.emit("training", fields);
    }
}

fn round6(v: f32) -> f64 {
    (f64::from(v) * 1e6).round() / 1e6
}

impl modemflow_flow::Block for EqualizerBlock {
    fn work(
        &mut self,
        io: &mut modemflow_flow::WorkIo<'_>,
    ) -> Result<modemflow_flow::Status, String> {
        let space = io.outputs.iter().map(|o| o.space()).min().unwrap_or(0);
        let sent = self.emit(io, space);
        // New input only once everything equalized so far is out.
        if self.out.is_empty() && !self.finished {
            let n = io.inputs[0].available();
            self.eq.push(io.inputs[0].items::<f32>(), &mut self.out);
            io.inputs[0].consume(n);
            self.consumed += n as u64;
            self.send_cp(io);
            self.report_training(io);
            if io.inputs[0].finished() && io.inputs[0].available() == 0 {
                self.eq.finish(&mut self.out);
                self.finished = true;
                self.send_cp(io);
                self.report_training(io);
                if let Some(mse) = self.eq.data_mse() {
                    io.emit(
                        "equalizer",
                        serde_json::json!({"mse_dbm0": hundredths(power_f32_to_dbm0(mse))}),
                    );
                }
            }
            self.emit(io, space - sent);
        }
        Ok(if self.finished && self.out.is_empty() {
            modemflow_flow::Status::Done
        } else {
            modemflow_flow::Status::Ok
        })
    }

    fn set_param(&mut self, name: &str, value: &modemflow_flow::Value) -> Result<(), String> {
        match (name, value.as_f64()) {
            ("mu", Some(m)) => {
                self.eq.set_mu(m as f32);
                Ok(())
            }
            _ => Err(format!(
                "parameter `{name}` cannot be changed while running"
            )),
        }
    }
}

fn make(a: &modemflow_flow::BlockArgs) -> Result<Box<dyn modemflow_flow::Block>, String> {
    let rate = a.int("rate")?;
    let law = super::params::law_arg(a)?;
    let cfg = Config {
        law,
        training: super::training::check_training(a.int("training")?)?,
        u_info: a.int("u_info")?.clamp(0, 127) as u8,
        ff_taps: a.int("ff_taps")?.clamp(1, 512) as usize,
        fb_taps: a.int("fb_taps")?.clamp(0, 1024) as usize,
        mu: a.float("mu")? as f32,
        timing: a.bool("timing")?,
    };
    let mut eq = if rate == 0 {
        let max_ucode = a.int("max_ucode")?.clamp(1, 127) as u8;
        PcmEqualizer::automatic(cfg, super::params::sr_arg(a)?, max_ucode)
    } else {
        PcmEqualizer::new(cfg, &super::params::constellation_arg(a)?)
    };
    eq.set_mu(a.float("mu")? as f32);
    Ok(Box::new(EqualizerBlock {
        eq,
        out: Vec::new(),
        consumed: 0,
        interval: 0,
        reported: false,
        finished: false,
        rate: (rate != 0).then_some(rate as u32),
    }))
}

pub fn spec() -> modemflow_flow::BlockSpec {
    use modemflow_flow::{ItemType, ParamSpec, PortSpec, Rate};
    let s = modemflow_flow::BlockSpec::new(
        "pcm_equalizer",
        "V.90",
        "Adaptive decision-feedback equalizer for V.90's PCM symbols, trained on TRN1d",
        make,
    )
    .doc(
        "The analogue modem's equalizer: a T-spaced feed-forward filter (`ff_taps`) on the line samples and a \
         decision-feedback filter (`fb_taps`) on past symbols. The line must start with the TRN1d training that \
         `pcm_train` sends (same `training`, `u_info`, `law`): the equalizer finds the bulk delay by correlation \
         (0 to 127 samples), solves the least-squares taps over the whole training (this also sets the gain, \
         so no separate AGC is needed), then runs decision-directed on the data constellation of `rate`, `sr`, \
         `law`, `max_ucode`, adapting with normalised LMS step `mu` (0 freezes the taps). Per data symbol it \
         outputs its decision (`labels`, `signs`, as `pcm_slicer` would give them) and, for probes, the soft \
         value on the line's scale (signed Table 1 value / 32768), the decision error, and on `ucodes` the decided \
         Ucode beside the received level, which shows the network's companding curve as the receiver sees it \
         (the probe outputs cost nothing while unconnected and unprobed); the training and the \
         guard `pcm_train` sends after the data (found on the line by correlation with TRN1d's continuation) \
         are removed.\n\n\
         With `timing` the A/D's clock may differ from the network's: the line is resampled at the symbol \
         instants (96-tap band-limited interpolation); the clock ratio is read from where TRN1d's two ends lie on \
         the line, refined over the training by three passes that measure the timing error the solved taps leave, \
         and then tracked by a second-order loop on e·y′.\n\n\
         With `rate` 0 the receiver chooses: after TRN1d comes the DIL (`pcm_train` with `rate` 0); the \
         equalizer measures every Ucode's received level in every interval and the noise (twice: the second pass \
         feeds back the levels the first measured, so codes the network changed do not bias it), picks per interval the \
         levels at least 13 σ apart and the highest rate whose K bits they carry, decides on the measured \
         levels, and sends its choice on `cp` (a CP record: D and one Ucode mask per interval) for the digital \
         modem's `modulus_encoder`/`pcm_mapper` and the receiver's `modulus_decoder`. If not even 28 000 bit/s \
         fits, the record says cleardown (D = 0). The measurement and the choice are those of the \
         `dil_analyzer` and `constellation_designer` blocks, run here on the equalizer's own output.\n\n\
         Events: `training` (the rate, delay, SNR and MSE over the training, with `rate` 0 the moduli and the DIL \
         noise per interval, with `timing` the clock offset found, all taps) and, at the end, `equalizer` (the \
         decision error's power over the data).",
    )
    .param(
        ParamSpec::int("ff_taps", "feed-forward taps (T-spaced)")
            .default(32)
            .range(1.0, 512.0),
    )
    .param(
        ParamSpec::int("fb_taps", "decision-feedback taps")
            .default(64)
            .range(0.0, 1024.0),
    )
    .param(
        ParamSpec::bool(
            "timing",
            "recover the symbol timing when the A/D clock is off the network's (costs about twice the work)",
        )
        .default(false),
    )
    .param(
        ParamSpec::float("mu", "normalised LMS step while decision-directed (0: taps frozen after training)")
            .default(0.002)
            .range(0.0, 1.0)
            .live(),
    );
    super::training::training_params(s)
        .param(super::params::choosing_rate_param())
        .param(super::params::sr_param())
        .param(super::params::law_param())
        .param(super::params::max_ucode_param())
        .input(PortSpec::new(
            "in",
            ItemType::F32,
            "line samples, 8000/s, starting with TRN1d",
        ))
        .output(
            PortSpec::new(
                "labels",
                ItemType::Octet,
                "decided label of each data symbol (label 0 = largest Ucode)",
            )
            .rate(Rate::Varies),
        )
        .output(
            PortSpec::new(
                "signs",
                ItemType::Bit,
                "decided sign of each data symbol (1 = positive)",
            )
            .rate(Rate::Varies),
        )
        .output(
            PortSpec::new(
                "out",
                ItemType::F32,
                "equalized soft value of each data symbol (optional, for probes)",
            )
            .rate(Rate::Varies)
            .optional(),
        )
        .output(
            PortSpec::new(
                "error",
                ItemType::F32,
                "decision error of each data symbol (optional, for probes)",
            )
            .rate(Rate::Varies)
            .optional(),
        )
        .output(
            PortSpec::new(
                "cp",
                ItemType::Octet,
                "with rate 0: the rate and constellations chosen after the DIL, as a CP record for the \
                 digital modem's blocks and the receiver's modulus decoder (optional)",
            )
            .rate(Rate::Varies)
            .optional(),
        )
        .output(
            PortSpec::new(
                "ucodes",
                ItemType::C32,
                "each data symbol's decided Ucode (re) and its received level on the decided sign's \
                 side (im, line scale): received level versus Ucode, for probes",
            )
            .rate(Rate::Varies)
            .optional(),
        )
        .event(modemflow_flow::EventSpec::new(
            "training",
            "training done",
            &[
                ("t", "seconds of line signal read when training (with rate 0: the DIL) ended"),
                ("rate", "the data rate, bit/s (with rate 0: as chosen; 0 if none fits)"),
                ("delay", "bulk delay found, samples"),
                (
                    "snr_db",
                    "training symbols' power over the residual error's, dB",
                ),
                ("mse_dbm0", "residual error power over the training, dBm0"),
                ("ff", "feed-forward taps"),
                ("fb", "feedback taps"),
                ("moduli", "with rate 0: levels chosen per interval"),
                ("dil_noise_dbm0", "with rate 0: noise per interval measured in the DIL, dBm0"),
                ("clock_ppm", "with timing: the A/D clock's offset found, ppm (null without)"),
            ],
        ))
        .event(modemflow_flow::EventSpec::new(
            "equalizer",
            "end of stream: how well the data was equalized",
            &[("mse_dbm0", "decision error power over the data, dBm0")],
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    fn cfg(training: usize) -> Config {
        Config {
            law: Law::Mu,
            training,
            u_info: 88,
            ff_taps: 32,
            fb_taps: 64,
            mu: 0.002,
            timing: false,
        }
    }

    /// Training, `n` random data symbols of `c`, guard: the line symbols,
    /// and the data levels.
    fn line_symbols(
        c: &Constellation,
        training: usize,
        n: usize,
        seed: u64,
    ) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Pcg64::seed_from_u64(seed);
        let lin = super::super::ucode::linear_table(c.law());
        let mut trn = Trn1d::new(c.law(), 88);
        let mut x: Vec<f32> = (0..training).map(|_| trn.next_value()).collect();
        let data: Vec<f32> = (0..n)
            .map(|k| {
                let iv = c.interval(k % FRAME);
                let u = iv[rng.random_range(0..iv.len())];
                let v = lin[usize::from(u)] as f32 / 32768.0;
                if rng.random_bool(0.5) {
                    v
                } else {
                    -v
                }
            })
            .collect();
        x.extend_from_slice(&data);
        x.extend((0..GUARD).map(|_| trn.next_value()));
        (x, data)
    }

    /// A loop-like channel: `delay` samples, a short low-pass spread, a
    /// transformer's slow high-pass tail, a little noise.
    fn channel(x: &[f32], delay: usize, noise: f32, seed: u64) -> Vec<f32> {
        let h = [0.02f32, 0.9, 0.25, -0.06, 0.02];
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut y = vec![0f32; x.len() + delay + h.len()];
        for (n, &v) in x.iter().enumerate() {
            for (k, &g) in h.iter().enumerate() {
                y[n + delay + k] += g * v;
            }
        }
        // High-pass: y − (one-pole low-pass of y), a 30 Hz corner.
        let a = (-std::f32::consts::TAU * 30.0 / 8000.0).exp();
        let mut lp = 0.0f32;
        for v in &mut y {
            lp = a * lp + (1.0 - a) * *v;
            *v -= lp;
        }
        for v in &mut y {
            *v += noise * (rng.random::<f32>() - 0.5) * 3.46;
        }
        y
    }

    fn equalize(eq: &mut PcmEqualizer, y: &[f32], chunk: usize) -> Vec<Symbol> {
        let mut out = Vec::new();
        for c in y.chunks(chunk) {
            eq.push(c, &mut out);
        }
        eq.finish(&mut out);
        out
    }

    #[test]
    fn trains_then_decides_every_56k_symbol_right() {
        let c = Constellation::design(Law::Mu, 36, 127).unwrap();
        let (x, data) = line_symbols(&c, 6000, 60_000, 1);
        let y = channel(&x, 9, 1e-5, 2);
        let mut eq = PcmEqualizer::new(cfg(6000), &c);
        let out = equalize(&mut eq, &y, 4096);
        let t = eq.trained().unwrap().clone();
        assert_eq!(t.delay, 10, "{t:?}");
        assert!(t.snr_db > 60.0, "{t:?}");
        assert_eq!(out.len(), data.len());
        let slicer = Slicer::new(&c);
        let wrong = out
            .iter()
            .zip(&data)
            .enumerate()
            .filter(|(k, (sym, &x))| {
                let (label, positive, level) = slicer.slice(k % FRAME, sym.soft);
                level != x || label != sym.label || positive != sym.positive
            })
            .count();
        assert_eq!(wrong, 0);
    }

    /// The block's `ucodes` output pairs each decision's Ucode with the
    /// received level: the Ucode that was sent, and a level within the
    /// line's noise of that Ucode's Table 1 value, in the interval's
    /// constellation.
    #[test]
    fn ucodes_output_pairs_each_sent_ucode_with_its_level() {
        use crate::testutil::{chunked, items, make as build, run};
        use modemflow_flow::{ItemType, Value};
        let c = Constellation::design(Law::Mu, 36, 127).unwrap();
        let (x, data) = line_symbols(&c, 6000, 30_000, 3);
        let y = channel(&x, 9, 1e-5, 4);
        let lin = super::super::ucode::linear_table(Law::Mu);
        let params = [
            ("rate", Value::Int(56000)),
            ("training", Value::Int(6000)),
            ("u_info", Value::Int(88)),
        ];
        let outs = [
            ItemType::Octet,
            ItemType::Bit,
            ItemType::F32,
            ItemType::F32,
            ItemType::Octet,
            ItemType::C32,
        ];
        let mut b = build(&spec(), &params).unwrap();
        let r = run(
            &mut *b,
            Some(ItemType::F32),
            &chunked(&y, &[4096, 777]),
            &outs,
            1000,
            0,
        )
        .unwrap();
        let pairs: Vec<Complex32> = items(&r.outputs[5]);
        assert_eq!(pairs.len(), data.len());
        assert_eq!(items::<f32>(&r.outputs[2]).len(), data.len());
        let mut worst = 0f32;
        for (k, (p, &sent)) in pairs.iter().zip(&data).enumerate() {
            let u = p.re as usize;
            assert_eq!(p.re, u as f32, "symbol {k}: {p}");
            assert_eq!(lin[u] as f32 / 32768.0, sent.abs(), "symbol {k}: Ucode {u}");
            assert!(c.interval(k % FRAME).contains(&(u as u8)), "symbol {k}");
            worst = worst.max((p.im - sent.abs()).abs());
        }
        // Far inside the nearest levels' half distance at 56 000 bit/s.
        assert!(worst < 2e-4, "{worst}");
    }

    /// Without a feedback filter each step is added one symbol late and the
    /// next output corrected for it: the same equalizer up to rounding, and
    /// still independent of how the line is split.
    #[test]
    fn lookahead_step_equals_the_plain_nlms() {
        let c = Constellation::design(Law::Mu, 36, 127).unwrap();
        let (x, _) = line_symbols(&c, 2040, 20_000, 5);
        let y = channel(&x, 6, 1e-5, 6);
        let ff_only = Config {
            ff_taps: 16,
            fb_taps: 0,
            ..cfg(2040)
        };
        let mut eq = PcmEqualizer::new(ff_only.clone(), &c);
        let out = equalize(&mut eq, &y, 4096);
        assert_eq!(out.len(), 20_000);
        // The plain NLMS, from the trained taps, on the same windows.
        let mut trained = PcmEqualizer::new(ff_only.clone(), &c);
        trained.set_mu(0.0);
        let mut none = Vec::new();
        trained.push(&y[..2040 + MAX_DELAY + 16], &mut none);
        let (mut f, _) = trained.taps();
        let slicer = Slicer::new(&c);
        let (delay, pre) = (trained.delay, precursor_taps(16));
        let g_scale = ff_only.mu / trained.norm;
        let mut worst = 0f32;
        for (k, sym) in out.iter().enumerate() {
            let s = 2040 + k;
            let win = &y[s + delay - pre..s + delay - pre + 16];
            let soft = dot(&f, win);
            worst = worst.max((soft - sym.soft).abs());
            let (label, _, d) = slicer.slice(k % FRAME, soft);
            assert_eq!(label, sym.label, "symbol {k}");
            let g = g_scale * (d - soft);
            for (t, &v) in f.iter_mut().zip(win) {
                *t += g * v;
            }
        }
        assert!(worst < 1e-5, "largest difference {worst}");
        for chunk in [1, 5, 999] {
            let again = equalize(&mut PcmEqualizer::new(ff_only.clone(), &c), &y, chunk);
            assert!(again == out, "chunk {chunk}");
        }
    }

    #[test]
    fn same_output_whatever_the_chunking() {
        let c = Constellation::design(Law::A, 30, 127).unwrap();
        let (x, _) = line_symbols(&c, 2040, 3000, 3);
        let y = channel(&x, 4, 1e-4, 4);
        let one = equalize(&mut PcmEqualizer::new(cfg(2040), &c), &y, 4096);
        for chunk in [1, 7, 333] {
            let again = equalize(&mut PcmEqualizer::new(cfg(2040), &c), &y, chunk);
            assert!(again == one, "chunk {chunk}");
        }
    }

    #[test]
    fn garbage_and_silence_never_panic() {
        let c = Constellation::design(Law::Mu, 24, 127).unwrap();
        for x in [f32::NAN, f32::INFINITY, 1e30, 0.0] {
            let mut eq = PcmEqualizer::new(cfg(2040), &c);
            let out = equalize(&mut eq, &vec![x; 9000], 1000);
            assert!(out
                .iter()
                .all(|s| s.soft.is_finite() && s.error.is_finite()));
        }
        // Cut short in the training: nothing comes out.
        let mut eq = PcmEqualizer::new(cfg(2040), &c);
        assert!(equalize(&mut eq, &[0.1; 100], 10).is_empty());
    }

    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2], [2, 3]] (lower triangle given), b = [2, 1] → x = [0.5, 0].
        let mut a = vec![4.0, 0.0, 2.0, 3.0];
        let x = cholesky_solve(&mut a, &[2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        let mut singular = vec![0.0; 4];
        assert!(cholesky_solve(&mut singular, &[1.0, 1.0], 2).is_none());
    }
}

#[cfg(test)]
mod timing_tests {
    use super::*;
    use crate::channel::analog_loop::{AnalogLoop, LoopShape};
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    /// 56 000 bit/s through the mild loop with the A/D `ppm` off: (clock
    /// estimate after training, training SNR, wrong decisions).
    fn run(ppm: f64, n: usize, timing: bool) -> (f64, f64, usize) {
        let c = Constellation::design(Law::Mu, 36, 127).unwrap();
        let lin = super::super::ucode::linear_table(Law::Mu);
        let mut rng = Pcg64::seed_from_u64(5);
        let mut trn = Trn1d::new(Law::Mu, 88);
        let mut x: Vec<f32> = (0..6000).map(|_| trn.next_value()).collect();
        let data: Vec<f32> = (0..n)
            .map(|k| {
                let iv = c.interval(k % FRAME);
                let v = lin[usize::from(iv[rng.random_range(0..iv.len())])] as f32 / 32768.0;
                if rng.random_bool(0.5) {
                    v
                } else {
                    -v
                }
            })
            .collect();
        x.extend_from_slice(&data);
        x.extend((0..GUARD).map(|_| trn.next_value()));
        let mut line =
            AnalogLoop::new(LoopShape::preset("mild").unwrap(), 0.0, -90.0, ppm, 1).unwrap();
        let mut y = Vec::new();
        line.process(&x, &mut y, usize::MAX);
        line.finish(&mut y, usize::MAX);
        let cfg = Config {
            law: Law::Mu,
            training: 6000,
            u_info: 88,
            ff_taps: 32,
            fb_taps: 64,
            mu: 0.002,
            timing,
        };
        let mut eq = PcmEqualizer::new(cfg, &c);
        let mut out = Vec::new();
        for chunk in y.chunks(4096) {
            eq.push(chunk, &mut out);
        }
        eq.finish(&mut out);
        let slicer = Slicer::new(&c);
        let wrong = out
            .iter()
            .zip(&data)
            .enumerate()
            .filter(|(k, (s, &v))| slicer.slice(k % FRAME, s.soft).2 != v)
            .count();
        (
            eq.clock_ppm().unwrap_or(0.0),
            eq.trained().unwrap().snr_db,
            wrong + data.len().abs_diff(out.len()),
        )
    }

    /// The A/D runs 0 or ±100 ppm off the network's clock: with timing
    /// recovery every 56 000 bit/s decision is right, the clock is found
    /// within 0.01 ppm and the training is as clean as the line allows (the
    /// loop model's own resampler is good to about −64 dB); without it, an
    /// offset ruins the training.
    #[test]
    fn timing_recovery_follows_a_clock_offset() {
        for ppm in [0.0, 100.0, -100.0] {
            let (est, snr, wrong) = run(ppm, 40_000, true);
            assert_eq!(wrong, 0, "{ppm} ppm");
            assert!((est - ppm).abs() < 0.01, "{ppm} ppm: estimated {est}");
            assert!(snr > 65.0, "{ppm} ppm: training SNR {snr}");
        }
        let (_, snr, wrong) = run(0.0, 40_000, false);
        assert!(snr > 70.0 && wrong == 0);
        let (_, snr, wrong) = run(100.0, 40_000, false);
        assert!(snr < 20.0 && wrong > 1000, "{snr} {wrong}");
    }
}
