//! modemflow's blocks: DSP kernels (plain structs, no runtime types) and the
//! thin block adapters that put them on streams, grouped by standard.

pub mod core;

use modemflow_flow::Registry;

/// Every block type this crate provides.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    core::register(&mut r);
    r
}
