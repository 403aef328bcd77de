//! PCM constellations (V.90 §5.4.4; modem-standards.md §5.4): for each of the
//! six intervals of a data frame, M_i positive Ucodes; label 0 is the largest
//! Ucode and label M_i − 1 the smallest. The transmitted level is ± the
//! Ucode's Table 1 value, the sign coming from the sign bits.
//!
//! [`Constellation::design`] is the simple rule both ends of a link can apply
//! without training: equal moduli just large enough for K bits, and in each
//! interval the Ucodes that keep the levels (with their mirror images below
//! zero) as far apart as possible.

use super::rates::FRAME;
use super::ucode::{linear_table, MAX_UCODE};
use crate::g711::law::Law;

/// The constellations of one data frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constellation {
    law: Law,
    /// Ucodes of interval i, largest first: label j is `intervals[i][j]`.
    intervals: [Vec<u8>; FRAME],
}

/// Smallest M with M^6 ≥ 2^K, and the moduli: all M, except that as many
/// intervals as possible (from interval 0) use M − 1 while Π M_i ≥ 2^K
/// (V.90 §5.4.3: 2^K ≤ Π M_i).
pub fn moduli_for(k: u32) -> [u32; FRAME] {
    let need = 1u128 << k;
    let mut m = 1u32;
    while u128::from(m).pow(FRAME as u32) < need {
        m += 1;
    }
    let mut moduli = [m; FRAME];
    for i in 0..FRAME {
        moduli[i] = m - 1;
        if moduli.iter().map(|&x| u128::from(x)).product::<u128>() < need {
            moduli[i] = m;
            break;
        }
    }
    moduli
}

impl Constellation {
    /// Constellations from explicit Ucode lists (any order, no repeats).
    pub fn new(law: Law, intervals: [Vec<u8>; FRAME]) -> Result<Constellation, String> {
        let mut sorted = intervals;
        for (i, c) in sorted.iter_mut().enumerate() {
            c.sort_unstable_by(|a, b| b.cmp(a));
            if c.is_empty() {
                return Err(format!("interval {i} has no Ucode"));
            }
            if c[0] > MAX_UCODE {
                return Err(format!("interval {i}: Ucode {} is above 127", c[0]));
            }
            if c.windows(2).any(|w| w[0] == w[1]) {
                return Err(format!("interval {i} lists a Ucode twice"));
            }
        }
        Ok(Constellation {
            law,
            intervals: sorted,
        })
    }

    /// Constellations for K modulus bits using Ucodes up to `max_ucode`: the
    /// moduli of [`moduli_for`], and in each interval the M_i Ucodes with the
    /// largest possible least distance between neighbouring levels, where the
    /// smallest level also keeps that distance from its mirror image −level
    /// (so µ-law's Ucode 0, which is 0 V whatever its sign, is never used).
    pub fn design(law: Law, k: u32, max_ucode: u8) -> Result<Constellation, String> {
        let moduli = moduli_for(k);
        let lin = linear_table(law);
        let top = usize::from(max_ucode.min(MAX_UCODE));
        // Greedy from the top keeps the most levels at least `d` apart.
        let pick = |d: i32| -> Vec<u8> {
            let mut out: Vec<u8> = Vec::new();
            for u in (0..=top).rev() {
                let fits_mirror = 2 * lin[u] >= d;
                let fits_above = out
                    .last()
                    .is_none_or(|&p| lin[usize::from(p)] - lin[u] >= d);
                if fits_mirror && fits_above {
                    out.push(u as u8);
                }
            }
            out
        };
        let mut intervals: [Vec<u8>; FRAME] = Default::default();
        for (i, &m) in moduli.iter().enumerate() {
            let m = m as usize;
            if pick(1).len() < m {
                return Err(format!(
                    "{m} levels do not fit below Ucode {max_ucode}: raise the largest Ucode or lower the rate"
                ));
            }
            // The largest least distance that still leaves m levels.
            let (mut lo, mut hi) = (1, 2 * lin[top] + 1);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if pick(mid).len() >= m {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let mut levels = pick(lo);
            levels.truncate(m);
            intervals[i] = levels;
        }
        Constellation::new(law, intervals)
    }

    pub fn law(&self) -> Law {
        self.law
    }

    /// M_i of each interval.
    pub fn moduli(&self) -> [u32; FRAME] {
        std::array::from_fn(|i| self.intervals[i].len() as u32)
    }

    /// The Ucodes of interval `i`, largest first (index = label).
    pub fn interval(&self, i: usize) -> &[u8] {
        &self.intervals[i % FRAME]
    }

    /// The least distance between two levels of one interval, counting
    /// each level's mirror image, on Table 1's scale.
    pub fn min_distance(&self) -> i32 {
        let lin = linear_table(self.law);
        self.intervals
            .iter()
            .map(|c| {
                let smallest = 2 * lin[usize::from(*c.last().unwrap_or(&0))];
                c.windows(2)
                    .map(|w| lin[usize::from(w[0])] - lin[usize::from(w[1])])
                    .fold(smallest, i32::min)
            })
            .min()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v90::rates::{split, MAX_D, MIN_D};

    #[test]
    fn moduli_are_just_enough_for_k_bits() {
        assert_eq!(moduli_for(36), [64; 6]);
        assert_eq!(moduli_for(24), [16; 6]);
        assert_eq!(moduli_for(15), [5, 6, 6, 6, 6, 6]);
        for k in 6..=39 {
            let m = moduli_for(k);
            let p: u128 = m.iter().map(|&x| u128::from(x)).product();
            assert!(p >= 1 << k, "K {k}: {m:?}");
            // One fewer level anywhere would not do.
            for i in 0..6 {
                assert!(
                    p / u128::from(m[i]) * u128::from(m[i] - 1) < 1 << k,
                    "K {k}: {m:?}"
                );
            }
        }
    }

    #[test]
    fn designs_fit_every_rate_and_keep_levels_apart() {
        for law in [Law::Mu, Law::A] {
            let mut last = i32::MAX;
            for d in MIN_D..=MAX_D {
                let (k, _) = split(d, 0).unwrap();
                let c = Constellation::design(law, k, MAX_UCODE).unwrap();
                assert_eq!(c.moduli(), moduli_for(k));
                for i in 0..6 {
                    let iv = c.interval(i);
                    assert!(iv.windows(2).all(|w| w[0] > w[1]), "label 0 is the largest");
                }
                let md = c.min_distance();
                assert!(md > 0 && md <= last, "{law:?} D {d}: {md}");
                last = md;
            }
        }
        // 56 000 bit/s: 64 levels per interval, still ≥ 16 apart (µ-law
        // steps are 8 in the first Uchord).
        let c = Constellation::design(Law::Mu, 36, MAX_UCODE).unwrap();
        assert!(c.min_distance() >= 16, "{}", c.min_distance());
        assert!(!c.interval(0).contains(&0));
    }

    #[test]
    fn bad_lists_and_impossible_designs_are_refused() {
        let ok = || std::array::from_fn::<Vec<u8>, 6, _>(|_| vec![100, 90]);
        assert!(Constellation::new(Law::Mu, ok()).is_ok());
        let mut twice = ok();
        twice[3] = vec![90, 90];
        assert!(Constellation::new(Law::Mu, twice).is_err());
        let mut empty = ok();
        empty[5].clear();
        assert!(Constellation::new(Law::Mu, empty).is_err());
        let mut big = ok();
        big[0] = vec![128];
        assert!(Constellation::new(Law::Mu, big).is_err());
        assert!(Constellation::design(Law::Mu, 36, 40).is_err());
    }
}
