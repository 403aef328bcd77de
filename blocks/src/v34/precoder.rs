//! The V.34 precoder (§9.6.2; modem-standards.md §4.9) with its exact
//! fixed-point arithmetic (`precoder`): a three-tap filter on the past
//! transmitted points x(n − 1 … n − 3) predicts the intersymbol
//! interference the receiver's noise-whitening filter 1 + h(D) will add,
//!
//!   q(n) = Σ_{p=1..3} x(n−p)·h(p),
//!   p(n) = q(n) rounded to a multiple of 2⁻⁷, ties to the smaller magnitude,
//!   c(n) = p(n) rounded to a multiple of 2w, ties to the smaller magnitude,
//!   y(n) = u(n) + c(n),  x(n) = y(n) − p(n),
//!
//! with w = 1 if b < 56, else 2. h(p) are Q2.14 (MP type 1), x is kept in
//! units of 2⁻⁷; everything is integer, as interoperability needs.
//!
//! The same filter runs in three places: inside `trellis_encoder`, which
//! needs c(n) to choose U₀ (Table 11's order), in this block's `transmit`
//! direction (y → x, what goes to the line), and in its `receive`
//! direction, where decided points ŷ(n) give back u(n) = ŷ(n) − c(n).

use super::constellation::Point;
use super::mapper::{from_c32, to_c32};
use super::params::{mode_arg, mode_params};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
use num_complex::Complex32;

/// V.34 §9.6.2: x and p carry 7 fractional bits.
pub const X_FRACTION_BITS: u32 = 7;
/// V.34 §9.6.2 (MP type 1): h(p) are Q2.14, 16-bit two's complement.
pub const H_FRACTION_BITS: u32 = 14;
/// V.34 §9.6.2: w = 2 from this high-frame size on, 1 below.
pub const WIDE_B: u32 = 56;
/// Values in one coefficient record: h(1), h(2), h(3), real and imaginary.
pub const H_RECORD: usize = 6;
/// |x| per component is held within this (units of 2⁻⁷: ±4096), far beyond
/// any point V.34 sends (|y| ≤ 255): coefficients that make the filter
/// unstable, or garbage input, cannot overflow the arithmetic.
const X_LIMIT: i64 = (X_LIMIT_POINTS as i64) << X_FRACTION_BITS;
/// The same limit in lattice units.
pub const X_LIMIT_POINTS: i32 = 4096;

/// h(1 … 3) in Q2.14, (re, im).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coefficients(pub [(i16, i16); 3]);

impl Coefficients {
    /// From real values (re, im of h1, h2, h3), rounded to Q2.14 and held
    /// inside (−2, 2).
    pub fn from_f64(h: &[f64]) -> Coefficients {
        let q = |v: f64| {
            let v = if v.is_finite() { v } else { 0.0 };
            (v * f64::from(1 << H_FRACTION_BITS))
                .round()
                .clamp(-32768.0, 32767.0) as i16
        };
        let g = |i: usize| h.get(i).copied().unwrap_or(0.0);
        Coefficients([(q(g(0)), q(g(1))), (q(g(2)), q(g(3))), (q(g(4)), q(g(5)))])
    }

    pub fn to_f64(self) -> [f64; H_RECORD] {
        let s = f64::from(1 << H_FRACTION_BITS);
        let mut v = [0.0; H_RECORD];
        for (k, (re, im)) in self.0.iter().enumerate() {
            v[2 * k] = f64::from(*re) / s;
            v[2 * k + 1] = f64::from(*im) / s;
        }
        v
    }

    pub fn is_zero(self) -> bool {
        self.0.iter().all(|&(a, b)| a == 0 && b == 0)
    }
}

/// `v` (an integer in units of 2^−`shift`... scaled) divided by `step`,
/// rounded to the nearest integer, ties to the smaller magnitude.
#[inline]
pub fn round_ties_to_zero(v: i64, step: i64) -> i64 {
    // Nearest multiple with ties toward zero: ⌈|v|/step − ½⌉ = ⌊(|v| + step/2 − 1)/step⌋
    // for an even step; for odd steps there are no ties.
    let a = v.abs();
    let k = if step % 2 == 0 {
        (a + step / 2 - 1) / step
    } else {
        (a + step / 2) / step
    };
    if v < 0 {
        -k
    } else {
        k
    }
}

