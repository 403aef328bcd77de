//! V.34 §9.5–9.6.1 mapping (`v34_mapper`, `v34_demapper`;
//! modem-standards.md §4.7–4.8): each 2D symbol's ring and uncoded bits pick
//! a quarter-constellation point by the mapping index
//! Q(n) = Q1 + 2·Q2 + … + 2^(q−1)·Qq + 2^q·m_jk; the differential encoder
//! Z(m) = (I2 + 2·I3 + Z(m−1)) mod 4 turns both points of 4D symbol m
//! clockwise by Z(m)·90°, and the second one further by 2·I1·90°.
//!
//! The last turn of §9.6.1, U₀(m)·90° on the second point, depends on the
//! trellis code and the precoder (Table 11) and is left to
//! `trellis_encoder`; so the mapper's odd symbols are u(2m+1) before U₀.
//! The demapper reads all of it back from decided points (U₀ included,
//! which it ignores: the Viterbi decoder has used it).

use super::constellation::{rotate_cw, rotation_of, Point, Quarter};
use super::frame::{MappingFrame, RECORD};
use super::framer::Parser;
use super::params::{mode_arg, mode_params};
use super::rates::{Mode, SYMBOLS_PER_MAPPING_FRAME};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, PortSpec, Rate, Registry, Status, WorkIo,
};
use num_complex::Complex32;

/// The mapper of one mode, with the differential encoder's state.
#[derive(Clone, Debug)]
pub struct Mapper {
    quarter: &'static Quarter,
    q: u32,
    /// V.34 §9.5: Z(m − 1), 0 at the start of data.
    z: u32,
}

impl Mapper {
    pub fn new(mode: &Mode) -> Mapper {
        Mapper {
            quarter: Quarter::get(),
            q: mode.mapping.q,
            z: 0,
        }
    }

    /// V.34 §9.6.1: the quarter point of mapping index Q(n).
    fn v(&self, ring: u8, q: u16) -> Point {
        let mask = (1u32 << self.q) - 1;
        let label = (u32::from(ring) << self.q) | (u32::from(q) & mask);
        self.quarter.point(label as usize)
    }

    /// The eight points of one mapping frame: u(2m) and u(2m+1) before U₀.
    pub fn map(&mut self, f: &MappingFrame, out: &mut [Point]) {
        for j in 0..4 {
            let i = u32::from(f.i_bits[j]);
            let (i1, i2, i3) = (i & 1, i >> 1 & 1, i >> 2 & 1);
            // V.34 §9.5: Z(m) = (I2 + 2·I3 + Z(m−1)) mod 4.
            self.z = (i2 + 2 * i3 + self.z) & 3;
            out[2 * j] = rotate_cw(self.v(f.rings[2 * j], f.q[2 * j]), self.z);
            out[2 * j + 1] = rotate_cw(self.v(f.rings[2 * j + 1], f.q[2 * j + 1]), self.z + 2 * i1);
        }
    }
}

/// The demapper of one mode: decided points u(n) back to rings, I and Q bits.
#[derive(Clone, Debug)]
pub struct Demapper {
    quarter: &'static Quarter,
    q: u32,
    m: u32,
    z: u32,
    /// Points that were not in the constellation (decision errors).
    pub outside: u64,
}

impl Demapper {
    pub fn new(mode: &Mode) -> Demapper {
        Demapper {
            quarter: Quarter::get(),
            q: mode.mapping.q,
            m: mode.mapping.m,
            z: 0,
            outside: 0,
        }
    }

    /// Ring and Q of one point already turned back to the quarter.
    fn unlabel(&mut self, v: Point) -> (u8, u16) {
        let rings = self.m;
        match self.quarter.label(v) {
            Some(l) if (l >> self.q) < rings as usize => {
                ((l >> self.q) as u8, (l & ((1 << self.q) - 1)) as u16)
            }
            _ => {
                self.outside += 1;
                (0, 0)
            }
        }
    }

    /// Fills the rings, I and Q bits of `f` from its eight decided points.
    pub fn demap(&mut self, points: &[Point], f: &mut MappingFrame) {
        for j in 0..4 {
            let (a, b) = (points[2 * j], points[2 * j + 1]);
            let za = rotation_of(a);
            // V.34 §9.5 backwards: I2 + 2·I3 = Z(m) − Z(m−1).
            let dz = (za + 4 - self.z) & 3;
            self.z = za;
            // The second point's turn past Z(m) is 2·I1 + U₀.
            let d = (rotation_of(b) + 4 - za) & 3;
            let i1 = d >> 1;
            f.i_bits[j] = (i1 | (dz & 1) << 1 | (dz >> 1) << 2) as u8;
            let (ra, qa) = self.unlabel(rotate_cw(a, 4 - za));
            let (rb, qb) = self.unlabel(rotate_cw(b, 4 - rotation_of(b)));
            f.rings[2 * j] = ra;
            f.q[2 * j] = qa;
            f.rings[2 * j + 1] = rb;
            f.q[2 * j + 1] = qb;
        }
    }
}

