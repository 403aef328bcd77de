//! V.90 sign coding and spectral shaping (V.90 §5.4.5; modem-standards.md
//! §5.5): the digital modem's `spectral_shaper`, which turns the S data sign
//! bits of each 6-symbol data frame into the 6 transmitted signs and writes
//! the PCM codewords, and the analogue modem's `sign_decoder`, which recovers
//! the data sign bits from the received signs.
//!
//! **S_r = 0** (§5.4.5.1): plain differential coding across the whole stream,
//! $_i = s_i ⊕ $_{i−1}, decoded by s_i = $_i ⊕ $_{i−1}.
//!
//! **S_r ≥ 1**: the data frame splits into S_r shaping frames of width
//! w = 6/S_r. Each carries a redundant bit at position 0 and w − 1 data bits
//! (parsing, Table 3); odd positions are chained to the previous odd position
//! (Table 4); every position is chained to the same position of the previous
//! shaping frame (second differential coding); and finally one of four
//! inversion rules A (none), B (all), C (even positions), D (odd positions) is
//! applied under the 2-state trellis of Figure 2 (A: 0→0, B: 0→1, C: 1→0,
//! D: 1→1). The second differential step chains to the previous shaping
//! frame's t *before* inversion (the literal reading of the text); the
//! receiver cannot tell this from the other reading (modem-standards.md §5.5).
//!
//! From trellis state q the two allowed rules differ by inverting every
//! position, so a choice is one bit c, and the next state is c: from state 0
//! c = 0 is A and c = 1 is B, from state 1 c = 0 is C and c = 1 is D.
//!
//! The shaper picks c for shaping frame j by trying every choice sequence for
//! frames j…j+ld (2^(ld+1) paths, exhaustive, as §5.4.5.5 describes) and
//! keeping the first choice of the path with the smallest metric w[n] at the
//! last symbol of frame j+ld; it commits frame j and slides on by one shaping
//! frame. The metric filter is that of §5.4.5.6 on x[n], the signed Table 1
//! value of each symbol. All paths share w up to frame j, so the search sums
//! v² from frame j on only (per shaping frame, then the frames in time
//! order). Ties go to c = 0, as early in the path as possible. The search
//! tree is kept from one frame to the next (the subtree of the committed
//! choice), so each commit filters only the 2^(ld+1) newest frame-paths.
//!
//! ld counts *shaping* frames: "2^(ld+1) paths" means one binary choice per
//! frame of the lookahead, which only shaping frames have. So the shaper needs
//! the magnitudes of the next ld shaping frames before it can commit one, and
//! its output runs ⌈ld / S_r⌉ whole data frames behind its input
//! ([`SpectralShaper::delay`]); at the end of the stream
//! [`SpectralShaper::flush`] commits the frames still held with whatever
//! lookahead is left. The decoder is state-free in the sense of the reference
//! (it needs neither ld nor the filter) and has no delay, so decoding the
//! whole shaped stream gives back every data bit, from the first frame on.
//!
//! All state starts at zero (filter memory, trellis state, differential
//! coders), as V.90 §5.4.5 asks for TRN2d and B1d.

use super::params::{law_arg, law_param, sr_arg, sr_param};
use super::rates::{FRAME, MAX_SR};
use super::ucode::{linear_table, octet};
use crate::g711::law::Law;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Rate, Registry, Status, WorkIo,
};

/// V.90 §5.4.5.5: ld, the lookahead in shaping frames, is 0…3.
pub const MAX_LD: u32 = 3;

/// V.90 §5.4.5.6 (coefficients sent in CP): Q1.6, i.e. value/64.
const Q6_ONE: f64 = 64.0;
/// The Q1.6 integers a coefficient may take: −1 … +63/64.
const Q6_MIN: i32 = -64;
const Q6_MAX: i32 = 63;

/// Symbols held by the shaper: at most ⌈3/1⌉ + 1 = 4 data frames of 6.
const RING: usize = 32;
const RING_MASK: usize = RING - 1;

/// Width of the shaping frames for S_r = 1…3 (V.90 §5.4.5: one frame of 6,
/// two of 3, three of 2); 6 for S_r = 0, where there is no shaping.
fn shaping_width(sr: u32) -> usize {
    if sr == 0 {
        FRAME
    } else {
        FRAME / sr as usize
    }
}

/// The last odd position of a shaping frame, L (Table 4: 5 for S_r = 1,
/// else 1).
fn last_odd(width: usize) -> usize {
    (width - 2) | 1
}

/// Whether a shaping frame's position k is inverted by choice `c` from
/// trellis state `q`: A (q 0, c 0) none, B (q 0, c 1) all, C (q 1, c 0) even
/// positions, D (q 1, c 1) odd positions (V.90 §5.4.5.5, Figure 2).
#[inline(always)]
fn inverted(q: u8, c: u8, k: usize) -> u8 {
    c ^ (q & !(k as u8) & 1)
}

fn check_sr(sr: u32) -> Result<(), String> {
    if sr > MAX_SR {
        return Err(format!("S_r must be 0…{MAX_SR}, got {sr}"));
    }
    Ok(())
}

/// The metric filter's coefficients a₁, a₂, b₁, b₂ as the Q1.6 integers the
/// analogue modem sends in CP (V.90 §5.4.5.6): value = integer/64, integers
/// −64…63. The requested spectrum is
/// T(z) = (1 − a₁z⁻¹)(1 − a₂z⁻¹) / ((1 − b₁z⁻¹)(1 − b₂z⁻¹)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricFilter {
    a1: i8,
    a2: i8,
    b1: i8,
    b2: i8,
}

impl MetricFilter {
    /// The default of the `spectral_shaper` block: a double zero of T at
    /// z = 63/64 (a₁ = a₂ = 63/64) puts a deep, narrow null at DC; poles at
    /// z = 1/2 (b₁ = b₂ = 1/2) keep the notch from spreading over the voice
    /// band, so the sign freedom is spent on the lowest frequencies only.
    pub const DC_NOTCH: MetricFilter = MetricFilter {
        a1: 63,
        a2: 63,
        b1: 32,
        b2: 32,
    };

    /// A filter from Q1.6 integers; each must be −64…63.
    pub fn new(a1: i32, a2: i32, b1: i32, b2: i32) -> Result<MetricFilter, String> {
        let q = |name: &str, v: i32| -> Result<i8, String> {
            if (Q6_MIN..=Q6_MAX).contains(&v) {
                Ok(v as i8)
            } else {
                Err(format!(
                    "`{name}` must be a Q1.6 integer {Q6_MIN}…{Q6_MAX}, got {v}"
                ))
            }
        };
        Ok(MetricFilter {
            a1: q("a1", a1)?,
            a2: q("a2", a2)?,
            b1: q("b1", b1)?,
            b2: q("b2", b2)?,
        })
    }

    /// A filter from coefficient values, each rounded to the nearest Q1.6
    /// step; each must be −1 … +63/64.
    pub fn from_f64(a1: f64, a2: f64, b1: f64, b2: f64) -> Result<MetricFilter, String> {
        let q = |name: &str, v: f64| -> Result<i32, String> {
            if v.is_finite() && (-1.0..=f64::from(Q6_MAX) / Q6_ONE).contains(&v) {
                Ok((v * Q6_ONE).round() as i32)
            } else {
                Err(format!("`{name}` must be −1 … +63/64 (Q1.6), got {v}"))
            }
        };
        MetricFilter::new(q("a1", a1)?, q("a2", a2)?, q("b1", b1)?, q("b2", b2)?)
    }

    /// [a₁, a₂, b₁, b₂] as the Q1.6 integers of CP.
    pub fn q6(&self) -> [i8; 4] {
        [self.a1, self.a2, self.b1, self.b2]
    }

