//! The digital telephone network between a V.90 server and the line card
//! (`digital_network`): G.711 octets in, G.711 octets out.
//!
//! A V.90 digital modem sends PCM codewords, and on an ideal digital path
//! every one of them reaches the line card's D/A unchanged; that is what lets
//! V.90 reach 56 000 bit/s. Two things in real networks change codewords on
//! the way (modem-standards.md §5.10), and they are why the analogue modem
//! probes the path with DIL and picks one constellation per data-frame
//! interval:
//!
//! * **Digital pads.** A switch's loss plan may attenuate a connection by
//!   3 or 6 dB. On a digital path that is done by translating codewords: each
//!   codeword is decoded to its linear value, scaled by 10^(−pad/20) and
//!   re-encoded. The map is many-to-one, so some Ucodes merge, and the loudest
//!   ones can no longer be reached at all. Here the polarity bit is kept and
//!   the magnitude goes through the table, as a translation table in a switch
//!   does, so the map is odd-symmetric (µ-law −0 stays −0); the scaled value is
//!   rounded to the nearest integer on the 16-bit scale and re-encoded with the
//!   project's G.711 encoder (`g711::law`, spandsp's decision levels), which
//!   gives the code whose decision interval holds it. Distinct Ucodes left of
//!   the 128 (counted by the tests):
//!
//!   | law | pad 3 dB | pad 6 dB |
//!   |---|---|---|
//!   | µ-law | 103 (25 merged), largest reachable Ucode 118 | 112 (16 merged), largest 111 |
//!   | A-law | 107 (21 merged), largest reachable Ucode 118 | 112 (16 merged), largest 111 |
//!
//!   A 6 dB pad is nearly a halving, i.e. one Uchord down, and maps the
//!   upper Uchords one-to-one: A-law's 16 merges all lie in Uchords 1–2
//!   (Ucodes below 32, where the step does not halve), µ-law's 12 of 16 (its
//!   bias makes the rest of a halving inexact). A 3 dB pad falls between
//!   steps and merges codes throughout.
//!
//! * **Robbed-bit signalling (RBS).** A T1 span using channel-associated
//!   signalling overwrites the least significant bit of a channel's octet in
//!   one frame out of six (frames 6 and 12 of a D4 superframe, 6, 12, 18 and
//!   24 of ESF) with a signalling bit. Because a V.90 data frame is also six
//!   symbols long, the robbed frames fall on fixed data-frame intervals; `rbs`
//!   lists them (interval = symbol index mod 6 from the start of the stream).
//!   The robbed bit is written with `rbs_bit`: its value depends on the
//!   signalling state, which is steady during a call, so one value is enough.
//!   Both laws invert the octet's LSB relative to the Ucode's (µ-law
//!   complements the octet, A-law XORs it with 0x55), so `rbs_bit` 1 forces
//!   every affected Ucode even (odd ones drop by one step) and 0 forces it odd
//!   (even ones rise by one step; µ-law's zero becomes ±8).
//!
//! The path applies the pad first and RBS last: the pad sits in the switch,
//! and RBS on the T1 span from the switch to the channel bank or digital loop
//! carrier that holds the line card. Both are one lookup per octet, so any
//! octet is valid input and the block is 1:1.

use crate::g711::blocks::{law_arg, law_param};
use crate::g711::law::{Law, G711};
use crate::v90::ucode::{self, UCODES};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};

/// V.90 §5.2: a data frame is six PCM symbols (intervals 0…5), and a T1
/// superframe robs one frame in six, so the RBS pattern repeats every six.
pub const FRAME: usize = 6;

/// Which of the six data-frame intervals have their LSB robbed: bit i set
/// means interval i.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RbsMask(pub u8);

impl RbsMask {
    /// No robbed bits.
    pub const NONE: RbsMask = RbsMask(0);

