//! V.8 start-up: answer tones, the V.21 FSK modulator and demodulator for the
//! V.8 call (channel 1: CI, CM, CJ) and answer (channel 2: JM) signals, the
//! V.8 message framer, deframer and parser, the capabilities a CM or JM
//! carries, and the negotiator that runs the procedure as caller or answerer.

pub mod answer_tone;
pub mod answer_tone_detector;
pub mod capabilities;
pub mod deframer;
pub mod framer;
pub mod fsk;
pub mod fsk_rx;
pub mod fsk_tx;
pub mod message;
pub mod negotiator;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    fsk_tx::register(r);
    fsk_rx::register(r);
    r.register(answer_tone::spec());
    r.register(answer_tone_detector::spec());
    r.register(framer::spec());
    r.register(deframer::spec());
    r.register(negotiator::spec());
}