/// A lattice point as a c32 item (exact: coordinates are small integers).
#[inline]
pub fn to_c32((x, y): Point) -> Complex32 {
    Complex32::new(x as f32, y as f32)
}

/// A c32 item as the nearest odd lattice point.
#[inline]
pub fn from_c32(c: Complex32) -> Point {
    super::constellation::nearest_odd(c.re, c.im)
}

struct MapperBlock {
    mapper: Mapper,
    points: [Point; SYMBOLS_PER_MAPPING_FRAME],
}

impl Block for MapperBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let frames = (io.inputs[0].available() / RECORD)
            .min(io.outputs[0].space().div_ceil(SYMBOLS_PER_MAPPING_FRAME));
        let input = &io.inputs[0].items::<i16>()[..frames * RECORD];
        let out = io.outputs[0].append::<Complex32>(frames * SYMBOLS_PER_MAPPING_FRAME);
        for (rec, dst) in input
            .chunks_exact(RECORD)
            .zip(out.chunks_exact_mut(SYMBOLS_PER_MAPPING_FRAME))
        {
            self.mapper
                .map(&MappingFrame::from_record(rec), &mut self.points);
            for (d, &p) in dst.iter_mut().zip(&self.points) {
                *d = to_c32(p);
            }
        }
        io.inputs[0].consume(frames * RECORD);
        if io.inputs[0].is_eos() && io.inputs[0].available() < RECORD {
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

struct DemapperBlock {
    demapper: Demapper,
    parser: Parser,
    position: u32,
    points: [Point; SYMBOLS_PER_MAPPING_FRAME],
    reported: u64,
}

impl Block for DemapperBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let frames = (io.inputs[0].available() / SYMBOLS_PER_MAPPING_FRAME)
            .min(io.outputs[0].space().div_ceil(RECORD));
        let input = &io.inputs[0].items::<Complex32>()[..frames * SYMBOLS_PER_MAPPING_FRAME];
        let out = io.outputs[0].append::<i16>(frames * RECORD);
        for (pts, dst) in input
            .chunks_exact(SYMBOLS_PER_MAPPING_FRAME)
            .zip(out.chunks_exact_mut(RECORD))
        {
            for (p, &c) in self.points.iter_mut().zip(pts) {
                *p = from_c32(c);
            }
            let (high, _) = self.parser.frame_bits(self.position);
            let mut f = MappingFrame {
                position: self.position as u16,
                high,
                ..MappingFrame::default()
            };
            self.demapper.demap(&self.points, &mut f);
            f.write_record(dst);
            self.position = self.parser.next(self.position);
        }
        io.inputs[0].consume(frames * SYMBOLS_PER_MAPPING_FRAME);
        if io.inputs[0].is_eos() && io.inputs[0].available() < SYMBOLS_PER_MAPPING_FRAME {
            let left = io.inputs[0].available();
            io.inputs[0].consume(left);
            if self.demapper.outside > self.reported || left > 0 {
                self.reported = self.demapper.outside;
                io.emit(
                    "outside_points",
                    serde_json::json!({"points": self.demapper.outside, "partial_frame_symbols": left}),
                );
            }
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make_mapper(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(MapperBlock {
        mapper: Mapper::new(&mode_arg(args)?),
        points: [(0, 0); SYMBOLS_PER_MAPPING_FRAME],
    }))
}

fn make_demapper(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    Ok(Box::new(DemapperBlock {
        demapper: Demapper::new(&mode),
        parser: Parser::new(&mode),
        position: 0,
        points: [(0, 0); SYMBOLS_PER_MAPPING_FRAME],
        reported: 0,
    }))
}

pub fn mapper_spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "v34_mapper",
        "Coding",
        "V.34 mapper: rings and I/Q bits to superconstellation points, with the differential encoder",
        make_mapper,
    ))
    .doc(
        "V.34 §9.1, §9.5 and §9.6.1. Each 2D symbol's mapping index \
         Q(n) = Q1 + 2·Q2 + … + 2^(q−1)·Qq + 2^q·m_jk picks a point of the quarter \
         superconstellation (Figure 5: the lattice (4i+1, 4j+1) by increasing energy, \
         the larger imaginary part first among equals). The differential encoder \
         Z(m) = (I2 + 2·I3 + Z(m−1)) mod 4 (from Z = 0 at the start) turns both points \
         of 4D symbol m clockwise by Z(m)·90°, and the second one by a further \
         2·I1·90°. The turn by U₀(m)·90° that §9.6.1 adds to the second point comes \
         from the trellis code and the precoder and is applied by `trellis_encoder`. \
         Points are on the odd integer lattice, as V.34 writes them.",
    )
    .input(PortSpec::new("in", ItemType::I16, "mapping frame records with rings (shell_mapper)").rate(Rate::Ratio(3, 1)))
    .output(
        PortSpec::new("out", ItemType::C32, "points u(n), 8 per mapping frame (odd ones before U₀)")
            .rate(Rate::Ratio(1, 3)),
    )
}