    /// Parses "2, 5" (intervals 0…5 separated by commas; empty for none).
    /// Repeats are harmless.
    pub fn parse(s: &str) -> Result<RbsMask, String> {
        let mut mask = 0u8;
        for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match t.parse::<usize>() {
                Ok(i) if i < FRAME => mask |= 1 << i,
                _ => {
                    return Err(format!(
                        "`rbs`: `{t}` is not a data-frame interval 0 … 5; give the robbed \
                         intervals separated by commas, e.g. `5` or `2, 5`, or leave it empty \
                         for none"
                    ))
                }
            }
        }
        Ok(RbsMask(mask))
    }

    /// Whether interval `i` (0…5) is robbed.
    pub fn robs(self, i: usize) -> bool {
        i < FRAME && self.0 & (1 << i) != 0
    }
}

/// The codeword translation of a digital pad of `pad_db` dB (negative or NaN
/// counts as 0: a pad only attenuates): `table[octet]` is the padded octet.
/// The polarity bit is kept; the magnitude's Table 1 value is scaled by
/// 10^(−pad/20), rounded, and re-encoded with the G.711 encoder. A 0 dB pad
/// is the identity.
pub fn pad_table(law: Law, pad_db: f64) -> [u8; 256] {
    let mut table = [0u8; 256];
    for (o, t) in table.iter_mut().enumerate() {
        *t = o as u8;
    }
    let pad_db = if pad_db > 0.0 { pad_db } else { 0.0 };
    if pad_db == 0.0 {
        return table;
    }
    let g = 10f64.powf(-pad_db / 20.0);
    let codec = G711::new(law);
    // Padded Ucode of each Ucode, through the positive half of the encoder.
    let mut padded = [0u8; UCODES];
    for (u, p) in padded.iter_mut().enumerate() {
        let x = (f64::from(ucode::linear(law, u as u8)) * g).round() as i16;
        let mut o = [0u8];
        codec.encode(&[x], &mut o);
        *p = ucode::from_octet(law, o[0]).0;
    }
    for (o, t) in table.iter_mut().enumerate() {
        let (u, positive) = ucode::from_octet(law, o as u8);
        *t = ucode::octet(law, padded[usize::from(u)], positive);
    }
    table
}

/// The digital path: a pad's codeword table, then robbed bits in the listed
/// intervals. Keeps the interval of the next octet, so the output does not
/// depend on how the stream is chunked.
#[derive(Clone, Debug)]
pub struct DigitalNetwork {
    pad: [u8; 256],
    rbs: RbsMask,
    /// The robbed bit's value, 0 or 1.
    rbs_bit: u8,
    /// Data-frame interval of the next octet.
    interval: usize,
}

impl DigitalNetwork {
    /// A path with a `pad_db` dB digital pad (see [`pad_table`]) and robbed
    /// bits in the intervals of `rbs`, overwritten with `rbs_bit`.
    pub fn new(law: Law, pad_db: f64, rbs: RbsMask, rbs_bit: bool) -> Self {
        DigitalNetwork {
            pad: pad_table(law, pad_db),
            rbs,
            rbs_bit: u8::from(rbs_bit),
            interval: 0,
        }
    }

    /// The pad's codeword table.
    pub fn pad_map(&self) -> &[u8; 256] {
        &self.pad
    }

    /// The data-frame interval (0…5) of the next octet.
    pub fn interval(&self) -> usize {
        self.interval
    }

    /// Passes `input` through the path into `output` (as long; any extra
    /// octets on either side are left alone).
    pub fn process(&mut self, input: &[u8], output: &mut [u8]) {
        for (o, &x) in output.iter_mut().zip(input) {
            let y = self.pad[usize::from(x)];
            *o = if self.rbs.robs(self.interval) {
                (y & !1) | self.rbs_bit
            } else {
                y
            };
            self.interval = (self.interval + 1) % FRAME;
        }
    }
}

struct DigitalNetworkBlock(DigitalNetwork);

