//! A binary symmetric channel (`bit_error`): flips bits at random.

use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, Value, WorkIo,
};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// Flips each bit independently with a given probability. One random draw per
/// bit whatever the probability, so the same seed flips the same positions
/// however the stream is chunked.
#[derive(Clone, Debug)]
pub struct BitFlipper {
    rng: Pcg64,
    threshold: u64,
    always: bool,
}

impl BitFlipper {
    pub fn new(probability: f64, seed: u64) -> Self {
        let mut f = BitFlipper {
            rng: Pcg64::seed_from_u64(seed),
            threshold: 0,
            always: false,
        };
        f.set_probability(probability);
        f
    }

    /// Sets the flip probability (clamped to 0…1).
    pub fn set_probability(&mut self, p: f64) {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.always = p >= 1.0;
        // A draw u flips when u < p·2^64.
        self.threshold = (p * 18_446_744_073_709_551_616.0) as u64;
    }

    pub fn process(&mut self, input: &[u8], output: &mut [u8]) {
        for (o, &b) in output.iter_mut().zip(input) {
            let u: u64 = self.rng.random();
            *o = (b & 1) ^ u8::from(self.always || u < self.threshold);
        }
    }
}

struct BitError(BitFlipper);

impl Block for BitError {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<u8, u8>(|input, out| {
            self.0.process(input, out);
        });
        Ok(Status::Ok)
    }

    fn set_param(&mut self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value.as_f64()) {
            ("probability", Some(p)) => {
                self.0.set_probability(p);
                Ok(())
            }
            _ => Err(format!(
                "parameter `{name}` cannot be changed while running"
            )),
        }
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(BitError(BitFlipper::new(
        args.float("probability")?,
        args.int("seed")? as u64,
    ))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new("bit_error", "Channel", "flips bits at random", make)
        .doc(
            "A binary symmetric channel: each bit is inverted independently with \
             probability `probability`, from a seeded generator (PCG64), so a run is \
             reproducible whatever the chunking.",
        )
        .param(
            ParamSpec::float("probability", "chance that a bit is flipped")
                .default(0.0)
                .range(0.0, 1.0)
                .live(),
        )
        .param(ParamSpec::int("seed", "random generator seed").default(1))
        .input(PortSpec::new("in", ItemType::Bit, "bits"))
        .output(PortSpec::new("out", ItemType::Bit, "bits with errors"))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make as build, run};

    #[test]
    fn flip_rate_is_the_probability() {
        let n = 1_000_000;
        let zeros = vec![0u8; n];
        let mut out = vec![0u8; n];
        BitFlipper::new(0.01, 7).process(&zeros, &mut out);
        let flips = out.iter().map(|&b| b as usize).sum::<usize>() as f64;
        // ±5 standard deviations of a binomial(1e6, 0.01).
        assert!(
            (flips - 10_000.0).abs() < 5.0 * (n as f64 * 0.01 * 0.99).sqrt(),
            "{flips}"
        );
        BitFlipper::new(1.0, 7).process(&zeros, &mut out);
        assert!(out.iter().all(|&b| b == 1));
        BitFlipper::new(0.0, 7).process(&zeros, &mut out);
        assert!(out.iter().all(|&b| b == 0));
    }

    #[test]
    fn same_seed_same_flips_for_any_chunking_and_live_change() {
        let bits: Vec<u8> = (0..20_000).map(|i| (i % 3 == 0) as u8).collect();
        let p = [("probability", Value::Float(0.1)), ("seed", Value::Int(99))];
        let mut a = build(&spec(), &p).unwrap();
        let ra = run(
            &mut *a,
            Some(ItemType::Bit),
            &chunked(&bits, &[1, 13, 4000]),
            &[ItemType::Bit],
            50,
            0,
        )
        .unwrap();
        let mut b = build(&spec(), &p).unwrap();
        let rb = run(
            &mut *b,
            Some(ItemType::Bit),
            &chunked(&bits, &[20_000]),
            &[ItemType::Bit],
            8192,
            0,
        )
        .unwrap();
        assert_eq!(items::<u8>(&ra.outputs[0]), items::<u8>(&rb.outputs[0]));
        assert!(b.set_param("probability", &Value::Float(0.5)).is_ok());
        assert!(b.set_param("seed", &Value::Int(3)).is_err());
    }
}
