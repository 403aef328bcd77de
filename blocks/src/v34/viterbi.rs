//! Soft-decision Viterbi decoding of the V.34 4D trellis code
//! (`viterbi_decoder`; §9.6.3, modem-standards.md §4.10).
//!
//! The decoder works on the channel points y(n) the receiver sees after its
//! noise-whitening filter, on the unbounded odd lattice (with precoding y
//! may leave the constellation). For each 2D symbol it finds the nearest
//! point of each of the 8 subsets of Figure 9; a 4D branch is a pair of
//! subsets, labelled by Y4…Y1 (Table 13) and by Y₀ = s0(2m) ⊕ s0(2m+1) ⊕ V₀
//! (the encoder's U₀ makes the pair's turn parity equal its state bit Y₀
//! after C₀ and V₀). Branches that differ only in bits the code does not
//! use are parallel: the better one is kept before add-compare-select.
//! Decisions come out `depth` 4D symbols late, by trace-back.

use super::acs16::Acs16;
use super::constellation::{nearest_odd, round_near, Point};
use super::mapper::to_c32;
use super::params::{mode_arg, mode_params};
use super::rates::Mode;
use super::trellis::{code_arg, code_param, next_state, subset, Code, SyncCounter, TABLE_13};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
use num_complex::Complex32;

/// The largest number of states (64-state code).
const MAX_STATES: usize = 64;
/// Decisions are traced back in blocks of this many 4D symbols beyond the
/// decoding delay: one trace-back serves them all.
const CHUNK: usize = 32;

/// The survivors of one 4D symbol: for each state, where it came from and
/// which branch class led there; the class's nearer subset pair; and each
/// subset's nearest point in both 2D symbols.
#[derive(Clone, Copy)]
struct Step {
    prev: [u8; MAX_STATES],
    class: [u8; MAX_STATES],
    /// labels[class]: the nearer subset pair (s(2m), s(2m+1)) of that class.
    labels: [[u8; 2]; 32],
    /// The two soft points, from which the decided subsets' points are
    /// found again at trace-back.
    soft: [(f32, f32); 2],
    /// With the vector form of the 16-state code ([`Acs16`]), which input
    /// won at each state and V₀, from which `prev` and `class` follow.
    won: u32,
    vbit: u8,
}

/// The decoder.
pub struct Viterbi {
    code: Code,
    states: usize,
    depth: usize,
    /// Label bits of s(2m) and s(2m+1) that no branch class depends on (for
    /// the 16-state code, s2 of both: it only feeds Y4, which that code
    /// ignores): the nearer of the two subsets they tell apart is kept first,
    /// which leaves 16 pairs instead of 64.
    free: [u8; 2],
    /// (class, reduced s0, reduced s1) of each pair: class = parity·16 +
    /// (Y & used), parity = s0(2m) ⊕ s0(2m+1) (bit 0 of each label).
    pairs: Vec<(u8, u8, u8)>,
    /// The pairs of each class, in order: class c has
    /// by_class[starts[c]..starts[c + 1]].
    by_class: Vec<u8>,
    starts: [u8; 33],
    /// The inputs Y (used bits only), and for each, the state every state
    /// is reached from under it: for a fixed input the encoder's next-state
    /// map is a permutation, so add-compare-select runs input by input over
    /// all states, without data-dependent branches.
    inputs: Vec<u8>,
    /// For all three codes the predecessor of state n under input y is
    /// base[n] ⊕ mask[y], with the same Y₀ (bit 0) for every y: so a
    /// destination's branches share their parity.
    base: [u8; MAX_STATES],
    masks: Vec<u8>,
    /// Whether that holds (the 16- and 32-state codes; the 64-state code's
    /// AND gates break it, and it uses `pred`).
    xor_form: bool,
    pred: Vec<[u8; MAX_STATES]>,
    /// For a code with four branches per state in that form (the 16-state
    /// code): the masks form a group, so the states split into butterflies
    /// of four predecessors t = c ⊕ g and four destinations (those with
    /// base c ⊕ g), g over the group. butterflies[i] = (c, the destinations
    /// in the order of `masks`).
    butterflies: Vec<(u8, [u8; 4])>,
    /// The 16-state code's add-compare-select in AVX2 registers, where the
    /// machine has them; `metric` is then kept in its butterfly order.
    acs16: Option<Acs16>,
    /// Distinct branches per state.
    fanout: usize,
    metric: [f32; MAX_STATES],
    /// The survivors of the newest 4D symbols, a ring of a power-of-two
    /// length (symbol m in slot m & (len − 1)).
    steps: Vec<Step>,
    /// 4D symbols pushed so far, and decided so far.
    m: u64,
    decided: u64,
    sync: SyncCounter,
    /// Decisions traced back and not yet taken.
    ready: Vec<[Point; 2]>,
}

