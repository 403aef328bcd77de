//! Where the sample values lie: a level histogram, a constellation point
//! cloud, and the PCM level map (received level per Ucode).

use std::collections::VecDeque;

/// Most histogram bins, so a bad setting cannot exhaust memory.
const MAX_BINS: usize = 1 << 16;
/// Most constellation points kept.
const MAX_POINTS: usize = 1 << 20;

/// Counts of values in equal bins over `[lo, hi]`.
///
/// Counts are f64 so that [`Histogram::decay`] can fade old data smoothly.
#[derive(Clone, Debug)]
pub struct Histogram {
    lo: f64,
    hi: f64,
    counts: Vec<f64>,
    under: f64,
    over: f64,
    nan: f64,
}

impl Histogram {
    /// `bins` (clamped to 1..=65536) equal bins over `[lo, hi]`; an empty,
    /// reversed or non-finite range becomes -1..1.
    pub fn new(lo: f32, hi: f32, bins: usize) -> Histogram {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() && lo < hi {
            (lo as f64, hi as f64)
        } else {
            (-1.0, 1.0)
        };
        Histogram {
            lo,
            hi,
            counts: vec![0.0; bins.clamp(1, MAX_BINS)],
            under: 0.0,
            over: 0.0,
            nan: 0.0,
        }
    }

    /// Counts the values; `hi` itself falls in the last bin, -inf/+inf are under/over.
    pub fn push(&mut self, x: &[f32]) {
        let bins = self.counts.len();
        let scale = bins as f64 / (self.hi - self.lo);
        for &v in x {
            let v = v as f64;
            if v.is_nan() {
                self.nan += 1.0;
            } else if v < self.lo {
                self.under += 1.0;
            } else if v > self.hi {
                self.over += 1.0;
            } else {
                let i = (((v - self.lo) * scale) as usize).min(bins - 1);
                self.counts[i] += 1.0;
            }
        }
    }

    /// (bin centre, count) for every bin, lowest first.
    pub fn bars(&self) -> Vec<[f64; 2]> {
        let width = self.bin_width();
        self.counts
            .iter()
            .enumerate()
            .map(|(i, &c)| [self.lo + (i as f64 + 0.5) * width, c])
            .collect()
    }

    /// Width of one bin.
    pub fn bin_width(&self) -> f64 {
        (self.hi - self.lo) / self.counts.len() as f64
    }

    /// All values counted (in range, outside and NaN), rounded after decay.
    pub fn total(&self) -> u64 {
        let inside: f64 = self.counts.iter().sum();
        (inside + self.under + self.over + self.nan).round() as u64
    }

    /// Values below `lo` or above `hi`.
    pub fn outside(&self) -> u64 {
        (self.under + self.over).round() as u64
    }

    /// Values below `lo`.
    pub fn under(&self) -> u64 {
        self.under.round() as u64
    }

    /// Values above `hi`.
    pub fn over(&self) -> u64 {
        self.over.round() as u64
    }

    /// NaN values.
    pub fn nan(&self) -> u64 {
        self.nan.round() as u64
    }

    /// Forgets everything counted.
    pub fn clear(&mut self) {
        self.decay(0.0);
    }

    /// Multiplies all counts by `keep` (clamped to 0..=1; NaN leaves them) so old data fades.
    pub fn decay(&mut self, keep: f64) {
        if keep.is_nan() {
            return;
        }
        let keep = keep.clamp(0.0, 1.0);
        for c in self
            .counts
            .iter_mut()
            .chain([&mut self.under, &mut self.over, &mut self.nan])
        {
            *c *= keep;
        }
    }
}

/// The newest `cap` points of a complex (or paired) stream, for a constellation plot.
#[derive(Clone, Debug)]
pub struct Points {
    cap: usize,
    points: VecDeque<(f32, f32)>,
}

impl Points {
    /// Keeps at most `cap` points (clamped to 1..=2^20).
    pub fn new(cap: usize) -> Points {
        let cap = cap.clamp(1, MAX_POINTS);
        Points {
            cap,
            points: VecDeque::with_capacity(cap),
        }
    }

    /// Adds points; ones with a NaN or infinite coordinate are skipped.
    pub fn push(&mut self, re_im: &[(f32, f32)]) {
        // Only the newest `cap` finite points can survive; skip the rest unseen.
        let newest: Vec<(f32, f32)> = re_im
            .iter()
            .rev()
            .filter(|(re, im)| re.is_finite() && im.is_finite())
            .take(self.cap)
            .copied()
            .collect();
        let excess = (self.points.len() + newest.len()).saturating_sub(self.cap);
        self.points.drain(..excess);
        self.points.extend(newest.into_iter().rev());
    }

    /// The points, oldest first.
    pub fn points(&self) -> Vec<[f64; 2]> {
        self.points
            .iter()
            .map(|&(re, im)| [re as f64, im as f64])
            .collect()
    }

    /// Points held.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no point is held.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Forgets all points.
    pub fn clear(&mut self) {
        self.points.clear();
    }
}

/// PCM level map: running mean of the received level for each Ucode 0..=127,
/// to compare the measured companding curve with the expected one.
#[derive(Clone, Debug)]
pub struct LevelMap {
    mean: [f64; 128],
    count: [u64; 128],
    ignored: u64,
}

impl Default for LevelMap {
    fn default() -> LevelMap {
        LevelMap::new()
    }
}

impl LevelMap {
    /// An empty map.
    pub fn new() -> LevelMap {
        LevelMap {
            mean: [0.0; 128],
            count: [0; 128],
            ignored: 0,
        }
    }

