//! The digital impairment learning sequence (V.90 §8.4.1, DIL; modem-standards
//! md §5.9–5.10) in simplified form, and its measurement.
//!
//! What the network does to each Ucode — robbed bits in some intervals,
//! digital pads that merge neighbouring codes, the loop's gain and noise —
//! the analogue modem learns by receiving every Ucode in every interval of
//! the data frame, with both signs. V.90's DIL does this with segments of
//! training and reference codes and sign/training patterns described in
//! Ja; here the sequence is fixed by the TRN1d scrambler: every Ucode
//! 0 … 127 in every interval, [`SEGMENT`]/6 = 8 times each, four with each
//! sign, in a scrambled order (see [`Dil`]). Then [`FILLER`] more TRN1d symbols
//! give the receiver time to choose while the line stays busy.
//!
//! [`DilMeasurement`] collects what the equalizer makes of each DIL symbol:
//! the mean received level of every (interval, Ucode, sign) and the noise
//! around those means in each interval.

use super::rates::FRAME;
use super::training::{check_training, training_params, Trn1d};
use super::ucode::{linear, UCODES};
use crate::core::level::{hundredths, power_f32_to_dbm0};
use crate::g711::law::Law;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, PortSpec, Rate, Status, WorkIo,
};

/// Symbols per Ucode: 8 per interval, 4 with each sign.
pub const SEGMENT: usize = 48;
/// Symbols of the DIL.
pub const LEN: usize = UCODES * SEGMENT;
/// TRN1d symbols after the DIL (a multiple of 6): longer than the
/// equalizer's reach past a symbol, so the last DIL symbols are measured
/// before any data is needed.
pub const FILLER: usize = 600;

/// Rounds of the DIL: in each, every (interval, Ucode) pair is sent once.
const ROUNDS: usize = SEGMENT / FRAME;

/// The DIL's symbols in order. It runs in [`ROUNDS`] rounds of 128 data
/// frames; in each round, interval i of frame f carries Ucode
/// (a·f + b) mod 128 for a (odd) and b drawn per round and interval, so every
/// Ucode comes once per round in every interval, in an order that looks
/// random — the equalizer's feedback filter, fed the sent values, then errs
/// where the network changed a code (pads, robbed bits) by amounts that do
/// not repeat with the measured symbol and so do not bias its mean. Each
/// (interval, Ucode) starts with a sign drawn from the TRN1d scrambler and
/// alternates from round to round: four times each sign in all.
#[derive(Clone, Debug, Default)]
pub struct Dil {
    k: usize,
    /// Per round and interval: (a, b); per interval and Ucode: first sign.
    order: Vec<(usize, usize)>,
    first: Vec<bool>,
}

impl Dil {
    /// The next symbol (Ucode, positive), drawing its randomness from `trn`
    /// at the first call.
    pub fn next(&mut self, trn: &mut Trn1d) -> (u8, bool) {
        if self.order.is_empty() {
            let mut bits =
                |n: usize| (0..n).fold(0usize, |v, _| v << 1 | usize::from(trn.next_sign()));
            self.order = (0..ROUNDS * FRAME)
                .map(|_| (2 * bits(6) + 1, bits(7)))
                .collect();
            self.first = (0..FRAME * UCODES).map(|_| bits(1) == 1).collect();
        }
        let k = self.k % LEN;
        self.k += 1;
        let (round, frame, interval) = (k / (UCODES * FRAME), (k / FRAME) % UCODES, k % FRAME);
        let (a, b) = self.order[round * FRAME + interval];
        let u = (a * frame + b) % UCODES;
        let positive = self.first[interval * UCODES + u] ^ (round % 2 == 1);
        (u as u8, positive)
    }
}

/// A symbol's value on the line (signed Table 1 value / 32768).
pub fn value(law: Law, u: u8, positive: bool) -> f32 {
    let v = linear(law, u) as f32 / 32768.0;
    if positive {
        v
    } else {
        -v
    }
}

