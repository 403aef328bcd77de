//! V.90 downstream end to end: graphs/v90_downstream.yaml (the encoder
//! subgraph, TRN1d training, the digital network, the line card's D/A, the
//! local loop and the receiver subgraph) read back without errors at every
//! rate, and the ways it can go wrong reported rather than hidden.
//!
//! These run in debug builds in CI, so every run is short: a fraction of a
//! second of data after the minimum TRN1d training of 2040 symbols.

use modemflow_flow::{load_str, run_to_end, start, Buf, Diagnostic, Event, Flowgraph, RunOptions};
use modemflow_tests::{root, test_registry};

/// Seconds of data in each run: 666 data frames.
const SECONDS: f64 = 0.5;
/// The shortest TRN1d V.90 allows (and `pcm_train` accepts).
const TRAINING: &str = "2040";

/// The 22 V.90 downstream rates, D·8000/6 rounded down for D = 21…42, with D.
fn rates() -> Vec<(u32, u32)> {
    (21..=42).map(|d| (d * 8000 / 6, d)).collect()
}

/// Data frames the `head` block lets through in `SECONDS`.
const FRAMES: u64 = (SECONDS * 8000.0 / 6.0) as u64;

/// Data bits sent: whole frames of D bits.
fn sent_bits(d: u32) -> u64 {
    FRAMES * u64::from(d)
}

fn owned(set: &[(&str, &str)]) -> Vec<(String, String)> {
    set.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Loads and runs `yaml` (named `file`, subgraphs found in graphs/), with
/// `--set`-style overrides; its events.
fn run_text(yaml: &str, file: &str, set: &[(&str, &str)]) -> Vec<Event> {
    let g = load_str(
        yaml,
        file,
        &root().join("graphs"),
        &test_registry(),
        &owned(set),
    )
    .unwrap_or_else(|e| panic!("{file} {set:?}:\n{e}"));
    run_to_end(&g, &RunOptions::default()).unwrap_or_else(|e| panic!("{file} {set:?}: {e}"))
}

/// The shipped graphs/v90_downstream.yaml, loaded with short defaults
/// (`seconds` and `training`) under `set`, which may override them.
fn downstream_graph(set: &[(&str, &str)]) -> Flowgraph {
    let text = std::fs::read_to_string(root().join("graphs/v90_downstream.yaml")).unwrap();
    let seconds = SECONDS.to_string();
    let mut all = vec![("seconds", seconds.as_str()), ("training", TRAINING)];
    all.extend_from_slice(set);
    load_str(
        &text,
        "v90_downstream.yaml",
        &root().join("graphs"),
        &test_registry(),
        &owned(&all),
    )
    .unwrap_or_else(|e| panic!("v90_downstream.yaml {set:?}:\n{e}"))
}

/// Runs [`downstream_graph`]; its events.
fn downstream(set: &[(&str, &str)]) -> Vec<Event> {
    run_to_end(&downstream_graph(set), &RunOptions::default())
        .unwrap_or_else(|e| panic!("v90_downstream.yaml {set:?}: {e}"))
}

/// The one event `kind` of `block`.
fn event<'a>(ev: &'a [Event], block: &str, kind: &str) -> &'a Event {
    let found: Vec<&Event> = ev
        .iter()
        .filter(|e| e.block == block && e.kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "one `{kind}` from `{block}` in {ev:?}");
    found[0]
}

fn int(e: &Event, field: &str) -> u64 {
    e.fields[field]
        .as_u64()
        .unwrap_or_else(|| panic!("`{field}` of {e:?}"))
}

fn float(e: &Event, field: &str) -> f64 {
    e.fields[field]
        .as_f64()
        .unwrap_or_else(|| panic!("`{field}` of {e:?}"))
}

/// (bits, errors, locked) of the `ber` sink.
fn ber(ev: &[Event]) -> (u64, u64, bool) {
    let e = event(ev, "ber", "ber");
    (
        int(e, "bits"),
        int(e, "errors"),
        e.fields["locked"].as_bool().unwrap(),
    )
}

