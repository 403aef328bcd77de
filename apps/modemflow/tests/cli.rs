//! The command as a user runs it: exit statuses, JSON events, error format.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modemflow"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(name: &str, text: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mf-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn run_prints_the_ber_event_as_one_json_line() {
    let out = bin()
        .args([
            "run",
            "graphs/scrambler_ber.yaml",
            "--set",
            "seconds=1",
            "--quiet",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ber = lines
        .iter()
        .find(|v| v["event"] == "ber")
        .expect("ber event");
    assert_eq!(ber["block"], "ber");
    assert_eq!(ber["errors"], 0);
    assert!(ber["bits"].as_u64().unwrap() >= 7900);
}

/// stdout of the scrambler graph (2 s, bit errors on) with `option value`.
fn scrambler_events(option: &str, value: &str) -> Vec<u8> {
    let out = bin()
        .args([
            "run",
            "graphs/scrambler_ber.yaml",
            "--set",
            "seconds=2",
            "--set",
            "p_error=0.001",
            option,
            value,
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn both_schedulers_print_the_same_events() {
    let fused = scrambler_events("--scheduler", "fused");
    assert!(!fused.is_empty());
    assert_eq!(fused, scrambler_events("--scheduler", "threaded"));
}

#[test]
fn check_lists_every_error_with_its_place_and_exits_2() {
    let p = tmp(
        "bad.yaml",
        "blocks:\n  - {id: a, type: scrambelr}\n  - {id: b, type: head, params: {count: -1}}\nconnections:\n  - a.out -> b.in\n",
    );
    let out = bin().arg("check").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let file = p.display().to_string();
    assert!(
        err.contains(&format!(
            "{file}:2:19: error: unknown block type `scrambelr`"
        )),
        "{err}"
    );
    assert!(err.contains("did you mean `scrambler`"), "{err}");
    assert!(
        err.contains(&format!(
            "{file}:3:41: error: block `b`: `count` = -1 is out of range"
        )),
        "{err}"
    );
}

#[test]
fn bad_usage_and_failures_have_their_exit_codes() {
    let out = bin().args(["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().args(["describe", "scrambelr"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `scrambler`"));
    // A run-time failure: a WAV that is not a WAV.
    let junk = tmp("junk.wav", "RIFF....WAVEfmt garbage");
    let g = tmp(
        "junk.yaml",
        &format!("blocks:\n  - {{id: src, type: wav_source, params: {{path: '{}'}}}}\n  - {{id: s, type: null_sink}}\nconnections:\n  - src.out -> s.in\n", junk.display()),
    );
    let out = bin().arg("run").arg(&g).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a file that cannot be opened is reported before running"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("src"));
}

#[test]
fn blocks_and_describe_come_from_the_registry() {
    let out = bin().args(["blocks", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    for n in [
        "prbs_source",
        "ber_sink",
        "scrambler",
        "g711_encode",
        "wav_source",
        "head",
        "throttle",
        "delay",
    ] {
        assert!(names.contains(&n), "{n} missing");
    }
    let out = bin()
        .args(["describe", "scrambler", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "scrambler");
    assert_eq!(v["inputs"][0]["name"], "in");
    let out = bin().args(["describe", "scrambler"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("polynomial"));
}

#[test]
fn the_block_reference_is_up_to_date() {
    let out = bin().args(["blocks", "--markdown"]).output().unwrap();
    let doc = std::fs::read_to_string(root().join("docs/blocks.md")).unwrap_or_default();
    assert!(
        doc == String::from_utf8(out.stdout).unwrap(),
        "docs/blocks.md is stale: run `cargo run --release -- blocks --markdown > docs/blocks.md`"
    );
}

#[test]
fn every_shipped_graph_passes_check() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("graphs"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2);
    let out = bin().arg("check").args(&files).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files in `graphs/`, sorted.
fn graph_dir_listing() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("graphs"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    v.sort();
    v
}

#[test]
fn every_shipped_graph_runs_from_the_root_and_from_another_directory() {
    let elsewhere = std::env::temp_dir().join(format!("mf-cli-elsewhere-{}", std::process::id()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let before = graph_dir_listing();
    let mut ran = 0;
    for name in &before {
        let Some(stem) = name.strip_suffix(".yaml") else {
            continue;
        };
        let path = root().join("graphs").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        // Subgraphs (declared ports) are blocks of other graphs, not runs.
        if text
            .lines()
            .any(|l| l.starts_with("inputs:") || l.starts_with("outputs:"))
        {
            continue;
        }
        // Short runs: a second of signal where the graph has `seconds`.
        let short: &[&str] = if text.lines().any(|l| l.trim_start().starts_with("seconds:")) {
            &["--set", "seconds=1"]
        } else {
            &[]
        };
        let relative = format!("graphs/{name}");
        let absolute = path.display().to_string();
        for (dir, file) in [
            (root(), relative.as_str()),
            (elsewhere.clone(), absolute.as_str()),
        ] {
            let out = bin()
                .args(["run", file, "--quiet"])
                .args(short)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{stem} from {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} graphs ran");
    // What the examples write lands where they are run, never in graphs/.
    assert_eq!(graph_dir_listing(), before);
    assert!(elsewhere.join("tone.wav").exists());
    let _ = std::fs::remove_file(root().join("tone.wav"));
}

#[test]
fn paths_given_with_set_are_relative_to_the_current_directory() {
    // The same recording named from two directories, each relative to where
    // the command runs; and a graph's own default input, relative to the graph.
    let data = root().join("blocks/tests/data");
    let run = |dir: &std::path::Path, input: Option<&str>| {
        let mut c = bin();
        c.args([
            "run",
            &root().join("graphs/v8_decode.yaml").display().to_string(),
            "--quiet",
        ]);
        if let Some(i) = input {
            c.args(["--set", &format!("input={i}")]);
        }
        c.current_dir(dir).output().unwrap()
    };
    let a = run(&data, Some("v8_answer.wav"));
    let b = run(&root(), Some("blocks/tests/data/v8_answer.wav"));
    let c = run(&std::env::temp_dir(), None);
    for o in [&a, &b, &c] {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stdout, c.stdout);
    // A missing file names the path as the user gave it.
    let d = run(&root(), Some("no-such-call.wav"));
    assert_eq!(d.status.code(), Some(2));
    let err = String::from_utf8_lossy(&d.stderr);
    assert!(
        err.contains("no-such-call.wav") && !err.contains("graphs/no-such-call.wav"),
        "{err}"
    );
}

#[cfg(feature = "futuresdr")]
#[test]
fn futuresdr_backend_prints_the_same_events() {
    let native = scrambler_events("--backend", "native");
    assert!(!native.is_empty());
    assert_eq!(native, scrambler_events("--backend", "futuresdr"));
}

#[cfg(not(feature = "futuresdr"))]
#[test]
fn futuresdr_backend_missing_is_a_usage_error() {
    let out = bin()
        .args(["run", "graphs/scrambler_ber.yaml", "--backend", "futuresdr"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features futuresdr"));
}

#[test]
fn ctrl_c_stops_an_endless_run_and_flushes_the_output_file() {
    let wav = std::env::temp_dir().join(format!("mf-cli-int-{}.wav", std::process::id()));
    let g = tmp(
        "endless.yaml",
        &format!(
            "blocks:\n  - {{id: tone, type: tone_source}}\n  - {{id: pace, type: throttle, params: {{rate: 80000}}}}\n  - {{id: pcm, type: f32_to_i16}}\n  - {{id: wav, type: wav_sink, params: {{path: '{}'}}}}\nconnections:\n  - tone.out -> pace.in\n  - pace.out -> pcm.in\n  - pcm.out -> wav.in\n",
            wav.display()
        ),
    );
    let child = bin()
        .arg("run")
        .arg(&g)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let bytes = std::fs::read(&wav).unwrap();
    // A complete RIFF header whose data length matches the file.
    assert_eq!(&bytes[0..4], b"RIFF");
    let riff_len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    assert_eq!(riff_len + 8, bytes.len());
    assert!(bytes.len() > 8000, "{} bytes", bytes.len());
}

/// Peak memory reported by the command's summary, in MB.
fn peak_mb(args: &[&str]) -> f64 {
    let out = bin().args(args).current_dir(root()).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let at = err.find("peak memory ").expect("summary with peak memory");
    err[at + 12..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn memory_does_not_grow_with_the_length_of_the_run() {
    for s in ["fused", "threaded"] {
        let short = peak_mb(&[
            "run",
            "graphs/scrambler_ber.yaml",
            "--set",
            "seconds=2",
            "--scheduler",
            s,
        ]);
        let long = peak_mb(&[
            "run",
            "graphs/scrambler_ber.yaml",
            "--set",
            "seconds=200",
            "--scheduler",
            s,
        ]);
        assert!(
            long < short * 1.25 + 1.0,
            "{s}: {short} MB for 2 s, {long} MB for 200 s"
        );
    }
}

#[test]
fn v8_decode_prints_answer_tone_and_messages_with_their_times() {
    let run = |input: &str| -> Vec<serde_json::Value> {
        let out = bin()
            .args([
                "run",
                "graphs/v8_decode.yaml",
                "--quiet",
                "--set",
                &format!("input={input}"),
            ])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // spandsp's answerer: ANSam/ from 0.2 s with 7 reversals, then JM from 3.43 s.
    let ev = run("blocks/tests/data/v8_answer.wav");
    let ansam = ev.iter().find(|e| e["event"] == "ansam").expect("ansam");
    assert!((ansam["t"].as_f64().unwrap() - 0.2).abs() < 0.02);
    let end = ev
        .iter()
        .find(|e| e["event"] == "tone_end")
        .expect("tone_end");
    assert_eq!(end["kind"], "ansam_pr");
    assert_eq!(end["reversals"].as_array().unwrap().len(), 7);
    let jm = ev
        .iter()
        .find(|e| e["event"] == "jm" && e["accepted"] == true)
        .expect("accepted jm");
    assert_eq!(jm["octets"], "C1 65 13 10 2A 8D 47");
    assert_eq!(jm["pcm_modem_availability"][0], "v90_v92_digital");
    assert!((jm["t"].as_f64().unwrap() - 3.73).abs() < 0.01, "{jm}");
    // spandsp's caller: CM from 2.755 s, accepted from the second copy, then CJ.
    let ev = run("blocks/tests/data/v8_call.wav");
    let cms: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "cm").collect();
    assert!(cms.len() >= 5);
    assert!(cms.iter().all(|e| e["octets"] == "C1 65 13 90 2A 27"));
    assert!(
        (cms[0]["t"].as_f64().unwrap() - 2.755).abs() < 0.01,
        "{}",
        cms[0]
    );
    assert!(ev.iter().any(|e| e["event"] == "cj"));
    assert!(!ev
        .iter()
        .any(|e| e["event"] == "ansam" || e["event"] == "jm"));
}
