//! V.90 mapper and PCM slicer (V.90 §5.4.4; modem-standards.md §5.4):
//! `pcm_mapper`, `pcm_slicer`.
//!
//! The mapper turns the label K_i of interval i into the Ucode it selects in
//! constellation C_i: label 0 is the largest Ucode and label M_i − 1 the
//! smallest. The slicer is the analogue modem's decision: a received value
//! goes to the nearest of the 2·M_i signed levels ±(Table 1 value)/32768 of
//! its interval, giving the label and the sign (V.90 §5.4.6: 1 = positive).
//!
//! Interval i is the symbol index mod 6 counted from the start of the
//! stream. Both ends build their constellations with
//! [`Constellation::design`] from `law`, K (from `rate` and `sr`) and
//! `max_ucode`, so they agree without exchanging them; with `rate` = 0 the
//! mapper instead takes the constellations the receiver chose from its CP
//! record.

use super::constellation::Constellation;
use super::params::{
    constellation_arg, cp_config, cp_port, fixed_rate_param, law_arg, law_param, max_ucode_arg,
    max_ucode_param, rate_arg, rate_param, sr_arg, sr_param, CpInput,
};
use super::rates::FRAME;
use super::ucode::{linear, UCODES};
use crate::core::level::F32_FULL_SCALE_I16;
use crate::g711::law::Law;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, PortSpec, Registry, Status, WorkIo,
};
use serde_json::json;

/// f32 full scale on the i16 scale, as `i16_to_f32` uses: a Table 1 value v
/// is v/32768 on an f32 stream.
const LINE_SCALE: f32 = F32_FULL_SCALE_I16 as f32;

/// The value on the line of Ucode `u` sent positive: its V.90 Table 1 linear
/// value / 32768 (the scale of `i16_to_f32`). Exact in f32.
pub fn level(law: Law, u: u8) -> f32 {
    linear(law, u) as f32 / LINE_SCALE
}

/// The V.90 §5.4.4 mapper: label → Ucode, per interval.
#[derive(Clone, Debug)]
pub struct Mapper {
    /// Ucodes of interval i by label, largest first.
    ucodes: [[u8; UCODES]; FRAME],
    moduli: [usize; FRAME],
    clamped: u64,
}

impl Mapper {
    pub fn new(c: &Constellation) -> Mapper {
        let mut ucodes = [[0u8; UCODES]; FRAME];
        let mut moduli = [0usize; FRAME];
        for i in 0..FRAME {
            // Constellation::new allows at most the 128 distinct Ucodes.
            let iv = c.interval(i);
            let m = iv.len().min(UCODES);
            ucodes[i][..m].copy_from_slice(&iv[..m]);
            moduli[i] = m;
        }
        Mapper {
            ucodes,
            moduli,
            clamped: 0,
        }
    }

    /// V.90 §5.4.4: the Ucode labelled `label` in interval `i` (mod 6);
    /// label 0 is the largest. `None` for a label ≥ M_i.
    pub fn ucode(&self, i: usize, label: u8) -> Option<u8> {
        let i = i % FRAME;
        let l = usize::from(label);
        (l < self.moduli[i]).then(|| self.ucodes[i][l])
    }

    /// Maps `labels`, the first in interval `first_interval` (mod 6), into
    /// `out` (as long as `labels`; extra items are left alone). A label ≥ M_i
    /// is clamped to M_i − 1 (the smallest Ucode) and counted.
    pub fn process(&mut self, first_interval: usize, labels: &[u8], out: &mut [u8]) {
        let mut i = first_interval % FRAME;
        for (o, &label) in out.iter_mut().zip(labels) {
            let m = self.moduli[i];
            let l = usize::from(label);
            let l = if l < m {
                l
            } else {
                self.clamped += 1;
                m.saturating_sub(1)
            };
            *o = self.ucodes[i][l];
            i = if i + 1 == FRAME { 0 } else { i + 1 };
        }
    }

    /// Labels clamped so far.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }
}

/// Largest number of decision thresholds: 128 levels give 127, and a
/// power-of-two table lets the search run a fixed number of steps.
const THRESHOLDS: usize = 128;

/// One interval's decision table.
#[derive(Clone, Debug)]
struct Table {
    m: usize,
    /// Positive levels, largest first (index = label).
    desc: [f32; UCODES],
    /// Midpoints between neighbouring positive levels, ascending, padded
    /// with +∞: the number below |x| is the nearest level's rank from the
    /// smallest. Midpoints of the exact levels are exact in f32.
    thresholds: [f32; THRESHOLDS],
    /// For each magnitude bin (see [`bin`]), how many thresholds lie below
    /// the bin's smallest value: where the search for |x| in it starts.
    start: [u8; BINS],
}

/// Magnitude bins for the slicer's first guess: an f32's exponent and top
/// four mantissa bits, i.e. 16 bins per octave — as fine as G.711's 16 steps
/// per segment, so a bin holds at most a couple of thresholds — from 2^-17
/// (below the smallest step, 8/32768 = 2^-12) to 2.
const BIN_SHIFT: u32 = 19;
const BIN_BASE: u32 = (0x3F80_0000 - (17 << 23)) >> BIN_SHIFT;
const BINS: usize = ((0x4000_0000 >> BIN_SHIFT) - BIN_BASE + 1) as usize;

