//! What a modem offers in V.8: the categories of a CM or JM as values
//! (V.8 Tables 2–7, modem-standards.md §3.3), the octets that carry them, the
//! JM an answerer makes from a CM (V.8 §7.3–7.4 consistency rules) and the
//! mode both ends then go to (V.8 Table 4 priority; V.90 §9.1.1).

use super::message::{
    categories, CALL_FUNCTIONS, MODN0, MODN1, MODN2, TAG_ACCESS, TAG_CALLF, TAG_MODN, TAG_PCM,
    TAG_PROT,
};

/// V.8 Table 2: call function 6, V-series data modems.
pub const CALL_V_SERIES: u8 = 6;
/// V.8 Table 5: protocol value 1, LAPM (V.42).
pub const PROTOCOL_LAPM: u8 = 1;
/// V.8 Table 6, access0 b7: this DCE is on a digital network connection.
pub const ACCESS_DIGITAL: u8 = 0x80;
/// V.8 Table 7 (V.90 §9.1.1), pcm0 b5: V.90/V.92 analogue modem available.
pub const PCM_ANALOGUE: u8 = 0x20;
/// pcm0 b6: V.90/V.92 digital modem available.
pub const PCM_DIGITAL: u8 = 0x40;
/// V.8 Table 4, modn0 b5: PCM modes (set when the pcm0 category is present).
const MODN0_PCM: u8 = 0x20;
/// V.8 Table 4, modn0 b6: V.34 duplex.
const MODN0_V34: u8 = 0x40;
/// V.8 §5: extension octets carry their option bits in b0–b2, b6, b7 and
/// have b3 b4 b5 = 0 1 0.
const EXTENSION: u8 = 0x10;
/// Option bits of a category octet (b5–b7).
const OPTIONS: u8 = 0xE0;

/// V.8 Table 4: the modulation modes in order of priority (item 1 first);
/// without a PCM pair, the modems use the first one both list.
pub const PRIORITY: [&str; 12] = [
    "v34", "v34hdx", "v32bis", "v22bis", "v17", "v29hdx", "v27ter", "v26ter", "v26bis", "v23",
    "v23hdx", "v21",
];

/// Where a modulation mode's bit is: (modulation octet 0–2, mask).
fn modulation_bit(name: &str) -> Option<(usize, u8)> {
    [&MODN0[..], &MODN1[..], &MODN2[..]]
        .iter()
        .enumerate()
        .find_map(|(i, t)| t.iter().find(|(_, n)| *n == name).map(|&(m, _)| (i, m)))
}

/// Every modulation name V.8 Table 4 gives, for messages.
pub fn modulation_names() -> Vec<&'static str> {
    MODN0
        .iter()
        .chain(&MODN1)
        .chain(&MODN2)
        .map(|&(_, n)| n)
        .collect()
}

/// Which V.90 modem a side can be (pcm0 b5/b6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pcm {
    None,
    Analogue,
    Digital,
}

/// The categories of a CM or JM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// V.8 Table 2 value f (0–7).
    pub call_function: u8,
    /// Option bits of modn0, modn1 and modn2 (tag and extension bits removed).
    pub modulations: [u8; 3],
    /// How many modulation octets the message has (1–3); a JM uses as many as
    /// the CM it answers (V.8 §7.4).
    pub modulation_octets: usize,
    /// V.8 Table 5 value p, when prot0 is present.
    pub protocol: Option<u8>,
    /// Option bits of access0, when present.
    pub access: Option<u8>,
    /// Option bits of pcm0, when present.
    pub pcm: Option<u8>,
}

impl Offer {
    /// A V-series data offer of the named modulation modes (`v90` meaning the
    /// PCM modes), checked against V.8 §6.3: PCM needs V.34 duplex and a
    /// V.90 role, and a V.90 modem states its PSTN access (V.90 §9.1.1); the
    /// digital modem is on a digital connection.
    pub fn new(modulations: &[&str], pcm: Pcm, lapm: bool) -> Result<Offer, String> {
        let mut bits = [0u8; 3];
        for name in modulations {
            let (i, m) = modulation_bit(name).ok_or_else(|| {
                format!(
                    "unknown modulation `{name}`; V.8 Table 4 names: {}",
                    modulation_names().join(", ")
                )
            })?;
            bits[i] |= m;
        }
        let pcm_listed = bits[0] & MODN0_PCM != 0;
        match (pcm_listed, pcm) {
            (true, Pcm::None) => {
                return Err(
                    "`v90` is listed but pcm is none: give pcm analogue or digital, or drop v90"
                        .into(),
                )
            }
            (false, Pcm::Analogue | Pcm::Digital) => {
                return Err(
                    "pcm analogue/digital needs `v90` among the modulations (V.8 §6.3)".into(),
                )
            }
            (true, _) if bits[0] & MODN0_V34 == 0 => {
                return Err("`v90` needs `v34` among the modulations too (V.8 §6.3)".into())
            }
            _ => {}
        }
        if bits == [0; 3] {
            return Err("no modulation modes: list at least one, e.g. v34".into());
        }
        let (access, pcm) = match pcm {
            Pcm::None => (None, None),
            Pcm::Analogue => (Some(0), Some(PCM_ANALOGUE)),
            Pcm::Digital => (Some(ACCESS_DIGITAL), Some(PCM_DIGITAL)),
        };
        Ok(Offer {
            call_function: CALL_V_SERIES,
            modulations: bits,
            modulation_octets: 3,
            protocol: lapm.then_some(PROTOCOL_LAPM),
            access,
            pcm,
        })
    }

