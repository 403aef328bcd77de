//! V.34 §9.4 shell mapping (`shell_mapper`, `shell_demapper`;
//! modem-standards.md §4.6, equations 9-3 … 9-24): the K shell bits of a
//! mapping frame, as the integer R₀, choose eight ring indices m_jk, one per
//! 2D symbol, so that frames with a small total ring index (low energy) are
//! used more often than frames with a large one. The demapper is the exact
//! inverse.
//!
//! The counts g2, g4, g8 and z8 of §9.4 are tabulated once per ring count M,
//! together with the running sums the searches for A, B, C and D need and a
//! table of where each search starts, so a frame costs a few table lookups
//! and three divisions.

use super::frame::{map_records, RECORD};
use super::params::{mode_arg, mode_params};
use super::rates::MAX_RINGS;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, PortSpec, Rate, Registry, Status, WorkIo,
};
use std::sync::OnceLock;

/// The counts of V.34 §9.4 for one ring count M.
#[derive(Debug)]
pub struct ShellTables {
    m: u32,
    /// g2(p), p = 0 … 2(M−1): ring pairs with indices summing to p (9-3).
    g2: Vec<u64>,
    /// g4(p), p = 0 … 4(M−1) (9-4).
    g4: Vec<u64>,
    /// g8(p), p = 0 … 8(M−1) (9-5).
    g8: Vec<u64>,
    /// z8(p), p = 0 … 8(M−1) + 1: 8-tuples whose total is below p (9-6).
    z8: Vec<u64>,
    /// pre8[A·s8 + B] = Σ_{p<B} g4(p)·g4(A−p), B = 0 … min(A, 4(M−1)) + 1.
    pre8: Vec<u64>,
    s8: usize,
    /// pre4[B·s4 + C] = Σ_{p<C} g2(p)·g2(B−p), C = 0 … min(B, 2(M−1)) + 1.
    pre4: Vec<u64>,
    s4: usize,
    /// Where to start each search: for A (over z8), B (over a row of pre8)
    /// and C, D (over a row of pre4).
    guide_z8: Guide,
    guide8: Guide,
    guide4: Guide,
}

/// A start for each search in rows of non-decreasing running sums: for
/// value x of row i, the answer is at least `first[i][x >> shift[i]]`, and
/// rarely more than one entry beyond it. A binary search would be a chain
/// of some seven dependent loads per search, four searches per frame.
#[derive(Debug)]
struct Guide {
    buckets: usize,
    shift: Vec<u32>,
    first: Vec<u8>,
}

impl Guide {
    /// Rows `base(i) .. base(i) + len(i)` of `v`, row i searched for values
    /// below `limit(i)`.
    fn new(
        v: &[u64],
        rows: usize,
        buckets: usize,
        row: impl Fn(usize) -> (usize, usize, u64),
    ) -> Guide {
        let mut shift = Vec::with_capacity(rows);
        let mut first = Vec::with_capacity(rows * buckets);
        for i in 0..rows {
            let (base, len, limit) = row(i);
            // The smallest shift that puts every x < limit in a bucket.
            let mut sh = 0;
            while (limit.max(1) - 1) >> sh >= buckets as u64 {
                sh += 1;
            }
            shift.push(sh);
            for k in 0..buckets {
                let x = (k as u64) << sh;
                first.push(ShellTables::largest_at_most(v, base, len, x) as u8);
            }
        }
        Guide {
            buckets,
            shift,
            first,
        }
    }

    /// What [`ShellTables::largest_at_most`] gives for row `i`.
    #[inline]
    fn find(&self, v: &[u64], i: usize, base: usize, len: usize, x: u64) -> usize {
        let k = ((x >> self.shift[i]) as usize).min(self.buckets - 1);
        let mut at = usize::from(self.first[i * self.buckets + k]);
        while at + 1 < len && v[base + at + 1] <= x {
            at += 1;
        }
        at
    }
}

fn at(v: &[u64], p: i64) -> u64 {
    if p < 0 {
        0
    } else {
        v.get(p as usize).copied().unwrap_or(0)
    }
}

