//! ITU-T V.34's data pump (V.34 §7–9; modem-standards.md §4), one concept
//! per file, each stage a block of its own.
//!
//! Transmitter: `scrambler` → [`framer`] (`v34_framer`) → [`shell`]
//! (`shell_mapper`) → [`mapper`] (`v34_mapper`) → [`trellis`]
//! (`trellis_encoder`, with the [`precoder`]'s filter in its loop) →
//! [`precoder`] → [`nonlinear`] → [`training`] (`v34_train`) →
//! [`modulator`] (`qam_modulator`).
//!
//! Receiver: [`demodulator`] (`qam_demodulator`, with its [`equalizer`]) →
//! [`viterbi`] (`viterbi_decoder`) → `precoder` (receive) → `v34_demapper` →
//! `shell_demapper` → `v34_deframer` → `descrambler`.

pub mod acs16;
pub mod constellation;
pub mod demodulator;
pub mod equalizer;
pub mod frame;
pub mod framer;
pub mod mapper;
pub mod modulator;
pub mod nonlinear;
pub mod params;
pub mod precoder;
pub mod preemphasis;
pub mod rates;
pub mod scrambler;
pub mod shell;
pub mod training;
pub mod trellis;
pub mod viterbi;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    scrambler::register(r);
    framer::register(r);
    shell::register(r);
    mapper::register(r);
    trellis::register(r);
    precoder::register(r);
    nonlinear::register(r);
    training::register(r);
    modulator::register(r);
    demodulator::register(r);
    viterbi::register(r);
}
