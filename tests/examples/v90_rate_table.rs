//! The rate the V.90 receiver chooses, and the BER at that rate, across line
//! conditions: prints the Markdown table of docs/link-quality.md.
//!
//! `cargo run --release -p modemflow-tests --example v90_rate_table [SECONDS]`
//!
//! Each row runs graphs/v90_downstream.yaml with `rate` 0: the digital modem
//! sends TRN1d and the DIL, the analogue modem trains, measures every Ucode,
//! chooses the constellations and the rate and sends them back as CP, and
//! then SECONDS (default 30) of PRBS data follow at that rate.

use modemflow_flow::{load_str, run_to_end, RunOptions};
use modemflow_tests::{root, test_registry};

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    let path = root().join("graphs/v90_downstream.yaml");
    let text = std::fs::read_to_string(&path).expect("graphs/v90_downstream.yaml");
    let rows: &[(&str, &[(&str, &str)])] = &[
        ("µ-law, mild loop, noise −90 dBm0", &[]),
        ("noise −80 dBm0", &[("noise_dbm0", "-80")]),
        ("noise −70 dBm0", &[("noise_dbm0", "-70")]),
        ("noise −60 dBm0", &[("noise_dbm0", "-60")]),
        ("noise −50 dBm0", &[("noise_dbm0", "-50")]),
        ("A-law", &[("law", "a")]),
        ("loop: none (a wire)", &[("loop", "none")]),
        ("loop: medium", &[("loop", "medium")]),
        ("loop: long", &[("loop", "long")]),
        ("robbed bits in interval 5", &[("rbs", "'5'")]),
        ("robbed bits in intervals 2 and 5", &[("rbs", "'2,5'")]),
        ("digital pad 3 dB", &[("pad_db", "3")]),
        ("digital pad 6 dB", &[("pad_db", "6")]),
        (
            "clock +100 ppm (timing recovery)",
            &[("ppm", "100"), ("timing", "true")],
        ),
        (
            "clock −100 ppm (timing recovery)",
            &[("ppm", "-100"), ("timing", "true")],
        ),
        (
            "long loop, −70 dBm0, pad 3 dB, RBS 5, +100 ppm",
            &[
                ("loop", "long"),
                ("noise_dbm0", "-70"),
                ("pad_db", "3"),
                ("rbs", "'5'"),
                ("ppm", "100"),
                ("timing", "true"),
            ],
        ),
    ];
    println!("| line | chosen rate (bit/s) | training SNR | bits | errors | BER |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, set) in rows {
        let mut vars: Vec<(String, String)> = set
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.push(("rate".into(), "0".into()));
        vars.push(("seconds".into(), seconds.to_string()));
        let g = load_str(
            &text,
            "v90_downstream.yaml",
            &root().join("graphs"),
            &test_registry(),
            &vars,
        )
        .expect("graph");
        match run_to_end(&g, &RunOptions::default()) {
            Ok(ev) => {
                let training = ev.iter().find(|e| e.kind == "training");
                let ber = ev.iter().find(|e| e.kind == "ber");
                let rate = training
                    .and_then(|e| e.fields["rate"].as_u64())
                    .unwrap_or(0);
                let snr = training
                    .and_then(|e| e.fields["snr_db"].as_f64())
                    .unwrap_or(f64::NAN);
                let (bits, errors) = ber.map_or((0, 0), |e| {
                    (
                        e.fields["bits"].as_u64().unwrap_or(0),
                        e.fields["errors"].as_u64().unwrap_or(0),
                    )
                });
                let ber_text = if bits == 0 {
                    "—".to_string()
                } else if errors == 0 {
                    format!("0 (< {:.0e})", 1.0 / bits as f64)
                } else {
                    format!("{:.1e}", errors as f64 / bits as f64)
                };
                println!("| {name} | {rate} | {snr:.1} dB | {bits} | {errors} | {ber_text} |");
            }
            Err(e) => println!("| {name} | — | — | — | — | run failed: {e} |"),
        }
    }
}
