//! Eye diagram: the stream cut into pieces a few symbol periods long and laid
//! on top of each other, so timing and level margins show as an open "eye".

use std::collections::VecDeque;

/// Upper bound on samples per symbol (half a second at 8 kHz).
const MAX_SPS: f64 = 4096.0;
/// Upper bound on the symbol periods one trace covers.
const MAX_SPAN: usize = 64;
/// Upper bound on the points kept over all traces (64 MB of `[f64; 2]`).
const MAX_POINTS: usize = 1 << 22;

/// Overlaid traces of `span` symbol periods, one starting every symbol period.
///
/// Trace `k` starts at sample `round(k * samples_per_symbol)` and holds the
/// samples up to `span` periods later, end point included, so adjacent
/// traces join up when drawn on the same axes.
#[derive(Clone, Debug)]
pub struct Eye {
    sps: f64,
    span: usize,
    max_traces: usize,
    /// Samples in one trace.
    trace_len: usize,
    /// Samples from absolute position `hist_start` on, oldest first.
    hist: VecDeque<f32>,
    hist_start: u64,
    /// Samples pushed so far.
    total: u64,
    /// Index of the next trace to cut.
    next_k: u64,
    traces: VecDeque<Vec<[f64; 2]>>,
}

impl Eye {
    /// `samples_per_symbol` is clamped to 1..=4096 (non-finite becomes 1),
    /// `span_symbols` to 1..=64, `max_traces` to at least 1 and to what fits
    /// in about 4 M points.
    pub fn new(samples_per_symbol: f64, span_symbols: usize, max_traces: usize) -> Eye {
        let sps = if samples_per_symbol.is_finite() {
            samples_per_symbol.clamp(1.0, MAX_SPS)
        } else {
            1.0
        };
        let span = span_symbols.clamp(1, MAX_SPAN);
        // The small tolerance keeps e.g. 3 × 2.6666… from losing its end point.
        let trace_len = (span as f64 * sps + 1e-9).floor() as usize + 1;
        let max_traces = max_traces.clamp(1, (MAX_POINTS / trace_len).max(1));
        Eye {
            sps,
            span,
            max_traces,
            trace_len,
            hist: VecDeque::new(),
            hist_start: 0,
            total: 0,
            next_k: 0,
            traces: VecDeque::with_capacity(max_traces),
        }
    }

    /// Samples per symbol after clamping.
    pub fn samples_per_symbol(&self) -> f64 {
        self.sps
    }

    /// Symbol periods per trace after clamping.
    pub fn span(&self) -> usize {
        self.span
    }

    /// First sample of trace `k`.
    fn start(&self, k: u64) -> u64 {
        (k as f64 * self.sps).round() as u64
    }

    /// Whether trace `k` has all its samples among the first `total`.
    fn complete(&self, k: u64, total: u64) -> bool {
        self.start(k) + self.trace_len as u64 <= total
    }

    /// Feeds samples; every symbol period whose whole trace is now known adds a trace.
    pub fn push(&mut self, x: &[f32]) {
        let new_total = self.total + x.len() as u64;

        // Traces that would be dropped again before this push ends are never
        // cut, and their samples never stored: memory stays bounded by
        // `max_traces`, not by the chunk size.
        if let Some(last) = self.last_complete(new_total) {
            let first_kept = (last + 1).saturating_sub(self.max_traces as u64);
            self.next_k = self.next_k.max(first_kept);
        }
        let keep_from = self.start(self.next_k);
        self.forget_before(keep_from);
        let skip = keep_from.saturating_sub(self.total).min(x.len() as u64) as usize;
        if self.hist.is_empty() {
            self.hist_start = self.total + skip as u64;
        }
        self.hist.extend(&x[skip..]);
        self.total = new_total;

        while self.complete(self.next_k, self.total) {
            self.cut(self.next_k);
            self.next_k += 1;
        }
        let keep_from = self.start(self.next_k);
        self.forget_before(keep_from);
    }

    /// The newest trace index that is complete once `total` samples are in.
    fn last_complete(&self, total: u64) -> Option<u64> {
        let room = total.checked_sub(self.trace_len as u64)?;
        // Estimate, then correct for rounding of the start positions.
        let mut k = (room as f64 / self.sps).floor() as u64;
        while k > 0 && !self.complete(k, total) {
            k -= 1;
        }
        while self.complete(k + 1, total) {
            k += 1;
        }
        Some(k)
    }

    fn forget_before(&mut self, pos: u64) {
        let drop = pos
            .saturating_sub(self.hist_start)
            .min(self.hist.len() as u64) as usize;
        self.hist.drain(..drop);
        self.hist_start += drop as u64;
    }

