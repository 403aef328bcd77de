//! Bit error rate measurement against an O.150 sequence, and the `ber_sink` block.

use super::prbs::{Prbs, ORDERS};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
use serde_json::json;

/// Consecutive correctly predicted bits needed to declare lock.
pub const LOCK_BITS: u32 = 64;
/// Bits per window in which the error count is watched after lock.
pub const WINDOW_BITS: u32 = 1024;
/// Errors in one window that mean the receiver has lost the sequence
/// (a BER above about 0.2; random bits give 0.5).
pub const LOSS_ERRORS: u32 = 205;

/// A receiver that synchronises a local generator to the received bits and
/// counts disagreements once it is locked.
///
/// While hunting, the register holds the last `order` received bits, so after
/// `order` error-free bits it predicts the sequence; [`LOCK_BITS`] correct
/// predictions in a row lock it. Once locked the generator runs free, so each
/// channel error counts once. Too many errors in a window of [`WINDOW_BITS`]
/// drop it back to hunting; the counts gathered so far are kept.
#[derive(Clone, Debug)]
pub struct BerCounter {
    gen: Prbs,
    order: u32,
    filled: u32,
    run: u32,
    locked: bool,
    window_bits: u32,
    window_errors: u32,
    pub bits: u64,
    pub errors: u64,
    /// Whether it was ever locked.
    pub ever_locked: bool,
}

impl BerCounter {
    pub fn new(order: u32) -> Option<BerCounter> {
        Some(BerCounter {
            gen: Prbs::new(order, 1)?,
            order,
            filled: 0,
            run: 0,
            locked: false,
            window_bits: 0,
            window_errors: 0,
            bits: 0,
            errors: 0,
            ever_locked: false,
        })
    }

    pub fn locked(&self) -> bool {
        self.locked
    }

    /// The measured bit error rate (0 when nothing has been compared).
    pub fn ber(&self) -> f64 {
        if self.bits == 0 {
            0.0
        } else {
            self.errors as f64 / self.bits as f64
        }
    }

    pub fn push(&mut self, mut bits: &[u8]) {
        let w = self.gen.word_bits() as usize;
        while !bits.is_empty() {
            if self.locked && bits.len() >= w {
                // Locked: a word of the sequence at a time; a word with an
                // error goes again bit by bit, so the window is watched exactly.
                let saved = self.gen.clone();
                let expected = self.gen.next_word();
                let got = bits[..w]
                    .iter()
                    .fold(0u32, |acc, &b| (acc << 1) | u32::from(b & 1));
                if got == expected {
                    self.bits += w as u64;
                    self.window_bits += w as u32;
                    if self.window_bits >= WINDOW_BITS {
                        self.window_bits -= WINDOW_BITS;
                        self.window_errors = 0;
                    }
                    bits = &bits[w..];
                    continue;
                }
                self.gen = saved;
                for &b in &bits[..w] {
                    self.push_bit(b & 1);
                }
                bits = &bits[w..];
            } else {
                self.push_bit(bits[0] & 1);
                bits = &bits[1..];
            }
        }
    }

    #[inline]
    fn push_bit(&mut self, b: u8) {
        if self.locked {
            let err = u32::from(self.gen.next_bit() != b);
            self.bits += 1;
            self.errors += u64::from(err);
            self.window_bits += 1;
            self.window_errors += err;
            if self.window_errors >= LOSS_ERRORS {
                self.locked = false;
                self.filled = 0;
                self.run = 0;
            } else if self.window_bits == WINDOW_BITS {
                self.window_bits = 0;
                self.window_errors = 0;
            }
            return;
        }
        if self.filled < self.order {
            self.filled += 1;
        } else if self.gen.predict() == b && self.gen.state() != 0 {
            self.run += 1;
        } else {
            self.run = 0;
        }
        self.gen.shift_in(b);
        if self.run == LOCK_BITS {
            self.locked = true;
            self.ever_locked = true;
            self.window_bits = 0;
            self.window_errors = 0;
        }
    }
}

struct BerSink {
    counter: BerCounter,
    reported: bool,
}

