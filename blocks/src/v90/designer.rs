//! The analogue modem's choice of constellations and data rate from what it
//! measured in the DIL (V.90 §8.5.2 leaves how to the modem; this is the
//! rule modem-standards.md §5.10 describes: keep levels far enough apart for
//! the noise, drop codes the network merged).
//!
//! In each interval the candidate levels are the received levels of the
//! Ucodes up to `max_ucode`, as measured. Levels closer than κ·σ (σ the
//! interval's noise, κ for the target symbol error rate) cannot be told
//! apart; so the most levels an interval can hold is what a greedy pick from
//! the top keeps at that spacing (its smallest also κ·σ/2 from zero, from its
//! own mirror image). The rate is the highest D whose K bits fit those
//! counts (2^K ≤ Π M_i); the moduli are then lowered, the largest first,
//! as far as K allows, and each interval takes the M_i levels that are as
//! far apart as possible.

use super::cp::Cp;
use super::dil::{LineProfile, RECORD};
use super::rates::bit_rate;
use super::rates::{split, FRAME, MAX_D, MIN_D};
use super::ucode::UCODES;
use crate::core::level::{hundredths, rms_f32_to_dbm0};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, PortSpec, Rate, Status, WorkIo,
};

/// Symbol error rate the design aims below, per symbol.
pub const TARGET_SER: f64 = 1e-7;
/// Spacing in units of the noise's RMS: a level is decided wrong when the
/// noise passes half the spacing, and with 2·Q(κ/2) ≤ TARGET_SER,
/// κ/2 = 5.33.
pub const KAPPA: f64 = 13.0;

/// The design: data bits per frame and, per interval, the Ucodes (largest
/// first) with their measured levels.
#[derive(Clone, Debug, PartialEq)]
pub struct Design {
    pub d: u32,
    pub ucodes: [Vec<u8>; FRAME],
    pub levels: [Vec<f32>; FRAME],
    /// The spacing each interval needed, κ·σ.
    pub spacing: [f64; FRAME],
}

/// The Ucodes of `cand` (level, Ucode), largest level first, picked greedily
/// from the top with neighbours at least `d` apart and the smallest at least
/// d/2 from zero.
fn pick(cand: &[(f64, u8)], d: f64) -> Vec<(f64, u8)> {
    let mut out: Vec<(f64, u8)> = Vec::new();
    for &(l, u) in cand {
        if 2.0 * l < d {
            break;
        }
        if out.last().is_none_or(|&(p, _)| p - l >= d) {
            out.push((l, u));
        }
    }
    out
}

