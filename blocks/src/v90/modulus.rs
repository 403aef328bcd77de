//! V.90 modulus encoder and decoder (V.90 §5.4.2–5.4.3; modem-standards.md
//! §5.2–5.3): `modulus_encoder`, `modulus_decoder`.
//!
//! A data frame is D = S + K bits d₀…d_{D−1}, d₀ first. The first S are sign
//! bits and pass through; the other K form the integer R₀ (first bit = LSB),
//! which is written in the mixed radix of the six moduli M₀…M₅: the digits
//! K₀…K₅ are the labels of the frame's six PCM symbols (interval i = symbol
//! index mod 6). The decoder is the inverse, and counts label sets that no
//! encoder can produce (a symbol error) instead of failing on them.
//!
//! With `rate` = 0 the blocks take D and the moduli from the receiver's CP
//! record on their `cp` input ([`CpInput`]) before they read any data.

use super::constellation::moduli_for;
use super::params::{
    cp_moduli, cp_port, frame_shape, rate_arg, rate_param, sr_arg, sr_param, CpInput,
};
use super::rates::{split, FRAME};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, Input, ItemType, PortSpec, Rate, Registry, Status,
    WorkIo,
};
use serde_json::json;

/// The largest modulus: a label is a u8 and a constellation holds at most
/// the 128 Ucodes (V.90 §3.6).
const MAX_MODULUS: u32 = 128;

/// Checks (K, S, moduli) for a modulus coder: 1 ≤ M_i ≤ 128, S ≤ 6 and
/// 2^K ≤ Π M_i (V.90 §5.4.3), which also bounds K by 42.
fn check(k: u32, s: u32, moduli: &[u32; FRAME]) -> Result<(), String> {
    if s > FRAME as u32 {
        return Err(format!("S = {s} sign bits: a data frame has at most 6"));
    }
    if let Some(m) = moduli.iter().find(|&&m| m == 0 || m > MAX_MODULUS) {
        return Err(format!("modulus {m} is outside 1…{MAX_MODULUS}"));
    }
    let product: u128 = moduli.iter().map(|&m| u128::from(m)).product();
    if k > 63 || product < 1u128 << k {
        return Err(format!(
            "moduli {moduli:?} (product {product}) cannot carry K = {k} bits: V.90 §5.4.3 \
             needs 2^K ≤ Π M_i"
        ));
    }
    Ok(())
}

/// The shape of one data frame for the modulus coders: K modulus bits, S
/// sign bits and the moduli M₀…M₅, checked (2^K ≤ Π M_i, V.90 §5.4.3).
#[derive(Clone, Debug)]
pub struct Frame {
    k: u32,
    s: usize,
    moduli: [u32; FRAME],
    /// 2^K − 1.
    mask: u64,
}

impl Frame {
    /// K modulus bits, S sign bits and the given moduli.
    pub fn new(k: u32, s: u32, moduli: [u32; FRAME]) -> Result<Self, String> {
        check(k, s, &moduli)?;
        Ok(Frame {
            k,
            s: s as usize,
            moduli,
            mask: (1u64 << k) - 1,
        })
    }

    /// D bits per frame with S_r shaping bits, with the moduli of
    /// [`moduli_for`] (what the V.90 blocks use).
    pub fn for_frame(d: u32, sr: u32) -> Result<Self, String> {
        let (k, s) = split(d, sr).ok_or_else(|| format!("D = {d} with S_r = {sr} is not V.90"))?;
        Self::new(k, s, moduli_for(k))
    }

    pub fn k(&self) -> u32 {
        self.k
    }

    pub fn s(&self) -> usize {
        self.s
    }

    pub fn moduli(&self) -> [u32; FRAME] {
        self.moduli
    }

    /// D = S + K bits per data frame.
    pub fn frame_bits(&self) -> usize {
        self.s + self.k as usize
    }
}

/// The V.90 §5.4.3 modulus encoder for K bits and moduli M₀…M₅, with the
/// §5.4.2 input parsing: per frame S sign bits, then K bits.
#[derive(Clone, Debug)]
pub struct ModulusEncoder(Frame);

impl std::ops::Deref for ModulusEncoder {
    type Target = Frame;
    fn deref(&self) -> &Frame {
        &self.0
    }
}

impl ModulusEncoder {
    /// An encoder for K modulus bits, S sign bits and the given moduli.
    pub fn new(k: u32, s: u32, moduli: [u32; FRAME]) -> Result<Self, String> {
        Frame::new(k, s, moduli).map(ModulusEncoder)
    }

    /// The encoder of D bits per frame with S_r shaping bits (moduli of
    /// [`moduli_for`]).
    pub fn for_frame(d: u32, sr: u32) -> Result<Self, String> {
        Frame::for_frame(d, sr).map(ModulusEncoder)
    }

    /// The labels K₀…K₅ of R₀ (taken mod 2^K): V.90 §5.4.3, K_i = R_i mod M_i,
    /// R_{i+1} = (R_i − K_i)/M_i.
    pub fn labels(&self, r0: u64) -> [u8; FRAME] {
        let mut r = r0 & self.mask;
        std::array::from_fn(|i| {
            let m = u64::from(self.moduli[i]);
            let label = r % m;
            r /= m;
            // M_i ≤ 128, so a label fits a u8.
            label as u8
        })
    }

    /// Encodes every whole frame of `bits` (only bit 0 of each byte counts),
    /// appending 6 labels per frame to `labels` and the S sign bits to
    /// `signs`. Returns how many frames it encoded; a partial frame at the
    /// end is left for the caller.
    pub fn process(&self, bits: &[u8], labels: &mut Vec<u8>, signs: &mut Vec<u8>) -> usize {
        let d = self.frame_bits();
        if d == 0 {
            return 0;
        }
        let frames = bits.len() / d;
        labels.reserve(frames * FRAME);
        signs.reserve(frames * self.s);
        for frame in bits.chunks_exact(d) {
            // V.90 §5.4.2: s_i = d_i for i < S, b_i = d_{S+i} for i < K.
            let (s_bits, b_bits) = frame.split_at(self.s);
            signs.extend(s_bits.iter().map(|b| b & 1));
            // V.90 §5.4.3: R₀ = Σ b_i·2^i, the first bit is the LSB.
            let r0 = b_bits
                .iter()
                .rev()
                .fold(0u64, |r, &b| (r << 1) | u64::from(b & 1));
            labels.extend_from_slice(&self.labels(r0));
        }
        frames
    }
}

