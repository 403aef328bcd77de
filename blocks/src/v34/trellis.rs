//! The V.34 4D trellis code (§9.6.3; modem-standards.md §4.10) and the
//! encoder loop of Table 11 (`trellis_encoder`).
//!
//! Each channel point y has a subset label s = (s2 s1 s0) (Figure 9); a pair
//! of labels, one per 2D symbol of a 4D symbol, gives Y4 Y3 Y2 Y1 (Table
//! 13), which drive a 16-, 32- or 64-state systematic convolutional encoder
//! (Figures 10–12) whose output Y₀(m) is its first delay cell. The bit
//! U₀(m) = Y₀(m) ⊕ C₀(m) ⊕ V₀(m) turns the second point of the 4D symbol by
//! 90°: C₀ undoes what the precoder's c(n) did to the labels, V₀ carries the
//! superframe synchronisation pattern of Table 12.

use super::constellation::{rotate_cw, Point};
use super::mapper::{from_c32, to_c32};
use super::params::{mode_arg, mode_params};
use super::precoder::{h_arg, h_param, h_port, take_coefficients, Coefficients, Precoder};
use super::rates::Mode;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
use num_complex::Complex32;

/// Which convolutional code (V.34 §9.6.3; MP bits 29:30), or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// No trellis code: U₀ = 0 and the receiver slices each point (not a
    /// V.34 mode; for measuring what the code gains).
    None,
    /// Figure 10: 16 states, from Y1 and Y2.
    States16,
    /// Figure 11: 32 states, from Y1, Y2 and Y4.
    States32,
    /// Figure 12: 64 states, from Y1 … Y4.
    States64,
}

impl Code {
    pub fn from_states(states: i64) -> Option<Code> {
        match states {
            0 => Some(Code::None),
            16 => Some(Code::States16),
            32 => Some(Code::States32),
            64 => Some(Code::States64),
            _ => None,
        }
    }

    pub fn states(self) -> usize {
        match self {
            Code::None => 1,
            Code::States16 => 16,
            Code::States32 => 32,
            Code::States64 => 64,
        }
    }
}

/// V.34 Figure 9: the subset label of an odd-integer point. With a = x ⊕ y
/// (two's complement), s0 = bit 1 of a, s1 = bit 1 of x, s2 = bit 2 of a ⊕ s0.
#[inline]
pub const fn subset((x, y): Point) -> u8 {
    let a = x ^ y;
    let s0 = (a >> 1) & 1;
    let s1 = (x >> 1) & 1;
    let s2 = ((a >> 2) & 1) ^ s0;
    (s0 | s1 << 1 | s2 << 2) as u8
}

/// V.34 Table 13: Y4 Y3 Y2 Y1 (as a number) from s(2m) (row) and s(2m+1).
pub const TABLE_13: [[u8; 8]; 8] = [
    [0, 0, 1, 1, 8, 8, 9, 9],
    [3, 2, 2, 3, 11, 10, 10, 11],
    [5, 5, 4, 4, 13, 13, 12, 12],
    [6, 7, 7, 6, 14, 15, 15, 14],
    [8, 8, 9, 9, 0, 0, 1, 1],
    [11, 10, 10, 11, 3, 2, 2, 3],
    [13, 13, 12, 12, 5, 5, 4, 4],
    [14, 15, 15, 14, 6, 7, 7, 6],
];

/// V.34 Table 12, superframe synchronisation: the bit of each half data
/// frame, first on the left. J = 8 (2743 and 3429 baud): period 16.
pub const SYNC_J8: [u8; 16] = [0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0];
/// V.34 Table 12, J = 7: period 14.
pub const SYNC_J7: [u8; 14] = [0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0];

/// V₀(m) of V.34 §9.6.3 for 4D symbol m counted from the start of a
/// superframe with J data frames of P mapping frames: the Table 12 bit at
/// the first 4D symbol of each half data frame (m a multiple of 2P), else 0.
#[inline]
pub fn v0(m: u64, j: u32, p: u32) -> u8 {
    let half = 2 * u64::from(p);
    if !m.is_multiple_of(half) {
        return 0;
    }
    let h = (m / half) as usize;
    if j == 8 {
        SYNC_J8[h % 16]
    } else {
        SYNC_J7[h % 14]
    }
}

