//! Add-compare-select of the 16-state V.34 code (§9.6.3, Figure 10) with all
//! sixteen path metrics in two AVX registers, for the `viterbi_decoder`.
//!
//! The code's predecessor map is n ↦ base(n) ⊕ mask(y) with the masks a group
//! of four, so the states split into four butterflies: four predecessors
//! c ⊕ g and four destinations, g over the group (see [`super::viterbi`]).
//! Here the metrics are kept in butterfly order (slot 4b + j holds state
//! c_b ⊕ mask_j), so each butterfly's predecessors are one 128-bit lane and
//! each input one fixed in-lane shuffle; the new metrics come out in
//! destination order and one fixed permutation puts them back in butterfly
//! order. Nothing leaves the registers between the additions and the next
//! symbol's, where the portable form gathers and scatters state by state.
//!
//! The same additions, the same first-minimum choice and the same
//! normalisation as the portable form: the metrics and decisions are
//! identical (a test in `viterbi` checks it).

/// The layout and tables of the vector form, built from the butterflies.
#[derive(Clone, Debug)]
pub struct Acs16 {
    /// The butterflies' c and the group's masks, in lane order.
    c: [u8; 4],
    masks: [u8; 4],
    /// The slot of each state in butterfly order.
    slot_of: [u8; 16],
    /// The state in each slot of butterfly order.
    state_at: [u8; 16],
    /// The destination-order slot of each state.
    dest_slot_of: [u8; 16],
    /// For the permutation back to butterfly order: output slot i takes
    /// destination slot from[i] (its register from[i] / 8, lane from[i] % 8).
    from_lane: [[i32; 8]; 2],
    from_high: [[i32; 8]; 2],
    /// Per V₀ and per register half: for each input k, the lane of
    /// [bm(0..4), bm(16..20)] each lane's branch metric is in (4·parity + k).
    bm_lane: [[[[i32; 8]; 4]; 2]; 2],
}

impl Acs16 {
    /// From the butterflies ((c, destinations in mask order)) and masks of
    /// a 16-state code whose inputs are 0, 1, 2, 3; None if AVX2 is not here.
    pub fn new(butterflies: &[(u8, [u8; 4])], masks: &[u8]) -> Option<Acs16> {
        if !avx2() || butterflies.len() != 4 || masks.len() != 4 {
            return None;
        }
        let masks = [masks[0], masks[1], masks[2], masks[3]];
        let mut a = Acs16 {
            c: [0; 4],
            masks,
            slot_of: [0; 16],
            state_at: [0; 16],
            dest_slot_of: [0; 16],
            from_lane: [[0; 8]; 2],
            from_high: [[0; 8]; 2],
            bm_lane: [[[[0; 8]; 4]; 2]; 2],
        };
        for (b, &(c, dests)) in butterflies.iter().enumerate() {
            a.c[b] = c;
            for j in 0..4 {
                let s = (4 * b + j) as u8;
                let pred = usize::from(c ^ masks[j]) & 15;
                a.slot_of[pred] = s;
                a.state_at[usize::from(s)] = pred as u8;
                a.dest_slot_of[usize::from(dests[j]) & 15] = s;
            }
        }
        for i in 0..16 {
            let from = i32::from(a.dest_slot_of[usize::from(a.state_at[i])]);
            a.from_lane[i / 8][i % 8] = from % 8;
            a.from_high[i / 8][i % 8] = if from >= 8 { -1 } else { 0 };
        }
        for v in 0..2 {
            for h in 0..2 {
                for k in 0..4 {
                    for l in 0..8 {
                        let b = 2 * h + l / 4;
                        let parity = (i32::from(a.c[b]) & 1) ^ v as i32;
                        a.bm_lane[v][h][k][l] = 4 * parity + k as i32;
                    }
                }
            }
        }
        Some(a)
    }

    /// Where state n's metric is kept.
    #[inline]
    pub fn slot_of(&self, n: usize) -> usize {
        usize::from(self.slot_of[n & 15])
    }

