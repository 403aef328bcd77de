//! A band-limited resampler for any integer rate ratio to 8000 Hz.
//!
//! Windowed-sinc interpolation: output sample k sits at input time
//! t = k·fs_in/fs_out, and y = Σ x[n]·h(t − n). The kernel h is a lowpass at
//! [`CUTOFF_HZ`] (at the output rate, so it also removes what would alias),
//! Blackman-windowed over ±[`ZERO_CROSSINGS`] output periods. It is tabulated
//! at [`PHASES`] fractional offsets and interpolated linearly between them.
//! Positions are kept as exact integers, so there is no drift over long files.

use std::f64::consts::PI;

/// Lowpass cutoff (−6 dB): keeps the 300 … 3400 Hz voice band flat and
/// removes what would fold back from above 4 kHz.
pub const CUTOFF_HZ: f64 = 3800.0;
/// Kernel half-width in output periods.
pub const ZERO_CROSSINGS: usize = 32;
/// Table resolution per input sample.
pub const PHASES: usize = 256;

/// Streaming resampler from `fs_in` to `fs_out` samples per second.
#[derive(Clone, Debug)]
pub struct Resampler {
    fs_in: u64,
    fs_out: u64,
    /// Taps each side of the output time, in input samples.
    half: usize,
    /// table[p·2·half + j] = h(p/PHASES + half − 1 − j) for p in 0..=PHASES.
    table: Vec<f32>,
    /// Input still reachable by future outputs (at first `half − 1` zeros
    /// standing for the time before the signal).
    buf: Vec<f32>,
    /// Time of the next output in buf's indices, times fs_out.
    pos: u64,
    passthrough: bool,
}

impl Resampler {
    pub fn new(fs_in: u32, fs_out: u32) -> Self {
        let (fs_in, fs_out) = (u64::from(fs_in.max(1)), u64::from(fs_out.max(1)));
        let ratio = fs_in as f64 / fs_out as f64;
        // Cutoff as a fraction of the input rate; never above the input's Nyquist.
        let fc = (CUTOFF_HZ.min(0.475 * fs_in as f64)) / fs_in as f64;
        let half = ((ZERO_CROSSINGS as f64 * ratio.max(1.0)).ceil() as usize).max(1);
        let width = 2 * half;
        let mut table = vec![0.0f32; (PHASES + 1) * width];
        for p in 0..=PHASES {
            let frac = p as f64 / PHASES as f64;
            let row = &mut table[p * width..(p + 1) * width];
            let mut vals = vec![0.0f64; width];
            for (j, v) in vals.iter_mut().enumerate() {
                // Tap j multiplies input sample n0 − half + 1 + j; its distance
                // from the output time t = n0 + frac is d.
                let d = frac + half as f64 - 1.0 - j as f64;
                let s = if d == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * PI * fc * d).sin() / (PI * d)
                };
                let u = (d / half as f64).clamp(-1.0, 1.0);
                // Blackman window over [−half, half].
                let w = 0.42 + 0.5 * (PI * u).cos() + 0.08 * (2.0 * PI * u).cos();
                *v = s * w;
            }
            // Unity gain at DC for every phase.
            let sum: f64 = vals.iter().sum();
            for (r, v) in row.iter_mut().zip(&vals) {
                *r = (v / sum) as f32;
            }
        }
        Resampler {
            fs_in,
            fs_out,
            half,
            table,
            // Zero history before the first sample.
            buf: vec![0.0; half - 1],
            pos: (half as u64 - 1) * fs_out,
            passthrough: fs_in == fs_out,
        }
    }

    /// Adds input and appends every output that no longer depends on later input.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.passthrough {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend_from_slice(input);
        self.drain(out);
    }

    /// Ends the input (as if followed by zeros) and appends the remaining
    /// outputs, so the output has ⌈inputs·fs_out/fs_in⌉ samples in all.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.passthrough {
            return;
        }
        // Outputs continue up to (not including) the time just past the last
        // real input; the zeros only complete their kernels.
        let end = self.buf.len() as u64 * self.fs_out;
        let pad = vec![0.0; self.half + 1];
        self.buf.extend_from_slice(&pad);
        while self.pos < end {
            if !self.one(out) {
                break;
            }
        }
    }

    fn one(&mut self, out: &mut Vec<f32>) -> bool {
        let width = 2 * self.half;
        let n0 = (self.pos / self.fs_out) as usize;
        if n0 + self.half >= self.buf.len() || n0 + 1 < self.half {
            return false;
        }
        let frac = (self.pos % self.fs_out) as f64 / self.fs_out as f64 * PHASES as f64;
        let p = (frac as usize).min(PHASES - 1);
        let a = (frac - p as f64) as f32;
        let x = &self.buf[n0 + 1 - self.half..n0 + 1 + self.half];
        let r0 = &self.table[p * width..(p + 1) * width];
        let r1 = &self.table[(p + 1) * width..(p + 2) * width];
        let y0 = crate::core::fir::dot(x, r0);
        let y1 = crate::core::fir::dot(x, r1);
        out.push(y0 + a * (y1 - y0));
        self.pos += self.fs_in;
        true
    }

    fn drain(&mut self, out: &mut Vec<f32>) {
        while self.one(out) {}
        // Forget input that no future output reaches.
        let n0 = (self.pos / self.fs_out) as usize;
        let keep_from = (n0 + 1).saturating_sub(self.half);
        if keep_from > 4096 {
            self.buf.drain(..keep_from);
            self.pos -= keep_from as u64 * self.fs_out;
        }
    }
}

/// Resamples a whole signal.
pub fn resample(input: &[f32], fs_in: u32, fs_out: u32) -> Vec<f32> {
    let mut r = Resampler::new(fs_in, fs_out);
    let mut out = Vec::with_capacity(
        (input.len() as u64 * u64::from(fs_out) / u64::from(fs_in.max(1))) as usize + 1,
    );
    r.process(input, &mut out);
    r.finish(&mut out);
    out
}