/// The precoder's state: h, 2w and x(n−1 … n−3) in units of 2⁻⁷.
#[derive(Clone, Debug)]
pub struct Precoder {
    h: Coefficients,
    /// h = 0: p = c = 0 always (no precoding), the common case.
    zero: bool,
    two_w: i64,
    x: [(i64, i64); 3],
}

impl Precoder {
    /// A precoder for high frames of `b` bits, its delay line cleared.
    pub fn new(h: Coefficients, b: u32) -> Precoder {
        Precoder {
            h,
            zero: h.is_zero(),
            two_w: if b < WIDE_B { 2 } else { 4 },
            x: [(0, 0); 3],
        }
    }

    pub fn set_coefficients(&mut self, h: Coefficients) {
        self.h = h;
        self.zero = h.is_zero();
    }

    pub fn coefficients(&self) -> Coefficients {
        self.h
    }

    /// Whether h = 0: then p(n) = c(n) = 0 and x(n) = y(n) (within
    /// [`X_LIMIT_POINTS`]), whatever the past.
    pub fn is_off(&self) -> bool {
        self.zero
    }

    /// p(n) in units of 2⁻⁷ and c(n) (integers, multiples of 2w), from the past.
    #[inline]
    pub fn predict(&self) -> ((i64, i64), Point) {
        if self.zero {
            return ((0, 0), (0, 0));
        }
        let (mut qr, mut qi) = (0i64, 0i64);
        for (&(xr, xi), &(hr, hi)) in self.x.iter().zip(&self.h.0) {
            let (hr, hi) = (i64::from(hr), i64::from(hi));
            qr += xr * hr - xi * hi;
            qi += xr * hi + xi * hr;
        }
        // q is in units of 2^−21; p to the nearest 2^−7.
        let step = 1i64 << H_FRACTION_BITS;
        let p = (round_ties_to_zero(qr, step), round_ties_to_zero(qi, step));
        // c to the nearest multiple of 2w (in units of 2^−7: 2w·128).
        let cstep = self.two_w << X_FRACTION_BITS;
        let c = (
            (round_ties_to_zero(p.0, cstep) * self.two_w) as i32,
            (round_ties_to_zero(p.1, cstep) * self.two_w) as i32,
        );
        (p, c)
    }

    /// Takes y(n), returns x(n) = y(n) − p(n) (units of 2⁻⁷) and moves the
    /// delay line on. `p` must be this symbol's [`Precoder::predict`].
    #[inline]
    pub fn push(&mut self, y: Point, p: (i64, i64)) -> (i64, i64) {
        let x = (
            ((i64::from(y.0) << X_FRACTION_BITS) - p.0).clamp(-X_LIMIT, X_LIMIT),
            ((i64::from(y.1) << X_FRACTION_BITS) - p.1).clamp(-X_LIMIT, X_LIMIT),
        );
        self.x = [x, self.x[0], self.x[1]];
        x
    }

    /// Transmit: x(n) for y(n), as a complex value.
    pub fn transmit(&mut self, y: Point) -> Complex32 {
        let (p, _) = self.predict();
        let x = self.push(y, p);
        let s = 1.0 / (1 << X_FRACTION_BITS) as f32;
        Complex32::new(x.0 as f32 * s, x.1 as f32 * s)
    }

    /// Receive: u(n) = ŷ(n) − c(n) for a decided ŷ(n).
    pub fn receive(&mut self, y: Point) -> Point {
        let (p, c) = self.predict();
        self.push(y, p);
        (y.0 - c.0, y.1 - c.1)
    }
}

/// The `h` parameter: six numbers, h1 re, h1 im, h2 re, h2 im, h3 re, h3 im.
pub fn h_param() -> ParamSpec {
    ParamSpec::string(
        "h",
        "precoder coefficients h1 re, h1 im, h2 re, h2 im, h3 re, h3 im, each in (−2, 2) \
         (V.34 §9.6.2; empty or all zero: no precoding)",
    )
    .default("")
}

