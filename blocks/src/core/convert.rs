//! Conversions between the i16 and f32 sample scales (`i16_to_f32`, `f32_to_i16`).
//!
//! Full scale is ±1.0 on f32 streams and ±32768 on i16 streams.

use super::level::F32_FULL_SCALE_I16;
use modemflow_flow::{Block, BlockArgs, BlockSpec, ItemType, PortSpec, Registry, Status, WorkIo};

const SCALE: f32 = F32_FULL_SCALE_I16 as f32;

/// x / 32768, exact for every i16.
pub fn i16_to_f32(input: &[i16], output: &mut [f32]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = f32::from(x) / SCALE;
    }
}

/// x · 32768 rounded to nearest and saturated to the i16 range; NaN gives 0.
pub fn f32_to_i16(input: &[f32], output: &mut [i16]) {
    for (o, &x) in output.iter_mut().zip(input) {
        // `as` saturates and maps NaN to 0.
        *o = (x * SCALE).round() as i16;
    }
}

struct ToF32;
struct ToI16;

impl Block for ToF32 {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<i16, f32>(|input, out| {
            i16_to_f32(input, out);
        });
        Ok(Status::Ok)
    }
}

impl Block for ToI16 {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<f32, i16>(|input, out| {
            f32_to_i16(input, out);
        });
        Ok(Status::Ok)
    }
}

fn make_to_f32(_: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(ToF32))
}

fn make_to_i16(_: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(ToI16))
}

pub fn register(r: &mut Registry) {
    r.register(
        BlockSpec::new(
            "i16_to_f32",
            "Conversion",
            "16-bit samples to floating point",
            make_to_f32,
        )
        .doc("Divides by 32768, so i16 full scale becomes ±1.0. Exact.")
        .input(PortSpec::new("in", ItemType::I16, "16-bit samples"))
        .output(PortSpec::new(
            "out",
            ItemType::F32,
            "samples, full scale ±1.0",
        )),
    );
    r.register(
        BlockSpec::new(
            "f32_to_i16",
            "Conversion",
            "floating point to 16-bit samples",
            make_to_i16,
        )
        .doc(
            "Multiplies by 32768, rounds to nearest (halves away from zero) and \
                 saturates to −32768 … 32767; NaN becomes 0.",
        )
        .input(PortSpec::new(
            "in",
            ItemType::F32,
            "samples, full scale ±1.0",
        ))
        .output(PortSpec::new("out", ItemType::I16, "16-bit samples")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_saturation() {
        let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let mut f = vec![0.0; all.len()];
        i16_to_f32(&all, &mut f);
        let mut back = vec![0; all.len()];
        f32_to_i16(&f, &mut back);
        assert_eq!(back, all);
        let mut o = [0i16; 6];
        f32_to_i16(
            &[1.0, -1.5, 2e9, f32::NAN, 0.5 / 32768.0, -0.49 / 32768.0],
            &mut o,
        );
        assert_eq!(o, [32767, -32768, 32767, 0, 1, 0]);
    }
}
