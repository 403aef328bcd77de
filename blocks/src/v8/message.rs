//! V.8 messages: framing (V.8 §5, Table 1), the deframer that finds CI, CM,
//! JM, CJ and V.92 sequences in a received bit stream, and the parser that
//! turns category octets into named fields (V.8 Tables 2–7).
//!
//! Octet values take b0 (the first bit on the line) as the least significant
//! bit, as the reference's vectors and spandsp do.

/// V.8 §5: every sequence starts with ten ones.
pub const PREAMBLE_ONES: usize = 10;
/// V.8 Table 1: CI sync, 0000000001 (a framed 0x00).
pub const SYNC_CI: u8 = 0x00;
/// V.8 Table 1: CM and JM sync, 0000001111 (a framed 0xE0).
pub const SYNC_CM_JM: u8 = 0xE0;
/// V.92: its sequences use sync 0101010101 (a framed 0x55).
pub const SYNC_V92: u8 = 0x55;

/// Which sequence a sync pattern introduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sequence {
    Ci,
    /// CM on the caller's channel (V.21 low), JM on the answerer's (V.21 high).
    CmJm,
    V92,
    /// V.8 §7.4: three framed zero octets right after a CM, no preamble.
    Cj,
}

/// Appends one octet framed as V.8 §5 sends it: start 0, b0..b7, stop 1.
pub fn push_framed_octet(bits: &mut Vec<u8>, octet: u8) {
    bits.push(0);
    for k in 0..8 {
        bits.push((octet >> k) & 1);
    }
    bits.push(1);
}

/// The bits of one sequence: ten ones, the sync octet, the information octets.
pub fn frame(sync: u8, octets: &[u8]) -> Vec<u8> {
    let mut bits = vec![1u8; PREAMBLE_ONES];
    push_framed_octet(&mut bits, sync);
    for &o in octets {
        push_framed_octet(&mut bits, o);
    }
    bits
}

/// The bits of CJ: three framed zero octets (V.8 §7.4).
pub fn frame_cj() -> Vec<u8> {
    let mut bits = Vec::with_capacity(30);
    for _ in 0..3 {
        push_framed_octet(&mut bits, 0);
    }
    bits
}

/// One sequence read from the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub sequence: Sequence,
    /// Information octets after the sync octet.
    pub octets: Vec<u8>,
    /// Index of the sequence's first preamble bit in the bit stream (for CJ,
    /// of its first start bit).
    pub start_bit: u64,
    /// Identical to the sequence reported just before it: V.8 §7.3–7.4
    /// accept a CM or JM only after two such receptions in a row.
    pub accepted: bool,
}

/// Ones of the preamble the deframer insists on before a sync octet. V.8 sends
/// ten, but a receiver's carrier detect takes several bit times and a bit of
/// the preamble can be lost to noise; the start/stop framing of every octet
/// that follows still guards against false syncs.
const SYNC_ONES: usize = 4;
/// The bits matched: `SYNC_ONES` ones and the ten bits of a framed sync octet.
const SYNC_BITS: usize = SYNC_ONES + 10;
const SYNC_MASK: u32 = (1 << SYNC_BITS) - 1;

/// The pattern a receiver synchronises on, first bit in the most significant
/// place.
fn sync_word(sync: u8) -> u32 {
    frame(sync, &[])[PREAMBLE_ONES - SYNC_ONES..]
        .iter()
        .fold(0u32, |w, &b| (w << 1) | u32::from(b))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Hunting,
    /// Inside a sequence, waiting for the next start bit.
    Between,
    /// Reading an octet: bits seen so far (start bit included).
    InOctet(u8),
}

/// Finds V.8 sequences in a bit stream, one bit at a time.
///
/// A sequence ends where its octets stop: a one where a start bit would be
/// (the next sequence's preamble), or a framing error. Three zero octets after
/// a CM/JM are reported as CJ, as V.8 §7.4 sends them without a preamble.
#[derive(Clone, Debug)]
pub struct Deframer {
    shift: u32,
    words: [(u32, Sequence); 3],
    state: State,
    current: Option<Received>,
    octet: u16,
    bit_index: u64,
    zeros: usize,
    zero_start: u64,
    /// The last sequence reported.
    last: Option<(Sequence, Vec<u8>)>,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    pub fn new() -> Self {
        Deframer {
            shift: 0,
            words: [
                (sync_word(SYNC_CI), Sequence::Ci),
                (sync_word(SYNC_CM_JM), Sequence::CmJm),
                (sync_word(SYNC_V92), Sequence::V92),
            ],
            state: State::Hunting,
            current: None,
            octet: 0,
            bit_index: 0,
            zeros: 0,
            zero_start: 0,
            last: None,
        }
    }

