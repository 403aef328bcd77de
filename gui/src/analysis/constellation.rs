//! A constellation as a density: complex symbols counted in a square grid
//! of cells, drawn as one image. A scatter of the newest few thousand
//! points cannot show a 1664-point constellation (a point or two each), and
//! drawing tens of thousands of markers each frame would cost a software
//! renderer more than the graph; an image costs the same whatever it holds.

/// Symbols counted in `n` × `n` cells over the square ±`half`.
#[derive(Clone, Debug)]
pub struct Density {
    n: usize,
    half: f32,
    counts: Vec<f32>,
    symbols: u64,
    skipped: u64,
}

/// Cells per side, at most (bounded memory whatever the caller asks).
const MAX_CELLS: usize = 1024;

/// The smallest of 1, 2, 5 × 10^k at least `x` (> 0).
fn nice_above(x: f32) -> f32 {
    let mut step = 10f32.powf(x.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if step * m >= x {
            step *= m;
            return step;
        }
    }
    step * 10.0
}

impl Density {
    /// `n` cells per side (clamped to 8 … 1024); the range follows the data.
    pub fn new(n: usize) -> Density {
        let n = n.clamp(8, MAX_CELLS);
        Density {
            n,
            half: 0.0,
            counts: vec![0.0; n * n],
            symbols: 0,
            skipped: 0,
        }
    }

    /// Adds symbols. Ones with a NaN or infinite coordinate are counted as
    /// skipped; one beyond the range widens it to the next 1, 2, 5 × 10^k
    /// and starts the counts again (the old cells no longer fit).
    pub fn push(&mut self, re_im: &[(f32, f32)]) {
        let widest = re_im
            .iter()
            .filter(|(re, im)| re.is_finite() && im.is_finite())
            .fold(0f32, |m, (re, im)| m.max(re.abs()).max(im.abs()));
        if widest >= self.half && widest > 0.0 {
            let half = nice_above(widest * 1.05);
            self.half = if half.is_finite() { half } else { f32::MAX };
            self.counts.fill(0.0);
        }
        let scale = self.n as f32 / (2.0 * self.half);
        for &(re, im) in re_im {
            if !(re.is_finite() && im.is_finite()) || self.half == 0.0 {
                self.skipped += 1;
                continue;
            }
            let col = (((re + self.half) * scale) as usize).min(self.n - 1);
            // Row 0 is the top of the picture: the largest imaginary part.
            let row = (((self.half - im) * scale) as usize).min(self.n - 1);
            self.counts[row * self.n + col] += 1.0;
            self.symbols += 1;
        }
    }

    /// Multiplies the counts by `keep` (0 … 1; NaN leaves them) so old
    /// symbols fade.
    pub fn decay(&mut self, keep: f32) {
        if keep.is_nan() {
            return;
        }
        let keep = keep.clamp(0.0, 1.0);
        for c in &mut self.counts {
            *c *= keep;
        }
    }

    /// Cells per side.
    pub fn cells(&self) -> usize {
        self.n
    }

    /// The square shown is ±`half` (0 before any symbol).
    pub fn half(&self) -> f32 {
        self.half
    }

