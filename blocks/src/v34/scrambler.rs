//! V.34 §7 self-synchronising scrambler and descrambler (`scrambler`, `descrambler`).
//!
//! Bits are one per byte. The recurrences are evaluated 16 bits at a time:
//! every feedback tap reaches back at least 16 bits, so a run of 16 outputs
//! depends only on bits that are already known, and each step is a few byte-vector
//! XORs over contiguous slices that LLVM turns into SIMD.

use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};

/// The scrambler polynomials of V.34 §7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polynomial {
    /// V.34 §7: GPC = 1 + x^-18 + x^-23 (call-mode modem transmitter).
    Gpc,
    /// V.34 §7: GPA = 1 + x^-5 + x^-23 (answer-mode modem transmitter).
    Gpa,
}

impl Polynomial {
    /// The middle tap a of 1 + x^-a + x^-23.
    pub fn tap(self) -> usize {
        match self {
            Polynomial::Gpc => 18, // V.34 §7: GPC = 1 + x^-18 + x^-23
            Polynomial::Gpa => 5,  // V.34 §7: GPA = 1 + x^-5 + x^-23
        }
    }

    pub fn parse(s: &str) -> Option<Polynomial> {
        match s {
            "gpc" => Some(Polynomial::Gpc),
            "gpa" => Some(Polynomial::Gpa),
            _ => None,
        }
    }
}

/// V.34 §7: both polynomials end in x^-23.
pub const LENGTH: usize = 23;

/// Bits evaluated together; no tap may reach back less than this.
const LANES: usize = 16;
/// Largest slice processed in one pass, to bound the working buffers.
const BLOCK: usize = 4096;

/// A linear recurrence over GF(2) on one-bit-per-byte streams:
/// `y[n] = x[n] ^ XOR_k x[n-ff_k] ^ XOR_k y[n-fb_k]` (feedback taps at
/// least [`LANES`] back), with history kept
/// across calls in front of contiguous working buffers.
#[derive(Clone, Debug)]
struct Recurrence {
    ff: &'static [usize],
    fb: &'static [usize],
    /// Input history then the current block; history length `ff_len`.
    x: Vec<u8>,
    /// Output history then the current block; history length `fb_len`.
    y: Vec<u8>,
    ff_len: usize,
    fb_len: usize,
}

impl Recurrence {
    fn new(ff: &'static [usize], fb: &'static [usize]) -> Self {
        let ff_len = ff.iter().copied().max().unwrap_or(0);
        let fb_len = fb.iter().copied().max().unwrap_or(0);
        debug_assert!(fb.iter().all(|&t| t >= LANES));
        Recurrence {
            ff,
            fb,
            x: vec![0; ff_len + BLOCK],
            y: vec![0; fb_len + BLOCK],
            ff_len,
            fb_len,
        }
    }

    fn process(&mut self, input: &[u8], output: &mut [u8]) {
        assert_eq!(
            input.len(),
            output.len(),
            "scrambler: slices differ in length"
        );
        for (inp, out) in input.chunks(BLOCK).zip(output.chunks_mut(BLOCK)) {
            self.block(inp, out);
        }
    }

    fn block(&mut self, input: &[u8], output: &mut [u8]) {
        let n = input.len();
        let (hx, hy) = (self.ff_len, self.fb_len);
        for (d, s) in self.x[hx..hx + n].iter_mut().zip(input) {
            *d = s & 1;
        }
        let padded = n.next_multiple_of(LANES);
        self.x[hx + n..hx + padded].fill(0);
        let mut i = 0;
        while i < padded {
            let mut acc = [0u8; LANES];
            acc.copy_from_slice(&self.x[hx + i..hx + i + LANES]);
            for &t in self.ff {
                let src = &self.x[hx + i - t..hx + i - t + LANES];
                for (a, s) in acc.iter_mut().zip(src) {
                    *a ^= s;
                }
            }
            for &t in self.fb {
                let src = &self.y[hy + i - t..hy + i - t + LANES];
                for (a, s) in acc.iter_mut().zip(src) {
                    *a ^= s;
                }
            }
            self.y[hy + i..hy + i + LANES].copy_from_slice(&acc);
            i += LANES;
        }
        output.copy_from_slice(&self.y[hy..hy + n]);
        self.x.copy_within(n..n + hx, 0);
        self.y.copy_within(n..n + hy, 0);
    }
}

