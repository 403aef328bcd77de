//! The few vector kernels the DSP's inner loops spend their time in (a dot
//! product and the complex LMS update), compiled twice on x86-64: for the
//! baseline (SSE2) and for AVX, chosen once at run time. Both do the same
//! operations in the same order (no fused multiply-add), so results are
//! identical on every machine; AVX only does eight lanes at a time.

use std::sync::OnceLock;

/// Whether the AVX forms may run here (for callers with loops of their own
/// around [`dot2_avx`]).
#[inline]
pub fn has_avx() -> bool {
    avx()
}

/// Whether the AVX forms may run here.
#[inline]
fn avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX: OnceLock<bool> = OnceLock::new();
        *AVX.get_or_init(|| std::arch::is_x86_feature_detected!("avx"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Σ a·b with eight independent accumulators, so that the additions need
/// not happen in order and the compiler vectorises them.
#[inline(always)]
fn dot_body(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))) + tail
}

/// The same sum with AVX: one eight-lane accumulator, reduced in the order
/// [`dot_body`] uses.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn dot_avx(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let whole = n - n % 8;
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 8 ≤ n ≤ both lengths.
        unsafe {
            let x = _mm256_loadu_ps(a.as_ptr().add(i));
            let y = _mm256_loadu_ps(b.as_ptr().add(i));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, y));
        }
        i += 8;
    }
    let total = reduce_avx(acc);
    let mut tail = 0.0;
    for k in whole..n {
        tail += a[k] * b[k];
    }
    total + tail
}

/// Σ a·b over the shorter length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx() {
        // SAFETY: AVX is present (checked above).
        return unsafe { dot_avx(a, b) };
    }
    dot_body(a, b)
}

/// The eight-lane sums of `n` products, reduced as [`dot_body`] does: the
/// portable form of each of the multi-sum kernels below.
#[inline(always)]
fn reduce8(acc: &[f32; 8]) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// (Σ a1·b, Σ a2·b) in one pass: the real and imaginary parts of complex
/// samples against real taps. Each sum is exactly [`dot`]'s.
#[inline(always)]
fn dot2_body(a1: &[f32], a2: &[f32], b: &[f32]) -> (f32, f32) {
    let n = a1.len().min(a2.len()).min(b.len());
    let whole = n - n % 8;
    let (mut s1, mut s2) = ([0.0f32; 8], [0.0f32; 8]);
    for i in (0..whole).step_by(8) {
        for k in 0..8 {
            s1[k] += a1[i + k] * b[i + k];
            s2[k] += a2[i + k] * b[i + k];
        }
    }
    let (mut t1, mut t2) = (0.0, 0.0);
    for k in whole..n {
        t1 += a1[k] * b[k];
        t2 += a2[k] * b[k];
    }
    (reduce8(&s1) + t1, reduce8(&s2) + t2)
}

/// The eight lanes of an AVX accumulator reduced in [`reduce8`]'s order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn reduce_avx(acc: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    // Lanes (0+4, 1+5, 2+6, 3+7), then (0+4 + 1+5) + (2+6 + 3+7).
    let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    let t = _mm_add_ps(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(_mm_add_ss(t, _mm_movehl_ps(t, t)))
}

/// [`dot2`]'s AVX form, for a caller's own loop compiled for AVX (where it
/// inlines, without [`dot2`]'s feature check and call).
///
/// # Safety
///
/// Only where [`has_avx`] is true.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
pub fn dot2_avx(a1: &[f32], a2: &[f32], b: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let n = a1.len().min(a2.len()).min(b.len());
    let whole = n - n % 8;
    let (mut s1, mut s2) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 8 ≤ n ≤ every length.
        unsafe {
            let y = _mm256_loadu_ps(b.as_ptr().add(i));
            s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(a1.as_ptr().add(i)), y));
            s2 = _mm256_add_ps(s2, _mm256_mul_ps(_mm256_loadu_ps(a2.as_ptr().add(i)), y));
        }
        i += 8;
    }
    let (mut t1, mut t2) = (0.0, 0.0);
    for k in whole..n {
        t1 += a1[k] * b[k];
        t2 += a2[k] * b[k];
    }
    (reduce_avx(s1) + t1, reduce_avx(s2) + t2)
}

/// (Σ a1·b, Σ a2·b).
#[inline]
pub fn dot2(a1: &[f32], a2: &[f32], b: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if avx() {
        // SAFETY: AVX is present (checked above).
        return unsafe { dot2_avx(a1, a2, b) };
    }
    dot2_body(a1, a2, b)
}