    /// [a₁, a₂, b₁, b₂] as values.
    pub fn values(&self) -> [f64; 4] {
        [self.a1, self.a2, self.b1, self.b2].map(|c| f64::from(c) / Q6_ONE)
    }
}

/// The memory of the metric filter (V.90 §5.4.5.6): x[n−1], y[n−1], v[n−1].
#[derive(Clone, Copy, Debug, Default)]
struct FilterState {
    x1: f64,
    y1: f64,
    v1: f64,
}

/// The coefficients as values, for the filter's inner loop (V.90 §5.4.5.6:
/// y[n] = x[n] − b₁x[n−1] + a₁y[n−1], v[n] = y[n] − b₂y[n−1] + a₂v[n−1],
/// w[n] = v²[n] + w[n−1]).
#[derive(Clone, Copy, Debug)]
struct Coefficients {
    a1: f64,
    a2: f64,
    b1: f64,
    b2: f64,
}

/// One data frame leaving the shaper: its Ucodes and the transmitted signs
/// $₀…$₅ (1 = positive, V.90 §5.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapedFrame {
    pub ucodes: [u8; FRAME],
    pub signs: [u8; FRAME],
}

impl ShapedFrame {
    /// The G.711 codewords of the frame.
    pub fn octets(&self, law: Law) -> [u8; FRAME] {
        std::array::from_fn(|i| octet(law, self.ucodes[i], self.signs[i] != 0))
    }
}

/// The digital modem's sign coder and spectral shaper (V.90 §5.4.5).
///
/// [`push`](Self::push) takes one data frame (6 Ucodes, S data sign bits) and
/// returns the data frame [`delay`](Self::delay) frames earlier once all its
/// shaping frames are committed; [`flush`](Self::flush) releases the rest at
/// the end of the stream. No allocation after construction.
#[derive(Clone, Debug)]
pub struct SpectralShaper {
    sr: u32,
    ld: usize,
    width: usize,
    delay: usize,
    coef: Coefficients,
    /// Table 1 value of each Ucode, as the metric uses it.
    level: [f64; 128],
    // Differential coders: $₅ of the previous frame (S_r = 0); p′ at the
    // last odd position and t of the previous shaping frame (S_r ≥ 1).
    last_sign: u8,
    last_odd_p: u8,
    last_t: u8,
    // Committed shaper state: trellis state and filter memory after the
    // last committed shaping frame.
    q: u8,
    filter: FilterState,
    /// The paths through the frames after the committed ones.
    tree: Tree,
    /// Shaping frames pushed but not yet committed.
    held: usize,
    /// Symbols pushed, committed and released, counted from the start; the
    /// ring holds symbols released…pushed.
    pushed: usize,
    committed: usize,
    released: usize,
    ucode: [u8; RING],
    /// The symbol's Table 1 value with the sign t gives it: its x[n] if its
    /// shaping frame is not inverted.
    signed: [f64; RING],
    t: [u8; RING],
    sign: [u8; RING],
}

impl SpectralShaper {
    /// A shaper for `law`, S_r = `sr` (0…3) and lookahead `ld` (0…3 shaping
    /// frames; unused when S_r = 0), all state at zero.
    pub fn new(law: Law, sr: u32, ld: u32, filter: MetricFilter) -> Result<SpectralShaper, String> {
        check_sr(sr)?;
        if ld > MAX_LD {
            return Err(format!("ld must be 0…{MAX_LD}, got {ld}"));
        }
        let [a1, a2, b1, b2] = filter.values();
        let table = linear_table(law);
        let width = shaping_width(sr);
        let delay = if sr == 0 {
            0
        } else {
            (ld as usize).div_ceil(sr as usize)
        };
        Ok(SpectralShaper {
            sr,
            ld: ld as usize,
            width,
            delay,
            coef: Coefficients { a1, a2, b1, b2 },
            level: table.map(f64::from),
            last_sign: 0,
            last_odd_p: 0,
            last_t: 0,
            q: 0,
            filter: FilterState::default(),
            tree: Tree::new(),
            held: 0,
            pushed: 0,
            committed: 0,
            released: 0,
            ucode: [0; RING],
            signed: [0.0; RING],
            t: [0; RING],
            sign: [0; RING],
        })
    }

    /// S = 6 − S_r, the data sign bits per data frame.
    pub fn sign_bits(&self) -> usize {
        FRAME - self.sr as usize
    }

    /// How many data frames the output runs behind the input: ⌈ld/S_r⌉
    /// (0 when S_r = 0).
    pub fn delay(&self) -> usize {
        self.delay
    }

    /// Takes one data frame: its 6 Ucodes (only the low 7 bits are used) and
    /// its S = 6 − S_r data sign bits s₀…s_{S−1} (only bit 0 is used).
    /// Returns the oldest data frame whose signs are now all committed: the
    /// one pushed [`delay`](Self::delay) calls earlier, if any.
    ///
    /// # Panics
    /// If `signs` does not hold exactly S bits.
    pub fn push(&mut self, ucodes: &[u8; FRAME], signs: &[u8]) -> Option<ShapedFrame> {
        assert_eq!(
            signs.len(),
            self.sign_bits(),
            "spectral shaper: a data frame has S = 6 − S_r sign bits"
        );
        if self.sr == 0 {
            // V.90 §5.4.5.1: $₀ = s₀ ⊕ $₅(previous frame), $_i = s_i ⊕ $_{i−1}.
            let mut out = [0; FRAME];
            let mut prev = self.last_sign;
            for (o, &s) in out.iter_mut().zip(signs) {
                prev ^= s & 1;
                *o = prev;
            }
            self.last_sign = prev;
            return Some(ShapedFrame {
                ucodes: ucodes.map(|u| u & 0x7F),
                signs: out,
            });
        }
        let w = self.width;
        let mut bits = signs.iter();
        for i in 0..self.sr as usize {
            // Table 3: position 0 is the redundant bit (0), positions 1…w−1
            // the next data bits. Table 4: odd positions chain to the
            // previous odd position, reaching into the previous shaping frame
            // at position 1; even positions pass. Then t = p′ ⊕ t_{j−1}.
            let mut p = 0u8;
            let mut chain = self.last_odd_p;
            for k in 1..w {
                let b = bits.next().map_or(0, |b| b & 1);
                if k & 1 == 1 {
                    chain ^= b;
                    p |= chain << k;
                } else {
                    p |= b << k;
                }
            }
            self.last_odd_p = chain;
            let t = p ^ self.last_t;
            self.last_t = t;
            for k in 0..w {
                let at = (self.pushed + k) & RING_MASK;
                let u = ucodes[i * w + k] & 0x7F;
                let bit = (t >> k) & 1;
                let mag = self.level[usize::from(u)];
                self.ucode[at] = u;
                self.t[at] = bit;
                self.signed[at] = if bit == 1 { mag } else { -mag };
            }
            self.pushed += w;
            self.held += 1;
        }
        // Commit every shaping frame that has its ld frames of lookahead.
        while self.held > self.ld {
            self.commit();
        }
        self.release()
    }

    /// At the end of the stream: commits the shaping frames still held, each
    /// with whatever lookahead is left, and returns the next data frame, or
    /// `None` once every frame pushed has been returned.
    pub fn flush(&mut self) -> Option<ShapedFrame> {
        while self.committed < self.pushed && self.committed < self.released + FRAME {
            self.commit();
        }
        self.release()
    }

    /// The next data frame if all its symbols are committed.
    fn release(&mut self) -> Option<ShapedFrame> {
        if self.sr == 0 || self.committed < self.released + FRAME {
            return None;
        }
        let at = self.released;
        self.released += FRAME;
        Some(ShapedFrame {
            ucodes: std::array::from_fn(|i| self.ucode[(at + i) & RING_MASK]),
            signs: std::array::from_fn(|i| self.sign[(at + i) & RING_MASK]),
        })
    }

