//! V.90 downstream (V.90 §5; modem-standards.md §1, §5): Ucodes, data rates,
//! constellations, and the digital modem's encoder and the analogue modem's
//! decoder stages.

pub mod constellation;
pub mod cp;
pub mod designer;
pub mod dil;
pub mod equalizer;
pub mod mapper;
pub mod modulus;
pub mod params;
pub mod rates;
pub mod shaper;
pub mod timing;
pub mod training;
pub mod ucode;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    modulus::register(r);
    mapper::register(r);
    shaper::register(r);
    r.register(training::spec());
    r.register(equalizer::spec());
    r.register(dil::analyzer_spec());
    r.register(designer::spec());
}