pub fn demapper_spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "v34_demapper",
        "Coding",
        "V.34 demapper: decided points back to rings and I/Q bits",
        make_demapper,
    ))
    .doc(
        "The inverse of `v34_mapper` on decided points u(n) (after `precoder` in \
         `receive` direction): each point's rotation (which of the four turns of the \
         quarter lattice it lies in) gives Z(m) and, for the second point of a 4D \
         symbol, 2·I1 + U₀; turned back, its label gives the ring and the Q bits. I2 \
         and I3 come from Z(m) − Z(m−1). Points outside the constellation, which only \
         decision errors produce, are counted and reported as `outside_points` at the \
         end.",
    )
    .input(
        PortSpec::new(
            "in",
            ItemType::C32,
            "decided points u(n), 8 per mapping frame",
        )
        .rate(Rate::Ratio(1, 3)),
    )
    .output(
        PortSpec::new(
            "out",
            ItemType::I16,
            "mapping frame records, 24 values each",
        )
        .rate(Rate::Ratio(3, 1)),
    )
    .event(EventSpec::new(
        "outside_points",
        "at the end, when decided points fell outside the constellation",
        &[
            ("points", "how many"),
            (
                "partial_frame_symbols",
                "symbols of a mapping frame cut short at the end",
            ),
        ],
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
    fn labels_and_turns() {
        let mode = Mode::new(33600, 3429, true).unwrap();
        let mut m = Mapper::new(&mode);
        // Ring 0, Q = 0 everywhere: label 0, (1, 1); I = 0 leaves Z = 0.
        let mut f = MappingFrame::default();
        let mut out = [(0, 0); 8];
        m.map(&f, &mut out);
        assert!(out.iter().all(|&p| p == (1, 1)));
        // I2 = 1 turns everything by 90° from then on; I1 = 1 turns the odd point 180° more.
        f.i_bits = [2, 1, 0, 4];
        m.map(&f, &mut out);
        assert_eq!(&out[..2], [(1, -1), (1, -1)]);
        assert_eq!(&out[2..4], [(1, -1), (-1, 1)]);
        assert_eq!(&out[4..6], [(1, -1), (1, -1)]);
        // I3 = 1 adds 180°: Z = 3.
        assert_eq!(&out[6..8], [(-1, 1), (-1, 1)]);
        // Label 2^q·ring + Q: ring 1, Q 3 → label 35 at q = 5.
        let mut f = MappingFrame::default();
        f.rings[0] = 1;
        f.q[0] = 3;
        let mut m = Mapper::new(&mode);
        m.map(&f, &mut out);
        assert_eq!(out[0], Quarter::get().point(35));
    }

    proptest! {
        #[test]
        fn demap_of_map_is_the_identity(
            rings in proptest::array::uniform8(0u8..13),
            q in proptest::array::uniform8(0u16..32),
            i in proptest::array::uniform4(0u8..8),
            u0 in proptest::array::uniform4(0u32..2),
            frames in 1usize..4,
        ) {
            let mode = Mode::new(33600, 3429, true).unwrap();
            let (mut m, mut d) = (Mapper::new(&mode), Demapper::new(&mode));
            for k in 0..frames {
                let f = MappingFrame { rings, q, i_bits: i.map(|x| x ^ k as u8 & 7), ..Default::default() };
                let mut pts = [(0, 0); 8];
                m.map(&f, &mut pts);
                // Whatever U₀ the trellis adds, the data comes back.
                for j in 0..4 {
                    pts[2 * j + 1] = rotate_cw(pts[2 * j + 1], u0[j]);
                }
                let mut g = MappingFrame::default();
                d.demap(&pts, &mut g);
                prop_assert_eq!(g.rings, f.rings);
                prop_assert_eq!(g.q, f.q);
                prop_assert_eq!(g.i_bits, f.i_bits);
            }
            prop_assert_eq!(d.outside, 0);
        }
    }

    #[test]
    fn points_outside_are_counted() {
        let mode = Mode::new(4800, 3000, false).unwrap();
        let mut d = Demapper::new(&mode);
        let mut g = MappingFrame::default();
        d.demap(&[(101, 1); 8], &mut g);
        assert_eq!(d.outside, 8);
    }
}