    /// Adds (ucode, level) pairs; ucodes above 127 and non-finite levels are ignored.
    pub fn push(&mut self, pairs: &[(u8, f32)]) {
        for &(u, level) in pairs {
            let u = u as usize;
            if u >= self.count.len() || !level.is_finite() {
                self.ignored += 1;
                continue;
            }
            // Incremental mean: no sum to overflow or lose precision on long runs.
            self.count[u] += 1;
            self.mean[u] += (level as f64 - self.mean[u]) / self.count[u] as f64;
        }
    }

    /// (ucode, mean level) for every ucode seen, by ucode.
    pub fn points(&self) -> Vec<[f64; 2]> {
        (0..self.count.len())
            .filter(|&u| self.count[u] > 0)
            .map(|u| [u as f64, self.mean[u]])
            .collect()
    }

    /// Mean level of ucode `u`, if seen.
    pub fn mean(&self, u: u8) -> Option<f64> {
        (self.count(u) > 0).then(|| self.mean[u as usize])
    }

    /// How many levels were seen for ucode `u` (0 for ucodes above 127).
    pub fn count(&self, u: u8) -> u64 {
        self.count.get(u as usize).copied().unwrap_or(0)
    }

    /// Pairs ignored: ucode above 127 or a non-finite level.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = LevelMap::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_in_right_bins() {
        let mut h = Histogram::new(0.0, 4.0, 4);
        h.push(&[0.0, 0.5, 0.99, 1.0, 2.5, 3.999, 4.0, -0.1, 4.1, f32::NAN]);
        h.push(&[f32::INFINITY, f32::NEG_INFINITY]);
        let bars = h.bars();
        assert_eq!(bars, vec![[0.5, 3.0], [1.5, 1.0], [2.5, 1.0], [3.5, 2.0]]);
        assert_eq!(h.under(), 2);
        assert_eq!(h.over(), 2);
        assert_eq!(h.outside(), 4);
        assert_eq!(h.nan(), 1);
        assert_eq!(h.total(), 12);
    }

    #[test]
    fn histogram_bad_range_and_bins() {
        for (lo, hi) in [
            (1.0, 1.0),
            (2.0, -2.0),
            (f32::NAN, 1.0),
            (0.0, f32::INFINITY),
        ] {
            let mut h = Histogram::new(lo, hi, 0);
            assert_eq!(h.bars(), vec![[0.0, 0.0]]);
            h.push(&[-1.0, 1.0, 0.3, 1.5]);
            assert_eq!(h.bars(), vec![[0.0, 3.0]]);
            assert_eq!(h.outside(), 1);
        }
        let h = Histogram::new(-1.0, 1.0, usize::MAX);
        assert_eq!(h.bars().len(), MAX_BINS);
    }

    #[test]
    fn histogram_decay_and_clear() {
        let mut h = Histogram::new(-1.0, 1.0, 2);
        h.push(&[-0.5; 8]);
        h.push(&[5.0; 4]);
        h.decay(0.5);
        assert_eq!(h.bars()[0][1], 4.0);
        assert_eq!(h.outside(), 2);
        assert_eq!(h.total(), 6);
        h.decay(f64::NAN);
        h.decay(7.0);
        assert_eq!(h.total(), 6);
        h.clear();
        assert_eq!(h.total(), 0);
        assert!(h.bars().iter().all(|b| b[1] == 0.0));
    }

    #[test]
    fn points_keep_newest_finite() {
        let mut p = Points::new(3);
        assert!(p.is_empty());
        p.push(&[(1.0, 1.0), (f32::NAN, 0.0), (2.0, 2.0)]);
        assert_eq!(p.points(), vec![[1.0, 1.0], [2.0, 2.0]]);
        p.push(&[(3.0, 3.0), (0.0, f32::INFINITY), (4.0, -4.0)]);
        assert_eq!(p.points(), vec![[2.0, 2.0], [3.0, 3.0], [4.0, -4.0]]);
        let many: Vec<(f32, f32)> = (0..100).map(|i| (i as f32, 0.0)).collect();
        p.push(&many);
        assert_eq!(p.len(), 3);
        assert_eq!(p.points(), vec![[97.0, 0.0], [98.0, 0.0], [99.0, 0.0]]);
        let mut p = Points::new(0);
        p.push(&[(1.0, 2.0), (3.0, 4.0)]);
        assert_eq!(p.points(), vec![[3.0, 4.0]]);
    }

    #[test]
    fn level_map_means_and_ignored() {
        let mut m = LevelMap::new();
        m.push(&[
            (5, 1.0),
            (5, 2.0),
            (5, 6.0),
            (127, -0.5),
            (128, 9.0),
            (255, 1.0),
        ]);
        m.push(&[(0, f32::NAN), (0, 0.25)]);
        assert_eq!(m.points(), vec![[0.0, 0.25], [5.0, 3.0], [127.0, -0.5]]);
        assert_eq!(m.count(5), 3);
        assert_eq!(m.count(1), 0);
        assert_eq!(m.count(200), 0);
        assert_eq!(m.mean(5), Some(3.0));
        assert_eq!(m.mean(6), None);
        assert_eq!(m.ignored(), 3);
        m.push(&[(9, f32::MAX), (9, f32::MAX)]);
        assert_eq!(m.mean(9), Some(f32::MAX as f64));
        m.clear();
        assert!(m.points().is_empty());
    }
}
