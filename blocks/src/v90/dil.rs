//! The digital impairment learning sequence (V.90 §8.4.1, DIL; modem-standards
//! md §5.9–5.10) in simplified form, and its measurement.
//!
//! What the network does to each Ucode — robbed bits in some intervals,
//! digital pads that merge neighbouring codes, the loop's gain and noise —
//! the analogue modem learns by receiving every Ucode in every interval of
//! the data frame, with both signs. V.90's DIL does this with segments of
//! training and reference codes and sign/training patterns described in
//! Ja; here the sequence is fixed by the TRN1d scrambler: every Ucode
//! 0 … 127 in every interval, [`SEGMENT`]/6 = 8 times each, four with each
//! sign, in a scrambled order (see [`Dil`]). Then [`FILLER`] more TRN1d symbols
//! give the receiver time to choose while the line stays busy.
//!
//! [`DilMeasurement`] collects what the equalizer makes of each DIL symbol:
//! the mean received level of every (interval, Ucode, sign) and the noise
//! around those means in each interval.

use super::rates::FRAME;
use super::training::Trn1d;
use super::ucode::{linear, UCODES};
use crate::g711::law::Law;

/// Symbols per Ucode: 8 per interval, 4 with each sign.
pub const SEGMENT: usize = 48;
/// Symbols of the DIL.
pub const LEN: usize = UCODES * SEGMENT;
/// TRN1d symbols after the DIL (a multiple of 6): longer than the
/// equalizer's reach past a symbol, so the last DIL symbols are measured
/// before any data is needed.
pub const FILLER: usize = 600;

/// Rounds of the DIL: in each, every (interval, Ucode) pair is sent once.
const ROUNDS: usize = SEGMENT / FRAME;

/// The DIL's symbols in order. It runs in [`ROUNDS`] rounds of 128 data
/// frames; in each round, interval i of frame f carries Ucode
/// (a·f + b) mod 128 for a (odd) and b drawn per round and interval, so every
/// Ucode comes once per round in every interval, in an order that looks
/// random — the equalizer's feedback filter, fed the sent values, then errs
/// where the network changed a code (pads, robbed bits) by amounts that do
/// not repeat with the measured symbol and so do not bias its mean. Each
/// (interval, Ucode) starts with a sign drawn from the TRN1d scrambler and
/// alternates from round to round: four times each sign in all.
#[derive(Clone, Debug, Default)]
pub struct Dil {
    k: usize,
    /// Per round and interval: (a, b); per interval and Ucode: first sign.
    order: Vec<(usize, usize)>,
    first: Vec<bool>,
}

impl Dil {
    /// The next symbol (Ucode, positive), drawing its randomness from `trn`
    /// at the first call.
    pub fn next(&mut self, trn: &mut Trn1d) -> (u8, bool) {
        if self.order.is_empty() {
            let mut bits =
                |n: usize| (0..n).fold(0usize, |v, _| v << 1 | usize::from(trn.next_sign()));
            self.order = (0..ROUNDS * FRAME)
                .map(|_| (2 * bits(6) + 1, bits(7)))
                .collect();
            self.first = (0..FRAME * UCODES).map(|_| bits(1) == 1).collect();
        }
        let k = self.k % LEN;
        self.k += 1;
        let (round, frame, interval) = (k / (UCODES * FRAME), (k / FRAME) % UCODES, k % FRAME);
        let (a, b) = self.order[round * FRAME + interval];
        let u = (a * frame + b) % UCODES;
        let positive = self.first[interval * UCODES + u] ^ (round % 2 == 1);
        (u as u8, positive)
    }
}

/// A symbol's value on the line (signed Table 1 value / 32768).
pub fn value(law: Law, u: u8, positive: bool) -> f32 {
    let v = linear(law, u) as f32 / 32768.0;
    if positive {
        v
    } else {
        -v
    }
}

/// Running sums for one (interval, Ucode, sign).
#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    n: u32,
    sum: f64,
    sum2: f64,
}