/// The squared distance from (re, im) to the nearest point of each of the
/// 8 subsets. Subset s is a coset of 4·D₂ (D₂: integer pairs of even sum);
/// each coset of 4ℤ² in the odd lattice holds two of them: rounding each
/// coordinate to that coset gives the nearest point of one of the two, and
/// moving the coordinate that rounded furthest to its other neighbour the
/// nearest of the other. The four cosets are computed side by side.
#[inline]
fn subset_distances(re: f32, im: f32) -> [f32; 8] {
    let lab = &SUBSET_OF_COSET;
    let (ox, oy) = ([1f32, 1.0, -1.0, -1.0], [1f32, -1.0, 1.0, -1.0]);
    let (mut dp, mut dq, mut par) = ([0f32; 4], [0f32; 4], [0usize; 4]);
    for c in 0..4 {
        let a = (re - ox[c]) * 0.25;
        let b = (im - oy[c]) * 0.25;
        let (ra, rb) = (round_near(a), round_near(b));
        let (ea, eb) = (a - ra, b - rb);
        let (aa, ab) = (ea.abs(), eb.abs());
        dp[c] = 16.0 * (ea * ea + eb * eb);
        // Moving the larger coordinate by a whole step: (1 − |e|)² replaces
        // e² (min and max, not a branch on random data).
        let (big, small) = (aa.max(ab), aa.min(ab));
        let moved = (1.0 - big) * (1.0 - big) + small * small;
        dq[c] = 16.0 * moved;
        par[c] = ((ra + rb) as i32 & 1) as usize;
    }
    let mut d = [0f32; 8];
    for c in 0..4 {
        d[usize::from(lab[c][par[c]])] = dp[c];
        d[usize::from(lab[c][par[c] ^ 1])] = dq[c];
    }
    d
}

/// The four cosets of 4ℤ² in the odd lattice, by their offsets.
const COSETS: [(i32, i32); 4] = [(1, 1), (1, -1), (-1, 1), (-1, -1)];

/// Per pair of subsets {l, l + 4} (l = s0 + 2·s1): the distance to the
/// nearer one and its label.
type Nearer = ([f32; 4], [u8; 4]);

/// [`Nearer`] for the soft point (re, im), for the 16-state code. The two
/// subsets of a coset of 4ℤ² differ only in s2 (adding (4, 0) flips bit 2
/// of x ⊕ y and nothing else Figure 9 reads), so the pair's nearer subset is
/// the one the coset's rounding lands in, at the coset's distance (on an
/// exact tie between the two, that one too).
#[inline]
fn nearer_subsets(re: f32, im: f32) -> Nearer {
    let (mut m, mut a) = ([0f32; 4], [0u8; 4]);
    for (c, &(ox, oy)) in COSETS.iter().enumerate() {
        let x = (re - ox as f32) * 0.25;
        let y = (im - oy as f32) * 0.25;
        let (rx, ry) = (round_near(x), round_near(y));
        let (ex, ey) = (x - rx, y - ry);
        let parity = ((rx + ry) as i32 & 1) as usize;
        let l = usize::from(SUBSET_OF_COSET[c][0] & 3);
        m[l] = 16.0 * (ex * ex + ey * ey);
        a[l] = SUBSET_OF_COSET[c][parity];
    }
    (m, a)
}

/// The nearest point of subset `s` to the soft point (re, im). Without
/// branches: which coset, and whether rounding lands in the wanted half of
/// it, are random from symbol to symbol.
fn nearest_in_subset((re, im): (f32, f32), s: u8) -> Point {
    let (c, want) = PLACE_OF_SUBSET[usize::from(s & 7)];
    let (ox, oy) = COSETS[usize::from(c)];
    let a = (re - ox as f32) * 0.25;
    let b = (im - oy as f32) * 0.25;
    let (ra, rb) = (round_near(a), round_near(b));
    let (ea, eb) = (a - ra, b - rb);
    let (ia, ib) = (ra as i32, rb as i32);
    // In the other subset of the coset: move the coordinate that rounded
    // furthest to its other neighbour.
    let wrong = i32::from((ia + ib) & 1 != i32::from(want));
    let along_a = i32::from(ea.abs() > eb.abs());
    let (sa, sb) = (2 * i32::from(ea > 0.0) - 1, 2 * i32::from(eb > 0.0) - 1);
    (
        ox + 4 * (ia + wrong * along_a * sa),
        oy + 4 * (ib + wrong * (1 - along_a) * sb),
    )
}

/// For each subset: its coset (an index into [`COSETS`]) and the parity of
/// i + j that selects it there (the inverse of [`SUBSET_OF_COSET`]).
const PLACE_OF_SUBSET: [(u8, u8); 8] = {
    let mut place = [(0u8, 0u8); 8];
    let mut c = 0;
    while c < 4 {
        let mut parity = 0;
        while parity < 2 {
            place[SUBSET_OF_COSET[c][parity] as usize] = (c as u8, parity as u8);
            parity += 1;
        }
        c += 1;
    }
    place
};

/// The subset label of (o + 4·(i, j)) for each of the four cosets o of
/// 4ℤ² in the odd lattice and each parity of i + j (V.34 Figure 9's labels
/// repeat with (8, 0), (0, 8) and (4, 4), so the parity decides).
const SUBSET_OF_COSET: [[u8; 2]; 4] = {
    let mut lab = [[0u8; 2]; 4];
    let mut c = 0;
    while c < 4 {
        let (ox, oy) = COSETS[c];
        lab[c] = [subset((ox, oy)), subset((ox + 4, oy))];
        c += 1;
    }
    lab
};

