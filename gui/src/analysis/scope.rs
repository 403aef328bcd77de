//! Time scope: shows a fixed-length window of samples, optionally aligned on
//! a level crossing so a periodic signal stands still on screen.

/// When a scope frame starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger {
    /// No alignment: the frame is simply the newest samples.
    Free,
    /// Start where the signal rises through this level (`x[n-1] < l <= x[n]`).
    Rising(f32),
    /// Start where the signal falls through this level (`x[n-1] > l >= x[n]`).
    Falling(f32),
}

impl Trigger {
    /// Whether the step `a -> b` fires this trigger; non-finite samples never do.
    fn fires(self, a: f32, b: f32) -> bool {
        if !a.is_finite() || !b.is_finite() {
            return false;
        }
        match self {
            Trigger::Free => false,
            Trigger::Rising(l) => a < l && l <= b,
            Trigger::Falling(l) => a > l && l >= b,
        }
    }
}

/// Shortest frame: a line needs two points.
const MIN_LEN: usize = 2;
/// Longest frame (about two minutes at 8 kHz), so a bad setting cannot exhaust memory.
const MAX_LEN: usize = 1 << 20;

/// A triggered time scope over a stream fed in arbitrary chunks.
///
/// Only the last `len + 1` samples are remembered between pushes (the extra
/// one is the sample before a possible trigger point), so memory is bounded
/// by the frame length, not by the stream.
#[derive(Clone, Debug)]
pub struct Scope {
    len: usize,
    trigger: Trigger,
    /// The newest `len + 1` samples at most, oldest first.
    hist: Vec<f32>,
    /// Samples pushed so far.
    total: u64,
    /// Smallest absolute sample position not yet examined as a trigger point.
    next_candidate: u64,
    frame: Vec<f32>,
    frames: u64,
}

impl Scope {
    /// A scope showing `len` samples per frame (clamped to 2..=2^20), free running.
    pub fn new(len: usize) -> Scope {
        let len = len.clamp(MIN_LEN, MAX_LEN);
        Scope {
            len,
            trigger: Trigger::Free,
            hist: Vec::new(),
            total: 0,
            next_candidate: 0,
            frame: Vec::new(),
            frames: 0,
        }
    }

    /// Frame length in samples.
    pub fn frame_len(&self) -> usize {
        self.len
    }

    /// Changes the trigger; the frame shown so far is dropped because it was
    /// aligned by the old rule, and the remembered samples are searched again.
    pub fn set_trigger(&mut self, t: Trigger) {
        if t == self.trigger {
            return;
        }
        self.trigger = t;
        self.frame.clear();
        self.next_candidate = self.total - self.hist.len() as u64;
        self.push(&[]);
    }

    /// The current trigger.
    pub fn trigger(&self) -> Trigger {
        self.trigger
    }

    /// Feeds the next chunk of the stream.
    pub fn push(&mut self, x: &[f32]) {
        let hist_len = self.hist.len();
        // Absolute position of `hist[0]`; `x` follows `hist` directly.
        let base = self.total - hist_len as u64;
        let v_len = hist_len + x.len();
        let at = |i: usize| {
            if i < hist_len {
                self.hist[i]
            } else {
                x[i - hist_len]
            }
        };

        match self.trigger {
            Trigger::Free => {
                if v_len >= self.len && (!x.is_empty() || self.frame.is_empty()) {
                    self.frame.clear();
                    self.frame.extend((v_len - self.len..v_len).map(at));
                }
                self.frames = (self.total + x.len() as u64) / self.len as u64;
            }
            trigger => {
                if v_len > self.len {
                    // Newest index that still has `len` samples from it on.
                    let last = v_len - self.len;
                    let first = (self.next_candidate.saturating_sub(base) as usize).max(1);
                    if let Some(n) = (first..=last)
                        .rev()
                        .find(|&n| trigger.fires(at(n - 1), at(n)))
                    {
                        self.frame.clear();
                        self.frame.extend((n..n + self.len).map(at));
                        self.frames += 1;
                    }
                    self.next_candidate = self.next_candidate.max(base + last as u64 + 1);
                }
            }
        }

        self.total += x.len() as u64;
        self.remember(x);
    }

    /// Keeps the newest `len + 1` samples of `hist ++ x`.
    fn remember(&mut self, x: &[f32]) {
        let keep = self.len + 1;
        if x.len() >= keep {
            self.hist.clear();
            self.hist.extend_from_slice(&x[x.len() - keep..]);
        } else {
            let excess = (self.hist.len() + x.len()).saturating_sub(keep);
            self.hist.drain(..excess);
            self.hist.extend_from_slice(x);
        }
    }

    /// The newest complete frame (see [`Trigger`]); empty until one was captured.
    pub fn frame(&self) -> &[f32] {
        &self.frame
    }

