//! How reliably a V.8 CM or JM is read from V.21 under line impairments:
//! prints the Markdown table of docs/link-quality.md.
//!
//! `cargo run --release -p modemflow-tests --example v8_robustness [TRIALS]`
//!
//! Each trial sends the message four times (as a modem repeats it) after a
//! random stretch of silence, adds the other V.21 channel carrying random bits
//! and white noise, and runs the fsk_demodulator and v8_deframer kernels. A
//! trial succeeds when the message is accepted (two identical consecutive
//! copies with the right octets) and no other CM/JM is accepted.

use modemflow_blocks::channel::awgn::Awgn;
use modemflow_blocks::v8::fsk::Channel;
use modemflow_blocks::v8::fsk_rx::FskDemodulator;
use modemflow_blocks::v8::fsk_tx::FskModulator;
use modemflow_blocks::v8::message::{frame, Deframer, Sequence, SYNC_CM_JM};

/// The CM of a V.90 analogue caller (modem-standards.md §3.5) and a JM.
const CM: [u8; 7] = [0xC1, 0x65, 0x13, 0x90, 0x2A, 0x0D, 0x27];
const JM: [u8; 7] = [0xC1, 0x65, 0x13, 0x10, 0x2A, 0x8D, 0x47];

struct Condition {
    name: &'static str,
    level: f64,
    snr_db: Option<f64>,
    offset_hz: f64,
    other_db: Option<f64>,
}

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn modulate(ch: Channel, bits: &[u8], level: f64, len: usize) -> Vec<f32> {
    let mut m = FskModulator::new(ch, 300.0, level);
    let mut out = vec![0f32; len];
    let (_, n) = m.modulate(bits, &mut out);
    out.truncate(n);
    out
}

/// One trial: true when the message was read and nothing wrong was accepted.
fn trial(c: &Condition, wanted: Channel, other: Channel, octets: &[u8], seed: u64) -> bool {
    let mut s = seed;
    let lead = (lcg(&mut s) % 800) as usize;
    let mut bits = Vec::new();
    for _ in 0..4 {
        bits.extend(frame(SYNC_CM_JM, octets));
    }
    let signal = modulate(
        wanted.shifted(c.offset_hz),
        &bits,
        c.level,
        bits.len() * 27 + 27,
    );
    let total = lead + signal.len() + 800;
    let mut x = vec![0f32; total];
    x[lead..lead + signal.len()].copy_from_slice(&signal);
    if let Some(db) = c.other_db {
        let other_bits: Vec<u8> = (0..total / 26 + 2)
            .map(|_| (lcg(&mut s) & 1) as u8)
            .collect();
        let o = modulate(
            other.shifted(-c.offset_hz),
            &other_bits,
            c.level + db,
            total,
        );
        for (a, b) in x.iter_mut().zip(&o) {
            *a += b;
        }
    }
    if let Some(snr) = c.snr_db {
        let mut n = Awgn::new(c.level - snr, seed ^ 0x5EED);
        let clean = x.clone();
        n.process(&clean, &mut x);
    }
    let mut demod = FskDemodulator::new(wanted, 300.0, -45.5).expect("demodulator");
    let mut rx = Vec::new();
    demod.process(&x, &mut rx, usize::MAX);
    let mut d = Deframer::new();
    let mut got = Vec::new();
    for b in rx {
        d.push(b, &mut got);
    }
    d.flush(&mut got);
    let accepted: Vec<&Vec<u8>> = got
        .iter()
        .filter(|r| r.sequence == Sequence::CmJm && r.accepted)
        .map(|r| &r.octets)
        .collect();
    !accepted.is_empty() && accepted.iter().all(|m| m.as_slice() == octets)
}

fn main() {
    let trials: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let conditions = [
        Condition {
            name: "clean, −14 dBm0",
            level: -14.0,
            snr_db: None,
            offset_hz: 0.0,
            other_db: None,
        },
        Condition {
            name: "SNR 12 dB",
            level: -14.0,
            snr_db: Some(12.0),
            offset_hz: 0.0,
            other_db: None,
        },
        Condition {
            name: "SNR 12 dB, +10 Hz offset",
            level: -14.0,
            snr_db: Some(12.0),
            offset_hz: 10.0,
            other_db: None,
        },
        Condition {
            name: "SNR 12 dB, −10 Hz offset",
            level: -14.0,
            snr_db: Some(12.0),
            offset_hz: -10.0,
            other_db: None,
        },
        Condition {
            name: "−9 dBm0",
            level: -9.0,
            snr_db: None,
            offset_hz: 0.0,
            other_db: None,
        },
        Condition {
            name: "−43 dBm0",
            level: -43.0,
            snr_db: None,
            offset_hz: 0.0,
            other_db: None,
        },
        Condition {
            name: "−43 dBm0, SNR 12 dB",
            level: -43.0,
            snr_db: Some(12.0),
            offset_hz: 0.0,
            other_db: None,
        },
        Condition {
            name: "other direction 20 dB louder (−30 vs −10 dBm0)",
            level: -30.0,
            snr_db: None,
            offset_hz: 0.0,
            other_db: Some(20.0),
        },
        Condition {
            name: "all at once: −30 dBm0, other +20 dB, SNR 12 dB, +10 Hz",
            level: -30.0,
            snr_db: Some(12.0),
            offset_hz: 10.0,
            other_db: Some(20.0),
        },
    ];
    println!("| condition | CM read (ch 1) | JM read (ch 2) |");
    println!("|---|---:|---:|");
    for c in &conditions {
        let mut ok = [0u64; 2];
        for t in 0..trials {
            ok[0] += u64::from(trial(c, Channel::ONE, Channel::TWO, &CM, 1000 + t));
            ok[1] += u64::from(trial(c, Channel::TWO, Channel::ONE, &JM, 9000 + t));
        }
        let pct = |k: u64| 100.0 * k as f64 / trials as f64;
        println!(
            "| {} | {}/{} ({:.1} %) | {}/{} ({:.1} %) |",
            c.name,
            ok[0],
            trials,
            pct(ok[0]),
            ok[1],
            trials,
            pct(ok[1])
        );
    }
}