/// (x mod d, x div d), in 32 bits when both fit (far quicker on most
/// machines, and every R₀ of V.34 below 33 600 bit/s does).
#[inline]
fn div_rem(x: u64, d: u64) -> (u64, u64) {
    match (u32::try_from(x), u32::try_from(d)) {
        (Ok(x), Ok(d)) => (u64::from(x % d), u64::from(x / d)),
        _ => (x % d, x / d),
    }
}

impl ShellTables {
    fn build(m: u32) -> ShellTables {
        let mm = i64::from(m);
        // V.34 (9-3): g2(p) = M − |p − (M − 1)| for 0 ≤ p ≤ 2(M − 1).
        let g2: Vec<u64> = (0..=2 * (mm - 1))
            .map(|p| (mm - (p - (mm - 1)).abs()) as u64)
            .collect();
        let conv = |g: &[u64], len: i64| -> Vec<u64> {
            (0..len)
                .map(|p| (0..=p).map(|k| at(g, k) * at(g, p - k)).sum())
                .collect()
        };
        // V.34 (9-4), (9-5).
        let g4 = conv(&g2, 4 * (mm - 1) + 1);
        let g8 = conv(&g4, 8 * (mm - 1) + 1);
        // V.34 (9-6): z8(p) = Σ_{k<p} g8(k).
        let mut z8 = vec![0u64; g8.len() + 1];
        for p in 0..g8.len() {
            z8[p + 1] = z8[p] + g8[p];
        }
        let s8 = g4.len() + 1;
        let mut pre8 = vec![0u64; g8.len() * s8];
        for a in 0..g8.len() {
            for b in 0..s8 - 1 {
                let t = at(&g4, b as i64) * at(&g4, a as i64 - b as i64);
                pre8[a * s8 + b + 1] = pre8[a * s8 + b] + t;
            }
        }
        let s4 = g2.len() + 1;
        let mut pre4 = vec![0u64; g4.len() * s4];
        for b in 0..g4.len() {
            for c in 0..s4 - 1 {
                let t = at(&g2, c as i64) * at(&g2, b as i64 - c as i64);
                pre4[b * s4 + c + 1] = pre4[b * s4 + c] + t;
            }
        }
        let guide_z8 = Guide::new(&z8, 1, 1024, |_| (0, z8.len(), z8[g8.len()]));
        let guide8 = Guide::new(&pre8, g8.len(), 64, |a| {
            (a * s8, a.min(g4.len() - 1) + 1, g8[a])
        });
        let guide4 = Guide::new(&pre4, g4.len(), 64, |b| {
            (b * s4, b.min(g2.len() - 1) + 1, g4[b])
        });
        ShellTables {
            m,
            g2,
            g4,
            g8,
            z8,
            pre8,
            s8,
            pre4,
            s4,
            guide_z8,
            guide8,
            guide4,
        }
    }

