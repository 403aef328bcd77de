//! Speed of the V.34 data pump at 33 600 bit/s, 3429 baud, 16-state code,
//! fused scheduler, one core:
//!
//! - `link`: the whole graphs/v34_link.yaml (PRBS source, transmitter
//!   subgraph, mild loop with noise at −80 dBm0, receiver subgraph with the
//!   Viterbi decoder, BER count);
//! - `receiver`: graphs/v34_receiver.yaml alone (demodulator, Viterbi
//!   decoder, precoder, demapper, shell demapper, deframer, descrambler) and
//!   the BER count, on the same line signal made once beforehand;
//!
//! each over `SECONDS` of data plus the training before it. Both count line
//! samples, so the real-time factor is samples/s ÷ 8000.
//!
//! `cargo bench -p modemflow-tests --bench v34_link`

use modemflow_flow::{load_str, run_to_end, Flowgraph, RunOptions};
use modemflow_tests::{recorded, root, test_registry};

const SECONDS: &str = "120.12";

fn main() {
    divan::main();
}

fn link_graph(text: &str) -> Flowgraph {
    let set = [("seconds".to_string(), SECONDS.to_string())];
    load_str(
        text,
        "v34_link.yaml",
        &root().join("graphs"),
        &test_registry(),
        &set,
    )
    .expect("graph")
}

/// The link graph with the line's output recorded instead of received:
/// the receiver bench's input, and the number of line samples.
fn line_samples() -> usize {
    let text = std::fs::read_to_string(root().join("graphs/v34_link.yaml")).expect("graph");
    let start = text.find("  - id: receiver").expect("receiver block");
    let mut t = String::new();
    t.push_str(&text[..start]);
    t.push_str("  - {id: rec, type: record, params: {key: v34_line}}\n");
    t.push_str(
        "connections:\n  - source.out -> length.in\n  - length.out -> transmitter.in\n  \
         - transmitter.out -> line.in\n  - line.out -> rec.in\n",
    );
    run_to_end(&link_graph(&t), &RunOptions::default()).expect("run");
    recorded("v34_line").len()
}

const RECEIVER: &str = "\
blocks:
  - {id: line, type: replay_f32, params: {key: v34_line}}
  - {id: receiver, type: v34_receiver.yaml}
  - {id: ber, type: ber_sink, params: {order: 23}}
connections:
  - line.out -> receiver.in
  - receiver.out -> ber.in
";

fn clean(events: &[modemflow_flow::Event]) -> bool {
    events
        .iter()
        .any(|e| e.kind == "ber" && e.fields["errors"] == 0 && e.fields["bits"].as_u64() > Some(0))
}

#[divan::bench(sample_count = 10)]
fn link(b: divan::Bencher) {
    let samples = line_samples();
    let text = std::fs::read_to_string(root().join("graphs/v34_link.yaml")).expect("graph");
    let g = link_graph(&text);
    b.counter(divan::counter::ItemsCount::new(samples))
        .bench_local(|| {
            let ev = run_to_end(&g, &RunOptions::default()).expect("run");
            assert!(clean(&ev));
        });
}

#[divan::bench(sample_count = 10)]
fn receiver(b: divan::Bencher) {
    let samples = line_samples();
    let g = load_str(
        RECEIVER,
        "receiver.yaml",
        &root().join("graphs"),
        &test_registry(),
        &[],
    )
    .expect("graph");
    b.counter(divan::counter::ItemsCount::new(samples))
        .bench_local(|| {
            let ev = run_to_end(&g, &RunOptions::default()).expect("run");
            assert!(clean(&ev));
        });
}