/// Σ w·x for complex w and x held as separate parts: (Σ wr·xr − Σ wi·xi,
/// Σ wr·xi + Σ wi·xr), each sum exactly [`dot`]'s.
#[inline(always)]
fn cdot_body(wr: &[f32], wi: &[f32], xr: &[f32], xi: &[f32]) -> (f32, f32) {
    let n = wr.len().min(wi.len()).min(xr.len()).min(xi.len());
    let whole = n - n % 8;
    let (mut rr, mut ii, mut ri, mut ir) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
    for i in (0..whole).step_by(8) {
        for k in 0..8 {
            rr[k] += wr[i + k] * xr[i + k];
            ii[k] += wi[i + k] * xi[i + k];
            ri[k] += wr[i + k] * xi[i + k];
            ir[k] += wi[i + k] * xr[i + k];
        }
    }
    let (t_rr, t_ii, t_ri, t_ir) = cdot_tail(wr, wi, xr, xi, whole..n);
    (
        (reduce8(&rr) + t_rr) - (reduce8(&ii) + t_ii),
        (reduce8(&ri) + t_ri) + (reduce8(&ir) + t_ir),
    )
}

/// The four sums of [`cdot`] over the items past the last whole run of 8,
/// in order (shared by both forms so that they stay identical).
#[inline(always)]
fn cdot_tail(
    wr: &[f32],
    wi: &[f32],
    xr: &[f32],
    xi: &[f32],
    range: std::ops::Range<usize>,
) -> (f32, f32, f32, f32) {
    let (mut rr, mut ii, mut ri, mut ir) = (0.0, 0.0, 0.0, 0.0);
    for k in range {
        rr += wr[k] * xr[k];
        ii += wi[k] * xi[k];
        ri += wr[k] * xi[k];
        ir += wi[k] * xr[k];
    }
    (rr, ii, ri, ir)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn cdot_avx(wr: &[f32], wi: &[f32], xr: &[f32], xi: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let n = wr.len().min(wi.len()).min(xr.len()).min(xi.len());
    let whole = n - n % 8;
    let z = _mm256_setzero_ps();
    let (mut rr, mut ii, mut ri, mut ir) = (z, z, z, z);
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 8 ≤ n ≤ every length.
        unsafe {
            let (a, b) = (
                _mm256_loadu_ps(wr.as_ptr().add(i)),
                _mm256_loadu_ps(wi.as_ptr().add(i)),
            );
            let (c, d) = (
                _mm256_loadu_ps(xr.as_ptr().add(i)),
                _mm256_loadu_ps(xi.as_ptr().add(i)),
            );
            rr = _mm256_add_ps(rr, _mm256_mul_ps(a, c));
            ii = _mm256_add_ps(ii, _mm256_mul_ps(b, d));
            ri = _mm256_add_ps(ri, _mm256_mul_ps(a, d));
            ir = _mm256_add_ps(ir, _mm256_mul_ps(b, c));
        }
        i += 8;
    }
    let (t_rr, t_ii, t_ri, t_ir) = cdot_tail(wr, wi, xr, xi, whole..n);
    (
        (reduce_avx(rr) + t_rr) - (reduce_avx(ii) + t_ii),
        (reduce_avx(ri) + t_ri) + (reduce_avx(ir) + t_ir),
    )
}

/// Σ w·x for split complex vectors, as (re, im).
#[inline]
pub fn cdot(wr: &[f32], wi: &[f32], xr: &[f32], xi: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if avx() {
        // SAFETY: AVX is present (checked above).
        return unsafe { cdot_avx(wr, wi, xr, xi) };
    }
    cdot_body(wr, wi, xr, xi)
}