    /// The tables for ring count `m` (1 … 18), built once and shared.
    pub fn get(m: u32) -> &'static ShellTables {
        static TABLES: [OnceLock<ShellTables>; MAX_RINGS as usize + 1] =
            [const { OnceLock::new() }; MAX_RINGS as usize + 1];
        let m = m.clamp(1, MAX_RINGS);
        TABLES[m as usize].get_or_init(|| ShellTables::build(m))
    }

    pub fn rings(&self) -> u32 {
        self.m
    }

    /// M⁸: how many R₀ values map to distinct ring tuples.
    pub fn capacity(&self) -> u64 {
        *self.z8.last().unwrap_or(&1)
    }

    /// The largest index i in `0..len` with `v[base + i] ≤ x` (v non-decreasing there).
    fn largest_at_most(v: &[u64], base: usize, len: usize, x: u64) -> usize {
        let row = &v[base..base + len];
        row.partition_point(|&t| t <= x).saturating_sub(1)
    }

    /// V.34 §9.4, step 6: a ring pair from its total T and index X.
    fn pair(&self, t: u64, x: u64) -> (u8, u8) {
        let m1 = u64::from(self.m) - 1;
        if t < u64::from(self.m) {
            (x as u8, (t - x) as u8)
        } else {
            ((t - (m1 - x)) as u8, (m1 - x) as u8)
        }
    }

    /// The inverse of [`ShellTables::pair`]: (T, X).
    fn unpair(&self, a: u8, b: u8) -> (u64, u64) {
        let (a, b) = (u64::from(a), u64::from(b));
        let t = a + b;
        let x = if t < u64::from(self.m) {
            a
        } else {
            u64::from(self.m) - 1 - b
        };
        (t, x)
    }

    /// V.34 §9.4: the eight rings (m00, m01, m10, m11, m20, m21, m30, m31)
    /// for `r0` < M⁸ (larger values are taken modulo M⁸).
    pub fn map(&self, r0: u64) -> [u8; 8] {
        let r0 = if r0 < self.capacity() {
            r0
        } else {
            r0 % self.capacity()
        };
        // Step 1: A, the largest with z8(A) ≤ R₀.
        let a = self.guide_z8.find(&self.z8, 0, 0, self.g8.len(), r0);
        let r = r0 - self.z8[a];
        // Step 2: B, the largest with R₁ = R − Σ_{p<B} g4(p)·g4(A−p) ≥ 0.
        let b_max = a.min(self.g4.len() - 1);
        let b = self.guide8.find(&self.pre8, a, a * self.s8, b_max + 1, r);
        let r1 = r - self.pre8[a * self.s8 + b];
        // Step 3.
        let g4b = self.g4[b];
        let (r2, r3) = div_rem(r1, g4b);
        // Step 4: C over the first half (total B), D over the second (A − B).
        let c = self
            .guide4
            .find(&self.pre4, b, b * self.s4, b.min(self.g2.len() - 1) + 1, r2);
        let r4 = r2 - self.pre4[b * self.s4 + c];
        let ab = a - b;
        let d = self.guide4.find(
            &self.pre4,
            ab,
            ab * self.s4,
            ab.min(self.g2.len() - 1) + 1,
            r3,
        );
        let r5 = r3 - self.pre4[ab * self.s4 + d];
        // Step 5.
        let (g2c, g2d) = (self.g2[c], self.g2[d]);
        let (e, f) = div_rem(r4, g2c);
        let (g, h) = div_rem(r5, g2d);
        // Step 6.
        let (m00, m01) = self.pair(c as u64, e);
        let (m10, m11) = self.pair((b - c) as u64, f);
        let (m20, m21) = self.pair(d as u64, g);
        let (m30, m31) = self.pair((ab - d) as u64, h);
        [m00, m01, m10, m11, m20, m21, m30, m31]
    }

    /// The inverse of [`ShellTables::map`]: R₀ for eight rings, or `None`
    /// when a ring index is not below M.
    pub fn demap(&self, rings: &[u8; 8]) -> Option<u64> {
        if rings.iter().any(|&r| u32::from(r) >= self.m) {
            return None;
        }
        let (c, e) = self.unpair(rings[0], rings[1]);
        let (bc, f) = self.unpair(rings[2], rings[3]);
        let (d, g) = self.unpair(rings[4], rings[5]);
        let (abd, h) = self.unpair(rings[6], rings[7]);
        let b = c + bc;
        let ab = d + abd;
        let a = b + ab;
        let (b, ab, c, d) = (b as usize, ab as usize, c as usize, d as usize);
        let r4 = e + f * self.g2[c];
        let r5 = g + h * self.g2[d];
        let r2 = r4 + self.pre4[b * self.s4 + c];
        let r3 = r5 + self.pre4[ab * self.s4 + d];
        let r1 = r2 + r3 * self.g4[b];
        Some(r1 + self.pre8[a as usize * self.s8 + b] + self.z8[a as usize])
    }

    /// Σ over R₀ < `n` of Σ_k e(m_k): the total of a per-ring quantity `e`
    /// (indexed by ring, M entries) over the first `n` frames in the
    /// mapper's order. With `e` the rings' energies and `n` = 2^K this is
    /// what the shell mapper sends on average, exactly, without visiting
    /// 2^K frames: the sums follow the same decomposition as the mapping.
    pub fn sum_below(&self, n: u64, e: &[f64]) -> f64 {
        let ev = |r: u64| e.get(r as usize).copied().unwrap_or(0.0);
        let g2 = |p: i64| at(&self.g2, p) as f64;
        let g4 = |p: i64| at(&self.g4, p) as f64;
        // h_d(p): the sum over d-tuples with total p of Σ e(m_k).
        let h2: Vec<f64> = (0..self.g2.len() as i64)
            .map(|p| {
                (0..=p)
                    .filter(|&x| x < i64::from(self.m) && p - x < i64::from(self.m))
                    .map(|x| ev(x as u64) + ev((p - x) as u64))
                    .sum()
            })
            .collect();
        let hat = |h: &[f64], p: i64| {
            if p < 0 {
                0.0
            } else {
                h.get(p as usize).copied().unwrap_or(0.0)
            }
        };
        // h_2d(p) = Σ_k h_d(k)·g_d(p − k) + g_d(k)·h_d(p − k): either half
        // carries the quantity, the other only counts.
        let lift = |h: &[f64], g: &dyn Fn(i64) -> f64, len: usize| -> Vec<f64> {
            (0..len as i64)
                .map(|p| {
                    (0..=p)
                        .map(|k| hat(h, k) * g(p - k) + g(k) * hat(h, p - k))
                        .sum()
                })
                .collect()
        };
        let h4 = lift(&h2, &g2, self.g4.len());
        let h8 = lift(&h4, &g4, self.g8.len());
        let pair_e = |t: u64, x: u64| {
            let (a, b) = self.pair(t, x);
            ev(u64::from(a)) + ev(u64::from(b))
        };
        let pair_below = |t: u64, x: u64| (0..x).map(|i| pair_e(t, i)).sum::<f64>();
        // Σ over the first `r` 4-tuples with total `bs`.
        let quad_below = |bs: usize, r: u64| -> f64 {
            if r == 0 {
                return 0.0;
            }
            let c =
                Self::largest_at_most(&self.pre4, bs * self.s4, bs.min(self.g2.len() - 1) + 1, r);
            let r4 = r - self.pre4[bs * self.s4 + c];
            let full: f64 = (0..c as i64)
                .map(|cc| hat(&h2, cc) * g2(bs as i64 - cc) + g2(cc) * hat(&h2, bs as i64 - cc))
                .sum();
            let g2c = self.g2[c];
            let (e0, f0) = (r4 % g2c, r4 / g2c);
            let t2 = (bs - c) as u64;
            full + f0 as f64 * hat(&h2, c as i64)
                + g2c as f64 * pair_below(t2, f0)
                + pair_below(c as u64, e0)
                + if e0 > 0 {
                    e0 as f64 * pair_e(t2, f0)
                } else {
                    0.0
                }
        };
        let quad_e = |bs: usize, r: u64| quad_below(bs, r + 1) - quad_below(bs, r);
        let total = self.capacity();
        let n = n.min(total);
        let a = Self::largest_at_most(&self.z8, 0, self.z8.len(), n);
        let mut sum: f64 = h8.iter().take(a).sum();
        if a >= self.g8.len() {
            return sum;
        }
        let r = n - self.z8[a];
        let b_max = a.min(self.g4.len() - 1);
        let b = Self::largest_at_most(&self.pre8, a * self.s8, b_max + 1, r);
        let r1 = r - self.pre8[a * self.s8 + b];
        sum += (0..b as i64)
            .map(|bb| hat(&h4, bb) * g4(a as i64 - bb) + g4(bb) * hat(&h4, a as i64 - bb))
            .sum::<f64>();
        let g4b = self.g4[b];
        let (r2, r3) = div_rem(r1, g4b);
        let ab = a - b;
        sum += r3 as f64 * hat(&h4, b as i64) + g4b as f64 * quad_below(ab, r3);
        sum += quad_below(b, r2) + r2 as f64 * if r2 > 0 { quad_e(ab, r3) } else { 0.0 };
        sum
    }
}

