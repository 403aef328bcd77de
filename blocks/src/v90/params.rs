//! The parameters every V.90 block reads the same way: `rate`, `sr`, `law`
//! and `max_ucode`, and what they give — the frame's D, K and S (V.90 §5.4.2,
//! Table 2) and the constellations both ends design from them.

use super::constellation::{moduli_for, Constellation};
use super::rates::{bits_per_frame, split, MAX_D, MAX_SR, MIN_D};
use super::ucode::MAX_UCODE;
pub use crate::g711::blocks::{law_arg, law_param};
use modemflow_flow::{BlockArgs, ParamSpec};

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

/// The `rate` parameter: bit/s as modems report it.
pub fn rate_param() -> ParamSpec {
    ParamSpec::int(
        "rate",
        "downstream data rate as modems report it: D·8000/6 rounded down for D = 21…42 \
         bits per data frame (28000, 29333, 30666, 32000, …, 56000)",
    )
    .default(56000)
    .range(28000.0, 56000.0)
    .unit("bit/s")
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

/// D, K and S from the `rate` and `sr` parameters, or a message naming the
/// parameter at fault and what would fit.
pub fn frame_shape(args: &BlockArgs) -> Result<FrameShape, String> {
    let rate = args.int("rate")?;
    let sr = args.int("sr")?;
    let d = u32::try_from(rate)
        .ok()
        .and_then(bits_per_frame)
        .ok_or_else(|| {
            format!(
                "`rate` = {rate} bit/s is not a V.90 rate: use D·8000/6 rounded down for \
                 D = {MIN_D}…{MAX_D} (28000, 29333, 30666, 32000, …, 56000)"
            )
        })?;
    let sr = u32::try_from(sr)
        .ok()
        .filter(|&s| s <= MAX_SR)
        .ok_or_else(|| format!("`sr` = {sr} is out of range: S_r is 0, 1, 2 or 3"))?;
    // V.90 Table 2 allows every D with every S_r, but check rather than trust.
    let (k, s) = split(d, sr).ok_or_else(|| {
        format!("`rate` = {rate} bit/s with `sr` = {sr} is not in V.90 Table 2: change `sr`")
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

/// The constellations from `rate`, `sr`, `law` and `max_ucode`, or a message
/// naming the parameter at fault and a fix.
pub fn constellation_arg(args: &BlockArgs) -> Result<Constellation, String> {
    let shape = frame_shape(args)?;
    let law = law_arg(args)?;
    let max = args.int("max_ucode")?;
    let max_ucode = u8::try_from(max)
        .ok()
        .filter(|m| (1..=MAX_UCODE).contains(m))
        .ok_or_else(|| format!("`max_ucode` = {max} is out of range 1 … 127"))?;
    Constellation::design(law, shape.k, max_ucode).map_err(|_| {
        let m = moduli_for(shape.k).into_iter().max().unwrap_or(0);
        format!(
            "`rate` = {} bit/s needs {m} levels per interval, more than fit below \
             `max_ucode` = {max_ucode}: raise `max_ucode` or lower `rate`",
            args.int("rate").unwrap_or(0)
        )
    })
}