/// Feedback taps of GPC applied directly: out[n] = in[n] ^ out[n-18] ^ out[n-23].
const GPC_FB: [usize; 2] = [18, 23];
/// GPA's tap 5 is closer than 16 bits, so the scrambler runs the recurrence of
/// GPA^4 = 1 + x^-20 + x^-92 instead: out·GPA = in implies
/// out·GPA^4 = in·GPA^3, with GPA^3 = 1 + x^-5 + x^-10 + x^-15 + x^-23 +
/// x^-33 + x^-46 + x^-51 + x^-69 (over GF(2)). This gives the same bits as
/// long as the history satisfies out·GPA = in, which it does from a zero
/// register and from [`Scrambler::with_register`].
const GPA4_FB: [usize; 2] = [20, 92];
const GPA3_FF: [usize; 8] = [5, 10, 15, 23, 33, 46, 51, 69];
/// The descramblers are feedforward, so any tap distance vectorises:
/// in[n] = out[n] ^ out[n-a] ^ out[n-23] (V.34 §7).
const GPC_FF: [usize; 2] = [18, 23];
const GPA_FF: [usize; 2] = [5, 23];

/// The V.34 §7 scrambler: `out(n) = in(n) ⊕ out(n−a) ⊕ out(n−23)`.
#[derive(Clone, Debug)]
pub struct Scrambler {
    rec: Recurrence,
}

impl Scrambler {
    /// A scrambler with its register at zero.
    pub fn new(poly: Polynomial) -> Self {
        Scrambler {
            rec: match poly {
                Polynomial::Gpc => Recurrence::new(&[], &GPC_FB),
                Polynomial::Gpa => Recurrence::new(&GPA3_FF, &GPA4_FB),
            },
        }
    }

    /// A scrambler whose register holds `reg`: bit i is the output 1 + i bits
    /// before the first new one (bit 0 = most recent).
    pub fn with_register(poly: Polynomial, reg: u32) -> Self {
        let mut s = Scrambler::new(poly);
        // Past outputs, most recent first; extended further back (for the
        // GPA^4 form) with the outputs that zero inputs would have needed:
        // out[n-23] = out[n] ^ out[n-a] when in[n] = 0.
        let depth = s.rec.fb_len;
        let mut past: Vec<u8> = (0..LENGTH).map(|i| ((reg >> i) & 1) as u8).collect();
        let a = poly.tap();
        let mut k = 0;
        while past.len() < depth {
            // past[k] is out[-1-k]; out[-1-k-23] = out[-1-k] ^ out[-1-k-a].
            let v = past[k] ^ past[k + a];
            past.push(v);
            k += 1;
        }
        let hy = s.rec.fb_len;
        for (i, &b) in past.iter().take(depth).enumerate() {
            s.rec.y[hy - 1 - i] = b;
        }
        s
    }

    /// Scrambles `input` (one bit per byte, only bit 0 used) into `output`,
    /// which must be as long.
    pub fn process(&mut self, input: &[u8], output: &mut [u8]) {
        self.rec.process(input, output);
    }
}

/// The V.34 §7 descrambler: `d(n) = r(n) ⊕ r(n−a) ⊕ r(n−23)`.
#[derive(Clone, Debug)]
pub struct Descrambler {
    rec: Recurrence,
}

impl Descrambler {
    /// A descrambler with its register at zero.
    pub fn new(poly: Polynomial) -> Self {
        Descrambler {
            rec: match poly {
                Polynomial::Gpc => Recurrence::new(&GPC_FF, &[]),
                Polynomial::Gpa => Recurrence::new(&GPA_FF, &[]),
            },
        }
    }