/// `shell_mapper`: R₀ of each mapping frame record → its eight rings.
struct MapperBlock {
    t: &'static ShellTables,
}

/// `shell_demapper`: rings of each record → R₀.
struct DemapperBlock {
    t: &'static ShellTables,
    k: u32,
    bad: u64,
}

impl Block for MapperBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let t = self.t;
        map_records(io, |f| f.rings = t.map(u64::from(f.r0)));
        if io.inputs[0].available() < RECORD && io.inputs[0].is_eos() {
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

impl Block for DemapperBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let (t, limit, bad) = (self.t, 1u64 << self.k, &mut self.bad);
        map_records(io, |f| {
            // A received tuple beyond the 2^K the mapper uses (or with a
            // ring ≥ M) can only come from a decision error: counted, and
            // passed on as the nearest index the mapper could have sent.
            f.r0 = match t.demap(&f.rings) {
                Some(r) if r < limit => r as u32,
                Some(_) => {
                    *bad += 1;
                    (limit - 1) as u32
                }
                None => {
                    *bad += 1;
                    0
                }
            };
        });
        if io.inputs[0].available() < RECORD && io.inputs[0].is_eos() {
            if self.bad > 0 {
                io.emit("invalid_rings", serde_json::json!({"frames": self.bad}));
            }
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make_mapper(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    Ok(Box::new(MapperBlock {
        t: ShellTables::get(mode.mapping.m),
    }))
}

fn make_demapper(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    Ok(Box::new(DemapperBlock {
        t: ShellTables::get(mode.mapping.m),
        k: mode.mapping.k,
        bad: 0,
    }))
}

pub fn mapper_spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "shell_mapper",
        "Coding",
        "V.34 shell mapper: each mapping frame's K bits to eight ring indices",
        make_mapper,
    ))
    .doc(
        "V.34 §9.4 (equations 9-3 … 9-24): the shell bits of each mapping frame, the \
         integer R₀ (S₁ the least significant bit; K bits in a high frame, K − 1 in a \
         low one), choose eight ring indices m00 … m31 below M, one per 2D symbol, \
         ordered so that tuples of small total ring index (low energy) come first. M \
         is the minimum ring count ⌈2^(K/8)⌉ or, with `expanded`, the nearest integer \
         to 1.25·2^(K/8) (§9.2). The rest of each record passes through unchanged.",
    )
    .input(
        PortSpec::new(
            "in",
            ItemType::I16,
            "mapping frame records (v34_framer), 24 values each",
        )
        .rate(Rate::Ratio(1, 1)),
    )
    .output(PortSpec::new(
        "out",
        ItemType::I16,
        "the records with their rings",
    ))
}