/// V₀ of each 4D symbol in turn, as [`v0`] gives it for m = 0, 1, 2, …,
/// from counters (no division per symbol).
#[derive(Clone, Copy, Debug)]
pub struct SyncCounter {
    /// 4D symbols since the start of the half data frame, and 2P.
    within: u32,
    half: u32,
    /// Half data frames since the superframe's start, and Table 12's period.
    index: usize,
    pattern: &'static [u8],
}

impl SyncCounter {
    pub fn new(j: u32, p: u32) -> SyncCounter {
        SyncCounter {
            within: 0,
            half: (2 * p).max(1),
            index: 0,
            pattern: if j == 8 { &SYNC_J8 } else { &SYNC_J7 },
        }
    }

    /// V₀ of this 4D symbol; the counters move on to the next.
    #[inline]
    pub fn next_v0(&mut self) -> u8 {
        let v = if self.within == 0 {
            self.pattern[self.index]
        } else {
            0
        };
        self.within += 1;
        if self.within == self.half {
            self.within = 0;
            self.index += 1;
            if self.index == self.pattern.len() {
                self.index = 0;
            }
        }
        v
    }
}

/// The next state of the convolutional encoder from state t (t₁ = bit 0 …)
/// and y = Y4 Y3 Y2 Y1 (V.34 Figures 10–12).
#[inline]
pub fn next_state(code: Code, t: u8, y: u8) -> u8 {
    let b = |v: u8, k: u32| (v >> k) & 1;
    let (y1, y2, y3, y4) = (b(y, 0), b(y, 1), b(y, 2), b(y, 3));
    let (t1, t2, t3, t4, t5, t6) = (b(t, 0), b(t, 1), b(t, 2), b(t, 3), b(t, 4), b(t, 5));
    match code {
        Code::None => 0,
        Code::States16 => {
            let n1 = t2 ^ y1;
            let n2 = t3 ^ y2;
            let n3 = t4 ^ t1 ^ y2;
            let n4 = t1;
            n1 | n2 << 1 | n3 << 2 | n4 << 3
        }
        Code::States32 => {
            let n1 = t2 ^ y2;
            let n2 = t3 ^ y4;
            let n3 = t4 ^ y1;
            let n4 = t5 ^ y2;
            let n5 = t1;
            n1 | n2 << 1 | n3 << 2 | n4 << 3 | n5 << 4
        }
        Code::States64 => {
            let n1 = t2 ^ t4 ^ y2;
            let n2 = t1;
            let n3 = t4;
            let n4 = t4 ^ t5 ^ y1;
            let n5 = t6 ^ t5 ^ t3 ^ y3 ^ (y2 & t4);
            let n6 = t6 ^ t5 ^ ((t5 ^ y1) & t4) ^ y4;
            n1 | n2 << 1 | n3 << 2 | n4 << 3 | n5 << 4 | n6 << 5
        }
    }
}

/// The encoder loop of V.34 Table 11 for one mode: precoder, C₀, V₀, U₀
/// and the convolutional code, one 4D symbol at a time.
#[derive(Clone, Debug)]
pub struct TrellisEncoder {
    code: Code,
    state: u8,
    pre: Precoder,
    /// V₀ of the superframe's 4D symbols.
    sync: SyncCounter,
}

/// V.34 §9.6.3: C₀ compares the parities of (c_re + c_im)/2 of the two points.
#[inline]
fn c_parity(c: Point) -> u32 {
    (((c.0 + c.1) / 2) & 1) as u32
}

impl TrellisEncoder {
    pub fn new(mode: &Mode, code: Code, h: Coefficients) -> TrellisEncoder {
        TrellisEncoder {
            code,
            state: 0,
            pre: Precoder::new(h, mode.framing.b),
            sync: SyncCounter::new(mode.symbol_rate.j, mode.symbol_rate.p),
        }
    }

