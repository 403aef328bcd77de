//! The V.34 non-linear encoder (§9.7; modem-standards.md §4.11,
//! `nonlinear_encoder`): x′(n) = Φ(n)·x(n) with Φ = 1 + ζ/6 + ζ²/120 and
//! ζ = Θ·|x(n)|² / E[|x|²], which spreads the outer points a little so that a
//! channel's even-order distortion (PCM codecs' companding) hurts less.
//! Θ is 0 (off) or 0.3125, chosen by the receiver in MP bit 31.
//!
//! E[|x|²] is left to the implementation by V.34; here it is the average
//! energy of the mode's points (`constellation::average_energy`), which
//! both ends compute the same way. The inverse (for a receiver) solves
//! r·Φ(r²) = |x′| by Newton's method: Φ grows with r, so there is one root.

use super::constellation::average_energy;
use super::params::{mode_arg, mode_params};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
use num_complex::Complex32;

/// V.34 §9.7: the only Θ besides 0.
pub const THETA: f64 = 0.3125;

/// The encoder (and its inverse) for one mode.
#[derive(Clone, Copy, Debug)]
pub struct Nonlinear {
    /// Θ / E[|x|²].
    k: f64,
}

impl Nonlinear {
    pub fn new(theta: f64, energy: f64) -> Nonlinear {
        Nonlinear {
            k: if energy > 0.0 { theta / energy } else { 0.0 },
        }
    }

    pub fn is_off(&self) -> bool {
        self.k == 0.0
    }

    /// V.34 §9.7: Φ for |x|² = `e`.
    #[inline]
    fn phi(&self, e: f64) -> f64 {
        let z = self.k * e;
        1.0 + z / 6.0 + z * z / 120.0
    }

    #[inline]
    pub fn encode(&self, x: Complex32) -> Complex32 {
        if self.is_off() {
            return x;
        }
        x * self.phi(f64::from(x.norm_sqr())) as f32
    }

    /// x from x′.
    #[inline]
    pub fn decode(&self, xp: Complex32) -> Complex32 {
        if self.is_off() || !(xp.re.is_finite() && xp.im.is_finite()) {
            return xp;
        }
        let target = f64::from(xp.norm());
        if target == 0.0 {
            return xp;
        }
        // f(r) = r·Φ(r²) − |x′|, f′(r) = 1 + 3kr²/6 + 5k²r⁴/120.
        // f is convex and increasing for r > 0: from r = |x′| (≥ the root)
        // Newton's steps fall monotonically onto it.
        let mut r = target;
        for _ in 0..40 {
            let e = r * r;
            let f = r * self.phi(e) - target;
            let d = 1.0 + self.k * e / 2.0 + self.k * self.k * e * e / 24.0;
            r -= f / d;
            if f.abs() < 1e-9 * target {
                break;
            }
        }
        xp * (r / target) as f32
    }
}

struct EncoderBlock(Nonlinear);

impl Block for EncoderBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let nl = self.0;
        io.map::<Complex32, Complex32>(|i, o| {
            for (y, &x) in o.iter_mut().zip(i) {
                *y = nl.encode(x);
            }
        });
        if io.inputs[0].finished() {
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

/// The `theta` parameter, shared with the receiver.
pub fn theta_param() -> ParamSpec {
    ParamSpec::float(
        "theta",
        "non-linear encoding Θ: 0 (off) or 0.3125 (V.34 §9.7; MP bit 31)",
    )
    .default(0.0)
    .range(0.0, THETA)
}

pub fn theta_arg(args: &BlockArgs) -> Result<f64, String> {
    let t = args.float("theta")?;
    if t != 0.0 && t != THETA {
        return Err(format!("`theta` = {t}: V.34 allows only 0 and 0.3125"));
    }
    Ok(t)
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    Ok(Box::new(EncoderBlock(Nonlinear::new(
        theta_arg(args)?,
        average_energy(&mode),
    ))))
}

pub fn spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "nonlinear_encoder",
        "Coding",
        "V.34 non-linear encoder (§9.7): outer points spread by Φ = 1 + ζ/6 + ζ²/120",
        make,
    ))
    .doc(
        "V.34 §9.7: x′(n) = Φ(n)·x(n), Φ = 1 + ζ/6 + ζ²/120, ζ = Θ·|x(n)|²/E[|x|²], with \
         E[|x|²] the average energy of the mode's points (V.34 leaves it to the \
         implementation; `qam_demodulator` with the same `theta` undoes it). Θ = 0, the \
         default, passes points through unchanged.",
    )
    .param(theta_param())
    .input(PortSpec::new("in", ItemType::C32, "precoded points x(n)"))
    .output(PortSpec::new("out", ItemType::C32, "points x′(n)"))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode() {
        let nl = Nonlinear::new(THETA, 300.0);
        for &(re, im) in &[
            (1.0f32, 1.0f32),
            (45.0, -43.0),
            (-3.0, 91.0),
            (0.0, 0.0),
            (250.0, 250.0),
        ] {
            let x = Complex32::new(re, im);
            let xp = nl.encode(x);
            // ζ = Θ·|x|²/E: Φ at the average energy is 1 + Θ/6 + Θ²/120.
            let back = nl.decode(xp);
            assert!(
                (back - x).norm() < 1e-3 * (1.0 + x.norm()),
                "{x} → {xp} → {back}"
            );
        }
        let at_avg = nl.encode(Complex32::new(300f32.sqrt(), 0.0)).re / 300f32.sqrt();
        assert!((f64::from(at_avg) - (1.0 + THETA / 6.0 + THETA * THETA / 120.0)).abs() < 1e-6);
        let off = Nonlinear::new(0.0, 300.0);
        assert_eq!(
            off.encode(Complex32::new(5.0, 7.0)),
            Complex32::new(5.0, 7.0)
        );
        assert!(nl.decode(Complex32::new(f32::NAN, 0.0)).re.is_nan());
    }
}
