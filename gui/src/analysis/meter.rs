//! Readouts for a running graph: how fast items pass a wire, and the bit
//! error rate reported by `ber` events.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// Most (time, items) records kept; beyond this the oldest are merged.
const MAX_RECORDS: usize = 4096;
/// Shortest window, so the rate never divides by zero.
const MIN_WINDOW: Duration = Duration::from_millis(1);

/// Items per second over a sliding window of wall-clock time.
///
/// Time is passed in explicitly so the meter is deterministic and testable.
#[derive(Clone, Debug)]
pub struct RateMeter {
    window: Duration,
    /// (when, items) oldest first; older than one window before the newest are dropped.
    records: VecDeque<(Instant, u64)>,
    total: u64,
}

impl RateMeter {
    /// A meter averaging over `window` (at least 1 ms).
    pub fn new(window: Duration) -> RateMeter {
        RateMeter {
            window: window.max(MIN_WINDOW),
            records: VecDeque::new(),
            total: 0,
        }
    }

    /// Records `items` passing at `at`.
    pub fn add(&mut self, items: u64, at: Instant) {
        self.total = self.total.saturating_add(items);
        if let Some(cutoff) = at.checked_sub(self.window) {
            while self.records.front().is_some_and(|&(t, _)| t < cutoff) {
                self.records.pop_front();
            }
        }
        if self.records.len() >= MAX_RECORDS {
            // Fold the oldest record into the next: its items count a little later
            // than they happened, which only matters at the window's far edge.
            if let Some((_, n)) = self.records.pop_front() {
                if let Some(next) = self.records.front_mut() {
                    next.1 = next.1.saturating_add(n);
                }
            }
        }
        self.records.push_back((at, items));
    }

    /// Items per second over the window ending at `now` (0 when nothing passed).
    pub fn rate(&self, now: Instant) -> f64 {
        let cutoff = now.checked_sub(self.window);
        let items: u64 = self
            .records
            .iter()
            .filter(|&&(t, _)| t <= now && cutoff.is_none_or(|c| t > c))
            .fold(0u64, |sum, &(_, n)| sum.saturating_add(n));
        items as f64 / self.window.as_secs_f64()
    }

    /// Items recorded since creation.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }
}

/// Latest bit and error counts from `ber` events (cumulative counts, as the
/// BER blocks report them).
#[derive(Clone, Debug, Default)]
pub struct BerMeter {
    bits: u64,
    errors: u64,
    locked: Option<bool>,
}

/// A non-negative integer field, also accepted as an integral float.
fn count(fields: &Map<String, Value>, key: &str) -> Option<u64> {
    let v = fields.get(key)?;
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let f = v.as_f64()?;
    (f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64)
}

impl BerMeter {
    /// Nothing seen yet.
    pub fn new() -> BerMeter {
        BerMeter::default()
    }

    /// Takes "bits" and "errors" and, if it is a bool, "locked". Returns
    /// whether usable bits and errors were present; if not (missing, not a
    /// count, or more errors than bits) the counts are left unchanged.
    pub fn update(&mut self, fields: &Map<String, Value>) -> bool {
        if let Some(locked) = fields.get("locked").and_then(Value::as_bool) {
            self.locked = Some(locked);
        }
        match (count(fields, "bits"), count(fields, "errors")) {
            (Some(bits), Some(errors)) if errors <= bits => {
                self.bits = bits;
                self.errors = errors;
                true
            }
            _ => false,
        }
    }

    /// Bits compared.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Bit errors found.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// errors / bits, once any bits were compared.
    pub fn ber(&self) -> Option<f64> {
        (self.bits > 0).then(|| self.errors as f64 / self.bits as f64)
    }

    /// Whether the checker is synchronised, if it said so.
    pub fn locked(&self) -> Option<bool> {
        self.locked
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = BerMeter::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn rate_over_window() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut m = RateMeter::new(s(2));
        assert_eq!(m.rate(t0), 0.0);
        for i in 0..10 {
            m.add(800, t0 + Duration::from_millis(100 * i));
        }
        assert_eq!(m.total(), 8000);
        // All 8000 items within the 2 s window ending at 1 s.
        assert_eq!(m.rate(t0 + s(1)), 4000.0);
        // At 2.25 s only records after 0.25 s remain: 0.3 .. 0.9 s = 7 records.
        assert_eq!(m.rate(t0 + Duration::from_millis(2250)), 7.0 * 800.0 / 2.0);
        assert_eq!(m.rate(t0 + s(10)), 0.0);
        // Records after `now` do not count.
        assert_eq!(m.rate(t0 + Duration::from_millis(50)), 400.0);
    }

    #[test]
    fn rate_steady_stream() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(Duration::from_secs(1));
        // 8000 items/s in 10 ms chunks of 80 for 5 s.
        for i in 1..=500 {
            m.add(80, t0 + Duration::from_millis(10 * i));
        }
        let r = m.rate(t0 + Duration::from_secs(5));
        assert!((r - 8000.0).abs() < 1e-9, "{r}");
        assert!(m.records.len() <= 101);
    }

    #[test]
    fn rate_memory_bounded_and_total_saturates() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(Duration::ZERO);
        assert_eq!(m.window(), MIN_WINDOW);
        let mut m2 = RateMeter::new(Duration::from_secs(3600));
        for i in 0..10_000u64 {
            m2.add(1, t0 + Duration::from_micros(i));
        }
        assert!(m2.records.len() <= MAX_RECORDS);
        assert_eq!(m2.rate(t0 + Duration::from_secs(1)), 10_000.0 / 3600.0);
        m.add(u64::MAX, t0);
        m.add(u64::MAX, t0);
        assert_eq!(m.total(), u64::MAX);
        assert!(m.rate(t0).is_finite());
    }

    #[test]
    fn ber_reads_fields() {
        let mut b = BerMeter::new();
        assert_eq!(b.ber(), None);
        assert_eq!(b.locked(), None);
        assert!(b.update(&fields(json!({"bits": 10000, "errors": 3, "locked": true}))));
        assert_eq!((b.bits(), b.errors()), (10000, 3));
        assert_eq!(b.ber(), Some(3e-4));
        assert_eq!(b.locked(), Some(true));
        assert!(b.update(&fields(json!({"bits": 20000.0, "errors": 4}))));
        assert_eq!(b.ber(), Some(2e-4));
        assert_eq!(b.locked(), Some(true));
    }

    #[test]
    fn ber_ignores_malformed() {
        let mut b = BerMeter::new();
        b.update(&fields(json!({"bits": 100, "errors": 1})));
        for bad in [
            json!({}),
            json!({"bits": 100}),
            json!({"bits": -5, "errors": 0}),
            json!({"bits": "100", "errors": 0}),
            json!({"bits": 1.5, "errors": 0}),
            json!({"bits": 10, "errors": 11}),
            json!({"bits": null, "errors": [1]}),
            json!({"bits": 1e300, "errors": 0, "locked": "yes"}),
        ] {
            assert!(!b.update(&fields(bad)));
        }
        assert_eq!((b.bits(), b.errors(), b.locked()), (100, 1, None));
        assert!(!b.update(&fields(json!({"locked": false}))));
        assert_eq!(b.locked(), Some(false));
        b.clear();
        assert_eq!(b.ber(), None);
    }
}
