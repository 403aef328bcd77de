//! The `g711_encode` and `g711_decode` blocks.

use super::law::{Law, G711};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Registry, Status, WorkIo,
};

struct Encode(G711);
struct Decode(G711);

impl Block for Encode {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<i16, u8>(|input, out| {
            self.0.encode(input, out);
        });
        Ok(Status::Ok)
    }
}

impl Block for Decode {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        io.map::<u8, i16>(|input, out| {
            self.0.decode(input, out);
        });
        Ok(Status::Ok)
    }
}

/// Reads the `law` parameter (every block that handles codewords has it).
pub fn law_arg(args: &BlockArgs) -> Result<Law, String> {
    let s = args.string("law")?;
    Law::parse(&s).ok_or_else(|| format!("`law` must be mu or a, got `{s}`"))
}

fn law(args: &BlockArgs) -> Result<G711, String> {
    law_arg(args).map(G711::new)
}

fn make_encode(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(Encode(law(args)?)))
}

fn make_decode(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(Decode(law(args)?)))
}

/// The `law` parameter.
pub fn law_param() -> ParamSpec {
    ParamSpec::choice("law", &["mu", "a"], "µ-law (North America, Japan) or A-law").default("mu")
}

pub fn spec_encode() -> BlockSpec {
    BlockSpec::new("g711_encode", "Coding", "G.711 PCM encoder", make_encode)
        .doc(
            "Compresses 16-bit linear samples to G.711 octets. µ-law adds the bias 0x84, \
             codes sign and magnitude separately (so −x and x differ only in the sign bit) \
             and complements the octet; A-law inverts the even bits (XOR 0x55). Within a \
             step the input is truncated, as the G.711 decision levels say. Matches \
             spandsp's encoders exactly.",
        )
        .param(law_param())
        .input(PortSpec::new("in", ItemType::I16, "linear samples"))
        .output(PortSpec::new("out", ItemType::Octet, "G.711 codewords"))
}

pub fn spec_decode() -> BlockSpec {
    BlockSpec::new("g711_decode", "Coding", "G.711 PCM decoder", make_decode)
        .doc(
            "Expands G.711 octets to 16-bit linear samples: the G.711 values scaled by 4 \
             (µ-law, 0 … ±32124) or by 8 (A-law, ±8 … ±32256), as in V.90 Table 1.",
        )
        .param(law_param())
        .input(PortSpec::new("in", ItemType::Octet, "G.711 codewords"))
        .output(PortSpec::new("out", ItemType::I16, "linear samples"))
}

pub fn register(r: &mut Registry) {
    r.register(spec_encode());
    r.register(spec_decode());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make, run};
    use modemflow_flow::Value;

    #[test]
    fn blocks_round_trip_codes() {
        for l in ["mu", "a"] {
            let codes: Vec<u8> = (0..=255).cycle().take(2000).collect();
            let p = [("law", Value::from(l))];
            let mut d = make(&spec_decode(), &p).unwrap();
            let lin = run(
                &mut *d,
                Some(ItemType::Octet),
                &chunked(&codes, &[3, 500]),
                &[ItemType::I16],
                100,
                0,
            )
            .unwrap();
            let mut e = make(&spec_encode(), &p).unwrap();
            let back = run(
                &mut *e,
                Some(ItemType::I16),
                &lin.outputs,
                &[ItemType::Octet],
                77,
                0,
            )
            .unwrap();
            let back: Vec<u8> = items(&back.outputs[0]);
            if l == "a" {
                assert_eq!(back, codes);
            } else {
                // µ-law −0 (0x7F) decodes to 0, which encodes as +0 (0xFF).
                let want: Vec<u8> = codes
                    .iter()
                    .map(|&c| if c == 0x7F { 0xFF } else { c })
                    .collect();
                assert_eq!(back, want);
            }
        }
    }
}