    fn cut(&mut self, k: u64) {
        let offset = (self.start(k) - self.hist_start) as usize;
        let mut trace = if self.traces.len() >= self.max_traces {
            self.traces.pop_front().unwrap_or_default()
        } else {
            Vec::with_capacity(self.trace_len)
        };
        trace.clear();
        trace.extend(
            self.hist
                .range(offset..offset + self.trace_len)
                .enumerate()
                .map(|(j, &v)| [j as f64 / self.sps, v as f64]),
        );
        self.traces.push_back(trace);
    }

    /// Traces oldest first; each is (t in symbol periods 0..=span, value).
    pub fn traces(&self) -> impl Iterator<Item = &[[f64; 2]]> {
        self.traces.iter().map(Vec::as_slice)
    }

    /// Number of traces held.
    pub fn len(&self) -> usize {
        self.traces.len()
    }

    /// Whether no trace is complete yet.
    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// Drops all traces and buffered samples; the next sample starts trace 0.
    pub fn clear(&mut self) {
        self.hist.clear();
        self.hist_start = 0;
        self.total = 0;
        self.next_k = 0;
        self.traces.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_signal_overlays_exactly() {
        // Period of one symbol: every trace is the same curve.
        let sps = 8;
        let x: Vec<f32> = (0..400).map(|i| ((i % sps) as f32 - 3.5).powi(2)).collect();
        for chunk in [1, 5, 64, 400] {
            let mut e = Eye::new(sps as f64, 2, 1000);
            for c in x.chunks(chunk) {
                e.push(c);
            }
            let traces: Vec<&[[f64; 2]]> = e.traces().collect();
            // Trace k needs samples 8k..=8k+16.
            assert_eq!(traces.len(), (400 - 17) / 8 + 1);
            for t in &traces {
                assert_eq!(t, &traces[0]);
            }
            assert_eq!(traces[0].len(), 17);
            assert_eq!(traces[0][0], [0.0, 12.25]);
            assert_eq!(traces[0][16], [2.0, 12.25]);
            assert_eq!(traces[0][4], [0.5, 0.25]);
        }
    }

    #[test]
    fn traces_start_every_symbol_oldest_first() {
        let x: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let mut e = Eye::new(4.0, 1, 100);
        e.push(&x);
        let starts: Vec<f64> = e.traces().map(|t| t[0][1]).collect();
        assert_eq!(starts, (0..9).map(|k| 4.0 * k as f64).collect::<Vec<_>>());
        assert!(e.traces().all(|t| t.len() == 5 && t[4][0] == 1.0));
    }

    #[test]
    fn fractional_samples_per_symbol_rounds_starts() {
        let x: Vec<f32> = (0..30).map(|i| i as f32).collect();
        let mut e = Eye::new(2.5, 2, 100);
        e.push(&x);
        let starts: Vec<f64> = e.traces().map(|t| t[0][1]).collect();
        // round(k * 2.5) with ties away from zero: 0, 3, 5, 8, 10, 13, ...
        assert_eq!(&starts[..6], &[0.0, 3.0, 5.0, 8.0, 10.0, 13.0]);
        // 2 × 2.5 = 5 samples -> 6 points from t = 0 to t = 2.
        let t0 = e.traces().next().unwrap();
        assert_eq!(t0.len(), 6);
        assert_eq!(t0[5][0], 2.0);
        assert!(e
            .traces()
            .all(|t| t.iter().all(|p| (0.0..=2.0).contains(&p[0]))));
    }

    #[test]
    fn keeps_at_most_max_traces_newest() {
        let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        for chunk in [1, 7, 1000] {
            let mut e = Eye::new(10.0, 1, 3);
            for c in x.chunks(chunk) {
                e.push(c);
            }
            let starts: Vec<f64> = e.traces().map(|t| t[0][1]).collect();
            // The last complete trace needs samples 980..=990; 990..=1000 lacks sample 1000.
            assert_eq!(starts, [960.0, 970.0, 980.0], "chunk {chunk}");
            assert!(e.hist.len() <= 30);
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        for (sps, span, max) in [
            (0.0, 0, 0),
            (f64::NAN, 1, 1),
            (f64::INFINITY, usize::MAX, usize::MAX),
            (-5.0, 3, 2),
            (1.0e9, 2, 5),
        ] {
            let mut e = Eye::new(sps, span, max);
            assert!(e.samples_per_symbol() >= 1.0);
            e.push(&[]);
            e.push(&[f32::NAN, f32::INFINITY, f32::MIN, f32::MAX, 0.0]);
            e.push(&vec![1.0; 10_000]);
            assert!(e.traces().count() >= 1 || e.span() as f64 * e.samples_per_symbol() > 10_000.0);
            e.clear();
            assert!(e.is_empty());
        }
    }
}