/// The inverse of [`ModulusEncoder`]: labels and sign bits back to the D
/// data bits of each frame. It counts frames no encoder could have sent
/// (a label ≥ M_i, or R₀ ≥ 2^K) and decodes them as best it can.
#[derive(Clone, Debug)]
pub struct ModulusDecoder {
    frame: Frame,
    frames: u64,
    invalid: u64,
}

impl std::ops::Deref for ModulusDecoder {
    type Target = Frame;
    fn deref(&self) -> &Frame {
        &self.frame
    }
}

impl ModulusDecoder {
    /// A decoder for K modulus bits, S sign bits and the given moduli.
    pub fn new(k: u32, s: u32, moduli: [u32; FRAME]) -> Result<Self, String> {
        Ok(ModulusDecoder {
            frame: Frame::new(k, s, moduli)?,
            frames: 0,
            invalid: 0,
        })
    }

    /// The decoder of D bits per frame with S_r shaping bits (moduli of
    /// [`moduli_for`]).
    pub fn for_frame(d: u32, sr: u32) -> Result<Self, String> {
        Ok(ModulusDecoder {
            frame: Frame::for_frame(d, sr)?,
            frames: 0,
            invalid: 0,
        })
    }

    /// Frames decoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames decoded so far that no encoder could have sent.
    pub fn invalid_frames(&self) -> u64 {
        self.invalid
    }

    /// R₀ = K₀ + K₁·M₀ + … + K₅·M₀…M₄ (V.90 §5.4.3) reduced mod 2^K, and
    /// whether the labels were valid: labels ≥ M_i are clamped to M_i − 1,
    /// and R₀ ≥ 2^K (possible when Π M_i > 2^K) is invalid too.
    pub fn value(&self, labels: &[u8; FRAME]) -> (u64, bool) {
        let mut valid = true;
        let mut r = 0u64;
        // Horner from the most significant digit; Π M_i ≤ 2^42 cannot overflow.
        for i in (0..FRAME).rev() {
            let m = self.moduli[i];
            let mut label = u32::from(labels[i]);
            if label >= m {
                valid = false;
                label = m - 1;
            }
            r = r * u64::from(m) + u64::from(label);
        }
        if r > self.mask {
            valid = false;
        }
        (r & self.mask, valid)
    }

    /// Decodes every whole frame present in both `labels` (6 per frame) and
    /// `signs` (S per frame), appending the D bits of each (S sign bits,
    /// then K bits, LSB first) to `out`. Returns how many frames it decoded.
    pub fn process(&mut self, labels: &[u8], signs: &[u8], out: &mut Vec<u8>) -> usize {
        // With no sign bits (S = 0) only the labels limit the frames.
        let frames =
            (labels.len() / FRAME).min(signs.len().checked_div(self.s).unwrap_or(usize::MAX));
        out.reserve(frames * self.frame_bits());
        for f in 0..frames {
            let mut l = [0u8; FRAME];
            l.copy_from_slice(&labels[f * FRAME..(f + 1) * FRAME]);
            let (r0, valid) = self.value(&l);
            self.frames += 1;
            self.invalid += u64::from(!valid);
            out.extend(signs[f * self.s..(f + 1) * self.s].iter().map(|b| b & 1));
            out.extend((0..self.k).map(|i| ((r0 >> i) & 1) as u8));
        }
        frames
    }
}

/// Whole frames that fit `space` output items at `per_frame` items each. A
/// frame block may overrun the space by less than one frame, so round up.
fn frames_for(space: usize, per_frame: usize) -> usize {
    if per_frame == 0 {
        usize::MAX
    } else {
        space.div_ceil(per_frame)
    }
}

/// The items of one frame taken off an input before the whole frame has
/// arrived. A block keeps a short input here rather than leaving it unread:
/// a scheduler finishes a block that makes no progress while every input
/// has either ended or holds items, and an unconnected `cp` input has ended
/// from the start, so an unread partial frame would end the block early.
#[derive(Clone, Debug, Default)]
struct Carry {
    items: Vec<u8>,
    /// Items per frame.
    n: usize,
}

