//! V.34 symbol rates, carriers and data rates (V.34 §5, Tables 1, 2 and 7;
//! modem-standards.md §4.1) and the framing figures of §8 that follow from
//! them: bits per data frame N, high-frame size b and the switching pattern.

/// One of the six symbol rates S = 2400·a/c of V.34 Table 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SymbolRate {
    /// The symbol rate as modems name it (2743 for 2400·8/7).
    pub name: u32,
    /// V.34 Table 1: S = 2400·a/c.
    pub a: u32,
    pub c: u32,
    /// V.34 Table 1: carrier = S·d/e, low and high.
    pub low: (u32, u32),
    pub high: (u32, u32),
    /// V.34 Table 1: J data frames per superframe, P mapping frames per data frame.
    pub j: u32,
    pub p: u32,
    /// V.34 Table 1: auxiliary bits per data frame (W in the AMP counter).
    pub w: u32,
    /// V.34 Table 1: the highest data rate allowed at this symbol rate.
    pub max_rate: u32,
}

/// V.34 Table 1, every symbol rate with its parameters.
#[rustfmt::skip]
pub const SYMBOL_RATES: [SymbolRate; 6] = [
    SymbolRate { name: 2400, a: 1, c: 1, low: (2, 3), high: (3, 4), j: 7, p: 12, w: 8, max_rate: 21600 },
    SymbolRate { name: 2743, a: 8, c: 7, low: (3, 5), high: (2, 3), j: 8, p: 12, w: 7, max_rate: 26400 },
    SymbolRate { name: 2800, a: 7, c: 6, low: (3, 5), high: (2, 3), j: 7, p: 14, w: 8, max_rate: 26400 },
    SymbolRate { name: 3000, a: 5, c: 4, low: (3, 5), high: (2, 3), j: 7, p: 15, w: 8, max_rate: 28800 },
    SymbolRate { name: 3200, a: 4, c: 3, low: (4, 7), high: (3, 5), j: 7, p: 16, w: 8, max_rate: 31200 },
    SymbolRate { name: 3429, a: 10, c: 7, low: (4, 7), high: (4, 7), j: 8, p: 15, w: 7, max_rate: 33600 },
];

/// V.34 §5: data rates are multiples of 2400 bit/s.
pub const RATE_STEP: u32 = 2400;
/// V.34 Table 1: 2400 bit/s only at 2400 baud; every other symbol rate starts at 4800.
pub const MIN_RATE: u32 = 2400;
/// V.34 §8: every superframe lasts 280 ms, whatever the symbol rate.
pub const SUPERFRAME_SECONDS: f64 = 0.28;
/// V.34 §8: a mapping frame is four 4D symbols, eight 2D symbols.
pub const SYMBOLS_PER_MAPPING_FRAME: usize = 8;
/// The line's sample rate.
pub const SAMPLE_RATE: u32 = 8000;

/// The symbol rates by name, for parameter lists and messages.
pub const SYMBOL_RATE_NAMES: [i64; 6] = [2400, 2743, 2800, 3000, 3200, 3429];

impl SymbolRate {
    pub fn by_name(name: u32) -> Option<SymbolRate> {
        SYMBOL_RATES.iter().copied().find(|s| s.name == name)
    }

    /// Symbols per second, exactly.
    pub fn hz(self) -> f64 {
        2400.0 * f64::from(self.a) / f64::from(self.c)
    }

    /// The carrier, low or high (V.34 Table 1), in Hz.
    pub fn carrier_hz(self, high: bool) -> f64 {
        let (d, e) = if high { self.high } else { self.low };
        self.hz() * f64::from(d) / f64::from(e)
    }

    /// The lowest data rate V.34 Table 1 allows at this symbol rate.
    pub fn min_rate(self) -> u32 {
        if self.name == 2400 {
            MIN_RATE
        } else {
            2 * RATE_STEP
        }
    }

    /// The data rates V.34 Table 1 allows at this symbol rate.
    pub fn rates(self) -> impl Iterator<Item = u32> {
        (self.min_rate()..=self.max_rate).step_by(RATE_STEP as usize)
    }

