//! G.711 µ-law and A-law on the 16-bit linear scale, by table lookup.
//!
//! Encoding is one lookup in a 65 536-entry table per law and decoding one in
//! a 256-entry table; both are built once from the closed forms of
//! modem-standards.md §1 and shared.

use std::sync::OnceLock;

/// The two G.711 companding laws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Law {
    Mu,
    A,
}

impl Law {
    pub fn parse(s: &str) -> Option<Law> {
        match s {
            "mu" => Some(Law::Mu),
            "a" => Some(Law::A),
            _ => None,
        }
    }
}

/// G.711 §1 (µ-law): bias 33 on the 14-bit scale, i.e. 0x84 on the 16-bit scale.
const MU_BIAS: i32 = 0x84;
/// G.711 §1 (A-law): even bits of the octet are inverted on the line.
const A_XOR: u8 = 0x55;

/// Position of the highest set bit (v > 0).
const fn top_bit(v: i32) -> i32 {
    31 - v.leading_zeros() as i32
}

/// µ-law encoding of one sample. Sign and magnitude are coded separately, so
/// code(−x) = code(x) & 0x7F for x > 0 (spandsp's convention); the chord is
/// where the biased magnitude's top bit lies and the step is the next 4 bits,
/// truncated (the G.711 decision levels). The octet is complemented.
pub const fn mu_encode(x: i16) -> u8 {
    let (mag, mask) = if x < 0 {
        (MU_BIAS - x as i32, 0x7F)
    } else {
        (MU_BIAS + x as i32, 0xFF)
    };
    let seg = top_bit(mag | 0xFF) - 7;
    let code = if seg >= 8 {
        0x7F
    } else {
        ((seg << 4) | ((mag >> (seg + 3)) & 0x0F)) as u8
    };
    code ^ mask
}

/// µ-law decoding: V.90 Table 1 values, 4·((2m+33)·2^c − 33) (modem-standards.md §1).
pub const fn mu_decode(code: u8) -> i16 {
    let c = !code;
    let seg = ((c >> 4) & 7) as i32;
    let m = (c & 0x0F) as i32;
    let mag = (((m << 3) + MU_BIAS) << seg) - MU_BIAS;
    if c & 0x80 != 0 {
        -mag as i16
    } else {
        mag as i16
    }
}

/// A-law encoding of one sample: negative inputs use the one's complement
/// magnitude (−x − 1), so each code covers a closed interval on both sides of
/// zero; sign bit 1 for x ≥ 0; even bits inverted.
pub const fn a_encode(x: i16) -> u8 {
    let (mag, sign) = if x < 0 {
        (!(x as i32), 0x00)
    } else {
        (x as i32, 0x80)
    };
    let seg = top_bit(mag | 0xFF) - 7;
    let code = if seg >= 8 {
        0x7F
    } else if seg == 0 {
        (mag >> 4) as u8
    } else {
        ((seg << 4) | ((mag >> (seg + 3)) & 0x0F)) as u8
    };
    (code | sign) ^ A_XOR
}

/// A-law decoding: 16m + 8 in chord 0, 8·(2m+33)·2^(c−1) above (modem-standards.md §1).
pub const fn a_decode(code: u8) -> i16 {
    let c = code ^ A_XOR;
    let seg = ((c >> 4) & 7) as i32;
    let m = (c & 0x0F) as i32;
    let mag = if seg == 0 {
        (m << 4) + 8
    } else {
        ((m << 4) + 0x108) << (seg - 1)
    };
    if c & 0x80 != 0 {
        mag as i16
    } else {
        -mag as i16
    }
}

struct Tables {
    encode: Box<[u8]>,
    decode: [i16; 256],
}

fn build(enc: fn(i16) -> u8, dec: fn(u8) -> i16) -> Tables {
    let encode: Box<[u8]> = (0..=u16::MAX).map(|u| enc(u as i16)).collect();
    let mut decode = [0i16; 256];
    for (c, d) in decode.iter_mut().enumerate() {
        *d = dec(c as u8);
    }
    Tables { encode, decode }
}