    /// Feeds one bit; returns the sequences it completes (at most two: a CM
    /// cut short by CJ, and the CJ).
    pub fn push(&mut self, bit: u8, out: &mut Vec<Received>) {
        let bit = bit & 1;
        let index = self.bit_index;
        self.bit_index += 1;
        self.shift = ((self.shift << 1) | u32::from(bit)) & SYNC_MASK;
        match self.state {
            State::Hunting | State::Between => {
                if let Some(seq) = self.synced() {
                    self.finish(out);
                    self.current = Some(Received {
                        sequence: seq,
                        octets: Vec::new(),
                        start_bit: (index + 1).saturating_sub(20),
                        accepted: false,
                    });
                    self.zeros = 0;
                    self.state = State::Between;
                } else if self.state == State::Between {
                    if bit == 0 {
                        self.state = State::InOctet(1);
                        self.octet = 0;
                    } else {
                        self.finish(out);
                        self.state = State::Hunting;
                    }
                }
            }
            State::InOctet(n) if n < 9 => {
                self.octet |= u16::from(bit) << (n - 1);
                self.state = State::InOctet(n + 1);
            }
            State::InOctet(_) => {
                if bit == 1 {
                    self.state = State::Between;
                    self.octet_done(self.octet as u8, index, out);
                } else {
                    self.finish(out);
                    self.state = State::Hunting;
                }
            }
        }
    }

    fn synced(&self) -> Option<Sequence> {
        self.words
            .iter()
            .find(|(w, _)| *w == self.shift)
            .map(|&(_, s)| s)
    }

    fn octet_done(&mut self, octet: u8, stop_index: u64, out: &mut Vec<Received>) {
        let Some(cur) = &mut self.current else {
            return;
        };
        let carries_cj = cur.sequence == Sequence::CmJm;
        if octet == 0 && carries_cj {
            if self.zeros == 0 {
                self.zero_start = stop_index + 1 - 10;
            }
            self.zeros += 1;
            if self.zeros == 3 {
                self.finish(out);
                let cj = Received {
                    sequence: Sequence::Cj,
                    octets: vec![0; 3],
                    start_bit: self.zero_start,
                    accepted: false,
                };
                self.report(cj, out);
                self.state = State::Hunting;
            }
            return;
        }
        for _ in 0..self.zeros {
            cur.octets.push(0);
        }
        self.zeros = 0;
        cur.octets.push(octet);
        // CJ sent right after the ones between two CMs reads as a CI sync and
        // two zero octets (see `finish`): report it now, as the line may go
        // quiet after it and no further bit would end the sequence.
        if cur.sequence == Sequence::Ci && cur.octets == [0, 0] && self.after_cm_jm() {
            self.finish(out);
            self.state = State::Hunting;
        }
    }

    fn finish(&mut self, out: &mut Vec<Received>) {
        if let Some(mut cur) = self.current.take() {
            // A modem that idles in ones between its last CM and CJ makes the
            // first zero octet of CJ look like a CI sync; a CI carries a call
            // function, never zeros, so after a CM/JM this is CJ (V.8 §7.4).
            if cur.sequence == Sequence::Ci
                && cur.octets.len() >= 2
                && cur.octets.iter().all(|&o| o == 0)
                && self.after_cm_jm()
            {
                cur.sequence = Sequence::Cj;
                cur.start_bit += (PREAMBLE_ONES as u64).min(cur.start_bit);
                cur.octets = vec![0; 3];
            }
            // A sync with no octet after it says nothing (and noise makes
            // such matches now and then).
            if !cur.octets.is_empty() {
                self.report(cur, out);
            }
        }
        self.zeros = 0;
    }

    /// Whether the last sequence reported was a CM or JM.
    fn after_cm_jm(&self) -> bool {
        matches!(self.last, Some((Sequence::CmJm, _)))
    }

    /// Marks `r` accepted if it repeats the last sequence, and reports it.
    fn report(&mut self, mut r: Received, out: &mut Vec<Received>) {
        r.accepted = self
            .last
            .as_ref()
            .is_some_and(|(s, o)| *s == r.sequence && *o == r.octets);
        self.last = Some((r.sequence, r.octets.clone()));
        out.push(r);
    }

