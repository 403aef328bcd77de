//! ITU-T O.150 pseudo-random bit sequences and the `prbs_source` block.

use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};

/// The orders O.150 defines, as the `order` parameter allows them.
pub const ORDERS: [i64; 6] = [9, 11, 15, 20, 23, 31];

/// The feedback tap m of the O.150 polynomial x^n + x^m + 1 for order n.
pub fn tap(order: u32) -> Option<u32> {
    match order {
        9 => Some(5),   // O.150 §5: 2^9−1, x^9 + x^5 + 1
        11 => Some(9),  // O.150 §5: 2^11−1, x^11 + x^9 + 1
        15 => Some(14), // O.150 §5: 2^15−1, x^15 + x^14 + 1
        20 => Some(3),  // O.150 §5: 2^20−1, x^20 + x^3 + 1
        23 => Some(18), // O.150 §5: 2^23−1, x^23 + x^18 + 1
        31 => Some(28), // O.150 §5: 2^31−1, x^31 + x^28 + 1
        _ => None,
    }
}

/// A Fibonacci shift register for x^n + x^m + 1 whose output is the feedback
/// bit. Bit 0 of the state is the most recent output, so the state after `n`
/// outputs is exactly those outputs; the BER receiver relies on this to load
/// itself from received bits.
#[derive(Clone, Debug)]
pub struct Prbs {
    state: u32,
    mask: u32,
    n1: u32,
    m1: u32,
}

impl Prbs {
    /// A generator of `order` (one of [`ORDERS`]) starting from `state`
    /// masked to `order` bits; `None` for an unknown order or a zero state.
    pub fn new(order: u32, state: u32) -> Option<Prbs> {
        let m = tap(order)?;
        let mask = (1u32 << order) - 1;
        let state = state & mask;
        if state == 0 {
            return None;
        }
        Some(Prbs {
            state,
            mask,
            n1: order - 1,
            m1: m - 1,
        })
    }

    /// The register contents (bit 0 = most recent output).
    pub fn state(&self) -> u32 {
        self.state
    }

    /// Replaces the register contents; a zero state would lock up, so it is
    /// the caller's job to avoid it when generating.
    pub fn set_state(&mut self, state: u32) {
        self.state = state & self.mask;
    }

    /// The bit the generator will output next, without advancing.
    #[inline]
    pub fn predict(&self) -> u8 {
        (((self.state >> self.n1) ^ (self.state >> self.m1)) & 1) as u8
    }

    /// Shifts `bit` into the register as if it had been the output.
    #[inline]
    pub fn shift_in(&mut self, bit: u8) {
        self.state = ((self.state << 1) | u32::from(bit & 1)) & self.mask;
    }

    #[inline]
    pub fn next_bit(&mut self) -> u8 {
        let b = self.predict();
        self.shift_in(b);
        b
    }

    /// The number of bits [`Prbs::next_word`] can give at once: each new
    /// bit depends on the one m before it, so m bits are independent.
    #[inline]
    pub fn word_bits(&self) -> u32 {
        self.m1 + 1
    }

    /// The next [`Prbs::word_bits`] outputs at once, the first in time in
    /// the word's highest bit, exactly as that many [`Prbs::next_bit`] calls.
    #[inline]
    pub fn next_word(&mut self) -> u32 {
        let w = self.m1 + 1;
        // Output i is state bit (n−1−i) ⊕ state bit (m−1−i), for i < m.
        let word = ((self.state >> (self.n1 + 1 - w)) ^ (self.state >> (self.m1 + 1 - w)))
            & ((1u32 << w) - 1);
        self.state = ((self.state << w) | word) & self.mask;
        word
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        let w = self.word_bits() as usize;
        let mut chunks = out.chunks_exact_mut(w);
        for chunk in &mut chunks {
            let word = self.next_word();
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = ((word >> (w - 1 - i)) & 1) as u8;
            }
        }
        for b in chunks.into_remainder() {
            *b = self.next_bit();
        }
    }
}

struct PrbsSource {
    prbs: Prbs,
}