    /// Chooses the inversion of the oldest uncommitted shaping frame by the
    /// lookahead search over the next min(ld + 1, held) shaping frames,
    /// writes its signs and moves the committed state on by one frame.
    fn commit(&mut self) {
        let w = self.width;
        let frames = self.held.min(self.ld + 1);
        while self.tree.levels < frames {
            self.expand();
        }
        let choice = self.tree.best_first_choice(frames);
        let start = self.committed;
        for k in 0..w {
            let at = (start + k) & RING_MASK;
            self.sign[at] = self.t[at] ^ inverted(self.q, choice, k);
        }
        self.filter = self.tree.state(0, usize::from(choice));
        self.tree.descend(choice);
        self.q = choice;
        self.committed += w;
        self.held -= 1;
    }

    /// Extends the search tree by one level: both choices for the next
    /// shaping frame after every path of the deepest level.
    fn expand(&mut self) {
        let d = self.tree.levels;
        let w = self.width;
        let start = self.committed + d * w;
        let n = 2 << d;
        let Coefficients { a1, a2, b1, b2 } = self.coef;
        let t = &mut self.tree;
        let (s, p) = (t.slot(d), t.slot(d.wrapping_sub(1)));
        let bp = t.base[p];
        // Children start from their parent's state (the committed state for
        // the first level). flip[k mod 2][ch] is −1 where node ch's rule,
        // given by its choice (its lowest bit) and its trellis state (its
        // parent's choice), inverts position k.
        let mut flip = [[1.0; TREE_WIDTH]; 2];
        for ch in 0..n {
            let from = if d == 0 {
                self.filter
            } else {
                t.state(d - 1, ch >> 1)
            };
            (t.x1[s][ch], t.y1[s][ch], t.v1[s][ch]) = (from.x1, from.y1, from.v1);
            t.own[s][ch] = 0.0;
            let q = if d == 0 { self.q } else { (ch >> 1) as u8 & 1 };
            for (parity, f) in flip.iter_mut().enumerate() {
                if inverted(q, ch as u8 & 1, parity) == 1 {
                    f[ch] = -1.0;
                }
            }
        }
        for k in 0..w {
            let xs = self.signed[(start + k) & RING_MASK];
            // The paths are independent: these steps run side by side.
            let nodes = t.x1[s][..n]
                .iter_mut()
                .zip(&mut t.y1[s][..n])
                .zip(&mut t.v1[s][..n])
                .zip(&mut t.own[s][..n])
                .zip(&flip[k & 1][..n]);
            for ((((x1, y1), v1), own), f) in nodes {
                // ±1 exactly: the same as negating.
                let x = xs * f;
                // V.90 §5.4.5.6: y, v, and v² added to w.
                let y = x - b1 * *x1 + a1 * *y1;
                let v = y - b2 * *y1 + a2 * *v1;
                (*x1, *y1, *v1) = (x, y, v);
                *own += v * v;
            }
        }
        for ch in 0..n {
            t.path[s][ch] = if d == 0 {
                t.own[s][ch]
            } else {
                t.path[p][bp + (ch >> 1)] + t.own[s][ch]
            };
        }
        t.base[s] = 0;
        t.levels += 1;
    }
}

/// The most nodes one level of the search tree has: 2^(ld+1) for ld = 3.
const TREE_WIDTH: usize = 2 << MAX_LD;
/// One slot per level: ld + 1 levels at most.
const TREE_LEVELS: usize = MAX_LD as usize + 1;

/// The lookahead search tree (V.90 §5.4.5.5): level d holds the 2^(d+1)
/// paths through the next d + 1 uncommitted shaping frames. Node i of level d
/// is the path whose choices, first frame most significant, are the bits of
/// i, so its children are 2i and 2i + 1 and its own choice (the trellis state
/// it leaves) is i's lowest bit. Each node keeps the filter state after its
/// frame, the sum of v² over its frame alone, and the metric of its path
/// (those sums added in time order from the first uncommitted frame).
///
/// Committing the first frame keeps the subtree under the chosen choice, so
/// each commit computes one new level only: 2^(ld+1) frame-paths instead of
/// the 2^(ld+2) − 2 of a fresh search. The levels live in slots that rotate
/// and each slot's level starts at an offset, so keeping a subtree moves no
/// data. The paths of a level are independent, so their filter steps run
/// side by side instead of as one long dependency chain.
#[derive(Clone, Debug)]
struct Tree {
    levels: usize,
    /// The slot holding level 0.
    root: usize,
    /// Per slot: where node 0 of its level is.
    base: [usize; TREE_LEVELS],
    x1: [[f64; TREE_WIDTH]; TREE_LEVELS],
    y1: [[f64; TREE_WIDTH]; TREE_LEVELS],
    v1: [[f64; TREE_WIDTH]; TREE_LEVELS],
    own: [[f64; TREE_WIDTH]; TREE_LEVELS],
    path: [[f64; TREE_WIDTH]; TREE_LEVELS],
}

impl Tree {
    fn new() -> Tree {
        let zero = [[0.0; TREE_WIDTH]; TREE_LEVELS];
        Tree {
            levels: 0,
            root: 0,
            base: [0; TREE_LEVELS],
            x1: zero,
            y1: zero,
            v1: zero,
            own: zero,
            path: zero,
        }
    }

    fn slot(&self, d: usize) -> usize {
        self.root.wrapping_add(d) % TREE_LEVELS
    }

    fn state(&self, d: usize, node: usize) -> FilterState {
        let s = self.slot(d);
        let i = self.base[s] + node;
        FilterState {
            x1: self.x1[s][i],
            y1: self.y1[s][i],
            v1: self.v1[s][i],
        }
    }

    /// The first frame's choice on the path through `frames` levels with the
    /// smallest metric. The first smallest in index order wins, so a tie
    /// between the two halves goes to choice 0.
    fn best_first_choice(&self, frames: usize) -> u8 {
        let s = self.slot(frames - 1);
        let half = 1 << (frames - 1);
        let leaves = &self.path[s][self.base[s]..self.base[s] + 2 * half];
        let least = |x: &[f64]| x.iter().copied().fold(f64::INFINITY, f64::min);
        u8::from(least(&leaves[half..]) < least(&leaves[..half]))
    }

    /// Drops the first level and keeps the subtree under `choice`; the kept
    /// paths' metrics then start at their second frame.
    fn descend(&mut self, choice: u8) {
        for d in 1..self.levels {
            let s = self.slot(d);
            self.base[s] += usize::from(choice) << d;
        }
        self.root = self.slot(1);
        self.levels = self.levels.saturating_sub(1);
        for d in 0..self.levels {
            let (s, p) = (self.slot(d), self.slot(d.wrapping_sub(1)));
            let (b, bp) = (self.base[s], self.base[p]);
            for j in 0..2 << d {
                self.path[s][b + j] = if d == 0 {
                    self.own[s][b + j]
                } else {
                    self.path[p][bp + (j >> 1)] + self.own[s][b + j]
                };
            }
        }
    }
}

/// The analogue modem's sign decoder (modem-standards.md §5.5): received
/// signs $, 6 per data frame, to the S = 6 − S_r data sign bits. It needs
/// neither ld nor the metric filter. For S_r = 0, s_i = $_i ⊕ $_{i−1}. For
/// S_r ≥ 1, with d_j(k) = $_j(k) ⊕ $_{j−1}(k) per shaping frame and L its
/// last odd position: position k ≥ 2 even gives d_j(k) ⊕ d_j(0), k = 1 gives
/// d_j(1) ⊕ d_{j−1}(L) ⊕ d_j(0), odd k ≥ 3 gives d_j(k) ⊕ d_j(k−2).
#[derive(Clone, Debug)]
pub struct SignDecoder {
    sr: u32,
    width: usize,
    /// $ of the previous shaping frame (bit k = position k), or $₅ of the
    /// previous data frame for S_r = 0.
    last: u8,
    /// d_{j−1}(L).
    last_d: u8,
}

