//! modemflow's blocks: DSP kernels (plain structs, no runtime types) and the
//! thin block adapters that put them on streams, grouped by standard.

pub mod channel;
pub mod core;
pub mod g711;
pub mod io;
pub mod v34;

#[cfg(test)]
pub(crate) mod testutil;

use modemflow_flow::Registry;

/// Every block type this crate provides.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    core::register(&mut r);
    g711::register(&mut r);
    v34::register(&mut r);
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
            "ber_sink",
            "scrambler",
            "descrambler",
            "g711_encode",
            "g711_decode",
            "bit_error",
            "awgn",
            "tone_source",
            "fir_filter",
            "i16_to_f32",
            "f32_to_i16",
            "wav_source",
            "wav_sink",
        ] {
            let s = r
                .get(name)
                .unwrap_or_else(|| panic!("{name} not registered"));
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
