//! Speed of the whole V.8 detector (answer-tone detector, two V.21
//! demodulators, two deframers) on a real recording, in the fused scheduler.
//!
//! `cargo bench -p modemflow-tests --bench v8_detector`; real-time factor =
//! items/s ÷ 8000.

use modemflow_flow::{load_str, run_to_end, RunOptions};
use modemflow_tests::{root, test_registry};

const SECONDS: usize = 60;

fn main() {
    divan::main();
}

#[divan::bench]
fn v8_detector_60_s_of_a_real_call(b: divan::Bencher) {
    let rec = root().join("tests/data/recordings/v90-USR-Sportster-bong-bong.wav");
    let yaml = format!(
        "blocks:\n  - {{id: src, type: wav_source, params: {{path: '{}', channel: 1, repeat: true}}}}\n  - {{id: lim, type: head, params: {{count: {}}}}}\n  - {{id: pcm, type: i16_to_f32}}\n  - {{id: v8, type: v8_detector.yaml}}\nconnections:\n  - src.out -> lim.in\n  - lim.out -> pcm.in\n  - pcm.out -> v8.in\n",
        rec.display(),
        SECONDS * 8000
    );
    let g = load_str(
        &yaml,
        "bench.yaml",
        &root().join("graphs"),
        &test_registry(),
        &[],
    )
    .expect("graph");
    b.counter(divan::counter::ItemsCount::new(SECONDS * 8000))
        .bench_local(|| run_to_end(&g, &RunOptions::default()).expect("run"));
}