impl Block for PrbsSource {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let out = &mut io.outputs[0];
        let n = out.space();
        self.prbs.fill(out.append::<u8>(n));
        Ok(Status::Ok)
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let order = args.int("order")?;
    let seed = args.int("seed")?;
    let prbs = u32::try_from(order)
        .ok()
        .zip(u32::try_from(seed & 0xFFFF_FFFF).ok())
        .and_then(|(o, s)| Prbs::new(o, s))
        .ok_or_else(|| {
            format!(
                "`seed` = {seed} is zero in its low {order} bits, which would give a constant \
                 stream; use a seed with at least one of those bits set (e.g. 1)"
            )
        })?;
    Ok(Box::new(PrbsSource { prbs }))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "prbs_source",
        "Sources",
        "ITU-T O.150 pseudo-random bit sequence",
        make,
    )
    .doc(
        "Generates the O.150 maximal-length sequence of the chosen order forever \
         (period 2^order − 1). The register is a Fibonacci shift register whose output \
         is the feedback bit; `seed` is its initial contents, masked to `order` bits. \
         The output is not inverted (O.150 transmits 2^15−1, 2^23−1 and 2^31−1 inverted; \
         `ber_sink` expects the non-inverted form).",
    )
    .param(
        ParamSpec::int("order", "degree n of the polynomial x^n + x^m + 1")
            .default(23)
            .allowed(&ORDERS),
    )
    .param(
        ParamSpec::int(
            "seed",
            "initial register state; masked to `order` bits, must not become zero",
        )
        .default(1),
    )
    .output(PortSpec::new(
        "out",
        ItemType::Bit,
        "the pseudo-random bits",
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{items, make as build, run};
    use modemflow_flow::Value;
    use proptest::prelude::*;

    fn json(name: &str) -> serde_json::Value {
        let p = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    fn bits(s: &str) -> Vec<u8> {
        s.bytes().map(|c| c - b'0').collect()
    }

    #[test]
    fn prbs9_matches_spandsp_v21_pattern() {
        let v = json("v21_ch1_sync.json");
        let all = bits(v["bits"].as_str().unwrap());
        let off = v["pattern_bits_offset"].as_u64().unwrap() as usize;
        let len = v["pattern_bits_len"].as_u64().unwrap() as usize;
        let mut g = Prbs::new(9, 0x1FF).unwrap();
        let mut got = vec![0u8; len];
        g.fill(&mut got);
        assert_eq!(got, all[off..off + len]);
    }

    #[test]
    fn prbs23_matches_spandsp_scrambler_input() {
        let v = json("scrambler_gpc.json");
        let input = bits(v["in_bits"].as_str().unwrap());
        let text = v["in_text"].as_str().unwrap();
        // 256 ones, then the text's bytes LSB first, then PRBS23 from all ones.
        let off = 256 + 8 * text.len();
        let mut g = Prbs::new(23, 0x7F_FFFF).unwrap();
        let mut got = vec![0u8; input.len() - off];
        g.fill(&mut got);
        assert_eq!(got, input[off..]);
    }

    #[test]
    fn block_fills_space_and_zero_seed_is_refused() {
        let spec = spec();
        let mut b = build(
            &spec,
            &[("order", Value::Int(9)), ("seed", Value::Int(0x1FF))],
        )
        .unwrap();
        let r = run(&mut *b, None, &[], &[ItemType::Bit], 100, 1000).unwrap();
        let got: Vec<u8> = items(&r.outputs[0]);
        let mut want = vec![0u8; got.len()];
        Prbs::new(9, 0x1FF).unwrap().fill(&mut want);
        assert!(got.len() >= 1000);
        assert_eq!(got, want);
        let e = build(
            &spec,
            &[("order", Value::Int(9)), ("seed", Value::Int(0x200))],
        )
        .err()
        .unwrap();
        assert!(e.contains("seed"), "{e}");
    }

    proptest! {
        #[test]
        fn words_are_the_bits_one_at_a_time(
            order in prop::sample::select(ORDERS.to_vec()),
            seed in 1u32..,
            len in 0usize..200,
        ) {
            let mut a = Prbs::new(order as u32, seed | 1).unwrap();
            let mut b = a.clone();
            let mut words = vec![0u8; len];
            a.fill(&mut words);
            let bits: Vec<u8> = (0..len).map(|_| b.next_bit()).collect();
            prop_assert_eq!(words, bits);
            prop_assert_eq!(a.state(), b.state());
        }

        #[test]
        fn period_is_maximal(order in prop::sample::select(vec![9u32, 11, 15]), seed in 1u32..) {
            let mut g = Prbs::new(order, seed | 1).unwrap();
            let start = g.state();
            let period = (1u32 << order) - 1;
            for i in 1..=period {
                g.next_bit();
                if g.state() == start {
                    prop_assert_eq!(i, period);
                }
            }
            prop_assert_eq!(g.state(), start);
        }
    }
}