    /// Whether `rate` bit/s (primary channel) is allowed at this symbol rate.
    pub fn allows(self, rate: u32) -> bool {
        rate.is_multiple_of(RATE_STEP) && (self.min_rate()..=self.max_rate).contains(&rate)
    }

    /// Line samples per symbol as a reduced fraction num/den (8000/S).
    pub fn samples_per_symbol(self) -> (u32, u32) {
        // 8000/S = 8000·c/(2400·a) = 10·c/(3·a).
        reduce(10 * self.c, 3 * self.a)
    }

    /// Mapping frames per superframe.
    pub fn mapping_frames_per_superframe(self) -> u32 {
        self.j * self.p
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// num/den in lowest terms.
pub fn reduce(num: u32, den: u32) -> (u32, u32) {
    let g = gcd(num, den).max(1);
    (num / g, den / g)
}

/// The framing of V.34 §8 for R bit/s (primary plus auxiliary) at one symbol rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// V.34 §8: N = R·0.28/J bits per data frame.
    pub n: u32,
    /// V.34 §8: b = ⌈N/P⌉ bits in a high mapping frame, b − 1 in a low one.
    pub b: u32,
    /// V.34 §8: r = N − (b − 1)·P high mapping frames per data frame (1 ≤ r ≤ P).
    pub r: u32,
    /// P, mapping frames per data frame.
    pub p: u32,
}

impl Framing {
    /// The framing for `total_rate` = primary + auxiliary bit/s at symbol
    /// rate `s`; `None` when N is not a whole number of bits.
    pub fn new(s: SymbolRate, total_rate: u32) -> Option<Framing> {
        // N = R·0.28/J = R·7/(25·J), exactly.
        let num = u64::from(total_rate) * 7;
        let den = 25 * u64::from(s.j);
        if num % den != 0 || num == 0 {
            return None;
        }
        let n = (num / den) as u32;
        let b = n.div_ceil(s.p);
        let r = n - (b - 1) * s.p;
        Some(Framing { n, b, r, p: s.p })
    }

    /// Whether mapping frame `i` (0 ≤ i < P) of a data frame is a high one,
    /// by the switching-pattern counter of V.34 §8: before each data frame
    /// the counter is 0; each mapping frame adds r; a frame is high when the
    /// counter reaches P, which is then subtracted.
    pub fn is_high(self, i: u32) -> bool {
        // After frame i the counter has had r added i + 1 times and P taken
        // away once per high frame so far, so frame i is high exactly when
        // ⌊(i + 1)·r / P⌋ exceeds ⌊i·r / P⌋.
        (i + 1) * self.r / self.p > i * self.r / self.p
    }

    /// The switching pattern as V.34 Table 8 prints it: bit P−1−i set when
    /// mapping frame i is high (the first frame is the most significant bit).
    pub fn swp(self) -> u32 {
        (0..self.p)
            .filter(|&i| self.is_high(i))
            .fold(0, |acc, i| acc | 1 << (self.p - 1 - i))
    }

    /// The bits of mapping frame `i` of a data frame.
    pub fn frame_bits(self, i: u32) -> u32 {
        if self.is_high(i) {
            self.b
        } else {
            self.b - 1
        }
    }
}

/// The mapping parameters of V.34 §9.2 (Table 10) for high-frame size b.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// High-frame size.
    pub b: u32,
    /// V.34 §9.2: K shell-mapping bits (K − 1 in a low frame); 0 if b ≤ 12.
    pub k: u32,
    /// V.34 §9.2: q uncoded bits per 2D symbol (the smallest that makes K < 32).
    pub q: u32,
    /// V.34 §9.2: ring count M.
    pub m: u32,
}

/// V.34 §9.2: shell mapping takes K < 32 bits.
pub const MAX_K: u32 = 31;
/// V.34 §9.2: at most 18 rings.
pub const MAX_RINGS: u32 = 18;

