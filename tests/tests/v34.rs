//! The V.34 data pump end to end: graphs/v34_link.yaml and
//! graphs/v90_upstream.yaml carry data without errors across modes, clock
//! offsets, precoding and G.711 networks; bad parameters are refused at
//! their place; and the receiver says when there is no V.34 signal.
//!
//! These run in debug builds in CI, so each run is short (a fraction of a
//! second of data after the training); the long runs behind the figures of
//! docs/link-quality.md are the examples `v34_rate_sweep` and `v34_ber_table`.

use modemflow_flow::{load_file, load_str, run_to_end, Event, RunOptions, Scheduler};
use modemflow_tests::{root, test_registry};

fn owned(set: &[(&str, &str)]) -> Vec<(String, String)> {
    set.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs a shipped graph with overrides; its events.
fn run_graph(file: &str, set: &[(&str, &str)]) -> Vec<Event> {
    let g = load_file(
        &root().join("graphs").join(file),
        &test_registry(),
        &owned(set),
    )
    .unwrap_or_else(|e| panic!("{file} {set:?}:\n{e}"));
    run_to_end(&g, &RunOptions::default()).unwrap_or_else(|e| panic!("{file} {set:?}: {e}"))
}

fn event<'a>(ev: &'a [Event], kind: &str) -> &'a Event {
    ev.iter()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no `{kind}` event in {ev:?}"))
}

/// Bits and errors of the `ber` event.
fn ber(ev: &[Event]) -> (u64, u64) {
    let b = event(ev, "ber");
    (
        b.fields["bits"].as_u64().unwrap(),
        b.fields["errors"].as_u64().unwrap(),
    )
}

/// Bits sent in `superframes` 280 ms superframes at `rate`.
fn sent(rate: u64, superframes: u64) -> u64 {
    rate * 28 / 100 * superframes
}

#[test]
fn link_modes_carry_data_without_errors() {
    for (rate, s, carrier, trellis) in [
        ("33600", "3429", "low", "16"),
        ("31200", "3200", "high", "32"),
        ("28800", "3000", "low", "64"),
        ("26400", "2743", "high", "16"),
        ("24000", "2800", "low", "16"),
        ("14400", "2400", "high", "0"),
        ("2400", "2400", "low", "16"),
    ] {
        let ev = run_graph(
            "v34_link.yaml",
            &[
                ("rate", rate),
                ("symbol_rate", s),
                ("carrier", carrier),
                ("trellis", trellis),
                ("seconds", "0.56"),
            ],
        );
        let (bits, errors) = ber(&ev);
        let want = sent(rate.parse().unwrap(), 2);
        assert_eq!(
            errors, 0,
            "{rate} at {s} baud, {carrier} carrier, trellis {trellis}"
        );
        // Everything but the BER sink's lock-in (order 23 + 64 bits).
        assert!(
            bits + 100 >= want && bits <= want,
            "{rate}/{s}: {bits} of {want}"
        );
        let t = event(&ev, "training");
        assert!(t.fields["snr_db"].as_f64().unwrap() > 40.0, "{t:?}");
        assert_eq!(t.fields["taps"], 32);
    }
}

/// The goal of 33 600 bit/s at 3429 baud on a flat line at SNR ≤ 38 dB,
/// with 2 dB to spare: any loss in the receiver's loops (a timing loop that
/// used a quarter of its estimates cost that much) shows here first.
#[test]
fn full_rate_at_36_db_snr_on_a_flat_line() {
    let ev = run_graph(
        "v34_link.yaml",
        &[("loop", "none"), ("snr_db", "36"), ("seconds", "30.24")],
    );
    let (bits, errors) = ber(&ev);
    assert!(bits > 1_000_000, "{bits}");
    assert_eq!(errors, 0);
}

#[test]
fn far_clock_offsets_of_100_ppm_are_tracked() {
    for ppm in ["100", "-100"] {
        let ev = run_graph("v34_link.yaml", &[("ppm", ppm), ("seconds", "2.8")]);
        assert_eq!(ber(&ev).1, 0, "{ppm} ppm");
        let got = event(&ev, "training").fields["ppm"].as_f64().unwrap();
        // The A/D runs `ppm` fast, so the far clock looks that much slow.
        let want = -ppm.parse::<f64>().unwrap();
        assert!((got - want).abs() < 3.0, "{ppm}: estimated {got}");
        let end = event(&ev, "end");
        assert!(end.fields["snr_db"].as_f64().unwrap() > 40.0, "{end:?}");
    }
}

