//! The parameters every V.90 block reads the same way: `rate`, `sr`, `law`
//! and `max_ucode`, and what they give — the frame's D, K and S (V.90 §5.4.2,
//! Table 2) and the constellations both ends design from them.
//!
//! `rate` = 0 leaves the choice to the analogue modem's receiver, which
//! measures the line during training and sends its choice back as a CP
//! record (V.90 §8.5.2, [`super::cp`]); [`CpInput`] reads that record on a
//! block's `cp` input and [`cp_config`] turns it into the frame's D, K, S and
//! constellations.

use super::constellation::{moduli_for, Constellation};
use super::cp::{Cp, CpReader};
use super::rates::{bit_rate, bits_per_frame, split, FRAME, MAX_D, MAX_SR, MIN_D};
use super::ucode::MAX_UCODE;
pub use crate::g711::blocks::{law_arg, law_param};
use crate::g711::law::Law;
use modemflow_flow::{BlockArgs, Input, ItemType, ParamSpec, PortSpec, Rate};

/// D, K and S of one data frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameShape {
    /// D = K + S bits per data frame (V.90 §5.4.2).
    pub d: u32,
    /// K bits into the modulus encoder.
    pub k: u32,
    /// S = 6 − S_r sign bits carrying data.
    pub s: u32,
}

/// The doc of every `rate` parameter, with what 0 means for the block.
macro_rules! rate_doc {
    ($zero:literal) => {
        concat!(
            "downstream data rate as modems report it: D·8000/6 rounded down for D = 21…42 \
             bits per data frame (28000, 29333, 30666, 32000, …, 56000)",
            $zero
        )
    };
}

fn rate_spec(doc: &'static str, least: f64) -> ParamSpec {
    ParamSpec::int("rate", doc)
        .default(56000)
        .range(least, 56000.0)
        .unit("bit/s")
}

/// The `rate` parameter: bit/s as modems report it, or 0 for the rate the
/// receiver chooses (for blocks with a `cp` input).
pub fn rate_param() -> ParamSpec {
    rate_spec(
        rate_doc!("; 0 = chosen by the receiver after training: the block waits for a CP record on its `cp` input"),
        0.0,
    )
}

/// The `rate` parameter of the blocks that start the automatic choice
/// (`pcm_train` sends the DIL, `pcm_equalizer` measures it and chooses).
pub fn choosing_rate_param() -> ParamSpec {
    rate_spec(
        rate_doc!("; 0 = chosen by the receiver from the DIL after training"),
        0.0,
    )
}

/// The `rate` parameter of a block that has no `cp` input and so needs a
/// fixed rate.
pub fn fixed_rate_param() -> ParamSpec {
    rate_spec(rate_doc!(""), 28000.0)
}

/// The `sr` parameter: S_r, sign bits per frame spent on spectral shaping.
pub fn sr_param() -> ParamSpec {
    ParamSpec::int(
        "sr",
        "S_r: sign bits per data frame used for spectral shaping (V.90 §5.4.5); the other \
         S = 6 − S_r sign bits carry data",
    )
    .default(0)
    .range(0.0, f64::from(MAX_SR))
}

/// D from the `rate` parameter: `None` for `rate` = 0 (the receiver
/// chooses), or a message naming the parameter and what would fit.
pub fn rate_arg(args: &BlockArgs) -> Result<Option<u32>, String> {
    let rate = args.int("rate")?;
    if rate == 0 {
        return Ok(None);
    }
    u32::try_from(rate)
        .ok()
        .and_then(bits_per_frame)
        .map(Some)
        .ok_or_else(|| {
            format!(
                "`rate` = {rate} bit/s is not a V.90 rate: use D·8000/6 rounded down for \
                 D = {MIN_D}…{MAX_D} (28000, 29333, 30666, 32000, …, 56000), or 0 to let \
                 the receiver choose"
            )
        })
}