impl Carry {
    fn new(n: usize) -> Carry {
        Carry {
            items: Vec::with_capacity(n),
            n,
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn is_full(&self) -> bool {
        self.items.len() >= self.n
    }

    /// Tops the frame up from `input`.
    fn fill(&mut self, input: &mut Input) {
        let take = self.n.saturating_sub(self.len()).min(input.available());
        self.items.extend_from_slice(&input.items::<u8>()[..take]);
        input.consume(take);
    }

    /// Takes what `input` holds when it is less than a frame (and more than
    /// nothing).
    fn stash(&mut self, input: &mut Input) {
        let n = input.available();
        if n < self.n {
            self.items.extend_from_slice(&input.items::<u8>()[..n]);
            input.consume(n);
        }
    }
}

struct EncoderBlock {
    /// `None` until a CP record has set the rate (`rate` = 0).
    enc: Option<ModulusEncoder>,
    sr: u32,
    cp: CpInput,
    /// A partial frame of data bits.
    carry: Carry,
}

impl EncoderBlock {
    fn new(d: Option<u32>, sr: u32, enc: Option<ModulusEncoder>) -> EncoderBlock {
        let carry = Carry::new(enc.as_ref().map_or(0, |e| e.frame_bits()));
        EncoderBlock {
            enc,
            sr,
            cp: CpInput::new(d),
            carry,
        }
    }
}

impl Block for EncoderBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        if let Some(cp) = self.cp.poll(io.inputs.get_mut(1))? {
            let (f, moduli) = cp_moduli(&cp, self.sr)?;
            let enc = ModulusEncoder::new(f.k, f.s, moduli)?;
            if let Some(out) = io.outputs.get_mut(2) {
                out.items::<u8>().extend(cp.octets());
            }
            self.carry = Carry::new(enc.frame_bits());
            self.enc = Some(enc);
        }
        let Some(enc) = &self.enc else {
            // Nothing is read before the CP; with no data to come there is
            // nothing to wait for.
            return Ok(if io.inputs[0].finished() {
                Status::Done
            } else {
                Status::Ok
            });
        };
        let d = enc.frame_bits();
        let mut room = frames_for(io.outputs[0].space(), FRAME)
            .min(frames_for(io.outputs[1].space(), enc.s()));
        let input = &mut io.inputs[0];
        let (labels, signs) = io.outputs.split_at_mut(1);
        let (labels, signs) = (labels[0].items::<u8>(), signs[0].items::<u8>());
        let carry = &mut self.carry;
        if !carry.is_empty() {
            carry.fill(input);
            if carry.is_full() && room > 0 {
                enc.process(&carry.items, labels, signs);
                carry.items.clear();
                room -= 1;
            }
        }
        if carry.is_empty() {
            let frames = (input.available() / d).min(room);
            enc.process(&input.items::<u8>()[..frames * d], labels, signs);
            input.consume(frames * d);
            carry.stash(input);
        }
        if input.finished() && !carry.is_full() {
            // A partial last frame can never be completed.
            carry.items.clear();
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

struct DecoderBlock {
    /// `None` until a CP record has set the rate (`rate` = 0).
    dec: Option<ModulusDecoder>,
    sr: u32,
    cp: CpInput,
    /// Partial frames of labels and of sign bits.
    labels: Carry,
    signs: Carry,
    reported: bool,
}

impl DecoderBlock {
    fn new(d: Option<u32>, sr: u32, dec: Option<ModulusDecoder>) -> DecoderBlock {
        let signs = Carry::new(dec.as_ref().map_or(0, |d| d.s()));
        DecoderBlock {
            dec,
            sr,
            cp: CpInput::new(d),
            labels: Carry::new(FRAME),
            signs,
            reported: false,
        }
    }

    /// Decodes what it can; true once either input has ended short of a
    /// frame.
    fn decode(&mut self, io: &mut WorkIo<'_>) -> bool {
        let (ins, _) = io.inputs.split_at_mut(2);
        let (labels_in, signs_in) = ins.split_at_mut(1);
        let (labels_in, signs_in) = (&mut labels_in[0], &mut signs_in[0]);
        let Some(dec) = &mut self.dec else {
            // Nothing is read before the CP; an input that has ended empty
            // ends the block (S ≥ 3, so it is short of a frame).
            return labels_in.finished() || signs_in.finished();
        };
        let (d, s) = (dec.frame_bits(), dec.s());
        let mut room = frames_for(io.outputs[0].space(), d);
        let out = io.outputs[0].items::<u8>();
        let (labels, signs) = (&mut self.labels, &mut self.signs);
        if !labels.is_empty() || !signs.is_empty() {
            labels.fill(labels_in);
            signs.fill(signs_in);
            if labels.is_full() && signs.is_full() && room > 0 {
                dec.process(&labels.items, &signs.items, out);
                labels.items.clear();
                signs.items.clear();
                room -= 1;
            }
        }
        if labels.is_empty() && signs.is_empty() {
            let frames = (labels_in.available() / FRAME)
                .min(signs_in.available().checked_div(s).unwrap_or(usize::MAX))
                .min(room);
            dec.process(
                &labels_in.items::<u8>()[..frames * FRAME],
                &signs_in.items::<u8>()[..frames * s],
                out,
            );
            labels_in.consume(frames * FRAME);
            signs_in.consume(frames * s);
            labels.stash(labels_in);
            signs.stash(signs_in);
        }
        // No further frame once either input has ended short of one.
        (labels_in.is_eos() && labels.len() + labels_in.available() < FRAME)
            || (signs_in.is_eos() && signs.len() + signs_in.available() < s)
    }
}

impl Block for DecoderBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        if let Some(cp) = self.cp.poll(io.inputs.get_mut(2))? {
            let (f, moduli) = cp_moduli(&cp, self.sr)?;
            let dec = ModulusDecoder::new(f.k, f.s, moduli)?;
            self.signs = Carry::new(dec.s());
            self.dec = Some(dec);
        }
        if !self.decode(io) {
            return Ok(Status::Ok);
        }
        if !self.reported {
            self.reported = true;
            let (frames, invalid) = self
                .dec
                .as_ref()
                .map_or((0, 0), |d| (d.frames(), d.invalid_frames()));
            io.emit("frames", json!({"frames": frames, "invalid": invalid}));
        }
        Ok(Status::Done)
    }
}

fn make_encoder(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let sr = sr_arg(args)?;
    let d = rate_arg(args)?;
    let enc = match d {
        Some(_) => {
            let f = frame_shape(args)?;
            Some(ModulusEncoder::new(f.k, f.s, moduli_for(f.k))?)
        }
        None => None,
    };
    Ok(Box::new(EncoderBlock::new(d, sr, enc)))
}

fn make_decoder(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let sr = sr_arg(args)?;
    let d = rate_arg(args)?;
    let dec = match d {
        Some(_) => {
            let f = frame_shape(args)?;
            Some(ModulusDecoder::new(f.k, f.s, moduli_for(f.k))?)
        }
        None => None,
    };
    Ok(Box::new(DecoderBlock::new(d, sr, dec)))
}

pub fn spec_encoder() -> BlockSpec {
    BlockSpec::new(
        "modulus_encoder",
        "Coding",
        "V.90 modulus encoder: data frames to PCM labels and sign bits",
        make_encoder,
    )
    .doc(
        "V.90 §5.4.2–5.4.3. Each data frame of D = S + K bits (D = `rate`·6/8000, \
         S = 6 − `sr`) splits into S sign bits, passed to `signs` unchanged, and K bits \
         that form R₀ = Σ b_i·2^i (first bit = LSB). R₀ is written in the mixed radix of \
         the moduli M₀…M₅ (K_i = R_i mod M_i, R_{i+1} = (R_i − K_i)/M_i), giving six \
         labels, one per PCM symbol; label j of interval i selects the j-th largest Ucode \
         of constellation i (`pcm_mapper`). The moduli are the smallest equal moduli with \
         Π M_i ≥ 2^K, some reduced by one where the product allows, the same rule as \
         `pcm_mapper`'s constellations. Works on whole frames; a partial last frame is \
         dropped. \
         With `rate` = 0 the receiver chooses (V.90 §8.5.2): the block reads nothing from \
         `in` until a CP record arrives on `cp`, then takes D from it and the moduli from \
         the number of Ucodes in each of its intervals, and runs as at that fixed rate. A \
         CP with D = 0 (no rate possible), one that does not fit, a later different one, \
         or `cp` ending without one is an error. With a fixed rate `cp` may be left \
         unconnected; if connected, a record asking for another D is an error (the two \
         ends disagree).",
    )
    .param(rate_param())
    .param(sr_param())
    .input(
        PortSpec::new("in", ItemType::Bit, "scrambled data bits, D per data frame")
            .rate(Rate::Varies),
    )
    .input(cp_port())
    .output(
        PortSpec::new("labels", ItemType::Octet, "labels K₀…K₅, 6 per data frame")
            .rate(Rate::Varies),
    )
    .output(
        PortSpec::new(
            "signs",
            ItemType::Bit,
            "the S sign bits s₀…s_{S−1} of each data frame",
        )
        .rate(Rate::Varies),
    )
    .output(
        PortSpec::new(
            "cp_out",
            ItemType::Octet,
            "with `rate` 0: the CP record it configured itself from, passed on (for the mapper)",
        )
        .rate(Rate::Varies)
        .optional(),
    )
}

pub fn spec_decoder() -> BlockSpec {
    BlockSpec::new(
        "modulus_decoder",
        "Coding",
        "V.90 modulus decoder: PCM labels and sign bits to data frames",
        make_decoder,
    )
    .doc(
        "The inverse of `modulus_encoder` (V.90 §5.4.3): six labels K₀…K₅ give \
         R₀ = K₀ + K₁·M₀ + … + K₅·M₀…M₄, whose K bits (LSB first) follow the frame's S \
         sign bits on `out`, so the output is exactly the encoder's input. A frame no \
         encoder could produce (a label ≥ M_i, clamped to M_i − 1, or R₀ ≥ 2^K, reduced \
         mod 2^K) is a symbol error: it is decoded anyway and counted. Works on whole \
         frames; it ends when either input ends short of a frame, and then emits one \
         `frames` event. \
         With `rate` = 0 it follows the receiver's CP record on `cp` as `modulus_encoder` \
         does: it reads neither `labels` nor `signs` until the record has arrived, then \
         takes D and the moduli from it.",
    )
    .param(rate_param())
    .param(sr_param())
    .input(PortSpec::new(
        "labels",
        ItemType::Octet,
        "received labels, 6 per data frame",
    ))
    .input(
        PortSpec::new(
            "signs",
            ItemType::Bit,
            "received sign bits, S = 6 − `sr` per data frame",
        )
        .rate(Rate::Varies),
    )
    .input(cp_port())
    .output(PortSpec::new("out", ItemType::Bit, "data bits, D per data frame").rate(Rate::Varies))
    .event(EventSpec::new(
        "frames",
        "the totals, emitted once at end of stream",
        &[
            ("frames", "data frames decoded (integer)"),
            (
                "invalid",
                "frames with a label ≥ M_i or R₀ ≥ 2^K, i.e. with a symbol error (integer)",
            ),
        ],
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec_encoder());
    r.register(spec_decoder());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::law::Law;
    use crate::testutil::drive::{drive, Driven, End, Feed};
    use crate::testutil::{chunked, items, make as build, run, Events};
    use crate::v90::constellation::Constellation;
    use crate::v90::cp::Cp;
    use crate::v90::params::NO_CP;
    use crate::v90::rates::{bit_rate, bits_per_frame, MAX_D, MAX_SR, MIN_D};
    use crate::v90::ucode::MAX_UCODE;
    use modemflow_flow::{Input, Item, Output, Value};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    fn bits(s: &str) -> Vec<u8> {
        s.bytes().map(|c| c - b'0').collect()
    }

    fn random_bits(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = Pcg64::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(0..2u8)).collect()
    }

    fn encode(enc: &ModulusEncoder, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut labels, mut signs) = (Vec::new(), Vec::new());
        enc.process(data, &mut labels, &mut signs);
        (labels, signs)
    }

