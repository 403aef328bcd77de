//! V.34 framing and parsing (`v34_framer`, `v34_deframer`; §8 and §9.3,
//! modem-standards.md §4.3 and §4.5): scrambled data bits into mapping
//! frames of b bits (high frames) or b − 1 (low frames) by the switching
//! pattern, each frame split into its shell bits R₀ and the I and Q bits of
//! its four 4D symbols; and back.
//!
//! The stream starts at the first mapping frame of a superframe. The
//! auxiliary channel is not carried (W = 0), as in V.90's upstream.

use super::frame::{MappingFrame, RECORD};
use super::params::{mode_arg, mode_params};
use super::rates::{Framing, Mapping, Mode};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, PortSpec, Rate, Registry, Status, WorkIo,
};

/// V.34 §9.3: with b ≤ 12 a frame of n bits gives I3 to its first n − 8
/// 4D symbols (8: none, 9: one, 11: three, 12: all four).
const SMALL_FRAME_BASE: u32 = 8;

/// Splits and joins mapping frames for one mode.
#[derive(Clone, Copy, Debug)]
pub struct Parser {
    framing: Framing,
    mapping: Mapping,
    /// Mapping frames per superframe, J·P.
    superframe: u32,
}

impl Parser {
    pub fn new(mode: &Mode) -> Parser {
        Parser {
            framing: mode.framing,
            mapping: mode.mapping,
            superframe: mode.symbol_rate.mapping_frames_per_superframe(),
        }
    }

    /// Whether the frame at `position` in the superframe is high, and its bits.
    pub fn frame_bits(&self, position: u32) -> (bool, usize) {
        let i = position % self.framing.p;
        (self.framing.is_high(i), self.framing.frame_bits(i) as usize)
    }

    /// The next position after `position`.
    pub fn next(&self, position: u32) -> u32 {
        (position + 1) % self.superframe
    }

    /// V.34 §9.3: parses one mapping frame from its bits (first in time first).
    pub fn parse(&self, position: u32, bits: &[u8]) -> MappingFrame {
        let (high, n) = self.frame_bits(position);
        let mut f = MappingFrame {
            position: position as u16,
            high,
            ..MappingFrame::default()
        };
        let frame = FrameBits::from_bits(&bits[..n.min(bits.len())]);
        let mut at = 0usize;
        let mut take = |count: u32| -> u32 {
            let field = frame.read(at, count);
            at += count as usize;
            field
        };
        let (k, q) = (self.mapping.k, self.mapping.q);
        if k == 0 {
            let with_i3 = (n as u32).saturating_sub(SMALL_FRAME_BASE).min(4);
            for j in 0..4 {
                let bits = if (j as u32) < with_i3 { 3 } else { 2 };
                f.i_bits[j] = take(bits) as u8;
            }
            return f;
        }
        // V.34 §9.3: S₁ … S_K (S_K = 0 in a low frame), then per 4D symbol
        // I1, I2, I3, Q(j,0,1…q), Q(j,1,1…q).
        f.r0 = take(if high { k } else { k - 1 });
        for j in 0..4 {
            f.i_bits[j] = take(3) as u8;
            f.q[2 * j] = take(q) as u16;
            f.q[2 * j + 1] = take(q) as u16;
        }
        f
    }

    /// The inverse of [`Parser::parse`]: the frame's bits appended to `out`.
    /// Fields wider than the mode allows lose their high bits.
    pub fn unparse(&self, f: &MappingFrame, out: &mut Vec<u8>) {
        let (high, n) = self.frame_bits(u32::from(f.position));
        let mut frame = FrameBits::zeros();
        let mut at = 0usize;
        let mut put = |field: u32, count: u32| {
            frame.write(at, field, count);
            at += count as usize;
        };
        let (k, q) = (self.mapping.k, self.mapping.q);
        if k == 0 {
            let with_i3 = (n as u32).saturating_sub(SMALL_FRAME_BASE).min(4);
            for j in 0..4 {
                let bits = if (j as u32) < with_i3 { 3 } else { 2 };
                put(u32::from(f.i_bits[j]), bits);
            }
        } else {
            put(f.r0, if high { k } else { k - 1 });
            for j in 0..4 {
                put(u32::from(f.i_bits[j]), 3);
                put(u32::from(f.q[2 * j]), q);
                put(u32::from(f.q[2 * j + 1]), q);
            }
        }
        out.extend_from_slice(frame.bits(n));
    }
}