#[test]
fn precoding_from_the_receivers_noise_predictor() {
    // 3429 baud over the long loop: the band edges the loop cuts make the
    // equalizer's noise coloured. The receiver's noise predictor whitens
    // it, the transmitter's precoder takes its coefficients through the
    // feedback (as MP type 1 carries them), and 21 600 bit/s comes through
    // without errors, where without precoding it does not.
    let run = |precoding: &str| {
        run_graph(
            "v34_link.yaml",
            &[
                ("loop", "long"),
                ("rate", "21600"),
                ("symbol_rate", "3429"),
                ("precoding", precoding),
                ("noise_dbm0", "-50"),
                ("seconds", "2.8"),
            ],
        )
    };
    let with = run("true");
    assert_eq!(ber(&with).1, 0);
    let t = event(&with, "training");
    let h = t.fields["h"].as_array().unwrap();
    assert!(h.iter().any(|v| v.as_f64().unwrap().abs() > 0.1), "{t:?}");
    assert!(
        t.fields["prediction_gain_db"].as_f64().unwrap() > 1.0,
        "{t:?}"
    );
    let without = run("false");
    assert!(ber(&without).1 > 20, "{:?}", ber(&without));
    let snr = |ev: &[Event]| event(ev, "end").fields["snr_db"].as_f64().unwrap();
    assert!(
        snr(&with) > snr(&without) + 1.0,
        "{} vs {}",
        snr(&with),
        snr(&without)
    );
}

#[test]
fn v90_upstream_through_both_laws() {
    for law in ["mu", "a"] {
        for (rate, s) in [("31200", "3200"), ("33600", "3429")] {
            let ev = run_graph(
                "v90_upstream.yaml",
                &[
                    ("law", law),
                    ("rate", rate),
                    ("symbol_rate", s),
                    ("seconds", "0.56"),
                ],
            );
            assert_eq!(ber(&ev).1, 0, "{law} {rate}");
            // G.711's quantisation is what limits it.
            let snr = event(&ev, "training").fields["snr_db"].as_f64().unwrap();
            assert!((33.0..42.0).contains(&snr), "{law} {rate}: {snr}");
        }
    }
}

#[test]
fn both_schedulers_give_the_same_events() {
    let g = load_file(
        &root().join("graphs/v34_link.yaml"),
        &test_registry(),
        &owned(&[("seconds", "0.28")]),
    )
    .unwrap();
    let run = |s| {
        run_to_end(
            &g,
            &RunOptions {
                scheduler: s,
                ..RunOptions::default()
            },
        )
        .unwrap()
        .iter()
        .map(|e| e.to_json().to_string())
        .collect::<Vec<_>>()
    };
    assert_eq!(run(Scheduler::Fused), run(Scheduler::Threaded));
}

/// `modemflow check`'s diagnostics for graph text written to a file.
fn check(name: &str, text: &str, set: &[(&str, &str)]) -> String {
    let dir = std::env::temp_dir().join(format!("mf-v34-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    match load_file(&path, &test_registry(), &owned(set)) {
        Ok(_) => String::new(),
        Err(e) => e.to_string().replace(&dir.display().to_string(), "DIR"),
    }
}

#[test]
fn combinations_v34_does_not_allow_are_refused_at_the_parameter() {
    let graph = |params: &str| {
        format!(
            "blocks:\n  - {{id: src, type: prbs_source}}\n  - {{id: framer, type: v34_framer, params: {{{params}}}}}\n  - {{id: sink, type: null_sink}}\nconnections:\n  - src.out -> framer.in\n  - framer.out -> sink.in\n"
        )
    };
    // Where a value sits on line 3 of such a graph.
    let col =
        |params: &str, value: &str| graph(params).lines().nth(2).unwrap().find(value).unwrap() + 1;
    // 33 600 bit/s needs 3429 baud: reported at `rate`'s value, line 3.
    let p = "rate: 33600, symbol_rate: 3200";
    let e = check("rate.yaml", &graph(p), &[]);
    let at = format!(
        "DIR/rate.yaml:3:{}: error: block `framer`: V.34 does not allow 33600 bit/s at 3200 baud",
        col(p, "33600")
    );
    assert!(e.contains(&at), "{e}");
    assert!(e.contains("4800 … 31200 bit/s in steps of 2400"), "{e}");
    // A ring count that is neither Table 10's minimum nor its expanded one.
    let p = "rate: 33600, rings: 12";
    let e = check("rings.yaml", &graph(p), &[]);
    assert!(
        e.contains(&format!("rings.yaml:3:{}: error", col(p, "12"))),
        "{e}"
    );
    assert!(e.contains("11 rings (minimum) or 13 (expanded)"), "{e}");
    // A symbol rate V.34 does not have.
    let p = "symbol_rate: 3100";
    let e = check("baud.yaml", &graph(p), &[]);
    assert!(
        e.contains(&format!("baud.yaml:3:{}:", col(p, "3100")))
            && e.contains("2400, 2743, 2800, 3000, 3200, 3429"),
        "{e}"
    );
    // Through the shipped link graph and --set: reported inside the
    // subgraph, saying the value came from the command line.
    let text = std::fs::read_to_string(root().join("graphs/v34_link.yaml")).unwrap();
    let e = match load_str(
        &text,
        "v34_link.yaml",
        &root().join("graphs"),
        &test_registry(),
        &owned(&[("rate", "33600"), ("symbol_rate", "2400")]),
    ) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("v34_transmitter.yaml:") && e.contains("comes from `--set rate`"),
        "{e}"
    );
    assert!(e.contains("it allows 2400 … 21600 bit/s"), "{e}");
    // Θ of the non-linear encoder: 0 or 0.3125 only.
    let text = "blocks:\n  - {id: src, type: wav_source, params: {path: x.wav}}\n  - {id: f, type: i16_to_f32}\n  - {id: rx, type: qam_demodulator, params: {theta: 0.2}}\n  - {id: sink, type: null_sink}\nconnections:\n  - src.out -> f.in\n  - f.out -> rx.in\n  - rx.out -> sink.in\n";
    let e = check("theta.yaml", text, &[]);
    let at = text.lines().nth(3).unwrap().find("0.2").unwrap() + 1;
    assert!(
        e.contains(&format!("theta.yaml:4:{at}")) && e.contains("Θ = 0 or 0.3125"),
        "{e}"
    );
}

