//! Models of the telephone channel.

pub mod awgn;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    awgn::register(r);
}
