//! ITU-T G.711 PCM companding (`g711_encode`, `g711_decode`).

pub mod blocks;
pub mod law;

use modemflow_flow::Registry;

pub fn register(r: &mut Registry) {
    blocks::register(r);
}
