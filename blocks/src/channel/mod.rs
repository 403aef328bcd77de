//! Models of the telephone channel.

pub mod awgn;
pub mod two_wire;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    awgn::register(r);
    two_wire::register(r);
}
