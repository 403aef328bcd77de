//! A streaming FIR filter and windowed-sinc designs (`fir_filter`).

use super::tone::SAMPLE_RATE;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
use std::f64::consts::PI;

/// Largest number of inputs filtered per pass, to bound the history buffer.
const BLOCK: usize = 4096;

/// Dot product with eight independent accumulators so that the additions
/// need not happen in order and they vectorise (AVX where the machine has
/// it, with the same result; see [`super::simd`]).
pub use super::simd::dot;

/// y[n] = Σ h[k]·x[n−k], with the last `taps − 1` inputs kept between calls
/// in front of a contiguous buffer, so every output is one dot product over
/// a contiguous slice; the result does not depend on how input is split.
#[derive(Clone, Debug)]
pub struct Fir {
    /// Taps reversed, so that the window x[n−K+1 ..= n] lines up with them.
    rev: Vec<f32>,
    buf: Vec<f32>,
}

impl Fir {
    /// A filter with impulse response `taps` (at least one) and zero history.
    pub fn new(taps: &[f32]) -> Self {
        let taps = if taps.is_empty() { &[1.0][..] } else { taps };
        let rev: Vec<f32> = taps.iter().rev().copied().collect();
        let mut buf = Vec::with_capacity(taps.len() - 1 + BLOCK);
        buf.resize(taps.len() - 1, 0.0);
        Fir { rev, buf }
    }

    pub fn taps(&self) -> Vec<f32> {
        self.rev.iter().rev().copied().collect()
    }

    /// Filters `input` into `output` (as long).
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        assert_eq!(input.len(), output.len(), "fir: slices differ in length");
        let hist = self.rev.len() - 1;
        for (inp, out) in input.chunks(BLOCK).zip(output.chunks_mut(BLOCK)) {
            self.buf.extend_from_slice(inp);
            for (i, o) in out.iter_mut().enumerate() {
                *o = dot(&self.buf[i..i + hist + 1], &self.rev);
            }
            self.buf.drain(..inp.len());
        }
    }
}

/// The response types the designer offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    Lowpass,
    Highpass,
    Bandpass,
}

fn hamming(n: usize, len: usize) -> f64 {
    if len == 1 {
        1.0
    } else {
        0.54 - 0.46 * (2.0 * PI * n as f64 / (len - 1) as f64).cos()
    }
}

/// Windowed-sinc lowpass with cutoff `fc` as a fraction of the sample rate,
/// Hamming window, scaled to unity gain at DC.
fn lowpass(fc: f64, len: usize) -> Vec<f64> {
    let mid = (len - 1) as f64 / 2.0;
    let mut h: Vec<f64> = (0..len)
        .map(|n| {
            let t = n as f64 - mid;
            let s = if t == 0.0 {
                2.0 * fc
            } else {
                (2.0 * PI * fc * t).sin() / (PI * t)
            };
            s * hamming(n, len)
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v /= sum;
    }
    h
}

/// Designs a linear-phase filter at 8000 Hz. Highpass is the spectral
/// inversion of the lowpass (so needs an odd length); bandpass is the
/// difference of two lowpasses.
pub fn design(
    response: Response,
    cutoff: f64,
    cutoff_high: f64,
    num_taps: usize,
) -> Result<Vec<f32>, String> {
    let nyq = SAMPLE_RATE / 2.0;
    if num_taps == 0 || num_taps > 4096 {
        return Err(format!("`num_taps` = {num_taps} must be 1 … 4096"));
    }
    if !(cutoff > 0.0 && cutoff < nyq) {
        return Err(format!(
            "`cutoff` = {cutoff} Hz must be between 0 and {nyq} Hz"
        ));
    }
    let fc = cutoff / SAMPLE_RATE;
    let h = match response {
        Response::Lowpass => lowpass(fc, num_taps),
        Response::Highpass => {
            if num_taps & 1 == 0 {
                return Err(format!(
                    "a highpass needs an odd `num_taps` (an even one has a zero at 4000 Hz); \
                     use {}",
                    num_taps + 1
                ));
            }
            let mut h = lowpass(fc, num_taps);
            for v in &mut h {
                *v = -*v;
            }
            h[num_taps / 2] += 1.0;
            h
        }
        Response::Bandpass => {
            if !(cutoff_high > cutoff && cutoff_high < nyq) {
                return Err(format!(
                    "a bandpass needs `cutoff` < `cutoff_high` < {nyq} Hz, got {cutoff} and \
                     {cutoff_high} Hz"
                ));
            }
            let hi = lowpass(cutoff_high / SAMPLE_RATE, num_taps);
            let lo = lowpass(fc, num_taps);
            hi.iter().zip(&lo).map(|(a, b)| a - b).collect()
        }
    };
    Ok(h.into_iter().map(|v| v as f32).collect())
}

/// Parses "0.1, 0.2, -0.3" into taps.
pub fn parse_taps(s: &str) -> Result<Vec<f32>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    format!("`taps`: `{t}` is not a number; give numbers separated by commas")
                })
        })
        .collect()
}

struct FirBlock(Fir);

