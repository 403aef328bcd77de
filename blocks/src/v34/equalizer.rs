//! The V.34 receiver's adaptive equalizer (modem-standards.md §6.1): a
//! complex fractionally spaced (T/2) transversal filter,
//! y(n) = Σ w_i·x(2n + P − N + 1 + i), N taps of which P look ahead of the
//! symbol's own sample.
//!
//! It starts from the least-squares (Wiener) solution over the known
//! training, solved exactly from the normal equations — where an LMS would
//! still be converging — and then follows the line with a normalised LMS
//! step on decision-directed errors. Its taps' centre of energy tells the
//! receiver's timing loop where the symbols really are.

use crate::core::simd::{track, Split};
use num_complex::{Complex32, Complex64};

/// The centre of energy of taps with these energies, in taps from the
/// first (the middle when all are zero).
fn centroid(energies: impl Iterator<Item = f32>) -> f64 {
    let (mut n, mut s, mut sw) = (0usize, 0.0, 0.0);
    for (i, e) in energies.enumerate() {
        let e = f64::from(e);
        s += e;
        sw += e * i as f64;
        n = i + 1;
    }
    if s > 0.0 {
        sw / s
    } else {
        (n as f64 - 1.0) / 2.0
    }
}

/// The filter.
#[derive(Clone, Debug)]
pub struct Equalizer {
    w: Vec<Complex32>,
}

/// Diagonal loading of the normal equations, relative to their mean
/// diagonal: keeps the solution finite on silence or a degenerate input
/// without biasing a real line's (whose noise is far above it).
const LOADING: f64 = 1e-7;

impl Equalizer {
    pub fn new(taps: usize) -> Equalizer {
        Equalizer {
            w: vec![Complex32::new(0.0, 0.0); taps.max(1)],
        }
    }

    pub fn taps(&self) -> &[Complex32] {
        &self.w
    }

    pub fn len(&self) -> usize {
        self.w.len()
    }

    pub fn is_empty(&self) -> bool {
        self.w.is_empty()
    }

    /// Scales every tap (to move the output into another unit).
    pub fn scale(&mut self, g: f32) {
        for w in &mut self.w {
            *w *= g;
        }
    }

    /// The output for the window `x` (N samples, oldest first).
    #[inline]
    pub fn output(&self, x: &[Complex32]) -> Complex32 {
        let (mut re, mut im) = (0.0f32, 0.0f32);
        for (w, v) in self.w.iter().zip(x) {
            re += w.re * v.re - w.im * v.im;
            im += w.re * v.im + w.im * v.re;
        }
        Complex32::new(re, im)
    }

    /// One normalised LMS step: w += μ·e·x̄ / (‖x‖² + ε), e = wanted − output.
    #[inline]
    pub fn adapt(&mut self, x: &[Complex32], e: Complex32, mu: f32, power: f32) {
        let g = mu / (power + 1e-12);
        let (er, ei) = (e.re * g, e.im * g);
        for (w, v) in self.w.iter_mut().zip(x) {
            // e·conj(v)
            w.re += er * v.re + ei * v.im;
            w.im += ei * v.re - er * v.im;
        }
        if !self.w.iter().all(|w| w.re.is_finite() && w.im.is_finite()) {
            // Only a pathological input could do this; start again from zero
            // rather than carry NaN forward.
            self.w.fill(Complex32::new(0.0, 0.0));
        }
    }

    /// The taps' centre of energy, in taps from the first.
    pub fn centroid(&self) -> f64 {
        centroid(self.w.iter().map(|w| w.norm_sqr()))
    }

    /// The least-squares taps for windows `x(n)` (each N samples, from
    /// `window(n)`) and wanted outputs `d(n)`, n = 0 … count − 1.
    pub fn solve(
        taps: usize,
        count: usize,
        mut window: impl FnMut(usize) -> Option<(Vec<Complex32>, Complex32)>,
    ) -> Option<Equalizer> {
        let n = taps.max(1);
        let mut a = vec![Complex64::new(0.0, 0.0); n * n];
        let mut b = vec![Complex64::new(0.0, 0.0); n];
        let mut used = 0;
        for k in 0..count {
            let Some((x, d)) = window(k) else { continue };
            let xd: Vec<Complex64> = x
                .iter()
                .map(|v| Complex64::new(f64::from(v.re), f64::from(v.im)))
                .collect();
            let d = Complex64::new(f64::from(d.re), f64::from(d.im));
            // A is Hermitian: only its lower triangle (l ≤ j), which is all
            // the Cholesky factorisation reads, is accumulated.
            for j in 0..n {
                let cj = xd[j].conj();
                b[j] += cj * d;
                let row = &mut a[j * n..j * n + j + 1];
                for (aij, xi) in row.iter_mut().zip(&xd) {
                    *aij += cj * xi;
                }
            }
            used += 1;
        }
        if used == 0 {
            return None;
        }
        let trace: f64 = (0..n).map(|i| a[i * n + i].re).sum::<f64>() / n as f64;
        if !(trace > 0.0 && trace.is_finite()) {
            return None;
        }
        for i in 0..n {
            a[i * n + i] += Complex64::new(LOADING * trace, 0.0);
        }
        let w = cholesky_solve(&mut a, &b, n)?;
        Some(Equalizer {
            w: w.iter()
                .map(|v| Complex32::new(v.re as f32, v.im as f32))
                .collect(),
        })
    }
}

