//! V.90's upstream against noise on the loop: for each network law and
//! noise level, the highest V.34 rate at each of V.90's symbol rates that
//! graphs/v90_upstream.yaml carries with zero errors. Prints the Markdown
//! table of docs/link-quality.md.
//!
//! `cargo run --release -p modemflow-tests --example v90_upstream_rates [BITS]`
//!
//! Each try carries at least BITS (default 10^6) of data, in whole 280 ms
//! superframes, over the mild loop; rates are tried from the highest V.34
//! Table 1 allows down to the first with zero errors.

use modemflow_blocks::v34::rates::SYMBOL_RATES;
use modemflow_flow::{load_str, run_to_end, RunOptions};
use modemflow_tests::{root, test_registry};

const NOISE_DBM0: [i32; 7] = [-80, -70, -60, -55, -50, -45, -40];
/// V.90 §6: the symbol rates of the upstream.
const V90_SYMBOL_RATES: [u32; 3] = [3000, 3200, 3429];

/// (errors, training SNR) of one run, or why it did not run.
fn run(text: &str, vars: &[(String, String)]) -> Result<(u64, u64, Option<f64>), String> {
    let g = load_str(
        text,
        "v90_upstream.yaml",
        &root().join("graphs"),
        &test_registry(),
        vars,
    )
    .map_err(|e| e.to_string())?;
    let ev = run_to_end(&g, &RunOptions::default()).map_err(|e| e.to_string())?;
    let snr = ev
        .iter()
        .find(|e| e.kind == "training")
        .and_then(|e| e.fields["snr_db"].as_f64());
    let ber = ev.iter().find(|e| e.kind == "ber");
    let bits = ber.and_then(|e| e.fields["bits"].as_u64()).unwrap_or(0);
    let errors = ber.and_then(|e| e.fields["errors"].as_u64()).unwrap_or(0);
    Ok((bits, errors, snr))
}

fn main() {
    let bits: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1e6);
    let text = std::fs::read_to_string(root().join("graphs/v90_upstream.yaml")).expect("graph");
    let started = std::time::Instant::now();
    print!("| law | noise (dBm0) |");
    for s in V90_SYMBOL_RATES {
        print!(" best at {s} baud (training SNR) |");
    }
    println!();
    println!("|---|---:|{}", "---:|".repeat(V90_SYMBOL_RATES.len()));
    for law in ["mu", "a"] {
        for noise in NOISE_DBM0 {
            print!("| {} | {noise} |", if law == "mu" { "μ" } else { "A" });
            for s in V90_SYMBOL_RATES {
                let table = SYMBOL_RATES
                    .iter()
                    .find(|r| r.name == s)
                    .expect("V.34 Table 1");
                let mut rates: Vec<u32> = table.rates().collect();
                rates.sort_unstable_by(|a, b| b.cmp(a));
                let mut cell = "none".to_string();
                for rate in rates {
                    let seconds = (bits / f64::from(rate) / 0.28).ceil() * 0.28 + 0.28;
                    let vars = [
                        ("law", law.to_string()),
                        ("noise_dbm0", noise.to_string()),
                        ("rate", rate.to_string()),
                        ("symbol_rate", s.to_string()),
                        ("seconds", format!("{seconds:.2}")),
                    ]
                    .map(|(k, v)| (k.to_string(), v));
                    match run(&text, &vars) {
                        Ok((b, 0, snr)) if b > 0 => {
                            let snr = snr.map_or("—".to_string(), |v| format!("{v:.1} dB"));
                            cell = format!("{rate} ({snr})");
                            break;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            cell = format!("failed: {e}");
                            break;
                        }
                    }
                }
                print!(" {cell} |");
            }
            println!();
        }
    }
    eprintln!("{:.0} s", started.elapsed().as_secs_f64());
}