impl Mapping {
    /// The parameters for high frames of b bits, with the minimum ring count
    /// or the expanded one (V.34 §9.2: `expanded` is MP's shaping bit).
    pub fn new(b: u32, expanded: bool) -> Mapping {
        if b <= 12 {
            return Mapping {
                b,
                k: 0,
                q: 0,
                m: 1,
            };
        }
        // V.34 §9.2: K = b − 12 − 8q with q the smallest such that K < 32.
        let mut q = 0;
        while b - 12 - 8 * q > MAX_K {
            q += 1;
        }
        let k = b - 12 - 8 * q;
        let m_min = min_rings(k);
        // V.34 §9.2: the expanded M is the integer nearest 1.25·2^(K/8), but
        // never below the minimum.
        let m = if expanded {
            ((1.25 * 2f64.powf(f64::from(k) / 8.0)).round() as u32).max(m_min)
        } else {
            m_min
        };
        Mapping { b, k, q, m }
    }

    /// V.34 §9.2: L = 4·M·2^q points in the constellation.
    pub fn points(self) -> u32 {
        (4 * self.m) << self.q
    }
}

/// V.34 §9.2: the minimum M = ⌈2^(K/8)⌉, in integers: the least M with M⁸ ≥ 2^K.
fn min_rings(k: u32) -> u32 {
    (1..=MAX_RINGS)
        .find(|&m| u64::from(m).pow(8) >= 1u64 << k)
        .unwrap_or(MAX_RINGS)
}

/// Everything the data pump needs to know about one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    pub symbol_rate: SymbolRate,
    /// Primary-channel rate, bit/s.
    pub rate: u32,
    pub framing: Framing,
    pub mapping: Mapping,
    pub expanded: bool,
}

impl Mode {
    /// The mode for `rate` bit/s at symbol rate `symbol_rate` (its name:
    /// 2400 … 3429), without the auxiliary channel; an error that lists the
    /// allowed values otherwise.
    pub fn new(rate: u32, symbol_rate: u32, expanded: bool) -> Result<Mode, String> {
        let s = SymbolRate::by_name(symbol_rate).ok_or_else(|| {
            format!("symbol rate {symbol_rate} is not one of V.34's: 2400, 2743, 2800, 3000, 3200, 3429")
        })?;
        if !s.allows(rate) {
            return Err(format!(
                "V.34 does not allow {rate} bit/s at {symbol_rate} baud: {}",
                allowed_rates_text(s)
            ));
        }
        let framing = Framing::new(s, rate).ok_or("no whole number of bits per data frame")?;
        Ok(Mode {
            symbol_rate: s,
            rate,
            framing,
            mapping: Mapping::new(framing.b, expanded),
            expanded,
        })
    }

    /// Mapping frames per second.
    pub fn mapping_frames_per_second(&self) -> f64 {
        self.symbol_rate.hz() / SYMBOLS_PER_MAPPING_FRAME as f64
    }
}

