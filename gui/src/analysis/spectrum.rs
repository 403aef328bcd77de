//! Power spectra of a probed wire: an averaged spectrum for reading levels and
//! a waterfall for seeing how the spectrum changes over time.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// Smallest FFT: fewer bins than this cannot show anything useful.
const MIN_N: usize = 16;
/// Largest FFT (8 s at 8 kHz), so a bad setting cannot exhaust memory.
const MAX_N: usize = 1 << 16;
/// Most waterfall rows kept.
const MAX_ROWS: usize = 4096;
/// Power shown for empty bins: -200 dB.
const FLOOR_POWER: f64 = 1e-20;

fn fft_size(n: usize) -> usize {
    n.clamp(MIN_N, MAX_N).next_power_of_two()
}

fn sane_rate(sample_rate: f64) -> f64 {
    if sample_rate.is_finite() && sample_rate > 0.0 {
        sample_rate
    } else {
        8000.0
    }
}

fn to_db(power: f64) -> f64 {
    if power.is_nan() {
        return 10.0 * FLOOR_POWER.log10();
    }
    10.0 * power.max(FLOOR_POWER).log10()
}

/// One windowed FFT frame turned into a one-sided power spectrum.
///
/// Works in f64 so that even `f32::MAX` samples cannot overflow the sums.
/// Scaled so the bin of a sine holds the sine's mean-square power.
struct PowerFft {
    fft: Arc<dyn Fft<f64>>,
    window: Vec<f64>,
    /// 2 / (sum of window)^2: one-sided power scale for the inner bins.
    scale: f64,
    buf: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl PowerFft {
    fn new(n: usize) -> PowerFft {
        let fft = FftPlanner::<f64>::new().plan_fft_forward(n);
        // Periodic Hann: the right window for spectral analysis with overlap.
        let window: Vec<f64> = (0..n)
            .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos())
            .collect();
        let sum: f64 = window.iter().sum();
        let scratch = vec![Complex::default(); fft.get_inplace_scratch_len()];
        PowerFft {
            fft,
            window,
            scale: 2.0 / (sum * sum),
            buf: vec![Complex::default(); n],
            scratch,
        }
    }

    fn n(&self) -> usize {
        self.window.len()
    }

    /// Power of bins 0..=n/2 of `frame` (exactly n samples) handed to `out`.
    fn power(&mut self, frame: &[f32], mut out: impl FnMut(usize, f64)) {
        for ((b, &x), &w) in self.buf.iter_mut().zip(frame).zip(&self.window) {
            let x = if x.is_finite() { x as f64 } else { 0.0 };
            *b = Complex::new(x * w, 0.0);
        }
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        let half = self.n() / 2;
        for (k, c) in self.buf[..=half].iter().enumerate() {
            // DC and Nyquist have no mirror image to fold in.
            let fold = if k == 0 || k == half { 0.5 } else { 1.0 };
            out(k, c.norm_sqr() * self.scale * fold);
        }
    }
}

/// Averaged power spectrum: Hann window, 50 % overlap, exponential averaging.
pub struct Spectrum {
    fft: PowerFft,
    sample_rate: f64,
    averages: usize,
    /// Samples waiting for the next frame (fewer than n).
    pending: Vec<f32>,
    avg: Vec<f64>,
    frames: u64,
}

impl fmt::Debug for Spectrum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spectrum")
            .field("n", &self.n())
            .field("sample_rate", &self.sample_rate)
            .field("averages", &self.averages)
            .field("frames", &self.frames)
            .finish()
    }
}

impl Spectrum {
    /// `n` is rounded up to a power of two in 16..=65536; `averages` (min 1)
    /// is roughly how many frames the exponential average remembers.
    /// A non-positive or non-finite `sample_rate` becomes 8000.
    pub fn new(n: usize, sample_rate: f64, averages: usize) -> Spectrum {
        let n = fft_size(n);
        Spectrum {
            fft: PowerFft::new(n),
            sample_rate: sane_rate(sample_rate),
            averages: averages.max(1),
            pending: Vec::with_capacity(n),
            avg: vec![0.0; n / 2 + 1],
            frames: 0,
        }
    }