    /// Complete frames captured so far: in free mode the number of whole
    /// `len`-sample periods seen, when triggered the number of new triggered frames.
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, period: f32, phase: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (std::f32::consts::TAU * (i as f32 + phase) / period).sin())
            .collect()
    }

    #[test]
    fn free_shows_last_len_samples() {
        let mut s = Scope::new(4);
        assert!(s.frame().is_empty());
        s.push(&[1.0, 2.0, 3.0]);
        assert!(s.frame().is_empty());
        assert_eq!(s.frames(), 0);
        s.push(&[4.0, 5.0]);
        assert_eq!(s.frame(), &[2.0, 3.0, 4.0, 5.0]);
        s.push(&[6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
        assert_eq!(s.frame(), &[8.0, 9.0, 10.0, 11.0]);
        assert_eq!(s.frames(), 2);
    }

    #[test]
    fn rising_frame_starts_at_newest_complete_crossing() {
        let mut s = Scope::new(5);
        s.set_trigger(Trigger::Rising(0.5));
        // Rising crossings at index 2 (0->1) and index 7 (0->1); index 7 lacks 5 samples after it.
        let x = [0.0, 0.0, 1.0, 2.0, 3.0, 0.0, 0.0, 1.0, 2.0];
        s.push(&x);
        assert_eq!(s.frame(), &[1.0, 2.0, 3.0, 0.0, 0.0]);
        assert_eq!(s.frames(), 1);
        // Completing the second crossing's frame switches to it.
        s.push(&[3.0, 4.0, 5.0]);
        assert_eq!(s.frame(), &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.frames(), 2);
    }

    #[test]
    fn rising_sine_frames_start_at_crossing_regardless_of_chunking() {
        for chunk in [1, 3, 7, 64, 1000] {
            let x = sine(1000, 40.0, 7.3);
            let mut s = Scope::new(50);
            s.set_trigger(Trigger::Rising(0.0));
            for c in x.chunks(chunk) {
                s.push(c);
                let f = s.frame();
                if !f.is_empty() {
                    assert_eq!(f.len(), 50);
                    // Starts at or just after an upward zero crossing.
                    assert!(f[0] >= 0.0 && f[0] < 0.2, "chunk {chunk}: {}", f[0]);
                    assert!(f[1] > f[0]);
                }
            }
            assert!(s.frames() > 0);
        }
    }

    #[test]
    fn trigger_found_across_chunk_boundary() {
        let mut s = Scope::new(3);
        s.set_trigger(Trigger::Rising(0.0));
        s.push(&[-1.0]);
        s.push(&[1.0, 2.0]);
        assert!(s.frame().is_empty());
        s.push(&[3.0]);
        assert_eq!(s.frame(), &[1.0, 2.0, 3.0]);
    }

    #[test]
    fn falling_trigger() {
        let mut s = Scope::new(3);
        s.set_trigger(Trigger::Falling(0.0));
        s.push(&[-1.0, 1.0, 0.0, -1.0, -2.0, 5.0]);
        assert_eq!(s.frame(), &[0.0, -1.0, -2.0]);
    }

    #[test]
    fn keeps_previous_frame_without_new_trigger() {
        let mut s = Scope::new(2);
        s.set_trigger(Trigger::Rising(0.0));
        s.push(&[-1.0, 1.0, 2.0]);
        assert_eq!(s.frame(), &[1.0, 2.0]);
        s.push(&[3.0, 4.0, 5.0, 6.0]);
        assert_eq!(s.frame(), &[1.0, 2.0]);
        assert_eq!(s.frames(), 1);
    }

    #[test]
    fn non_finite_samples_do_not_trigger() {
        let mut s = Scope::new(2);
        s.set_trigger(Trigger::Rising(0.0));
        s.push(&[
            f32::NAN,
            1.0,
            1.0,
            f32::NEG_INFINITY,
            1.0,
            1.0,
            -1.0,
            f32::INFINITY,
            0.0,
        ]);
        assert!(s.frame().is_empty());
        assert_eq!(s.frames(), 0);
        s.set_trigger(Trigger::Rising(f32::NAN));
        s.push(&[-1.0, 1.0, 1.0]);
        assert!(s.frame().is_empty());
    }

    #[test]
    fn switching_trigger_searches_remembered_samples() {
        let mut s = Scope::new(3);
        s.push(&[-1.0, 1.0, 2.0, 3.0]);
        assert_eq!(s.frame(), &[1.0, 2.0, 3.0]);
        s.set_trigger(Trigger::Rising(0.0));
        assert_eq!(s.frame(), &[1.0, 2.0, 3.0]);
        s.set_trigger(Trigger::Falling(0.0));
        assert!(s.frame().is_empty());
    }

    #[test]
    fn garbage_does_not_panic() {
        for len in [0, 1, 2, usize::MAX] {
            let mut s = Scope::new(len);
            assert!(s.frame_len() >= 2);
            for t in [
                Trigger::Free,
                Trigger::Rising(f32::INFINITY),
                Trigger::Falling(-0.0),
            ] {
                s.set_trigger(t);
                s.push(&[]);
                s.push(&[f32::NAN, f32::MAX, f32::MIN, f32::INFINITY, 0.0, -0.0]);
                s.push(&[1e30; 10]);
                let _ = s.frame();
            }
        }
    }
}