/// The message for `rate` = 0 where a block needs the rate when it is made.
fn rate_zero_needs_cp() -> String {
    "`rate` = 0 (chosen by the receiver) is only known once a CP record arrives: this \
     block needs a fixed `rate` (28000, 29333, …, 56000)"
        .to_string()
}

/// D, K and S from the `rate` and `sr` parameters, or a message naming the
/// parameter at fault and what would fit. For a fixed rate only: `rate` = 0
/// is an error here (see [`rate_arg`] and [`cp_config`]).
pub fn frame_shape(args: &BlockArgs) -> Result<FrameShape, String> {
    let d = rate_arg(args)?.ok_or_else(rate_zero_needs_cp)?;
    let sr = sr_arg(args)?;
    // V.90 Table 2 allows every D with every S_r, but check rather than trust.
    let (k, s) = split(d, sr).ok_or_else(|| {
        format!(
            "`rate` = {} bit/s with `sr` = {sr} is not in V.90 Table 2: change `sr`",
            args.int("rate").unwrap_or(i64::from(bit_rate(d)))
        )
    })?;
    Ok(FrameShape { d, k, s })
}

/// S_r from the `sr` parameter alone (for blocks that do not need the rate).
pub fn sr_arg(args: &BlockArgs) -> Result<u32, String> {
    let sr = args.int("sr")?;
    u32::try_from(sr)
        .ok()
        .filter(|&v| v <= MAX_SR)
        .ok_or_else(|| format!("`sr` = {sr} is out of range: S_r is 0, 1, 2 or 3"))
}

/// The `max_ucode` parameter.
pub fn max_ucode_param() -> ParamSpec {
    ParamSpec::int(
        "max_ucode",
        "largest Ucode the constellations may use (a power limit; V.90 §8.5.2 caps the \
         average power)",
    )
    .default(i64::from(MAX_UCODE))
    .range(1.0, f64::from(MAX_UCODE))
}

/// The `max_ucode` parameter, checked.
pub fn max_ucode_arg(args: &BlockArgs) -> Result<u8, String> {
    let max = args.int("max_ucode")?;
    u8::try_from(max)
        .ok()
        .filter(|m| (1..=MAX_UCODE).contains(m))
        .ok_or_else(|| format!("`max_ucode` = {max} is out of range 1 … 127"))
}

/// The constellations from `rate`, `sr`, `law` and `max_ucode`, or a message
/// naming the parameter at fault and a fix. For a fixed rate only: with
/// `rate` = 0 the constellations come from the receiver's CP record
/// ([`cp_config`]), so this is an error.
pub fn constellation_arg(args: &BlockArgs) -> Result<Constellation, String> {
    let shape = frame_shape(args)?;
    let law = law_arg(args)?;
    let max_ucode = max_ucode_arg(args)?;
    Constellation::design(law, shape.k, max_ucode).map_err(|_| {
        let m = moduli_for(shape.k).into_iter().max().unwrap_or(0);
        format!(
            "`rate` = {} bit/s needs {m} levels per interval, more than fit below \
             `max_ucode` = {max_ucode}: raise `max_ucode` or lower `rate`",
            args.int("rate").unwrap_or(i64::from(bit_rate(shape.d)))
        )
    })
}

/// A CP record's content, for messages: its D and the size of each
/// interval's constellation.
fn describe(cp: &Cp) -> String {
    let m: Vec<usize> = cp.ucodes.iter().map(Vec::len).collect();
    format!("the CP record (D = {}, Ucodes per interval {m:?})", cp.d)
}

/// The message for a CP record with D = 0.
fn cleardown() -> String {
    "the receiver found no V.90 rate possible on this line (its CP record has D = 0, \
     cleardown): set a fixed `rate` on both ends to force one, or use a better line (less \
     loss or noise, no robbed bits or digital pads)"
        .to_string()
}