    /// The information octets (after the sync octet) in V.8 §6 order.
    pub fn octets(&self) -> Vec<u8> {
        let mut o = vec![TAG_CALLF | (self.call_function & 7) << 5];
        o.push(TAG_MODN | (self.modulations[0] & OPTIONS));
        for &m in &self.modulations[1..self.modulation_octets.clamp(1, 3)] {
            o.push(EXTENSION | (m & !0x38));
        }
        if let Some(p) = self.protocol {
            o.push(TAG_PROT | (p & 7) << 5);
        }
        if let Some(a) = self.access {
            o.push(TAG_ACCESS | (a & OPTIONS));
        }
        if let Some(p) = self.pcm {
            o.push(TAG_PCM | (p & OPTIONS));
        }
        o
    }

    /// Reads the octets of a received CM or JM. Categories this side does
    /// not use (NSF, T.66, unknown ones) are skipped; a message without a
    /// call function or modulation octet is not an offer.
    pub fn from_octets(octets: &[u8]) -> Option<Offer> {
        let mut call_function = None;
        let mut offer = Offer {
            call_function: 0,
            modulations: [0; 3],
            modulation_octets: 0,
            protocol: None,
            access: None,
            pcm: None,
        };
        for (o, ext) in categories(octets) {
            if o & 0x10 != 0 {
                continue;
            }
            match o & 0x0F {
                TAG_CALLF => call_function = Some(o >> 5),
                TAG_MODN => {
                    offer.modulations[0] = o & OPTIONS;
                    for (k, &e) in ext.iter().take(2).enumerate() {
                        offer.modulations[k + 1] = e & !0x38;
                    }
                    offer.modulation_octets = 1 + ext.len().min(2);
                }
                TAG_PROT => offer.protocol = Some(o >> 5),
                TAG_ACCESS => offer.access = Some(o & OPTIONS),
                TAG_PCM => offer.pcm = Some(o & OPTIONS),
                _ => {}
            }
        }
        offer.call_function = call_function?;
        (offer.modulation_octets > 0).then_some(offer)
    }

    /// The modulation names set, in V.8 Table 4 order.
    pub fn modulation_list(&self) -> Vec<&'static str> {
        [&MODN0[..], &MODN1[..], &MODN2[..]]
            .iter()
            .zip(self.modulations)
            .flat_map(|(t, bits)| {
                t.iter()
                    .filter(move |(m, _)| bits & m != 0)
                    .map(|&(_, n)| n)
            })
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        modulation_bit(name).is_some_and(|(i, m)| self.modulations[i] & m != 0)
    }

    /// The call function's name (V.8 Table 2).
    pub fn call_function_name(&self) -> &'static str {
        CALL_FUNCTIONS[usize::from(self.call_function & 7)]
    }

    /// The JM an answerer offering `self` sends in reply to `cm` (V.8 §7.4,
    /// modem-standards.md §3.3 consistency rules): the CM's call function, the
    /// modes both list in as many octets as the CM used, LAPM if both offer
    /// it, this side's PSTN access, and pcm0 only when the CM had it and both
    /// still list the PCM modes.
    pub fn jm_for(&self, cm: &Offer) -> Offer {
        let mut modulations = [0u8; 3];
        for (k, m) in modulations.iter_mut().enumerate() {
            *m = self.modulations[k] & cm.modulations[k];
        }
        let n = cm.modulation_octets.clamp(1, 3);
        for m in &mut modulations[n..] {
            *m = 0;
        }
        let pcm = match (cm.pcm, self.pcm) {
            (Some(_), Some(own)) if modulations[0] & MODN0_PCM != 0 => Some(own),
            _ => None,
        };
        if pcm.is_none() {
            modulations[0] &= !MODN0_PCM;
        }
        Offer {
            call_function: cm.call_function,
            modulations,
            modulation_octets: n,
            protocol: (cm.protocol == Some(PROTOCOL_LAPM) && self.protocol == Some(PROTOCOL_LAPM))
                .then_some(PROTOCOL_LAPM),
            access: self.access.or(pcm.map(|_| 0)),
            pcm,
        }
    }
}

