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

use super::constellation::{nearest_odd, Point};
use super::mapper::to_c32;
use super::params::{mode_arg, mode_params};
use super::rates::Mode;
use super::trellis::{code_arg, code_param, next_state, subset, v0, Code, TABLE_13};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
use num_complex::Complex32;

/// The largest number of states (64-state code).
const MAX_STATES: usize = 64;

/// The survivors of one 4D symbol: for each state, where it came from and
/// the two points on that branch.
#[derive(Clone, Copy)]
struct Step {
    prev: [u8; MAX_STATES],
    points: [[Point; 2]; MAX_STATES],
}

/// The decoder.
pub struct Viterbi {
    code: Code,
    states: usize,
    depth: usize,
    /// Input bits the code uses (Y1…Y4 as bits 0…3); the others are parallel.
    used: u8,
    /// Offsets of the subsets: subset s is offset[s] + 4·D₂.
    offset: [Point; 8],
    /// pairs[par][y]: the two (s(2m), s(2m+1)) with Table 13 value y and
    /// s0 parity par.
    pairs: [[[(u8, u8); 2]; 16]; 2],
    /// next[t][y].
    next: [[u8; 16]; MAX_STATES],
    metric: [f32; MAX_STATES],
    steps: Vec<Step>,
    /// 4D symbols decoded so far (also the trace-back ring's write count).
    m: u64,
    j: u32,
    p: u32,
}

/// The nearest point of the subset offset + 4·D₂ (D₂: integer pairs of even
/// sum) to (re, im), and its squared distance.
#[inline]
fn nearest_in_subset(re: f32, im: f32, offset: Point) -> (Point, f32) {
    let a = (re - offset.0 as f32) * 0.25;
    let b = (im - offset.1 as f32) * 0.25;
    let (mut ra, mut rb) = (a.round(), b.round());
    if (ra + rb) as i64 % 2 != 0 {
        // Move the coordinate that rounded furthest to its other neighbour.
        if (a - ra).abs() > (b - rb).abs() {
            ra += if a > ra { 1.0 } else { -1.0 };
        } else {
            rb += if b > rb { 1.0 } else { -1.0 };
        }
    }
    let (x, y) = (offset.0 as f32 + 4.0 * ra, offset.1 as f32 + 4.0 * rb);
    let (dx, dy) = (re - x, im - y);
    ((x as i32, y as i32), dx * dx + dy * dy)
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
        let mut offset = [(0, 0); 8];
        for x in [-3, -1, 1, 3] {
            for y in [-3, -1, 1, 3] {
                offset[usize::from(subset((x, y)))] = (x, y);
            }
        }
        let mut pairs = [[[(0u8, 0u8); 2]; 16]; 2];
        let mut filled = [[0usize; 16]; 2];
        for a in 0..8u8 {
            for b in 0..8u8 {
                let y = usize::from(TABLE_13[usize::from(a)][usize::from(b)]);
                let par = usize::from((a ^ b) & 1);
                pairs[par][y][filled[par][y]] = (a, b);
                filled[par][y] += 1;
            }
        }
        let states = code.states();
        let mut next = [[0u8; 16]; MAX_STATES];
        for (t, row) in next.iter_mut().enumerate().take(states) {
            for (y, n) in row.iter_mut().enumerate() {
                *n = next_state(code, t as u8, y as u8);
            }
        }
        let used = match code {
            Code::None => 0,
            Code::States16 => 0b0011,
            Code::States32 => 0b1011,
            Code::States64 => 0b1111,
        };
        let mut metric = [f32::INFINITY; MAX_STATES];
        metric[0] = 0.0; // V.34: the encoder starts in state 0.
        let depth = depth.max(1);
        Viterbi {
            code,
            states,
            depth,
            used,
            offset,
            pairs,
            next,
            metric,
            steps: vec![
                Step {
                    prev: [0; MAX_STATES],
                    points: [[(0, 0); 2]; MAX_STATES],
                };
                depth + 1
            ],
            m: 0,
            j: mode.symbol_rate.j,
            p: mode.symbol_rate.p,
        }
    }

    pub fn depth(&self) -> usize {
        if self.code == Code::None {
            0
        } else {
            self.depth
        }
    }

    /// Adds one 4D symbol (its two soft points). Returns the decision for
    /// the 4D symbol `depth` earlier once there is one.
    pub fn push(&mut self, z0: Complex32, z1: Complex32) -> Option<[Point; 2]> {
        let (r0, i0, r1, i1) = (sane(z0.re), sane(z0.im), sane(z1.re), sane(z1.im));
        if self.code == Code::None {
            return Some([nearest_odd(r0, i0), nearest_odd(r1, i1)]);
        }
        // Per 2D symbol: nearest point and distance of each subset.
        let mut near = [[((0, 0), 0.0f32); 8]; 2];
        for (s, &o) in self.offset.iter().enumerate() {
            near[0][s] = nearest_in_subset(r0, i0, o);
            near[1][s] = nearest_in_subset(r1, i1, o);
        }
        let vbit = usize::from(v0(self.m, self.j, self.p));
        // Branch metrics for (Y₀, Y), reduced over the bits the code ignores.
        let mut best = [[(f32::INFINITY, [(0, 0); 2]); 16]; 2];
        for (y0, row) in best.iter_mut().enumerate() {
            let par = y0 ^ vbit;
            for y in 0..16usize {
                let mut m = f32::INFINITY;
                let mut pts = [(0, 0); 2];
                for &(a, b) in &self.pairs[par][y] {
                    let (pa, da) = near[0][usize::from(a)];
                    let (pb, db) = near[1][usize::from(b)];
                    if da + db < m {
                        m = da + db;
                        pts = [pa, pb];
                    }
                }
                let key = y & usize::from(self.used);
                if m < row[key].0 {
                    row[key] = (m, pts);
                }
            }
        }
        // Add, compare, select.
        let slot = (self.m % (self.depth as u64 + 1)) as usize;
        let mut new = [f32::INFINITY; MAX_STATES];
        let step = &mut self.steps[slot];
        for t in 0..self.states {
            let base = self.metric[t];
            if !base.is_finite() {
                continue;
            }
            let y0 = t & 1;
            for (yu, &(bm, pts)) in best[y0].iter().enumerate() {
                if yu & !usize::from(self.used) != 0 {
                    continue;
                }
                let cand = base + bm;
                let n = usize::from(self.next[t][yu]);
                if cand < new[n] {
                    new[n] = cand;
                    step.prev[n] = t as u8;
                    step.points[n] = pts;
                }
            }
        }
        // Keep the metrics small: subtract the best.
        let min = new[..self.states]
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        for (dst, v) in self.metric.iter_mut().zip(new.iter()).take(self.states) {
            *dst = if min.is_finite() { v - min } else { 0.0 };
        }
        self.m += 1;
        if self.m > self.depth as u64 {
            Some(self.trace(self.depth))
        } else {
            None
        }
    }

    fn best_state(&self) -> usize {
        (0..self.states)
            .min_by(|&a, &b| self.metric[a].total_cmp(&self.metric[b]))
            .unwrap_or(0)
    }

    /// The points of the 4D symbol `back` steps before the newest (0 = newest)
    /// on the best path.
    fn trace(&self, back: usize) -> [Point; 2] {
        let ring = self.depth as u64 + 1;
        let mut s = self.best_state();
        let mut k = self.m - 1;
        for _ in 0..back {
            s = usize::from(self.steps[(k % ring) as usize].prev[s]);
            k -= 1;
        }
        self.steps[(k % ring) as usize].points[s]
    }

    /// The decisions still held back, oldest first (at the end of the stream).
    pub fn flush(&mut self, out: &mut Vec<[Point; 2]>) {
        if self.code == Code::None {
            return;
        }
        let held = (self.m as usize).min(self.depth);
        for back in (0..held).rev() {
            out.push(self.trace(back));
        }
        self.m = 0;
    }
}