/// The low `count` bits set (all 32 from 32 on).
fn low_bits(count: u32) -> u32 {
    1u32.checked_shl(count).map_or(u32::MAX, |b| b - 1)
}

/// The most bits a mapping frame has (V.34 Table 8: b ≤ 79), rounded up.
const MAX_FRAME_BITS: usize = 128;

/// A mapping frame's bits, one per byte (bit 0), with room for an 8-byte
/// read or write at any field: fields are gathered eight bits per
/// multiplication and spread back eight per table entry, not bit by bit.
struct FrameBits([u8; MAX_FRAME_BITS + 32]);

impl FrameBits {
    fn zeros() -> FrameBits {
        FrameBits([0; MAX_FRAME_BITS + 32])
    }

    /// From a frame's bits (those past [`MAX_FRAME_BITS`] are not read).
    fn from_bits(bits: &[u8]) -> FrameBits {
        let mut f = FrameBits::zeros();
        let n = bits.len().min(MAX_FRAME_BITS);
        f.0[..n].copy_from_slice(&bits[..n]);
        f
    }

    fn bits(&self, n: usize) -> &[u8] {
        &self.0[..n.min(MAX_FRAME_BITS)]
    }

    /// The `count` (≤ 32) bits from bit `at` on, the first the lowest. Each
    /// multiplication moves byte j's bit 0 of eight to bit 56 + j (no two
    /// partial products overlap).
    fn read(&self, at: usize, count: u32) -> u32 {
        let mut v = 0u32;
        for k in 0..count.div_ceil(8).min(4) as usize {
            let Some(b) = self.0.get(at + 8 * k..at + 8 * k + 8) else {
                break;
            };
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            let x = u64::from_le_bytes(w) & 0x0101_0101_0101_0101;
            v |= ((x.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32) << (8 * k);
        }
        v & low_bits(count)
    }

    /// Sets the `count` (≤ 32) bits from bit `at` on to `field`'s low bits;
    /// the bytes after them up to the next multiple of eight become 0 (so
    /// fields are written in order).
    fn write(&mut self, at: usize, field: u32, count: u32) {
        let field = field & low_bits(count);
        for k in 0..count.div_ceil(8).min(4) as usize {
            let Some(b) = self.0.get_mut(at + 8 * k..at + 8 * k + 8) else {
                break;
            };
            b.copy_from_slice(&SPREAD[((field >> (8 * k)) & 0xFF) as usize].to_le_bytes());
        }
    }
}

/// For each byte: its eight bits, one per byte (bit j in byte j).
const SPREAD: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut v = 0;
    while v < 256 {
        let mut j = 0;
        while j < 8 {
            t[v] |= ((v as u64 >> j) & 1) << (8 * j);
            j += 1;
        }
        v += 1;
    }
    t
};

struct FramerBlock {
    parser: Parser,
    position: u32,
}

impl Block for FramerBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        loop {
            let (_, n) = self.parser.frame_bits(self.position);
            if io.inputs[0].available() < n || io.outputs[0].space() == 0 {
                break;
            }
            let f = self
                .parser
                .parse(self.position, &io.inputs[0].items::<u8>()[..n]);
            io.inputs[0].consume(n);
            f.write_record(io.outputs[0].append::<i16>(RECORD));
            self.position = self.parser.next(self.position);
        }
        if io.inputs[0].is_eos() {
            let left = io.inputs[0].available();
            let (_, n) = self.parser.frame_bits(self.position);
            if left < n {
                if left > 0 {
                    io.inputs[0].consume(left);
                    io.emit("partial_frame", serde_json::json!({"bits": left}));
                }
                return Ok(Status::Done);
            }
        }
        Ok(Status::Ok)
    }
}

struct DeframerBlock {
    parser: Parser,
    position: u32,
    misplaced: u64,
}