/// The frame shape and constellations a CP record asks for, with S_r = `sr`
/// and the Ucodes read in `law`: K and S from D and S_r (V.90 Table 2), and
/// constellation i = the record's Ucodes of interval i, whose sizes are the
/// moduli M_i and must carry K bits (2^K ≤ Π M_i, V.90 §5.4.3). A record
/// with D = 0 (no rate possible) or that does not fit is an error saying so.
pub fn cp_config(cp: &Cp, sr: u32, law: Law) -> Result<(FrameShape, Constellation), String> {
    if cp.d == 0 {
        return Err(cleardown());
    }
    if !(MIN_D..=MAX_D).contains(&cp.d) {
        return Err(format!(
            "{} asks for D = {} bits per frame, which is not V.90 (D = {MIN_D}…{MAX_D})",
            describe(cp),
            cp.d
        ));
    }
    let sr = Some(sr)
        .filter(|&v| v <= MAX_SR)
        .ok_or_else(|| format!("`sr` = {sr} is out of range: S_r is 0, 1, 2 or 3"))?;
    let (k, s) = split(cp.d, sr).ok_or_else(|| {
        format!(
            "{} with `sr` = {sr} is not in V.90 Table 2: change `sr`",
            describe(cp)
        )
    })?;
    let c = cp
        .constellation(law)
        .map_err(|e| format!("{} names unusable constellations: {e}", describe(cp)))?;
    let moduli = c.moduli();
    let product: u128 = moduli.iter().map(|&m| u128::from(m)).product();
    if product < 1u128 << k {
        return Err(format!(
            "{} cannot carry K = {k} bits with `sr` = {sr}: its moduli {moduli:?} multiply \
             to {product} < 2^{k} (V.90 §5.4.3 needs 2^K ≤ Π M_i)",
            describe(cp)
        ));
    }
    Ok((FrameShape { d: cp.d, k, s }, c))
}

/// The frame shape and moduli a CP record asks for, with S_r = `sr` (what
/// the modulus coders need; see [`cp_config`]).
pub fn cp_moduli(cp: &Cp, sr: u32) -> Result<(FrameShape, [u32; FRAME]), String> {
    // The sizes of the constellations do not depend on the law.
    cp_config(cp, sr, Law::Mu).map(|(shape, c)| (shape, c.moduli()))
}

/// The optional `cp` input of a block that can follow the receiver's
/// choice of rate (`rate` = 0).
pub fn cp_port() -> PortSpec {
    PortSpec::new(
        "cp",
        ItemType::Octet,
        "the receiver's CP record (0xC5, D, six 16-octet Ucode masks; zero octets before it \
         are skipped), needed when `rate` = 0; with a fixed rate it may be left unconnected \
         and a record must ask for the same D",
    )
    .rate(Rate::Varies)
    .optional()
}

/// The message when `rate` = 0 and the `cp` input ends without a record.
pub const NO_CP: &str = "rate 0 needs a CP record on `cp`, and none came: connect the \
                         receiver's `cp` output (see graphs/v90_downstream.yaml)";

/// A block's optional `cp` input, read the same way by every V.90 block
/// with a `rate`: with `rate` = 0 the block waits for the first CP record
/// and configures itself from it; with a fixed rate (or once configured) it
/// reads the input and drops it, checking only that a record asks for the
/// same D (and, after a CP, the same constellations). Zero octets (idle
/// line, e.g. from a `delay` in a feedback loop) are skipped.
#[derive(Clone, Debug)]
pub struct CpInput {
    reader: CpReader,
    /// D the block runs at: the fixed rate's, or the first record's.
    d: Option<u32>,
    /// The record the block was configured from (`rate` = 0).
    first: Option<Cp>,
}

impl CpInput {
    /// For the D of [`rate_arg`]: `None` waits for a record.
    pub fn new(d: Option<u32>) -> CpInput {
        CpInput {
            reader: CpReader::default(),
            d,
            first: None,
        }
    }

    /// True while the block waits for a CP record (`rate` = 0, none yet).
    pub fn waiting(&self) -> bool {
        self.d.is_none()
    }