impl Block for BerSink {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let input = &mut io.inputs[0];
        let bits = input.items::<u8>();
        let n = bits.len();
        self.counter.push(bits);
        input.consume(n);
        if input.finished() {
            if !self.reported {
                self.reported = true;
                let c = &self.counter;
                io.emit(
                    "ber",
                    json!({
                        "bits": c.bits,
                        "errors": c.errors,
                        "ber": c.ber(),
                        "locked": c.locked(),
                    }),
                );
            }
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let order = args.int("order")?;
    let counter = u32::try_from(order)
        .ok()
        .and_then(BerCounter::new)
        .ok_or_else(|| format!("`order` = {order} is not an O.150 order"))?;
    Ok(Box::new(BerSink {
        counter,
        reported: false,
    }))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "ber_sink",
        "Measurement",
        "bit error rate of a received O.150 sequence",
        make,
    )
    .doc(
        "Synchronises to a (non-inverted) O.150 sequence from the received bits \
         themselves, so any seed and any delay work: it loads `order` received bits into \
         a local generator and declares lock after 64 further bits are predicted \
         correctly. After lock the generator runs free and every disagreement is an \
         error. If 205 or more errors fall in a 1024-bit window (BER above about 0.2) it \
         re-synchronises; bits and errors counted so far are kept. Bits before lock are \
         not counted. At end of stream it emits one `ber` event.",
    )
    .param(
        ParamSpec::int("order", "degree of the expected O.150 polynomial")
            .default(23)
            .allowed(&ORDERS),
    )
    .input(PortSpec::new("in", ItemType::Bit, "received bits"))
    .event(EventSpec::new(
        "ber",
        "the totals, emitted once at end of stream",
        &[
            ("bits", "bits compared after lock (integer)"),
            ("errors", "bits that differed from the sequence (integer)"),
            ("ber", "errors / bits, 0 when no bits were compared"),
            ("locked", "whether the receiver was locked at the end"),
        ],
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, make as build, run};
    use modemflow_flow::Value;
    use proptest::prelude::*;

    fn prbs(order: u32, seed: u32, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        Prbs::new(order, seed).unwrap().fill(&mut v);
        v
    }

    fn measure(
        order: i64,
        bits: &[u8],
        sizes: &[usize],
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut b = build(&spec(), &[("order", Value::Int(order))]).unwrap();
        let r = run(
            &mut *b,
            Some(ItemType::Bit),
            &chunked(bits, sizes),
            &[],
            0,
            0,
        )
        .unwrap();
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].0, "ber");
        r.events[0].1.clone()
    }

    #[test]
    fn clean_sequence_has_no_errors() {
        let bits = prbs(23, 0x5A5A5, 100_000);
        let e = measure(23, &bits, &[4096]);
        assert_eq!(e["errors"], 0);
        assert_eq!(e["bits"], 100_000 - 23 - u64::from(LOCK_BITS));
        assert_eq!(e["ber"], 0.0);
        assert_eq!(e["locked"], true);
    }

    #[test]
    fn injected_errors_are_counted_exactly() {
        let mut bits = prbs(15, 77, 50_000);
        let mut injected = 0;
        for i in (1000..50_000).step_by(997) {
            bits[i] ^= 1;
            injected += 1;
        }
        let e = measure(15, &bits, &[333, 1, 7000]);
        assert_eq!(e["errors"], injected);
        let n = 50_000 - 15 - u64::from(LOCK_BITS);
        assert_eq!(e["bits"], n);
        assert!((e["ber"].as_f64().unwrap() - injected as f64 / n as f64).abs() < 1e-15);
    }

    #[test]
    fn random_bits_never_lock_and_empty_input_reports_zero() {
        let e = measure(23, &[], &[1]);
        assert_eq!(e["bits"], 0);
        assert_eq!(e["ber"], 0.0);
        assert_eq!(e["locked"], false);
        let mut x = 12345u32;
        let noise: Vec<u8> = (0..20_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8 & 1
            })
            .collect();
        assert_eq!(measure(9, &noise, &[512])["locked"], false);
    }

    #[test]
    fn relocks_after_the_sequence_jumps() {
        let mut bits = prbs(11, 1, 20_000);
        bits.extend(prbs(11, 0x3AB, 20_000));
        let e = measure(11, &bits, &[1000]);
        assert_eq!(e["locked"], true);
        // The jump costs at most one window of errors plus a re-lock.
        assert!(e["errors"].as_u64().unwrap() <= u64::from(LOSS_ERRORS));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_seed_and_chunking_give_the_same_result(
            order in prop::sample::select(ORDERS.to_vec()),
            seed in 1u32..,
            flips in prop::collection::vec(200usize..6000, 0..20),
            sizes in prop::collection::vec(1usize..700, 1..6),
        ) {
            let mut bits = prbs(order as u32, seed | 1, 6000);
            for f in &flips {
                bits[*f] ^= 1;
            }
            let one = measure(order, &bits, &[1]);
            let all = measure(order, &bits, &[bits.len()]);
            let some = measure(order, &bits, &sizes);
            prop_assert_eq!(&one, &all);
            prop_assert_eq!(&one, &some);
            prop_assert_eq!(one["locked"].as_bool(), Some(true));
        }
    }
}
