//! The training signals a V.34 receiver learns the line from (V.34 §10.1.3;
//! modem-standards.md §4.12), and the `v34_train` block that sends them
//! ahead of the data points:
//!
//! * S (128 T): point 0 alternating with point 0 turned 90° counter-clockwise,
//!   ending on the turned one; S̄ (16 T): the same turned 180°, starting on
//!   the 180° point. The change from S to S̄ marks a known instant.
//! * PP (288 T): six periods of a 48-symbol constant-amplitude sequence
//!   with ideal periodic autocorrelation, PP(4k + I) = e^{jπ(kI+4)/6} if
//!   k mod 3 = 1, else e^{jπkI/6}.
//! * TRN: the scrambler (reset to zero) fed ones; 4-point: each symbol's
//!   two bits I = 2·I2 + I1 turn point 0 clockwise by I·90°; 16-point: two
//!   more bits 2·Q2 + Q1 pick one of the quarter points 0 … 3 first.
//!
//! Every point leaves `v34_train` at unit average power: training points
//! scaled by the 1/√E of their own constellation, data points by 1/√E of the
//! mode's (`constellation::average_energy`), so that the line carries one
//! level throughout and the receiver, which computes the same E, knows the
//! lattice's scale from the training.

use super::constellation::{average_energy, rotate_cw, Point, Quarter};
use super::params::{mode_arg, mode_params};
use super::scrambler::{poly_param, polynomial, Polynomial, Scrambler};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Rate, Registry, Status, WorkIo,
};
use num_complex::Complex32;
use std::f64::consts::PI;

/// V.34 §10.1.3.1: S lasts 128 T.
pub const S_LEN: usize = 128;
/// V.34 §10.1.3.2: S̄ lasts 16 T.
pub const S_BAR_LEN: usize = 16;
/// V.34 §10.1.3.3: PP is 6 periods of 48 symbols.
pub const PP_PERIOD: usize = 48;
pub const PP_LEN: usize = 6 * PP_PERIOD;
/// V.34 §11.3.1.4: TRN lasts at least 512 T in Phase 3; here it must also
/// leave room for the receiver's stretches after the symbols it does not
/// wait for (`demodulator::UNUSED_TRN`).
pub const MIN_TRN: usize = 768;

/// The preamble's parts: S, S̄, PP, TRN, in symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub trn: usize,
    /// 4 or 16.
    pub trn_points: u32,
}

impl Layout {
    pub fn len(&self) -> usize {
        S_LEN + S_BAR_LEN + PP_LEN + self.trn
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Where PP starts.
    pub fn pp_start(&self) -> usize {
        S_LEN + S_BAR_LEN
    }

    /// Where TRN starts.
    pub fn trn_start(&self) -> usize {
        self.pp_start() + PP_LEN
    }

    /// Average energy of the TRN points in lattice units.
    pub fn trn_energy(&self) -> f64 {
        if self.trn_points == 16 {
            // V.34 §10.1.3.5: quarter points 0 … 3: (1,1), (−3,1), (1,−3), (−3,−3).
            (2.0 + 10.0 + 10.0 + 18.0) / 4.0
        } else {
            2.0
        }
    }
}

/// PP(i) of V.34 §10.1.3.3, unit magnitude.
pub fn pp(i: usize) -> Complex32 {
    let (k, ii) = ((i / 4) as f64, (i % 4) as f64);
    let angle = if (i / 4) % 3 == 1 {
        PI * (k * ii + 4.0) / 6.0
    } else {
        PI * k * ii / 6.0
    };
    Complex32::new(angle.cos() as f32, angle.sin() as f32)
}

/// The whole preamble at unit average power (each part by its own
/// energy), as the receiver expects it.
pub fn preamble(layout: Layout, poly: Polynomial) -> Vec<Complex32> {
    let unit2 = (0.5f64).sqrt() as f32;
    let p0 = |turn_ccw: u32| {
        let (x, y) = rotate_cw((1, 1), (4 - turn_ccw % 4) % 4);
        Complex32::new(x as f32, y as f32) * unit2
    };
    let mut v = Vec::with_capacity(layout.len());
    // S: point 0, point 0 turned 90° ccw, …, ending on the turned one.
    for i in 0..S_LEN {
        v.push(p0(if i % 2 == 0 { 0 } else { 1 }));
    }
    // S̄: 180°, 270°, … starting with 180°.
    for i in 0..S_BAR_LEN {
        v.push(p0(if i % 2 == 0 { 2 } else { 3 }));
    }
    for i in 0..PP_LEN {
        v.push(pp(i));
    }
    v.extend(trn(layout, poly));
    v
}

/// TRN at unit average power.
pub fn trn(layout: Layout, poly: Polynomial) -> Vec<Complex32> {
    let mut scr = Scrambler::new(poly);
    let per = if layout.trn_points == 16 { 4 } else { 2 };
    let ones = vec![1u8; layout.trn * per];
    let mut bits = vec![0u8; ones.len()];
    scr.process(&ones, &mut bits);
    let q = Quarter::get();
    let scale = (1.0 / layout.trn_energy()).sqrt() as f32;
    bits.chunks_exact(per)
        .map(|b| {
            let turn = u32::from(b[0]) + 2 * u32::from(b[1]);
            let label = if per == 4 {
                usize::from(b[2]) + 2 * usize::from(b[3])
            } else {
                0
            };
            let (x, y): Point = rotate_cw(q.point(label), turn);
            Complex32::new(x as f32, y as f32) * scale
        })
        .collect()
}

/// The `trn` and `trn_points` parameters, shared by `v34_train` and the
/// receiver.
pub fn layout_params(spec: BlockSpec) -> BlockSpec {
    spec.param(
        ParamSpec::int(
            "trn",
            "TRN symbols before the data (V.34 §11: at least 512; here 768)",
        )
        .default(2048)
        .range(MIN_TRN as f64, 65536.0)
        .unit("symbols"),
    )
    .param(
        ParamSpec::int(
            "trn_points",
            "TRN constellation: 4 or 16 points (V.34 §10.1.3.5)",
        )
        .default(4)
        .allowed(&[4, 16]),
    )
    .param(poly_param())
}

pub fn layout_arg(args: &BlockArgs) -> Result<(Layout, Polynomial), String> {
    let trn = usize::try_from(args.int("trn")?).map_err(|_| "`trn` must be positive")?;
    let trn_points = args.int("trn_points")? as u32;
    Ok((Layout { trn, trn_points }, polynomial(args)?))
}

struct TrainBlock {
    preamble: Vec<Complex32>,
    sent: usize,
    data_scale: f32,
}

impl Block for TrainBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        if self.sent < self.preamble.len() {
            let n = io.outputs[0]
                .space()
                .max(1)
                .min(self.preamble.len() - self.sent);
            io.outputs[0]
                .items::<Complex32>()
                .extend_from_slice(&self.preamble[self.sent..self.sent + n]);
            self.sent += n;
            return Ok(Status::Ok);
        }
        let s = self.data_scale;
        io.map::<Complex32, Complex32>(|i, o| {
            for (y, &x) in o.iter_mut().zip(i) {
                *y = x * s;
            }
        });
        if io.inputs[0].finished() {
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }

