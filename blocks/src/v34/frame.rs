//! The V.34 mapping frame (§8, §9.3) as it travels between the data pump's
//! blocks: one fixed-size record of `i16` values per mapping frame, so that
//! the framer, the shell mapper and the mapper (and their inverses in the
//! receiver) are separate blocks a user can probe between.
//!
//! Record layout ([`RECORD`] values):
//!
//! | index | field |
//! |---|---|
//! | 0 | position: data frame · P + mapping frame, within the superframe |
//! | 1 | 1 for a high mapping frame (b bits), 0 for a low one (b − 1) |
//! | 2, 3 | R₀, the shell bits (S₁ the LSB): low and high 16 bits |
//! | 4 … 11 | the rings m_jk, 2D symbol n = 2j + k |
//! | 12 … 15 | I1 + 2·I2 + 4·I3 of each 4D symbol j |
//! | 16 … 23 | Q(j,k) = Q1 + 2·Q2 + … of each 2D symbol |

use modemflow_flow::WorkIo;

/// Values per mapping frame record.
pub const RECORD: usize = 24;

/// One mapping frame after the parser of V.34 §9.3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MappingFrame {
    /// Mapping frame index within the superframe (0 … J·P − 1).
    pub position: u16,
    pub high: bool,
    /// V.34 §9.4: R₀ = S₁ + 2·S₂ + … (K bits, or K − 1 in a low frame).
    pub r0: u32,
    /// V.34 §9.4: ring indices m_jk, n = 2j + k.
    pub rings: [u8; 8],
    /// V.34 §9.3: I1, I2, I3 of 4D symbol j as I1 + 2·I2 + 4·I3.
    pub i_bits: [u8; 4],
    /// V.34 §9.6.1: the uncoded bits Q(j,k,1…q) of each 2D symbol as an integer.
    pub q: [u16; 8],
}

impl MappingFrame {
    pub fn from_record(r: &[i16]) -> MappingFrame {
        let u = |i: usize| r.get(i).map_or(0, |&v| v as u16);
        let mut f = MappingFrame {
            position: u(0),
            high: u(1) != 0,
            r0: u32::from(u(2)) | u32::from(u(3)) << 16,
            ..MappingFrame::default()
        };
        for n in 0..8 {
            f.rings[n] = u(4 + n).min(255) as u8;
            f.q[n] = u(16 + n);
        }
        for j in 0..4 {
            f.i_bits[j] = (u(12 + j) & 7) as u8;
        }
        f
    }

    pub fn write_record(&self, r: &mut [i16]) {
        r[0] = self.position as i16;
        r[1] = i16::from(self.high);
        r[2] = (self.r0 & 0xFFFF) as u16 as i16;
        r[3] = (self.r0 >> 16) as u16 as i16;
        for n in 0..8 {
            r[4 + n] = i16::from(self.rings[n]);
            r[16 + n] = self.q[n] as i16;
        }
        for j in 0..4 {
            r[12 + j] = i16::from(self.i_bits[j]);
        }
    }
}

/// Moves whole records from input 0 to output 0 through `f`, as many as
/// there are and as fit in the output's space (at least one when any is
/// waiting). Returns how many.
pub fn map_records(io: &mut WorkIo<'_>, mut f: impl FnMut(&mut MappingFrame)) -> usize {
    let n = (io.inputs[0].available() / RECORD).min(io.outputs[0].space().div_ceil(RECORD));
    if n == 0 {
        return 0;
    }
    let input = &io.inputs[0].items::<i16>()[..n * RECORD];
    let out = io.outputs[0].append::<i16>(n * RECORD);
    for (src, dst) in input.chunks_exact(RECORD).zip(out.chunks_exact_mut(RECORD)) {
        let mut frame = MappingFrame::from_record(src);
        f(&mut frame);
        frame.write_record(dst);
    }
    io.inputs[0].consume(n * RECORD);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let f = MappingFrame {
            position: 104,
            high: true,
            r0: 0x7FFF_FFFF,
            rings: [17, 0, 3, 4, 5, 6, 7, 8],
            i_bits: [7, 0, 5, 2],
            q: [31, 0, 1, 2, 3, 4, 30, 29],
        };
        let mut r = [0i16; RECORD];
        f.write_record(&mut r);
        assert_eq!(MappingFrame::from_record(&r), f);
        // A short or garbled record reads as zeros, never panics.
        let g = MappingFrame::from_record(&[1, 2]);
        assert_eq!((g.position, g.high, g.r0), (1, true, 0));
        let junk = [-1i16; RECORD];
        let h = MappingFrame::from_record(&junk);
        assert!(h.rings.iter().all(|&x| x == 255) && h.i_bits.iter().all(|&x| x == 7));
    }
}
