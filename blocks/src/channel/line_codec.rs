//! The line card's codec: its D/A (`line_codec_dac`), G.711 octets to the
//! analogue signal that leaves the central office on the local loop, and
//! its A/D (`line_codec_adc`), the loop's signal to G.711 octets (what a
//! V.90 digital modem receives upstream).
//!
//! A V.90 downstream only works because the line card turns each codeword
//! into exactly one of the 255 levels of V.90 Table 1 (modem-standards.md §1):
//! the analogue modem's job is to tell those levels apart. So the D/A is
//! modelled as exact: octet → signed Table 1 value (µ-law 0 … ±32124, A-law
//! ±8 … ±32256 on the 16-bit scale) / 32768, the project's f32 scale (the
//! scale of `i16_to_f32`). Its analogue imperfections (band limit,
//! transformer) belong to the loop, `analog_loop`.

use crate::core::convert::f32_to_i16;
use crate::core::level::F32_FULL_SCALE_I16;
use crate::g711::blocks::{law_arg, law_param};
use crate::g711::law::Law;
use crate::g711::law::G711;
use crate::v90::ucode;
use modemflow_flow::{Block, BlockArgs, BlockSpec, ItemType, PortSpec, Registry, Status, WorkIo};

/// Codeword → voltage, one lookup per octet in a 256-entry table.
#[derive(Clone, Debug)]
pub struct LineCodecDac {
    table: [f32; 256],
}

impl LineCodecDac {
    pub fn new(law: Law) -> Self {
        let mut table = [0.0f32; 256];
        for (o, v) in table.iter_mut().enumerate() {
            // Exact: every Table 1 value fits in f32's 24-bit mantissa and
            // the division is by a power of two.
            *v = ucode::signed_linear(law, o as u8) as f32 / F32_FULL_SCALE_I16 as f32;
        }
        LineCodecDac { table }
    }

    /// The level of octet `o` on the f32 scale.
    pub fn level(&self, o: u8) -> f32 {
        self.table[usize::from(o)]
    }

    /// Converts `input` into `output` (as long; any extra on either side is
    /// left alone).
    pub fn process(&self, input: &[u8], output: &mut [f32]) {
        for (y, &o) in output.iter_mut().zip(input) {
            *y = self.table[usize::from(o)];
        }
    }
}

struct DacBlock(LineCodecDac);

impl Block for DacBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<u8, f32>(|input, out| self.0.process(input, out));
        Ok(Status::Ok)
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(DacBlock(LineCodecDac::new(law_arg(args)?))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "line_codec_dac",
        "Channel",
        "the line card's D/A: G.711 codewords to line levels",
        make,
    )
    .doc(
        "Turns each G.711 codeword into its level on the line, exactly: the signed V.90 \
         Table 1 value (µ-law 0 … ±32124, A-law ±8 … ±32256 on the 16-bit scale) divided \
         by 32768, the scale of `i16_to_f32`. Sign bit 1 is a positive voltage. One \
         sample out for each octet in; every octet is valid input.",
    )
    .param(law_param())
    .input(PortSpec::new(
        "in",
        ItemType::Octet,
        "codewords at the line card",
    ))
    .output(PortSpec::new(
        "out",
        ItemType::F32,
        "the line card's analogue output",
    ))
}

/// The A/D: samples on the f32 scale to G.711 codewords, at the network's
/// clock. Quantisation is G.711's: the nearest 16-bit value, then the
/// encoder's segments.
pub struct LineCodecAdc {
    g711: G711,
    pcm: Vec<i16>,
}

impl LineCodecAdc {
    pub fn new(law: Law) -> Self {
        LineCodecAdc {
            g711: G711::new(law),
            pcm: Vec::new(),
        }
    }

    /// Converts `input` into `output` (as long).
    pub fn process(&mut self, input: &[f32], output: &mut [u8]) {
        self.pcm.resize(input.len(), 0);
        f32_to_i16(input, &mut self.pcm);
        self.g711.encode(&self.pcm, output);
    }
}

struct AdcBlock(LineCodecAdc);

impl Block for AdcBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let adc = &mut self.0;
        io.map::<f32, u8>(|input, out| adc.process(input, out));
        Ok(Status::Ok)
    }
}

