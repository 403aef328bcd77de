//! Additive white Gaussian noise at a level in dBm0 (`awgn`).

use crate::core::level::dbm0_to_rms_f32;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, Value, WorkIo,
};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

/// Adds seeded white Gaussian noise of a given RMS; one draw per sample, so
/// the noise does not depend on how the stream is chunked.
#[derive(Clone, Debug)]
pub struct Awgn {
    rng: Pcg64,
    sigma: f32,
}

impl Awgn {
    pub fn new(level_dbm0: f64, seed: u64) -> Self {
        let mut a = Awgn {
            rng: Pcg64::seed_from_u64(seed),
            sigma: 0.0,
        };
        a.set_level(level_dbm0);
        a
    }

    /// Sets the noise power in dBm0 (on the f32 scale, full scale ±1.0).
    pub fn set_level(&mut self, level_dbm0: f64) {
        self.sigma = dbm0_to_rms_f32(level_dbm0) as f32;
    }

    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        for (o, &x) in output.iter_mut().zip(input) {
            let g: f32 = self.rng.sample(StandardNormal);
            *o = x + self.sigma * g;
        }
    }
}

struct AwgnBlock(Awgn);

impl Block for AwgnBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<f32, f32>(|input, out| {
            self.0.process(input, out);
        });
        Ok(Status::Ok)
    }

    fn set_param(&mut self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value.as_f64()) {
            ("level", Some(l)) => {
                self.0.set_level(l);
                Ok(())
            }
            _ => Err(format!(
                "parameter `{name}` cannot be changed while running"
            )),
        }
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(AwgnBlock(Awgn::new(
        args.float("level")?,
        args.int("seed")? as u64,
    ))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new("awgn", "Channel", "adds white Gaussian noise", make)
        .doc(
            "Adds white Gaussian noise whose power is `level` dBm0, where 0 dBm0 is the \
             power of a sine with peak 3.14 dB below µ-law full scale (32124/32768 on \
             the f32 scale). Seeded (PCG64), so runs are reproducible whatever the \
             chunking.",
        )
        .param(
            ParamSpec::float("level", "noise power")
                .default(-60.0)
                .range(-120.0, 10.0)
                .unit("dBm0")
                .live(),
        )
        .param(ParamSpec::int("seed", "random generator seed").default(1))
        .input(PortSpec::new("in", ItemType::F32, "signal"))
        .output(PortSpec::new("out", ItemType::F32, "signal plus noise"))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::level::rms_f32_to_dbm0;
    use crate::testutil::{chunked, items, make as build, run};

    #[test]
    fn noise_power_is_the_level() {
        for level in [-60.0, -20.0, 0.0] {
            let x = vec![0.0f32; 400_000];
            let mut y = vec![0.0f32; x.len()];
            Awgn::new(level, 5).process(&x, &mut y);
            let p = y.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / y.len() as f64;
            let measured = rms_f32_to_dbm0(p.sqrt());
            assert!((measured - level).abs() < 0.1, "{level}: {measured}");
        }
    }

    #[test]
    fn deterministic_across_chunkings() {
        let x: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.01).sin()).collect();
        let p = [("level", Value::Float(-30.0)), ("seed", Value::Int(42))];
        let mut a = build(&spec(), &p).unwrap();
        let ra = run(
            &mut *a,
            Some(ItemType::F32),
            &chunked(&x, &[1, 999]),
            &[ItemType::F32],
            64,
            0,
        )
        .unwrap();
        let mut b = build(&spec(), &p).unwrap();
        let rb = run(
            &mut *b,
            Some(ItemType::F32),
            &chunked(&x, &[10_000]),
            &[ItemType::F32],
            8192,
            0,
        )
        .unwrap();
        let (ya, yb) = (items::<f32>(&ra.outputs[0]), items::<f32>(&rb.outputs[0]));
        assert_eq!(ya.len(), x.len());
        assert_eq!(ya, yb);
    }
}