/// The smallest of a multiple of four metrics, four lanes at a time (a
/// tree instead of one long chain of comparisons).
#[inline]
fn smallest(v: &[f32]) -> f32 {
    let mut m = [f32::INFINITY; 4];
    for c in v.chunks_exact(4) {
        for l in 0..4 {
            m[l] = if c[l] < m[l] { c[l] } else { m[l] };
        }
    }
    let (a, b) = (m[0].min(m[1]), m[2].min(m[3]));
    a.min(b)
}

/// Soft values are clamped to this (far beyond any constellation or
/// precoded point), and non-finite ones read as 0, so the metrics stay finite.
const SOFT_LIMIT: f32 = 4096.0;

fn sane(v: f32) -> f32 {
    if v.is_finite() {
        v.clamp(-SOFT_LIMIT, SOFT_LIMIT)
    } else {
        0.0
    }
}

impl Viterbi {
    pub fn new(mode: &Mode, code: Code, depth: usize) -> Viterbi {
        let used = match code {
            Code::None => 0u8,
            Code::States16 => 0b0011,
            Code::States32 => 0b1011,
            Code::States64 => 0b1111,
        };
        let class_of = |a: u8, b: u8| {
            let y = TABLE_13[usize::from(a)][usize::from(b)];
            ((a ^ b) & 1) * 16 + (y & used)
        };
        // A label bit is free when flipping it never changes the class.
        let mut free = [0u8; 2];
        for bit in [1u8, 2, 4] {
            if (0..64u8).all(|i| class_of((i >> 3) ^ bit, i & 7) == class_of(i >> 3, i & 7)) {
                free[0] |= bit;
            }
            if (0..64u8).all(|i| class_of(i >> 3, (i & 7) ^ bit) == class_of(i >> 3, i & 7)) {
                free[1] |= bit;
            }
        }
        let mut pairs = Vec::new();
        for a in (0..8u8).filter(|a| a & free[0] == 0) {
            for b in (0..8u8).filter(|b| b & free[1] == 0) {
                pairs.push((class_of(a, b), a, b));
            }
        }
        let mut by_class = Vec::with_capacity(pairs.len());
        let mut starts = [0u8; 33];
        for c in 0..32u8 {
            starts[usize::from(c)] = by_class.len() as u8;
            for (i, p) in pairs.iter().enumerate() {
                if p.0 == c {
                    by_class.push(i as u8);
                }
            }
        }
        starts[32] = by_class.len() as u8;
        let states = code.states();
        let inputs: Vec<u8> = (0..16u8).filter(|y| y & !used == 0).collect();
        let pred: Vec<[u8; MAX_STATES]> = inputs
            .iter()
            .map(|&y| {
                let mut p = [0u8; MAX_STATES];
                for t in 0..states {
                    p[usize::from(next_state(code, t as u8, y))] = t as u8;
                }
                p
            })
            .collect();
        let base = pred.first().copied().unwrap_or([0; MAX_STATES]);
        let masks: Vec<u8> = pred.iter().map(|p| p[0] ^ base[0]).collect();
        let xor_form = pred
            .iter()
            .zip(&masks)
            .all(|(p, &mk)| mk & 1 == 0 && (0..states).all(|n| p[n] == base[n] ^ mk));
        // The masks, in input order, must be the group Z₂² with lane j ⊕ k
        // for masks[j] ⊕ masks[k] (so that each input is one fixed shuffle).
        let lane_of = |m: u8| masks.iter().position(|&x| x == m);
        let group = masks.len() == 4
            && (0..4).all(|j| (0..4).all(|k| lane_of(masks[j] ^ masks[k]) == Some(j ^ k)));
        let mut butterflies = Vec::new();
        if xor_form && group {
            let mut seen = vec![false; states];
            for c in 0..states as u8 {
                if seen[usize::from(c)] {
                    continue;
                }
                let mut dests = [0u8; 4];
                for (j, &g) in masks.iter().enumerate() {
                    seen[usize::from(c ^ g)] = true;
                    dests[j] = (0..states as u8)
                        .find(|&n| base[usize::from(n)] == c ^ g)
                        .unwrap_or(0);
                }
                butterflies.push((c, dests));
            }
        }
        let acs16 = if states == 16 && inputs == [0, 1, 2, 3] && !butterflies.is_empty() {
            Acs16::new(&butterflies, &masks)
        } else {
            None
        };
        let mut metric = [f32::INFINITY; MAX_STATES];
        // V.34: the encoder starts in state 0.
        metric[acs16.as_ref().map_or(0, |a| a.slot_of(0))] = 0.0;
        let depth = depth.max(1);
        Viterbi {
            code,
            states,
            depth,
            free,
            pairs,
            by_class,
            starts,
            fanout: inputs.len(),
            inputs,
            base,
            masks,
            xor_form,
            pred,
            butterflies,
            acs16,
            metric,
            steps: vec![
                Step {
                    prev: [0; MAX_STATES],
                    class: [0; MAX_STATES],
                    labels: [[0; 2]; 32],
                    soft: [(0.0, 0.0); 2],
                    won: 0,
                    vbit: 0,
                };
                (depth + CHUNK).next_power_of_two()
            ],
            m: 0,
            decided: 0,
            sync: SyncCounter::new(mode.symbol_rate.j, mode.symbol_rate.p),
            ready: Vec::with_capacity(CHUNK),
        }
    }

    pub fn depth(&self) -> usize {
        if self.code == Code::None {
            0
        } else {
            self.depth
        }
    }