/// The same filter in the form data mode runs it: real and imaginary parts
/// in separate arrays (and the samples too), so that each complex dot
/// product is four real ones with independent accumulators, which the
/// compiler vectorises, and the update is element by element.
#[derive(Clone, Debug)]
pub struct SplitEqualizer {
    wr: Vec<f32>,
    wi: Vec<f32>,
}

impl SplitEqualizer {
    pub fn new(eq: &Equalizer) -> SplitEqualizer {
        SplitEqualizer {
            wr: eq.w.iter().map(|w| w.re).collect(),
            wi: eq.w.iter().map(|w| w.im).collect(),
        }
    }

    /// A filter of `taps` zeros (to be filled with [`SplitEqualizer::set`]).
    pub fn zeros(taps: usize) -> SplitEqualizer {
        SplitEqualizer {
            wr: vec![0.0; taps],
            wi: vec![0.0; taps],
        }
    }

    pub fn len(&self) -> usize {
        self.wr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.wr.is_empty()
    }

    pub fn set(&mut self, i: usize, w: Complex32) {
        self.wr[i] = w.re;
        self.wi[i] = w.im;
    }

    pub fn tap(&self, i: usize) -> Complex32 {
        Complex32::new(self.wr[i], self.wi[i])
    }

    /// One tracking symbol in one pass: Σ w_i·x_i and the same for the taps
    /// of `other` (the same length) on the window x (oldest first), then
    /// w += g·e·p̄ for the earlier window p (g already divided by the
    /// window's power); see [`track`].
    #[inline]
    pub fn track(
        &mut self,
        other: &SplitEqualizer,
        x: (&[f32], &[f32]),
        p: (&[f32], &[f32]),
        e: Complex32,
        g: f32,
    ) -> (Complex32, Complex32) {
        let s = Split {
            re: &other.wr,
            im: &other.wi,
        };
        let (x, p) = (Split { re: x.0, im: x.1 }, Split { re: p.0, im: p.1 });
        let (y, o) = track(&mut self.wr, &mut self.wi, s, x, p, (e.re * g, e.im * g));
        (Complex32::new(y.0, y.1), Complex32::new(o.0, o.1))
    }

    /// Whether every tap is finite (only a pathological input could break it).
    pub fn is_finite(&self) -> bool {
        self.wr.iter().chain(&self.wi).all(|v| v.is_finite())
    }

    pub fn taps(&self) -> Vec<Complex32> {
        self.wr
            .iter()
            .zip(&self.wi)
            .map(|(&r, &i)| Complex32::new(r, i))
            .collect()
    }

    /// The taps' centre of energy, in taps from the first.
    pub fn centroid(&self) -> f64 {
        centroid(self.wr.iter().zip(&self.wi).map(|(r, i)| r * r + i * i))
    }
}

/// Solves A·w = b for Hermitian positive definite A (n × n, row-major; only
/// its lower triangle is read), overwriting A with its Cholesky factor.
fn cholesky_solve(a: &mut [Complex64], b: &[Complex64], n: usize) -> Option<Vec<Complex64>> {
    for j in 0..n {
        let mut d = a[j * n + j].re;
        for k in 0..j {
            d -= a[j * n + k].norm_sqr();
        }
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = Complex64::new(d, 0.0);
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k].conj();
            }
            a[i * n + j] = s / d;
        }
    }
    // L·y = b, then Lᴴ·w = y.
    let mut y = vec![Complex64::new(0.0, 0.0); n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * y[k];
        }
        y[i] = s / a[i * n + i].re;
    }
    let mut w = vec![Complex64::new(0.0, 0.0); n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= a[k * n + i].conj() * w[k];
        }
        w[i] = s / a[i * n + i].re;
    }
    w.iter()
        .all(|v| v.re.is_finite() && v.im.is_finite())
        .then_some(w)
}

