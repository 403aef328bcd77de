//! Speed of the whole V.90 downstream loopback in the fused scheduler:
//! graphs/v90_downstream.yaml at 56 000 bit/s over the mild loop (PRBS
//! source, encoder, TRN1d, digital network, D/A, loop with noise, trained
//! equalizer, decoder, BER count), 300 s of signal per iteration (the training, about 1 % of the work, included).
//!
//! `cargo bench -p modemflow-tests --bench v90_loopback`; real-time factor =
//! symbols/s ÷ 8000.

use modemflow_flow::{load_str, run_to_end, RunOptions};
use modemflow_tests::{root, test_registry};

const SECONDS: usize = 300;

fn main() {
    divan::main();
}

#[divan::bench]
fn v90_downstream_56000_300_s(b: divan::Bencher) {
    let path = root().join("graphs/v90_downstream.yaml");
    let text = std::fs::read_to_string(&path).expect("graph");
    let set = [
        ("seconds".to_string(), SECONDS.to_string()),
        ("noise_dbm0".to_string(), "-80".to_string()),
    ];
    let g = load_str(
        &text,
        "v90_downstream.yaml",
        &root().join("graphs"),
        &test_registry(),
        &set,
    )
    .expect("graph");
    // The training (6000 symbols) and guard come on top of the data symbols.
    b.counter(divan::counter::ItemsCount::new(SECONDS * 8000))
        .bench_local(|| {
            let ev = run_to_end(&g, &RunOptions::default()).expect("run");
            assert!(ev
                .iter()
                .any(|e| e.kind == "ber" && e.fields["errors"] == 0));
        });
}