    /// Descrambles `input` into `output`, which must be as long.
    pub fn process(&mut self, input: &[u8], output: &mut [u8]) {
        self.rec.process(input, output);
    }
}

/// Which direction a block runs.
enum Kernel {
    Scramble(Scrambler),
    Descramble(Descrambler),
}

struct ScramblerBlock {
    kernel: Kernel,
}

impl Block for ScramblerBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<u8, u8>(|input, out| match &mut self.kernel {
            Kernel::Scramble(s) => s.process(input, out),
            Kernel::Descramble(d) => d.process(input, out),
        });
        Ok(Status::Ok)
    }
}

pub fn polynomial(args: &BlockArgs) -> Result<Polynomial, String> {
    let p = args.string("polynomial")?;
    Polynomial::parse(&p).ok_or_else(|| format!("`polynomial` must be gpc or gpa, got `{p}`"))
}

fn make_scrambler(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(ScramblerBlock {
        kernel: Kernel::Scramble(Scrambler::new(polynomial(args)?)),
    }))
}

fn make_descrambler(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(ScramblerBlock {
        kernel: Kernel::Descramble(Descrambler::new(polynomial(args)?)),
    }))
}

pub fn poly_param() -> ParamSpec {
    ParamSpec::choice(
        "polynomial",
        &["gpc", "gpa"],
        "gpc = 1 + x^-18 + x^-23 (call-mode transmitter; V.90 digital modem), \
         gpa = 1 + x^-5 + x^-23 (answer-mode transmitter; V.90 analogue modem)",
    )
    .default("gpc")
}

pub fn spec_scrambler() -> BlockSpec {
    BlockSpec::new(
        "scrambler",
        "Coding",
        "V.34 self-synchronising scrambler",
        make_scrambler,
    )
    .doc(
        "V.34 §7 scrambler: out(n) = in(n) ⊕ out(n−a) ⊕ out(n−23), a = 18 for GPC \
         and 5 for GPA. The register starts at zero.",
    )
    .param(poly_param())
    .input(PortSpec::new("in", ItemType::Bit, "data bits"))
    .output(PortSpec::new("out", ItemType::Bit, "scrambled bits"))
}

pub fn spec_descrambler() -> BlockSpec {
    BlockSpec::new(
        "descrambler",
        "Coding",
        "V.34 self-synchronising descrambler",
        make_descrambler,
    )
    .doc(
        "V.34 §7 descrambler: d(n) = r(n) ⊕ r(n−a) ⊕ r(n−23) on the received bits, \
         a = 18 for GPC and 5 for GPA. It synchronises by itself after 23 bits; each \
         channel bit error becomes three output errors.",
    )
    .param(poly_param())
    .input(PortSpec::new(
        "in",
        ItemType::Bit,
        "received scrambled bits",
    ))
    .output(PortSpec::new("out", ItemType::Bit, "data bits"))
}