    /// Feeds samples; every n/2 new samples complete a frame.
    pub fn push(&mut self, x: &[f32]) {
        let n = self.n();
        let mut rest = x;
        while !rest.is_empty() {
            let take = (n - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == n {
                self.frame();
                self.pending.drain(..n / 2);
            }
        }
    }

    fn frame(&mut self) {
        self.frames += 1;
        // A plain mean until `averages` frames are in, so the start is not biased to zero.
        let alpha = 1.0 / self.frames.min(self.averages as u64) as f64;
        let avg = &mut self.avg;
        self.fft
            .power(&self.pending, |k, p| avg[k] += alpha * (p - avg[k]));
    }

    /// (frequency Hz, power dB) for bins 0..=n/2; a sine of amplitude A reads
    /// 10·log10(A²/2) at its bin. All bins read -200 dB before the first frame.
    pub fn db(&self) -> Vec<[f64; 2]> {
        let bin = self.bin_hz();
        self.avg
            .iter()
            .enumerate()
            .map(|(k, &p)| [k as f64 * bin, to_db(p)])
            .collect()
    }

    /// The strongest bin as (frequency Hz, power dB), once a frame is in.
    pub fn peak(&self) -> Option<[f64; 2]> {
        if self.frames == 0 {
            return None;
        }
        let (k, &p) = self
            .avg
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        Some([k as f64 * self.bin_hz(), to_db(p)])
    }

    /// Width of one bin in Hz.
    pub fn bin_hz(&self) -> f64 {
        self.sample_rate / self.n() as f64
    }

    /// Forgets the average and any partial frame.
    pub fn clear(&mut self) {
        self.pending.clear();
        self.avg.iter_mut().for_each(|p| *p = 0.0);
        self.frames = 0;
    }

    /// Frames averaged so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// FFT size.
    pub fn n(&self) -> usize {
        self.fft.n()
    }
}

/// Waterfall: one spectrum row (dB) per n samples, newest first, bounded in rows.
pub struct Waterfall {
    fft: PowerFft,
    sample_rate: f64,
    max_rows: usize,
    pending: Vec<f32>,
    rows: VecDeque<Vec<f32>>,
}

impl fmt::Debug for Waterfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waterfall")
            .field("n", &self.n())
            .field("sample_rate", &self.sample_rate)
            .field("rows", &self.rows.len())
            .field("max_rows", &self.max_rows)
            .finish()
    }
}

impl Waterfall {
    /// `n` as for [`Spectrum::new`]; `rows` is clamped to 1..=4096.
    pub fn new(n: usize, sample_rate: f64, rows: usize) -> Waterfall {
        let n = fft_size(n);
        let max_rows = rows.clamp(1, MAX_ROWS);
        Waterfall {
            fft: PowerFft::new(n),
            sample_rate: sane_rate(sample_rate),
            max_rows,
            pending: Vec::with_capacity(n),
            rows: VecDeque::with_capacity(max_rows),
        }
    }

    /// Feeds samples; every n samples (no overlap) add one row.
    pub fn push(&mut self, x: &[f32]) {
        let n = self.n();
        let mut rest = x;
        // Rows that would scroll out before the end of this chunk are not computed.
        let whole = (self.pending.len() + rest.len()) / n;
        if whole > self.max_rows {
            let skip = (whole - self.max_rows) * n - self.pending.len();
            self.pending.clear();
            rest = &rest[skip..];
        }
        while !rest.is_empty() {
            let take = (n - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == n {
                self.add_row();
                self.pending.clear();
            }
        }
    }

    fn add_row(&mut self) {
        let mut row = if self.rows.len() >= self.max_rows {
            self.rows.pop_back().unwrap_or_default()
        } else {
            Vec::with_capacity(self.n() / 2 + 1)
        };
        row.clear();
        self.fft
            .power(&self.pending, |_, p| row.push(to_db(p) as f32));
        self.rows.push_front(row);
    }

    /// Rows newest first, each n/2+1 dB values for bins 0..=n/2.
    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.rows.iter().map(Vec::as_slice)
    }