impl Block for DigitalNetworkBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<u8, u8>(|input, out| self.0.process(input, out));
        Ok(Status::Ok)
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let law = law_arg(args)?;
    let pad = args.string("pad")?;
    let pad_db = match pad.as_str() {
        "0" => 0.0,
        "3" => 3.0,
        "6" => 6.0,
        other => return Err(format!("`pad` must be 0, 3 or 6 (dB), got `{other}`")),
    };
    let rbs = RbsMask::parse(&args.string("rbs")?)?;
    let rbs_bit = match args.int("rbs_bit")? {
        0 => false,
        1 => true,
        other => return Err(format!("`rbs_bit` must be 0 or 1, got {other}")),
    };
    Ok(Box::new(DigitalNetworkBlock(DigitalNetwork::new(
        law, pad_db, rbs, rbs_bit,
    ))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "digital_network",
        "Channel",
        "the digital network between a V.90 server and the line card: pads and robbed bits",
        make,
    )
    .doc(
        "Passes G.711 codewords through a model of the digital telephone network, one \
         octet out for each octet in. First a digital pad of `pad` dB (0 = none): each \
         codeword's magnitude is decoded to its V.90 Table 1 value, scaled by 10^(−pad/20), \
         rounded and re-encoded with the G.711 encoder, the polarity bit kept. This merges \
         some Ucodes: of the 128, 3 dB leaves 103 distinct (µ-law) or 107 (A-law), 6 dB \
         leaves 112 in both, and the largest reachable Ucode drops to 118 (3 dB) or 111 \
         (6 dB). Then robbed-bit signalling: in the data-frame intervals listed in `rbs` \
         (symbol index mod 6 from the start of the stream, e.g. `5` or `2, 5`; empty for \
         none) the octet's least significant bit is overwritten with `rbs_bit`, as a T1 \
         span with channel-associated signalling does in one frame of six. In both laws \
         `rbs_bit` 1 makes the Ucode even and 0 makes it odd. Every octet is valid input.",
    )
    .param(law_param())
    .param(
        ParamSpec::choice(
            "pad",
            &["0", "3", "6"],
            "digital pad (loss-plan attenuation)",
        )
        .default("0")
        .unit("dB"),
    )
    .param(
        ParamSpec::string(
            "rbs",
            "data-frame intervals 0…5 whose LSB is robbed, separated by commas; empty for none",
        )
        .default(""),
    )
    .param(
        ParamSpec::int("rbs_bit", "the value written into a robbed LSB")
            .default(1)
            .allowed(&[0, 1]),
    )
    .input(PortSpec::new(
        "in",
        ItemType::Octet,
        "codewords from the server",
    ))
    .output(PortSpec::new(
        "out",
        ItemType::Octet,
        "codewords at the line card",
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make as build, run};
    use crate::v90::ucode::{from_octet, linear, signed_linear, MAX_UCODE};
    use modemflow_flow::Value;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    const LAWS: [(Law, &str); 2] = [(Law::Mu, "mu"), (Law::A, "a")];

    fn all_octets() -> Vec<u8> {
        (0..=255).collect()
    }

    fn random_octets(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = Pcg64::seed_from_u64(seed);
        (0..n).map(|_| rng.random()).collect()
    }

    /// Runs the block over `x` in chunks cycling through `sizes`, with `cap`
    /// items of output space per call.
    fn through(params: &[(&str, Value)], x: &[u8], sizes: &[usize], cap: usize) -> Vec<u8> {
        let mut b = build(&spec(), params).unwrap();
        let r = run(
            &mut *b,
            Some(ItemType::Octet),
            &chunked(x, sizes),
            &[ItemType::Octet],
            cap,
            0,
        )
        .unwrap();
        items(&r.outputs[0])
    }

    #[test]
    fn identity_when_off_for_all_256_codes() {
        for (law, name) in LAWS {
            assert_eq!(pad_table(law, 0.0).to_vec(), all_octets(), "{name}");
            // Negative and NaN pads count as none.
            assert_eq!(pad_table(law, -3.0).to_vec(), all_octets(), "{name}");
            assert_eq!(pad_table(law, f64::NAN).to_vec(), all_octets(), "{name}");
            // Every octet in every interval, through the block with defaults.
            let x: Vec<u8> = (0..6 * 256).map(|i| (i / 6) as u8).collect();
            let y = through(&[("law", Value::from(name))], &x, &[4096], 4096);
            assert_eq!(y, x, "{name}");
        }
    }

    #[test]
    fn rbs_changes_exactly_the_lsb_in_the_listed_intervals() {
        let x = random_octets(6000, 3);
        for (law, name) in LAWS {
            for (rbs, intervals) in [("5", &[5][..]), ("0, 2,3", &[0, 2, 3]), ("1,1", &[1])] {
                for bit in [0u8, 1] {
                    let p = [
                        ("law", Value::from(name)),
                        ("rbs", Value::from(rbs)),
                        ("rbs_bit", Value::Int(i64::from(bit))),
                    ];
                    let y = through(&p, &x, &[7], 64);
                    assert_eq!(y.len(), x.len());
                    for (n, (&a, &b)) in x.iter().zip(&y).enumerate() {
                        if intervals.contains(&(n % 6)) {
                            assert_eq!(b, (a & !1) | bit, "{name} {rbs} bit {bit} n={n}");
                        } else {
                            assert_eq!(b, a, "{name} {rbs} n={n}");
                        }
                    }
                    // The Ucode's parity follows the robbed bit in both laws.
                    for (n, &b) in y.iter().enumerate() {
                        if intervals.contains(&(n % 6)) {
                            let u = from_octet(law, b).0;
                            assert_eq!(u & 1, 1 - bit, "{name} octet {b:#04x}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rbs_applies_after_the_pad() {
        let x = random_octets(600, 4);
        for (law, name) in LAWS {
            let p = [
                ("law", Value::from(name)),
                ("pad", Value::from("3")),
                ("rbs", Value::from("4")),
                ("rbs_bit", Value::Int(0)),
            ];
            let y = through(&p, &x, &[333], 100);
            let t = pad_table(law, 3.0);
            for (n, (&a, &b)) in x.iter().zip(&y).enumerate() {
                let want = if n % 6 == 4 {
                    t[usize::from(a)] & !1
                } else {
                    t[usize::from(a)]
                };
                assert_eq!(b, want, "{name} n={n}");
            }
        }
    }

    /// Half the width of the decision interval around Ucode `u`, bounded by
    /// half the larger gap to its neighbours in Table 1.
    fn half_step(law: Law, u: u8) -> f64 {
        let v = f64::from(linear(law, u));
        let up = if u < MAX_UCODE {
            f64::from(linear(law, u + 1)) - v
        } else {
            0.0
        };
        let down = if u > 0 {
            v - f64::from(linear(law, u - 1))
        } else {
            0.0
        };
        up.max(down) / 2.0
    }

    #[test]
    fn pad_tables_are_monotone_and_scale_by_the_pad() {
        for (law, name) in LAWS {
            for pad in [3.0, 6.0] {
                let t = pad_table(law, pad);
                let g = 10f64.powf(-pad / 20.0);
                if pad == 3.0 {
                    assert!((g - 0.708).abs() < 1e-3);
                }
                // Monotone: sorted by input value, outputs never decrease.
                let mut by_value = all_octets();
                by_value.sort_by_key(|&o| signed_linear(law, o));
                for w in by_value.windows(2) {
                    let (a, b) = (t[usize::from(w[0])], t[usize::from(w[1])]);
                    assert!(
                        signed_linear(law, a) <= signed_linear(law, b),
                        "{name} {pad} dB: {:#04x} → {a:#04x}, {:#04x} → {b:#04x}",
                        w[0],
                        w[1]
                    );
                }
                for o in all_octets() {
                    let p = t[usize::from(o)];
                    let (u, pos) = from_octet(law, o);
                    let (pu, ppos) = from_octet(law, p);
                    assert_eq!(pos, ppos, "{name} {pad} dB keeps the polarity of {o:#04x}");
                    // Padded value = g · input value within the quantisation
                    // (and the integer rounding before it).
                    let want = g * f64::from(linear(law, u));
                    let got = f64::from(linear(law, pu));
                    assert!(
                        (got - want).abs() <= half_step(law, pu) + 0.5,
                        "{name} {pad} dB Ucode {u} → {pu}: {got} vs {want}"
                    );
                    assert!(pu <= u, "a pad never raises a level");
                }
            }
        }
    }

    #[test]
    fn pads_merge_the_documented_number_of_ucodes() {
        // (law, pad dB, distinct Ucodes left, largest reachable Ucode): the
        // figures in the module doc and the block's doc.
        // Also how many of the merges lie below Ucode 32.
        for (law, pad, distinct, top, below_32) in [
            (Law::Mu, 3.0, 103, 118, 8),
            (Law::Mu, 6.0, 112, 111, 12),
            (Law::A, 3.0, 107, 118, 9),
            (Law::A, 6.0, 112, 111, 16),
        ] {
            let t = pad_table(law, pad);
            let mut seen = [false; UCODES];
            for u in 0..=MAX_UCODE {
                let o = ucode::octet(law, u, true);
                seen[usize::from(from_octet(law, t[usize::from(o)]).0)] = true;
            }
            let n = seen.iter().filter(|&&s| s).count();
            // Where they merge: Ucodes u whose padded code equals u − 1's.
            let padded = |u: u8| from_octet(law, t[usize::from(ucode::octet(law, u, true))]).0;
            let low = (1..32).filter(|&u| padded(u) == padded(u - 1)).count();
            let max = seen.iter().rposition(|&s| s).unwrap();
            println!(
                "{law:?} {pad} dB: {n} distinct Ucodes ({} merged, {low} of them below 32), \
                 largest {max}",
                UCODES - n
            );
            assert_eq!((n, max, low), (distinct, top, below_32), "{law:?} {pad} dB");
        }
    }

    #[test]
    fn same_output_whatever_the_chunking() {
        let x = random_octets(10_000, 5);
        let p = [
            ("law", Value::from("a")),
            ("pad", Value::Int(6)),
            ("rbs", Value::from("1,5")),
        ];
        let want = through(&p, &x, &[10_000], 1 << 14);
        assert_eq!(want.len(), x.len());
        for (sizes, cap) in [
            (&[1][..], 1),
            (&[7], 7),
            (&[333], 64),
            (&[4096], 4096),
            (&[1, 7, 333, 4096], 5),
        ] {
            assert_eq!(through(&p, &x, sizes, cap), want, "{sizes:?} cap {cap}");
        }
        // The kernel keeps the interval between calls.
        let mut k = DigitalNetwork::new(Law::Mu, 0.0, RbsMask(1 << 5), true);
        let mut y = [0u8; 4];
        k.process(&[0; 4], &mut y);
        assert_eq!(k.interval(), 4);
        k.process(&[0; 4], &mut y);
        assert_eq!(y, [0, 1, 0, 0]);
        assert_eq!(k.interval(), 2);
    }

    #[test]
    fn any_octet_is_valid_and_bad_parameters_say_how_to_fix_them() {
        let x = random_octets(5000, 6);
        for (_, name) in LAWS {
            for pad in ["0", "3", "6"] {
                let p = [
                    ("law", Value::from(name)),
                    ("pad", Value::from(pad)),
                    ("rbs", Value::from("0,1,2,3,4,5")),
                ];
                assert_eq!(through(&p, &x, &[1, 7, 333], 50).len(), x.len());
            }
        }
        let err = |p: &[(&str, Value)]| build(&spec(), p).err().unwrap_or_default();
        let e = err(&[("rbs", Value::from("6"))]);
        assert!(e.contains("`rbs`") && e.contains("0 … 5"), "{e}");
        let e = err(&[("rbs", Value::from("1;2"))]);
        assert!(e.contains("`rbs`") && e.contains("commas"), "{e}");
        assert!(err(&[("rbs", Value::from("-1"))]).contains("`rbs`"));
        assert!(err(&[("pad", Value::Int(4))]).contains("`pad`"));
        assert!(err(&[("rbs_bit", Value::Int(2))]).contains("`rbs_bit`"));
        assert!(err(&[("law", Value::from("b"))]).contains("`law`"));
        assert_eq!(RbsMask::parse(" ").unwrap(), RbsMask::NONE);
        assert_eq!(RbsMask::parse("5, 0,").unwrap(), RbsMask(0b10_0001));
        assert!(!RbsMask(0xFF).robs(6));
    }

    #[test]
    fn spec_has_the_documented_parameters() {
        let s = spec();
        let names: Vec<_> = s.params.iter().map(|p| p.name).collect();
        assert_eq!(names, ["law", "pad", "rbs", "rbs_bit"]);
        assert!(s.params.iter().all(|p| !p.live));
        assert_eq!(
            s.inputs[0].ty,
            modemflow_flow::PortType::Fixed(ItemType::Octet)
        );
        assert_eq!(
            s.outputs[0].ty,
            modemflow_flow::PortType::Fixed(ItemType::Octet)
        );
    }
}