    fn params(rate: i64, sr: i64) -> [(&'static str, Value); 2] {
        [("rate", Value::Int(rate)), ("sr", Value::Int(sr))]
    }

    fn decode_block(
        rate: i64,
        sr: i64,
        labels: &[u8],
        signs: &[u8],
        sizes: &[usize],
        cap: usize,
    ) -> Driven {
        let mut b = build(&spec_decoder(), &params(rate, sr)).unwrap();
        drive(
            &mut *b,
            &[
                Feed::new(ItemType::Octet, labels),
                Feed::new(ItemType::Bit, signs),
                Feed::unconnected(ItemType::Octet),
            ],
            &[ItemType::Bit],
            sizes,
            cap,
        )
    }

    #[test]
    fn worked_example_of_section_5_6() {
        // modem-standards.md §5.6: K = 24, S = 6, M = 16 everywhere.
        let d = bits("101100011010100010110001001000");
        let enc = ModulusEncoder::new(24, 6, [16; 6]).unwrap();
        let r0 = d[6..]
            .iter()
            .rev()
            .fold(0u64, |r, &b| (r << 1) | u64::from(b));
        assert_eq!(r0, 1_193_046);
        assert_eq!(enc.labels(r0), [6, 5, 4, 3, 2, 1]);
        let (labels, signs) = encode(&enc, &d);
        assert_eq!(labels, [6, 5, 4, 3, 2, 1]);
        assert_eq!(signs, bits("101100"));
        // 40 000 bit/s, S_r = 0 gives the same K, S and moduli.
        let blocky = ModulusEncoder::for_frame(30, 0).unwrap();
        assert_eq!((blocky.k(), blocky.s(), blocky.moduli()), (24, 6, [16; 6]));
        let mut dec = ModulusDecoder::new(24, 6, [16; 6]).unwrap();
        assert_eq!(dec.value(&[6, 5, 4, 3, 2, 1]), (1_193_046, true));
        let mut out = Vec::new();
        assert_eq!(dec.process(&labels, &signs, &mut out), 1);
        assert_eq!(out, d);
        assert_eq!((dec.frames(), dec.invalid_frames()), (1, 0));
    }

    #[test]
    fn every_rate_and_sr_round_trips_and_labels_stay_below_the_moduli() {
        for d in MIN_D..=MAX_D {
            for sr in 0..=MAX_SR {
                let enc = ModulusEncoder::for_frame(d, sr).unwrap();
                let mut dec = ModulusDecoder::for_frame(d, sr).unwrap();
                let m = enc.moduli();
                let n = enc.frame_bits();
                // Random frames, then all zeros and all ones (R₀ = 2^K − 1,
                // the largest label set an encoder sends).
                let mut data = random_bits(n * 50, u64::from(d * 4 + sr));
                data.extend(std::iter::repeat_n(0, n));
                data.extend(std::iter::repeat_n(1, n));
                let (labels, signs) = encode(&enc, &data);
                assert_eq!(labels.len(), 52 * FRAME);
                assert_eq!(signs.len(), 52 * enc.s());
                for (j, &l) in labels.iter().enumerate() {
                    assert!(u32::from(l) < m[j % FRAME], "D {d} Sr {sr}");
                }
                let mut out = Vec::new();
                dec.process(&labels, &signs, &mut out);
                assert_eq!(out, data, "D {d} Sr {sr}");
                assert_eq!(dec.invalid_frames(), 0);
            }
        }
    }

    #[test]
    fn impossible_label_sets_are_counted_and_decoded_without_panic() {
        // 28 000 bit/s: K = 15, moduli 5·6⁵ = 38 880 > 2^15, so the largest
        // labels give R₀ ≥ 2^15.
        let mut dec = ModulusDecoder::for_frame(21, 0).unwrap();
        assert_eq!(dec.moduli(), [5, 6, 6, 6, 6, 6]);
        assert_eq!(dec.value(&[4, 5, 5, 5, 5, 5]), (38_879 % 32_768, false));
        assert_eq!(dec.value(&[0, 0, 0, 0, 0, 0]), (0, true));
        // A label beyond its modulus is clamped: 200 → 4 in interval 0.
        assert_eq!(dec.value(&[200, 0, 0, 0, 0, 0]), (4, false));
        assert_eq!(dec.value(&[255; 6]), dec.value(&[4, 5, 5, 5, 5, 5]));
        let labels = [4, 5, 5, 5, 5, 5, 1, 2, 3, 4, 5, 0, 9, 0, 0, 0, 0, 0];
        let mut out = Vec::new();
        assert_eq!(dec.process(&labels, &[1; 18], &mut out), 3);
        assert_eq!(out.len(), 3 * 21);
        assert_eq!((dec.frames(), dec.invalid_frames()), (3, 2));
    }

    #[test]
    fn bad_coders_are_refused() {
        assert!(ModulusEncoder::new(25, 6, [16; 6]).is_err());
        assert!(ModulusEncoder::new(24, 7, [16; 6]).is_err());
        assert!(ModulusDecoder::new(10, 3, [0, 16, 16, 16, 16, 16]).is_err());
        assert!(ModulusDecoder::new(10, 3, [129, 16, 16, 16, 16, 16]).is_err());
        assert!(ModulusEncoder::new(42, 0, [128; 6]).is_ok());
        assert!(ModulusEncoder::new(43, 0, [128; 6]).is_err());
        assert!(ModulusEncoder::new(64, 0, [128; 6]).is_err());
        assert!(ModulusEncoder::for_frame(43, 0).is_err());
        assert!(ModulusDecoder::for_frame(30, 4).is_err());
    }

    #[test]
    fn bad_parameters_name_the_parameter_and_a_fix() {
        for spec in [spec_encoder(), spec_decoder()] {
            let err = |rate: i64, sr: i64| build(&spec, &params(rate, sr)).err().unwrap();
            let e = err(29000, 0);
            assert!(e.contains("`rate` = 29000") && e.contains("29333"), "{e}");
            assert!(err(57333, 0).contains("`rate`"));
            assert!(err(56000, 4).contains("`sr`"));
            assert!(err(56000, -1).contains("`sr`"));
            assert!(build(&spec, &params(29334, 3)).is_ok());
            // 0: the receiver chooses; just above it is no rate at all.
            assert!(build(&spec, &params(0, 3)).is_ok());
            assert!(err(0, 4).contains("`sr`"));
            assert!(err(1, 0).contains("not a V.90 rate"));
            assert!(err(-1, 0).contains("`rate`"));
        }
    }

    #[test]
    fn encoder_block_is_chunk_invariant_and_drops_a_partial_frame() {
        for (rate, sr) in [(56000, 0), (28000, 3), (40000, 1), (45333, 2)] {
            let d = bits_per_frame(rate as u32).unwrap() as usize;
            let enc = ModulusEncoder::for_frame(d as u32, sr as u32).unwrap();
            let frames = 700;
            let data = random_bits(frames * d + d - 1, rate as u64);
            let (want_l, want_s) = encode(&enc, &data);
            assert_eq!(want_l.len(), frames * FRAME);
            for (sizes, cap) in [
                (&[1][..], 1),
                (&[7], 7),
                (&[333], 64),
                (&[4096], 4096),
                (&[1, 7, 333, 4096], 5),
            ] {
                let mut b = build(&spec_encoder(), &params(rate, sr)).unwrap();
                let r = run(
                    &mut *b,
                    Some(ItemType::Bit),
                    &chunked(&data, sizes),
                    &[ItemType::Octet, ItemType::Bit],
                    cap,
                    0,
                )
                .unwrap();
                assert_eq!(items::<u8>(&r.outputs[0]), want_l, "{rate} {sizes:?}");
                assert_eq!(items::<u8>(&r.outputs[1]), want_s, "{rate} {sizes:?}");
            }
        }
    }

    #[test]
    fn decoder_block_is_chunk_invariant_and_reports_its_frames() {
        for (rate, sr) in [(56000, 0), (28000, 3), (40000, 1), (45333, 2)] {
            let d = bits_per_frame(rate as u32).unwrap();
            let enc = ModulusEncoder::for_frame(d, sr as u32).unwrap();
            let frames = 700;
            let data = random_bits(frames * d as usize, rate as u64 + 1);
            let (mut labels, mut signs) = encode(&enc, &data);
            // A partial frame on one input only is never decoded.
            labels.extend([1, 2, 3]);
            signs.extend([1; 2]);
            // Symbol errors in frames 3 and 10 (moduli ≤ 64 at these rates).
            labels[3 * FRAME + 2] = 200;
            labels[10 * FRAME] = 255;
            for (sizes, cap) in [
                (&[1][..], 1),
                (&[7], 7),
                (&[333], 64),
                (&[4096], 4096),
                (&[1, 7, 333, 4096], 5),
            ] {
                let r = decode_block(rate, sr, &labels, &signs, sizes, cap);
                assert_eq!(r.end, End::Done);
                let out = &r.outputs[0];
                assert_eq!(out.len(), data.len(), "{rate} {sizes:?}");
                let d = d as usize;
                for f in (0..frames).filter(|f| ![3, 10].contains(f)) {
                    assert_eq!(out[f * d..(f + 1) * d], data[f * d..(f + 1) * d]);
                }
                assert_eq!(r.events.len(), 1);
                let (kind, fields) = &r.events[0];
                assert_eq!(kind, "frames");
                assert_eq!(fields["frames"], json!(frames));
                assert_eq!(fields["invalid"], json!(2));
            }
        }
    }

    #[test]
    fn decoder_block_waits_for_both_inputs_and_ends_when_one_does() {
        let enc = ModulusEncoder::for_frame(42, 0).unwrap();
        let data = random_bits(42 * 10, 5);
        let (labels, signs) = encode(&enc, &data);
        // Signs end after four frames: four frames out, then done.
        let r = decode_block(56000, 0, &labels, &signs[..4 * 6 + 3], &[5], 16);
        assert_eq!(r.end, End::Done);
        assert_eq!(r.outputs[0], data[..4 * 42]);
        assert_eq!(r.events[0].1["frames"], json!(4));
        // Nothing at all.
        let r = decode_block(56000, 0, &[], &[], &[1], 16);
        assert!(r.end == End::Done && r.outputs[0].is_empty());
        assert_eq!(r.events[0].1["frames"], json!(0));
    }

    #[test]
    fn garbage_input_never_panics() {
        let mut rng = Pcg64::seed_from_u64(9);
        let junk: Vec<u8> = (0..20_000).map(|_| rng.random()).collect();
        for (rate, sr) in [(28000, 0), (56000, 0), (56000, 3), (33333, 2)] {
            let mut b = build(&spec_encoder(), &params(rate, sr)).unwrap();
            let r = run(
                &mut *b,
                Some(ItemType::Bit),
                &chunked(&junk, &[13, 999]),
                &[ItemType::Octet, ItemType::Bit],
                100,
                0,
            )
            .unwrap();
            // Only bit 0 of each input byte counts.
            let masked: Vec<u8> = junk.iter().map(|b| b & 1).collect();
            let mut b = build(&spec_encoder(), &params(rate, sr)).unwrap();
            let want = run(
                &mut *b,
                Some(ItemType::Bit),
                &chunked(&masked, &[4096]),
                &[ItemType::Octet, ItemType::Bit],
                4096,
                0,
            )
            .unwrap();
            assert_eq!(items::<u8>(&r.outputs[0]), items::<u8>(&want.outputs[0]));
            assert!(items::<u8>(&r.outputs[1]).iter().all(|&b| b <= 1));
            let r = decode_block(rate, sr, &junk, &junk[..15_000], &[1, 77, 4096], 33);
            assert_eq!(r.end, End::Done);
            assert!(r.outputs[0].iter().all(|&b| b <= 1));
            let invalid = r.events[0].1["invalid"].as_u64().unwrap();
            assert!(invalid > 0, "{rate}: random labels hit labels ≥ M_i");
        }
    }

    #[test]
    fn specs_describe_the_blocks() {
        let r = {
            let mut r = Registry::new();
            register(&mut r);
            r
        };
        for name in ["modulus_encoder", "modulus_decoder"] {
            let s = r.get(name).unwrap();
            assert!(!s.doc.is_empty());
            let rate = s.param_spec("rate").unwrap();
            assert_eq!(rate.default, Some(Value::Int(56000)));
            assert_eq!(s.param_spec("sr").unwrap().default, Some(Value::Int(0)));
        }
        let dec = r.get("modulus_decoder").unwrap();
        assert_eq!(dec.events[0].name, "frames");
        let names = |p: &[PortSpec]| p.iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(&dec.inputs), ["labels", "signs", "cp"]);
        let enc = r.get("modulus_encoder").unwrap();
        assert_eq!(names(&enc.inputs), ["in", "cp"]);
        for s in [dec, enc] {
            let cp = s.inputs.last().unwrap();
            assert!(cp.optional && cp.doc.contains("`rate` = 0"));
            assert!(s.doc.contains("`rate` = 0"));
            assert!(s.param_spec("rate").unwrap().doc.contains("`cp` input"));
        }
        assert_eq!(
            names(&r.get("modulus_encoder").unwrap().outputs),
            ["labels", "signs", "cp_out"]
        );
    }