/// Chooses the rate and constellations for S_r = `sr` from `m`, using
/// Ucodes up to `max_ucode`; None when not even 28 000 bit/s fits.
pub fn design(m: &LineProfile, sr: u32, max_ucode: u8) -> Option<Design> {
    let mut cand: [Vec<(f64, u8)>; FRAME] = Default::default();
    let mut spacing = [0.0; FRAME];
    for i in 0..FRAME {
        let mut c: Vec<(f64, u8)> = (0..=max_ucode.min(UCODES as u8 - 1))
            .filter_map(|u| m.level(i, u).map(|l| (l, u)))
            .filter(|(l, _)| l.is_finite() && *l > 0.0)
            .collect();
        c.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        cand[i] = c;
        spacing[i] = KAPPA * m.noise(i).sqrt();
    }
    // A noiseless measurement still leaves the levels' own estimation error.
    for s in &mut spacing {
        *s = s.max(1e-6);
    }
    let most: [u32; FRAME] = std::array::from_fn(|i| pick(&cand[i], spacing[i]).len() as u32);
    let product = |m: &[u32; FRAME]| m.iter().map(|&x| u128::from(x)).product::<u128>();
    for d in (MIN_D..=MAX_D).rev() {
        let Some((k, _)) = split(d, sr) else {
            continue;
        };
        let need = 1u128 << k;
        if product(&most) < need {
            continue;
        }
        // Lower the largest moduli while K still fits.
        let mut moduli = most;
        loop {
            let (j, &mj) = moduli.iter().enumerate().max_by_key(|&(_, &v)| v)?;
            if mj <= 1 {
                break;
            }
            moduli[j] -= 1;
            if product(&moduli) < need {
                moduli[j] += 1;
                break;
            }
        }
        // Each interval: the widest spacing that still leaves M_i levels.
        let mut ucodes: [Vec<u8>; FRAME] = Default::default();
        let mut levels: [Vec<f32>; FRAME] = Default::default();
        for i in 0..FRAME {
            let want = moduli[i] as usize;
            let (mut lo, mut hi) = (spacing[i], 4.0);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if pick(&cand[i], mid).len() >= want {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let chosen: Vec<(f64, u8)> = pick(&cand[i], lo).into_iter().take(want).collect();
            ucodes[i] = chosen.iter().map(|&(_, u)| u).collect();
            levels[i] = chosen.iter().map(|&(l, _)| l as f32).collect();
        }
        return Some(Design {
            d,
            ucodes,
            levels,
            spacing,
        });
    }
    None
}

/// The `constellation_designer` block: a design and a CP record for each
/// line profile.
struct DesignerBlock {
    sr: u32,
    max_ucode: u8,
    /// Values of the record being read.
    record: Vec<f32>,
    records: u64,
    /// CP octets not yet sent.
    out: Vec<u8>,
}

impl Block for DesignerBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let input = &mut io.inputs[0];
        let n = input.available().min(RECORD - self.record.len());
        self.record.extend_from_slice(&input.items::<f32>()[..n]);
        input.consume(n);
        let ended = input.finished() && input.available() == 0;
        if self.record.len() == RECORD && self.out.is_empty() {
            let profile = LineProfile::from_record(&self.record)
                .map_err(|e| format!("line profile {}: {e}", self.records + 1))?;
            self.record.clear();
            self.records += 1;
            let design = design(&profile, self.sr, self.max_ucode);
            let cp = match &design {
                Some(d) => Cp {
                    d: d.d,
                    ucodes: d.ucodes.clone(),
                },
                // No V.90 rate: CP with drn = 0 asks for cleardown.
                None => Cp {
                    d: 0,
                    ucodes: Default::default(),
                },
            };
            self.out.extend(cp.octets());
            let moduli: Vec<usize> = cp.ucodes.iter().map(Vec::len).collect();
            let spacing = design.as_ref().map(|d| {
                d.spacing
                    .iter()
                    .map(|&s| hundredths(rms_f32_to_dbm0(s)))
                    .collect::<Vec<_>>()
            });
            io.emit(
                "design",
                serde_json::json!({
                    "rate": design.as_ref().map_or(0, |d| bit_rate(d.d)),
                    "d": cp.d,
                    "moduli": moduli,
                    "spacing_dbm0": spacing,
                }),
            );
        }
        let o = &mut io.outputs[0];
        let n = self.out.len().min(o.space());
        o.items::<u8>().extend(self.out.drain(..n));
        if ended && self.out.is_empty() {
            if !self.record.is_empty() {
                return Err(format!(
                    "the stream ended inside a line profile ({} of its {RECORD} values): connect \
                     a dil_analyzer's `profile` output",
                    self.record.len()
                ));
            }
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(DesignerBlock {
        sr: super::params::sr_arg(a)?,
        max_ucode: super::params::max_ucode_arg(a)?,
        record: Vec::with_capacity(RECORD),
        records: 0,
        out: Vec::new(),
    }))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "constellation_designer",
        "V.90",
        "Chooses the highest data rate and the constellations a measured line allows, as a CP record",
        make,
    )
    .doc(
        "The analogue modem's choice (V.90 §8.5.2 leaves the rule to the modem): in each interval the \
         candidate levels are the measured levels of the Ucodes up to `max_ucode`; levels closer than \
         13 σ (σ the interval's measured noise, for a symbol error rate below 1e-7) cannot be told \
         apart, so an interval holds at most the levels a greedy pick from the top keeps at that \
         spacing. The rate is the highest D (V.90 §5.1, with `sr` shaping bits) whose K bits fit; the \
         moduli are then lowered as far as K allows, and each interval takes the levels that are as \
         far apart as possible. For each line profile (from `dil_analyzer`) it sends one CP record \
         (0xC5, D, six 16-octet Ucode masks; D = 0 when not even 28 000 bit/s fits, asking for \
         cleardown) that `modulus_encoder` and `pcm_mapper` read on their `cp` inputs.",
    )
    .param(super::params::sr_param())
    .param(super::params::max_ucode_param())
    .input(PortSpec::new(
        "profile",
        ItemType::F32,
        "line profiles of 774 values (dil_analyzer)",
    ))
    .output(
        PortSpec::new(
            "cp",
            ItemType::Octet,
            "a CP record per profile, for the digital modem's blocks' `cp` inputs",
        )
        .rate(Rate::Varies),
    )
    .event(EventSpec::new(
        "design",
        "a line profile has been designed for",
        &[
            ("rate", "bit/s chosen (0: none fits)"),
            ("d", "data bits per frame D (0: cleardown)"),
            ("moduli", "levels per interval"),
            ("spacing_dbm0", "spacing each interval needed (13 σ), dBm0; null when none fits"),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::law::Law;
    use crate::v90::dil::{self, DilMeasurement};
    use crate::v90::rates::bit_rate;
    use crate::v90::training::Trn1d;
    use crate::v90::ucode::linear;

    /// A DIL received through `f` (interval, Ucode, sign → level) with
    /// deterministic noise of RMS `sigma`.
    fn measure(law: Law, sigma: f64, f: impl Fn(usize, u8, bool) -> f64) -> LineProfile {
        let mut m = DilMeasurement::default();
        let mut trn = Trn1d::new(law, 88);
        let mut seq = dil::Dil::default();
        let mut k: u64 = 1;
        for s in 0..dil::LEN {
            let (u, positive) = seq.next(&mut trn);
            k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Uniform noise of RMS sigma.
            let r = ((k >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 3.4641 * sigma;
            m.add(
                s % FRAME,
                u,
                positive,
                (f(s % FRAME, u, positive) + r) as f32,
            );
        }
        m.profile()
    }

    fn table1(law: Law) -> impl Fn(usize, u8, bool) -> f64 {
        move |_, u, positive| {
            let v = f64::from(linear(law, u)) / 32768.0;
            if positive {
                v
            } else {
                -v
            }
        }
    }

    #[test]
    fn a_clean_line_gets_56000() {
        let m = measure(Law::Mu, 1e-6, table1(Law::Mu));
        let d = design(&m, 0, 127).unwrap();
        assert_eq!(bit_rate(d.d), 56000);
        for i in 0..FRAME {
            assert_eq!(d.ucodes[i].len(), 64);
            assert!(d.ucodes[i].windows(2).all(|w| w[0] > w[1]));
        }
    }

    #[test]
    fn the_rate_falls_with_the_noise() {
        let mut last = u32::MAX;
        for sigma in [1e-5, 1e-4, 3e-4, 1e-3, 3e-3] {
            let m = measure(Law::Mu, sigma, table1(Law::Mu));
            let d = design(&m, 0, 127).map_or(0, |d| d.d);
            assert!(d <= last, "σ {sigma}: D {d} after {last}");
            if let Some(des) = design(&m, 0, 127) {
                // Levels at least κ·σ apart (σ as measured).
                for (i, lv) in des.levels.iter().enumerate() {
                    assert!(lv
                        .windows(2)
                        .all(|w| f64::from(w[0] - w[1]) >= des.spacing[i] * 0.999));
                }
            }
            last = d;
        }
        assert!(last < 36, "D {last} at σ 3e-3");
        // Far too noisy: nothing.
        let m = measure(Law::Mu, 0.05, table1(Law::Mu));
        assert_eq!(design(&m, 0, 127), None);
    }

    #[test]
    fn robbed_bits_and_pads_are_avoided() {
        // Interval 5 has its LSB robbed (forced to 1 in the octet: even
        // µ-law Ucodes), so Ucodes 2k and 2k+1 arrive as 2k.
        let rbs = |i: usize, u: u8, positive: bool| {
            let u = if i == 5 { u & !1 } else { u };
            table1(Law::Mu)(i, u, positive)
        };
        let m = measure(Law::Mu, 1e-6, rbs);
        let d = design(&m, 0, 127).unwrap();
        // No two chosen Ucodes of interval 5 land on the same level.
        let merged = |u: u8| u & !1;
        let mut seen = std::collections::HashSet::new();
        assert!(d.ucodes[5].iter().all(|&u| seen.insert(merged(u))));
        assert!(d.ucodes[5].len() <= 64);
    }

    fn design_block(records: &[f32], sizes: &[usize]) -> Result<crate::testutil::Run, String> {
        use crate::testutil::{chunked, make, run};
        let mut b = make(&spec(), &[])?;
        run(
            b.as_mut(),
            Some(modemflow_flow::ItemType::F32),
            &chunked(records, sizes),
            &[modemflow_flow::ItemType::Octet],
            50,
            usize::MAX,
        )
    }

    #[test]
    fn block_sends_a_cp_record_per_profile() {
        let clean = measure(Law::Mu, 1e-6, table1(Law::Mu));
        let noisy = measure(Law::Mu, 1e-3, table1(Law::Mu));
        let hopeless = measure(Law::Mu, 0.05, table1(Law::Mu));
        let mut records = clean.to_record();
        records.extend(noisy.to_record());
        records.extend(hopeless.to_record());
        let r = design_block(&records, &[4096]).unwrap();
        let mut want = Vec::new();
        for p in [&clean, &noisy] {
            let d = design(p, 0, 127).unwrap();
            want.extend(
                Cp {
                    d: d.d,
                    ucodes: d.ucodes,
                }
                .octets(),
            );
        }
        want.extend(
            Cp {
                d: 0,
                ucodes: Default::default(),
            }
            .octets(),
        );
        let got = crate::testutil::items::<u8>(&r.outputs[0]);
        assert_eq!(got, want);
        let rates: Vec<_> = r
            .events
            .iter()
            .map(|e| e.1["rate"].as_u64().unwrap())
            .collect();
        assert_eq!(rates[0], 56000);
        assert!(rates[1] > 28000 && rates[1] < 56000, "{rates:?}");
        assert_eq!(rates[2], 0);
        for sizes in [&[1usize][..], &[773, 2]] {
            let again = design_block(&records, sizes).unwrap();
            assert_eq!(
                crate::testutil::items::<u8>(&again.outputs[0]),
                got,
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn a_cut_or_bad_profile_is_an_error() {
        let p = measure(Law::Mu, 1e-6, table1(Law::Mu)).to_record();
        let err = design_block(&p[..700], &[64]).err().unwrap();
        assert!(err.contains("700 of its 774 values"), "{err}");
        let mut bad = p.clone();
        bad[RECORD - 1] = f32::NAN;
        let err = design_block(&bad, &[64]).err().unwrap();
        assert!(
            err.contains("line profile 1") && err.contains("interval 5"),
            "{err}"
        );
    }
}