/// Running sums for one (interval, Ucode, sign).
#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    n: u32,
    sum: f64,
    sum2: f64,
}

/// What the receiver saw of the DIL.
#[derive(Clone, Debug)]
pub struct DilMeasurement {
    cells: Vec<Cell>,
}

impl Default for DilMeasurement {
    fn default() -> Self {
        DilMeasurement {
            cells: vec![Cell::default(); FRAME * UCODES * 2],
        }
    }
}

fn index(interval: usize, u: u8, positive: bool) -> usize {
    (interval % FRAME) * UCODES * 2 + usize::from(u & 0x7F) * 2 + usize::from(positive)
}

impl DilMeasurement {
    /// One received DIL symbol: Ucode `u` sent with sign `positive` in
    /// `interval`, equalized to `y`.
    pub fn add(&mut self, interval: usize, u: u8, positive: bool, y: f32) {
        if !y.is_finite() {
            return;
        }
        let c = &mut self.cells[index(interval, u, positive)];
        c.n += 1;
        c.sum += f64::from(y);
        c.sum2 += f64::from(y) * f64::from(y);
    }

    /// The mean received level of Ucode `u` in `interval`, from both signs:
    /// (mean of the positives − mean of the negatives) / 2; None if unseen.
    pub fn level(&self, interval: usize, u: u8) -> Option<f64> {
        let p = self.cells[index(interval, u, true)];
        let m = self.cells[index(interval, u, false)];
        match (p.n, m.n) {
            (0, 0) => None,
            (_, 0) => Some(p.sum / f64::from(p.n)),
            (0, _) => Some(-m.sum / f64::from(m.n)),
            _ => Some((p.sum / f64::from(p.n) - m.sum / f64::from(m.n)) / 2.0),
        }
    }

    /// The noise power around the means in `interval`, pooled over every
    /// Ucode and sign.
    pub fn noise(&self, interval: usize) -> f64 {
        let (mut ss, mut dof) = (0.0, 0.0);
        for u in 0..UCODES as u8 {
            for positive in [false, true] {
                let c = self.cells[index(interval, u, positive)];
                if c.n >= 2 {
                    let mean = c.sum / f64::from(c.n);
                    ss += (c.sum2 - mean * c.sum).max(0.0);
                    dof += f64::from(c.n - 1);
                }
            }
        }
        if dof > 0.0 {
            ss / dof
        } else {
            0.0
        }
    }
}

/// Values in a line-profile record: a level for every (interval, Ucode),
/// then a noise power for every interval.
pub const RECORD: usize = FRAME * UCODES + FRAME;

/// What the DIL taught the receiver about the line: the received level of
/// every Ucode in every interval (None where it never arrived) and each
/// interval's noise power. The constellation designer needs nothing else.
#[derive(Clone, Debug, PartialEq)]
pub struct LineProfile {
    levels: Vec<Option<f64>>,
    noise: [f64; FRAME],
}

impl LineProfile {
    /// The received level of Ucode `u` in `interval`.
    pub fn level(&self, interval: usize, u: u8) -> Option<f64> {
        self.levels[(interval % FRAME) * UCODES + usize::from(u & 0x7F)]
    }

    /// The noise power in `interval`.
    pub fn noise(&self, interval: usize) -> f64 {
        self.noise[interval % FRAME]
    }

    /// As [`RECORD`] values on a stream: the levels interval by interval,
    /// Ucode 0 first, NaN where unseen; then the six noise powers.
    pub fn to_record(&self) -> Vec<f32> {
        let levels = self.levels.iter().map(|l| l.map_or(f32::NAN, |v| v as f32));
        // Powers beyond f32 (garbage on the line) stay finite.
        let noise = self
            .noise
            .iter()
            .map(|&n| n.min(f64::from(f32::MAX)) as f32);
        levels.chain(noise).collect()
    }