    /// Adds one 4D symbol (its two soft points); decisions that are ready
    /// (`depth` to `depth` + 32 4D symbols later) are appended to `out`.
    pub fn push(&mut self, z0: Complex32, z1: Complex32, out: &mut Vec<[Point; 2]>) {
        let (r0, i0, r1, i1) = (sane(z0.re), sane(z0.im), sane(z1.re), sane(z1.im));
        if self.code == Code::None {
            out.push([nearest_odd(r0, i0), nearest_odd(r1, i1)]);
            return;
        }
        let slot = (self.m as usize) & (self.steps.len() - 1);
        let vbit = usize::from(self.sync.next_v0());
        let step = &mut self.steps[slot];
        // Per 2D symbol: the distance to the nearest point of each subset.
        step.soft = [(r0, i0), (r1, i1)];
        let mut bm = [f32::INFINITY; 32];
        if self.code == Code::States16 {
            let near = [nearer_subsets(r0, i0), nearer_subsets(r1, i1)];
            branch_metrics_16(&near, &mut bm, &mut step.labels);
        } else {
            let mut d = [subset_distances(r0, i0), subset_distances(r1, i1)];
            self.branch_metrics(&mut d, &mut bm, slot);
        }
        // Add, compare, select. Every branch into state n leaves the same
        // predecessor bit Y₀, so they share the parity Y₀ ⊕ V₀ of their class.
        if let (Some(a), Some(metric)) = (&self.acs16, self.metric.first_chunk_mut::<16>()) {
            let step = &mut self.steps[slot];
            step.won = a.step(metric, &bm, vbit);
            step.vbit = vbit as u8;
            self.m += 1;
            if self.m >= self.decided + (self.depth + CHUNK) as u64 {
                self.trace(CHUNK, out);
            }
            return;
        }
        let mut new = [f32::INFINITY; MAX_STATES];
        match (self.xor_form, self.fanout) {
            #[cfg(target_arch = "x86_64")]
            (true, 4) if !self.butterflies.is_empty() => {
                acs_butterflies(self, &bm, vbit, &mut new, slot)
            }
            (true, 4) => acs::<4>(self, &bm, vbit, &mut new, slot),
            (true, 8) => acs::<8>(self, &bm, vbit, &mut new, slot),
            _ => acs_general(self, &bm, vbit, &mut new, slot),
        }
        // Keep the metrics small: subtract the best.
        let min = smallest(&new[..self.states]);
        let min = if min.is_finite() { min } else { 0.0 };
        for (dst, v) in self.metric.iter_mut().zip(new.iter()).take(self.states) {
            *dst = v - min;
        }
        self.m += 1;
        if self.m >= self.decided + (self.depth + CHUNK) as u64 {
            self.trace(CHUNK, out);
        }
    }

    /// Branch metrics for any code: the nearer pair of each class.
    fn branch_metrics(&mut self, d: &mut [[f32; 8]; 2], bm: &mut [f32; 32], slot: usize) {
        // Free label bits: keep the nearer subset of each pair they tell apart.
        let mut full = [[0u8; 8]; 2];
        for k in 0..2 {
            let f = self.free[k];
            for (l, dst) in full[k].iter_mut().enumerate() {
                *dst = l as u8;
            }
            if f != 0 {
                for l in (0..8u8).filter(|l| l & f == 0) {
                    let (mut best, mut arg) = (d[k][usize::from(l)], l);
                    for v in 1..8u8 {
                        if v & !f == 0 {
                            let cand = d[k][usize::from(l | v)];
                            let better = cand < best;
                            best = if better { cand } else { best };
                            arg = if better { l | v } else { arg };
                        }
                    }
                    d[k][usize::from(l)] = best;
                    full[k][usize::from(l)] = arg;
                }
            }
        }
        let (d0, d1) = (d[0], d[1]);
        let step = &mut self.steps[slot];
        // Branch classes: the nearer pair of each, over the bits the code ignores.
        for (c, slot_bm) in bm.iter_mut().enumerate() {
            let (from, to) = (usize::from(self.starts[c]), usize::from(self.starts[c + 1]));
            let (mut best, mut arg) = (f32::INFINITY, (0u8, 0u8));
            for &i in &self.by_class[from..to] {
                let (_, a, b) = self.pairs[usize::from(i)];
                let d = d0[usize::from(a)] + d1[usize::from(b)];
                let better = d < best;
                best = if better { d } else { best };
                arg = if better { (a, b) } else { arg };
            }
            *slot_bm = best;
            step.labels[c] = [full[0][usize::from(arg.0)], full[1][usize::from(arg.1)]];
        }
    }

    fn best_state(&self) -> usize {
        let at = |n: usize| match &self.acs16 {
            Some(a) => self.metric[a.slot_of(n)],
            None => self.metric[n],
        };
        (0..self.states)
            .min_by(|&a, &b| at(a).total_cmp(&at(b)))
            .unwrap_or(0)
    }

