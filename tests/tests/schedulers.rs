//! Both schedulers run the same graphs to the same results; end of stream,
//! feedback through a delay, probes and live parameters all work.

use modemflow_flow::{load_str, run_to_end, start, Event, RunOptions, Scheduler, Value};
use modemflow_tests::{recorded, root, test_registry, MIXED_GRAPH};
use std::path::Path;
use std::time::Duration;

fn opts(s: Scheduler, chunk: usize) -> RunOptions {
    RunOptions {
        scheduler: s,
        chunk,
        ..RunOptions::default()
    }
}

fn ber_of(events: &[Event]) -> (u64, u64) {
    let e = events
        .iter()
        .find(|e| e.kind == "ber")
        .expect("a ber event");
    (
        e.fields["bits"].as_u64().unwrap(),
        e.fields["errors"].as_u64().unwrap(),
    )
}

#[test]
fn fused_and_threaded_give_identical_results_at_any_chunk_size() {
    let reg = test_registry();
    let mut reference: Option<(Vec<f64>, (u64, u64))> = None;
    for (k, (sched, chunk)) in [
        (Scheduler::Fused, 4096),
        (Scheduler::Threaded, 4096),
        (Scheduler::Fused, 1),
        (Scheduler::Threaded, 7),
        (Scheduler::Fused, 333),
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("sched{k}");
        let g = load_str(
            MIXED_GRAPH,
            "t.yaml",
            Path::new("."),
            &reg,
            &[("key".into(), key.clone())],
        )
        .unwrap();
        let ev = run_to_end(&g, &opts(sched, chunk)).unwrap();
        let got = (recorded(&key), ber_of(&ev));
        assert_eq!(got.0.len(), 20000);
        assert!(got.1 .1 > 0, "bit_error must cause errors");
        match &reference {
            None => reference = Some(got),
            Some(r) => assert!(r == &got, "{sched:?} chunk {chunk} differs"),
        }
    }
}

#[test]
fn shipped_scrambler_graph_runs_clean_on_both_schedulers() {
    let reg = test_registry();
    let path = root().join("graphs/scrambler_ber.yaml");
    for s in [Scheduler::Fused, Scheduler::Threaded] {
        let g = modemflow_flow::load_file(&path, &reg, &[("seconds".into(), "1".into())]).unwrap();
        let ev = run_to_end(&g, &opts(s, 4096)).unwrap();
        let (bits, errors) = ber_of(&ev);
        assert!(bits > 7900, "{bits}");
        assert_eq!(errors, 0);
    }
}

#[test]
fn feedback_through_a_delay_works_in_both_schedulers() {
    // y[n] = x[n] + y[n-3]: an accumulator over every third sample.
    let yaml = "\
variables: {key: k}
blocks:
  - {id: tone, type: tone_source, params: {frequency: 1000, level: -20}}
  - {id: limit, type: head, params: {count: 5000}}
  - {id: add, type: add_f32}
  - {id: z, type: delay, params: {samples: 3}}
  - {id: rec, type: record, params: {key: key}}
  - {id: x, type: record, params: {key: xkey}}
  - {id: tone2, type: tone_source, params: {frequency: 1000, level: -20}}
  - {id: limit2, type: head, params: {count: 5000}}
connections:
  - tone.out -> limit.in
  - limit.out -> add.a
  - z.out -> add.b
  - add.out -> z.in
  - add.out -> rec.in
  - tone2.out -> limit2.in
  - limit2.out -> x.in
";
    let reg = test_registry();
    for (k, s) in [Scheduler::Fused, Scheduler::Threaded]
        .into_iter()
        .enumerate()
    {
        let key = format!("loop{k}");
        let y = yaml.replace("xkey", &format!("x{key}"));
        let g = load_str(
            &y,
            "t.yaml",
            Path::new("."),
            &reg,
            &[("key".into(), key.clone())],
        )
        .unwrap();
        run_to_end(&g, &opts(s, 64)).unwrap();
        let out = recorded(&key);
        let x = recorded(&format!("x{key}"));
        assert_eq!(out.len(), 5000, "{s:?}");
        let mut want = vec![0f32; 5000];
        for n in 0..5000 {
            want[n] = x[n] as f32 + if n >= 3 { want[n - 3] } else { 0.0 };
        }
        for n in 0..5000 {
            assert!((out[n] as f32 - want[n]).abs() < 1e-3, "{s:?} n={n}");
        }
    }
}