/// w += e·x̄ for complex w and x held as separate real and imaginary parts:
/// wr += er·xr + ei·xi, wi += ei·xr − er·xi.
#[inline(always)]
fn lms_body(wr: &mut [f32], wi: &mut [f32], xr: &[f32], xi: &[f32], er: f32, ei: f32) {
    let n = wr.len().min(wi.len()).min(xr.len()).min(xi.len());
    let (wr, wi, xr, xi) = (&mut wr[..n], &mut wi[..n], &xr[..n], &xi[..n]);
    for i in 0..n {
        wr[i] += er * xr[i] + ei * xi[i];
        wi[i] += ei * xr[i] - er * xi[i];
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn lms_avx(wr: &mut [f32], wi: &mut [f32], xr: &[f32], xi: &[f32], er: f32, ei: f32) {
    lms_body(wr, wi, xr, xi, er, ei)
}

/// The complex LMS update w += (er + j·ei)·x̄ (see [`lms_body`]).
#[inline]
pub fn lms_update(wr: &mut [f32], wi: &mut [f32], xr: &[f32], xi: &[f32], er: f32, ei: f32) {
    #[cfg(target_arch = "x86_64")]
    if avx() {
        // SAFETY: AVX is present (checked above); the function is safe Rust.
        return unsafe { lms_avx(wr, wi, xr, xi, er, ei) };
    }
    lms_body(wr, wi, xr, xi, er, ei)
}

/// Complex vectors held as separate real and imaginary parts.
#[derive(Clone, Copy)]
pub struct Split<'a> {
    pub re: &'a [f32],
    pub im: &'a [f32],
}

/// One symbol of a tracking equalizer in one pass over its taps: the
/// outputs of filters w and s on the window x, then w += e·p̄ for an earlier
/// window p. Exactly [`cdot`] (w, x), [`cdot`] (s, x) and [`lms_update`]
/// (w, p, e) in turn, without loading w and x twice.
#[inline(always)]
fn track_body(
    wr: &mut [f32],
    wi: &mut [f32],
    s: Split,
    x: Split,
    p: Split,
    (er, ei): (f32, f32),
) -> ((f32, f32), (f32, f32)) {
    let n = [
        s.re.len(),
        s.im.len(),
        x.re.len(),
        x.im.len(),
        p.re.len(),
        p.im.len(),
    ]
    .into_iter()
    .fold(wr.len().min(wi.len()), usize::min);
    let (wr, wi) = (&mut wr[..n], &mut wi[..n]);
    let (sr, si, xr, xi, pr, pi) = (
        &s.re[..n],
        &s.im[..n],
        &x.re[..n],
        &x.im[..n],
        &p.re[..n],
        &p.im[..n],
    );
    let whole = n - n % 8;
    let z = [0.0f32; 8];
    let (mut rr, mut ii, mut ri, mut ir) = (z, z, z, z);
    let (mut srr, mut sii, mut sri, mut sir) = (z, z, z, z);
    for i in (0..whole).step_by(8) {
        let (cwr, cwi) = (&mut wr[i..i + 8], &mut wi[i..i + 8]);
        let (csr, csi) = (&sr[i..i + 8], &si[i..i + 8]);
        let (cxr, cxi, cpr, cpi) = (&xr[i..i + 8], &xi[i..i + 8], &pr[i..i + 8], &pi[i..i + 8]);
        for k in 0..8 {
            let (a, b, c, d) = (cwr[k], cwi[k], cxr[k], cxi[k]);
            rr[k] += a * c;
            ii[k] += b * d;
            ri[k] += a * d;
            ir[k] += b * c;
            let (sa, sb) = (csr[k], csi[k]);
            srr[k] += sa * c;
            sii[k] += sb * d;
            sri[k] += sa * d;
            sir[k] += sb * c;
            cwr[k] = a + (er * cpr[k] + ei * cpi[k]);
            cwi[k] = b + (ei * cpr[k] - er * cpi[k]);
        }
    }
    let (t_rr, t_ii, t_ri, t_ir) = cdot_tail(wr, wi, xr, xi, whole..n);
    let (u_rr, u_ii, u_ri, u_ir) = cdot_tail(sr, si, xr, xi, whole..n);
    lms_body(
        &mut wr[whole..],
        &mut wi[whole..],
        &pr[whole..],
        &pi[whole..],
        er,
        ei,
    );
    (
        (
            (reduce8(&rr) + t_rr) - (reduce8(&ii) + t_ii),
            (reduce8(&ri) + t_ri) + (reduce8(&ir) + t_ir),
        ),
        (
            (reduce8(&srr) + u_rr) - (reduce8(&sii) + u_ii),
            (reduce8(&sri) + u_ri) + (reduce8(&sir) + u_ir),
        ),
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn track_avx(
    wr: &mut [f32],
    wi: &mut [f32],
    s: Split,
    x: Split,
    p: Split,
    e: (f32, f32),
) -> ((f32, f32), (f32, f32)) {
    track_body(wr, wi, s, x, p, e)
}

/// See [`track_body`]: ((Σ w·x), (Σ s·x)) as (re, im) pairs, and w updated.
#[inline]
pub fn track(
    wr: &mut [f32],
    wi: &mut [f32],
    s: Split,
    x: Split,
    p: Split,
    e: (f32, f32),
) -> ((f32, f32), (f32, f32)) {
    #[cfg(target_arch = "x86_64")]
    if avx() {
        // SAFETY: AVX is present (checked above); the function is safe Rust.
        return unsafe { track_avx(wr, wi, s, x, p, e) };
    }
    track_body(wr, wi, s, x, p, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_agree_bit_for_bit() {
        let a: Vec<f32> = (0..203)
            .map(|i| ((i * 37) % 101) as f32 / 7.3 - 6.0)
            .collect();
        let b: Vec<f32> = (0..203)
            .map(|i| ((i * 53) % 97) as f32 / 3.1 - 15.0)
            .collect();
        for n in [0, 1, 7, 8, 9, 31, 32, 33, 203] {
            let want: f64 = a[..n]
                .iter()
                .zip(&b[..n])
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            let got = dot(&a[..n], &b[..n]);
            assert_eq!(got.to_bits(), dot_body(&a[..n], &b[..n]).to_bits(), "{n}");
            assert!(
                (f64::from(got) - want).abs() < 1e-3 * (1.0 + want.abs()),
                "{n}"
            );
        }
        let (mut wr, mut wi) = (a.clone(), b.clone());
        let (mut vr, mut vi) = (a.clone(), b.clone());
        lms_update(&mut wr, &mut wi, &b, &a, 0.25, -0.5);
        lms_body(&mut vr, &mut vi, &b, &a, 0.25, -0.5);
        assert_eq!(wr, vr);
        assert_eq!(wi, vi);
        assert_eq!(wr[3], a[3] + 0.25 * b[3] + -0.5 * a[3]);
        for n in [0, 5, 8, 24, 32, 203] {
            let (x, y) = dot2(&a[..n], &b[..n], &b[..n]);
            assert_eq!(
                (x.to_bits(), y.to_bits()),
                (
                    dot(&a[..n], &b[..n]).to_bits(),
                    dot(&b[..n], &b[..n]).to_bits()
                )
            );
            assert_eq!(dot2_body(&a[..n], &b[..n], &b[..n]), (x, y));
            let (re, im) = cdot(&a[..n], &b[..n], &b[..n], &a[..n]);
            assert_eq!(
                re.to_bits(),
                (dot(&a[..n], &b[..n]) - dot(&b[..n], &a[..n])).to_bits()
            );
            assert_eq!(
                im.to_bits(),
                (dot(&a[..n], &a[..n]) + dot(&b[..n], &b[..n])).to_bits()
            );
            assert_eq!(cdot_body(&a[..n], &b[..n], &b[..n], &a[..n]), (re, im));
        }
    }

    #[test]
    fn one_pass_tracking_is_two_outputs_then_the_update() {
        let v = |m: usize, d: f32| -> Vec<f32> {
            (0..203).map(|i| ((i * m) % 89) as f32 / d - 5.0).collect()
        };
        let (a, b, c, d, e, f, g, h) = (
            v(37, 7.3),
            v(53, 3.1),
            v(11, 9.0),
            v(29, 4.4),
            v(7, 8.1),
            v(13, 2.2),
            v(41, 6.6),
            v(17, 5.5),
        );
        for n in [0, 1, 7, 8, 9, 24, 31, 32, 33, 203] {
            let (mut wr, mut wi) = (a[..n].to_vec(), b[..n].to_vec());
            let s = Split {
                re: &c[..n],
                im: &d[..n],
            };
            let x = Split {
                re: &e[..n],
                im: &f[..n],
            };
            let p = Split {
                re: &g[..n],
                im: &h[..n],
            };
            let (y, sl) = track(&mut wr, &mut wi, s, x, p, (0.25, -0.5));
            let want_y = cdot(&a[..n], &b[..n], &e[..n], &f[..n]);
            let want_s = cdot(&c[..n], &d[..n], &e[..n], &f[..n]);
            let (mut vr, mut vi) = (a[..n].to_vec(), b[..n].to_vec());
            lms_update(&mut vr, &mut vi, &g[..n], &h[..n], 0.25, -0.5);
            assert_eq!(
                (y.0.to_bits(), y.1.to_bits()),
                (want_y.0.to_bits(), want_y.1.to_bits()),
                "{n}"
            );
            assert_eq!(
                (sl.0.to_bits(), sl.1.to_bits()),
                (want_s.0.to_bits(), want_s.1.to_bits()),
                "{n}"
            );
            assert_eq!((wr, wi), (vr, vi), "{n}");
            let (mut wr2, mut wi2) = (a[..n].to_vec(), b[..n].to_vec());
            assert_eq!(
                track_body(&mut wr2, &mut wi2, s, x, p, (0.25, -0.5)),
                (y, sl),
                "{n}"
            );
        }
    }
}