/// The run read back every bit: no errors, locked, at least 90 % of the `d`
/// bits per frame sent compared, and no invalid frame at the modulus decoder.
fn assert_clean(ev: &[Event], d: u32, what: &str) {
    let (bits, errors, locked) = ber(ev);
    let sent = sent_bits(d);
    assert!(
        errors == 0 && locked && bits * 10 >= sent * 9 && bits <= sent,
        "{what}: {bits} of {sent} bits compared, {errors} errors, locked {locked}"
    );
    let frames = event(ev, "receiver/modulus", "frames");
    assert_eq!(int(frames, "invalid"), 0, "{what}: {frames:?}");
    assert_eq!(int(frames, "frames"), FRAMES, "{what}: {frames:?}");
}

/// All 22 rates in both laws: 44 runs, a few seconds in a debug build.
#[test]
fn every_rate_both_laws_without_error() {
    let runs: Vec<(u32, u32, &str)> = ["mu", "a"]
        .into_iter()
        .flat_map(|law| rates().into_iter().map(move |(rate, d)| (rate, d, law)))
        .collect();
    assert_eq!(runs.len(), 44);
    assert_eq!(
        rates()[..4],
        [(28000, 21), (29333, 22), (30666, 23), (32000, 24)]
    );
    assert_eq!(rates()[20..], [(54666, 41), (56000, 42)]);
    for (rate, d, law) in runs {
        let r = rate.to_string();
        let ev = downstream(&[("rate", &r), ("law", law)]);
        assert_clean(&ev, d, &format!("{rate} bit/s, {law}-law"));
    }
}

/// Spectral shaping spends sign bits on the redundancy, not on data: with
/// S_r = 1, 2 and 3 every data bit still arrives. (v90_downstream.yaml does
/// not pass the encoder's `ld`, so only its default lookahead is tried.)
#[test]
fn spectral_shaping_keeps_the_data() {
    for sr in ["1", "2", "3"] {
        let ev = downstream(&[("rate", "56000"), ("sr", sr)]);
        assert_clean(&ev, 42, &format!("56000 bit/s, sr {sr}"));
    }
}

/// The medium and long loop presets still give a clean 56000 bit/s at the
/// default −90 dBm0 of noise.
#[test]
fn harsher_loops_at_lower_noise() {
    for lp in ["medium", "long"] {
        let ev = downstream(&[("rate", "56000"), ("loop", lp)]);
        assert_clean(&ev, 42, &format!("56000 bit/s, {lp} loop"));
    }
}

/// The equalizer's `training` event: the bulk delay, the SNR over the
/// training, and every tap; the SNR follows the line's noise.
#[test]
fn training_event_reports_delay_and_snr() {
    let quiet = downstream(&[]);
    let t = event(&quiet, "receiver/equalizer", "training");
    let delay = int(t, "delay");
    // Room for 40 more below the 128 samples the equalizer searches.
    assert!(delay < 88, "{t:?}");
    let snr = float(t, "snr_db");
    assert!(snr > 60.0, "SNR {snr} dB on the default line");
    assert_eq!(t.fields["ff"].as_array().map(Vec::len), Some(32));
    assert_eq!(t.fields["fb"].as_array().map(Vec::len), Some(64));
    assert!(float(t, "mse_dbm0").is_finite());

    // 40 more samples on the line: 40 more samples of delay, the same SNR.
    let later = run_text(&inline(56000, 56000, 40), "inline.yaml", &[]);
    let t = event(&later, "receiver/equalizer", "training");
    assert_eq!(int(t, "delay"), delay + 40, "{t:?}");
    assert!((float(t, "snr_db") - snr).abs() < 1.0, "{t:?}");
    assert_clean(&later, 42, "56000 bit/s, 40 samples later");

    let noisy = downstream(&[("noise_dbm0", "-60")]);
    let t = event(&noisy, "receiver/equalizer", "training");
    assert_eq!(int(t, "delay"), delay, "the noise moved the delay");
    let lower = snr - float(t, "snr_db");
    assert!(
        (20.0..=40.0).contains(&lower),
        "30 dB more noise lowered the SNR by {lower} dB"
    );
}