    /// One symbol: `metric` (butterfly order) becomes the new metrics less
    /// their minimum; returns which input won at each destination slot
    /// (bit s: its low bit, bit 16 + s: its high bit).
    #[inline]
    pub fn step(&self, metric: &mut [f32; 16], bm: &[f32; 32], vbit: usize) -> u32 {
        // SAFETY: `new` returned Some only where AVX2 runs.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            self.step_avx2(metric, bm, vbit)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (metric, bm, vbit);
            unreachable!("Acs16 is built only on x86-64")
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn step_avx2(&self, metric: &mut [f32; 16], bm: &[f32; 32], vbit: usize) -> u32 {
        use std::arch::x86_64::*;
        let load_i = |v: &[i32; 8]| _mm256_loadu_si256(v.as_ptr().cast());
        // Branch metrics of both parities: [bm(0..4), bm(16..20)] (the
        // 16-state code's classes are parity·16 + Y1 + 2·Y2).
        let w = _mm256_insertf128_ps::<1>(
            _mm256_castps128_ps256(_mm_loadu_ps(bm.as_ptr())),
            _mm_loadu_ps(bm.as_ptr().add(16)),
        );
        let v = vbit & 1;
        let mut best = [_mm256_setzero_ps(); 2];
        let mut arg = [_mm256_setzero_si256(); 2];
        for h in 0..2 {
            let mv = _mm256_loadu_ps(metric.as_ptr().add(8 * h));
            // Under input k, lane j of a butterfly is fed from lane j ⊕ k.
            let turned = [
                mv,
                _mm256_shuffle_ps::<0xB1>(mv, mv),
                _mm256_shuffle_ps::<0x4E>(mv, mv),
                _mm256_shuffle_ps::<0x1B>(mv, mv),
            ];
            let mut b = _mm256_set1_ps(f32::INFINITY);
            let mut a = _mm256_setzero_si256();
            for (k, t) in turned.into_iter().enumerate() {
                let branch = _mm256_permutevar8x32_ps(w, load_i(&self.bm_lane[v][h][k]));
                let cand = _mm256_add_ps(t, branch);
                let better = _mm256_cmp_ps::<_CMP_LT_OQ>(cand, b);
                b = _mm256_blendv_ps(b, cand, better);
                a = _mm256_blendv_epi8(a, _mm256_set1_epi32(k as i32), _mm256_castps_si256(better));
            }
            best[h] = b;
            arg[h] = a;
        }
        // Back to butterfly order.
        let mut out = [_mm256_setzero_ps(); 2];
        for (i, o) in out.iter_mut().enumerate() {
            let idx = load_i(&self.from_lane[i]);
            let lo = _mm256_permutevar8x32_ps(best[0], idx);
            let hi = _mm256_permutevar8x32_ps(best[1], idx);
            *o = _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(load_i(&self.from_high[i])));
        }
        // Keep the metrics small: subtract the best (0 if none is finite).
        let mut m = _mm256_min_ps(out[0], out[1]);
        m = _mm256_min_ps(m, _mm256_permute2f128_ps::<1>(m, m));
        m = _mm256_min_ps(m, _mm256_shuffle_ps::<0x4E>(m, m));
        m = _mm256_min_ps(m, _mm256_shuffle_ps::<0xB1>(m, m));
        let min = _mm256_cvtss_f32(m);
        let m = if min.is_finite() {
            m
        } else {
            _mm256_setzero_ps()
        };
        _mm256_storeu_ps(metric.as_mut_ptr(), _mm256_sub_ps(out[0], m));
        _mm256_storeu_ps(metric.as_mut_ptr().add(8), _mm256_sub_ps(out[1], m));
        // The winners' two bits, destination slot by slot.
        let sign = |a: __m256i| _mm256_movemask_ps(_mm256_castsi256_ps(a)) as u32;
        let low =
            sign(_mm256_slli_epi32::<31>(arg[0])) | sign(_mm256_slli_epi32::<31>(arg[1])) << 8;
        let high =
            sign(_mm256_slli_epi32::<30>(arg[0])) | sign(_mm256_slli_epi32::<30>(arg[1])) << 8;
        low | high << 16
    }

    /// The survivor into state n: (predecessor, branch class), from a step's
    /// winners and V₀.
    #[inline]
    pub fn survivor(&self, won: u32, vbit: u8, n: usize) -> (u8, u8) {
        let s = usize::from(self.dest_slot_of[n & 15]);
        let (b, j) = (s / 4, s % 4);
        let k = ((won >> s) & 1 | ((won >> (16 + s)) & 1) << 1) as usize;
        let parity = (self.c[b] & 1) ^ (vbit & 1);
        (self.c[b] ^ self.masks[j ^ k], parity * 16 + k as u8)
    }
}

/// Whether AVX2 runs here (checked once).
fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
