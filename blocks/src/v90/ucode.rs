//! V.90 Ucodes (V.90 §3.5–3.6, Table 1; modem-standards.md §1): one code per
//! magnitude of a G.711 codeword, 0…127, Ucode 16c + m in Uchord c + 1. The
//! closed forms below reproduce every row of Table 1.

use crate::g711::law::Law;

/// V.90 §3.5: Ucodes 0…127.
pub const UCODES: usize = 128;
/// The largest Ucode.
pub const MAX_UCODE: u8 = 127;

/// V.90 Table 1 "linear" value of Ucode `u` (16-bit scale, positive):
/// µ-law 4·((2m + 33)·2^c − 33); A-law 16m + 8 for c = 0, else
/// 8·(2m + 33)·2^(c−1).
pub const fn linear(law: Law, u: u8) -> i32 {
    let u = u & 0x7F;
    let (c, m) = ((u >> 4) as i32, (u & 0x0F) as i32);
    match law {
        Law::Mu => 4 * ((2 * m + 33) * (1 << c) - 33),
        Law::A => {
            if c == 0 {
                16 * m + 8
            } else {
                8 * (2 * m + 33) * (1 << (c - 1))
            }
        }
    }
}

/// Table 1's linear values of all 128 Ucodes, as a table.
pub fn linear_table(law: Law) -> [i32; UCODES] {
    let mut t = [0; UCODES];
    for (u, v) in t.iter_mut().enumerate() {
        *v = linear(law, u as u8);
    }
    t
}

/// The PCM octet for Ucode `u` with polarity `positive` (V.90 §5.4.6: sign
/// bit 1 is a positive voltage; the octet's MSB is the polarity bit).
pub const fn octet(law: Law, u: u8, positive: bool) -> u8 {
    let u = u & 0x7F;
    match (law, positive) {
        (Law::Mu, true) => 0xFF - u,
        (Law::Mu, false) => 0x7F - u,
        (Law::A, true) => (0x80 | u) ^ 0x55,
        (Law::A, false) => u ^ 0x55,
    }
}

/// The Ucode and polarity of a PCM octet (the inverse of [`octet`]).
pub const fn from_octet(law: Law, o: u8) -> (u8, bool) {
    match law {
        Law::Mu => {
            let positive = o & 0x80 != 0;
            (if positive { 0xFF - o } else { 0x7F - o }, positive)
        }
        Law::A => {
            let x = o ^ 0x55;
            (x & 0x7F, x & 0x80 != 0)
        }
    }
}

/// The signed linear value of a PCM octet.
pub const fn signed_linear(law: Law, o: u8) -> i32 {
    let (u, positive) = from_octet(law, o);
    let v = linear(law, u);
    if positive {
        v
    } else {
        -v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::law::{a_decode, mu_decode};

    #[test]
    fn reference_sample_values() {
        // modem-standards.md §1, µ-law: 0→0, 1→8, 15→120, 16→132, 32→396,
        // 48→924, 64→1980, 79→3900, 80→4092, 96→8316, 112→16764, 127→32124.
        for (u, v) in [
            (0, 0),
            (1, 8),
            (15, 120),
            (16, 132),
            (32, 396),
            (48, 924),
            (64, 1980),
            (79, 3900),
            (80, 4092),
            (96, 8316),
            (112, 16764),
            (127, 32124),
        ] {
            assert_eq!(linear(Law::Mu, u), v, "Ucode {u}");
        }
        assert_eq!(linear(Law::A, 0), 8);
        assert_eq!(linear(Law::A, 127), 32256);
    }

    /// Every Ucode, both signs, both laws: the octet decodes (with the G.711
    /// decoder that equals spandsp's for all 256 codes) to ± the Table 1
    /// value, and the octet reads back as the same Ucode and sign.
    #[test]
    fn octets_agree_with_the_g711_decoder() {
        for u in 0..=MAX_UCODE {
            for positive in [true, false] {
                let mu = octet(Law::Mu, u, positive);
                let a = octet(Law::A, u, positive);
                let sign = if positive { 1 } else { -1 };
                assert_eq!(i32::from(mu_decode(mu)), sign * linear(Law::Mu, u));
                assert_eq!(i32::from(a_decode(a)), sign * linear(Law::A, u));
                assert_eq!(from_octet(Law::Mu, mu), (u, positive));
                assert_eq!(from_octet(Law::A, a), (u, positive));
                assert_eq!(signed_linear(Law::A, a), sign * linear(Law::A, u));
            }
        }
        // Table 1 grows strictly with the Ucode.
        for law in [Law::Mu, Law::A] {
            let t = linear_table(law);
            assert!(t.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
