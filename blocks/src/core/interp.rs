//! Band-limited fractional-delay interpolation: the value of a sampled
//! signal between its samples, from a Kaiser-windowed sinc. The channel's
//! clock-offset model and the V.90 receiver's timing recovery share it.

use std::f64::consts::PI;
use std::sync::OnceLock;

/// Length of the fractional-delay interpolator: 96 taps (the output at
/// t = n + μ uses x[n − 47] … x[n + 48]) keep the error at −64 dB after the
/// `mild` preset's band edge, for 192 multiply-adds per output (two phases)
/// and 48 samples of look-ahead. Measured after `mild`: 64 taps −53 dB,
/// 96 taps −64 dB, 128 taps −73 dB (β = 5, 6, 6).
pub const INTERP_TAPS: usize = 96;

/// Kaiser window parameter of the interpolator, trading transition width
/// (which limits the error after `mild`, whose band reaches closest to
/// 4 kHz) against leakage (which limits it after `medium` and `long`): at
/// 96 taps β = 5 gave −64.7/−69.6/−70.8 dB after mild/medium/long, β = 6
/// −63.8/−77.2/−78.7 dB.
pub const KAISER_BETA: f64 = 6.0;

/// Fractional delays in the interpolator's table: linear interpolation
/// between neighbours 1/512 apart is off by at most (1/512)²/8·max|h''|
/// ≈ 2·10⁻⁶ per coefficient (test `interpolator_table_is_exact_enough`),
/// far below the window's own error. 513 × 96 f32 = 197 kB, built once and
/// shared.
pub const INTERP_PHASES: usize = 512;

/// Modified Bessel function of the first kind, order 0 (power series).
pub fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-17 * sum {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

/// The windowed-sinc weights of x[n − H + 1] … x[n + H] for the instant
/// n + μ (0 < μ < 1), H = taps/2, scaled to unity gain at DC.
pub(crate) fn interp_coefficients(mu: f64) -> [f64; INTERP_TAPS] {
    let h = (INTERP_TAPS / 2) as f64;
    let norm = bessel_i0(KAISER_BETA);
    let mut w = [0.0; INTERP_TAPS];
    for (i, v) in w.iter_mut().enumerate() {
        let d = i as f64 - (h - 1.0) - mu;
        let sinc = (PI * d).sin() / (PI * d);
        let r = (d / h).clamp(-1.0, 1.0);
        *v = sinc * bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / norm;
    }
    let sum: f64 = w.iter().sum();
    for v in &mut w {
        *v /= sum;
    }
    w
}

/// The interpolator's table: phase p holds the weights for μ = p/P; the
/// two ends, whole-sample delays, are exact (one tap of 1).
pub fn interp_table() -> &'static [[f32; INTERP_TAPS]] {
    static TABLE: OnceLock<Vec<[f32; INTERP_TAPS]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=INTERP_PHASES)
            .map(|p| {
                let mut row = [0.0f32; INTERP_TAPS];
                if p == 0 || p == INTERP_PHASES {
                    row[INTERP_TAPS / 2 - 1 + p / INTERP_PHASES] = 1.0;
                } else {
                    let w = interp_coefficients(p as f64 / INTERP_PHASES as f64);
                    for (c, v) in row.iter_mut().zip(w) {
                        *c = v as f32;
                    }
                }
                row
            })
            .collect()
    })
}

/// The signal at n + μ (0 ≤ μ < 1) from `x` = x[n − 47] … x[n + 48] (the
/// [`INTERP_TAPS`] samples around it), weights interpolated linearly between
/// the table's neighbouring phases.
#[inline]
pub fn at(table: &[[f32; INTERP_TAPS]], x: &[f32], mu: f64) -> f32 {
    let pos = mu.clamp(0.0, 1.0) * INTERP_PHASES as f64;
    let p = (pos as usize).min(INTERP_PHASES - 1);
    let frac = (pos - p as f64) as f32;
    let a = super::fir::dot(x, &table[p]);
    let b = super::fir::dot(x, &table[p + 1]);
    a + frac * (b - a)
}