    /// Traces back from the best state over everything not yet decided and
    /// appends the oldest `count` decisions.
    fn trace(&mut self, count: usize, out: &mut Vec<[Point; 2]>) {
        let mask = self.steps.len() - 1;
        let span = (self.m - self.decided) as usize;
        let count = count.min(span);
        let mut s = self.best_state();
        self.ready.clear();
        for back in 0..span {
            let k = self.m - 1 - back as u64;
            let step = &self.steps[k as usize & mask];
            let (prev, class) = match &self.acs16 {
                Some(a) => a.survivor(step.won, step.vbit, s),
                None => (step.prev[s], step.class[s]),
            };
            if span - back <= count {
                let [a, b] = step.labels[usize::from(class)];
                self.ready.push([
                    nearest_in_subset(step.soft[0], a),
                    nearest_in_subset(step.soft[1], b),
                ]);
            }
            s = usize::from(prev);
        }
        out.extend(self.ready.drain(..).rev());
        self.decided += count as u64;
    }

    /// The decisions still held back, oldest first (at the end of the stream).
    pub fn flush(&mut self, out: &mut Vec<[Point; 2]>) {
        if self.code == Code::None {
            return;
        }
        let span = (self.m - self.decided) as usize;
        self.trace(span, out);
    }
}

/// Add-compare-select over all states for a code with `F` branches per
/// state (F known at compile time, so the inner loop unrolls), per
/// destination and without data-dependent branches.
#[inline]
fn acs<const F: usize>(
    v: &mut Viterbi,
    bm: &[f32; 32],
    vbit: usize,
    new: &mut [f32; MAX_STATES],
    slot: usize,
) {
    let mut masks = [0u8; F];
    let mut ys = [0usize; F];
    for k in 0..F {
        masks[k] = v.masks[k];
        ys[k] = usize::from(v.inputs[k]);
    }
    let step = &mut v.steps[slot];
    for (n, slot_new) in new.iter_mut().enumerate().take(v.states) {
        let b = v.base[n];
        let par = ((usize::from(b) & 1) ^ vbit) * 16;
        let (mut best, mut arg) = (f32::INFINITY, 0usize);
        for k in 0..F {
            let t = usize::from(b ^ masks[k]) & (MAX_STATES - 1);
            let cand = v.metric[t] + bm[(par + ys[k]) & 31];
            let better = cand < best;
            best = if better { cand } else { best };
            arg = if better { k } else { arg };
        }
        *slot_new = best;
        step.prev[n] = b ^ masks[arg];
        step.class[n] = (par + ys[arg]) as u8;
    }
}

/// Add-compare-select by butterflies (the 16-state code), four lanes at a
/// time with SSE (x86-64's baseline): the four predecessors' metrics of a
/// butterfly in one vector, turned by each mask (a fixed lane shuffle) and
/// added to that input's branch metric. The same additions and the same
/// first-minimum choice as [`acs`], so the result is identical.
#[cfg(target_arch = "x86_64")]
fn acs_butterflies(
    v: &mut Viterbi,
    bm: &[f32; 32],
    vbit: usize,
    new: &mut [f32; MAX_STATES],
    slot: usize,
) {
    use std::arch::x86_64::*;
    // Lane j of the predecessor vector holds state c ⊕ masks[j]; under mask
    // k, destination lane j (base c ⊕ masks[j]) comes from c ⊕ masks[j] ⊕
    // masks[k] = c ⊕ masks[j ^ k'], a lane permutation, found once here.
    let masks = [v.masks[0], v.masks[1], v.masks[2], v.masks[3]];
    let ys = [0, 1, 2, 3].map(|k| usize::from(v.inputs[k]));
    let step = &mut v.steps[slot];
    for &(c, dests) in &v.butterflies {
        // Every branch of a butterfly leaves the same Y₀: bit 0 of c.
        let par = ((usize::from(c) & 1) ^ vbit) * 16;
        let metric = &v.metric;
        let m = [
            metric[usize::from(c ^ masks[0]) & (MAX_STATES - 1)],
            metric[usize::from(c ^ masks[1]) & (MAX_STATES - 1)],
            metric[usize::from(c ^ masks[2]) & (MAX_STATES - 1)],
            metric[usize::from(c ^ masks[3]) & (MAX_STATES - 1)],
        ];
        // SAFETY: SSE is part of x86-64's baseline.
        let (best, arg) = unsafe {
            let mv = _mm_loadu_ps(m.as_ptr());
            // Under input k, lane j is fed from lane j ⊕ k.
            let turned = [
                mv,
                _mm_shuffle_ps::<0xB1>(mv, mv),
                _mm_shuffle_ps::<0x4E>(mv, mv),
                _mm_shuffle_ps::<0x1B>(mv, mv),
            ];
            let mut best = _mm_set1_ps(f32::INFINITY);
            let mut arg = _mm_setzero_si128();
            for (k, t) in turned.into_iter().enumerate() {
                let cand = _mm_add_ps(t, _mm_set1_ps(bm[(par + ys[k]) & 31]));
                let better = _mm_cmplt_ps(cand, best);
                best = _mm_or_ps(_mm_and_ps(better, cand), _mm_andnot_ps(better, best));
                let bi = _mm_castps_si128(better);
                arg = _mm_or_si128(
                    _mm_and_si128(bi, _mm_set1_epi32(k as i32)),
                    _mm_andnot_si128(bi, arg),
                );
            }
            let (mut b, mut a) = ([0f32; 4], [0i32; 4]);
            _mm_storeu_ps(b.as_mut_ptr(), best);
            _mm_storeu_si128(a.as_mut_ptr().cast(), arg);
            (b, a)
        };
        for j in 0..4 {
            let n = usize::from(dests[j]);
            let k = (arg[j] & 3) as usize;
            new[n] = best[j];
            step.prev[n] = c ^ masks[j ^ k];
            step.class[n] = (par + ys[k]) as u8;
        }
    }
}