    /// The CP a receiver would send for the fixed design of D with S_r.
    fn cp_for(d: u32, sr: u32) -> Cp {
        let (k, _) = split(d, sr).unwrap();
        let c = Constellation::design(Law::Mu, k, MAX_UCODE).unwrap();
        Cp {
            d,
            ucodes: std::array::from_fn(|i| c.interval(i).to_vec()),
        }
    }

    /// `zeros` idle octets, then the record.
    fn cp_stream(cp: &Cp, zeros: usize) -> Vec<u8> {
        let mut v = vec![0; zeros];
        v.extend(cp.octets());
        v
    }

    /// The encoder block at `rate`, `sr`; `cp` fed from step `cp_from`
    /// (`None`: unconnected).
    fn encode_block(
        rate: i64,
        sr: i64,
        data: &[u8],
        cp: Option<(&[u8], usize)>,
        sizes: &[usize],
        cap: usize,
    ) -> Driven {
        let mut b = build(&spec_encoder(), &params(rate, sr)).unwrap();
        let cp = match cp {
            Some((octets, from)) => Feed::new(ItemType::Octet, octets).from(from),
            None => Feed::unconnected(ItemType::Octet),
        };
        drive(
            &mut *b,
            &[Feed::new(ItemType::Bit, data), cp],
            &[ItemType::Octet, ItemType::Bit],
            sizes,
            cap,
        )
    }

