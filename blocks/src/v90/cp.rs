//! The analogue modem's choice of rate and constellations, as it travels
//! back to the digital modem (V.90 §8.5.2, the CP sequence, Table 14:
//! drn and one Ucode mask per interval). In a flowgraph it is a short octet
//! record on a stream — the same content as CP, not its bit format:
//!
//! ```text
//! 0xC5  D  mask₀[16] … mask₅[16]
//! ```
//!
//! D is the data bits per frame (21…42, V.90 §5.1; 0 = no V.90 rate is
//! possible: cleardown, as drn = 0 in CP), and bit u of mask_i (octet u/8,
//! bit u mod 8) is set when Ucode u is in interval i's constellation (CP
//! bits 137 on). Zero octets before the sync octet are idle line (a delay
//! in a feedback loop inserts them) and are skipped.

use super::constellation::Constellation;
use super::rates::FRAME;
use crate::g711::law::Law;

/// First octet of a record.
pub const SYNC: u8 = 0xC5;
/// Octets in a record.
pub const LEN: usize = 2 + FRAME * 16;

/// What the analogue modem asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cp {
    /// Data bits per frame, D = K + S; 0 for cleardown.
    pub d: u32,
    /// Ucodes of each interval (any order).
    pub ucodes: [Vec<u8>; FRAME],
}

impl Cp {
    /// The record's octets.
    pub fn octets(&self) -> Vec<u8> {
        let mut o = vec![SYNC, self.d.min(255) as u8];
        for set in &self.ucodes {
            let mut mask = [0u8; 16];
            for &u in set {
                let u = usize::from(u & 0x7F);
                mask[u / 8] |= 1 << (u % 8);
            }
            o.extend_from_slice(&mask);
        }
        o
    }

    /// The constellations it names (for `law`).
    pub fn constellation(&self, law: Law) -> Result<Constellation, String> {
        Constellation::new(law, self.ucodes.clone())
    }
}

/// Reads records from a stream of octets.
#[derive(Clone, Debug, Default)]
pub struct CpReader {
    buf: Vec<u8>,
}

impl CpReader {
    /// Takes octets; returns a record once one is complete (later octets
    /// stay for the next).
    pub fn push(&mut self, octets: &[u8]) -> Option<Result<Cp, String>> {
        for &o in octets {
            if self.buf.is_empty() && o != SYNC {
                if o == 0 {
                    continue;
                }
                return Some(Err(format!(
                    "the cp stream carries 0x{o:02X} where a record (0x{SYNC:02X} …) should start"
                )));
            }
            self.buf.push(o);
        }
        if self.buf.len() < LEN {
            return None;
        }
        let rec: Vec<u8> = self.buf.drain(..LEN).collect();
        let ucodes = std::array::from_fn(|i| {
            let mask = &rec[2 + 16 * i..2 + 16 * (i + 1)];
            (0..128u8)
                .filter(|&u| mask[usize::from(u / 8)] >> (u % 8) & 1 == 1)
                .collect()
        });
        Some(Ok(Cp {
            d: u32::from(rec[1]),
            ucodes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_after_idle_zeros() {
        let c = Constellation::design(Law::Mu, 30, 120).unwrap();
        let cp = Cp {
            d: 36,
            ucodes: std::array::from_fn(|i| c.interval(i).to_vec()),
        };
        let mut stream = vec![0u8; 48];
        stream.extend(cp.octets());
        let mut r = CpReader::default();
        // In pieces, as a stream delivers it.
        let mut got = None;
        for piece in stream.chunks(7) {
            if let Some(x) = r.push(piece) {
                got = Some(x);
            }
        }
        let got = got.unwrap().unwrap();
        assert_eq!(got.d, 36);
        assert_eq!(got.constellation(Law::Mu).unwrap(), c);
        assert!(CpReader::default().push(&[0, 7]).unwrap().is_err());
        assert!(CpReader::default().push(&[SYNC, 1, 2]).is_none());
    }
}
