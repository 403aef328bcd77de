//! The `v8_framer` block: sends a V.8 sequence (CI, CM, JM, V.92) as bits,
//! repeated, optionally followed by CJ.

use super::message::{frame, frame_cj, SYNC_CI, SYNC_CM_JM, SYNC_V92};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Rate, Status, WorkIo,
};

struct Framer {
    bits: Vec<u8>,
    pos: usize,
    endless: bool,
}

/// Parses `C1 65 13` (spaces or commas optional) into octets.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    if !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("`{s}` is not a list of hex octets like `C1 65 13`"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| format!("`{s}`: {e}")))
        .collect()
}

impl Framer {
    fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
        let octets = parse_hex(&a.string("octets")?)?;
        let sync = match a.string("sequence")?.as_str() {
            "ci" => SYNC_CI,
            "v92" => SYNC_V92,
            _ => SYNC_CM_JM,
        };
        let repeat = a.int("repeat")?.max(0) as usize;
        let one = frame(sync, &octets);
        let mut bits = Vec::with_capacity(one.len() * repeat.max(1) + 30);
        for _ in 0..repeat.max(1) {
            bits.extend_from_slice(&one);
        }
        if a.bool("cj")? {
            bits.extend(frame_cj());
        }
        Ok(Box::new(Framer {
            bits,
            pos: 0,
            endless: repeat == 0,
        }))
    }
}

impl Block for Framer {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let out = &mut io.outputs[0];
        let mut space = out.space();
        while space > 0 && (self.pos < self.bits.len() || self.endless) {
            if self.pos == self.bits.len() {
                self.pos = 0;
            }
            let n = space.min(self.bits.len() - self.pos);
            out.items::<u8>()
                .extend_from_slice(&self.bits[self.pos..self.pos + n]);
            self.pos += n;
            space -= n;
        }
        Ok(if self.pos == self.bits.len() && !self.endless {
            Status::Done
        } else {
            Status::Ok
        })
    }

    fn length_hint(&self) -> Option<u64> {
        (!self.endless).then_some(self.bits.len() as u64)
    }
}

pub fn spec() -> BlockSpec {
    BlockSpec::new("v8_framer", "V.8", "Sends a V.8 sequence as bits, repeated", Framer::make)
        .doc(
            "Frames `octets` as V.8 §5 sends them: ten ones, the sync octet of `sequence` (CI 0x00, CM/JM 0xE0, \
             V.92 0x55), then each octet as start bit 0, b0…b7, stop bit 1. Repeats the sequence `repeat` times \
             (0 = without end), then sends CJ (three zero octets, V.8 §7.4) if `cj` is true. Feed it to \
             `fsk_modulator` (channel 1 for CI/CM, channel 2 for JM).",
        )
        .param(ParamSpec::choice("sequence", &["ci", "cm", "jm", "v92"], "Which sync to send").default("cm"))
        .param(ParamSpec::string("octets", "Information octets in hex, e.g. `C1 65 13 90 2A 27`").default("C1"))
        .param(ParamSpec::int("repeat", "Times to send the sequence (0 = without end)").default(0).range(0.0, 1.0e6))
        .param(ParamSpec::bool("cj", "Send CJ after the last repetition").default(false))
        .output(PortSpec::new("out", ItemType::Bit, "Bits at the V.21 rate").rate(Rate::Varies))
}

#[cfg(test)]
mod tests {
    use super::parse_hex;

    #[test]
    fn hex_octets_parse_and_bad_text_is_an_error() {
        assert_eq!(parse_hex("C1 65, 13"), Ok(vec![0xC1, 0x65, 0x13]));
        assert_eq!(parse_hex(""), Ok(vec![]));
        assert!(parse_hex("C1 6").is_err());
        assert!(parse_hex("é1").is_err());
        assert!(parse_hex("GG").is_err());
    }
}