    pub fn precoder_mut(&mut self) -> &mut Precoder {
        &mut self.pre
    }

    pub fn state(&self) -> u8 {
        self.state
    }

    /// One 4D symbol in Table 11's order: u(2m) and u(2m+1) before U₀ in,
    /// the channel points y(2m), y(2m+1) out.
    pub fn encode(&mut self, u0: Point, u1: Point) -> (Point, Point) {
        // Steps 1–2: y(2m) = u(2m) + c(2m), x(2m).
        let (p0, c0) = self.pre.predict();
        let y0 = (u0.0 + c0.0, u0.1 + c0.1);
        self.pre.push(y0, p0);
        // Step 3: c(2m+1), p(2m+1).
        let (p1, c1) = self.pre.predict();
        // Steps 4–6: C₀, U₀ = Y₀ ⊕ C₀ ⊕ V₀, the last turn of u(2m+1).
        let v_0 = u32::from(self.sync.next_v0());
        let u_turn = if self.code == Code::None {
            0
        } else {
            let c_0 = c_parity(c0) ^ c_parity(c1);
            let y_0 = u32::from(self.state & 1);
            y_0 ^ c_0 ^ v_0
        };
        let u1 = rotate_cw(u1, u_turn);
        // Step 7: y(2m+1), x(2m+1).
        let y1 = (u1.0 + c1.0, u1.1 + c1.1);
        self.pre.push(y1, p1);
        // Step 9: Y₀(m+1) from the labels of y(2m), y(2m+1).
        let y = TABLE_13[usize::from(subset(y0))][usize::from(subset(y1))];
        self.state = next_state(self.code, self.state, y);
        (y0, y1)
    }
}

/// The `trellis` parameter: 0 (none), 16, 32 or 64 states.
pub fn code_param() -> ParamSpec {
    ParamSpec::int(
        "trellis",
        "trellis code states: 16, 32 or 64 (V.34 §9.6.3; MP bits 29:30), or 0 for none (uncoded, to measure the code's gain)",
    )
    .default(16)
    .allowed(&[0, 16, 32, 64])
}

pub fn code_arg(args: &BlockArgs) -> Result<Code, String> {
    let s = args.int("trellis")?;
    Code::from_states(s).ok_or_else(|| format!("`trellis` = {s}: use 0, 16, 32 or 64"))
}

struct EncoderBlock {
    enc: TrellisEncoder,
    have_h: bool,
    /// The coefficients last passed on at `h` (for the `precoder` after it).
    sent: Option<Coefficients>,
}

impl Block for EncoderBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        if !take_coefficients(io, 1, &mut self.have_h, self.enc.precoder_mut()) {
            return Ok(Status::Ok);
        }
        let h = self.enc.precoder_mut().coefficients();
        if self.sent != Some(h) {
            self.sent = Some(h);
            io.outputs[1]
                .items::<f32>()
                .extend(h.to_f64().iter().map(|&v| v as f32));
        }
        let pairs = (io.inputs[0].available() / 2).min(io.outputs[0].space().div_ceil(2));
        let input = &io.inputs[0].items::<Complex32>()[..2 * pairs];
        let out = io.outputs[0].append::<Complex32>(2 * pairs);
        for (i, o) in input.chunks_exact(2).zip(out.chunks_exact_mut(2)) {
            let (y0, y1) = self.enc.encode(from_c32(i[0]), from_c32(i[1]));
            o[0] = to_c32(y0);
            o[1] = to_c32(y1);
        }
        io.inputs[0].consume(2 * pairs);
        if io.inputs[0].is_eos() && io.inputs[0].available() < 2 {
            let left = io.inputs[0].available();
            if left > 0 {
                io.inputs[0].consume(left);
                io.emit("partial_symbol", serde_json::json!({"points": left}));
            }
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let mode = mode_arg(args)?;
    Ok(Box::new(EncoderBlock {
        enc: TrellisEncoder::new(&mode, code_arg(args)?, h_arg(args)?),
        have_h: false,
        sent: None,
    }))
}