    /// Reports a sequence still open at the end of the stream.
    pub fn flush(&mut self, out: &mut Vec<Received>) {
        self.finish(out);
        self.state = State::Hunting;
    }
}

/// The fields of a CI, CM or JM (V.8 Tables 2–7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub call_function: Option<&'static str>,
    pub modulations: Vec<&'static str>,
    pub protocols: Vec<&'static str>,
    pub pstn_access: Vec<&'static str>,
    pub pcm_modem_availability: Vec<&'static str>,
    pub nsf: bool,
    pub t66: bool,
    /// Octets that fit no category (kept so nothing is dropped silently).
    pub unknown: Vec<u8>,
}

/// V.8 Table 2: call function f = b5 + 2·b6 + 4·b7.
pub(crate) const CALL_FUNCTIONS: [&str; 8] = [
    "tbd",
    "h324",
    "v18",
    "t101",
    "t30_tx",
    "t30_rx",
    "v_series_data",
    "extension",
];

/// Category tags b0..b3 as the low nibble (b4 = 0), V.8 Tables 2–7.
pub(crate) const TAG_CALLF: u8 = 0x01;
pub(crate) const TAG_MODN: u8 = 0x05;
pub(crate) const TAG_PROT: u8 = 0x0A;
pub(crate) const TAG_ACCESS: u8 = 0x0D;
const TAG_NSF: u8 = 0x0F;
pub(crate) const TAG_PCM: u8 = 0x07;
const TAG_T66: u8 = 0x0E;

/// V.8 §5: extension octets have b3 b4 b5 = 0 1 0.
fn is_extension(o: u8) -> bool {
    o & 0x38 == 0x10
}