    /// Reads and consumes everything available on `input` (`None`: the
    /// block was given no such input, as if it had ended empty). Returns the
    /// record a waiting block should configure itself from, once; an error
    /// for a malformed stream, a cleardown record, a record that disagrees
    /// with the rate the block runs at, or the stream ending while the block
    /// still waits.
    pub fn poll(&mut self, input: Option<&mut Input>) -> Result<Option<Cp>, String> {
        let Some(input) = input else {
            return if self.waiting() {
                Err(NO_CP.to_string())
            } else {
                Ok(None)
            };
        };
        let mut new = None;
        let n = input.available();
        for &o in &input.items::<u8>()[..n] {
            // One octet at a time, so that the idle zeros between two records
            // are skipped like those before the first.
            let Some(got) = self.reader.push(&[o]) else {
                continue;
            };
            let cp = got.map_err(|e| format!("`cp` input: {e}"))?;
            if cp.d == 0 {
                return Err(cleardown());
            }
            match (self.d, &self.first) {
                (None, _) => {
                    self.d = Some(cp.d);
                    self.first = Some(cp.clone());
                    new = Some(cp);
                }
                (Some(_), Some(first)) => {
                    if cp != *first {
                        return Err(format!(
                            "the receiver changed its CP record during the run ({} after \
                             {}): changing the rate or the constellations mid-run is not \
                             supported",
                            describe(&cp),
                            describe(first)
                        ));
                    }
                }
                (Some(d), None) => {
                    if cp.d != d {
                        return Err(format!(
                            "{} asks for {} bit/s, but this block runs at the fixed `rate` = \
                             {} bit/s (D = {d}): the two ends disagree; set the same `rate` \
                             on both, or `rate` = 0 here to follow the receiver",
                            describe(&cp),
                            bit_rate(cp.d),
                            bit_rate(d)
                        ));
                    }
                }
            }
        }
        input.consume(n);
        if self.waiting() && input.finished() {
            return Err(NO_CP.to_string());
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v90::cp::SYNC;
    use modemflow_flow::{Item, Value};

    fn cp_for(law: Law, d: u32, sr: u32) -> (Cp, Constellation) {
        let (k, _) = split(d, sr).unwrap();
        let c = Constellation::design(law, k, MAX_UCODE).unwrap();
        // In the order a CpReader gives them back: ascending.
        let cp = Cp {
            d,
            ucodes: std::array::from_fn(|i| c.interval(i).iter().rev().copied().collect()),
        };
        (cp, c)
    }

    impl CpInput {
        fn poll_with(&mut self, octets: &[u8], eos: bool) -> Result<Option<Cp>, String> {
            self.poll(Some(&mut input(octets, eos)))
        }
    }

    fn input(octets: &[u8], eos: bool) -> Input {
        let mut i = Input::new(ItemType::Octet);
        i.push(&u8::wrap(octets.to_vec()));
        if eos {
            i.set_eos();
        }
        i
    }

    #[test]
    fn a_cp_gives_the_fixed_rates_shape_and_constellations() {
        for law in [Law::Mu, Law::A] {
            for d in [MIN_D, 30, 36, MAX_D] {
                for sr in 0..=MAX_SR {
                    let (cp, c) = cp_for(law, d, sr);
                    let (shape, got) = cp_config(&cp, sr, law).unwrap();
                    let (k, s) = split(d, sr).unwrap();
                    assert_eq!(shape, FrameShape { d, k, s });
                    assert_eq!(got, c);
                    assert_eq!(cp_moduli(&cp, sr).unwrap(), (shape, moduli_for(k)));
                }
            }
        }
    }

    #[test]
    fn cleardown_and_bad_cps_say_what_is_wrong() {
        let (cp, _) = cp_for(Law::Mu, 36, 0);
        let e = cp_config(&Cp { d: 0, ..cp.clone() }, 0, Law::Mu).unwrap_err();
        assert!(
            e.contains("no V.90 rate") && e.contains("fixed `rate`"),
            "{e}"
        );
        let e = cp_config(
            &Cp {
                d: 43,
                ..cp.clone()
            },
            0,
            Law::Mu,
        )
        .unwrap_err();
        assert!(e.contains("D = 43") && e.contains("not V.90"), "{e}");
        let mut empty = cp.clone();
        empty.ucodes[2].clear();
        let e = cp_config(&empty, 0, Law::Mu).unwrap_err();
        assert!(e.contains("CP record") && e.contains("interval 2"), "{e}");
        // 64 levels for K = 36 are too few for K = 37 (D = 40 with S_r = 3).
        let (cp40, _) = cp_for(Law::Mu, 36, 0);
        let e = cp_config(&Cp { d: 40, ..cp40 }, 3, Law::Mu).unwrap_err();
        assert!(e.contains("K = 37") && e.contains("2^K ≤ Π M_i"), "{e}");
        assert!(e.contains("D = 40"), "{e}");
    }

    #[test]
    fn cp_input_waits_configures_and_checks_later_records() {
        let (cp, _) = cp_for(Law::Mu, 30, 0);
        let mut stream = vec![0; 10];
        stream.extend(cp.octets());
        stream.extend([0, 0]);
        stream.extend(cp.octets());
        // Waiting: nothing yet, then the record, then the same again is fine.
        let mut w = CpInput::new(None);
        assert!(w.waiting());
        assert_eq!(w.poll_with(&stream[..20], false), Ok(None));
        assert!(w.waiting());
        let mut rest = input(&stream[20..], false);
        assert_eq!(w.poll(Some(&mut rest)), Ok(Some(cp.clone())));
        assert_eq!(rest.available(), 0);
        assert!(!w.waiting());
        assert_eq!(w.poll_with(&[], true), Ok(None));
        // A different record later is an error.
        let (other, _) = cp_for(Law::Mu, 31, 0);
        let e = w.poll_with(&other.octets(), false).unwrap_err();
        assert!(e.contains("changed"), "{e}");
        // The stream ending first.
        let e = CpInput::new(None).poll_with(&[0, 0], true).unwrap_err();
        assert_eq!(e, NO_CP);
        assert_eq!(
            NO_CP,
            "rate 0 needs a CP record on `cp`, and none came: connect the receiver's `cp` \
             output (see graphs/v90_downstream.yaml)"
        );
        // No such input at all: an error while waiting, nothing otherwise.
        assert_eq!(CpInput::new(None).poll(None), Err(NO_CP.to_string()));
        assert_eq!(CpInput::new(Some(42)).poll(None), Ok(None));
        // Fixed rate: same D fine, other D or garbage not.
        assert_eq!(CpInput::new(Some(30)).poll_with(&stream, true), Ok(None));
        let e = CpInput::new(Some(31))
            .poll_with(&stream, false)
            .unwrap_err();
        assert!(e.contains("disagree") && e.contains("41333"), "{e}");
        let e = CpInput::new(Some(30))
            .poll_with(&[0, 7, SYNC], false)
            .unwrap_err();
        assert!(e.contains("`cp`"), "{e}");
        let e = CpInput::new(Some(30))
            .poll_with(&Cp { d: 0, ..cp }.octets(), false)
            .unwrap_err();
        assert!(e.contains("no V.90 rate"), "{e}");
    }

    #[test]
    fn rate_zero_is_refused_where_a_fixed_rate_is_needed() {
        let spec = crate::v90::mapper::spec_mapper();
        let mk = |rate: i64| BlockArgs::from_spec(&spec, &[("rate", Value::Int(rate))]).unwrap();
        let args = mk(0);
        assert_eq!(rate_arg(&args), Ok(None));
        let e = frame_shape(&args).unwrap_err();
        assert!(e.contains("`rate` = 0") && e.contains("CP"), "{e}");
        assert!(constellation_arg(&args).unwrap_err().contains("`rate` = 0"));
        let args = mk(56000);
        assert_eq!(rate_arg(&args), Ok(Some(42)));
        assert_eq!(frame_shape(&args).unwrap().k, 36);
    }
}