    /// Symbols counted, and skipped (not finite).
    pub fn symbols(&self) -> u64 {
        self.symbols
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Cells holding at least half a symbol: about the number of distinct
    /// points of a clean constellation.
    pub fn lit(&self) -> usize {
        self.counts.iter().filter(|&&c| c >= 0.5).count()
    }

    /// Spots: cells holding more than any neighbour (ties go to the cell
    /// above or to the left). A clean constellation whose points are some
    /// cells apart shows one spot per point, however its noise spreads each
    /// point over neighbouring cells.
    pub fn spots(&self) -> usize {
        let n = self.n as isize;
        let at = |r: isize, c: isize| {
            if r < 0 || c < 0 || r >= n || c >= n {
                0.0
            } else {
                self.counts[(r * n + c) as usize]
            }
        };
        let mut spots = 0;
        for r in 0..n {
            for c in 0..n {
                let v = at(r, c);
                if v < 0.5 {
                    continue;
                }
                let peak = (-1..=1).all(|dr| {
                    (-1..=1).all(|dc| {
                        let w = at(r + dr, c + dc);
                        // Earlier cells (above, or left on this row) must be
                        // smaller; later ones at most equal.
                        match (dr, dc) {
                            (0, 0) => true,
                            (-1, _) | (0, -1) => w < v,
                            _ => w <= v,
                        }
                    })
                });
                spots += usize::from(peak);
            }
        }
        spots
    }

    /// Brightness 0 … 255 per cell, row by row from the top, on a log
    /// scale so that rarely sent outer points still show.
    pub fn brightness(&self) -> Vec<u8> {
        let max = self.counts.iter().copied().fold(0f32, f32::max);
        if max <= 0.0 {
            return vec![0; self.counts.len()];
        }
        let top = (1.0 + max).ln();
        self.counts
            .iter()
            .map(|&c| {
                if c < 0.5 {
                    0
                } else {
                    (64.0 + 191.0 * (1.0 + c).ln() / top).min(255.0) as u8
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The odd-integer points nearest the origin: a V.34-like lattice.
    fn lattice(count: usize) -> Vec<(f32, f32)> {
        let mut p: Vec<(i32, i32)> = (-60..60)
            .flat_map(|a| (-60..60).map(move |b| (2 * a + 1, 2 * b + 1)))
            .collect();
        p.sort_by_key(|&(a, b)| (a * a + b * b, a, b));
        p.truncate(count);
        p.into_iter().map(|(a, b)| (a as f32, b as f32)).collect()
    }

    #[test]
    fn each_point_of_a_1664_point_constellation_lights_its_own_cell() {
        let pts = lattice(1664);
        let mut d = Density::new(256);
        for _ in 0..3 {
            d.push(&pts);
        }
        assert_eq!(d.lit(), 1664);
        assert_eq!(d.spots(), 1664);
        // Noise spreading each point over neighbouring cells leaves one spot each.
        let mut x = 1u32;
        let mut noisy = Vec::new();
        for _ in 0..20 {
            for &(a, b) in &pts {
                let mut u = || {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 8) as f32 / (1 << 24) as f32 - 0.5
                };
                noisy.push((a + 0.4 * u(), b + 0.4 * u()));
            }
        }
        let mut e = Density::new(256);
        e.push(&noisy);
        assert!(e.lit() > 2 * 1664, "{}", e.lit());
        assert_eq!(e.spots(), 1664);
        assert_eq!(d.symbols(), 3 * 1664);
        // The widest point fits: the range is the next round value beyond it.
        let widest = pts.iter().map(|p| p.0.abs()).fold(0.0, f32::max);
        assert!(
            d.half() > widest && d.half() <= 2.0 * widest,
            "{}",
            d.half()
        );
    }

    #[test]
    fn a_wider_symbol_widens_the_range_and_starts_again() {
        let mut d = Density::new(64);
        d.push(&[(0.5, 0.5), (-0.5, 0.25)]);
        assert_eq!(d.half(), 1.0);
        assert_eq!(d.lit(), 2);
        d.push(&[(30.0, -3.0)]);
        assert_eq!(d.half(), 50.0);
        assert_eq!(d.lit(), 1);
        assert_eq!(d.symbols(), 3);
    }

    #[test]
    fn bad_input_is_skipped_and_counts_fade() {
        let mut d = Density::new(3);
        assert_eq!(d.cells(), 8);
        assert_eq!(d.brightness(), vec![0; 64]);
        d.push(&[]);
        d.push(&[
            (f32::NAN, 0.0),
            (f32::INFINITY, 1.0),
            (1.0, f32::NEG_INFINITY),
        ]);
        assert_eq!((d.symbols(), d.skipped(), d.lit()), (0, 3, 0));
        d.push(&[(f32::MAX, -f32::MAX), (0.0, 0.0)]);
        assert_eq!(d.symbols(), 2);
        let lit = d.lit();
        assert!(lit >= 1);
        d.decay(f32::NAN);
        assert_eq!(d.lit(), lit);
        d.decay(0.1);
        assert_eq!(d.lit(), 0);
        let b = d.brightness();
        assert_eq!(b.len(), 64);
    }
}