fn tables(law: Law) -> &'static Tables {
    static MU: OnceLock<Tables> = OnceLock::new();
    static A: OnceLock<Tables> = OnceLock::new();
    match law {
        Law::Mu => MU.get_or_init(|| build(mu_encode, mu_decode)),
        Law::A => A.get_or_init(|| build(a_encode, a_decode)),
    }
}

/// A G.711 codec for one law; cheap to copy, the tables are shared.
#[derive(Clone, Copy)]
pub struct G711 {
    encode: &'static [u8],
    decode: &'static [i16; 256],
}

impl G711 {
    pub fn new(law: Law) -> Self {
        let t = tables(law);
        G711 {
            encode: &t.encode,
            decode: &t.decode,
        }
    }

    /// Encodes `input` into `output` (as long).
    pub fn encode(&self, input: &[i16], output: &mut [u8]) {
        assert_eq!(input.len(), output.len(), "g711: slices differ in length");
        let table: &[u8; 65536] = self.encode.try_into().expect("65536-entry table");
        for (o, &x) in output.iter_mut().zip(input) {
            *o = table[x as u16 as usize];
        }
    }

    /// Decodes `input` into `output` (as long).
    pub fn decode(&self, input: &[u8], output: &mut [i16]) {
        assert_eq!(input.len(), output.len(), "g711: slices differ in length");
        for (o, &c) in output.iter_mut().zip(input) {
            *o = self.decode[c as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(name: &str) -> Vec<Vec<String>> {
        let p = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn decode_matches_spandsp_for_all_codes() {
        let rows = csv("g711_decode.csv");
        assert_eq!(rows.len(), 256);
        let (mu, a) = (G711::new(Law::Mu), G711::new(Law::A));
        let codes: Vec<u8> = (0..=255).collect();
        let mut dm = vec![0; 256];
        let mut da = vec![0; 256];
        mu.decode(&codes, &mut dm);
        a.decode(&codes, &mut da);
        for r in rows {
            let c: usize = r[1].parse().unwrap();
            assert_eq!(dm[c], r[2].parse::<i16>().unwrap(), "mu code {c}");
            assert_eq!(da[c], r[3].parse::<i16>().unwrap(), "A code {c}");
        }
    }

    #[test]
    fn encode_matches_spandsp_for_all_inputs() {
        let mut covered = [0u32; 2];
        for r in csv("g711_encode_intervals.csv") {
            let (law, k) = match r[0].as_str() {
                "ulaw" => (Law::Mu, 0),
                "alaw" => (Law::A, 1),
                other => panic!("law {other}"),
            };
            let code: u8 = r[2].parse().unwrap();
            let lo: i16 = r[3].parse().unwrap();
            let hi: i16 = r[4].parse().unwrap();
            let g = G711::new(law);
            let input: Vec<i16> = (lo..=hi).collect();
            let mut out = vec![0; input.len()];
            g.encode(&input, &mut out);
            for (x, o) in input.iter().zip(&out) {
                assert_eq!(*o, code, "{law:?} input {x}");
            }
            let mut d = [0];
            g.decode(&[code], &mut d);
            assert_eq!(d[0], r[5].parse::<i16>().unwrap());
            covered[k] += input.len() as u32;
        }
        assert_eq!(covered, [65536, 65536]);
    }

    #[test]
    fn decoded_values_encode_to_themselves() {
        for law in [Law::Mu, Law::A] {
            let g = G711::new(law);
            let codes: Vec<u8> = (0..=255).collect();
            let mut lin = vec![0; 256];
            g.decode(&codes, &mut lin);
            let mut again = vec![0; 256];
            g.encode(&lin, &mut again);
            let mut lin2 = vec![0; 256];
            g.decode(&again, &mut lin2);
            assert_eq!(lin, lin2, "{law:?}");
        }
    }
}