/// "allowed: 4800 … 33600 in steps of 2400" for messages.
pub fn allowed_rates_text(s: SymbolRate) -> String {
    format!(
        "it allows {} … {} bit/s in steps of 2400 (V.34 Table 1)",
        s.min_rate(),
        s.max_rate
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// V.34 Tables 8 and 10 as transcribed in spandsp 0.0.6's
    /// `src/v34_tables.h` (`mappings_2400` … `mappings_3429`): for each
    /// symbol rate, 28 rows of (b, M minimum, M expanded) for 2400, 2600,
    /// 4800, 5000, … 33 600, 33 800 bit/s (each primary rate without and
    /// with the 200 bit/s auxiliary channel), 0 where the rate is not allowed.
    #[rustfmt::skip]
    const TABLE_8_10: [[(u32, u32, u32); 28]; 6] = [
        [
            (8, 1, 1), (9, 1, 1), (16, 2, 2), (17, 2, 2), (24, 3, 4), (25, 4, 4), (32, 6, 7),
            (33, 7, 8), (40, 12, 14), (41, 13, 15), (48, 12, 14), (49, 13, 15), (56, 12, 14),
            (57, 13, 15), (64, 12, 14), (65, 13, 15), (72, 12, 14), (73, 13, 15), (0, 0, 0),
            (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0),
            (0, 0, 0), (0, 0, 0),
        ],
        [
            (0, 0, 0), (0, 0, 0), (14, 2, 2), (15, 2, 2), (21, 3, 3), (22, 3, 3), (28, 4, 5),
            (29, 5, 5), (35, 8, 9), (36, 8, 10), (42, 14, 17), (43, 15, 18), (49, 13, 15),
            (50, 14, 17), (56, 12, 14), (57, 13, 15), (63, 11, 13), (64, 12, 14), (70, 10, 12),
            (71, 11, 13), (77, 9, 11), (78, 10, 12), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0),
            (0, 0, 0), (0, 0, 0),
        ],
        [
            (0, 0, 0), (0, 0, 0), (14, 2, 2), (15, 2, 2), (21, 3, 3), (22, 3, 3), (28, 4, 5),
            (28, 4, 5), (35, 8, 9), (35, 8, 9), (42, 14, 17), (42, 14, 17), (48, 12, 14),
            (49, 13, 15), (55, 11, 13), (56, 12, 14), (62, 10, 12), (63, 11, 13), (69, 9, 11),
            (70, 10, 12), (76, 8, 10), (76, 8, 10), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0),
            (0, 0, 0), (0, 0, 0),
        ],
        [
            (0, 0, 0), (0, 0, 0), (13, 2, 2), (14, 2, 2), (20, 2, 3), (20, 2, 3), (26, 4, 4),
            (27, 4, 5), (32, 6, 7), (33, 7, 8), (39, 11, 13), (39, 11, 13), (45, 9, 11),
            (46, 10, 12), (52, 8, 10), (52, 8, 10), (58, 14, 17), (59, 15, 18), (64, 12, 14),
            (65, 13, 15), (71, 11, 13), (71, 11, 13), (77, 9, 11), (78, 10, 12), (0, 0, 0),
            (0, 0, 0), (0, 0, 0), (0, 0, 0),
        ],
        [
            (0, 0, 0), (0, 0, 0), (12, 1, 1), (13, 2, 2), (18, 2, 2), (19, 2, 2), (24, 3, 4),
            (25, 4, 4), (30, 5, 6), (31, 6, 6), (36, 8, 10), (37, 9, 11), (42, 14, 17),
            (43, 15, 18), (48, 12, 14), (49, 13, 15), (54, 10, 12), (55, 11, 13), (60, 8, 10),
            (61, 9, 11), (66, 14, 17), (67, 15, 18), (72, 12, 14), (73, 13, 15), (78, 10, 12),
            (79, 11, 13), (0, 0, 0), (0, 0, 0),
        ],
        [
            (0, 0, 0), (0, 0, 0), (12, 1, 1), (12, 1, 1), (17, 2, 2), (18, 2, 2), (23, 3, 3),
            (23, 3, 3), (28, 4, 5), (29, 5, 5), (34, 7, 8), (35, 8, 9), (40, 12, 14),
            (40, 12, 14), (45, 9, 11), (46, 10, 12), (51, 15, 18), (51, 15, 18), (56, 12, 14),
            (57, 13, 15), (62, 10, 12), (63, 11, 13), (68, 8, 10), (68, 8, 10), (73, 13, 15),
            (74, 14, 17), (79, 11, 13), (79, 11, 13),
        ],
    ];

    #[test]
    fn table_8_and_10_from_the_formulas() {
        let mut rows = 0;
        for (s, table) in SYMBOL_RATES.iter().zip(&TABLE_8_10) {
            for (i, &(b, m_min, m_exp)) in table.iter().enumerate() {
                let primary = RATE_STEP * (i as u32 / 2 + 1);
                let total = primary + 200 * (i as u32 % 2);
                if b == 0 {
                    assert!(!s.allows(primary), "{} {primary}", s.name);
                    continue;
                }
                assert!(s.allows(primary), "{} {primary}", s.name);
                rows += 1;
                let f = Framing::new(*s, total).unwrap();
                assert_eq!(f.b, b, "b at {total} bit/s, {} baud", s.name);
                assert!((1..=s.p).contains(&f.r));
                assert_eq!((0..s.p).map(|i| f.frame_bits(i)).sum::<u32>(), f.n);
                assert_eq!((0..s.p).filter(|&i| f.is_high(i)).count() as u32, f.r);
                assert_eq!(f.swp().count_ones(), f.r);
                assert_eq!(Mapping::new(b, false).m, m_min, "M at {total}, {}", s.name);
                assert_eq!(Mapping::new(b, true).m, m_exp, "M' at {total}, {}", s.name);
            }
        }
        // V.34 Table 1: 65 primary rates, each with and without the aux channel.
        assert_eq!(rows, 130);
        assert_eq!(
            SYMBOL_RATES
                .iter()
                .map(|s| s.rates().count())
                .sum::<usize>(),
            65
        );
    }

    #[test]
    fn switching_pattern_follows_the_counter() {
        // modem-standards.md §4.3: 19 200 bit/s at 3000 baud: b = 52, SWP 0x0421.
        let f = Framing::new(SymbolRate::by_name(3000).unwrap(), 19200).unwrap();
        assert_eq!((f.b, f.swp()), (52, 0x0421));
        // The counter itself, as V.34 §8 words it, for every row.
        for s in SYMBOL_RATES {
            for rate in s.rates() {
                let f = Framing::new(s, rate).unwrap();
                let mut cnt = 0;
                for i in 0..s.p {
                    cnt += f.r;
                    let high = cnt >= s.p;
                    if high {
                        cnt -= s.p;
                    }
                    assert_eq!(f.is_high(i), high, "{rate} at {}, frame {i}", s.name);
                }
                assert_eq!(cnt, 0);
            }
        }
    }

    #[test]
    fn mapping_parameters_examples() {
        // modem-standards.md §4.4.
        for (rate, s, k, q, m, m_exp, l_exp) in [
            (33600, 3429, 27, 5, 11, 13, 1664),
            (28800, 3200, 28, 4, 12, 14, 896),
            (31200, 3200, 26, 5, 10, 12, 1536),
        ] {
            let mode = Mode::new(rate, s, false).unwrap();
            assert_eq!((mode.mapping.k, mode.mapping.q, mode.mapping.m), (k, q, m));
            let e = Mode::new(rate, s, true).unwrap().mapping;
            assert_eq!((e.m, e.points()), (m_exp, l_exp));
        }
        assert_eq!(
            Mapping::new(12, true),
            Mapping {
                b: 12,
                k: 0,
                q: 0,
                m: 1
            }
        );
    }

    #[test]
    fn carriers_and_sample_ratios() {
        let s = SymbolRate::by_name(3429).unwrap();
        assert!((s.hz() - 3_428.571_428).abs() < 1e-5);
        assert!((s.carrier_hz(false) - 1_959.183_673).abs() < 1e-5);
        assert_eq!(s.samples_per_symbol(), (7, 3));
        assert_eq!(SymbolRate::by_name(2400).unwrap().carrier_hz(true), 1800.0);
        assert_eq!(
            SymbolRate::by_name(2743).unwrap().samples_per_symbol(),
            (35, 12)
        );
        // 280 ms superframes at every symbol rate.
        for s in SYMBOL_RATES {
            let symbols = f64::from(s.j * s.p * 8);
            assert!(
                (symbols / s.hz() - SUPERFRAME_SECONDS).abs() < 1e-12,
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn bad_modes_are_refused_with_the_allowed_values() {
        let e = Mode::new(33600, 3200, false).unwrap_err();
        assert!(e.contains("4800 … 31200"), "{e}");
        assert!(Mode::new(2400, 3000, false).is_err());
        assert!(Mode::new(2500, 2400, false).is_err());
        assert!(Mode::new(4800, 3100, false).unwrap_err().contains("2743"));
        assert!(Mode::new(2400, 2400, false).is_ok());
    }
}
