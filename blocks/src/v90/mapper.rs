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
//! `max_ucode`, so they agree without exchanging them.

use super::constellation::Constellation;
use super::params::{constellation_arg, law_param, max_ucode_param, rate_param, sr_param};
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
        let tables = std::array::from_fn(|i| {
            let iv = c.interval(i);
            let m = iv.len().min(UCODES);
            let mut desc = [0f32; UCODES];
            for (d, &u) in desc.iter_mut().zip(&iv[..m]) {
                *d = level(law, u);
            }
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
    /// label, value = Table 1 linear value / 32768.
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
    mapper: Mapper,
    /// Interval of the next symbol.
    phase: usize,
    symbols: u64,
    reported: bool,
}

impl Block for MapperBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let (mapper, phase) = (&mut self.mapper, self.phase);
        let n = io.map::<u8, u8>(|labels, out| mapper.process(phase, labels, out));
        self.phase = (phase + n) % FRAME;
        self.symbols += n as u64;
        if !io.inputs[0].finished() {
            return Ok(Status::Ok);
        }
        if !self.reported {
            self.reported = true;
            io.emit(
                "symbols",
                json!({"symbols": self.symbols, "clamped": self.mapper.clamped()}),
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
    Ok(Box::new(MapperBlock {
        mapper: Mapper::new(&constellation_arg(args)?),
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
         (with their mirror images) lie farthest apart.",
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
    .param(rate_param())
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
    use crate::testutil::{chunked, items, make as build, run};
    use crate::v90::modulus::{ModulusDecoder, ModulusEncoder};
    use crate::v90::rates::{bits_per_frame, split, MAX_SR};
    use crate::v90::ucode::MAX_UCODE;
    use crate::v90::ucode::{octet, signed_linear};
    use modemflow_flow::Value;
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
        let garbage = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
            -1e30,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE / 2.0,
            0.0,
            -0.0,
        ];
        let x: Vec<f32> = (0..3000).map(|i| garbage[i % garbage.len()]).collect();
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