/// Branch metrics of the 16-state code in closed form. It uses Y1 and Y2
/// only: with Table 13's Boolean form, Y2 = s0₀ and Y1 = (s0₀ ∧ ¬s1₀) ⊕ s0₁ ⊕
/// s1₁, and the class's parity is s0₀ ⊕ s1₀, so s0₂ and s1₂ are free (the
/// nearer of each pair is taken first) and each class is the nearer of two
/// combinations.
/// `near` holds, for each 2D symbol, [`nearer_subsets`]: the nearer subset
/// of each pair {l, l + 4} and its distance.
fn branch_metrics_16(near: &[Nearer; 2], bm: &mut [f32; 32], labels: &mut [[u8; 2]; 32]) {
    let [(m0, a0), (m1, a1)] = *near;
    for par in 0..2usize {
        for y2 in 0..2usize {
            let s10 = par ^ y2;
            let k = y2 & (s10 ^ 1);
            for y1 in 0..2usize {
                let (i0, j0) = (y2, s10 | ((y1 ^ k) << 1));
                let (i1, j1) = (y2 | 2, s10 | ((y1 ^ 1 ^ k) << 1));
                let (c0, c1) = (m0[i0] + m1[j0], m0[i1] + m1[j1]);
                let c = par * 16 + (y1 | y2 << 1);
                let second = c1 < c0;
                bm[c] = if second { c1 } else { c0 };
                labels[c] = if second {
                    [a0[i1], a1[j1]]
                } else {
                    [a0[i0], a1[j0]]
                };
            }
        }
    }
}

/// Add-compare-select for any code, from the predecessor tables.
fn acs_general(
    v: &mut Viterbi,
    bm: &[f32; 32],
    vbit: usize,
    new: &mut [f32; MAX_STATES],
    slot: usize,
) {
    let step = &mut v.steps[slot];
    for n in 0..v.states {
        let (mut best, mut arg) = (f32::INFINITY, 0usize);
        for (k, p) in v.pred.iter().enumerate() {
            let t = usize::from(p[n]) & (MAX_STATES - 1);
            let c = ((t & 1) ^ vbit) * 16 + usize::from(v.inputs[k]);
            let cand = v.metric[t] + bm[c & 31];
            let better = cand < best;
            best = if better { cand } else { best };
            arg = if better { k } else { arg };
        }
        let t = v.pred[arg][n];
        new[n] = best;
        step.prev[n] = t;
        step.class[n] = (((usize::from(t) & 1) ^ vbit) * 16 + usize::from(v.inputs[arg])) as u8;
    }
}

struct DecoderBlock {
    vit: Viterbi,
    flushed: bool,
    decided: Vec<[Point; 2]>,
}

impl Block for DecoderBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let pairs = (io.inputs[0].available() / 2).min(io.outputs[0].space().div_ceil(2));
        let input = &io.inputs[0].items::<Complex32>()[..2 * pairs];
        for z in input.chunks_exact(2) {
            self.vit.push(z[0], z[1], &mut self.decided);
        }
        io.inputs[0].consume(2 * pairs);
        let mut lone = None;
        let done = io.inputs[0].is_eos() && io.inputs[0].available() < 2;
        if done && !self.flushed {
            self.flushed = true;
            // A lone last point has no partner to decode with: sliced.
            if io.inputs[0].available() == 1 {
                let z = io.inputs[0].items::<Complex32>()[0];
                io.inputs[0].consume(1);
                lone = Some(nearest_odd(sane(z.re), sane(z.im)));
            }
            self.vit.flush(&mut self.decided);
        }
        let out = io.outputs[0].items::<Complex32>();
        out.extend(
            self.decided
                .drain(..)
                .flat_map(|[a, b]| [to_c32(a), to_c32(b)]),
        );
        if let Some(p) = lone {
            out.push(to_c32(p));
        }
        Ok(if done { Status::Done } else { Status::Ok })
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    let depth = args.int("depth")?;
    let depth =
        usize::try_from(depth).map_err(|_| format!("`depth` = {depth} must be positive"))?;
    Ok(Box::new(DecoderBlock {
        vit: Viterbi::new(&mode, code_arg(args)?, depth),
        flushed: false,
        decided: Vec::with_capacity(2 * CHUNK),
    }))
}

