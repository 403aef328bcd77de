//! modemflow's blocks: DSP kernels (plain structs, no runtime types) and the
//! thin block adapters that put them on streams, grouped by standard.

pub mod channel;
pub mod core;
pub mod g711;
pub mod io;
pub mod v34;
pub mod v8;
pub mod v90;

#[cfg(test)]
pub(crate) mod testutil;

use modemflow_flow::Registry;

/// Every block type this crate provides.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    core::register(&mut r);
    g711::register(&mut r);
    v34::register(&mut r);
    v8::register(&mut r);
    v90::register(&mut r);
    channel::register(&mut r);
    io::register(&mut r);
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_has_every_block_documented() {
        let r = super::registry();
        for name in [
            "prbs_source",
            "scrambler",
            "g711_encode",
            "wav_source",
            "fsk_demodulator",
            "v8_deframer",
        ] {
            assert!(r.get(name).is_some(), "{name} not registered");
        }
        for s in r.all() {
            let name = s.name;
            assert!(!s.doc.is_empty() && !s.summary.is_empty(), "{name}");
            for p in &s.params {
                assert!(!p.doc.is_empty(), "{name}.{}", p.name);
                if let Some(d) = &p.default {
                    assert_eq!(p.check(d).as_ref(), Ok(d), "{name}.{} default", p.name);
                }
            }
        }
    }
}