pub fn register(r: &mut Registry) {
    r.register(spec_scrambler());
    r.register(spec_descrambler());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make as build, run};
    use modemflow_flow::Value;
    use proptest::prelude::*;

    fn bits(s: &str) -> Vec<u8> {
        s.bytes().map(|c| c - b'0').collect()
    }

    fn scramble(poly: Polynomial, input: &[u8]) -> Vec<u8> {
        let mut out = vec![0; input.len()];
        Scrambler::new(poly).process(input, &mut out);
        out
    }

    /// The recurrence exactly as V.34 §7 writes it, one bit at a time.
    fn reference(poly: Polynomial, reg: u32, input: &[u8]) -> Vec<u8> {
        let a = poly.tap() as u32;
        let mut r = reg;
        input
            .iter()
            .map(|&b| {
                let o = (b ^ (r >> (a - 1)) as u8 ^ (r >> 22) as u8) & 1;
                r = ((r << 1) | u32::from(o)) & 0x7F_FFFF;
                o
            })
            .collect()
    }

    #[test]
    fn reference_vectors_from_all_ones() {
        // modem-standards.md §4.2: register at zero, input all ones.
        let ones = [1u8; 64];
        assert_eq!(
            scramble(Polynomial::Gpc, &ones),
            bits("1111111111111111110000011111111111110000000000111111110000011111")
        );
        assert_eq!(
            scramble(Polynomial::Gpa, &ones),
            bits("1111100000111110000011100111110001100000111001000010011000001110")
        );
    }

    #[test]
    fn gpc_matches_spandsp() {
        let p = format!(
            "{}/tests/data/scrambler_gpc.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let reg = u32::from_str_radix(v["initial_state"]["reg_hex"].as_str().unwrap(), 16).unwrap();
        let input = bits(v["in_bits"].as_str().unwrap());
        let want = bits(v["out_bits"].as_str().unwrap());
        assert_eq!(input.len(), 3000);
        let mut s = Scrambler::with_register(Polynomial::Gpc, reg);
        let mut got = vec![0; input.len()];
        for (i, o) in input.chunks(77).zip(got.chunks_mut(77)) {
            s.process(i, o);
        }
        assert_eq!(got, want);
        let mut back = vec![0; want.len()];
        Descrambler::new(Polynomial::Gpc).process(&want, &mut back);
        assert_eq!(back[LENGTH..], input[LENGTH..]);
    }

    #[test]
    fn a_channel_error_makes_three_errors() {
        for poly in [Polynomial::Gpc, Polynomial::Gpa] {
            let data: Vec<u8> = (0..500u32).map(|i| ((i * 7919) >> 3 & 1) as u8).collect();
            let mut line = scramble(poly, &data);
            line[200] ^= 1;
            let mut back = vec![0; line.len()];
            Descrambler::new(poly).process(&line, &mut back);
            let diff: Vec<usize> = (0..data.len()).filter(|&i| back[i] != data[i]).collect();
            assert_eq!(diff, vec![200, 200 + poly.tap(), 223]);
        }
    }

    #[test]
    fn blocks_round_trip() {
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 31) as u8)
            .collect();
        for poly in ["gpc", "gpa"] {
            let p = [("polynomial", Value::from(poly))];
            let mut s = build(&spec_scrambler(), &p).unwrap();
            let line = run(
                &mut *s,
                Some(ItemType::Bit),
                &chunked(&data, &[1, 300, 17]),
                &[ItemType::Bit],
                64,
                0,
            )
            .unwrap();
            let mut d = build(&spec_descrambler(), &p).unwrap();
            let back = run(
                &mut *d,
                Some(ItemType::Bit),
                &line.outputs,
                &[ItemType::Bit],
                1000,
                0,
            )
            .unwrap();
            assert_eq!(items::<u8>(&back.outputs[0]), data);
        }
    }

    proptest! {
        #[test]
        fn matches_the_bitwise_recurrence_and_inverts(
            gpa in any::<bool>(),
            reg in 0u32..0x80_0000,
            data in prop::collection::vec(0u8..2, 0..3000),
            sizes in prop::collection::vec(1usize..5000, 1..5),
        ) {
            let poly = if gpa { Polynomial::Gpa } else { Polynomial::Gpc };
            let mut s = Scrambler::with_register(poly, reg);
            let mut line = vec![0; data.len()];
            let mut at = 0;
            for (k, &n) in sizes.iter().cycle().enumerate() {
                if at == data.len() || k > 10_000 { break; }
                let end = (at + n).min(data.len());
                s.process(&data[at..end], &mut line[at..end]);
                at = end;
            }
            prop_assert_eq!(&line, &reference(poly, reg, &data));
            let mut d = Descrambler::new(poly);
            let mut back = vec![0; data.len()];
            let mut at = 0;
            for &n in sizes.iter().cycle() {
                if at == data.len() { break; }
                let end = (at + n).min(data.len());
                d.process(&line[at..end], &mut back[at..end]);
                at = end;
            }
            if reg == 0 {
                prop_assert_eq!(back, data);
            } else {
                prop_assert_eq!(&back[LENGTH.min(data.len())..], &data[LENGTH.min(data.len())..]);
            }
        }
    }
}
