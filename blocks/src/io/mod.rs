//! Reading and writing audio files.

pub mod resample;
pub mod wav;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    wav::register(r);
}
