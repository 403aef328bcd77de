//! modemflow's G.711 kernel against libspandsp, both ways, for every input.

#[test]
fn spandsp_is_linked_or_the_checks_are_skipped() {
    if !modemflow_spandsp::AVAILABLE {
        eprintln!("libspandsp not installed: G.711 cross-checks skipped (apt-get install libspandsp-dev pkg-config)");
    }
}

#[cfg(spandsp)]
mod with_spandsp {
    use modemflow_blocks::g711::law::{Law, G711};
    use modemflow_spandsp::g711 as sp;

    fn both() -> [(Law, sp::Law); 2] {
        [(Law::Mu, sp::Law::Mu), (Law::A, sp::Law::A)]
    }

    #[test]
    fn encode_equals_spandsp_for_all_65536_inputs() {
        let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        for (ours, theirs) in both() {
            let mut got = vec![0u8; all.len()];
            G711::new(ours).encode(&all, &mut got);
            assert_eq!(got, sp::encode(theirs, &all), "{ours:?}");
        }
    }

    #[test]
    fn decode_equals_spandsp_for_all_256_codes() {
        let codes: Vec<u8> = (0..=255).collect();
        for (ours, theirs) in both() {
            let mut got = vec![0i16; 256];
            G711::new(ours).decode(&codes, &mut got);
            assert_eq!(got, sp::decode(theirs, &codes), "{ours:?}");
        }
    }

    #[test]
    fn our_codewords_decode_in_spandsp_and_its_codewords_in_ours() {
        // Two-way: each side decodes what the other encoded, to the same samples.
        let samples: Vec<i16> = (0..20000)
            .map(|n| ((n as f64 * 0.37).sin() * 30000.0 * (n as f64 / 20000.0)) as i16)
            .collect();
        for (ours, theirs) in both() {
            let k = G711::new(ours);
            let mut our_codes = vec![0u8; samples.len()];
            k.encode(&samples, &mut our_codes);
            let their_codes = sp::encode(theirs, &samples);
            let mut ours_of_theirs = vec![0i16; samples.len()];
            k.decode(&their_codes, &mut ours_of_theirs);
            assert_eq!(sp::decode(theirs, &our_codes), ours_of_theirs, "{ours:?}");
        }
    }
}