/// What the receiver saw of the DIL.
#[derive(Clone, Debug)]
pub struct DilMeasurement {
    cells: Vec<Cell>,
}

impl Default for DilMeasurement {
    fn default() -> Self {
        DilMeasurement {
            cells: vec![Cell::default(); FRAME * UCODES * 2],
        }
    }
}

fn index(interval: usize, u: u8, positive: bool) -> usize {
    (interval % FRAME) * UCODES * 2 + usize::from(u & 0x7F) * 2 + usize::from(positive)
}

impl DilMeasurement {
    /// One received DIL symbol: Ucode `u` sent with sign `positive` in
    /// `interval`, equalized to `y`.
    pub fn add(&mut self, interval: usize, u: u8, positive: bool, y: f32) {
        if !y.is_finite() {
            return;
        }
        let c = &mut self.cells[index(interval, u, positive)];
        c.n += 1;
        c.sum += f64::from(y);
        c.sum2 += f64::from(y) * f64::from(y);
    }

    /// The mean received level of Ucode `u` in `interval`, from both signs:
    /// (mean of the positives − mean of the negatives) / 2; None if unseen.
    pub fn level(&self, interval: usize, u: u8) -> Option<f64> {
        let p = self.cells[index(interval, u, true)];
        let m = self.cells[index(interval, u, false)];
        match (p.n, m.n) {
            (0, 0) => None,
            (_, 0) => Some(p.sum / f64::from(p.n)),
            (0, _) => Some(-m.sum / f64::from(m.n)),
            _ => Some((p.sum / f64::from(p.n) - m.sum / f64::from(m.n)) / 2.0),
        }
    }

    /// The noise power around the means in `interval`, pooled over every
    /// Ucode and sign.
    pub fn noise(&self, interval: usize) -> f64 {
        let (mut ss, mut dof) = (0.0, 0.0);
        for u in 0..UCODES as u8 {
            for positive in [false, true] {
                let c = self.cells[index(interval, u, positive)];
                if c.n >= 2 {
                    let mean = c.sum / f64::from(c.n);
                    ss += (c.sum2 - mean * c.sum).max(0.0);
                    dof += f64::from(c.n - 1);
                }
            }
        }
        if dof > 0.0 {
            ss / dof
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ucode_in_every_interval_with_both_signs() {
        let mut trn = Trn1d::new(Law::Mu, 88);
        let mut dil = Dil::default();
        let mut seen = vec![[0u32; 2]; FRAME * UCODES];
        for k in 0..LEN {
            let (u, positive) = dil.next(&mut trn);
            seen[(k % FRAME) * UCODES + usize::from(u)][usize::from(positive)] += 1;
        }
        assert!(seen.iter().all(|s| s[0] == 4 && s[1] == 4), "{seen:?}");
        assert_eq!(LEN % FRAME, 0);
        assert_eq!(FILLER % FRAME, 0);
    }

    #[test]
    fn measures_levels_and_noise() {
        let mut m = DilMeasurement::default();
        let mut trn = Trn1d::new(Law::A, 88);
        let mut k = 0u64;
        for rep in 0..4 {
            let mut dil = Dil::default();
            for s in 0..LEN {
                let (u, positive) = dil.next(&mut trn);
                // Gain 0.5 and a deterministic ±1e-3 "noise".
                k += 1;
                let noise = if (k * 2_654_435_761) >> 7 & 1 == 0 {
                    1e-3
                } else {
                    -1e-3
                };
                m.add(
                    s % FRAME,
                    u,
                    positive,
                    0.5 * value(Law::A, u, positive) + noise,
                );
            }
            let _ = rep;
        }
        for u in [0u8, 50, 127] {
            let want = 0.5 * f64::from(value(Law::A, u, true));
            assert!((m.level(3, u).unwrap() - want).abs() < 1e-3, "{u}");
        }
        let n = m.noise(2);
        assert!((n.sqrt() - 1e-3).abs() < 2e-4, "{}", n.sqrt());
        assert_eq!(DilMeasurement::default().level(0, 5), None);
    }
}