#[test]
fn a_block_error_names_the_block() {
    let yaml = "\
blocks:
  - {id: src, type: wav_source, params: {path: /nonexistent/x.wav}}
  - {id: sink, type: null_sink}
connections:
  - src.out -> sink.in
";
    let g = load_str(yaml, "t.yaml", Path::new("."), &test_registry(), &[]).unwrap();
    let e = g.instantiate().err().expect("missing file is an error");
    assert!(e.0[0].message.contains("src"), "{e}");
    assert_eq!(e.0[0].line, 2);
}

#[test]
fn probes_see_data_and_live_parameters_change_a_running_graph() {
    let yaml = "\
blocks:
  - {id: tone, type: tone_source, params: {frequency: 1000, level: -10}}
  - {id: pace, type: throttle, params: {rate: 200000}}
  - {id: noise, type: awgn, params: {level: -100, seed: 1}}
  - {id: sink, type: null_sink}
connections:
  - tone.out -> pace.in
  - pace.out -> noise.in
  - noise.out -> sink.in
";
    let g = load_str(yaml, "t.yaml", Path::new("."), &test_registry(), &[]).unwrap();
    let blocks = g.instantiate().unwrap();
    let run = start(&g, blocks, &opts(Scheduler::Threaded, 256));
    let probe = run.probe("noise.out", 64).unwrap();
    assert!(run.probe("noise.nope", 4).is_err());
    let power = |probe: &modemflow_flow::Probe| -> f64 {
        // Skip chunks already queued, then average a fresh stretch.
        while probe.rx.try_recv().is_ok() {}
        let mut acc = 0.0;
        let mut n = 0usize;
        while n < 8000 {
            let c = probe
                .rx
                .recv_timeout(Duration::from_secs(5))
                .expect("probe data");
            for v in c.to_f64() {
                acc += v * v;
                n += 1;
            }
        }
        acc / n as f64
    };
    let p_tone = power(&probe);
    let ctl = run.controller();
    assert!(
        ctl.set("tone", "phase", Value::Float(1.0)).is_err(),
        "phase is not live"
    );
    assert!(
        ctl.set("noise", "level", Value::Float(99.0)).is_err(),
        "out of range"
    );
    ctl.set("tone", "level", Value::Float(-40.0)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let p_quiet = power(&probe);
    let ratio_db = 10.0 * (p_tone / p_quiet).log10();
    assert!(
        (ratio_db - 30.0).abs() < 1.0,
        "level change seen by the probe: {ratio_db} dB"
    );
    run.stop();
    run.wait().unwrap();
}

#[test]
fn a_slow_probe_drops_and_counts_without_slowing_the_graph() {
    let yaml = "\
blocks:
  - {id: tone, type: tone_source}
  - {id: limit, type: head, params: {count: 2000000}}
  - {id: sink, type: null_sink}
connections:
  - tone.out -> limit.in
  - limit.out -> sink.in
";
    let g = load_str(yaml, "t.yaml", Path::new("."), &test_registry(), &[]).unwrap();
    let run = start(
        &g,
        g.instantiate().unwrap(),
        &opts(Scheduler::Threaded, 1024),
    );
    let probe = run.probe("limit.out", 2).unwrap();
    run.wait().unwrap();
    // Never read: at most 2 chunks were kept, the rest were dropped and counted.
    let kept = probe.rx.try_iter().count() as u64;
    assert!(kept <= 2);
    assert!(kept + probe.dropped() >= 1);
    assert!(probe.dropped() > 0);
}

#[test]
fn stop_ends_an_endless_graph_and_flushes_the_wav_sink() {
    let dir = std::env::temp_dir().join(format!("mf-stop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("out.wav");
    let yaml = format!(
        "\
blocks:
  - {{id: tone, type: tone_source}}
  - {{id: pace, type: throttle, params: {{rate: 80000}}}}
  - {{id: pcm, type: f32_to_i16}}
  - {{id: wav, type: wav_sink, params: {{path: '{}'}}}}
connections:
  - tone.out -> pace.in
  - pace.out -> pcm.in
  - pcm.out -> wav.in
",
        wav.display()
    );
    for s in [Scheduler::Fused, Scheduler::Threaded] {
        let g = load_str(&yaml, "t.yaml", Path::new("."), &test_registry(), &[]).unwrap();
        let run = start(&g, g.instantiate().unwrap(), &opts(s, 512));
        std::thread::sleep(Duration::from_millis(300));
        run.stop();
        run.wait().unwrap();
        let r = hound::WavReader::open(&wav).expect("a valid WAV after stop");
        assert!(r.len() > 1000, "{s:?}: {} samples", r.len());
    }
}

/// A block whose consumers have all finished stops on both schedulers even
/// when it never sends on one of its outputs again: here the modulus
/// encoder's `cp_out`, which carries nothing at a fixed rate, feeds the
/// mapper; once `head` has what it wants and the mapper and shaper are done,
/// the encoder and the endless PRBS source behind it must stop too. (The
/// threaded scheduler used to learn of a finished consumer only by sending
/// to it, and spun forever.)
#[test]
fn a_producer_stops_when_every_consumer_is_done_even_if_it_never_sends() {
    let graph = format!(
        "blocks:\n  - {{id: src, type: prbs_source}}\n  - {{id: enc, type: '{}', params: {{rate: 40000}}}}\n  - {{id: cut, type: head, params: {{count: 6000}}}}\n  - {{id: sink, type: null_sink}}\nconnections:\n  - src.out -> enc.in\n  - enc.out -> cut.in\n  - cut.out -> sink.in\n",
        root().join("graphs/v90_encoder.yaml").display()
    );
    let g = load_str(&graph, "g.yaml", Path::new("."), &test_registry(), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    for s in [Scheduler::Fused, Scheduler::Threaded] {
        let (tx, rx) = std::sync::mpsc::channel();
        let g = g.clone();
        std::thread::spawn(move || {
            let _ = tx.send(run_to_end(&g, &opts(s, 4096)).map(|_| ()));
        });
        let done = rx.recv_timeout(Duration::from_secs(60));
        assert!(matches!(done, Ok(Ok(()))), "{s:?}: {done:?}");
    }
}

/// An optional output is wanted only while something reads it: unconnected
/// it may be skipped, connected it gets everything, and a probe attached to
/// it while the graph runs makes it wanted from then on.
#[test]
fn an_output_nobody_reads_is_not_wanted_until_a_probe_attaches() {
    let copies = |ev: &[Event]| {
        let e = ev
            .iter()
            .find(|e| e.kind == "copies")
            .expect("copies event");
        (
            e.fields["copied"].as_u64().unwrap(),
            e.fields["skipped"].as_u64().unwrap(),
        )
    };
    let alone = "\
blocks:
  - {id: src, type: counter_f32}
  - {id: limit, type: head, params: {count: 50000}}
  - {id: c, type: wanted_copy}
  - {id: sink, type: null_sink}
connections:
  - src.out -> limit.in
  - limit.out -> c.in
  - c.out -> sink.in
";
    let read = format!("{alone}  - c.copy -> rec.in\n").replace(
        "  - {id: sink, type: null_sink}\n",
        "  - {id: sink, type: null_sink}\n  - {id: rec, type: record, params: {key: key}}\n",
    );
    let reg = test_registry();
    for sched in [Scheduler::Fused, Scheduler::Threaded] {
        let g = load_str(alone, "t.yaml", Path::new("."), &reg, &[]).unwrap();
        let ev = run_to_end(&g, &opts(sched, 1000)).unwrap();
        assert_eq!(copies(&ev), (0, 50000), "{sched:?} unconnected");
        let key = format!("wanted-{sched:?}");
        let g = load_str(
            &read.replace("{key: key}", &format!("{{key: {key}}}")),
            "t.yaml",
            Path::new("."),
            &reg,
            &[],
        )
        .unwrap();
        let ev = run_to_end(&g, &opts(sched, 1000)).unwrap();
        assert_eq!(copies(&ev), (50000, 0), "{sched:?} connected");
        assert_eq!(
            recorded(&key),
            (0..50000).map(f64::from).collect::<Vec<_>>()
        );
    }
    // A probe on the unconnected copy, attached to a paced, endless graph.
    let paced = "\
blocks:
  - {id: src, type: counter_f32}
  - {id: pace, type: throttle, params: {rate: 100000}}
  - {id: c, type: wanted_copy}
  - {id: sink, type: null_sink}
connections:
  - src.out -> pace.in
  - pace.out -> c.in
  - c.out -> sink.in
";
    let g = load_str(paced, "t.yaml", Path::new("."), &reg, &[]).unwrap();
    let run = start(
        &g,
        g.instantiate().unwrap(),
        &opts(Scheduler::Threaded, 256),
    );
    std::thread::sleep(Duration::from_millis(100));
    let probe = run.probe("c.copy", 64).unwrap();
    let first = probe
        .rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the copy flows once probed")
        .to_f64();
    // Consecutive counts, starting after what went by unprobed.
    assert!(first[0] > 0.0, "{:?}", &first[..4]);
    assert!(first.windows(2).all(|w| w[1] == w[0] + 1.0));
    let events = run.events().clone();
    run.stop();
    run.wait().unwrap();
    let ev: Vec<Event> = events.try_iter().collect();
    let (copied, skipped) = copies(&ev);
    assert!(
        copied > 0 && skipped > 0,
        "copied {copied}, skipped {skipped}"
    );
    assert!(
        skipped <= first[0] as u64,
        "skipped {skipped} before item {}",
        first[0]
    );
}
