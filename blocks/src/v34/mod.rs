//! ITU-T V.34 building blocks.

pub mod scrambler;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    scrambler::register(r);
}