/// Reads the `h` parameter.
pub fn h_arg(args: &BlockArgs) -> Result<Coefficients, String> {
    let text = args.string("h")?;
    let vals: Result<Vec<f64>, _> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::parse::<f64>)
        .collect();
    let vals = vals.map_err(|_| format!("`h` = `{text}`: give six numbers separated by commas"))?;
    if !vals.is_empty() && vals.len() != H_RECORD {
        return Err(format!(
            "`h` has {} numbers; give six (h1 re, h1 im, h2 re, h2 im, h3 re, h3 im) or none",
            vals.len()
        ));
    }
    if let Some(v) = vals.iter().find(|v| v.is_nan() || v.abs() >= 2.0) {
        return Err(format!(
            "`h` value {v} is outside (−2, 2), the range of Q2.14"
        ));
    }
    Ok(Coefficients::from_f64(&vals))
}

/// The optional coefficient input shared by the blocks that run the filter.
pub fn h_port() -> PortSpec {
    PortSpec::new(
        "h",
        ItemType::F32,
        "coefficient records from the receiver (qam_demodulator's `h`): six values each; \
         when connected, nothing is coded until the first arrives",
    )
    .rate(modemflow_flow::Rate::Varies)
    .optional()
}

/// Waits for and applies coefficient records on input `port`, if it is
/// connected. Returns false while the first record is still awaited.
pub fn take_coefficients(
    io: &mut WorkIo<'_>,
    port: usize,
    have: &mut bool,
    pre: &mut Precoder,
) -> bool {
    let Some(input) = io.inputs.get_mut(port) else {
        return true;
    };
    while input.available() >= H_RECORD {
        let r: Vec<f64> = input.items::<f32>()[..H_RECORD]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        input.consume(H_RECORD);
        pre.set_coefficients(Coefficients::from_f64(&r));
        *have = true;
    }
    // An input that ends without a record leaves the parameter's h.
    if input.is_eos() {
        *have = true;
    }
    *have
}

struct PrecoderBlock {
    pre: Precoder,
    receive: bool,
    have_h: bool,
}

impl Block for PrecoderBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        if !take_coefficients(io, 1, &mut self.have_h, &mut self.pre) {
            return Ok(Status::Ok);
        }
        let n = io.inputs[0].available().min(io.outputs[0].space());
        let input = &io.inputs[0].items::<Complex32>()[..n];
        let out = io.outputs[0].append::<Complex32>(n);
        if self.pre.coefficients().is_zero() {
            // No precoding: x = y and u = y, for points on the lattice.
            for (o, &v) in out.iter_mut().zip(input) {
                *o = to_c32(from_c32(v));
            }
            io.inputs[0].consume(n);
            return Ok(if io.inputs[0].finished() {
                Status::Done
            } else {
                Status::Ok
            });
        }
        for (o, &v) in out.iter_mut().zip(input) {
            let y = from_c32(v);
            *o = if self.receive {
                to_c32(self.pre.receive(y))
            } else {
                self.pre.transmit(y)
            };
        }
        io.inputs[0].consume(n);
        if io.inputs[0].finished() {
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    let receive = args.string("direction")? == "receive";
    Ok(Box::new(PrecoderBlock {
        pre: Precoder::new(h_arg(args)?, mode.framing.b),
        receive,
        have_h: false,
    }))
}