fn make_adc(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(AdcBlock(LineCodecAdc::new(law_arg(args)?))))
}

pub fn adc_spec() -> BlockSpec {
    BlockSpec::new(
        "line_codec_adc",
        "Channel",
        "the line card's A/D: line levels to G.711 codewords",
        make_adc,
    )
    .doc(
        "Samples the loop at the network's clock and encodes each sample with G.711: \
         the value on the f32 scale (±1.0 = ±32768, the scale of `i16_to_f32`) rounded \
         to 16 bits (clamped), then µ-law or A-law. One codeword out for each sample in; \
         non-finite samples count as 0. With `line_codec_dac` after it, a value comes \
         back as its G.711 level.",
    )
    .param(law_param())
    .input(PortSpec::new(
        "in",
        ItemType::F32,
        "the loop's signal at the line card",
    ))
    .output(PortSpec::new(
        "out",
        ItemType::Octet,
        "codewords into the network",
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
    r.register(adc_spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::convert::i16_to_f32;
    use crate::g711::law::G711;
    use crate::testutil::{chunked, items, make as build, run};
    use modemflow_flow::Value;

    #[test]
    fn adc_then_dac_gives_the_g711_level() {
        for (law, name) in [(Law::Mu, "mu"), (Law::A, "a")] {
            let mut adc = LineCodecAdc::new(law);
            let dac = LineCodecDac::new(law);
            let x: Vec<f32> = (0..20_001)
                .map(|i| (i as f32 - 10_000.0) / 10_000.0 * 1.1)
                .collect();
            let mut o = vec![0u8; x.len()];
            adc.process(&x, &mut o);
            for (&v, &c) in x.iter().zip(&o) {
                let back = dac.level(c);
                // Within G.711's step at that level: under 1/32 relative for
                // mid and loud levels, a few counts near zero; clamped beyond ±1.
                let v = v.clamp(-1.0, 32767.0 / 32768.0);
                assert!(
                    (back - v).abs() <= v.abs() / 25.0 + 0.0005,
                    "{name} {v} → {back}"
                );
            }
            let mut nan = [0u8; 2];
            adc.process(&[f32::NAN, f32::INFINITY], &mut nan);
            assert!(dac.level(nan[0]).abs() < 0.001);
            let mut b = build(&adc_spec(), &[("law", Value::from(name))]).unwrap();
            let r = run(
                &mut *b,
                Some(ItemType::F32),
                &chunked(&x, &[3, 100, 4096]),
                &[ItemType::Octet],
                64,
                0,
            )
            .unwrap();
            assert_eq!(items::<u8>(&r.outputs[0]), o);
        }
    }

    #[test]
    fn dac_matches_table_1_for_all_octets_of_both_laws() {
        let octets: Vec<u8> = (0..=255).collect();
        for (law, name) in [(Law::Mu, "mu"), (Law::A, "a")] {
            let dac = LineCodecDac::new(law);
            let mut y = vec![0.0f32; 256];
            dac.process(&octets, &mut y);
            for &o in &octets {
                let want = f64::from(ucode::signed_linear(law, o)) / 32768.0;
                assert_eq!(f64::from(y[usize::from(o)]), want, "{name} {o:#04x}");
                assert_eq!(dac.level(o), y[usize::from(o)]);
            }
            // The same as g711_decode followed by i16_to_f32.
            let mut lin = vec![0i16; 256];
            G711::new(law).decode(&octets, &mut lin);
            let mut f = vec![0.0f32; 256];
            i16_to_f32(&lin, &mut f);
            assert_eq!(f, y, "{name}");
            // Through the block, in awkward chunks.
            let x: Vec<u8> = octets.iter().cycle().take(3000).copied().collect();
            let mut b = build(&spec(), &[("law", Value::from(name))]).unwrap();
            let r = run(
                &mut *b,
                Some(ItemType::Octet),
                &chunked(&x, &[1, 7, 333, 4096]),
                &[ItemType::F32],
                100,
                0,
            )
            .unwrap();
            let got: Vec<f32> = items(&r.outputs[0]);
            let want: Vec<f32> = x.iter().map(|&o| dac.level(o)).collect();
            assert_eq!(got, want, "{name}");
        }
        assert!(build(&spec(), &[("law", Value::from("x"))]).is_err());
    }
}