/// The bin of a magnitude a ≥ 0 (non-finite and huge values go to the top
/// bin, tiny ones to the bottom).
#[inline]
fn bin(a: f32) -> usize {
    ((a.to_bits() >> BIN_SHIFT).saturating_sub(BIN_BASE) as usize).min(BINS - 1)
}

/// The analogue modem's PCM decision (V.90 §5.4.4, §5.4.6): the nearest
/// signed level of a symbol's interval, as label, sign and level.
#[derive(Clone, Debug)]
pub struct Slicer {
    tables: [Table; FRAME],
}

impl Slicer {
    pub fn new(c: &Constellation) -> Slicer {
        let law = c.law();
        let levels: [Vec<f32>; FRAME] =
            std::array::from_fn(|i| c.interval(i).iter().map(|&u| level(law, u)).collect());
        Slicer::from_levels(&levels)
    }

    /// A slicer for given positive levels per interval, largest first
    /// (index = label), e.g. as the receiver measured them: at most 128 per
    /// interval are used. Levels out of order or not finite give odd
    /// decisions but no panic.
    pub fn from_levels(levels: &[Vec<f32>; FRAME]) -> Slicer {
        let tables = std::array::from_fn(|i| {
            let lv = &levels[i];
            let m = lv.len().min(UCODES);
            let mut desc = [0f32; UCODES];
            desc[..m].copy_from_slice(&lv[..m]);
            let mut thresholds = [f32::INFINITY; THRESHOLDS];
            // Ascending rank r has level desc[m − 1 − r].
            for (r, t) in thresholds.iter_mut().enumerate().take(m.saturating_sub(1)) {
                *t = (desc[m - 1 - r] + desc[m - 2 - r]) / 2.0;
            }
            let mut start = [0u8; BINS];
            for (b, st) in start.iter_mut().enumerate() {
                let lo = if b == 0 {
                    0.0
                } else {
                    f32::from_bits((b as u32 + BIN_BASE) << BIN_SHIFT)
                };
                *st = thresholds.iter().take_while(|&&t| t < lo).count() as u8;
            }
            Table {
                m,
                desc,
                thresholds,
                start,
            }
        });
        Slicer { tables }
    }

    /// The positive levels of interval `i` (mod 6), largest first: index =
    /// label, value = Table 1 linear value / 32768 (from [`Slicer::new`]) or
    /// as given to [`Slicer::from_levels`].
    pub fn levels(&self, i: usize) -> &[f32] {
        let t = &self.tables[i % FRAME];
        &t.desc[..t.m]
    }

    /// The nearest of the 2·M_i signed levels of interval `i` (mod 6) to `x`:
    /// (label, positive, signed level). For x ≥ 0 the level +l is never
    /// farther than −l, so the sign is the sign of x and the magnitude is
    /// the level nearest |x|; an exact tie between two levels goes to the
    /// larger. x = ±0 and NaN count as positive; NaN gives the smallest
    /// level, ±∞ the largest.
    #[inline]
    pub fn slice(&self, i: usize, x: f32) -> (u8, bool, f32) {
        let t = &self.tables[i % FRAME];
        let positive = x >= 0.0 || x.is_nan();
        let a = x.abs();
        // How many thresholds lie below |x|: start from the count below its
        // magnitude bin and step over the (at most few) inside the bin. NaN
        // stays at rank 0.
        let mut rank = 0;
        if !a.is_nan() {
            rank = usize::from(t.start[bin(a)]);
            while t.thresholds[rank] < a {
                rank += 1;
            }
        }
        // rank ≤ M − 1 because the padding is +∞ (and +∞ < +∞ is false).
        let label = t.m.saturating_sub(1).saturating_sub(rank);
        let l = t.desc[label];
        (label as u8, positive, if positive { l } else { -l })
    }

    /// Slices `x`, the first value in interval `first_interval` (mod 6), into
    /// `labels` and `signs` (1 = positive), each as long as `x`.
    pub fn process(&self, first_interval: usize, x: &[f32], labels: &mut [u8], signs: &mut [u8]) {
        let mut i = first_interval % FRAME;
        for ((&v, l), s) in x.iter().zip(labels.iter_mut()).zip(signs.iter_mut()) {
            let (label, positive, _) = self.slice(i, v);
            *l = label;
            *s = u8::from(positive);
            i = if i + 1 == FRAME { 0 } else { i + 1 };
        }
    }
}

struct MapperBlock {
    /// `None` until a CP record has set the constellations (`rate` = 0).
    mapper: Option<Mapper>,
    sr: u32,
    law: Law,
    cp: CpInput,
    /// Interval of the next symbol.
    phase: usize,
    symbols: u64,
    reported: bool,
}

impl Block for MapperBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        if let Some(cp) = self.cp.poll(io.inputs.get_mut(1))? {
            let (_, c) = cp_config(&cp, self.sr, self.law)?;
            self.mapper = Some(Mapper::new(&c));
        }
        // Nothing is read before the CP.
        if let Some(mapper) = &mut self.mapper {
            let phase = self.phase;
            let n = io.map::<u8, u8>(|labels, out| mapper.process(phase, labels, out));
            self.phase = (phase + n) % FRAME;
            self.symbols += n as u64;
        }
        if !io.inputs[0].finished() {
            return Ok(Status::Ok);
        }
        if !self.reported {
            self.reported = true;
            let clamped = self.mapper.as_ref().map_or(0, Mapper::clamped);
            io.emit(
                "symbols",
                json!({"symbols": self.symbols, "clamped": clamped}),
            );
        }
        Ok(Status::Done)
    }
}

