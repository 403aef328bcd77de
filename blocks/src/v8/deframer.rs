//! The `v8_deframer` block: reads V.8 sequences from a V.21 bit stream and
//! reports each as an event, parsed, marking the ones V.8 would accept.

use super::message::{hex, parse, Deframer, Received, Sequence};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, ParamSpec, PortSpec, Rate, Status, WorkIo,
};
use serde_json::json;

struct DeframerBlock {
    deframer: Deframer,
    /// Channel 2 (V.21 high) carries JM; channel 1 carries CI, CM and CJ.
    answerer_channel: bool,
    baud: f64,
    found: Vec<Received>,
}

impl DeframerBlock {
    fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
        Ok(Box::new(DeframerBlock {
            deframer: Deframer::new(),
            answerer_channel: a.int("channel")? == 2,
            baud: a.float("baud")?,
            found: Vec::new(),
        }))
    }

    fn report(&mut self, io: &mut WorkIo<'_>) {
        for r in self.found.drain(..) {
            let kind = match (r.sequence, self.answerer_channel) {
                (Sequence::Ci, _) => "ci",
                (Sequence::CmJm, false) => "cm",
                (Sequence::CmJm, true) => "jm",
                (Sequence::Cj, _) => "cj",
                (Sequence::V92, _) => "v92",
            };
            let f = parse(&r.octets);
            let mut fields = json!({
                "t": r.start_bit as f64 / self.baud,
                "octets": hex(&r.octets),
                "accepted": r.accepted,
            });
            if matches!(r.sequence, Sequence::Ci | Sequence::CmJm) {
                fields["call_function"] = json!(f.call_function);
                fields["modulations"] = json!(f.modulations);
                fields["protocols"] = json!(f.protocols);
                fields["pstn_access"] = json!(f.pstn_access);
                fields["pcm_modem_availability"] = json!(f.pcm_modem_availability);
                if !f.unknown.is_empty() {
                    fields["unknown_octets"] = json!(hex(&f.unknown));
                }
            }
            io.emit(kind, fields);
        }
    }
}

impl Block for DeframerBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0].available();
        for &b in io.inputs[0].items::<u8>() {
            self.deframer.push(b, &mut self.found);
        }
        io.inputs[0].consume(n);
        if io.inputs[0].finished() {
            self.deframer.flush(&mut self.found);
            self.report(io);
            return Ok(Status::Done);
        }
        self.report(io);
        Ok(Status::Ok)
    }
}

pub fn spec() -> BlockSpec {
    let fields: &[(&str, &str)] = &[
        ("t", "start of the sequence (its first preamble bit; CJ: its first start bit): bit index / baud, in seconds; with `idle: mark` on the fsk_demodulator upstream, seconds since the start of the audio"),
        ("octets", "information octets after the sync, upper-case hex"),
        ("accepted", "identical to the previous reception, as V.8 requires"),
        ("call_function", "CI/CM/JM: V.8 Table 2"),
        ("modulations", "CM/JM: v34, v34hdx, v90, v32bis, v22bis, v17, v29hdx, v27ter, v26ter, v26bis, v23, v23hdx, v21"),
        ("protocols", "lapm, …"),
        ("pstn_access", "V.8 Table 6 bits"),
        ("pcm_modem_availability", "v90_v92_analogue, v90_v92_digital, v91"),
    ];
    BlockSpec::new(
        "v8_deframer",
        "V.8",
        "Reads CI, CM, JM, CJ and V.92 sequences from V.21 bits",
        DeframerBlock::make,
    )
    .doc(
        "Finds V.8 sequences (ten ones, a sync octet, start/stop framed octets; V.8 §5) in a received bit \
         stream, parses their category octets (V.8 Tables 2–7) and emits one event per sequence. A CM or JM \
         identical to the one before it is marked accepted. CJ (three zero octets after a CM, V.8 §7.4) is \
         reported as `cj`. Channel 1 (V.21 low) carries CI, CM and CJ; channel 2 (V.21 high) carries JM. \
         Event times `t` are bit positions divided by `baud`: fed by an `fsk_demodulator` with `idle: mark` \
         (one bit per bit period, bit k for the period starting k/baud seconds into the audio), `t` is the \
         audio time of the sequence's first preamble bit, within a bit period or so; with `idle: none` the bit \
         stream has gaps while carrier is off and `t` only counts the bits received.",
    )
    .param(ParamSpec::int("channel", "V.21 channel the bits came from").default(1).allowed(&[1, 2]))
    .param(ParamSpec::float("baud", "Bit rate, for event times").default(300.0).range(1.0, 100_000.0).unit("bit/s"))
    .input(PortSpec::new("in", ItemType::Bit, "Received bits").rate(Rate::Varies))
    .event(EventSpec::new("ci", "A CI sequence", fields))
    .event(EventSpec::new("cm", "A CM sequence (channel 1)", fields))
    .event(EventSpec::new("jm", "A JM sequence (channel 2)", fields))
    .event(EventSpec::new("cj", "CJ: three zero octets ending the negotiation", &fields[..3]))
    .event(EventSpec::new("v92", "A V.92 sequence (sync 0x55)", &fields[..3]))
}