/// What V.8 settled: the mode both modems go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreement {
    /// `v90` or a V.8 Table 4 name; None when the JM lists no common mode.
    pub mode: Option<&'static str>,
    /// With `v90`: whether the calling modem is the analogue one.
    pub caller_analogue: Option<bool>,
    /// Every mode the JM lists (the common ones).
    pub common: Vec<&'static str>,
    pub lapm: bool,
}

/// The mode a CM and the JM answering it lead to. V.90 needs one analogue and
/// one digital modem (V.90 §9.1.1): the JM must keep pcm0 and the PCM modes,
/// and the CM's and JM's availability bits must make such a pair; if both
/// could be either, the calling modem is the analogue one. Otherwise the first
/// mode of V.8 Table 4 the JM lists.
pub fn agree(cm: &Offer, jm: &Offer) -> Agreement {
    let common = jm.modulation_list();
    let pcm_pair = match (cm.pcm, jm.pcm) {
        (Some(c), Some(j)) if jm.modulations[0] & MODN0_PCM != 0 => {
            if c & PCM_ANALOGUE != 0 && j & PCM_DIGITAL != 0 {
                Some(true)
            } else if c & PCM_DIGITAL != 0 && j & PCM_ANALOGUE != 0 {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    };
    let mode = if pcm_pair.is_some() {
        Some("v90")
    } else {
        PRIORITY.iter().copied().find(|m| jm.has(m))
    };
    Agreement {
        mode,
        caller_analogue: pcm_pair,
        common,
        lapm: jm.protocol == Some(PROTOCOL_LAPM),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v8::message::{hex, parse};
    use proptest::prelude::*;

    const CALLER: &[&str] = &["v90", "v34", "v32bis", "v22bis", "v21"];

    #[test]
    fn the_reference_cm_of_an_analogue_v90_caller() {
        // modem-standards.md §3.5: C1 65 13 90 2A 0D 27.
        let cm = Offer::new(CALLER, Pcm::Analogue, true).unwrap();
        assert_eq!(hex(&cm.octets()), "C1 65 13 90 2A 0D 27");
        assert_eq!(Offer::from_octets(&cm.octets()), Some(cm));
    }

    #[test]
    fn spandsps_jm_from_a_digital_answerer() {
        // peers v8.json: the answerer (V.34, V.90, V.32bis, V.22bis, LAPM,
        // digital) answers that CM with C1 65 13 10 2A 8D 47.
        let cm = Offer::from_octets(&[0xC1, 0x65, 0x13, 0x90, 0x2A, 0x27]).unwrap();
        let own = Offer::new(&["v90", "v34", "v32bis", "v22bis"], Pcm::Digital, true).unwrap();
        let jm = own.jm_for(&cm);
        assert_eq!(hex(&jm.octets()), "C1 65 13 10 2A 8D 47");
        let a = agree(&cm, &jm);
        assert_eq!(a.mode, Some("v90"));
        assert_eq!(a.caller_analogue, Some(true));
        assert!(a.lapm);
        assert_eq!(a.common, ["v34", "v90", "v32bis", "v22bis"]);
    }

    #[test]
    fn the_real_recordings_agree_as_the_modems_did() {
        // tests/data/recordings: a V.90 call (CM from an analogue USR, JM
        // from a digital server) and a V.34 call between two analogue modems.
        let cm = Offer::from_octets(&[0xC1, 0x65, 0x13, 0x90, 0x27, 0x0D]).unwrap();
        let jm = Offer::from_octets(&[0xC1, 0x65, 0x13, 0x90, 0x47, 0x8D]).unwrap();
        assert_eq!(agree(&cm, &jm).mode, Some("v90"));
        let cm = Offer::from_octets(&[0xC1, 0x65, 0x13, 0x94, 0x0D, 0x27]).unwrap();
        let jm = Offer::from_octets(&[0xC1, 0x65, 0x13, 0x94, 0x0D, 0x27]).unwrap();
        let a = agree(&cm, &jm);
        assert_eq!(a.mode, Some("v34"), "two analogue modems cannot do V.90");
        assert_eq!(a.caller_analogue, None);
        assert!(!a.lapm);
    }

    #[test]
    fn without_a_pcm_pair_the_table_4_order_decides() {
        let cm = Offer::new(&["v32bis", "v22bis", "v21"], Pcm::None, true).unwrap();
        let own = Offer::new(&["v22bis", "v21"], Pcm::None, false).unwrap();
        let jm = own.jm_for(&cm);
        assert_eq!(jm.modulation_list(), ["v22bis", "v21"]);
        let a = agree(&cm, &jm);
        assert_eq!(a.mode, Some("v22bis"));
        assert!(!a.lapm, "LAPM only when both offer it");
        // An analogue V.90 caller meets an analogue V.90 answerer: no pair,
        // so the JM drops pcm0 and the PCM bit, and they use V.34.
        let cm = Offer::new(CALLER, Pcm::Analogue, true).unwrap();
        let own = Offer::new(CALLER, Pcm::Analogue, true).unwrap();
        let jm = own.jm_for(&cm);
        assert_eq!(agree(&cm, &jm).mode, Some("v34"));
        // Nothing in common.
        let own = Offer::new(&["v17"], Pcm::None, true).unwrap();
        let jm = own.jm_for(&cm);
        assert_eq!(jm.modulation_list(), Vec::<&str>::new());
        assert_eq!(agree(&cm, &jm).mode, None);
    }

    #[test]
    fn a_digital_caller_and_an_analogue_answerer() {
        let cm = Offer::new(CALLER, Pcm::Digital, true).unwrap();
        let jm = Offer::new(CALLER, Pcm::Analogue, true).unwrap().jm_for(&cm);
        let a = agree(&cm, &jm);
        assert_eq!(a.mode, Some("v90"));
        assert_eq!(a.caller_analogue, Some(false));
    }

    #[test]
    fn inconsistent_offers_are_refused_with_the_rule() {
        let e = Offer::new(&["v90", "v34"], Pcm::None, true).unwrap_err();
        assert!(e.contains("pcm"), "{e}");
        let e = Offer::new(&["v34"], Pcm::Analogue, true).unwrap_err();
        assert!(e.contains("V.8 §6.3"), "{e}");
        let e = Offer::new(&["v90", "v32bis"], Pcm::Digital, true).unwrap_err();
        assert!(e.contains("v34"), "{e}");
        let e = Offer::new(&["v35"], Pcm::None, true).unwrap_err();
        assert!(e.contains("v35") && e.contains("v22bis"), "{e}");
        assert!(Offer::new(&[], Pcm::None, true).is_err());
    }

    fn any_offer() -> impl Strategy<Value = Offer> {
        (
            0u8..8,
            any::<[u8; 3]>(),
            1usize..=3,
            proptest::option::of(0u8..8),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
        )
            .prop_map(|(f, m, n, p, a, c)| {
                let mut modulations = [m[0] & OPTIONS, m[1] & !0x38, m[2] & !0x38];
                for x in &mut modulations[n..] {
                    *x = 0;
                }
                Offer {
                    call_function: f,
                    modulations,
                    modulation_octets: n,
                    protocol: p,
                    access: a.map(|a| a & OPTIONS),
                    pcm: c.map(|c| c & OPTIONS),
                }
            })
    }

    proptest! {
        /// octets ∘ from_octets is the identity, and the message parser reads
        /// the same modulation names from the octets.
        #[test]
        fn octets_round_trip(offer in any_offer()) {
            let o = offer.octets();
            prop_assert_eq!(Offer::from_octets(&o), Some(offer.clone()));
            let mut want = offer.modulation_list();
            let mut got = parse(&o).modulations;
            want.sort_unstable();
            got.sort_unstable();
            prop_assert_eq!(got, want);
        }

        /// A JM never lists a mode the CM did not, and both ends agree on a
        /// mode the JM lists.
        #[test]
        fn jm_is_within_the_cm(own in any_offer(), cm in any_offer()) {
            let jm = own.jm_for(&cm);
            for m in jm.modulation_list() {
                prop_assert!(cm.modulation_list().contains(&m));
                prop_assert!(own.modulation_list().contains(&m));
            }
            prop_assert_eq!(jm.modulation_octets, cm.modulation_octets);
            if let Some(mode) = agree(&cm, &jm).mode {
                prop_assert!(jm.modulation_list().contains(&mode));
            }
        }

        /// Any octets at all: no panic.
        #[test]
        fn any_octets_parse_without_panic(o in proptest::collection::vec(any::<u8>(), 0..20)) {
            if let Some(offer) = Offer::from_octets(&o) {
                let _ = agree(&offer, &offer);
            }
        }
    }
}