pub fn spec() -> BlockSpec {
    mode_params(BlockSpec::new(
        "trellis_encoder",
        "Coding",
        "V.34 4D trellis encoder (16, 32 or 64 states) with the precoder loop of Table 11",
        make,
    ))
    .doc(
        "V.34 §9.6.3 in the order of Table 11. For each 4D symbol m: y(2m) = u(2m) + c(2m); \
         C₀(m) compares the parities of (c_re + c_im)/2 of c(2m) and c(2m+1); \
         U₀(m) = Y₀(m) ⊕ C₀(m) ⊕ V₀(m) turns u(2m+1) a further 90° clockwise; \
         y(2m+1) = u(2m+1) + c(2m+1); the subset labels of y(2m), y(2m+1) (Figure 9) \
         give Y4…Y1 (Table 13), which move the convolutional encoder (Figures 10–12) to \
         the state whose first cell is Y₀(m+1). V₀ is the Table 12 superframe \
         synchronisation bit at the first 4D symbol of each half data frame (the \
         stream starts at a superframe). c(n) comes from the precoder's filter \
         (§9.6.2), which this block runs with the same `h` as `precoder`; with h = 0, \
         c = 0 and y = u; the coefficients in use (from `h`, or from the `h` input \
         when it is connected) go out on the `h` output for the `precoder` after this \
         block. `trellis: 0` codes nothing (U₀ = 0), to measure the code's gain.",
    )
    .param(code_param())
    .param(h_param())
    .input(PortSpec::new("in", ItemType::C32, "points u(n) from v34_mapper (odd ones before U₀)"))
    .input(h_port())
    .output(PortSpec::new("out", ItemType::C32, "channel points y(n)"))
    .output(
        PortSpec::new("h", ItemType::F32, "the coefficients in use, six values, when they are first known and whenever they change")
            .rate(modemflow_flow::Rate::Varies)
            .optional(),
    )
    .event(modemflow_flow::EventSpec::new(
        "partial_symbol",
        "at the end, when one point of a 4D symbol was left",
        &[("points", "how many")],
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_9_labels() {
        // modem-standards.md §4.10, columns x = −3, −1, 1, 3.
        let rows = [
            (3, [0b001, 0b110, 0b101, 0b010]),
            (1, [0b100, 0b011, 0b000, 0b111]),
            (-1, [0b101, 0b010, 0b001, 0b110]),
            (-3, [0b000, 0b111, 0b100, 0b011]),
        ];
        for (y, labels) in rows {
            for (x, want) in [-3, -1, 1, 3].into_iter().zip(labels) {
                assert_eq!(subset((x, y)), want, "({x}, {y})");
                // Periods (8, 0), (0, 8) and (4, 4).
                for (dx, dy) in [(8, 0), (0, 8), (4, 4), (-4, 4), (-16, 24)] {
                    assert_eq!(subset((x + dx, y + dy)), want);
                }
            }
        }
    }

    #[test]
    fn table_13_matches_its_boolean_form() {
        // modem-standards.md §4.10: Y4 = s0₂⊕s1₂, Y3 = s0₁, Y2 = s0₀,
        // Y1 = (s0₀ ∧ ¬s1₀) ⊕ s0₁ ⊕ s1₁.
        for a in 0..8u8 {
            for b in 0..8u8 {
                let bit = |v: u8, k: u8| (v >> k) & 1;
                let y4 = bit(a, 2) ^ bit(b, 2);
                let y3 = bit(a, 1);
                let y2 = bit(a, 0);
                let y1 = (bit(a, 0) & (1 - bit(b, 0))) ^ bit(a, 1) ^ bit(b, 1);
                assert_eq!(
                    TABLE_13[a as usize][b as usize],
                    y4 << 3 | y3 << 2 | y2 << 1 | y1
                );
            }
        }
    }

    #[test]
    fn sixteen_state_trace() {
        // modem-standards.md §4.10: y(2m), y(2m+1), Y4321, Y₀(m), state after.
        let trace = [
            ((-1, 1), (1, 1), 0b0110, 0, 6),
            ((3, 1), (-1, -1), 0b1111, 0, 4),
            ((1, 3), (3, -3), 0b1011, 0, 5),
            ((-3, 3), (1, -1), 0b0010, 1, 8),
            ((-1, -3), (3, 3), 0b1111, 0, 3),
            ((1, 1), (1, 1), 0b0000, 1, 13),
        ];
        let mut state = 0u8;
        for (a, b, y, y0, next) in trace {
            let s = TABLE_13[usize::from(subset(a))][usize::from(subset(b))];
            assert_eq!(s, y);
            assert_eq!(state & 1, y0);
            state = next_state(Code::States16, state, s);
            assert_eq!(state, next);
        }
    }

    #[test]
    fn state_machines_are_permutations_of_their_inputs() {
        // From each state the used input bits reach distinct next states (a
        // systematic feedback encoder), and every state is reachable.
        for (code, used) in [
            (Code::States16, 0b0011u8),
            (Code::States32, 0b1011),
            (Code::States64, 0b1111),
        ] {
            let n = code.states();
            let mut reach = vec![false; n];
            for t in 0..n as u8 {
                let mut seen = std::collections::HashSet::new();
                for y in 0..16u8 {
                    let s = next_state(code, t, y);
                    assert!(usize::from(s) < n);
                    reach[usize::from(s)] = true;
                    if y & !used == 0 {
                        assert!(seen.insert(s), "{code:?} from {t}: input {y}");
                    }
                }
            }
            assert!(reach.iter().all(|&r| r), "{code:?}");
        }
    }

    #[test]
    fn sync_pattern_at_half_data_frames() {
        // 3429 baud: J = 8, P = 15: half data frames are 30 4D symbols.
        assert_eq!(v0(0, 8, 15), 0);
        assert_eq!(v0(30, 8, 15), 1);
        assert_eq!(v0(31, 8, 15), 0);
        assert_eq!(v0(13 * 30, 8, 15), 0);
        assert_eq!(v0(16 * 30 + 30, 8, 15), 1);
        assert_eq!(v0(14 * 24 + 4 * 24, 7, 12), 0);
        for (j, p) in [(8, 15), (7, 12), (8, 8), (7, 14)] {
            let mut c = SyncCounter::new(j, p);
            for m in 0..20_000 {
                assert_eq!(c.next_v0(), v0(m, j, p), "J = {j}, P = {p}, m = {m}");
            }
        }
        // Table 12 as hex: J = 8 0x77FA read MSB first.
        assert_eq!(
            SYNC_J8.iter().fold(0u16, |a, &b| a << 1 | u16::from(b)),
            0x77FA
        );
    }

    #[test]
    fn encoder_output_follows_the_trellis() {
        // Without precoding the labels of the output drive the same state
        // machine, and Y₀ ⊕ V₀ is the parity of the two points' s0 bits.
        let mode = Mode::new(33600, 3429, false).unwrap();
        for code in [Code::States16, Code::States32, Code::States64] {
            let mut enc = TrellisEncoder::new(&mode, code, Coefficients::default());
            let mut state = 0u8;
            let mut seed = 7u32;
            for m in 0..2000u64 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let a = (
                    2 * ((seed >> 10) % 16) as i32 - 15,
                    2 * ((seed >> 16) % 16) as i32 - 15,
                );
                let b = (
                    2 * ((seed >> 4) % 16) as i32 - 15,
                    2 * ((seed >> 22) % 16) as i32 - 15,
                );
                // As the mapper makes them: the two points' turns differ by 0° or 180°.
                let b = if (subset(a) ^ subset(b)) & 1 == 1 {
                    rotate_cw(b, 1)
                } else {
                    b
                };
                let (y0, y1) = enc.encode(a, b);
                assert_eq!(y0, a);
                let (s0, s1) = (subset(y0), subset(y1));
                assert_eq!(
                    u32::from((s0 ^ s1) & 1),
                    u32::from(state & 1) ^ u32::from(v0(m, 8, 15))
                );
                state = next_state(code, state, TABLE_13[usize::from(s0)][usize::from(s1)]);
                assert_eq!(enc.state(), state);
            }
        }
    }
}