/// Runs the receiver subgraph on the samples of a WAV file; its events.
fn receive(wav: &std::path::Path, rate: &str, s: &str) -> Vec<Event> {
    let text = format!(
        "blocks:\n  - {{id: src, type: wav_source, params: {{path: '{}'}}}}\n  - {{id: f, type: i16_to_f32}}\n  - {{id: rx, type: v34_receiver.yaml, params: {{rate: {rate}, symbol_rate: {s}}}}}\n  - {{id: ber, type: ber_sink, params: {{order: 23}}}}\n  - {{id: h, type: null_sink}}\nconnections:\n  - src.out -> f.in\n  - f.out -> rx.in\n  - rx.out -> ber.in\n  - rx.h -> h.in\n",
        wav.display()
    );
    let g = load_str(
        &text,
        "receive.yaml",
        &root().join("graphs"),
        &test_registry(),
        &[],
    )
    .unwrap();
    run_to_end(&g, &RunOptions::default()).unwrap()
}

fn write_wav(path: &std::path::Path, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// The transmitter's line samples for `seconds` of data at 33 600/3429.
fn v34_signal(seconds: &str) -> Vec<i16> {
    let dir = std::env::temp_dir().join(format!("mf-v34sig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("tx.wav");
    let text = format!(
        "variables: {{seconds: {seconds}}}\nblocks:\n  - {{id: src, type: prbs_source, params: {{order: 23}}}}\n  - {{id: n, type: head, params: {{count: floor(seconds / 0.28) * 9408}}}}\n  - {{id: tx, type: v34_transmitter.yaml}}\n  - {{id: pcm, type: f32_to_i16}}\n  - {{id: wav, type: wav_sink, params: {{path: '{}'}}}}\nconnections:\n  - src.out -> n.in\n  - n.out -> tx.in\n  - tx.out -> pcm.in\n  - pcm.out -> wav.in\n",
        wav.display()
    );
    let g = load_str(
        &text,
        "tx.yaml",
        &root().join("graphs"),
        &test_registry(),
        &[],
    )
    .unwrap();
    run_to_end(&g, &RunOptions::default()).unwrap();
    let mut r = hound::WavReader::open(&wav).unwrap();
    r.samples::<i16>().map(|s| s.unwrap()).collect()
}

#[test]
fn the_receiver_says_when_there_is_no_v34_signal() {
    let dir = std::env::temp_dir().join(format!("mf-v34rx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reason = |ev: &[Event]| -> String {
        assert_eq!(ber(ev).0, 0, "no data may come out: {ev:?}");
        assert!(ev.iter().all(|e| e.kind != "training"));
        event(ev, "no_signal").fields["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Silence.
    let p = dir.join("silence.wav");
    write_wav(&p, &vec![0; 16000]);
    assert!(reason(&receive(&p, "33600", "3429")).contains("silent"));
    // Loud noise.
    let mut s = 12345u32;
    let noise: Vec<i16> = (0..40000)
        .map(|_| {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((s >> 16) as i16) / 3
        })
        .collect();
    let p = dir.join("noise.wav");
    write_wav(&p, &noise);
    assert!(reason(&receive(&p, "33600", "3429")).contains("no V.34 training"));
    // A V.21 signal (spandsp's, from the test data).
    let v21 = root().join("blocks/tests/data/v21_ch1_async.wav");
    assert!(reason(&receive(&v21, "14400", "2400")).contains("no V.34 training"));
    // A V.34 signal cut off in its training.
    let tx = v34_signal("0.28");
    let p = dir.join("cut.wav");
    write_wav(&p, &tx[..4000]);
    assert!(reason(&receive(&p, "33600", "3429")).contains("ended before the training"));
    // The whole signal, as a check that the same path does receive it.
    let p = dir.join("whole.wav");
    write_wav(&p, &tx);
    let ev = receive(&p, "33600", "3429");
    assert_eq!(ber(&ev), (sent(33600, 1) - 87, 0));
    // Cut off in the data: what arrived is decoded, nothing panics.
    let p = dir.join("data_cut.wav");
    write_wav(&p, &tx[..tx.len() - 900]);
    let ev = receive(&p, "33600", "3429");
    assert!(event(&ev, "ber").fields["bits"].as_u64().unwrap() > 4000);
}
