//! The V.34 superconstellation (§9.1, Figure 5; modem-standards.md §4.7):
//! 1664 points on the odd integer lattice. Its quarter, labels 0 … 415, lies
//! on the lattice (4i + 1, 4j + 1), ordered by increasing energy and, among
//! equal energies, by decreasing imaginary part; every constellation of L
//! points is labels 0 … L/4 − 1 with their 90°, 180° and 270° rotations.
//!
//! Also here: the rotations of §9.6.1, the inverse lookup a receiver needs
//! (which quarter point and which rotation a lattice point is), and the
//! average energy of the points a mode sends (for the transmit level).

use super::rates::{Mode, SYMBOLS_PER_MAPPING_FRAME};
use super::shell::ShellTables;
use std::sync::OnceLock;

/// V.34 §9.1: the quarter superconstellation has 416 points.
pub const QUARTER: usize = 416;
/// V.34 §9.1: 4 × 416 = 1664 points in all.
pub const POINTS: usize = 4 * QUARTER;

/// A point of the odd integer lattice.
pub type Point = (i32, i32);

/// Half-width, in lattice steps of 4, of the square searched for the
/// quarter's points (its largest coordinate is below 4·16).
const SPAN: i32 = 16;

/// The quarter superconstellation, label → point, and the inverse table.
#[derive(Debug)]
pub struct Quarter {
    points: [Point; QUARTER],
    /// label + 1 of (4i + 1, 4j + 1) at index (i + SPAN)·(2·SPAN) + (j + SPAN); 0 = none.
    labels: Vec<u16>,
}

impl Quarter {
    fn build() -> Quarter {
        let mut all: Vec<Point> = Vec::new();
        for i in -SPAN..SPAN {
            for j in -SPAN..SPAN {
                all.push((4 * i + 1, 4 * j + 1));
            }
        }
        // V.34 Figure 5: increasing energy; among equals, the larger
        // imaginary part first.
        all.sort_by_key(|&(x, y)| (x * x + y * y, -y));
        let mut points = [(0, 0); QUARTER];
        points.copy_from_slice(&all[..QUARTER]);
        let mut labels = vec![0u16; (2 * SPAN * 2 * SPAN) as usize];
        for (l, &(x, y)) in points.iter().enumerate() {
            let (i, j) = ((x - 1) / 4 + SPAN, (y - 1) / 4 + SPAN);
            labels[(i * 2 * SPAN + j) as usize] = l as u16 + 1;
        }
        Quarter { points, labels }
    }

    pub fn get() -> &'static Quarter {
        static Q: OnceLock<Quarter> = OnceLock::new();
        Q.get_or_init(Quarter::build)
    }

    /// The quarter point with label `l` (< 416).
    #[inline]
    pub fn point(&self, l: usize) -> Point {
        self.points[l.min(QUARTER - 1)]
    }

    /// The label of a point of the lattice (4i + 1, 4j + 1), if it is one of
    /// the 416.
    #[inline]
    pub fn label(&self, (x, y): Point) -> Option<usize> {
        if (x - 1) % 4 != 0 || (y - 1) % 4 != 0 {
            return None;
        }
        let (i, j) = ((x - 1).div_euclid(4) + SPAN, (y - 1).div_euclid(4) + SPAN);
        if !(0..2 * SPAN).contains(&i) || !(0..2 * SPAN).contains(&j) {
            return None;
        }
        match self.labels[(i * 2 * SPAN + j) as usize] {
            0 => None,
            l => Some(usize::from(l) - 1),
        }
    }
}

/// V.34 §9.6.1: rotation clockwise by `quarters`·90°, (x, y) → (y, −x) each.
/// Without branches: the turn is data (random in every symbol), and a
/// mispredicted jump costs more than the arithmetic.
#[inline]
pub fn rotate_cw((x, y): Point, quarters: u32) -> Point {
    // An odd turn swaps the coordinates and negates the new y; turns 2 and
    // 3 negate both after that.
    let odd = -((quarters & 1) as i32);
    let (a, b) = (
        (y & odd) | (x & !odd),
        (x.wrapping_neg() & odd) | (y & !odd),
    );
    let half = -((quarters >> 1 & 1) as i32);
    ((a ^ half).wrapping_sub(half), (b ^ half).wrapping_sub(half))
}

/// Which rotation of the quarter lattice (1, 1) + 4ℤ² an odd point lies in:
/// ρ with p = rotate_cw(v, ρ) for some v ≡ (1, 1) mod 4.
#[inline]
pub fn rotation_of((x, y): Point) -> u32 {
    // (1,1) → 0, cw once (1,−1) ≡ (1,3) → 1, (−1,−1) ≡ (3,3) → 2, (−1,1) ≡ (3,1) → 3:
    // with a, b the second bits of x, y (1 for ≡ 3 mod 4), ρ = 2a + (a ⊕ b).
    let (a, b) = ((x >> 1 & 1) as u32, (y >> 1 & 1) as u32);
    (a << 1) | (a ^ b)
}