impl SignDecoder {
    /// A decoder for S_r = `sr` (0…3), state at zero like the shaper's.
    pub fn new(sr: u32) -> Result<SignDecoder, String> {
        check_sr(sr)?;
        Ok(SignDecoder {
            sr,
            width: shaping_width(sr),
            last: 0,
            last_d: 0,
        })
    }

    /// S = 6 − S_r, the data sign bits per data frame.
    pub fn sign_bits(&self) -> usize {
        FRAME - self.sr as usize
    }

    /// Decodes one data frame of received signs (only bit 0 of each is used)
    /// into its S data sign bits.
    ///
    /// # Panics
    /// If `data` does not have room for exactly S bits.
    pub fn decode(&mut self, received: &[u8; FRAME], data: &mut [u8]) {
        assert_eq!(
            data.len(),
            self.sign_bits(),
            "sign decoder: a data frame has S = 6 − S_r sign bits"
        );
        if self.sr == 0 {
            // V.90 §5.4.5.1: s_i = $_i ⊕ $_{i−1}.
            let mut prev = self.last;
            for (d, &r) in data.iter_mut().zip(received) {
                *d = (r ^ prev) & 1;
                prev = r & 1;
            }
            self.last = prev;
            return;
        }
        let w = self.width;
        let l = last_odd(w);
        let mut out = data.iter_mut();
        for frame in received.chunks_exact(w) {
            let r = frame
                .iter()
                .enumerate()
                .fold(0u8, |m, (k, &b)| m | ((b & 1) << k));
            let d = r ^ self.last;
            self.last = r;
            let bit = |k: usize| (d >> k) & 1;
            for k in 1..w {
                let v = if k & 1 == 0 {
                    bit(k) ^ bit(0)
                } else if k == 1 {
                    bit(1) ^ self.last_d ^ bit(0)
                } else {
                    bit(k) ^ bit(k - 2)
                };
                if let Some(o) = out.next() {
                    *o = v;
                }
            }
            self.last_d = bit(l);
        }
    }
}

struct ShaperBlock {
    shaper: SpectralShaper,
    law: Law,
}

impl Block for ShaperBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let s = self.shaper.sign_bits();
        // Whole frames only; the output may overrun its space by less than
        // one frame.
        let mut room = io.outputs[0].space().div_ceil(FRAME);
        let ucodes = io.inputs[0].items::<u8>();
        let signs = io.inputs[1].items::<u8>();
        let out = io.outputs[0].items::<u8>();
        let mut used = 0;
        for (u, b) in ucodes.chunks_exact(FRAME).zip(signs.chunks_exact(s)) {
            if room == 0 {
                break;
            }
            let Ok(u) = <&[u8; FRAME]>::try_from(u) else {
                break;
            };
            used += 1;
            if let Some(f) = self.shaper.push(u, b) {
                out.extend_from_slice(&f.octets(self.law));
                room -= 1;
            }
        }
        let ended = |i: usize, size: usize| {
            let inp = &io.inputs[i];
            inp.is_eos() && inp.available() < (used + 1) * size
        };
        let done = if ended(0, FRAME) || ended(1, s) {
            // No further whole frame will come: release what is held.
            loop {
                if room == 0 {
                    break false;
                }
                match self.shaper.flush() {
                    Some(f) => {
                        out.extend_from_slice(&f.octets(self.law));
                        room -= 1;
                    }
                    None => break true,
                }
            }
        } else {
            false
        };
        io.inputs[0].consume(used * FRAME);
        io.inputs[1].consume(used * s);
        Ok(if done { Status::Done } else { Status::Ok })
    }
}

struct DecoderBlock(SignDecoder);

impl Block for DecoderBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let s = self.0.sign_bits();
        let room = io.outputs[0].space().div_ceil(s);
        let input = io.inputs[0].items::<u8>();
        let frames = (input.len() / FRAME).min(room);
        let out = io.outputs[0].append::<u8>(frames * s);
        for (r, d) in input.chunks_exact(FRAME).zip(out.chunks_exact_mut(s)) {
            if let Ok(r) = <&[u8; FRAME]>::try_from(r) {
                self.0.decode(r, d);
            }
        }
        io.inputs[0].consume(frames * FRAME);
        let inp = &io.inputs[0];
        Ok(if inp.is_eos() && inp.available() < FRAME {
            Status::Done
        } else {
            Status::Ok
        })
    }
}

fn make_shaper(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let sr = sr_arg(args)?;
    let ld = args.int("ld")?;
    let ld = u32::try_from(ld)
        .ok()
        .filter(|&v| v <= MAX_LD)
        .ok_or_else(|| format!("`ld` must be 0…{MAX_LD}, got {ld}"))?;
    let law = law_arg(args)?;
    let filter = MetricFilter::from_f64(
        args.float("a1")?,
        args.float("a2")?,
        args.float("b1")?,
        args.float("b2")?,
    )?;
    Ok(Box::new(ShaperBlock {
        shaper: SpectralShaper::new(law, sr, ld, filter)?,
        law,
    }))
}

fn make_decoder(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(DecoderBlock(SignDecoder::new(sr_arg(args)?)?)))
}

fn coefficient(name: &'static str, doc: &'static str, q6: i8) -> ParamSpec {
    ParamSpec::float(name, doc)
        .default(f64::from(q6) / Q6_ONE)
        .range(-1.0, f64::from(Q6_MAX) / Q6_ONE)
}

pub fn spec_shaper() -> BlockSpec {
    let d = MetricFilter::DC_NOTCH;
    BlockSpec::new(
        "spectral_shaper",
        "Coding",
        "V.90 sign coding and spectral shaping: Ucodes and data sign bits to PCM codewords",
        make_shaper,
    )
    .doc(
        "The digital modem's V.90 §5.4.5 sign stage. Per 6-symbol data frame it takes 6 \
         Ucodes and S = 6 − `sr` data sign bits and writes 6 G.711 codewords (sign bit 1 = \
         positive, §5.4.6). With `sr` = 0 the signs are differentially coded (§5.4.5.1). \
         With `sr` ≥ 1 the frame splits into `sr` shaping frames, each with a redundant \
         bit, differentially coded twice (Tables 3 and 4), and each shaping frame gets one \
         of the inversion rules A/B/C/D of the 2-state trellis, chosen by an exhaustive \
         search over `ld` further shaping frames that minimises the metric w[n] of the \
         filter 1/T(z), T(z) = (1 − a1·z⁻¹)(1 − a2·z⁻¹)/((1 − b1·z⁻¹)(1 − b2·z⁻¹)) \
         (§5.4.5.5–5.4.5.6). The transmitted spectrum follows |T|² roughly; the defaults \
         put a double zero at z = 63/64 and poles at 1/2, a narrow null at DC. The \
         coefficients are rounded to Q1.6 (steps of 1/64) as CP carries them.\n\n\
         The lookahead delays the output by ⌈ld/sr⌉ data frames; at the end of the stream \
         the frames held are released with the lookahead that is left, so every input \
         frame gives one output frame. Only whole frames are used (interval = symbol index \
         mod 6 from the start of the stream); a partial frame at the end is dropped. Only \
         the low 7 bits of a Ucode and bit 0 of a sign are used. All state starts at zero.",
    )
    .param(sr_param())
    .param(
        ParamSpec::int(
            "ld",
            "lookahead of the shaping search, in shaping frames (unused when sr = 0)",
        )
        .default(1)
        .range(0.0, f64::from(MAX_LD)),
    )
    .param(law_param())
    .param(coefficient(
        "a1",
        "zero a₁ of T(z) (a pole of the metric filter)",
        d.a1,
    ))
    .param(coefficient(
        "a2",
        "zero a₂ of T(z) (a pole of the metric filter)",
        d.a2,
    ))
    .param(coefficient(
        "b1",
        "pole b₁ of T(z) (a zero of the metric filter)",
        d.b1,
    ))
    .param(coefficient(
        "b2",
        "pole b₂ of T(z) (a zero of the metric filter)",
        d.b2,
    ))
    .input(PortSpec::new(
        "ucodes",
        ItemType::Octet,
        "Ucodes 0…127 from the mapper, 6 per data frame",
    ))
    .input(
        PortSpec::new(
            "signs",
            ItemType::Bit,
            "data sign bits s₀…s_{S−1}, S = 6 − sr per data frame",
        )
        .rate(Rate::Varies),
    )
    .output(PortSpec::new(
        "out",
        ItemType::Octet,
        "G.711 codewords, 6 per data frame",
    ))
}