pub fn spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "precoder",
        "Coding",
        "V.34 precoder (§9.6.2): channel points y to line points x, or decided points back to u",
        make,
    ))
    .doc(
        "V.34 §9.6.2 with its exact arithmetic: q(n) = Σ x(n−p)·h(p) over p = 1 … 3, \
         p(n) = q(n) rounded to a multiple of 2⁻⁷ and c(n) = p(n) rounded to a multiple of \
         2w (w = 1 if b < 56, else 2), both with ties to the smaller magnitude; \
         y(n) = u(n) + c(n) and x(n) = y(n) − p(n). h(1…3) are Q2.14 (MP type 1), from \
         `h` or, when the `h` input is connected, from the receiver. `transmit`: y(n) \
         from `trellis_encoder` (which runs the same filter to know c(n)) in, x(n) out \
         (7 fractional bits, exact in f32). `receive`: decided ŷ(n) from the Viterbi \
         decoder in, u(n) = ŷ(n) − c(n) out, for `v34_demapper`. With h = 0 both \
         directions pass points through unchanged.",
    )
    .param(
        ParamSpec::choice(
            "direction",
            &["transmit", "receive"],
            "transmit: y → x; receive: ŷ → u",
        )
        .default("transmit"),
    )
    .param(h_param())
    .input(PortSpec::new(
        "in",
        ItemType::C32,
        "y(n) (transmit) or decided ŷ(n) (receive)",
    ))
    .input(h_port())
    .output(PortSpec::new(
        "out",
        ItemType::C32,
        "x(n) (transmit) or u(n) (receive)",
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_smaller_magnitude() {
        // modem-standards.md §4.9, step 2: to multiples of 2^−7 from 2^−21.
        let s = 1i64 << 14;
        assert_eq!(round_ties_to_zero(s / 2, s), 0);
        assert_eq!(round_ties_to_zero(s / 2 + 1, s), 1);
        assert_eq!(round_ties_to_zero(-s / 2, s), 0);
        assert_eq!(round_ties_to_zero(-3 * s / 2, s), -1);
        assert_eq!(round_ties_to_zero(-3 * s / 2 - 1, s), -2);
        assert_eq!(round_ties_to_zero(0, s), 0);
    }

    /// c(n) for p(n) (in units of 2⁻⁷) with w = 1 or 2, through the precoder.
    fn c_of(p7: i64, b: u32) -> i32 {
        // h1 = 1 and x(n−1) = p7: q = p7·2^14, p = p7 exactly.
        let mut pre = Precoder::new(Coefficients([(1 << 14, 0), (0, 0), (0, 0)]), b);
        pre.x[0] = (p7, 0);
        let (p, c) = pre.predict();
        assert_eq!(p, (p7, 0));
        c.0
    }

    #[test]
    fn c_rounds_to_multiples_of_2w_with_ties_down() {
        // w = 1: multiples of 2. |p| = 1 is a tie (0 or 2): 0. |p| = 1 + 2⁻⁷ is
        // nearer 2 — spandsp's rounding to an integer first gives 0 here.
        assert_eq!(c_of(128, 40), 0);
        assert_eq!(c_of(129, 40), 2);
        assert_eq!(c_of(-129, 40), -2);
        assert_eq!(c_of(3 * 128, 40), 2);
        assert_eq!(c_of(-3 * 128, 40), -2);
        assert_eq!(c_of(3 * 128 + 1, 40), 4);
        // w = 2 from b = 56: multiples of 4, ties at odd multiples of 2.
        assert_eq!(c_of(2 * 128, 56), 0);
        assert_eq!(c_of(2 * 128 + 1, 56), 4);
        assert_eq!(c_of(6 * 128, 79), 4);
        assert_eq!(c_of(-6 * 128 - 1, 79), -8);
    }

    #[test]
    fn receive_undoes_transmit() {
        let h = Coefficients::from_f64(&[0.71, -0.32, -0.25, 0.11, 0.05, -0.02]);
        let (mut tx, mut rx, mut check) = (
            Precoder::new(h, 79),
            Precoder::new(h, 79),
            Precoder::new(h, 79),
        );
        let mut seed = 1u32;
        for _ in 0..10_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let u = (
                2 * ((seed >> 8) % 40) as i32 - 39,
                2 * ((seed >> 20) % 40) as i32 - 39,
            );
            let (p, c) = tx.predict();
            let y = (u.0 + c.0, u.1 + c.1);
            let x = tx.push(y, p);
            // x stays near u: |x − u| = |c − p| ≤ w per component.
            assert!((x.0 - (i64::from(u.0) << 7)).abs() <= 2 << 7);
            // The receiver, seeing y, recovers u and the same x.
            assert_eq!(rx.receive(y), u);
            assert_eq!(
                check.transmit(y),
                Complex32::new(x.0 as f32 / 128.0, x.1 as f32 / 128.0)
            );
        }
    }

    #[test]
    fn coefficients_parse_and_round_trip() {
        let h = Coefficients::from_f64(&[1.0, -0.5, 1.99993896484375, 0.0, -2.0, 0.25]);
        assert_eq!(h.0, [(16384, -8192), (32767, 0), (-32768, 4096)]);
        assert_eq!(h.to_f64()[2], 32767.0 / 16384.0);
        assert!(Coefficients::default().is_zero());
    }
}