/// Rounds to the nearest integer (ties to even) for |x| < 2²², without a
/// library call: adding and removing 1.5·2²³ leaves no fraction bits.
#[inline]
pub fn round_near(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

/// [`round_near`] as an integer, for |x| < 2²²: after the addition the
/// integer is in the low bits of the sum's mantissa (no conversion, whose
/// saturation checks sit on the receiver's decision path).
#[inline]
pub fn round_to_i32(x: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32
}

/// The nearest point of the odd integer lattice to (re, im).
#[inline]
pub fn nearest_odd(re: f32, im: f32) -> Point {
    let r = |v: f32| {
        let v = if v.is_finite() {
            v.clamp(-1.0e6, 1.0e6)
        } else {
            0.0
        };
        2 * round_to_i32((v - 1.0) * 0.5) + 1
    };
    (r(re), r(im))
}

/// The average energy of the quarter points of each ring when its q
/// uncoded bits are uniform (V.34 §9.6.1: ring m holds labels m·2^q …
/// (m + 1)·2^q − 1).
pub fn ring_energies(rings: u32, q: u32) -> Vec<f64> {
    let quarter = Quarter::get();
    let per = 1usize << q;
    (0..rings as usize)
        .map(|m| {
            (m * per..(m + 1) * per)
                .map(|l| {
                    let (x, y) = quarter.point(l);
                    f64::from(x * x + y * y)
                })
                .sum::<f64>()
                / per as f64
        })
        .collect()
}

/// The average energy |u|² of the 2D points a mode sends with scrambled
/// data: shell-mapped rings (R₀ uniform below 2^K in high frames, 2^(K−1)
/// in low ones), uniform uncoded bits, and rotations that do not change
/// energy. The transmitter scales its points by this and the receiver
/// scales back, so both compute it the same way, exactly.
pub fn average_energy(mode: &Mode) -> f64 {
    let m = mode.mapping;
    if m.k == 0 {
        return 2.0; // V.34 §9.3: b ≤ 12, every point is label 0 rotated.
    }
    let e = ring_energies(m.m, m.q);
    let t = ShellTables::get(m.m);
    let per_frame = |bits: u32| {
        let n = 1u64 << bits;
        t.sum_below(n, &e) / n as f64 / SYMBOLS_PER_MAPPING_FRAME as f64
    };
    let f = mode.framing;
    let high = f64::from(f.r) / f64::from(f.p);
    high * per_frame(m.k) + (1.0 - high) * per_frame(m.k - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_points_of_figure_5() {
        // modem-standards.md §4.7.
        let q = Quarter::get();
        let want = [
            (1, 1),
            (-3, 1),
            (1, -3),
            (-3, -3),
            (1, 5),
            (5, 1),
            (-3, 5),
            (5, -3),
            (5, 5),
            (-7, 1),
            (1, -7),
            (-7, -3),
        ];
        for (l, &p) in want.iter().enumerate() {
            assert_eq!(q.point(l), p, "label {l}");
        }
        for l in 0..QUARTER {
            assert_eq!(q.label(q.point(l)), Some(l));
        }
        // Energies never decrease; the quarter is the 416 lowest.
        let e: Vec<i32> = (0..QUARTER)
            .map(|l| {
                let (x, y) = q.point(l);
                x * x + y * y
            })
            .collect();
        assert!(e.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(q.label((3, 3)), None);
        assert_eq!(q.label((201, 1)), None);
    }

    #[test]
    fn rotations_cover_the_odd_lattice_once() {
        let q = Quarter::get();
        let mut seen = std::collections::HashSet::new();
        for l in 0..QUARTER {
            for r in 0..4 {
                let p = rotate_cw(q.point(l), r);
                assert!(p.0 % 2 != 0 && p.1 % 2 != 0);
                assert_eq!(rotation_of(p), r);
                assert_eq!(rotate_cw(p, 4 - r), q.point(l));
                assert!(seen.insert(p));
            }
        }
        assert_eq!(seen.len(), POINTS);
        // The 1664 points are the odd lattice points nearest the origin.
        assert_eq!(rotate_cw((1, 2), 1), (2, -1));
        // Any turn count is that many quarter turns (x, y) → (y, −x).
        for (x, y) in [(1, 2), (-7, 3), (0, -5), (i32::MAX, i32::MIN + 1)] {
            let mut p = (x, y);
            for q in 0..9 {
                assert_eq!(rotate_cw((x, y), q), p, "{q} turns of {x}, {y}");
                p = (p.1, -p.0);
            }
        }
    }

    #[test]
    fn rounding_to_integers() {
        for x in [
            0.0f32,
            0.49,
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.51,
            1e6,
            -1e6,
            4_194_303.0,
            -4_194_303.4,
        ] {
            assert_eq!(round_to_i32(x), round_near(x) as i32, "{x}");
        }
    }

    #[test]
    fn nearest_odd_points() {
        assert_eq!(nearest_odd(0.1, -0.1), (1, -1));
        assert_eq!(nearest_odd(2.2, -2.2), (3, -3));
        assert_eq!(nearest_odd(-4.9, 6.1), (-5, 7));
        assert_eq!(nearest_odd(f32::NAN, f32::INFINITY), (1, 1));
        assert_eq!(nearest_odd(1e9, -1e9), (1_000_001, -999_999));
    }

    #[test]
    fn average_energy_of_a_uniform_constellation() {
        // With K = 8 and M = 2 every ring tuple is used (M⁸ = 2^8): rings are
        // uniform, so the energy is the plain mean over the 4·2·2^q points.
        let mode = Mode::new(4800, 3000, false).unwrap();
        assert_eq!((mode.mapping.k, mode.mapping.m), (1, 2));
        let e = ring_energies(mode.mapping.m, mode.mapping.q);
        // High frames: R₀ < 2: all-zero rings or one ring 1 → mean of one in 8.
        let high = (7.0 * e[0] + e[1]) / 8.0 / 2.0 + e[0] / 2.0;
        let low = e[0];
        let r = f64::from(mode.framing.r) / f64::from(mode.framing.p);
        assert!((average_energy(&mode) - (r * high + (1.0 - r) * low)).abs() < 1e-9);
        // 33 600 at 3429: somewhere between the inner and outer rings.
        let big = Mode::new(33600, 3429, false).unwrap();
        let e = average_energy(&big);
        let rings = ring_energies(big.mapping.m, big.mapping.q);
        assert!(e > rings[0] && e < rings[big.mapping.m as usize - 1], "{e}");
    }
}
