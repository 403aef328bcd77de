//! V.8 start-up: V.21 FSK modulator and demodulator for the V.8 call
//! (channel 1: CI, CM, CJ) and answer (channel 2: JM) signals, and the V.8
//! message framer, deframer and parser.

pub mod answer_tone;
pub mod answer_tone_detector;
pub mod deframer;
pub mod framer;
pub mod fsk;
pub mod fsk_rx;
pub mod fsk_tx;
pub mod message;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    fsk_tx::register(r);
    fsk_rx::register(r);
    r.register(answer_tone::spec());
    r.register(answer_tone_detector::spec());
    r.register(framer::spec());
    r.register(deframer::spec());
}