    /// Reads a record written by [`LineProfile::to_record`]. A noise power
    /// that is negative or not finite is refused; a level that is not
    /// finite counts as unseen.
    pub fn from_record(r: &[f32]) -> Result<LineProfile, String> {
        if r.len() != RECORD {
            return Err(format!(
                "a line profile has {RECORD} values, got {}",
                r.len()
            ));
        }
        let (levels, noise) = r.split_at(FRAME * UCODES);
        let mut n = [0.0; FRAME];
        for (i, (dst, &v)) in n.iter_mut().zip(noise).enumerate() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "the noise power of interval {i} is {v}: not a power"
                ));
            }
            *dst = f64::from(v);
        }
        Ok(LineProfile {
            levels: levels
                .iter()
                .map(|&l| l.is_finite().then_some(f64::from(l)))
                .collect(),
            noise: n,
        })
    }
}

impl DilMeasurement {
    /// The line as measured so far.
    pub fn profile(&self) -> LineProfile {
        LineProfile {
            levels: (0..FRAME)
                .flat_map(|i| (0..UCODES as u8).map(move |u| (i, u)))
                .map(|(i, u)| self.level(i, u))
                .collect(),
            noise: std::array::from_fn(|i| self.noise(i)),
        }
    }
}

/// The `dil_analyzer` block: measures the DIL on the line at the symbol
/// instants and sends the line profile.
struct Analyzer {
    trn: Trn1d,
    seq: Dil,
    /// Training symbols still to pass over.
    skip: usize,
    training: usize,
    /// DIL symbols measured so far.
    k: usize,
    measured: DilMeasurement,
    /// The record, once made, as far as it is not sent yet.
    record: Option<Vec<f32>>,
}

impl Block for Analyzer {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        if self.record.is_none() {
            let input = &mut io.inputs[0];
            let skip = self.skip.min(input.available());
            input.consume(skip);
            self.skip -= skip;
            let n = input.available().min(LEN - self.k);
            for &y in &input.items::<f32>()[..n] {
                let (u, positive) = self.seq.next(&mut self.trn);
                self.measured.add(self.k % FRAME, u, positive, y);
                self.k += 1;
            }
            input.consume(n);
            if self.k < LEN {
                if input.finished() && input.available() == 0 {
                    return Err(format!(
                        "the line ended {} symbols into the DIL, which is {LEN} symbols after the \
                         {} training symbols: send it with pcm_train and `rate` 0, with the same \
                         `training`, `u_info` and `law`",
                        self.k, self.training
                    ));
                }
                return Ok(Status::Ok);
            }
            let profile = self.measured.profile();
            let noise: Vec<f64> = (0..FRAME)
                .map(|i| hundredths(power_f32_to_dbm0(profile.noise(i))))
                .collect();
            let unseen = (0..FRAME)
                .flat_map(|i| (0..UCODES as u8).map(move |u| (i, u)))
                .filter(|&(i, u)| profile.level(i, u).is_none())
                .count();
            io.emit(
                "dil",
                serde_json::json!({"symbols": LEN, "noise_dbm0": noise, "unseen": unseen}),
            );
            self.record = Some(profile.to_record());
        }
        let Some(record) = &mut self.record else {
            return Ok(Status::Ok);
        };
        let out = &mut io.outputs[0];
        let n = record.len().min(out.space());
        out.items::<f32>().extend(record.drain(..n));
        // What follows the DIL on the line is not the analyser's business.
        Ok(if record.is_empty() {
            Status::Done
        } else {
            Status::Ok
        })
    }
}

fn make_analyzer(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let law = super::params::law_arg(a)?;
    let training = check_training(a.int("training")?)?;
    let mut trn = Trn1d::new(law, a.int("u_info")? as u8);
    // The DIL draws its order from TRN1d where the training leaves it.
    for _ in 0..training {
        trn.next_sign();
    }
    Ok(Box::new(Analyzer {
        trn,
        seq: Dil::default(),
        skip: training,
        training,
        k: 0,
        measured: DilMeasurement::default(),
        record: None,
    }))
}

