//! Models of the telephone channel.

pub mod analog_loop;
pub mod awgn;
pub mod digital_network;
pub mod line_codec;
pub mod two_wire;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    awgn::register(r);
    two_wire::register(r);
    digital_network::register(r);
    line_codec::register(r);
    analog_loop::register(r);
}