struct DecoderBlock {
    vit: Viterbi,
    flushed: bool,
    tail: Vec<[Point; 2]>,
}

impl Block for DecoderBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let pairs = (io.inputs[0].available() / 2).min(io.outputs[0].space().div_ceil(2));
        let input = &io.inputs[0].items::<Complex32>()[..2 * pairs];
        let out = io.outputs[0].items::<Complex32>();
        for z in input.chunks_exact(2) {
            if let Some([a, b]) = self.vit.push(z[0], z[1]) {
                out.push(to_c32(a));
                out.push(to_c32(b));
            }
        }
        io.inputs[0].consume(2 * pairs);
        if io.inputs[0].is_eos() && io.inputs[0].available() < 2 {
            if !self.flushed {
                self.flushed = true;
                // A lone last point has no partner to decode with: sliced.
                if io.inputs[0].available() == 1 {
                    let z = io.inputs[0].items::<Complex32>()[0];
                    io.inputs[0].consume(1);
                    self.vit.flush(&mut self.tail);
                    let p = nearest_odd(sane(z.re), sane(z.im));
                    let out = io.outputs[0].items::<Complex32>();
                    out.extend(
                        self.tail
                            .drain(..)
                            .flat_map(|[a, b]| [to_c32(a), to_c32(b)]),
                    );
                    out.push(to_c32(p));
                    return Ok(Status::Done);
                }
                self.vit.flush(&mut self.tail);
            }
            let out = io.outputs[0].items::<Complex32>();
            out.extend(
                self.tail
                    .drain(..)
                    .flat_map(|[a, b]| [to_c32(a), to_c32(b)]),
            );
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
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
        tail: Vec::new(),
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
         `depth` 4D symbols late by trace-back from the best state, and the rest at \
         the end of the stream; the output has one point per input point. `trellis: \
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
        let mut out = Vec::new();
        for p in z.chunks_exact(2) {
            if let Some([a, b]) = v.push(p[0], p[1]) {
                out.extend([a, b]);
            }
        }
        let mut tail = Vec::new();
        v.flush(&mut tail);
        out.extend(tail.into_iter().flatten());
        out
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
        let mut off = [(0, 0); 8];
        for x in [-3, -1, 1, 3] {
            for y in [-3, -1, 1, 3] {
                off[usize::from(subset((x, y)))] = (x, y);
            }
        }
        // Brute force over a window: the nearest point of each subset.
        for &(re, im) in &[
            (0.3f32, 0.2f32),
            (7.9, -3.1),
            (-12.4, 20.6),
            (1.0, 1.0),
            (-0.01, 2.99),
        ] {
            for (s, &o) in off.iter().enumerate() {
                let (p, d) = nearest_in_subset(re, im, o);
                assert_eq!(usize::from(subset(p)), s);
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
}