pub fn analyzer_spec() -> BlockSpec {
    training_params(
        BlockSpec::new(
            "dil_analyzer",
            "V.90",
            "Measures each Ucode's received level and each interval's noise from the DIL",
            make_analyzer,
        )
        .doc(
            "The analogue modem's digital impairment learning (V.90 §8.4.1, simplified as `pcm_train` \
             sends it with `rate` 0): passes over `training` TRN1d symbols, then takes the DIL's 6144 \
             symbols — every Ucode in every interval of the data frame, eight times, four with each \
             sign — and measures the mean received level of each (interval, Ucode), from both signs, and \
             each interval's noise around those means. The input is the line at the symbol instants on \
             the scale of the Table 1 values / 32768: `line_codec_dac`'s output after a digital network, \
             or an equalizer's output; `pcm_equalizer` with `rate` 0 runs the same measurement on its own \
             output. Sends one line profile (a record of 774 values: the 6 × 128 levels, interval by \
             interval and Ucode 0 first, NaN where a Ucode never arrived, then the 6 noise powers) and \
             ends; what follows the DIL is not read. A line that ends inside the DIL is an error.",
        )
        .param(super::params::law_param()),
    )
    .input(PortSpec::new(
        "in",
        ItemType::F32,
        "the line at the symbol instants: TRN1d, then the DIL",
    ))
    .output(
        PortSpec::new("profile", ItemType::F32, "one line profile of 774 values").rate(Rate::Varies),
    )
    .event(EventSpec::new(
        "dil",
        "the DIL has been measured",
        &[
            ("symbols", "DIL symbols measured"),
            ("noise_dbm0", "noise power per interval, dBm0"),
            ("unseen", "(interval, Ucode) pairs with no level"),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ucode_in_every_interval_with_both_signs() {
        let mut trn = Trn1d::new(Law::Mu, 88);
        let mut dil = Dil::default();
        let mut seen = vec![[0u32; 2]; FRAME * UCODES];
        for k in 0..LEN {
            let (u, positive) = dil.next(&mut trn);
            seen[(k % FRAME) * UCODES + usize::from(u)][usize::from(positive)] += 1;
        }
        assert!(seen.iter().all(|s| s[0] == 4 && s[1] == 4), "{seen:?}");
        assert_eq!(LEN % FRAME, 0);
        assert_eq!(FILLER % FRAME, 0);
    }

    #[test]
    fn measures_levels_and_noise() {
        let mut m = DilMeasurement::default();
        let mut trn = Trn1d::new(Law::A, 88);
        let mut k = 0u64;
        for rep in 0..4 {
            let mut dil = Dil::default();
            for s in 0..LEN {
                let (u, positive) = dil.next(&mut trn);
                // Gain 0.5 and a deterministic ±1e-3 "noise".
                k += 1;
                let noise = if (k * 2_654_435_761) >> 7 & 1 == 0 {
                    1e-3
                } else {
                    -1e-3
                };
                m.add(
                    s % FRAME,
                    u,
                    positive,
                    0.5 * value(Law::A, u, positive) + noise,
                );
            }
            let _ = rep;
        }
        for u in [0u8, 50, 127] {
            let want = 0.5 * f64::from(value(Law::A, u, true));
            assert!((m.level(3, u).unwrap() - want).abs() < 1e-3, "{u}");
        }
        let n = m.noise(2);
        assert!((n.sqrt() - 1e-3).abs() < 2e-4, "{}", n.sqrt());
        assert_eq!(DilMeasurement::default().level(0, 5), None);
    }

    /// TRN1d for `training` symbols, then the DIL through gain 0.5 with a
    /// deterministic ±1e-3 noise, then `after` more symbols.
    fn line(
        law: Law,
        training: usize,
        dil_symbols: usize,
        after: usize,
    ) -> (Vec<f32>, LineProfile) {
        let mut trn = Trn1d::new(law, 88);
        let mut x: Vec<f32> = (0..training).map(|_| trn.next_value()).collect();
        let mut seq = Dil::default();
        let mut m = DilMeasurement::default();
        for k in 0..dil_symbols {
            let (u, positive) = seq.next(&mut trn);
            let noise = if (k * 2_654_435_761) >> 7 & 1 == 0 {
                1e-3
            } else {
                -1e-3
            };
            let y = 0.5 * value(law, u, positive) + noise;
            m.add(k % FRAME, u, positive, y);
            x.push(y);
        }
        x.extend((0..after).map(|_| trn.next_value()));
        (x, m.profile())
    }

    fn analyze(x: &[f32], sizes: &[usize]) -> Result<crate::testutil::Run, String> {
        use crate::testutil::{chunked, make, run};
        use modemflow_flow::Value;
        let params = [
            ("training", Value::Int(2040)),
            ("law", Value::Str("a".into())),
        ];
        let mut b = make(&analyzer_spec(), &params)?;
        run(
            b.as_mut(),
            Some(ItemType::F32),
            &chunked(x, sizes),
            &[ItemType::F32],
            100,
            usize::MAX,
        )
    }

    fn bits(r: &[f32]) -> Vec<u32> {
        r.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn analyzer_sends_the_profile_of_the_dil_after_the_training() {
        let (x, want) = line(Law::A, 2040, LEN, 5000);
        let first = analyze(&x, &[4096]).unwrap();
        let got = crate::testutil::items::<f32>(&first.outputs[0]);
        assert_eq!(got.len(), RECORD);
        assert_eq!(bits(&got), bits(&want.to_record()));
        assert_eq!(first.events.len(), 1);
        assert_eq!(first.events[0].0, "dil");
        assert_eq!(first.events[0].1["unseen"], serde_json::json!(0));
        // ±1e-3 around the means: −60 dBm0 + 3.14 dB… about −56.9 dBm0.
        let noise = first.events[0].1["noise_dbm0"][0].as_f64().unwrap();
        assert!(
            (noise - crate::core::level::rms_f32_to_dbm0(1e-3)).abs() < 0.5,
            "{noise}"
        );
        for sizes in [&[1usize][..], &[7, 333], &[6144]] {
            let again = analyze(&x, sizes).unwrap();
            assert_eq!(
                bits(&crate::testutil::items::<f32>(&again.outputs[0])),
                bits(&got),
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn a_line_that_ends_inside_the_dil_is_an_error() {
        let (x, _) = line(Law::A, 2040, 100, 0);
        let err = analyze(&x, &[64]).err().unwrap();
        assert!(err.contains("ended 100 symbols into the DIL"), "{err}");
        assert!(err.contains("pcm_train"), "{err}");
    }

    #[test]
    fn garbage_never_panics() {
        let x = crate::testutil::garbage_f32(2040 + LEN + 10, 3);
        let r = analyze(&x, &[999]).unwrap();
        let profile = LineProfile::from_record(&crate::testutil::items::<f32>(&r.outputs[0]));
        assert!(profile.is_ok(), "{profile:?}");
    }

    #[test]
    fn profile_records_round_trip_and_bad_ones_are_refused() {
        let (_, p) = line(Law::Mu, 0, 300, 0);
        let r = p.to_record();
        assert!(
            r.iter().any(|v| v.is_nan()),
            "300 symbols leave Ucodes unseen"
        );
        let back = LineProfile::from_record(&r).unwrap();
        assert_eq!(bits(&back.to_record()), bits(&r));
        assert!(LineProfile::from_record(&r[1..])
            .unwrap_err()
            .contains("774"));
        let mut bad = r.clone();
        bad[RECORD - 2] = -1.0;
        assert!(LineProfile::from_record(&bad)
            .unwrap_err()
            .contains("interval 4"));
    }
}
