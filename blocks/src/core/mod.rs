//! Sources, sinks and stream utilities that every graph uses.

pub mod ber;
pub mod bit_error;
pub mod convert;
pub mod fir;
pub mod interp;
pub mod level;
pub mod prbs;
pub mod simd;
pub mod stream;
pub mod tone;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    stream::register(r);
    prbs::register(r);
    ber::register(r);
    bit_error::register(r);
    convert::register(r);
    fir::register(r);
    tone::register(r);
}