    /// The decoder block likewise.
    fn decode_cp_block(
        rate: i64,
        sr: i64,
        (labels, signs): (&[u8], &[u8]),
        cp: Option<(&[u8], usize)>,
        sizes: &[usize],
        cap: usize,
    ) -> Driven {
        let mut b = build(&spec_decoder(), &params(rate, sr)).unwrap();
        let cp = match cp {
            Some((octets, from)) => Feed::new(ItemType::Octet, octets).from(from),
            None => Feed::unconnected(ItemType::Octet),
        };
        drive(
            &mut *b,
            &[
                Feed::new(ItemType::Octet, labels),
                Feed::new(ItemType::Bit, signs),
                cp,
            ],
            &[ItemType::Bit],
            sizes,
            cap,
        )
    }

    const CHUNKINGS: [(&[usize], usize); 5] = [
        (&[1], 1),
        (&[7], 7),
        (&[333], 64),
        (&[4096], 4096),
        (&[1, 7, 333, 4096], 5),
    ];

    #[test]
    fn rate_zero_with_a_cp_gives_exactly_the_fixed_rates_output() {
        for (d, sr) in [(42, 0), (21, 3), (30, 1), (34, 2)] {
            let rate = i64::from(bit_rate(d));
            let cp = cp_stream(&cp_for(d, sr), 50);
            let enc = ModulusEncoder::for_frame(d, sr).unwrap();
            let d = d as usize;
            let frames = 300;
            let data = random_bits(frames * d + d - 1, rate as u64);
            let (want_l, want_s) = encode(&enc, &data);
            let (mut labels, mut signs) = (want_l.clone(), want_s.clone());
            labels[5 * FRAME + 1] = 250;
            labels.extend([1, 2]);
            signs.push(1);
            let sr = i64::from(sr);
            let fixed_dec = decode_cp_block(rate, sr, (&labels, &signs), None, &[4096], 4096);
            assert_eq!(fixed_dec.end, End::Done);
            assert_eq!(fixed_dec.events[0].1["invalid"], json!(1));
            for (sizes, cap) in CHUNKINGS {
                // The fixed rate, with `cp` unconnected: a partial frame
                // waiting for the rest must not let the block look finished.
                let fixed = encode_block(rate, sr, &data, None, sizes, cap);
                assert_eq!(fixed.end, End::Done, "{rate} {sizes:?}");
                assert_eq!(fixed.outputs, [want_l.clone(), want_s.clone()]);
                let auto = encode_block(0, sr, &data, Some((&cp, 0)), sizes, cap);
                assert_eq!(auto.end, End::Done, "{rate} {sizes:?}");
                assert_eq!(auto.outputs, fixed.outputs, "{rate} {sizes:?}");
                assert_eq!(auto.left, [0, 0]);
                let dec = decode_cp_block(0, sr, (&labels, &signs), Some((&cp, 0)), sizes, cap);
                assert_eq!(dec.end, End::Done, "{rate} {sizes:?}");
                assert_eq!(dec.outputs, fixed_dec.outputs, "{rate} {sizes:?}");
                assert_eq!(dec.events, fixed_dec.events);
                let dec = decode_cp_block(rate, sr, (&labels, &signs), None, sizes, cap);
                assert_eq!(dec.end, End::Done, "{rate} {sizes:?}");
                assert_eq!(dec.outputs, fixed_dec.outputs, "{rate} {sizes:?}");
            }
        }
    }

