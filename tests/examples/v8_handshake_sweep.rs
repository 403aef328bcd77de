//! How reliably two `v8_negotiator`s agree through `two_wire_line`: runs
//! graphs/v8_handshake.yaml under line conditions, each with TRIALS noise
//! seeds, and prints the Markdown table of docs/link-quality.md.
//!
//! `cargo run --release -p modemflow-tests --example v8_handshake_sweep [TRIALS]`
//!
//! A trial succeeds when both ends report `agreed` with mode v90 (the caller
//! analogue, the answerer digital) within 8 s.

use modemflow_flow::{load_str, run_to_end, RunOptions};
use modemflow_tests::{root, test_registry};

fn main() {
    let trials: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let path = root().join("graphs/v8_handshake.yaml");
    let text = std::fs::read_to_string(&path).expect("graphs/v8_handshake.yaml");
    let rows: &[(&str, &[(&str, &str)])] = &[
        (
            "default: loss 20 dB, echo 6 dB below own signal, 10 ms, noise −60 dBm0",
            &[],
        ),
        (
            "no loss, echo as loud as the far end (0 dB, 0 dB)",
            &[("loss", "0"), ("echo_loss", "0")],
        ),
        (
            "far end 20 dB below own echo (loss 20 dB, echo 0 dB)",
            &[("echo_loss", "0")],
        ),
        (
            "far end at −43 dBm0 (loss 30 dB, echo 20 dB)",
            &[("loss", "30"), ("echo_loss", "20")],
        ),
        (
            "noise −45 dBm0 (12 dB below the far end)",
            &[("noise", "-45")],
        ),
        ("one-way delay 1 ms", &[("delay", "1")]),
        ("one-way delay 300 ms", &[("delay", "300")]),
        (
            "beyond the 20 dB design: far end 24 dB below own echo",
            &[("loss", "30")],
        ),
        (
            "beyond the 20 dB design: far end 30 dB below own echo",
            &[("loss", "30"), ("echo_loss", "0")],
        ),
        (
            "all: far 14 dB below echo, noise −47 dBm0, 100 ms",
            &[("echo_loss", "6"), ("noise", "-47"), ("delay", "100")],
        ),
    ];
    println!("| line | both agree on V.90 | mean time to `agreed` (answerer) |");
    println!("|---|---:|---:|");
    for (name, set) in rows {
        let mut ok = 0;
        let mut t_sum = 0.0;
        for seed in 1..=trials {
            let mut vars: Vec<(String, String)> = set
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            vars.push(("seed".into(), seed.to_string()));
            vars.push(("seconds".into(), "8".into()));
            let g = load_str(
                &text,
                "v8_handshake.yaml",
                &root().join("graphs"),
                &test_registry(),
                &vars,
            )
            .expect("graph");
            let ev = run_to_end(&g, &RunOptions::default()).expect("run");
            let agreed = |who: &str, role: &str| {
                ev.iter().find(|e| {
                    e.block == who
                        && e.kind == "agreed"
                        && e.fields["mode"] == "v90"
                        && e.fields["pcm_role"] == role
                })
            };
            if let (Some(_), Some(a)) =
                (agreed("caller", "analogue"), agreed("answerer", "digital"))
            {
                ok += 1;
                t_sum += a.fields["t"].as_f64().unwrap_or(0.0);
            }
        }
        let mean = if ok > 0 {
            format!("{:.2} s", t_sum / ok as f64)
        } else {
            "—".into()
        };
        println!(
            "| {name} | {ok}/{trials} ({:.1} %) | {mean} |",
            100.0 * ok as f64 / trials as f64
        );
    }
}