pub fn demapper_spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "shell_demapper",
        "Coding",
        "V.34 shell demapper: eight ring indices back to each mapping frame's K bits",
        make_demapper,
    ))
    .doc(
        "The exact inverse of `shell_mapper` (V.34 §9.4): the eight received rings of \
         each mapping frame record give back R₀. A ring tuple the mapper never sends \
         (a ring ≥ M, or an index beyond 2^K), which only a decision error produces, \
         is counted and reported as `invalid_rings` at the end.",
    )
    .input(PortSpec::new(
        "in",
        ItemType::I16,
        "mapping frame records with rings (v34_demapper)",
    ))
    .output(PortSpec::new("out", ItemType::I16, "the records with R₀"))
    .event(modemflow_flow::EventSpec::new(
        "invalid_rings",
        "at the end, when some frames carried ring tuples the mapper never sends",
        &[("frames", "how many")],
    ))
}

pub fn register(r: &mut Registry) {
    r.register(mapper_spec());
    r.register(demapper_spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_vectors() {
        // modem-standards.md §4.6 (checked there against linmodem on 5 436 cases).
        for (m, r0, want) in [
            (2, 0u64, [0, 0, 0, 0, 0, 0, 0, 0]),
            (2, 1, [0, 0, 0, 0, 0, 0, 0, 1]),
            (2, 31, [0, 0, 1, 1, 0, 0, 0, 0]),
            (12, (1 << 28) - 1, [4, 9, 4, 9, 0, 3, 11, 7]),
            (13, 123_456_789, [2, 0, 5, 11, 7, 0, 4, 8]),
            (11, (1 << 27) - 1, [8, 9, 3, 1, 4, 4, 9, 5]),
            (14, (1 << 30) - 1, [1, 3, 13, 13, 13, 0, 11, 5]),
            (18, (1 << 31) - 1, [16, 9, 5, 1, 9, 7, 5, 3]),
        ] {
            let t = ShellTables::get(m);
            assert_eq!(t.map(r0), want, "M {m} R0 {r0}");
            assert_eq!(t.demap(&want), Some(r0), "M {m} R0 {r0}");
        }
    }

    #[test]
    fn counts_follow_the_definitions() {
        for m in 1..=MAX_RINGS {
            let t = ShellTables::get(m);
            assert_eq!(t.capacity(), u64::from(m).pow(8), "M {m}");
            assert_eq!(t.g2.iter().sum::<u64>(), u64::from(m).pow(2));
            assert_eq!(t.g4.iter().sum::<u64>(), u64::from(m).pow(4));
        }
    }

    #[test]
    fn every_index_maps_to_a_distinct_tuple_for_small_m() {
        // For M = 2 and 3 every R₀ below M⁸; totals never decrease with R₀.
        for m in 2..=3u32 {
            let t = ShellTables::get(m);
            let mut seen = std::collections::HashSet::new();
            let mut last_total = 0;
            for r0 in 0..t.capacity() {
                let rings = t.map(r0);
                assert!(rings.iter().all(|&x| u32::from(x) < m));
                let total: u32 = rings.iter().map(|&x| u32::from(x)).sum();
                assert!(total >= last_total, "M {m} R0 {r0}");
                last_total = total;
                assert!(seen.insert(rings));
                assert_eq!(t.demap(&rings), Some(r0));
            }
        }
    }

    #[test]
    fn sums_below_match_brute_force() {
        for m in [2u32, 3, 4] {
            let t = ShellTables::get(m);
            let e: Vec<f64> = (0..m).map(|r| f64::from(r * r) * 3.0 + 1.5).collect();
            let mut acc = 0.0;
            let total = t.capacity().min(70_000);
            for n in 0..=total {
                if n % 97 == 0 || n == total || n < 300 {
                    let got = t.sum_below(n, &e);
                    assert!(
                        (got - acc).abs() < 1e-6 * (1.0 + acc),
                        "M {m} n {n}: {got} vs {acc}"
                    );
                }
                if n < total {
                    acc += t.map(n).iter().map(|&r| e[usize::from(r)]).sum::<f64>();
                }
            }
        }
    }

    #[test]
    fn demap_refuses_rings_out_of_range() {
        let t = ShellTables::get(5);
        assert_eq!(t.demap(&[5, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(t.demap(&[255; 8]), None);
    }

    #[test]
    fn guided_searches_agree_with_binary_search() {
        for m in 2..=MAX_RINGS {
            let t = ShellTables::get(m);
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..2000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let r0 = (x >> 11) % t.capacity();
                let n = t.g8.len();
                assert_eq!(
                    t.guide_z8.find(&t.z8, 0, 0, n, r0),
                    ShellTables::largest_at_most(&t.z8, 0, n, r0)
                );
                let a = (x as usize >> 3) % n;
                let r = (x >> 7) % t.g8[a];
                let len = a.min(t.g4.len() - 1) + 1;
                assert_eq!(
                    t.guide8.find(&t.pre8, a, a * t.s8, len, r),
                    ShellTables::largest_at_most(&t.pre8, a * t.s8, len, r)
                );
                let b = (x as usize >> 5) % t.g4.len();
                let r = (x >> 9) % t.g4[b];
                let len = b.min(t.g2.len() - 1) + 1;
                assert_eq!(
                    t.guide4.find(&t.pre4, b, b * t.s4, len, r),
                    ShellTables::largest_at_most(&t.pre4, b * t.s4, len, r)
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn demap_of_map_is_the_identity(m in 2u32..=18, x in any::<u64>(), edge in 0u8..4) {
            let t = ShellTables::get(m);
            let cap = t.capacity();
            // Edges (0, 2^K − 1 for the largest K this M serves, M⁸ − 1) and random values.
            let k = (0..=31u32).rev().find(|&k| 1u64 << k <= cap).unwrap();
            let r0 = match edge {
                0 => x % cap,
                1 => 0,
                2 => (1u64 << k) - 1,
                _ => cap - 1,
            };
            let rings = t.map(r0);
            prop_assert!(rings.iter().all(|&r| u32::from(r) < m));
            prop_assert_eq!(t.demap(&rings), Some(r0));
        }

        #[test]
        fn map_of_demap_is_the_identity(m in 2u32..=18, rings in proptest::array::uniform8(0u8..18)) {
            let t = ShellTables::get(m);
            let rings = rings.map(|r| r % m as u8);
            let r0 = t.demap(&rings).unwrap();
            prop_assert!(r0 < t.capacity());
            prop_assert_eq!(t.map(r0), rings);
        }
    }
}