pub fn spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "viterbi_decoder",
        "Coding",
        "V.34 4D trellis decoder: soft channel points to decided points (maximum likelihood)",
        make,
    ))
    .doc(
        "Soft-decision maximum-likelihood decoding of the V.34 4D trellis code (§9.6.3) \
         over the channel points y(n), which with precoding may lie anywhere on the odd \
         lattice. Each 2D symbol's distance to the nearest point of each of the 8 \
         subsets of Figure 9 gives the 4D branch metrics: a branch is Y4…Y1 (Table 13) \
         with Y₀ = s0(2m) ⊕ s0(2m+1) ⊕ V₀ (V₀ the Table 12 bit, as the encoder sent \
         it; the stream starts at a superframe). Branches differing only in bits the \
         code does not use are parallel and the nearer one is kept. Decisions leave \
         `depth` to `depth` + 32 4D symbols late, by trace-back from the best state in \
         blocks of 32, and the rest at the end of the stream; the output has one point per input point. `trellis: \
         0` slices each point to the nearest odd lattice point. Non-finite input reads \
         as 0.",
    )
    .param(code_param())
    .param(
        ParamSpec::int("depth", "decoding delay in 4D symbols (trace-back length)")
            .default(32)
            .range(1.0, 512.0)
            .unit("4D symbols"),
    )
    .input(PortSpec::new(
        "in",
        ItemType::C32,
        "soft channel points (qam_demodulator)",
    ))
    .output(PortSpec::new(
        "out",
        ItemType::C32,
        "decided channel points ŷ(n)",
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v34::constellation::rotate_cw;
    use crate::v34::precoder::Coefficients;
    use crate::v34::trellis::TrellisEncoder;

    /// Random mapper-like input pairs (the two turns differ by 0° or 180°).
    fn inputs(n: usize, seed: u64) -> Vec<(Point, Point)> {
        let mut s = seed;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        (0..n)
            .map(|_| {
                let r = next();
                let a = (4 * ((r % 8) as i32) - 15, 4 * ((r >> 8) % 8) as i32 - 15);
                let b = (
                    4 * ((r >> 16) % 8) as i32 - 15,
                    4 * ((r >> 24) % 8) as i32 - 15,
                );
                let z = (r >> 32) as u32;
                (
                    rotate_cw(a, z),
                    rotate_cw(b, z + 2 * ((r >> 40) as u32 & 1)),
                )
            })
            .collect()
    }

    fn encode(mode: &Mode, code: Code, h: Coefficients, x: &[(Point, Point)]) -> Vec<Point> {
        let mut enc = TrellisEncoder::new(mode, code, h);
        x.iter()
            .flat_map(|&(a, b)| {
                let (y0, y1) = enc.encode(a, b);
                [y0, y1]
            })
            .collect()
    }

    fn decode(mode: &Mode, code: Code, depth: usize, z: &[Complex32]) -> Vec<Point> {
        let mut v = Viterbi::new(mode, code, depth);
        let mut d = Vec::new();
        for p in z.chunks_exact(2) {
            v.push(p[0], p[1], &mut d);
        }
        v.flush(&mut d);
        d.into_iter().flatten().collect()
    }

    #[test]
    fn noise_free_decoding_is_the_identity() {
        let mode = Mode::new(33600, 3429, false).unwrap();
        let h = Coefficients::from_f64(&[0.6, 0.2, -0.3, 0.1, 0.1, 0.0]);
        for code in [Code::None, Code::States16, Code::States32, Code::States64] {
            for h in [Coefficients::default(), h] {
                let y = encode(&mode, code, h, &inputs(3000, 11));
                let z: Vec<Complex32> = y.iter().map(|&p| to_c32(p)).collect();
                for depth in [1, 5, 32] {
                    assert_eq!(decode(&mode, code, depth, &z), y, "{code:?} depth {depth}");
                }
            }
        }
    }

    #[test]
    fn the_code_corrects_what_slicing_gets_wrong() {
        // Gaussian-like noise (sum of uniforms) with σ = 0.42 per dimension:
        // slicing the odd lattice errs on some 1.7 % of points; the 16-state
        // code, with its larger free distance, on far fewer.
        let mode = Mode::new(33600, 3429, false).unwrap();
        let x = inputs(20_000, 5);
        let mut s = 99u64;
        let mut noise = || {
            let mut acc = 0.0f32;
            for _ in 0..12 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                acc += (s >> 40) as f32 / (1u64 << 24) as f32;
            }
            (acc - 6.0) * 0.42
        };
        let mut errors = |code: Code| {
            let y = encode(&mode, code, Coefficients::default(), &x);
            let z: Vec<Complex32> = y
                .iter()
                .map(|&(a, b)| Complex32::new(a as f32 + noise(), b as f32 + noise()))
                .collect();
            let d = decode(&mode, code, 32, &z);
            d.iter().zip(&y).filter(|(a, b)| a != b).count()
        };
        let uncoded = errors(Code::None);
        let coded = errors(Code::States16);
        assert!(uncoded > 400, "{uncoded}");
        assert!(coded * 5 < uncoded, "coded {coded}, uncoded {uncoded}");
    }

    #[test]
    fn subsets_nearest_points() {
        // Brute force over a window: the nearest point of each subset.
        for &(re, im) in &[
            (0.3f32, 0.2f32),
            (7.9, -3.1),
            (-12.4, 20.6),
            (1.0, 1.0),
            (-0.01, 2.99),
            (3.0, -1.0),
        ] {
            let dist = subset_distances(re, im);
            for (s, &d) in dist.iter().enumerate() {
                let p = nearest_in_subset((re, im), s as u8);
                assert_eq!(usize::from(subset(p)), s);
                let dp = (re - p.0 as f32).powi(2) + (im - p.1 as f32).powi(2);
                let mut best = f32::INFINITY;
                for x in (-41..=41).step_by(2) {
                    for y in (-41..=41).step_by(2) {
                        if usize::from(subset((x, y))) == s {
                            let dd = (re - x as f32).powi(2) + (im - y as f32).powi(2);
                            best = best.min(dd);
                        }
                    }
                }
                assert!(
                    (d - best).abs() < 1e-4,
                    "({re}, {im}) subset {s}: {d} vs {best}"
                );
                assert!(
                    (dp - best).abs() < 1e-4,
                    "({re}, {im}) subset {s}: point {p:?}"
                );
            }
        }
    }

    /// The nearer subset of each pair {l, l + 4} from all eight distances.
    fn pair_minima(d: &[f32; 8]) -> Nearer {
        let (mut m, mut a) = ([0f32; 4], [0u8; 4]);
        for l in 0..4 {
            let (x, y) = (d[l], d[l | 4]);
            m[l] = if y < x { y } else { x };
            a[l] = if y < x { (l | 4) as u8 } else { l as u8 };
        }
        (m, a)
    }

    #[test]
    fn nearer_subsets_are_the_pairs_minima() {
        let mut seed = 9u32;
        for _ in 0..20_000 {
            let mut r = || {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1 << 24) as f32 * 60.0 - 30.0
            };
            let (re, im) = (r(), r());
            let (m, a) = nearer_subsets(re, im);
            let (want_m, want_a) = pair_minima(&subset_distances(re, im));
            assert_eq!(m, want_m, "{re}, {im}");
            assert_eq!(a, want_a, "{re}, {im}");
        }
        // On a tie between the two subsets of a pair (a soft point halfway
        // between them) the distance is the same and the label is one of them.
        let (m, a) = nearer_subsets(3.0, 1.0);
        let (want_m, _) = pair_minima(&subset_distances(3.0, 1.0));
        assert_eq!(m, want_m);
        for (l, &label) in a.iter().enumerate() {
            assert_eq!(label & 3, l as u8);
        }
    }

    #[test]
    fn closed_form_16_state_metrics_match_the_table() {
        let mode = Mode::new(33600, 3429, false).unwrap();
        let mut v = Viterbi::new(&mode, Code::States16, 8);
        let mut seed = 5u32;
        for _ in 0..200 {
            let mut d = [[0f32; 8]; 2];
            for row in d.iter_mut() {
                for x in row.iter_mut() {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    *x = (seed >> 8) as f32 / 1e5;
                }
            }
            let (mut a, mut b) = ([f32::INFINITY; 32], [f32::INFINITY; 32]);
            let mut labels = [[0u8; 2]; 32];
            branch_metrics_16(
                &[pair_minima(&d[0]), pair_minima(&d[1])],
                &mut a,
                &mut labels,
            );
            let mut dd = d;
            v.branch_metrics(&mut dd, &mut b, 0);
            assert_eq!(a, b);
            for c in 0..32 {
                if a[c].is_finite() {
                    let [s0, s1] = labels[c];
                    assert_eq!(d[0][usize::from(s0)] + d[1][usize::from(s1)], a[c]);
                }
            }
        }
    }

    #[test]
    fn garbage_in_never_panics() {
        let mode = Mode::new(2400, 2400, false).unwrap();
        let z = [f32::NAN, f32::INFINITY, -1e30, 0.0, 3.0, f32::MIN_POSITIVE];
        let zz: Vec<Complex32> = (0..600)
            .map(|i| Complex32::new(z[i % 6], z[(i * 5 + 1) % 6]))
            .collect();
        for code in [Code::None, Code::States16, Code::States64] {
            let d = decode(&mode, code, 8, &zz);
            assert_eq!(d.len(), zz.len());
        }
    }

    #[test]
    fn vector_and_portable_add_compare_select_agree() {
        // The 16-state code with and without the AVX2 form: the same
        // metrics after every symbol and the same decisions, on noisy points
        // (ties and near-ties included: coarse noise steps) and on garbage.
        let mode = Mode::new(33600, 3429, false).unwrap();
        let y = encode(
            &mode,
            Code::States16,
            Coefficients::default(),
            &inputs(4000, 3),
        );
        let mut z: Vec<Complex32> = y
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                to_c32(p) + Complex32::new((i % 9) as f32 * 0.25 - 1.0, (i % 5) as f32 * 0.5 - 1.0)
            })
            .collect();
        z.extend([f32::NAN, f32::INFINITY, -1e30, 0.0].map(|v| Complex32::new(v, -v)));
        let mut vector = Viterbi::new(&mode, Code::States16, 20);
        if vector.acs16.is_none() {
            return; // No AVX2 here: only the portable form runs.
        }
        let mut portable = Viterbi::new(&mode, Code::States16, 20);
        portable.acs16 = None;
        portable.metric = [f32::INFINITY; MAX_STATES];
        portable.metric[0] = 0.0;
        let (mut dv, mut dp) = (Vec::new(), Vec::new());
        for p in z.chunks_exact(2) {
            vector.push(p[0], p[1], &mut dv);
            portable.push(p[0], p[1], &mut dp);
            for n in 0..16 {
                let a = vector.acs16.as_ref().map_or(n, |a| a.slot_of(n));
                assert_eq!(
                    vector.metric[a].to_bits(),
                    portable.metric[n].to_bits(),
                    "state {n}"
                );
            }
        }
        vector.flush(&mut dv);
        portable.flush(&mut dp);
        assert_eq!(dv, dp);
        assert_eq!(dv.len() * 2, z.len());
    }
}