    /// Number of rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is complete yet.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Width of one bin in Hz.
    pub fn bin_hz(&self) -> f64 {
        self.sample_rate / self.n() as f64
    }

    /// FFT size.
    pub fn n(&self) -> usize {
        self.fft.n()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(len: usize, freq: f64, amp: f64, rate: f64) -> Vec<f32> {
        (0..len)
            .map(|i| (amp * (std::f64::consts::TAU * freq * i as f64 / rate).sin()) as f32)
            .collect()
    }

    fn peak(db: &[[f64; 2]]) -> [f64; 2] {
        *db.iter().max_by(|a, b| a[1].total_cmp(&b[1])).unwrap()
    }

    #[test]
    fn sizes_are_clamped() {
        assert_eq!(Spectrum::new(0, 8000.0, 0).n(), 16);
        assert_eq!(Spectrum::new(1000, 8000.0, 1).n(), 1024);
        assert_eq!(Spectrum::new(usize::MAX, 8000.0, 1).n(), 1 << 16);
        assert_eq!(Spectrum::new(256, f64::NAN, 1).bin_hz(), 8000.0 / 256.0);
        assert_eq!(Spectrum::new(256, 8000.0, 1).db().len(), 129);
    }

    #[test]
    fn sine_peak_frequency_and_level() {
        for (amp, freq) in [(1.0, 1000.0), (0.1, 1000.0), (0.5, 1234.5)] {
            let mut s = Spectrum::new(1024, 8000.0, 4);
            s.push(&sine(8000, freq, amp, 8000.0));
            assert_eq!(s.frames(), 14); // (8000 - 1024) / 512 + 1
            let db = s.db();
            let [f, _] = peak(&db);
            assert!((f - freq).abs() <= s.bin_hz(), "peak at {f} for {freq}");
            // Off-bin sines lose up to 1.42 dB to the Hann window's scalloping, so
            // compare the total power around the peak (divided by Hann's noise
            // bandwidth of 1.5 bins) with the sine's mean square.
            let k = (f / s.bin_hz()).round() as usize;
            let sum: f64 = db[k - 3..=k + 3]
                .iter()
                .map(|p| 10f64.powf(p[1] / 10.0))
                .sum();
            let want = 10.0 * (amp * amp / 2.0).log10();
            let got = 10.0 * (sum / 1.5).log10();
            assert!((got - want).abs() < 0.5, "{got} dB vs {want} dB");
        }
    }

    #[test]
    fn full_scale_on_bin_sine_reads_minus_3_db() {
        let mut s = Spectrum::new(1024, 8000.0, 1);
        s.push(&sine(1024, 1000.0, 1.0, 8000.0));
        assert_eq!(s.frames(), 1);
        let [f, p] = s.peak().unwrap();
        assert_eq!(f, 1000.0);
        assert!((p + 3.0103).abs() < 0.01, "{p}");
        // Far from the tone the Hann sidelobes are negligible.
        assert!(s.db()[40][1] < -100.0);
    }

    #[test]
    fn dc_reads_its_mean_square() {
        let mut s = Spectrum::new(64, 8000.0, 1);
        s.push(&[0.5; 64]);
        let db = s.db();
        assert!(
            (db[0][1] - 10.0 * 0.25f64.log10()).abs() < 0.01,
            "{}",
            db[0][1]
        );
    }

    #[test]
    fn chunking_does_not_change_result() {
        let x = sine(3000, 700.0, 0.3, 8000.0);
        let mut a = Spectrum::new(256, 8000.0, 8);
        a.push(&x);
        let mut b = Spectrum::new(256, 8000.0, 8);
        for c in x.chunks(37) {
            b.push(c);
        }
        assert_eq!(a.frames(), b.frames());
        for (p, q) in a.db().iter().zip(b.db()) {
            assert!((p[1] - q[1]).abs() < 1e-9);
        }
    }

    #[test]
    fn averaging_follows_a_level_change() {
        let mut s = Spectrum::new(256, 8000.0, 4);
        s.push(&sine(256 * 20, 1000.0, 1.0, 8000.0));
        s.push(&vec![0.0; 256 * 40]);
        // After many silent frames the tone has faded far below its old level.
        assert!(s.db()[32][1] < -40.0);
    }

    #[test]
    fn silence_and_empty_read_floor() {
        let s = Spectrum::new(32, 8000.0, 1);
        assert!(s.peak().is_none());
        assert!(s.db().iter().all(|p| p[1] == -200.0));
        let mut s = Spectrum::new(32, 8000.0, 1);
        s.push(&[0.0; 32]);
        assert!(s.db().iter().all(|p| p[1] == -200.0));
    }

    #[test]
    fn garbage_does_not_panic_or_poison() {
        let mut s = Spectrum::new(16, 8000.0, 2);
        s.push(&[]);
        s.push(&[
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            0.0,
        ]);
        s.push(&[f32::MAX; 100]);
        assert!(s.db().iter().all(|p| p[1].is_finite()));
        let mut s = Spectrum::new(16, 8000.0, 1);
        s.push(&[f32::NAN; 16]);
        assert!(s.db().iter().all(|p| p[1] == -200.0));
        let mut w = Waterfall::new(0, -1.0, 0);
        w.push(&[f32::NAN, f32::INFINITY, f32::MAX, f32::MIN]);
        w.push(&[f32::MAX; 100]);
        assert!(w.rows().all(|r| r.iter().all(|v| v.is_finite())));
    }

    #[test]
    fn waterfall_rows_newest_first_and_bounded() {
        let mut w = Waterfall::new(64, 8000.0, 3);
        assert!(w.is_empty());
        // Row per 64 samples: tone at bin 4, then bin 8, ..., last at bin 20.
        for k in 1..=5 {
            w.push(&sine(64, 4.0 * k as f64 * 125.0, 1.0, 8000.0));
        }
        assert_eq!(w.len(), 3);
        let peaks: Vec<usize> = w
            .rows()
            .map(|r| {
                assert_eq!(r.len(), 33);
                (0..r.len()).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap()
            })
            .collect();
        assert_eq!(peaks, [20, 16, 12]);
        let top = w.rows().next().unwrap()[20];
        assert!((top + 3.0103).abs() < 0.01);
    }

    #[test]
    fn waterfall_big_chunk_keeps_newest_rows() {
        let mut x = vec![0.0f32; 64 * 10 + 5];
        x[64 * 9..64 * 10].copy_from_slice(&sine(64, 1000.0, 1.0, 8000.0));
        let mut w = Waterfall::new(64, 8000.0, 2);
        w.push(&x);
        assert_eq!(w.len(), 2);
        let rows: Vec<&[f32]> = w.rows().collect();
        assert!((rows[0][8] + 3.0103).abs() < 0.01);
        assert_eq!(rows[1][8], -200.0);
        // The 5 leftover samples still count towards the next row.
        w.push(&[0.0; 59]);
        assert_eq!(w.rows().next().unwrap()[8], -200.0);
        assert_eq!(w.rows().nth(1).unwrap()[8], rows_top(&x));
    }

    fn rows_top(x: &[f32]) -> f32 {
        let mut w = Waterfall::new(64, 8000.0, 1);
        w.push(&x[64 * 9..64 * 10]);
        let top = w.rows().next().unwrap()[8];
        top
    }
}