    fn length_hint(&self) -> Option<u64> {
        None
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    let (layout, poly) = layout_arg(args)?;
    Ok(Box::new(TrainBlock {
        preamble: preamble(layout, poly),
        sent: 0,
        data_scale: (1.0 / average_energy(&mode)).sqrt() as f32,
    }))
}

pub fn spec() -> BlockSpec {
    layout_params(mode_params(BlockSpec::new(
        "v34_train",
        "Modulators",
        "Sends V.34's S, S̄, PP and TRN before the data points, all at unit power",
        make,
    )))
    .doc(
        "The training a V.34 receiver learns the line from (§10.1.3): S (128 T, point 0 \
         alternating with it turned 90° counter-clockwise), S̄ (16 T, the same turned \
         180°), PP (288 T: six periods of the 48-symbol sequence \
         PP(4k+I) = e^{jπ(kI+4)/6} for k mod 3 = 1, else e^{jπkI/6}) and TRN (`trn` \
         symbols from the scrambler reset to zero and fed ones: I = 2·I2 + I1 turns \
         point 0 clockwise by I·90°; with 16 points, 2·Q2 + Q1 first picks one of the \
         quarter points 0 … 3). Then the data points. Every point leaves at unit average \
         power: training points divided by √E of their constellation, data points by \
         √E of the mode's (the average energy of its shell-mapped constellation, which \
         `qam_demodulator` computes the same way). The preamble is sent before any \
         data is needed.",
    )
    .input(
        PortSpec::new("in", ItemType::C32, "data points x′(n), lattice units").rate(Rate::Varies),
    )
    .output(
        PortSpec::new(
            "out",
            ItemType::C32,
            "preamble then data, unit average power",
        )
        .rate(Rate::Varies),
    )
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pp_has_ideal_periodic_autocorrelation() {
        let p: Vec<Complex32> = (0..PP_PERIOD).map(pp).collect();
        for lag in 0..PP_PERIOD {
            let c: Complex32 = (0..PP_PERIOD)
                .map(|i| p[(i + lag) % PP_PERIOD] * p[i].conj())
                .sum();
            if lag == 0 {
                assert!((c.norm() - PP_PERIOD as f32).abs() < 1e-4);
            } else {
                assert!(c.norm() < 1e-4, "lag {lag}: {}", c.norm());
            }
        }
        // Periodic with 48 over the six periods.
        for i in 0..PP_LEN - PP_PERIOD {
            assert!((pp(i) - pp(i + PP_PERIOD)).norm() < 1e-5);
        }
    }

    #[test]
    fn preamble_parts() {
        let layout = Layout {
            trn: 1024,
            trn_points: 4,
        };
        let v = preamble(layout, Polynomial::Gpc);
        assert_eq!(v.len(), 128 + 16 + 288 + 1024);
        let r = std::f32::consts::FRAC_1_SQRT_2;
        // S ends on (−1, 1); S̄ starts on (−1, −1) and alternates with (1, −1).
        assert_eq!(v[0], Complex32::new(r, r));
        assert_eq!(v[127], Complex32::new(-r, r));
        assert_eq!(v[128], Complex32::new(-r, -r));
        assert_eq!(v[129], Complex32::new(r, -r));
        // Unit power everywhere.
        let p = |s: &[Complex32]| s.iter().map(|c| c.norm_sqr()).sum::<f32>() / s.len() as f32;
        assert!((p(&v) - 1.0).abs() < 1e-5);
        let t16 = trn(
            Layout {
                trn: 4096,
                trn_points: 16,
            },
            Polynomial::Gpa,
        );
        assert!((p(&t16) - 1.0).abs() < 0.03, "{}", p(&t16));
        // TRN from ones through a zeroed GPC scrambler: its first outputs
        // are ones (modem-standards.md §4.2), so I = 3: point 0 turned 270° cw.
        assert_eq!(v[layout.trn_start()], Complex32::new(-r, r));
    }
}