/// Names of the set bits among (mask, name) pairs.
fn names(o: u8, table: &[(u8, &'static str)]) -> Vec<&'static str> {
    table
        .iter()
        .filter(|(m, _)| o & m != 0)
        .map(|&(_, n)| n)
        .collect()
}

/// V.8 Table 4, modn0: b5 PCM (V.90/V.92, "pcm" category present), b6 V.34
/// duplex, b7 V.34 half-duplex.
pub(crate) const MODN0: [(u8, &str); 3] = [(0x40, "v34"), (0x80, "v34hdx"), (0x20, "v90")];
/// V.8 Table 4, modn1.
pub(crate) const MODN1: [(u8, &str); 5] = [
    (0x01, "v32bis"),
    (0x02, "v22bis"),
    (0x04, "v17"),
    (0x40, "v29hdx"),
    (0x80, "v27ter"),
];
/// V.8 Table 4, modn2.
pub(crate) const MODN2: [(u8, &str); 5] = [
    (0x01, "v26ter"),
    (0x02, "v26bis"),
    (0x04, "v23"),
    (0x40, "v23hdx"),
    (0x80, "v21"),
];
/// V.8 Table 6, access0.
const ACCESS: [(u8, &str); 3] = [
    (0x20, "calling_dce_cellular"),
    (0x40, "answering_dce_cellular"),
    (0x80, "dce_on_digital_network"),
];
/// V.8 Table 7 (V.90 §9.1.1), pcm0.
const PCM: [(u8, &str); 3] = [
    (0x20, "v90_v92_analogue"),
    (0x40, "v90_v92_digital"),
    (0x80, "v91"),
];

/// The information octets split into categories: each octet that is not
/// an extension, with the extension octets that follow it (V.8 §5). A
/// leading run of extension octets, which belongs to no category, comes as
/// its first octet with the rest as its extensions.
pub(crate) fn categories(octets: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut i = 0;
    std::iter::from_fn(move || {
        let &o = octets.get(i)?;
        i += 1;
        let first = i;
        while i < octets.len() && is_extension(octets[i]) {
            i += 1;
        }
        Some((o, &octets[first..i]))
    })
}

/// Parses the information octets of a CI, CM or JM.
pub fn parse(octets: &[u8]) -> Fields {
    let mut f = Fields::default();
    for (o, extensions) in categories(octets) {
        if o & 0x10 != 0 {
            // Not a category octet (b4 must be 0): an orphan extension.
            f.unknown.push(o);
            f.unknown.extend(extensions);
            continue;
        }
        match o & 0x0F {
            TAG_CALLF => f.call_function = Some(CALL_FUNCTIONS[usize::from(o >> 5)]),
            TAG_MODN => {
                f.modulations.extend(names(o, &MODN0));
                if let Some(&e) = extensions.first() {
                    f.modulations.extend(names(e, &MODN1));
                }
                if let Some(&e) = extensions.get(1) {
                    f.modulations.extend(names(e, &MODN2));
                }
            }
            TAG_PROT => match o >> 5 {
                1 => f.protocols.push("lapm"),
                7 => f.protocols.push("extension"),
                _ => f.protocols.push("tbd"),
            },
            TAG_ACCESS => f.pstn_access.extend(names(o, &ACCESS)),
            TAG_PCM => f.pcm_modem_availability.extend(names(o, &PCM)),
            TAG_NSF => f.nsf = true,
            TAG_T66 => f.t66 = true,
            _ => {
                f.unknown.push(o);
                f.unknown.extend(extensions);
            }
        }
    }
    f
}

/// Octets as upper-case hex separated by spaces (`C1 65 13`).
pub fn hex(octets: &[u8]) -> String {
    octets
        .iter()
        .map(|o| format!("{o:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(|c| *c == b'0' || *c == b'1')
            .map(|c| c - b'0')
            .collect()
    }

    fn deframe(stream: &[u8]) -> Vec<Received> {
        let mut d = Deframer::new();
        let mut out = Vec::new();
        for &b in stream {
            d.push(b, &mut out);
        }
        d.flush(&mut out);
        out
    }

    #[test]
    fn frames_match_the_reference_vectors() {
        // modem-standards.md §3.5
        assert_eq!(
            frame(SYNC_CI, &[0xC1]),
            bits("1111111111 0000000001 0100000111")
        );
        let cm = [0xC1, 0x65, 0x13, 0x90, 0x2A, 0x0D, 0x27];
        assert_eq!(
            frame(SYNC_CM_JM, &cm),
            bits("111111111100000011110100000111010100110101100100010000010011001010100101011000010111001001")
        );
        assert_eq!(frame_cj(), bits("0000000001 0000000001 0000000001"));
    }

    #[test]
    fn deframer_reads_back_to_back_sequences_and_cj() {
        let cm = [0xC1, 0x65, 0x13, 0x90, 0x2A, 0x27];
        let mut stream = vec![1u8; 37];
        stream.extend(frame(SYNC_V92, &[0x00]));
        stream.extend(frame(SYNC_CM_JM, &cm));
        stream.extend(frame(SYNC_CM_JM, &cm));
        stream.extend(frame_cj());
        stream.extend([1, 1, 1]);
        let got = deframe(&stream);
        let kinds: Vec<Sequence> = got.iter().map(|r| r.sequence).collect();
        assert_eq!(
            kinds,
            [Sequence::V92, Sequence::CmJm, Sequence::CmJm, Sequence::Cj]
        );
        assert_eq!(got[1].octets, cm);
        assert_eq!(got[1].start_bit, 37 + 30);
        assert_eq!(got[3].start_bit, 37 + 30 + 2 * 80);
    }

    #[test]
    fn cj_after_a_cut_short_cm_is_found() {
        let mut stream = frame(SYNC_CM_JM, &[0xC1, 0x65, 0x13]);
        stream.extend(frame_cj());
        let got = deframe(&stream);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].octets, [0xC1, 0x65, 0x13]);
        assert_eq!(got[1].sequence, Sequence::Cj);
    }

    #[test]
    fn cj_after_idle_ones_is_not_taken_for_ci() {
        let cm = [0xC1, 0x65, 0x13, 0x94, 0x0D, 0x27];
        let mut stream = frame(SYNC_CM_JM, &cm);
        stream.extend(frame(SYNC_CM_JM, &cm));
        stream.extend([1, 1, 1, 1, 1, 1]);
        stream.extend(frame_cj());
        stream.extend([1; 12]);
        let kinds: Vec<Sequence> = deframe(&stream).iter().map(|r| r.sequence).collect();
        assert_eq!(kinds, [Sequence::CmJm, Sequence::CmJm, Sequence::Cj]);
        // A real CI is still a CI; a bare sync is nothing.
        let ci = deframe(&frame(SYNC_CI, &[0xC1]));
        assert_eq!(ci[0].sequence, Sequence::Ci);
        assert!(deframe(&frame(SYNC_CI, &[])).is_empty());
    }

    #[test]
    fn a_repeat_of_the_sequence_before_is_accepted() {
        let cm = frame(SYNC_CM_JM, &[0xC1, 0x65, 0x13]);
        let other = frame(SYNC_CM_JM, &[0xC1, 0x45, 0x13]);
        let mut stream = cm.clone();
        for part in [&cm, &other, &cm, &cm] {
            stream.extend_from_slice(part);
        }
        stream.extend([1; 12]);
        let got: Vec<bool> = deframe(&stream).iter().map(|r| r.accepted).collect();
        assert_eq!(got, [false, true, false, false, true]);
    }

    #[test]
    fn cj_is_reported_by_its_last_stop_bit() {
        // The caller cuts CM at an octet boundary (V.8 §7.4) and the line goes
        // quiet after CJ: wherever the cut fell, CJ is out with its last bit.
        let cm = frame(SYNC_CM_JM, &[0xC1, 0x65, 0x13]);
        for cut in [cm.len(), 4, 10, 20, 30] {
            let mut stream = cm.clone();
            stream.extend_from_slice(&cm[..cut]);
            stream.extend(frame_cj());
            let got = deframe(&stream);
            assert_eq!(
                got.last().map(|r| r.sequence),
                Some(Sequence::Cj),
                "cut {cut}: {got:?}"
            );
        }
    }

    #[test]
    fn parses_spandsp_cm_and_jm() {
        // peers v8.json: expected.cm_octets / jm_octets and their fields.
        let cm = parse(&[0xC1, 0x65, 0x13, 0x90, 0x2A, 0x27]);
        assert_eq!(cm.call_function, Some("v_series_data"));
        assert_eq!(cm.modulations, ["v34", "v90", "v32bis", "v22bis", "v21"]);
        assert_eq!(cm.protocols, ["lapm"]);
        assert_eq!(cm.pcm_modem_availability, ["v90_v92_analogue"]);
        assert!(cm.pstn_access.is_empty() && cm.unknown.is_empty());
        let jm = parse(&[0xC1, 0x65, 0x13, 0x10, 0x2A, 0x8D, 0x47]);
        assert_eq!(jm.modulations, ["v34", "v90", "v32bis", "v22bis"]);
        assert_eq!(jm.pstn_access, ["dce_on_digital_network"]);
        assert_eq!(jm.pcm_modem_availability, ["v90_v92_digital"]);
        assert_eq!(hex(&[0xC1, 0x05]), "C1 05");
    }

    #[test]
    fn deframer_never_panics_and_parse_keeps_unknown_octets() {
        let mut seed = 1u64;
        let mut d = Deframer::new();
        let mut out = Vec::new();
        for _ in 0..100_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            d.push((seed >> 33) as u8, &mut out);
        }
        for r in &out {
            let f = parse(&r.octets);
            let _ = f;
        }
        assert_eq!(parse(&[0x30, 0xFF]).unknown, [0x30, 0xFF]);
    }
}

#[cfg(test)]
mod spandsp_vectors {
    //! The deframer against the bits spandsp's V.8 transmitted (peers
    //! `v8.json`, `v8_ci.json`; see tests/data/README.md).
    use super::*;

    fn load(name: &str) -> serde_json::Value {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("vector file")).expect("json")
    }

    fn check(name: &str, side: &str, channel: &str) {
        let v = load(name);
        let s = &v["sides"][side];
        let line: Vec<u8> = s[format!("tx_bits_v21_{channel}")]["bits"]
            .as_str()
            .expect("bits")
            .bytes()
            .map(|c| c - b'0')
            .collect();
        let mut d = Deframer::new();
        let mut got = Vec::new();
        for b in line {
            d.push(b, &mut got);
        }
        d.flush(&mut got);
        let want: Vec<(String, String)> = s[format!("tx_messages_v21_{channel}")]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                let octets: Vec<&str> = m["octets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o.as_str().unwrap())
                    .collect();
                (m["type"].as_str().unwrap().to_string(), octets.join(" "))
            })
            .collect();
        let got: Vec<(String, String)> = got
            .iter()
            .map(|r| {
                let t = match (r.sequence, channel) {
                    (Sequence::Ci, _) => "CI",
                    (Sequence::CmJm, "ch1") => "CM",
                    (Sequence::CmJm, _) => "JM",
                    (Sequence::Cj, _) => "CJ",
                    (Sequence::V92, _) => "V92",
                };
                (t.to_string(), hex(&r.octets))
            })
            .collect();
        assert_eq!(got, want, "{name} {side} {channel}");
    }

    #[test]
    fn reads_every_message_spandsp_sent() {
        check("v8.json", "caller", "ch1");
        check("v8.json", "answerer", "ch2");
        check("v8_ci.json", "caller", "ch1");
        check("v8_ci.json", "answerer", "ch2");
    }
}