impl Block for DeframerBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        while io.inputs[0].available() >= RECORD && io.outputs[0].space() > 0 {
            let mut f = MappingFrame::from_record(&io.inputs[0].items::<i16>()[..RECORD]);
            io.inputs[0].consume(RECORD);
            // The frame's place decides its size; a record claiming another
            // place than the one due is taken at the place due (and counted).
            if u32::from(f.position) != self.position {
                self.misplaced += 1;
                f.position = self.position as u16;
            }
            self.parser.unparse(&f, io.outputs[0].items::<u8>());
            self.position = self.parser.next(self.position);
        }
        if io.inputs[0].is_eos() && io.inputs[0].available() < RECORD {
            let left = io.inputs[0].available();
            if left > 0 || self.misplaced > 0 {
                io.inputs[0].consume(left);
                io.emit(
                    "bad_records",
                    serde_json::json!({"misplaced": self.misplaced, "partial_values": left}),
                );
            }
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make_framer(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(FramerBlock {
        parser: Parser::new(&mode_arg(args)?),
        position: 0,
    }))
}

fn make_deframer(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(DeframerBlock {
        parser: Parser::new(&mode_arg(args)?),
        position: 0,
        misplaced: 0,
    }))
}

pub fn framer_spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "v34_framer",
        "Coding",
        "V.34 framer: scrambled bits to mapping frames (high and low by the switching pattern)",
        make_framer,
    ))
    .doc(
        "V.34 §8 and §9.3. Data frames carry N = R·0.28/J bits; each of their P mapping \
         frames carries b = ⌈N/P⌉ bits (high) or b − 1 (low), r = N − (b − 1)·P of them \
         high, chosen by the switching-pattern counter (V.34 Table 8). Each frame is \
         parsed into R₀ (K shell bits, K − 1 in a low frame, S₁ first in time and the \
         LSB), then I1, I2, I3 and the q bits of each 2D symbol, for each 4D symbol in \
         turn; with b ≤ 12 there are no shell or Q bits and the first n − 8 4D symbols \
         of an n-bit frame carry I3. The record also carries the frame's place in the \
         superframe (J·P mapping frames, 280 ms). The stream starts at a superframe; \
         the auxiliary channel is not carried. Bits left over at the end, fewer than \
         a frame, are reported as `partial_frame`.",
    )
    .input(PortSpec::new("in", ItemType::Bit, "scrambled data bits").rate(Rate::Varies))
    .output(
        PortSpec::new(
            "out",
            ItemType::I16,
            "mapping frame records, 24 values each",
        )
        .rate(Rate::Varies),
    )
    .event(EventSpec::new(
        "partial_frame",
        "at the end, when the bits left are fewer than one mapping frame",
        &[("bits", "how many were left")],
    ))
}

pub fn deframer_spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "v34_deframer",
        "Coding",
        "V.34 deframer: mapping frames back to data bits",
        make_deframer,
    ))
    .doc(
        "The inverse of `v34_framer`: each mapping frame record gives back its b or b − 1 \
         bits in the order they were sent. The frame's size follows from its place in \
         the superframe, counted from the first record; a record that claims another \
         place is counted and reported as `bad_records` at the end.",
    )
    .input(
        PortSpec::new(
            "in",
            ItemType::I16,
            "mapping frame records (shell_demapper)",
        )
        .rate(Rate::Varies),
    )
    .output(PortSpec::new("out", ItemType::Bit, "data bits").rate(Rate::Varies))
    .event(EventSpec::new(
        "bad_records",
        "at the end, when records were out of place or the last one was cut short",
        &[
            ("misplaced", "records whose place was not the one due"),
            ("partial_values", "values of a record cut short at the end"),
        ],
    ))
}