/// V.90 downstream as in v90_downstream.yaml at its defaults, but built
/// from the shipped encoder and decoder subgraph files by absolute path, with
/// the encoder at `tx` bit/s, the receiver told `rx` bit/s, and `wait` more
/// samples of bulk delay on the line.
fn inline(tx: u32, rx: u32, wait: u32) -> String {
    let graphs = root().join("graphs");
    format!(
        "\
name: v90-inline
variables:
  seconds: {SECONDS}
  training: {TRAINING}
blocks:
  - {{id: source, type: prbs_source, params: {{order: 23, seed: 1}}}}
  - {{id: length, type: head, params: {{count: floor(seconds * 8000 / 6) * {d}}}}}
  - {{id: encoder, type: '{enc}', params: {{rate: {tx}}}}}
  - {{id: train, type: pcm_train, params: {{training: training}}}}
  - {{id: network, type: digital_network}}
  - {{id: dac, type: line_codec_dac}}
  - {{id: line, type: analog_loop}}
  - {{id: wait, type: delay, params: {{samples: {wait}}}}}
  - {{id: receiver, type: '{dec}', params: {{rate: {rx}, training: training}}}}
  - {{id: ber, type: ber_sink, params: {{order: 23}}}}
connections:
  - source.out -> length.in
  - length.out -> encoder.in
  - encoder.out -> train.in
  - train.out -> network.in
  - network.out -> dac.in
  - dac.out -> line.in
  - line.out -> wait.in
  - wait.out -> receiver.in
  - receiver.out -> ber.in
",
        d = tx * 6 / 8000,
        enc = graphs.join("v90_encoder.yaml").display(),
        dec = graphs.join("v90_decoder.yaml").display(),
    )
}

/// A receiver at the wrong rate must not report a clean run.
#[test]
fn mismatched_rates_are_caught_not_silent() {
    // The same case with both ends agreeing is clean, so what fails below is
    // the mismatch and not the inline graph.
    let ev = run_text(&inline(56000, 56000, 0), "inline.yaml", &[]);
    assert_clean(&ev, 42, "inline graph, both at 56000");
    for (tx, rx) in [(56000, 54666), (54666, 56000), (32000, 30666)] {
        let ev = run_text(&inline(tx, rx, 0), "inline.yaml", &[]);
        let (bits, errors, locked) = ber(&ev);
        assert!(
            errors > 0 || !locked,
            "sent at {tx}, received at {rx}: {bits} bits, {errors} errors, locked {locked}"
        );
    }
}

/// Every error of loading `yaml` and making its blocks (what `modemflow
/// check` reports).
fn errors(yaml: &str) -> Vec<Diagnostic> {
    match load_str(
        yaml,
        "g.yaml",
        &root().join("graphs"),
        &test_registry(),
        &[],
    ) {
        Err(d) => d.0,
        Ok(g) => match g.instantiate() {
            Err(d) => d.0,
            Ok(_) => Vec::new(),
        },
    }
}

