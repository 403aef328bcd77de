//! The V.34 transmit pre-emphasis filters (§5.4, Tables 3 and 4;
//! modem-standards.md §4.1): a gentle high-frequency boost the receiver asks
//! for (INFO1) to offset a loop's loss at the top of the band.
//!
//! The Recommendation gives each filter as a template over normalised
//! frequency f/S; the reference records their parameters but not their
//! exact shapes, so the shapes here are this reading of the templates:
//!
//! * indices 0 … 5 (Table 3): a boost of α = 0, 2, 4, 6, 8, 10 dB rising in
//!   proportion to frequency, gain(f) = α·f/S dB;
//! * indices 6 … 10 (Table 4): flat to 0.4·S, then a step of β = 0.5 … 2.5 dB
//!   and a slope of γ = 1 … 5 dB more by 1.2·S.
//!
//! Each is a linear-phase FIR at 8000 Hz designed by frequency sampling
//! (Hann window), scaled so that it leaves the signal's power in its band
//! unchanged: the transmit level stays the level asked for.

use crate::core::fir::Fir;
use std::f64::consts::PI;

/// V.34 Tables 3 and 4: indices 0 … 10.
pub const INDICES: i64 = 11;
/// Filter length: enough to follow the templates' gentle slopes.
const TAPS: usize = 33;
/// Frequency grid of the design.
const GRID: usize = 512;

/// The template's gain in dB at `f` Hz for symbol rate `s` Hz.
pub fn template_db(index: u32, f: f64, s: f64) -> f64 {
    let x = f / s;
    match index {
        // V.34 Table 3: α = 2·index dB at f = S.
        0..=5 => 2.0 * f64::from(index) * x,
        // V.34 Table 4: β = 0.5·(index − 5) dB, γ = index − 5 dB.
        _ => {
            let k = f64::from(index.min(10) - 5);
            let (beta, gamma) = (0.5 * k, k);
            if x <= 0.4 {
                0.0
            } else {
                beta + gamma * (x - 0.4).min(0.8) / 0.8
            }
        }
    }
}

/// The filter for `index` at symbol rate `s` and carrier `fc` (Hz), or
/// `None` for index 0 (flat: no filter at all).
pub fn design(index: u32, s: f64, fc: f64) -> Option<Fir> {
    if index == 0 {
        return None;
    }
    let fs = 8000.0;
    // Zero-phase response sampled on [0, fs/2], then a cosine series.
    let amp: Vec<f64> = (0..=GRID)
        .map(|i| 10f64.powf(template_db(index, fs / 2.0 * i as f64 / GRID as f64, s) / 20.0))
        .collect();
    let half = (TAPS / 2) as i64;
    let mut h: Vec<f64> = (-half..=half)
        .map(|n| {
            let mut acc = 0.0;
            for (i, &a) in amp.iter().enumerate() {
                let w = if i == 0 || i == GRID { 0.5 } else { 1.0 };
                acc += w * a * (PI * i as f64 / GRID as f64 * n as f64).cos();
            }
            let hann = 0.5 + 0.5 * (PI * n as f64 / (half + 1) as f64).cos();
            acc / GRID as f64 * hann
        })
        .collect();
    // Unit power gain over the signal's band fc ± S/2.
    let band: Vec<f64> = (0..64)
        .map(|i| fc - s / 2.0 + s * (i as f64 + 0.5) / 64.0)
        .collect();
    let p = band
        .iter()
        .map(|&f| response(&h, f / fs).powi(2))
        .sum::<f64>()
        / band.len() as f64;
    let g = 1.0 / p.sqrt();
    for v in &mut h {
        *v *= g;
    }
    Some(Fir::new(&h.iter().map(|&v| v as f32).collect::<Vec<_>>()))
}

/// |H| of a symmetric FIR at normalised frequency `f` (cycles per sample).
pub fn response(h: &[f64], f: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (n, &v) in h.iter().enumerate() {
        re += v * (2.0 * PI * f * n as f64).cos();
        im -= v * (2.0 * PI * f * n as f64).sin();
    }
    (re * re + im * im).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_follow_their_templates() {
        let (s, fc) = (3200.0, 1829.0);
        assert!(design(0, s, fc).is_none());
        for index in 1..INDICES as u32 {
            let fir = design(index, s, fc).unwrap();
            let h: Vec<f64> = fir.taps().iter().map(|&v| f64::from(v)).collect();
            // The rise across the band matches the template's within 0.6 dB
            // (the FIR smooths Table 4's step).
            let db = |f: f64| 20.0 * response(&h, f / 8000.0).log10();
            let (lo, hi) = (fc - 0.45 * s, fc + 0.45 * s);
            let want = template_db(index, hi, s) - template_db(index, lo, s);
            let got = db(hi) - db(lo);
            assert!(
                (got - want).abs() < 0.6,
                "index {index}: {got:.2} dB vs {want:.2}"
            );
        }
        assert!((template_db(10, 1.2 * s, s) - 7.5).abs() < 1e-12);
        assert!((template_db(5, s, s) - 10.0).abs() < 1e-12);
    }
}