struct SlicerBlock {
    slicer: Slicer,
    phase: usize,
}

impl Block for SlicerBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0]
            .available()
            .min(io.outputs[0].space())
            .min(io.outputs[1].space());
        let (labels, signs) = io.outputs.split_at_mut(1);
        self.slicer.process(
            self.phase,
            &io.inputs[0].items::<f32>()[..n],
            labels[0].append::<u8>(n),
            signs[0].append::<u8>(n),
        );
        io.inputs[0].consume(n);
        self.phase = (self.phase + n) % FRAME;
        Ok(if io.inputs[0].finished() {
            Status::Done
        } else {
            Status::Ok
        })
    }
}

fn make_mapper(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let sr = sr_arg(args)?;
    let law = law_arg(args)?;
    max_ucode_arg(args)?;
    let d = rate_arg(args)?;
    let mapper = match d {
        Some(_) => Some(Mapper::new(&constellation_arg(args)?)),
        None => None,
    };
    Ok(Box::new(MapperBlock {
        mapper,
        sr,
        law,
        cp: CpInput::new(d),
        phase: 0,
        symbols: 0,
        reported: false,
    }))
}

fn make_slicer(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(SlicerBlock {
        slicer: Slicer::new(&constellation_arg(args)?),
        phase: 0,
    }))
}

pub fn spec_mapper() -> BlockSpec {
    BlockSpec::new(
        "pcm_mapper",
        "Coding",
        "V.90 mapper: labels to Ucodes",
        make_mapper,
    )
    .doc(
        "V.90 §5.4.4: label K_i of interval i (symbol index mod 6 from the start of the \
         stream) selects a Ucode of constellation C_i, label 0 the largest and label \
         M_i − 1 the smallest. A label ≥ M_i (which `modulus_encoder` never sends) is \
         clamped to M_i − 1 and counted; at end of stream one `symbols` event gives the \
         totals. The sign is applied later, from the sign bits. \
         The constellations are `Constellation::design`'s for `law`, K (from `rate` and \
         `sr`: D = `rate`·6/8000, S = 6 − `sr`, K = D − S) and `max_ucode`: the moduli of \
         `modulus_encoder`, and in each interval the Ucodes up to `max_ucode` whose levels \
         (with their mirror images) lie farthest apart. \
         With `rate` = 0 the receiver chooses (V.90 §8.5.2): the block reads nothing from \
         `in` until a CP record arrives on `cp`, then uses the record's Ucodes as the \
         constellations (`max_ucode` does not apply; K from its D and `sr` must fit \
         2^K ≤ Π M_i) and runs as at that fixed rate. A CP with D = 0 (no rate possible), \
         one that does not fit, a later different one, or `cp` ending without one is an \
         error. With a fixed rate `cp` may be left unconnected; if connected, a record \
         asking for another D is an error (the two ends disagree).",
    )
    .param(rate_param())
    .param(sr_param())
    .param(law_param())
    .param(max_ucode_param())
    .input(PortSpec::new(
        "in",
        ItemType::Octet,
        "labels, 6 per data frame",
    ))
    .input(cp_port())
    .output(PortSpec::new(
        "out",
        ItemType::Octet,
        "Ucodes 0…127, one per label",
    ))
    .event(EventSpec::new(
        "symbols",
        "the totals, emitted once at end of stream",
        &[
            ("symbols", "labels mapped (integer)"),
            ("clamped", "labels ≥ M_i clamped to M_i − 1 (integer)"),
        ],
    ))
}