fn show(errs: &[Diagnostic]) -> String {
    errs.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The diagnostic at `line`:`col` of g.yaml whose message and hint together
/// contain every one of `words`.
fn has(errs: &[Diagnostic], line: usize, col: usize, words: &[&str]) -> bool {
    errs.iter().any(|d| {
        let text = format!("{} {}", d.message, d.hint.as_deref().unwrap_or(""));
        d.file == "g.yaml"
            && d.line == line
            && d.col == col
            && words.iter().all(|w| text.contains(w))
    })
}

/// A rate that is not V.90's and a constellation that does not fit are each
/// reported at the block's place in the file, naming the parameter and what
/// to do about it.
#[test]
fn bad_v90_parameters_are_reported_at_their_place() {
    // `rate` beyond 56000: refused while loading, at the value.
    let e = errors(&chain("{rate: 57000}", "{}"));
    let s = show(&e);
    assert!(
        has(
            &e,
            3,
            57,
            &["block `modulus`", "`rate` = 57000", "0 … 56000"]
        ),
        "{s}"
    );
    // In range but not a V.90 rate: refused when the block is made, at its type.
    let e = errors(&chain("{rate: 29000}", "{}"));
    let s = show(&e);
    assert!(
        has(
            &e,
            3,
            25,
            &[
                "block `modulus`",
                "`rate` = 29000",
                "not a V.90 rate",
                "29333"
            ]
        ),
        "{s}"
    );
    // 56000 bit/s needs more levels per interval than Ucodes 0…30 give.
    let e = errors(&chain("{rate: 56000}", "{rate: 56000, max_ucode: 30}"));
    let s = show(&e);
    assert!(
        has(
            &e,
            4,
            24,
            &[
                "block `mapper`",
                "`max_ucode` = 30",
                "raise `max_ucode` or lower `rate`"
            ]
        ),
        "{s}"
    );
    assert_eq!(e.len(), 1, "{s}");
}

/// prbs → `modulus_encoder` → `pcm_mapper`, with their params.
fn chain(modulus_params: &str, mapper_params: &str) -> String {
    format!(
        "\
blocks:
  - {{id: src, type: prbs_source}}
  - {{id: modulus, type: modulus_encoder, params: {modulus_params}}}
  - {{id: mapper, type: pcm_mapper, params: {mapper_params}}}
  - {{id: signs, type: null_sink}}
  - {{id: sink, type: null_sink}}
connections:
  - src.out -> modulus.in
  - modulus.labels -> mapper.in
  - modulus.signs -> signs.in
  - mapper.out -> sink.in
"
    )
}

/// D of a rate as modems report it.
fn d_of(rate: u64) -> u32 {
    modemflow_blocks::v90::rates::bits_per_frame(rate as u32).expect("a V.90 rate")
}

/// `rate` 0: the digital modem sends the DIL after TRN1d, the receiver
/// measures every Ucode, chooses the rate and constellations, and sends them
/// back as a CP record through the graph's upstream delay; the data then
/// runs at that rate. On the default line that is 56 000 bit/s.
#[test]
fn the_receiver_chooses_56000_on_a_clean_line() {
    let ev = downstream(&[("rate", "0")]);
    let t = event(&ev, "receiver/equalizer", "training");
    assert_eq!(int(t, "rate"), 56000, "{t:?}");
    assert_eq!(t.fields["moduli"].as_array().unwrap().len(), 6);
    assert_clean(&ev, 42, "rate 0, default line");
}

/// Noise, digital pads and robbed bits make the receiver ask for less, and
/// what it asks for comes through without error.
#[test]
fn the_chosen_rate_falls_with_the_line_and_stays_clean() {
    for (set, below) in [
        (&[("noise_dbm0", "-60")][..], 56000),
        (&[("pad_db", "3")][..], 48000),
        (&[("pad_db", "6")][..], 42000),
        (&[("rbs", "'5'")][..], 56000),
    ] {
        let mut all = vec![("rate", "0")];
        all.extend_from_slice(set);
        let ev = downstream(&all);
        let t = event(&ev, "receiver/equalizer", "training");
        let rate = int(t, "rate");
        assert!((28000..below).contains(&rate), "{set:?}: {t:?}");
        assert_clean(&ev, d_of(rate), &format!("{set:?} at {rate}"));
    }
}

/// graphs/v90_dil.yaml: the DIL through the digital network alone, measured
/// by `dil_analyzer` and designed for by `constellation_designer`.
fn dil_design(set: &[(&str, &str)]) -> Event {
    let text = std::fs::read_to_string(root().join("graphs/v90_dil.yaml")).unwrap();
    let ev = run_text(&text, "v90_dil.yaml", set);
    let dil = event(&ev, "dil", "dil");
    assert_eq!(int(dil, "symbols"), 6144);
    event(&ev, "designer", "design").clone()
}

fn moduli(e: &Event) -> Vec<u64> {
    e.fields["moduli"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap())
        .collect()
}

#[test]
fn the_dil_blocks_see_what_the_network_does() {
    let clean = dil_design(&[]);
    assert_eq!(int(&clean, "rate"), 56000);
    // Noise costs levels in every interval alike.
    let noisy = dil_design(&[("noise_dbm0", "-60")]);
    let noisier = dil_design(&[("noise_dbm0", "-50")]);
    assert!(int(&noisier, "rate") < int(&noisy, "rate"));
    assert!(int(&noisy, "rate") < 56000);
    // Robbed bits merge neighbouring codes in their intervals only.
    let robbed = dil_design(&[("noise_dbm0", "-60"), ("rbs", "2,5")]);
    let m = moduli(&robbed);
    let plain = moduli(&noisy);
    for i in [0, 1, 3, 4] {
        assert!(m[i] >= plain[i], "{m:?} against {plain:?}");
    }
    for i in [2, 5] {
        assert!(m[i] < plain[i], "{m:?} against {plain:?}");
    }
    // A pad merges codes everywhere.
    let padded = dil_design(&[("noise_dbm0", "-60"), ("pad_db", "3")]);
    assert!(int(&padded, "rate") < int(&noisy, "rate"));
}

/// What a probe on the equalizer's `ucodes` output saw during a downstream
/// run: the mean received level of each Ucode (None where unseen) and the
/// pairs seen.
fn levels_per_ucode(set: &[(&str, &str)]) -> (Vec<Option<f64>>, usize) {
    let g = downstream_graph(set);
    let run = start(&g, g.instantiate().unwrap(), &RunOptions::default());
    let probe = run.probe("receiver.ucodes", 1 << 16).unwrap();
    run.wait().unwrap();
    assert_eq!(probe.dropped(), 0);
    let mut sum = [0f64; 128];
    let mut count = [0usize; 128];
    let mut n = 0;
    for chunk in probe.rx.try_iter() {
        let Buf::C32(v) = chunk else {
            panic!("ucodes carries c32")
        };
        for p in v {
            let u = p.re as usize;
            assert!(u < 128 && p.re == u as f32, "{p}");
            sum[u] += f64::from(p.im);
            count[u] += 1;
            n += 1;
        }
    }
    let means = (0..128)
        .map(|u| (count[u] > 0).then(|| sum[u] / count[u] as f64))
        .collect();
    (means, n)
}

/// The equalizer's `ucodes` output is the PCM "received level versus Ucode"
/// view: on a clean line each Ucode arrives at its G.711 level. Through a
/// 3 dB digital pad each Ucode arrives as the code the pad turned it into
/// (the equalizer's gain, trained through the same pad, makes up the 3 dB),
/// so the curve is no longer the law's. The rate is chosen from the DIL so
/// the pad is allowed for.
#[test]
fn received_level_versus_ucode_shows_the_network() {
    use modemflow_blocks::channel::digital_network::pad_table;
    use modemflow_blocks::g711::law::Law;
    use modemflow_blocks::v90::ucode::{from_octet, linear, octet};
    let lin = |u: usize| f64::from(linear(Law::Mu, u as u8)) / 32768.0;
    let (clean, n) = levels_per_ucode(&[("rate", "0")]);
    assert!(n > 1000, "{n} pairs");
    let seen: Vec<usize> = (0..128).filter(|&u| clean[u].is_some()).collect();
    assert!(seen.len() >= 60, "{} Ucodes", seen.len());
    for &u in &seen {
        let m = clean[u].unwrap();
        assert!(
            (m - lin(u)).abs() < 1e-3 * lin(u) + 2e-5,
            "Ucode {u}: {m} against {}",
            lin(u)
        );
    }
    let (padded, _) = levels_per_ucode(&[("rate", "0"), ("pad_db", "3")]);
    let table = pad_table(Law::Mu, 3.0);
    let through_pad = |u: usize| {
        usize::from(from_octet(Law::Mu, table[usize::from(octet(Law::Mu, u as u8, true))]).0)
    };
    let big: Vec<(usize, f64)> = (32..127)
        .filter_map(|u| padded[u].map(|m| (u, m)))
        .collect();
    assert!(big.len() >= 20, "{} Ucodes from 32", big.len());
    // One gain for every Ucode against the padded codes' levels…
    let gains: Vec<f64> = big.iter().map(|&(u, m)| m / lin(through_pad(u))).collect();
    let g = gains[gains.len() / 2];
    assert!((g - 10f64.powf(3.0 / 20.0)).abs() < 0.05, "gain {g}");
    // Each within a third of a step of the padded code's level: the view
    // tells which code the network delivered.
    for &(u, m) in &big {
        let p = through_pad(u);
        let step = lin(p + 1) - lin(p);
        let seen = m / g;
        assert!(
            (seen - lin(p)).abs() < step / 3.0,
            "Ucode {u} (padded to {p}): {seen} against {}",
            lin(p)
        );
    }
    // …but not against the law's own levels: the pad's rounding shows.
    let spread = big
        .iter()
        .map(|&(u, m)| m / lin(u) / g)
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
    assert!(spread.1 - spread.0 > 0.02, "{spread:?}");
}
