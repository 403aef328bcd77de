//! Framework overhead: 10 f32 copy blocks between a source and a sink, through
//! each scheduler, against the same work as a plain Rust loop.
//!
//! `cargo bench -p modemflow-tests --bench overhead`

use modemflow_flow::{load_str, run_to_end, RunOptions, Scheduler};
use modemflow_tests::test_registry;
use std::path::Path;

const ITEMS: usize = 1 << 22;
const CHUNKS: [usize; 8] = [64, 128, 256, 512, 1024, 2048, 4096, 8192];

fn main() {
    divan::main();
}

fn graph() -> modemflow_flow::Flowgraph {
    let mut yaml = String::from(
        "blocks:\n  - {id: src, type: counter_f32}\n  - {id: lim, type: head, params: {count: ",
    );
    yaml.push_str(&ITEMS.to_string());
    yaml.push_str("}}\n");
    for i in 0..10 {
        yaml.push_str(&format!("  - {{id: c{i}, type: copy}}\n"));
    }
    yaml.push_str("  - {id: sink, type: null_sink}\nconnections:\n  - src.out -> lim.in\n  - lim.out -> c0.in\n");
    for i in 0..9 {
        yaml.push_str(&format!("  - c{i}.out -> c{}.in\n", i + 1));
    }
    yaml.push_str("  - c9.out -> sink.in\n");
    load_str(&yaml, "bench.yaml", Path::new("."), &test_registry(), &[]).expect("bench graph")
}

/// The same work without the framework: generate, copy ten times, consume.
#[divan::bench(args = CHUNKS)]
fn plain_loop(b: divan::Bencher, chunk: usize) {
    let mut bufs: Vec<Vec<f32>> = (0..11).map(|_| vec![0.0; chunk]).collect();
    b.counter(divan::counter::ItemsCount::new(ITEMS))
        .bench_local(|| {
            let mut n = 0usize;
            let mut acc = 0f32;
            while n < ITEMS {
                let m = chunk.min(ITEMS - n);
                for (k, x) in bufs[0][..m].iter_mut().enumerate() {
                    *x = (n + k) as f32;
                }
                for s in 0..10 {
                    let (a, b) = bufs.split_at_mut(s + 1);
                    b[0][..m].copy_from_slice(&a[s][..m]);
                }
                acc += bufs[10][m - 1];
                n += m;
            }
            divan::black_box(acc)
        });
}

#[divan::bench(args = CHUNKS)]
fn fused(b: divan::Bencher, chunk: usize) {
    let g = graph();
    let o = RunOptions {
        scheduler: Scheduler::Fused,
        chunk,
        ..RunOptions::default()
    };
    b.counter(divan::counter::ItemsCount::new(ITEMS))
        .bench_local(|| run_to_end(&g, &o).expect("run"));
}

#[divan::bench(args = CHUNKS)]
fn threaded(b: divan::Bencher, chunk: usize) {
    let g = graph();
    let o = RunOptions {
        scheduler: Scheduler::Threaded,
        chunk,
        ..RunOptions::default()
    };
    b.counter(divan::counter::ItemsCount::new(ITEMS))
        .bench_local(|| run_to_end(&g, &o).expect("run"));
}