impl Block for FirBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<f32, f32>(|input, out| {
            self.0.process(input, out);
        });
        Ok(Status::Ok)
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let taps = parse_taps(&args.string("taps")?)?;
    let taps = if taps.is_empty() {
        let response = match args.string("response")?.as_str() {
            "lowpass" => Response::Lowpass,
            "highpass" => Response::Highpass,
            "bandpass" => Response::Bandpass,
            other => {
                return Err(format!(
                    "`response` must be lowpass, highpass or bandpass, got `{other}`"
                ))
            }
        };
        let n = args.int("num_taps")?;
        design(
            response,
            args.float("cutoff")?,
            args.float("cutoff_high")?,
            usize::try_from(n).map_err(|_| format!("`num_taps` = {n} must be positive"))?,
        )?
    } else {
        taps
    };
    Ok(Box::new(FirBlock(Fir::new(&taps))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "fir_filter",
        "Filters",
        "FIR filter, given or designed",
        make,
    )
    .doc(
        "Filters with the impulse response `taps` (comma-separated, first tap applies \
             to the newest sample). If `taps` is empty it designs a linear-phase \
             windowed-sinc filter (Hamming window) from `response`, `cutoff`, \
             `cutoff_high` (bandpass upper edge) and `num_taps`; the cutoffs are the \
             −6 dB points. Delay: (num_taps − 1)/2 samples.",
    )
    .param(
        ParamSpec::string("taps", "coefficients separated by commas; empty to design").default(""),
    )
    .param(
        ParamSpec::choice(
            "response",
            &["lowpass", "highpass", "bandpass"],
            "designed response",
        )
        .default("lowpass"),
    )
    .param(
        ParamSpec::float("cutoff", "cutoff (bandpass: lower edge)")
            .default(3400.0)
            .range(0.0, 4000.0)
            .unit("Hz"),
    )
    .param(
        ParamSpec::float("cutoff_high", "bandpass upper edge")
            .default(0.0)
            .range(0.0, 4000.0)
            .unit("Hz"),
    )
    .param(
        ParamSpec::int("num_taps", "length of the designed filter")
            .default(63)
            .range(1.0, 4096.0),
    )
    .input(PortSpec::new("in", ItemType::F32, "signal"))
    .output(PortSpec::new("out", ItemType::F32, "filtered signal"))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make as build, run};
    use modemflow_flow::Value;
    use proptest::prelude::*;

    fn gain_db(h: &[f32], hz: f64) -> f64 {
        let w = 2.0 * PI * hz / SAMPLE_RATE;
        let (mut re, mut im) = (0.0, 0.0);
        for (k, &v) in h.iter().enumerate() {
            re += f64::from(v) * (w * k as f64).cos();
            im -= f64::from(v) * (w * k as f64).sin();
        }
        10.0 * (re * re + im * im).log10()
    }

    #[test]
    fn lowpass_design() {
        let h = design(Response::Lowpass, 3000.0, 0.0, 63).unwrap();
        assert!(gain_db(&h, 1000.0).abs() < 0.1);
        assert!(gain_db(&h, 3900.0) < -40.0);
        // Filtering a 1 kHz sine keeps its amplitude.
        let x: Vec<f32> = (0..4000)
            .map(|n| (2.0 * PI * 1000.0 * n as f64 / SAMPLE_RATE).sin() as f32)
            .collect();
        let mut y = vec![0.0; x.len()];
        Fir::new(&h).process(&x, &mut y);
        let peak = y[100..].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((20.0 * f64::from(peak).log10()).abs() < 0.1);
    }

    #[test]
    fn highpass_and_bandpass_designs() {
        let h = design(Response::Highpass, 1000.0, 0.0, 63).unwrap();
        assert!(gain_db(&h, 0.0) < -40.0);
        assert!(gain_db(&h, 3000.0).abs() < 0.1);
        assert!(design(Response::Highpass, 1000.0, 0.0, 64).is_err());
        let h = design(Response::Bandpass, 1000.0, 2500.0, 101).unwrap();
        assert!(gain_db(&h, 1750.0).abs() < 0.1);
        assert!(gain_db(&h, 100.0) < -40.0 && gain_db(&h, 3800.0) < -40.0);
        assert!(design(Response::Bandpass, 1000.0, 0.0, 63).is_err());
    }

    #[test]
    fn block_takes_taps_or_designs() {
        let x: Vec<f32> = (0..100).map(|n| n as f32).collect();
        let mut b = build(&spec(), &[("taps", Value::from("0.5, 0.5"))]).unwrap();
        let r = run(
            &mut *b,
            Some(ItemType::F32),
            &chunked(&x, &[7]),
            &[ItemType::F32],
            10,
            0,
        )
        .unwrap();
        let y: Vec<f32> = items(&r.outputs[0]);
        assert_eq!(y[0], 0.0);
        assert_eq!(y[1], 0.5);
        assert_eq!(y[99], 98.5);
        assert!(build(&spec(), &[("taps", Value::from("1, x"))]).is_err());
        assert!(build(&spec(), &[("response", Value::from("bandpass"))]).is_err());
        assert!(build(
            &spec(),
            &[
                ("response", Value::from("highpass")),
                ("cutoff", Value::Float(300.0))
            ]
        )
        .is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn equals_direct_convolution_for_any_chunking(
            taps in prop::collection::vec(-1.0f32..1.0, 1..80),
            x in prop::collection::vec(-1.0f32..1.0, 0..3000),
            sizes in prop::collection::vec(1usize..600, 1..5),
        ) {
            let mut whole = vec![0.0; x.len()];
            Fir::new(&taps).process(&x, &mut whole);
            let mut f = Fir::new(&taps);
            let mut parts = vec![0.0; x.len()];
            let mut at = 0;
            for &n in sizes.iter().cycle() {
                if at == x.len() { break; }
                let end = (at + n).min(x.len());
                f.process(&x[at..end], &mut parts[at..end]);
                at = end;
            }
            prop_assert_eq!(&whole, &parts);
            for n in 0..x.len() {
                let direct: f64 = (0..taps.len()).filter(|&k| k <= n).map(|k| f64::from(taps[k]) * f64::from(x[n - k])).sum();
                prop_assert!((f64::from(whole[n]) - direct).abs() < 1e-4, "n={} {} vs {}", n, whole[n], direct);
            }
        }
    }
}
