//! The same flowgraph gives the same results on FutureSDR as on modemflow's
//! fused scheduler.

use modemflow_flow::{load_str, run_to_end, Event, Flowgraph, RunOptions};
use modemflow_futuresdr::BackendError;
use modemflow_tests::{recorded, root, test_registry, MIXED_GRAPH};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

fn ber(ev: &[Event]) -> serde_json::Value {
    ev.iter()
        .find(|e| e.kind == "ber")
        .expect("ber event")
        .to_json()
}

/// Runs a graph on FutureSDR, failing the test instead of hanging it when the
/// run does not end.
fn run_fsdr(g: Flowgraph, what: &str) -> Result<Vec<Event>, BackendError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let blocks = g.instantiate().unwrap_or_else(|d| panic!("{d}"));
        let _ = tx.send(modemflow_futuresdr::run(&g, blocks));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(r) => r,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not end within 60 s on FutureSDR"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked on FutureSDR"),
    }
}

#[test]
fn futuresdr_matches_the_fused_scheduler() {
    let reg = test_registry();
    let g = load_str(
        MIXED_GRAPH,
        "t.yaml",
        Path::new("."),
        &reg,
        &[("key".into(), "fused".into())],
    )
    .unwrap();
    let fused = run_to_end(&g, &RunOptions::default()).unwrap();
    let g2 = load_str(
        MIXED_GRAPH,
        "t.yaml",
        Path::new("."),
        &reg,
        &[("key".into(), "fsdr".into())],
    )
    .unwrap();
    let fsdr = run_fsdr(g2, "the mixed graph").unwrap();
    assert_eq!(recorded("fused").len(), 20000);
    assert_eq!(recorded("fused"), recorded("fsdr"));
    assert_eq!(ber(&fused), ber(&fsdr));
    assert!(ber(&fsdr)["errors"].as_u64().unwrap() > 0);
}

#[test]
fn shipped_graph_and_feedback_loop_run_on_futuresdr() {
    let reg = test_registry();
    let g = modemflow_flow::load_file(
        &root().join("graphs/scrambler_ber.yaml"),
        &reg,
        &[("seconds".into(), "1".into())],
    )
    .unwrap();
    let ev = run_fsdr(g, "scrambler_ber").unwrap();
    assert_eq!(ber(&ev)["errors"], 0);

    let looped = "\
blocks:
  - {id: tone, type: tone_source, params: {frequency: 1000, level: -20}}
  - {id: limit, type: head, params: {count: 3000}}
  - {id: add, type: add_f32}
  - {id: z, type: delay, params: {samples: 3}}
  - {id: rec, type: record, params: {key: loopf}}
connections:
  - tone.out -> limit.in
  - limit.out -> add.a
  - z.out -> add.b
  - add.out -> z.in
  - add.out -> rec.in
";
    let g = load_str(looped, "t.yaml", Path::new("."), &reg, &[]).unwrap();
    run_fsdr(g, "the feedback loop").unwrap();
    assert_eq!(recorded("loopf").len(), 3000);
}

/// FutureSDR 0.0.40 lets a block work before the blocks after it are
/// initialised; one that finished in that window used to leave the graph
/// hanging (about one run of this file in thirty on a 2-core machine). The
/// adapter now holds every block until all are initialised. The window is a
/// matter of thread timing, so this runs a short graph many times.
#[test]
fn a_short_graph_ends_every_time() {
    let reg = test_registry();
    for run in 0..100 {
        let g = modemflow_flow::load_file(
            &root().join("graphs/scrambler_ber.yaml"),
            &reg,
            &[("seconds".into(), "1".into())],
        )
        .unwrap();
        let ev = run_fsdr(g, &format!("scrambler_ber run {run}")).unwrap();
        assert_eq!(ber(&ev)["errors"], 0, "run {run}");
    }
}

#[test]
fn a_block_error_names_the_block() {
    let reg = test_registry();
    let dir = std::env::temp_dir().join(format!("mf-fsdr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A sink that cannot create its file fails when it starts writing.
    let yaml = format!(
        "blocks:\n  - {{id: tone, type: tone_source}}\n  - {{id: lim, type: head, params: {{count: 100}}}}\n  - {{id: pcm, type: f32_to_i16}}\n  - {{id: wav, type: wav_sink, params: {{path: '{}/no/such/dir/x.wav'}}}}\nconnections:\n  - tone.out -> lim.in\n  - lim.out -> pcm.in\n  - pcm.out -> wav.in\n",
        dir.display()
    );
    let g = load_str(&yaml, "t.yaml", Path::new("."), &reg, &[]).unwrap();
    match g.instantiate() {
        Err(d) => assert!(d.to_string().contains("wav")),
        Ok(_) => {
            let e = run_fsdr(g, "the failing graph").unwrap_err();
            assert_eq!(e.block, "wav");
        }
    }
}