    #[test]
    fn data_before_the_cp_waits_unread_then_all_of_it_is_processed() {
        let (d, sr) = (36, 2);
        let cp = cp_for(d, sr);
        let enc = ModulusEncoder::for_frame(d, sr).unwrap();
        let data = random_bits(100 * d as usize, 3);
        let (want_l, want_s) = encode(&enc, &data);
        // By hand: every data bit is there, the CP is not.
        let mut b = build(&spec_encoder(), &params(0, i64::from(sr))).unwrap();
        let mut ins = [Input::new(ItemType::Bit), Input::new(ItemType::Octet)];
        ins[0].push(&u8::wrap(data.clone()));
        ins[0].set_eos();
        let mut outs = [
            Output::new(ItemType::Octet, 100_000),
            Output::new(ItemType::Bit, 100_000),
        ];
        let mut events = Events::new();
        let mut call = |ins: &mut [Input], outs: &mut [Output]| {
            b.work(&mut WorkIo::new(ins, outs, &mut events)).unwrap()
        };
        for zeros in [0, 3, 40] {
            ins[1].push(&u8::wrap(vec![0; zeros]));
            assert_eq!(call(&mut ins, &mut outs), Status::Ok);
            assert_eq!(ins[0].available(), data.len());
            assert_eq!(ins[1].available(), 0, "idle zeros are read");
            assert!(outs.iter().all(Output::is_empty));
        }
        ins[1].push(&u8::wrap(cp.octets()));
        assert_eq!(call(&mut ins, &mut outs), Status::Done);
        assert_eq!(ins[0].available(), 0);
        assert_eq!(
            items::<u8>(&outs[0].take(ItemType::Octet.new_buf(0))),
            want_l
        );
        assert_eq!(items::<u8>(&outs[1].take(ItemType::Bit.new_buf(0))), want_s);
        // Driven: the CP comes many steps after the last data.
        let stream = cp_stream(&cp, 10);
        let sr = i64::from(sr);
        for (sizes, cap) in CHUNKINGS {
            let late = 1 + data.len() / sizes[0];
            let r = encode_block(0, sr, &data, Some((&stream, late)), sizes, cap);
            assert_eq!(r.end, End::Done, "{sizes:?}");
            assert_eq!(r.outputs, [want_l.clone(), want_s.clone()], "{sizes:?}");
            let r = decode_cp_block(0, sr, (&want_l, &want_s), Some((&stream, late)), sizes, cap);
            assert_eq!(r.end, End::Done, "{sizes:?}");
            assert_eq!(r.outputs[0], data, "{sizes:?}");
        }
    }

    #[test]
    fn idle_zeros_before_the_record_are_skipped() {
        let cp = cp_for(25, 0);
        let enc = ModulusEncoder::for_frame(25, 0).unwrap();
        let data = random_bits(25 * 40, 4);
        let (want_l, want_s) = encode(&enc, &data);
        for zeros in [0, 1, 97, 5000] {
            let stream = cp_stream(&cp, zeros);
            let r = encode_block(0, 0, &data, Some((&stream, 0)), &[13, 256], 50);
            assert_eq!(r.end, End::Done, "{zeros}");
            assert_eq!(r.outputs, [want_l.clone(), want_s.clone()], "{zeros}");
            let r = decode_cp_block(0, 0, (&want_l, &want_s), Some((&stream, 0)), &[256], 50);
            assert_eq!(r.end, End::Done, "{zeros}");
            assert_eq!(r.outputs[0], data, "{zeros}");
        }
    }