pub fn spec_decoder() -> BlockSpec {
    BlockSpec::new(
        "sign_decoder",
        "Coding",
        "V.90 sign decoder: received signs to data sign bits",
        make_decoder,
    )
    .doc(
        "The analogue modem's inverse of `spectral_shaper` (V.90 §5.4.5): from the 6 \
         received signs of each data frame (1 = positive) it recovers the S = 6 − `sr` \
         data sign bits. It needs neither the lookahead nor the filter: with `sr` = 0, \
         s_i = $_i ⊕ $_{i−1}; with `sr` ≥ 1 it undoes the two differential codings on \
         d = $_j ⊕ $_{j−1} of consecutive shaping frames, which cancels whichever inversion \
         rule the shaper chose. State starts at zero, like the shaper's, so decoding \
         starts with the first frame; one sign error spoils bits of at most three shaping \
         frames. Only whole frames are used; only bit 0 of each input is read.",
    )
    .param(sr_param())
    .input(PortSpec::new(
        "in",
        ItemType::Bit,
        "received signs $, 6 per data frame",
    ))
    .output(
        PortSpec::new(
            "out",
            ItemType::Bit,
            "data sign bits, S = 6 − sr per data frame",
        )
        .rate(Rate::Varies),
    )
}

pub fn register(r: &mut Registry) {
    r.register(spec_shaper());
    r.register(spec_decoder());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make as build};
    use crate::v90::constellation::Constellation;
    use crate::v90::ucode::linear;
    use modemflow_flow::{Buf, EventList, Input, Output, Value};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    /// Runs `shaper` over whole frames and flushes it: the signs of every
    /// frame, in order.
    fn shape(shaper: &mut SpectralShaper, ucodes: &[u8], data: &[u8]) -> Vec<ShapedFrame> {
        let s = shaper.sign_bits();
        let mut out = Vec::new();
        for (u, d) in ucodes.chunks_exact(FRAME).zip(data.chunks_exact(s)) {
            out.extend(shaper.push(u.try_into().unwrap(), d));
        }
        while let Some(f) = shaper.flush() {
            out.push(f);
        }
        out
    }

    fn decode(sr: u32, frames: &[ShapedFrame]) -> Vec<u8> {
        let mut dec = SignDecoder::new(sr).unwrap();
        let s = dec.sign_bits();
        let mut out = vec![0; frames.len() * s];
        for (f, d) in frames.iter().zip(out.chunks_exact_mut(s)) {
            dec.decode(&f.signs, d);
        }
        out
    }

    fn random_bits(rng: &mut Pcg64, n: usize) -> Vec<u8> {
        (0..n).map(|_| rng.random_range(0..2u8)).collect()
    }

    /// The sign-coding chain written out from Tables 3 and 4 and the second
    /// differential step, independently of the kernel: t of every shaping
    /// frame, position by position.
    fn reference_t(sr: u32, data: &[u8]) -> Vec<Vec<u8>> {
        let s = FRAME - sr as usize;
        let w = FRAME / sr as usize;
        let mut prev_p = vec![0u8; w];
        let mut prev_t = vec![0u8; w];
        let mut all = Vec::new();
        for frame in data.chunks_exact(s) {
            for j in 0..sr as usize {
                // Table 3: (0, data…), w − 1 data bits per shaping frame.
                let mut p = vec![0u8];
                p.extend_from_slice(&frame[j * (w - 1)..(j + 1) * (w - 1)]);
                // Table 4.
                let mut pp = p.clone();
                if sr == 1 {
                    pp[1] = p[1] ^ prev_p[5];
                    pp[3] = p[3] ^ pp[1];
                    pp[5] = p[5] ^ pp[3];
                } else {
                    pp[1] = p[1] ^ prev_p[1];
                }
                let t: Vec<u8> = (0..w).map(|k| pp[k] ^ prev_t[k]).collect();
                prev_p = pp;
                prev_t = t.clone();
                all.push(t);
            }
        }
        all
    }

    /// Inversion pattern of rule A, B, C or D (0…3) over a shaping frame.
    fn rule_pattern(rule: usize, w: usize) -> Vec<u8> {
        (0..w)
            .map(|k| match rule {
                0 => 0,
                1 => 1,
                2 => u8::from(k % 2 == 0),
                _ => u8::from(k % 2 == 1),
            })
            .collect()
    }

    /// Figure 2: the two rules allowed from a state (choice 0 first) and the
    /// state each leads to.
    fn allowed(state: u8) -> [(usize, u8); 2] {
        if state == 0 {
            [(0, 0), (1, 1)] // A: 0→0, B: 0→1
        } else {
            [(2, 0), (3, 1)] // C: 1→0, D: 1→1
        }
    }

    /// §5.4.5.6 written out: returns v²[n] and updates (x1, y1, v1).
    fn metric_step(f: [f64; 4], m: &mut [f64; 3], x: f64) -> f64 {
        let [a1, a2, b1, b2] = f;
        let y = x - b1 * m[0] + a1 * m[1];
        let v = y - b2 * m[1] + a2 * m[2];
        *m = [x, y, v];
        v * v
    }

    /// The shaper by brute force: for every shaping frame, every choice
    /// sequence over the lookahead (enumerated as integers, first frame most
    /// significant, so ties keep the earliest as the kernel does), the metric
    /// recomputed from the committed state each time.
    fn reference_signs(
        law: Law,
        sr: u32,
        ld: usize,
        filter: MetricFilter,
        ucodes: &[u8],
        data: &[u8],
    ) -> Vec<u8> {
        let w = FRAME / sr as usize;
        let ts = reference_t(sr, data);
        let n_frames = ts.len();
        let f = filter.values();
        let x_of = |j: usize, k: usize, sign: u8| {
            let v = f64::from(linear(law, ucodes[j * w + k] & 0x7F));
            if sign == 1 {
                v
            } else {
                -v
            }
        };
        let (mut state, mut mem) = (0u8, [0.0; 3]);
        let mut signs = Vec::new();
        for j in 0..n_frames {
            let n = (ld + 1).min(n_frames - j);
            let (mut best, mut best_first) = (f64::INFINITY, 0);
            for path in 0..1usize << n {
                let (mut q, mut m, mut cost) = (state, mem, 0.0);
                for d in 0..n {
                    let c = (path >> (n - 1 - d)) & 1;
                    let (rule, next) = allowed(q)[c];
                    let inv = rule_pattern(rule, w);
                    // w[n] summed per shaping frame, then the frames in order.
                    let mut frame = 0.0;
                    for k in 0..w {
                        frame += metric_step(f, &mut m, x_of(j + d, k, ts[j + d][k] ^ inv[k]));
                    }
                    cost += frame;
                    q = next;
                }
                if cost < best {
                    best = cost;
                    best_first = path >> (n - 1);
                }
            }
            let (rule, next) = allowed(state)[best_first];
            let inv = rule_pattern(rule, w);
            for k in 0..w {
                let sign = ts[j][k] ^ inv[k];
                metric_step(f, &mut mem, x_of(j, k, sign));
                signs.push(sign);
            }
            state = next;
        }
        signs
    }

    fn filter_strategy() -> impl Strategy<Value = MetricFilter> {
        (-64i32..64, -64i32..64, -64i32..64, -64i32..64)
            .prop_map(|(a1, a2, b1, b2)| MetricFilter::new(a1, a2, b1, b2).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// SignDecoder(SpectralShaper(x)) = x from the very first frame, for
        /// every S_r and ld, any filter, any Ucodes.
        #[test]
        fn decoder_inverts_the_shaper(
            sr in 0u32..4,
            ld in 0u32..4,
            a_law in any::<bool>(),
            filter in filter_strategy(),
            frames in 0usize..40,
            seed in any::<u64>(),
        ) {
            let law = if a_law { Law::A } else { Law::Mu };
            let mut rng = Pcg64::seed_from_u64(seed);
            let s = FRAME - sr as usize;
            let ucodes: Vec<u8> = (0..frames * FRAME).map(|_| rng.random()).collect();
            let data = random_bits(&mut rng, frames * s);
            let mut shaper = SpectralShaper::new(law, sr, ld, filter).unwrap();
            let out = shape(&mut shaper, &ucodes, &data);
            prop_assert_eq!(out.len(), frames);
            let echoed: Vec<u8> = out.iter().flat_map(|f| f.ucodes).collect();
            let masked: Vec<u8> = ucodes.iter().map(|u| u & 0x7F).collect();
            prop_assert_eq!(echoed, masked);
            prop_assert_eq!(decode(sr, &out), data);
        }

        /// The kernel's pruned depth-first search picks exactly what the
        /// brute-force enumeration of every path picks.
        #[test]
        fn search_matches_brute_force_over_all_paths(
            sr in 1u32..4,
            ld in 0u32..4,
            filter in filter_strategy(),
            frames in 0usize..25,
            small in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = Pcg64::seed_from_u64(seed);
            let s = FRAME - sr as usize;
            // Small Ucodes make exact ties (µ-law Ucode 0 is 0 V) frequent.
            let top = if small { 3 } else { 127 };
            let ucodes: Vec<u8> = (0..frames * FRAME).map(|_| rng.random_range(0..=top)).collect();
            let data = random_bits(&mut rng, frames * s);
            let mut shaper = SpectralShaper::new(Law::Mu, sr, ld, filter).unwrap();
            let got: Vec<u8> = shape(&mut shaper, &ucodes, &data)
                .iter()
                .flat_map(|f| f.signs)
                .collect();
            let want = reference_signs(Law::Mu, sr, ld as usize, filter, &ucodes, &data);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn sr0_matches_the_worked_example() {
        // modem-standards.md §5.6: Ucodes 64…94, s = 101100, previous $₅ = 0.
        let mut shaper = SpectralShaper::new(Law::Mu, 0, 1, MetricFilter::DC_NOTCH).unwrap();
        let f = shaper
            .push(&[64, 70, 76, 82, 88, 94], &[1, 0, 1, 1, 0, 0])
            .unwrap();
        assert_eq!(f.signs, [1, 1, 0, 1, 1, 1]);
        assert_eq!(f.octets(Law::Mu), [0xBF, 0xB9, 0x33, 0xAD, 0xA7, 0xA1]);
        // The chain continues from $₅ = 1 into the next frame.
        let g = shaper.push(&[0; FRAME], &[0, 1, 0, 0, 0, 1]).unwrap();
        assert_eq!(g.signs, [1, 0, 0, 0, 0, 1]);
        let mut dec = SignDecoder::new(0).unwrap();
        let mut d = [0; 6];
        dec.decode(&f.signs, &mut d);
        assert_eq!(d, [1, 0, 1, 1, 0, 0]);
        dec.decode(&g.signs, &mut d);
        assert_eq!(d, [0, 1, 0, 0, 0, 1]);
    }

    /// ld = 0: each shaping frame's rule is the one of the two allowed whose
    /// own metric increment, from the filter state the transmitted signs
    /// left, is smaller (ties: A or C).
    #[test]
    fn ld0_picks_the_rule_with_the_smaller_metric() {
        let mut rng = Pcg64::seed_from_u64(5);
        for sr in 1..=3u32 {
            for filter in [
                MetricFilter::DC_NOTCH,
                MetricFilter::new(-40, 20, 10, -63).unwrap(),
            ] {
                let frames = 300;
                let s = FRAME - sr as usize;
                let w = FRAME / sr as usize;
                let ucodes: Vec<u8> = (0..frames * FRAME)
                    .map(|_| rng.random_range(0..128))
                    .collect();
                let data = random_bits(&mut rng, frames * s);
                let mut shaper = SpectralShaper::new(Law::Mu, sr, 0, filter).unwrap();
                let signs: Vec<u8> = shape(&mut shaper, &ucodes, &data)
                    .iter()
                    .flat_map(|f| f.signs)
                    .collect();
                let ts = reference_t(sr, &data);
                let f = filter.values();
                let x = |i: usize, sign: u8| {
                    let v = f64::from(linear(Law::Mu, ucodes[i]));
                    if sign == 1 {
                        v
                    } else {
                        -v
                    }
                };
                let (mut state, mut mem) = (0u8, [0.0; 3]);
                let mut picked = [0usize; 2];
                for (j, t) in ts.iter().enumerate() {
                    let cost: Vec<f64> = allowed(state)
                        .iter()
                        .map(|&(rule, _)| {
                            let inv = rule_pattern(rule, w);
                            let mut m = mem;
                            (0..w)
                                .map(|k| metric_step(f, &mut m, x(j * w + k, t[k] ^ inv[k])))
                                .sum()
                        })
                        .collect();
                    let want = usize::from(cost[1] < cost[0]);
                    let sent = &signs[j * w..(j + 1) * w];
                    let (rule, next) = allowed(state)[want];
                    let inv = rule_pattern(rule, w);
                    for k in 0..w {
                        assert_eq!(sent[k], t[k] ^ inv[k], "S_r {sr} frame {j}: {cost:?}");
                        metric_step(f, &mut mem, x(j * w + k, sent[k]));
                    }
                    picked[want] += 1;
                    state = next;
                }
                // Both choices occur: the test would see a shaper that never
                // inverts, or always does.
                assert!(picked[0] > 30 && picked[1] > 30, "{picked:?}");
            }
        }
    }

    /// Every shaping frame is t with rule A or B from state 0 and C or D from
    /// state 1 (Figure 2), and the two candidates are complements, so each
    /// frame is one of two complementary patterns.
    #[test]
    fn frames_follow_the_trellis_with_complementary_choices() {
        let mut rng = Pcg64::seed_from_u64(9);
        for sr in 1..=3u32 {
            for ld in 0..=3 {
                let frames = 200;
                let s = FRAME - sr as usize;
                let w = FRAME / sr as usize;
                let ucodes: Vec<u8> = (0..frames * FRAME).map(|_| rng.random()).collect();
                let data = random_bits(&mut rng, frames * s);
                let mut shaper =
                    SpectralShaper::new(Law::A, sr, ld, MetricFilter::DC_NOTCH).unwrap();
                let signs: Vec<u8> = shape(&mut shaper, &ucodes, &data)
                    .iter()
                    .flat_map(|f| f.signs)
                    .collect();
                let mut state = 0u8;
                let mut used = [0usize; 4];
                for (j, t) in reference_t(sr, &data).iter().enumerate() {
                    let [(r0, s0), (r1, s1)] = allowed(state);
                    let (p0, p1) = (rule_pattern(r0, w), rule_pattern(r1, w));
                    assert!(p0.iter().zip(&p1).all(|(a, b)| a ^ b == 1));
                    let inv: Vec<u8> = (0..w).map(|k| signs[j * w + k] ^ t[k]).collect();
                    if inv == p0 {
                        used[r0] += 1;
                        state = s0;
                    } else if inv == p1 {
                        used[r1] += 1;
                        state = s1;
                    } else {
                        panic!("S_r {sr} ld {ld} frame {j}: inversion {inv:?} from state {state}");
                    }
                }
                assert!(used.iter().all(|&n| n > 0), "S_r {sr} ld {ld}: {used:?}");
            }
        }
    }

    #[test]
    fn output_runs_ceil_ld_over_sr_frames_behind() {
        for sr in 0..=3u32 {
            for ld in 0..=3u32 {
                let mut shaper =
                    SpectralShaper::new(Law::Mu, sr, ld, MetricFilter::DC_NOTCH).unwrap();
                let want = if sr == 0 { 0 } else { ld.div_ceil(sr) as usize };
                assert_eq!(shaper.delay(), want, "S_r {sr} ld {ld}");
                let data = vec![1u8; shaper.sign_bits()];
                for n in 0..10 {
                    let got = shaper.push(&[n as u8; FRAME], &data);
                    assert_eq!(got.is_some(), n >= want, "S_r {sr} ld {ld} push {n}");
                    if let Some(f) = got {
                        assert_eq!(f.ucodes, [(n - want) as u8; FRAME]);
                    }
                }
                assert_eq!(std::iter::from_fn(|| shaper.flush()).count(), want);
            }
        }
    }

    #[test]
    fn filter_coefficients_are_q6() {
        let f = MetricFilter::from_f64(0.984375, -1.0, 0.5, 0.1).unwrap();
        assert_eq!(f, MetricFilter::new(63, -64, 32, 6).unwrap());
        assert_eq!(f.values(), [0.984375, -1.0, 0.5, 0.09375]);
        assert_eq!(f.q6(), [63, -64, 32, 6]);
        for bad in [0.99, -1.01, f64::NAN, f64::INFINITY] {
            let e = MetricFilter::from_f64(0.0, 0.0, bad, 0.0).unwrap_err();
            assert!(e.contains("b1"), "{e}");
        }
        assert!(MetricFilter::new(64, 0, 0, 0).unwrap_err().contains("a1"));
        assert!(MetricFilter::new(0, -65, 0, 0).unwrap_err().contains("a2"));
        assert!(SpectralShaper::new(Law::Mu, 4, 0, f).is_err());
        assert!(SpectralShaper::new(Law::Mu, 1, 4, f).is_err());
        assert!(SignDecoder::new(4).is_err());
    }

    /// Mean power spectral density below `hz`, Welch's method (Hann windows of
    /// 1024 samples, half overlapping), from a plain DFT of the few bins.
    fn low_band_power(x: &[f64], hz: f64) -> f64 {
        const N: usize = 1024;
        let bins = (0..N / 2).take_while(|&k| (k as f64) * 8000.0 / (N as f64) < hz);
        let bins: Vec<usize> = bins.collect();
        let win: Vec<f64> = (0..N)
            .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N as f64).cos())
            .collect();
        let mut total = 0.0;
        let mut segments = 0;
        for seg in x.windows(N).step_by(N / 2) {
            for &k in &bins {
                let (mut re, mut im) = (0.0, 0.0);
                for (n, (&v, &h)) in seg.iter().zip(&win).enumerate() {
                    let ph = -2.0 * std::f64::consts::PI * (k * n) as f64 / N as f64;
                    re += v * h * ph.cos();
                    im += v * h * ph.sin();
                }
                total += re * re + im * im;
            }
            segments += 1;
        }
        total / (segments * bins.len()) as f64
    }

    /// With Ucodes of a 56 000 bit/s-like constellation, the default DC notch
    /// and ld = 1, the power below 100 Hz is at least 10 dB under that of the
    /// unshaped signal (S_r = 0, random signs), and decoding is unchanged.
    #[test]
    fn default_filter_notches_low_frequencies() {
        let law = Law::Mu;
        let con = Constellation::design(law, 36, 127).unwrap();
        let mut rng = Pcg64::seed_from_u64(56_000);
        let frames = 4 * 8000 / FRAME; // 4 s
        let ucodes: Vec<u8> = (0..frames * FRAME)
            .map(|n| {
                let c = con.interval(n % FRAME);
                c[rng.random_range(0..c.len())]
            })
            .collect();
        let signal = |out: &[ShapedFrame]| -> Vec<f64> {
            out.iter()
                .flat_map(|f| f.octets(law))
                .map(|o| f64::from(crate::v90::ucode::signed_linear(law, o)))
                .collect()
        };
        let plain = {
            let data = random_bits(&mut rng, frames * FRAME);
            let mut s = SpectralShaper::new(law, 0, 1, MetricFilter::DC_NOTCH).unwrap();
            signal(&shape(&mut s, &ucodes, &data))
        };
        let reference = low_band_power(&plain, 100.0);
        for sr in [1, 2, 3] {
            let data = random_bits(&mut rng, frames * (FRAME - sr as usize));
            let mut s = SpectralShaper::new(law, sr, 1, MetricFilter::DC_NOTCH).unwrap();
            let out = shape(&mut s, &ucodes, &data);
            assert!(decode(sr, &out) == data, "S_r {sr}: decoding changed");
            let shaped = signal(&out);
            let power = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
            assert_eq!(power(&shaped), power(&plain), "same magnitudes");
            let db = 10.0 * (low_band_power(&shaped, 100.0) / reference).log10();
            println!("S_r {sr}, ld 1: power below 100 Hz {db:.1} dB against unshaped");
            if sr >= 2 {
                assert!(db <= -10.0, "S_r {sr}: only {db:.1} dB");
            }
        }
    }

    /// Drives a block as a scheduler would: step k pushes chunk k of every
    /// input (sizes cycling through `sizes`), with `cap` items of output
    /// space per call, until it stalls; then the inputs end.
    fn drive(
        block: &mut dyn Block,
        inputs: &[(ItemType, &[u8])],
        sizes: &[usize],
        cap: usize,
    ) -> (Vec<u8>, bool) {
        let chunks: Vec<Vec<Buf>> = inputs.iter().map(|(_, x)| chunked(x, sizes)).collect();
        let mut ins: Vec<Input> = inputs.iter().map(|(t, _)| Input::new(*t)).collect();
        let out_ty = ItemType::Octet;
        let mut outs = [Output::new(out_ty, cap)];
        let mut events = EventList::new();
        let mut got = Vec::new();
        let mut step = |ins: &mut Vec<Input>, got: &mut Vec<u8>| {
            let before: Vec<usize> = ins.iter().map(Input::available).collect();
            let status = block
                .work(&mut WorkIo::new(ins, &mut outs, &mut events))
                .unwrap();
            assert!(outs[0].len() < cap + FRAME, "overran its space by a frame");
            let buf = outs[0].take(out_ty.new_buf(cap));
            let produced = !buf.is_empty();
            got.extend(items::<u8>(&buf));
            let after: Vec<usize> = ins.iter().map(Input::available).collect();
            (status, produced || after != before)
        };
        let steps = chunks.iter().map(Vec::len).max().unwrap_or(0);
        for k in 0..steps {
            for (inp, c) in ins.iter_mut().zip(&chunks) {
                if let Some(c) = c.get(k) {
                    inp.push(c);
                }
            }
            loop {
                let (status, progress) = step(&mut ins, &mut got);
                if status == Status::Done {
                    return (got, true);
                }
                if !progress {
                    break;
                }
            }
        }
        for inp in &mut ins {
            inp.set_eos();
        }
        for _ in 0..1_000_000 {
            let (status, progress) = step(&mut ins, &mut got);
            if status == Status::Done {
                return (got, true);
            }
            if !progress {
                break;
            }
        }
        (got, false)
    }

    fn shaper_block(sr: i64, ld: i64, law: &str) -> Box<dyn Block> {
        build(
            &spec_shaper(),
            &[
                ("sr", Value::Int(sr)),
                ("ld", Value::Int(ld)),
                ("law", Value::from(law)),
            ],
        )
        .unwrap()
    }

    fn decoder_block(sr: i64) -> Box<dyn Block> {
        build(&spec_decoder(), &[("sr", Value::Int(sr))]).unwrap()
    }

    #[test]
    fn blocks_are_chunk_invariant_and_round_trip() {
        let mut rng = Pcg64::seed_from_u64(3);
        for (sr, ld, law) in [(0, 1, "mu"), (1, 3, "a"), (2, 1, "mu"), (3, 2, "a")] {
            let law_k = Law::parse(law).unwrap();
            let frames = 700;
            let s = FRAME - sr as usize;
            let ucodes: Vec<u8> = (0..frames * FRAME)
                .map(|_| rng.random_range(0..128))
                .collect();
            let data = random_bits(&mut rng, frames * s);
            // The kernel with the block's defaults.
            let filter = MetricFilter::DC_NOTCH;
            let mut k = SpectralShaper::new(law_k, sr as u32, ld as u32, filter).unwrap();
            let want: Vec<u8> = shape(&mut k, &ucodes, &data)
                .iter()
                .flat_map(|f| f.octets(law_k))
                .collect();
            assert_eq!(want.len(), ucodes.len());
            for (sizes, cap) in [
                (&[1][..], 1),
                (&[7], 7),
                (&[333], 64),
                (&[4096], 4096),
                (&[1, 7, 333, 4096], 5),
            ] {
                let (got, done) = drive(
                    &mut *shaper_block(sr, ld, law),
                    &[(ItemType::Octet, &ucodes), (ItemType::Bit, &data)],
                    sizes,
                    cap,
                );
                assert!(done, "S_r {sr}, {sizes:?}");
                assert!(got == want, "S_r {sr}, {sizes:?} cap {cap}");
            }
            let signs: Vec<u8> = want
                .iter()
                .map(|&o| u8::from(crate::v90::ucode::from_octet(law_k, o).1))
                .collect();
            for (sizes, cap) in [
                (&[1][..], 1),
                (&[7], 7),
                (&[333], 64),
                (&[4096], 4096),
                (&[5, 4096, 1], 3),
            ] {
                let (got, done) = drive(
                    &mut *decoder_block(sr),
                    &[(ItemType::Bit, &signs)],
                    sizes,
                    cap,
                );
                assert!(done, "S_r {sr}, {sizes:?}");
                assert!(got == data, "S_r {sr}, {sizes:?} cap {cap}");
            }
        }
    }

    #[test]
    fn partial_frames_wait_and_unequal_inputs_end_cleanly() {
        // 2 whole frames of Ucodes and 1.5 of sign bits: one frame comes out,
        // the half frame is dropped at the end.
        let ucodes = [100u8; 13];
        let data = [1u8; 6];
        let (got, done) = drive(
            &mut *shaper_block(2, 3, "mu"),
            &[(ItemType::Octet, &ucodes), (ItemType::Bit, &data)],
            &[1],
            100,
        );
        assert!(done);
        assert_eq!(got.len(), FRAME);
        let (got, done) = drive(
            &mut *decoder_block(3),
            &[(ItemType::Bit, &[1u8; 17])],
            &[4],
            1,
        );
        assert!(done);
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn garbage_input_never_panics() {
        let mut rng = Pcg64::seed_from_u64(11);
        let junk: Vec<u8> = (0..5000).map(|_| rng.random()).collect();
        let other: Vec<u8> = (0..3001).map(|_| rng.random()).collect();
        for sr in 0..=3 {
            for ld in 0..=3 {
                for (a, b) in [(&junk, &other), (&other, &junk)] {
                    let mut block = build(
                        &spec_shaper(),
                        &[
                            ("sr", Value::Int(sr)),
                            ("ld", Value::Int(ld)),
                            ("a1", Value::Float(63.0 / 64.0)),
                            ("a2", Value::Float(63.0 / 64.0)),
                            ("b1", Value::Float(-1.0)),
                            ("b2", Value::Float(-1.0)),
                        ],
                    )
                    .unwrap();
                    let (got, done) = drive(
                        &mut *block,
                        &[(ItemType::Octet, a), (ItemType::Bit, b)],
                        &[333, 1, 7],
                        64,
                    );
                    let s = FRAME - sr as usize;
                    assert!(done);
                    assert_eq!(got.len(), FRAME * (a.len() / FRAME).min(b.len() / s));
                }
            }
            let (got, done) = drive(&mut *decoder_block(sr), &[(ItemType::Bit, &junk)], &[7], 9);
            assert!(done);
            assert_eq!(got.len(), (junk.len() / FRAME) * (FRAME - sr as usize));
            assert!(got.iter().all(|&b| b <= 1));
        }
    }

    #[test]
    fn parameters_out_of_range_are_refused() {
        for (name, v) in [
            ("sr", Value::Int(4)),
            ("sr", Value::Int(-1)),
            ("ld", Value::Int(4)),
            ("law", Value::from("alaw")),
            ("a1", Value::Float(1.0)),
            ("a2", Value::Float(-1.5)),
            ("b1", Value::Float(f64::NAN)),
            ("b2", Value::Float(0.99)),
        ] {
            let e = build(&spec_shaper(), &[(name, v.clone())])
                .err()
                .unwrap_or_else(|| panic!("{name} = {v} accepted"));
            assert!(e.contains(name), "{name}: {e}");
        }
        for v in [4, -1, 100] {
            let e = build(&spec_decoder(), &[("sr", Value::Int(v))])
                .err()
                .unwrap();
            assert!(e.contains("sr"), "{e}");
        }
        // Defaults are the documented DC notch.
        let s = spec_shaper();
        let default = |n: &str| s.param_spec(n).unwrap().default.clone().unwrap();
        assert_eq!(default("a1"), Value::Float(63.0 / 64.0));
        assert_eq!(default("b2"), Value::Float(0.5));
        assert_eq!(default("ld"), Value::Int(1));
        assert_eq!(default("sr"), Value::Int(0));
        assert!(crate::registry().get("spectral_shaper").is_some());
        assert!(crate::registry().get("sign_decoder").is_some());
    }

    /// A rough speed figure (run with `--ignored --nocapture` in release).
    #[test]
    #[ignore]
    fn throughput() {
        let mut rng = Pcg64::seed_from_u64(1);
        let frames = 200_000;
        let ucodes: Vec<u8> = (0..frames * FRAME)
            .map(|_| rng.random_range(0..128))
            .collect();
        let data = random_bits(&mut rng, frames * FRAME);
        for sr in 1..=3u32 {
            for ld in [0, 1, 3] {
                let s = FRAME - sr as usize;
                let mut k = SpectralShaper::new(Law::Mu, sr, ld, MetricFilter::DC_NOTCH).unwrap();
                let t = std::time::Instant::now();
                let mut n = 0usize;
                for (u, d) in ucodes.chunks_exact(FRAME).zip(data.chunks_exact(s)) {
                    n += k
                        .push(u.try_into().unwrap(), d)
                        .map_or(0, |f| f.signs[0] as usize);
                }
                let rate = (frames * FRAME) as f64 / t.elapsed().as_secs_f64();
                println!("S_r {sr} ld {ld}: {:.1} M symbols/s ({n})", rate / 1e6);
            }
        }
    }
}