/// V.34 §9.6.2's noise predictor, as a receiver chooses it: the three
/// coefficients a(1…3) that minimise E|e(n) + Σ a(k)·e(n−k)|² for the
/// equalizer's error e, by the complex Levinson–Durbin recursion on its
/// autocorrelation r(k) = E[e(n)·ē(n−k)]. Returns a and the prediction
/// gain (error power before / after).
pub fn noise_predictor(r: &[Complex64; 4]) -> ([Complex64; 3], f64) {
    let zero = Complex64::new(0.0, 0.0);
    if r[0].re.is_nan() || r[0].re <= 0.0 {
        return ([zero; 3], 1.0);
    }
    let mut a = [zero; 4];
    a[0] = Complex64::new(1.0, 0.0);
    let mut err = r[0].re;
    for m in 1..4 {
        // Reflection coefficient from the forward prediction error's
        // correlation with the next lag.
        let mut acc = r[m];
        for k in 1..m {
            acc += a[k] * r[m - k];
        }
        let kappa = -acc / err;
        let prev = a;
        for k in 1..m {
            a[k] = prev[k] + kappa * prev[m - k].conj();
        }
        a[m] = kappa;
        err *= 1.0 - kappa.norm_sqr();
        if err.is_nan() || err <= 0.0 {
            break;
        }
    }
    ([a[1], a[2], a[3]], r[0].re / err.max(1e-30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_inverts_a_known_channel() {
        // Symbols through c = [1, 0.4 − 0.3j, 0.1j] at one sample each: the
        // LS equalizer of 24 taps brings the error far down.
        let mut s = 3u32;
        let sym: Vec<Complex32> = (0..4000)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                Complex32::new(
                    if s >> 31 == 1 { 1.0 } else { -1.0 },
                    if (s >> 30) & 1 == 1 { 1.0 } else { -1.0 },
                )
            })
            .collect();
        let c = [
            Complex32::new(1.0, 0.0),
            Complex32::new(0.4, -0.3),
            Complex32::new(0.0, 0.1),
        ];
        let rx: Vec<Complex32> = (0..sym.len())
            .map(|n| (0..3).filter(|&k| n >= k).map(|k| c[k] * sym[n - k]).sum())
            .collect();
        let taps = 24;
        let ahead = 4;
        let window = |n: usize| -> Option<(Vec<Complex32>, Complex32)> {
            let end = n + ahead;
            if end + 1 < taps || end >= rx.len() {
                return None;
            }
            Some((rx[end + 1 - taps..=end].to_vec(), sym[n]))
        };
        let eq = Equalizer::solve(taps, sym.len(), window).unwrap();
        let mut err = 0.0;
        for n in 100..3000 {
            let (x, d) = window(n).unwrap();
            err += (eq.output(&x) - d).norm_sqr();
        }
        assert!(err / 2900.0 < 1e-4, "{}", err / 2900.0);
        // The main tap sits where the symbol is: `ahead` taps from the end.
        assert!(
            (eq.centroid() - (taps - 1 - ahead) as f64).abs() < 1.5,
            "{}",
            eq.centroid()
        );
    }

    #[test]
    fn silence_gives_no_solution_and_never_nan() {
        let z = vec![Complex32::new(0.0, 0.0); 8];
        assert!(
            Equalizer::solve(8, 100, |_| Some((z.clone(), Complex32::new(1.0, 0.0)))).is_none()
        );
        let mut eq = Equalizer::new(8);
        eq.adapt(
            &[Complex32::new(f32::MAX, f32::MAX); 8],
            Complex32::new(f32::MAX, 0.0),
            1.0,
            0.0,
        );
        assert!(eq
            .taps()
            .iter()
            .all(|w| w.re.is_finite() && w.im.is_finite()));
    }

    #[test]
    fn predictor_whitens_a_first_order_process() {
        // e(n) = v(n) + 0.8j·e(n−1): r(k) = (0.8j)^k/(1 − 0.64); the best a(1) = −0.8j.
        let q = Complex64::new(0.0, 0.8);
        let r0 = 1.0 / (1.0 - 0.64);
        let r = [Complex64::new(r0, 0.0), q * r0, q * q * r0, q * q * q * r0];
        let (a, gain) = noise_predictor(&r);
        assert!((a[0] + q).norm() < 1e-9, "{:?}", a);
        assert!(a[1].norm() < 1e-9 && a[2].norm() < 1e-9);
        assert!((gain - r0).abs() < 1e-6);
    }
}