pub fn register(r: &mut Registry) {
    r.register(framer_spec());
    r.register(deframer_spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make, run};
    use modemflow_flow::Value;
    use proptest::prelude::*;

    fn params(rate: u32, s: u32) -> Vec<(&'static str, Value)> {
        vec![
            ("rate", Value::from(rate as i64)),
            ("symbol_rate", Value::from(s as i64)),
        ]
    }

    #[test]
    fn parse_places_the_bits_as_section_9_3_says() {
        // 33 600 at 3429: b = 79, K = 27, q = 5; N = 1176, so r = 6 of the 15
        // mapping frames are high.
        let mode = Mode::new(33600, 3429, false).unwrap();
        let p = Parser::new(&mode);
        let (high, n) = p.frame_bits(0);
        assert_eq!(mode.framing.r, 6);
        assert_eq!(
            (high, n),
            (mode.framing.is_high(0), if high { 79 } else { 78 })
        );
        // A frame whose only 1 is bit t lands in exactly one field.
        for pos in [0u32, 1] {
            let (high, n) = p.frame_bits(pos);
            let kk = if high { 27 } else { 26 };
            for t in 0..n {
                let mut bits = vec![0u8; n];
                bits[t] = 1;
                let f = p.parse(pos, &bits);
                if t < kk {
                    assert_eq!(f.r0, 1 << t);
                } else {
                    let u = t - kk;
                    let (j, w) = (u / 13, u % 13);
                    if w < 3 {
                        assert_eq!(f.i_bits[j], 1 << w);
                    } else if w < 8 {
                        assert_eq!(f.q[2 * j], 1 << (w - 3));
                    } else {
                        assert_eq!(f.q[2 * j + 1], 1 << (w - 8));
                    }
                }
                let mut back = Vec::new();
                p.unparse(&f, &mut back);
                assert_eq!(back, bits);
            }
        }
    }

    #[test]
    fn small_frames_carry_i3_in_the_first_symbols() {
        // 4800 at 3429: b = 12, r = 3: high frames 12 bits, low ones 11.
        let mode = Mode::new(4800, 3429, false).unwrap();
        assert_eq!((mode.framing.b, mode.framing.r), (12, 3));
        let p = Parser::new(&mode);
        let low = (0..15).find(|&i| !mode.framing.is_high(i)).unwrap();
        let bits = vec![1u8; 11];
        let f = p.parse(low, &bits);
        assert_eq!(f.i_bits, [7, 7, 7, 3]);
        assert_eq!(f.r0, 0);
        // 2400 at 2400: b = 8, every frame high, no I3 at all.
        let p = Parser::new(&Mode::new(2400, 2400, false).unwrap());
        assert_eq!(p.parse(0, &[1u8; 8]).i_bits, [3, 3, 3, 3]);
    }

    #[test]
    fn framer_then_deframer_is_the_identity_through_the_blocks() {
        for (rate, s) in [
            (33600, 3429),
            (4800, 3429),
            (2400, 2400),
            (19200, 3000),
            (26400, 2743),
        ] {
            let mode = Mode::new(rate, s, false).unwrap();
            let superframe_bits = (mode.framing.n * mode.symbol_rate.j) as usize;
            let n = 2 * superframe_bits + 5;
            let bits: Vec<u8> = (0..n).map(|i| ((i * 7919) >> 3 & 1) as u8).collect();
            let mut fr = make(&framer_spec(), &params(rate, s)).unwrap();
            let r = run(
                &mut *fr,
                Some(ItemType::Bit),
                &chunked(&bits, &[1, 13, 700, 4096]),
                &[ItemType::I16],
                77,
                0,
            )
            .unwrap();
            let recs: Vec<i16> = items(&r.outputs[0]);
            assert_eq!(
                recs.len(),
                2 * (mode.symbol_rate.j * mode.symbol_rate.p) as usize * RECORD
            );
            assert_eq!(r.events.len(), 1, "the 5 bits left are reported");
            let mut de = make(&deframer_spec(), &params(rate, s)).unwrap();
            let r = run(
                &mut *de,
                Some(ItemType::I16),
                &chunked(&recs, &[24, 5, 1000]),
                &[ItemType::Bit],
                50,
                0,
            )
            .unwrap();
            let back: Vec<u8> = items(&r.outputs[0]);
            assert_eq!(back, bits[..2 * superframe_bits], "{rate} at {s}");
            assert!(r.events.is_empty());
        }
    }

    proptest! {
        #[test]
        fn unparse_of_parse_is_the_identity(
            row in 0usize..65, pos in 0u32..120, seed in any::<u64>(), expanded in any::<bool>()
        ) {
            let (rate, s) = crate::v34::rates::SYMBOL_RATES
                .iter()
                .flat_map(|s| s.rates().map(move |r| (r, s.name)))
                .nth(row)
                .unwrap();
            let mode = Mode::new(rate, s, expanded).unwrap();
            let p = Parser::new(&mode);
            let pos = pos % mode.symbol_rate.mapping_frames_per_superframe();
            let (_, n) = p.frame_bits(pos);
            let bits: Vec<u8> = (0..n).map(|i| ((seed >> (i % 64)) ^ (i as u64 / 64)) as u8 & 1).collect();
            let f = p.parse(pos, &bits);
            prop_assert!(f.r0 < 1 << mode.mapping.k.max(1));
            let mut back = Vec::new();
            p.unparse(&f, &mut back);
            prop_assert_eq!(back, bits);
        }
    }
}