pub fn spec_slicer() -> BlockSpec {
    BlockSpec::new(
        "pcm_slicer",
        "Coding",
        "V.90 PCM decision: received values to labels and signs",
        make_slicer,
    )
    .doc(
        "The analogue modem's decision on equalised PCM symbols: each value goes to the \
         nearest of the 2·M_i levels ±(Table 1 linear value)/32768 of its interval's Ucodes \
         (the scale of `i16_to_f32`; interval = symbol index mod 6 from the start of the \
         stream). Outputs the label (0 = largest Ucode, V.90 §5.4.4) and the sign bit \
         (1 = positive, V.90 §5.4.6). Ties go to the larger level; 0 and NaN count as \
         positive, NaN as the smallest level. \
         The constellations are `Constellation::design`'s for `law`, K (from `rate` and \
         `sr`: D = `rate`·6/8000, S = 6 − `sr`, K = D − S) and `max_ucode`, the same as \
         `pcm_mapper`'s.",
    )
    .param(fixed_rate_param())
    .param(sr_param())
    .param(law_param())
    .param(max_ucode_param())
    .input(PortSpec::new(
        "in",
        ItemType::F32,
        "received symbol values, full scale ±1 = ±32768 on Table 1's scale",
    ))
    .output(PortSpec::new("labels", ItemType::Octet, "decided labels"))
    .output(PortSpec::new(
        "signs",
        ItemType::Bit,
        "decided signs, 1 = positive",
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec_mapper());
    r.register(spec_slicer());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::drive::{drive, Driven, End, Feed};
    use crate::testutil::{chunked, items, make as build, run, Events};
    use crate::v90::cp::Cp;
    use crate::v90::modulus::{ModulusDecoder, ModulusEncoder};
    use crate::v90::params::NO_CP;
    use crate::v90::rates::{bit_rate, bits_per_frame, split, MAX_SR};
    use crate::v90::ucode::MAX_UCODE;
    use crate::v90::ucode::{octet, signed_linear};
    use modemflow_flow::{Input, Item, Output, Value};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    const LAWS: [(Law, &str); 2] = [(Law::Mu, "mu"), (Law::A, "a")];

    fn design(law: Law, rate: u32, sr: u32) -> Constellation {
        let (k, _) = split(bits_per_frame(rate).unwrap(), sr).unwrap();
        Constellation::design(law, k, MAX_UCODE).unwrap()
    }

    fn params(rate: i64, sr: i64, law: &str) -> Vec<(&'static str, Value)> {
        vec![
            ("rate", Value::Int(rate)),
            ("sr", Value::Int(sr)),
            ("law", Value::from(law)),
        ]
    }

    /// The nearest of all 2·M signed levels, by exhaustive search in f64:
    /// its distance to `x`.
    fn nearest_distance(s: &Slicer, i: usize, x: f32) -> f64 {
        s.levels(i)
            .iter()
            .flat_map(|&l| [f64::from(l), -f64::from(l)])
            .map(|l| (f64::from(x) - l).abs())
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn worked_example_of_section_5_6() {
        // modem-standards.md §5.6: µ-law, C = {10, 16, …, 100} everywhere,
        // K = 24, S = 6; signs $ = 1,1,0,1,1,1 given (sign coding is not here).
        let d: Vec<u8> = "101100011010100010110001001000"
            .bytes()
            .map(|c| c - b'0')
            .collect();
        let c = Constellation::new(
            Law::Mu,
            std::array::from_fn(|_| (10..=100).step_by(6).collect()),
        )
        .unwrap();
        assert_eq!(c.moduli(), [16; 6]);
        let enc = ModulusEncoder::new(24, 6, c.moduli()).unwrap();
        let (mut labels, mut signs) = (Vec::new(), Vec::new());
        enc.process(&d, &mut labels, &mut signs);
        let mut mapper = Mapper::new(&c);
        let mut ucodes = [0u8; 6];
        mapper.process(0, &labels, &mut ucodes);
        assert_eq!(ucodes, [64, 70, 76, 82, 88, 94]);
        let dollars = [true, true, false, true, true, true];
        let octets: Vec<u8> = ucodes
            .iter()
            .zip(dollars)
            .map(|(&u, p)| octet(Law::Mu, u, p))
            .collect();
        assert_eq!(octets, [0xBF, 0xB9, 0x33, 0xAD, 0xA7, 0xA1]);
        let lin: Vec<i32> = octets.iter().map(|&o| signed_linear(Law::Mu, o)).collect();
        assert_eq!(lin, [1980, 2748, -3516, 4604, 6140, 7676]);
        // And back: slicer, then the modulus decoder recovers the K bits.
        let slicer = Slicer::new(&c);
        let x: Vec<f32> = lin.iter().map(|&v| v as f32 / 32768.0).collect();
        let (mut l2, mut s2) = ([0u8; 6], [0u8; 6]);
        slicer.process(0, &x, &mut l2, &mut s2);
        assert_eq!(l2, [6, 5, 4, 3, 2, 1]);
        assert_eq!(s2, [1, 1, 0, 1, 1, 1]);
        let mut dec = ModulusDecoder::new(24, 6, c.moduli()).unwrap();
        let mut out = Vec::new();
        dec.process(&l2, &signs, &mut out);
        assert_eq!(out, d);
    }

    #[test]
    fn mapper_then_line_then_slicer_gives_back_every_label_and_sign() {
        let mut rng = Pcg64::seed_from_u64(1);
        for (law, _) in LAWS {
            for rate in [28000, 40000, 56000] {
                for sr in 0..=MAX_SR {
                    let c = design(law, rate, sr);
                    let mut mapper = Mapper::new(&c);
                    let slicer = Slicer::new(&c);
                    for i in 0..FRAME {
                        let m = c.interval(i).len();
                        assert_eq!(slicer.levels(i).len(), m);
                        for label in 0..m as u8 {
                            let mut u = [0u8];
                            mapper.process(i, &[label], &mut u);
                            assert_eq!(Some(u[0]), mapper.ucode(i, label));
                            assert_eq!(u[0], c.interval(i)[usize::from(label)]);
                            let positive = rng.random::<bool>();
                            let v = linear(law, u[0]) as f32 / 32768.0;
                            let x = if positive { v } else { -v };
                            let (l, p, lv) = slicer.slice(i, x);
                            assert_eq!((l, p, lv), (label, positive, x), "{law:?} {rate} i {i}");
                            // Interval i + 6 is interval i.
                            assert_eq!(slicer.slice(i + 6, x), (l, p, lv));
                        }
                    }
                    assert_eq!(mapper.clamped(), 0);
                }
            }
        }
    }

    #[test]
    fn levels_are_the_table_1_values_largest_first() {
        for (law, _) in LAWS {
            let c = design(law, 56000, 0);
            let s = Slicer::new(&c);
            for i in 0..FRAME {
                let want: Vec<f32> = c.interval(i).iter().map(|&u| level(law, u)).collect();
                assert_eq!(s.levels(i), want);
                assert!(s.levels(i).windows(2).all(|w| w[0] > w[1]));
            }
        }
        assert_eq!(level(Law::Mu, 127), 32124.0 / 32768.0);
        assert_eq!(level(Law::A, 0), 8.0 / 32768.0);
    }

    #[test]
    fn slicer_picks_the_nearest_signed_level() {
        let mut rng = Pcg64::seed_from_u64(2);
        for (law, _) in LAWS {
            for rate in [28000, 40000, 56000] {
                let s = Slicer::new(&design(law, rate, 0));
                for n in 0..20_000 {
                    // Full range, and close to zero where ±smallest meet.
                    let x: f32 = if n % 2 == 0 {
                        rng.random_range(-1.1..1.1)
                    } else {
                        rng.random_range(-0.002..0.002)
                    };
                    let i = n % FRAME;
                    let (label, positive, l) = s.slice(i, x);
                    let want = nearest_distance(&s, i, x);
                    assert_eq!((f64::from(x) - f64::from(l)).abs(), want, "{x}");
                    let mag = s.levels(i)[usize::from(label)];
                    assert_eq!(l, if positive { mag } else { -mag });
                }
            }
        }
    }

    #[test]
    fn noise_below_half_the_least_distance_never_errs() {
        let mut rng = Pcg64::seed_from_u64(3);
        for (law, _) in LAWS {
            for rate in [28000, 40000, 56000] {
                let c = design(law, rate, 0);
                let s = Slicer::new(&c);
                let half = c.min_distance() as f32 / 2.0 / 32768.0;
                for n in 0..50_000 {
                    let i = n % FRAME;
                    let label = rng.random_range(0..c.interval(i).len());
                    let positive = rng.random::<bool>();
                    let v = s.levels(i)[label];
                    let noise = rng.random_range(-0.999..0.999) * half;
                    let x = if positive { v } else { -v } + noise;
                    let (l, p, _) = s.slice(i, x);
                    assert_eq!((usize::from(l), p), (label, positive), "{law:?} {rate}");
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics_and_nan_is_the_smallest_positive_level() {
        let c = design(Law::Mu, 56000, 0);
        let s = Slicer::new(&c);
        let last = (c.interval(0).len() - 1) as u8;
        let top = s.levels(0)[0];
        assert_eq!(s.slice(0, f32::NAN), (last, true, s.levels(0)[63]));
        assert_eq!(s.slice(0, -f32::NAN).0, last);
        assert_eq!(s.slice(0, f32::INFINITY), (0, true, top));
        assert_eq!(s.slice(0, f32::NEG_INFINITY), (0, false, -top));
        assert_eq!(s.slice(0, 1e30), (0, true, top));
        assert_eq!(s.slice(0, -1e30), (0, false, -top));
        assert!(s.slice(0, 0.0).1);
        assert!(s.slice(0, -0.0).1);
        assert_eq!(s.slice(usize::MAX, 0.5), s.slice(usize::MAX % 6, 0.5));
        let x = crate::testutil::garbage_f32(3000, 1);
        let mut b = build(&spec_slicer(), &params(56000, 0, "mu")).unwrap();
        let r = run(
            &mut *b,
            Some(ItemType::F32),
            &chunked(&x, &[7, 333]),
            &[ItemType::Octet, ItemType::Bit],
            64,
            0,
        )
        .unwrap();
        assert_eq!(items::<u8>(&r.outputs[0]).len(), x.len());
        assert!(items::<u8>(&r.outputs[1]).iter().all(|&b| b <= 1));
        // The mapper clamps and counts labels ≥ M_i.
        let junk: Vec<u8> = (0..=255).cycle().take(3000).collect();
        let mut b = build(&spec_mapper(), &params(28000, 0, "a")).unwrap();
        let r = run(
            &mut *b,
            Some(ItemType::Octet),
            &chunked(&junk, &[1, 100]),
            &[ItemType::Octet],
            50,
            0,
        )
        .unwrap();
        let out = items::<u8>(&r.outputs[0]);
        assert_eq!(out.len(), junk.len());
        let c = design(Law::A, 28000, 0);
        let mut clamped = 0;
        for (n, (&l, &u)) in junk.iter().zip(&out).enumerate() {
            let iv = c.interval(n % FRAME);
            let l = usize::from(l);
            clamped += u64::from(l >= iv.len());
            assert_eq!(u, iv[l.min(iv.len() - 1)]);
        }
        assert!(clamped > 2000);
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].0, "symbols");
        assert_eq!(r.events[0].1["symbols"], json!(3000));
        assert_eq!(r.events[0].1["clamped"], json!(clamped));
    }

    #[test]
    fn blocks_are_chunk_invariant_and_keep_the_interval_count() {
        let mut rng = Pcg64::seed_from_u64(4);
        for (law, name) in LAWS {
            let c = design(law, 40000, 1);
            let n = 6000 + 5;
            let labels: Vec<u8> = (0..n)
                .map(|j| rng.random_range(0..c.interval(j % FRAME).len()) as u8)
                .collect();
            let want_u: Vec<u8> = labels
                .iter()
                .enumerate()
                .map(|(j, &l)| c.interval(j % FRAME)[usize::from(l)])
                .collect();
            let signs: Vec<bool> = (0..n).map(|_| rng.random()).collect();
            let x: Vec<f32> = want_u
                .iter()
                .zip(&signs)
                .map(|(&u, &p)| {
                    let noise = rng.random_range(-1e-4..1e-4);
                    let v = if p { level(law, u) } else { -level(law, u) };
                    v + noise
                })
                .collect();
            let p = params(40000, 1, name);
            for (sizes, cap) in [
                (&[1][..], 1),
                (&[7], 7),
                (&[333], 64),
                (&[4096], 4096),
                (&[1, 7, 333, 4096], 5),
            ] {
                let mut b = build(&spec_mapper(), &p).unwrap();
                let r = run(
                    &mut *b,
                    Some(ItemType::Octet),
                    &chunked(&labels, sizes),
                    &[ItemType::Octet],
                    cap,
                    0,
                )
                .unwrap();
                assert_eq!(items::<u8>(&r.outputs[0]), want_u, "{sizes:?}");
                let mut b = build(&spec_slicer(), &p).unwrap();
                let r = run(
                    &mut *b,
                    Some(ItemType::F32),
                    &chunked(&x, sizes),
                    &[ItemType::Octet, ItemType::Bit],
                    cap,
                    0,
                )
                .unwrap();
                assert_eq!(items::<u8>(&r.outputs[0]), labels, "{sizes:?}");
                let got: Vec<bool> = items::<u8>(&r.outputs[1]).iter().map(|&b| b == 1).collect();
                assert_eq!(got, signs, "{sizes:?}");
            }
        }
    }

    #[test]
    fn bad_parameters_name_the_parameter_and_a_fix() {
        for spec in [spec_mapper(), spec_slicer()] {
            let mut p = params(56000, 0, "mu");
            p.push(("max_ucode", Value::Int(40)));
            let e = build(&spec, &p).err().unwrap();
            assert!(
                e.contains("`max_ucode` = 40") && e.contains("`rate`"),
                "{e}"
            );
            let e = build(&spec, &params(29000, 0, "mu")).err().unwrap();
            assert!(e.contains("`rate`"), "{e}");
            let e = build(&spec, &params(56000, 0, "b")).err().unwrap();
            assert!(e.contains("`law`"), "{e}");
            let mut p = params(56000, 0, "mu");
            p.push(("max_ucode", Value::Int(0)));
            assert!(build(&spec, &p).err().unwrap().contains("`max_ucode`"));
            // A lower rate fits below the same limit.
            let mut p = params(28000, 0, "mu");
            p.push(("max_ucode", Value::Int(40)));
            assert!(build(&spec, &p).is_ok());
        }
    }

    /// The CP a receiver would send for `Constellation::design(law, K,
    /// max_ucode)` at D with S_r, and that constellation.
    fn cp_for(law: Law, d: u32, sr: u32, max_ucode: u8) -> (Cp, Constellation) {
        let (k, _) = split(d, sr).unwrap();
        let c = Constellation::design(law, k, max_ucode).unwrap();
        let cp = Cp {
            d,
            ucodes: std::array::from_fn(|i| c.interval(i).to_vec()),
        };
        (cp, c)
    }

    fn cp_stream(cp: &Cp, zeros: usize) -> Vec<u8> {
        let mut v = vec![0; zeros];
        v.extend(cp.octets());
        v
    }

    /// `pcm_mapper` with `params`, `cp` fed from step `from` (`None`:
    /// unconnected).
    fn map_block(
        params: &[(&'static str, Value)],
        labels: &[u8],
        cp: Option<(&[u8], usize)>,
        sizes: &[usize],
        cap: usize,
    ) -> Driven {
        let mut b = build(&spec_mapper(), params).unwrap();
        let cp = match cp {
            Some((octets, from)) => Feed::new(ItemType::Octet, octets).from(from),
            None => Feed::unconnected(ItemType::Octet),
        };
        drive(
            &mut *b,
            &[Feed::new(ItemType::Octet, labels), cp],
            &[ItemType::Octet],
            sizes,
            cap,
        )
    }

    fn mapper_params(rate: i64, sr: i64, law: &str, max_ucode: u8) -> Vec<(&'static str, Value)> {
        let mut p = params(rate, sr, law);
        p.push(("max_ucode", Value::Int(i64::from(max_ucode))));
        p
    }

    #[test]
    fn rate_zero_with_a_cp_maps_exactly_as_the_fixed_rate() {
        let mut rng = Pcg64::seed_from_u64(5);
        for (law, name) in LAWS {
            for (d, sr, max_ucode) in [(42, 0, 127), (21, 3, 127), (33, 1, 110), (38, 2, 120)] {
                let (cp, c) = cp_for(law, d, sr, max_ucode);
                let stream = cp_stream(&cp, 40);
                // Labels in range, and a few beyond M_i (clamped and counted).
                let labels: Vec<u8> = (0..3000)
                    .map(|j| {
                        let m = c.interval(j % FRAME).len();
                        if j % 97 == 5 {
                            200
                        } else {
                            rng.random_range(0..m) as u8
                        }
                    })
                    .collect();
                let sr = i64::from(sr);
                let fixed_p = mapper_params(i64::from(bit_rate(d)), sr, name, max_ucode);
                let want = map_block(&fixed_p, &labels, None, &[4096], 4096);
                assert_eq!(want.end, End::Done);
                assert_eq!(want.outputs[0].len(), labels.len());
                assert!(want.events[0].1["clamped"].as_u64().unwrap() > 0);
                for (sizes, cap) in [
                    (&[1][..], 1),
                    (&[7], 7),
                    (&[333], 64),
                    (&[1, 7, 333, 4096], 5),
                ] {
                    // The CP's Ucodes are used whatever `max_ucode` says.
                    let auto_p = mapper_params(0, sr, name, MAX_UCODE);
                    let r = map_block(&auto_p, &labels, Some((&stream, 0)), sizes, cap);
                    assert_eq!(r.end, End::Done, "{law:?} D {d} {sizes:?}");
                    assert_eq!(r.outputs, want.outputs, "{law:?} D {d} {sizes:?}");
                    assert_eq!(r.events, want.events, "{law:?} D {d} {sizes:?}");
                    let r = map_block(&fixed_p, &labels, Some((&stream, 0)), sizes, cap);
                    assert_eq!(r.end, End::Done, "{law:?} D {d} {sizes:?}");
                    assert_eq!(r.outputs, want.outputs, "{law:?} D {d} {sizes:?}");
                }
            }
        }
    }

    #[test]
    fn labels_before_the_cp_wait_unread_then_all_are_mapped() {
        let (cp, c) = cp_for(Law::A, 30, 0, MAX_UCODE);
        let labels: Vec<u8> = (0..600).map(|j| (j % 16) as u8).collect();
        let want: Vec<u8> = labels
            .iter()
            .enumerate()
            .map(|(j, &l)| c.interval(j % FRAME)[usize::from(l)])
            .collect();
        let mut b = build(&spec_mapper(), &params(0, 0, "a")).unwrap();
        let mut ins = [Input::new(ItemType::Octet), Input::new(ItemType::Octet)];
        ins[0].push(&u8::wrap(labels.clone()));
        let mut outs = [Output::new(ItemType::Octet, 10_000)];
        let mut events = Events::new();
        let mut call = |ins: &mut [Input], outs: &mut [Output]| {
            b.work(&mut WorkIo::new(ins, outs, &mut events)).unwrap()
        };
        for zeros in [0, 5, 60] {
            ins[1].push(&u8::wrap(vec![0; zeros]));
            assert_eq!(call(&mut ins, &mut outs), Status::Ok);
            assert_eq!(ins[0].available(), labels.len());
            assert_eq!(ins[1].available(), 0);
            assert!(outs[0].is_empty());
        }
        let octets = cp.octets();
        ins[1].push(&u8::wrap(octets[..50].to_vec()));
        assert_eq!(call(&mut ins, &mut outs), Status::Ok);
        assert!(outs[0].is_empty());
        ins[1].push(&u8::wrap(octets[50..].to_vec()));
        ins[0].set_eos();
        assert_eq!(call(&mut ins, &mut outs), Status::Done);
        assert_eq!(ins[0].available(), 0);
        assert_eq!(items::<u8>(&outs[0].take(ItemType::Octet.new_buf(0))), want);
        // Driven, the CP many steps after the last label.
        let stream = cp_stream(&cp, 3);
        for sizes in [&[1][..], &[7], &[100, 3]] {
            let late = labels.len() + 5;
            let r = map_block(
                &params(0, 0, "a"),
                &labels,
                Some((&stream, late)),
                sizes,
                16,
            );
            assert_eq!(r.end, End::Done, "{sizes:?}");
            assert_eq!(r.outputs[0], want, "{sizes:?}");
        }
    }

    #[test]
    fn bad_or_missing_cps_stop_the_mapper_with_a_clear_error() {
        let labels = vec![0u8; 120];
        let (good, _) = cp_for(Law::Mu, 36, 0, MAX_UCODE);
        let mut empty = good.clone();
        empty.ucodes[0].clear();
        let (small, _) = cp_for(Law::Mu, 24, 0, MAX_UCODE);
        let cases: [(Vec<u8>, &[&str]); 4] = [
            (
                cp_stream(
                    &Cp {
                        d: 0,
                        ..good.clone()
                    },
                    9,
                ),
                &["no V.90 rate", "better line"],
            ),
            (
                cp_stream(
                    &Cp {
                        d: 20,
                        ..good.clone()
                    },
                    0,
                ),
                &["D = 20", "not V.90"],
            ),
            (cp_stream(&empty, 0), &["CP record", "interval 0"]),
            (
                cp_stream(&Cp { d: 36, ..small }, 0),
                &["CP record", "K = 30", "2^K"],
            ),
        ];
        let p = params(0, 0, "mu");
        for (stream, words) in &cases {
            let r = map_block(&p, &labels, Some((stream, 0)), &[32], 32);
            let End::Failed(e) = &r.end else {
                panic!("{:?} for {words:?}", r.end);
            };
            assert!(words.iter().all(|w| e.contains(w)), "{e}");
            assert!(r.outputs[0].is_empty());
        }
        // No record at all.
        for cp in [None, Some((&[0u8; 10][..], 0))] {
            let r = map_block(&p, &labels, cp, &[32], 32);
            assert_eq!(r.end, End::Failed(NO_CP.to_string()));
        }
        let mut b = build(&spec_mapper(), &p).unwrap();
        let e = run(
            &mut *b,
            Some(ItemType::Octet),
            &chunked(&labels, &[32]),
            &[ItemType::Octet],
            32,
            0,
        )
        .err()
        .unwrap();
        assert_eq!(e, NO_CP);
    }

    #[test]
    fn a_fixed_rate_mapper_reads_the_cp_and_refuses_another_d() {
        let labels: Vec<u8> = (0..600).map(|j| (j % 50) as u8).collect();
        let p = params(56000, 0, "mu");
        let want = map_block(&p, &labels, None, &[64], 64);
        let (same, _) = cp_for(Law::Mu, 42, 0, MAX_UCODE);
        let r = map_block(&p, &labels, Some((&cp_stream(&same, 7), 0)), &[5, 64], 16);
        assert_eq!(r.end, End::Done);
        assert_eq!(r.outputs, want.outputs);
        assert_eq!(r.left, [0, 0]);
        let (other, _) = cp_for(Law::Mu, 39, 0, MAX_UCODE);
        let r = map_block(&p, &labels, Some((&cp_stream(&other, 7), 0)), &[5, 64], 16);
        let End::Failed(e) = &r.end else {
            panic!("{:?}", r.end);
        };
        assert!(e.contains("52000") && e.contains("disagree"), "{e}");
    }

    #[test]
    fn mapper_follows_the_receiver_and_the_slicer_needs_a_fixed_rate() {
        let mut r = Registry::new();
        register(&mut r);
        let m = r.get("pcm_mapper").unwrap();
        let names: Vec<&str> = m.inputs.iter().map(|p| p.name).collect();
        assert_eq!(names, ["in", "cp"]);
        assert!(m.inputs[1].optional);
        assert!(m.doc.contains("`rate` = 0"));
        assert!(build(&spec_mapper(), &params(0, 3, "a")).is_ok());
        let s = r.get("pcm_slicer").unwrap();
        assert_eq!(s.inputs.len(), 1);
        assert!(!s.param_spec("rate").unwrap().doc.contains("`cp`"));
        assert!(build(&spec_slicer(), &params(0, 0, "mu")).is_err());
    }

    #[test]
    fn a_slicer_from_measured_levels_decides_by_them() {
        let c = design(Law::Mu, 40000, 0);
        let exact = Slicer::new(&c);
        let levels: [Vec<f32>; FRAME] = std::array::from_fn(|i| exact.levels(i).to_vec());
        let same = Slicer::from_levels(&levels);
        let mut rng = Pcg64::seed_from_u64(6);
        for n in 0..5000 {
            let x = rng.random_range(-1.1f32..1.1);
            assert_eq!(same.slice(n % FRAME, x), exact.slice(n % FRAME, x));
        }
        // Levels as measured, a little off the table: decisions follow them.
        let scaled: [Vec<f32>; FRAME] =
            std::array::from_fn(|i| levels[i].iter().map(|l| l * 0.9).collect());
        let s = Slicer::from_levels(&scaled);
        for (i, lv) in scaled.iter().enumerate() {
            for (label, &l) in lv.iter().enumerate() {
                assert_eq!(s.slice(i, -l), (label as u8, false, -l));
            }
        }
        // Odd input never panics.
        let odd: [Vec<f32>; FRAME] = [
            vec![],
            vec![f32::NAN, 0.5],
            vec![0.1, 0.9, 0.3],
            vec![f32::INFINITY, -1.0],
            vec![0.5; 200],
            vec![f32::NEG_INFINITY],
        ];
        let s = Slicer::from_levels(&odd);
        for (i, lv) in odd.iter().enumerate() {
            for x in [0.0, -0.3, 0.7, f32::NAN, f32::INFINITY, -1e30] {
                let (label, _, _) = s.slice(i, x);
                assert!(usize::from(label) < lv.len().clamp(1, UCODES));
            }
        }
    }

    proptest! {
        /// Any constellation (also with µ-law Ucode 0, the level 0 that
        /// +0 and −0 share): the slicer's level is a nearest one.
        #[test]
        fn any_constellation_slices_to_a_nearest_level(
            a_law in any::<bool>(),
            sets in prop::collection::vec(prop::collection::btree_set(0u8..128, 1..129), 6),
            xs in prop::collection::vec(-1.2f32..1.2, 1..200),
        ) {
            let law = if a_law { Law::A } else { Law::Mu };
            let iv: [Vec<u8>; FRAME] = std::array::from_fn(|i| sets[i].iter().copied().collect());
            let c = Constellation::new(law, iv).unwrap();
            let s = Slicer::new(&c);
            let mut mapper = Mapper::new(&c);
            for (n, &x) in xs.iter().enumerate() {
                let i = n % FRAME;
                let (label, positive, l) = s.slice(i, x);
                prop_assert!(usize::from(label) < c.interval(i).len());
                prop_assert_eq!((f64::from(x) - f64::from(l)).abs(), nearest_distance(&s, i, x));
                let mut u = [0u8];
                mapper.process(i, &[label], &mut u);
                let v = level(law, u[0]);
                prop_assert_eq!(l, if positive { v } else { -v });
            }
        }
    }
}
