//! Sources, sinks and stream utilities that every graph uses.

pub mod stream;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    stream::register(r);
}