    #[test]
    fn cleardown_and_bad_cps_stop_the_run_with_a_clear_error() {
        let good = cp_for(40, 0);
        let mut empty = good.clone();
        empty.ucodes[4].clear();
        // 16 levels per interval carry K = 24, not the K = 34 of D = 40.
        let few = Cp {
            d: 40,
            ..cp_for(30, 0)
        };
        let mut garbage = vec![0, 0, 7];
        garbage.extend(good.octets());
        let cases: [(Vec<u8>, &[&str]); 5] = [
            (
                cp_stream(
                    &Cp {
                        d: 0,
                        ..good.clone()
                    },
                    5,
                ),
                &["no V.90 rate", "fixed `rate`"],
            ),
            (
                cp_stream(
                    &Cp {
                        d: 50,
                        ..good.clone()
                    },
                    0,
                ),
                &["D = 50", "not V.90"],
            ),
            (cp_stream(&empty, 0), &["CP record", "interval 4"]),
            (cp_stream(&few, 0), &["CP record", "K = 34", "2^K ≤ Π M_i"]),
            (garbage, &["`cp`", "0x07"]),
        ];
        let data = random_bits(40 * 30, 5);
        let (labels, signs) = encode(&ModulusEncoder::for_frame(40, 0).unwrap(), &data);
        for (stream, words) in &cases {
            for r in [
                encode_block(0, 0, &data, Some((stream, 0)), &[64], 64),
                decode_cp_block(0, 0, (&labels, &signs), Some((stream, 0)), &[64], 64),
            ] {
                let End::Failed(e) = &r.end else {
                    panic!("{:?} for {words:?}", r.end);
                };
                assert!(words.iter().all(|w| e.contains(w)), "{e}");
                assert!(r.outputs.iter().all(Vec::is_empty), "{e}");
            }
        }
    }

    #[test]
    fn a_fixed_rate_reads_the_cp_and_refuses_another_d() {
        let data = random_bits(42 * 50, 6);
        let (labels, signs) = encode(&ModulusEncoder::for_frame(42, 0).unwrap(), &data);
        let same = cp_stream(&cp_for(42, 0), 20);
        let r = encode_block(56000, 0, &data, Some((&same, 0)), &[7, 100], 16);
        assert_eq!(r.end, End::Done);
        assert_eq!(r.outputs, [labels.clone(), signs.clone()]);
        let r = decode_cp_block(56000, 0, (&labels, &signs), Some((&same, 0)), &[7], 16);
        assert_eq!(r.end, End::Done);
        assert_eq!(r.outputs[0], data);
        assert_eq!(
            r.left,
            [0, 0, 0],
            "the cp stream is read, not left to pile up"
        );
        let other = cp_stream(&cp_for(41, 0), 20);
        for r in [
            encode_block(56000, 0, &data, Some((&other, 0)), &[7, 100], 16),
            decode_cp_block(56000, 0, (&labels, &signs), Some((&other, 0)), &[7], 16),
        ] {
            let End::Failed(e) = &r.end else {
                panic!("{:?}", r.end);
            };
            assert!(e.contains("54666") && e.contains("56000"), "{e}");
            assert!(e.contains("disagree"), "{e}");
        }
    }

    #[test]
    fn rate_zero_without_a_cp_is_an_error() {
        let data = random_bits(42 * 10, 7);
        let (labels, signs) = encode(&ModulusEncoder::for_frame(42, 0).unwrap(), &data);
        let zeros = [0u8; 30];
        for cp in [None, Some((&zeros[..], 0))] {
            let r = encode_block(0, 0, &data, cp, &[16], 16);
            assert_eq!(r.end, End::Failed(NO_CP.to_string()));
            let r = decode_cp_block(0, 0, (&labels, &signs), cp, &[16], 16);
            assert_eq!(r.end, End::Failed(NO_CP.to_string()));
        }
        assert!(NO_CP.contains("connect the receiver's `cp` output"));
        // A driver that gives the block no `cp` input at all.
        let mut b = build(&spec_encoder(), &params(0, 0)).unwrap();
        let e = run(
            &mut *b,
            Some(ItemType::Bit),
            &chunked(&data, &[16]),
            &[ItemType::Octet, ItemType::Bit],
            16,
            0,
        )
        .err()
        .unwrap();
        assert_eq!(e, NO_CP);
    }

    #[test]
    fn rate_zero_blocks_end_quietly_when_no_data_comes() {
        let r = encode_block(0, 0, &[], Some((&[0, 0], 0)), &[1], 16);
        // Every input ends: `cp` without a record is the error.
        assert_eq!(r.end, End::Failed(NO_CP.to_string()));
        // Data ended empty while `cp` is still open: nothing to wait for.
        let mut b = build(&spec_decoder(), &params(0, 0)).unwrap();
        let mut ins = [
            Input::new(ItemType::Octet),
            Input::new(ItemType::Bit),
            Input::new(ItemType::Octet),
        ];
        ins[0].set_eos();
        let mut outs = [Output::new(ItemType::Bit, 64)];
        let mut events = Events::new();
        let s = b.work(&mut WorkIo::new(&mut ins, &mut outs, &mut events));
        assert_eq!(s, Ok(Status::Done));
        assert_eq!(events[0].1["frames"], json!(0));
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(
            d in MIN_D..=MAX_D,
            sr in 0..=MAX_SR,
            seed in any::<u64>(),
            frames in 0usize..40,
        ) {
            let enc = ModulusEncoder::for_frame(d, sr).unwrap();
            let mut dec = ModulusDecoder::for_frame(d, sr).unwrap();
            let data = random_bits(frames * d as usize, seed);
            let (labels, signs) = encode(&enc, &data);
            let m = enc.moduli();
            prop_assert!(labels.iter().enumerate().all(|(j, &l)| u32::from(l) < m[j % FRAME]));
            let mut out = Vec::new();
            prop_assert_eq!(dec.process(&labels, &signs, &mut out), frames);
            prop_assert_eq!(out, data);
            prop_assert_eq!(dec.invalid_frames(), 0);
        }

        #[test]
        fn invalid_frames_are_exactly_those_no_encoder_sends(
            d in MIN_D..=MAX_D,
            sr in 0..=MAX_SR,
            labels in prop::collection::vec(any::<u8>(), 0..600),
        ) {
            let enc = ModulusEncoder::for_frame(d, sr).unwrap();
            let mut dec = ModulusDecoder::for_frame(d, sr).unwrap();
            let s = enc.s();
            let signs = vec![1u8; labels.len()];
            let mut out = Vec::new();
            let frames = dec.process(&labels, &signs, &mut out);
            prop_assert_eq!(frames, labels.len() / FRAME);
            let mut invalid = 0;
            for (f, chunk) in labels.chunks_exact(FRAME).enumerate() {
                // A frame is valid exactly when re-encoding its value gives
                // the same labels back.
                let bits = &out[f * enc.frame_bits()..(f + 1) * enc.frame_bits()];
                let (again, _) = encode(&enc, bits);
                invalid += u64::from(again != chunk);
                prop_assert!(bits[..s].iter().all(|&b| b == 1));
            }
            prop_assert_eq!(dec.invalid_frames(), invalid);
        }
    }
}
