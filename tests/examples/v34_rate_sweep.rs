//! Every (rate, symbol rate) pair V.34 Table 1 allows, with both carriers,
//! through graphs/v34_link.yaml: prints the Markdown table of
//! docs/link-quality.md.
//!
//! `cargo run --release -p modemflow-tests --example v34_rate_sweep [BITS] [EXTRA --set PAIRS]`
//!
//! Each row carries at least BITS (default 10^6) of PRBS data, in whole
//! 280 ms superframes, over the mild loop with noise at −80 dBm0, and
//! counts the bit errors. Extra NAME=VALUE arguments are passed to the graph
//! (`ppm=100`, `trellis=64`, `loop=medium`, …). Runs use every core.

use modemflow_blocks::v34::rates::SYMBOL_RATES;
use modemflow_flow::{load_str, run_to_end, RunOptions};
use modemflow_tests::{on_every_core, root, test_registry};

struct Row {
    symbol_rate: u32,
    carrier: &'static str,
    rate: u32,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bits: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1e6);
    let extra: Vec<(String, String)> = args
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let text = std::fs::read_to_string(root().join("graphs/v34_link.yaml")).expect("graph");
    let mut rows = Vec::new();
    for s in SYMBOL_RATES {
        // At 3429 baud both carriers are 1959 Hz (V.34 Table 1): one row.
        let carriers: &[&str] = if s.low == s.high {
            &["low"]
        } else {
            &["low", "high"]
        };
        for &carrier in carriers {
            for rate in s.rates() {
                rows.push(Row {
                    symbol_rate: s.name,
                    carrier,
                    rate,
                });
            }
        }
    }
    let n = rows.len();
    let started = std::time::Instant::now();
    let lines = on_every_core(&rows, |row| {
        // Whole superframes (280 ms) carrying at least `bits`.
        let seconds = (bits / f64::from(row.rate) / 0.28).ceil() * 0.28 + 0.28;
        let mut vars = vec![
            ("rate".to_string(), row.rate.to_string()),
            ("symbol_rate".to_string(), row.symbol_rate.to_string()),
            ("carrier".to_string(), row.carrier.to_string()),
            ("seconds".to_string(), format!("{seconds:.2}")),
        ];
        vars.extend(extra.iter().cloned());
        match load_str(
            &text,
            "v34_link.yaml",
            &root().join("graphs"),
            &test_registry(),
            &vars,
        )
        .map_err(|e| e.to_string())
        .and_then(|g| run_to_end(&g, &RunOptions::default()).map_err(|e| e.to_string()))
        {
            Ok(ev) => {
                let snr = ev
                    .iter()
                    .find(|e| e.kind == "training")
                    .and_then(|e| e.fields["snr_db"].as_f64())
                    .map_or("—".to_string(), |v| format!("{v:.1} dB"));
                let ber = ev.iter().find(|e| e.kind == "ber");
                let b = ber.and_then(|e| e.fields["bits"].as_u64()).unwrap_or(0);
                let err = ber.and_then(|e| e.fields["errors"].as_u64()).unwrap_or(0);
                format!(
                    "| {} | {} | {} | {snr} | {b} | {err} |",
                    row.symbol_rate, row.carrier, row.rate
                )
            }
            Err(e) => format!(
                "| {} | {} | {} | failed: {e} | | |",
                row.symbol_rate, row.carrier, row.rate
            ),
        }
    });
    println!("| symbol rate | carrier | rate (bit/s) | training SNR | bits | errors |");
    println!("|---:|---|---:|---:|---:|---:|");
    let mut clean = 0;
    for line in &lines {
        if line.ends_with("| 0 |") {
            clean += 1;
        }
        println!("{line}");
    }
    eprintln!(
        "{clean} of {n} rows without errors; {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
