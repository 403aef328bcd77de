//! Bit error rate against SNR for V.34 on a flat line, with and without the
//! 16-state trellis code and with expanded shell mapping, next to uncoded
//! QAM theory: prints the tables of docs/link-quality.md.
//!
//! `cargo run --release -p modemflow-tests --example v34_ber_table [BITS]`
//!
//! Each point runs graphs/v34_link.yaml over the loop `none` (a wire) with
//! white noise `snr_db` below the received signal's power (over the whole
//! 0–4 kHz band), carrying at least BITS (default 3·10^6) of data. The SNR
//! at which each configuration reaches BER 10^-5 is interpolated on log BER,
//! and the gains of the code and of expanded shaping follow from those.

use modemflow_blocks::v34::constellation::average_energy;
use modemflow_blocks::v34::rates::Mode;
use modemflow_flow::{load_str, run_to_end, RunOptions};
use modemflow_tests::{on_every_core, root, test_registry};

/// One configuration and the SNRs (dB) it is measured at.
struct Config {
    name: &'static str,
    rate: u32,
    symbol_rate: u32,
    trellis: u32,
    expanded: bool,
    snrs: Vec<f64>,
}

/// One measured point: configuration, SNR, bits, errors, decision SNR.
type Point = (usize, f64, u64, u64, f64);

/// The Gaussian tail Q(x), by erfc's continued fraction (x ≥ 0) or series.
fn q(x: f64) -> f64 {
    0.5 * erfc(x / std::f64::consts::SQRT_2)
}

/// erfc by its Taylor series below 2.5 and its continued fraction
/// e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) above.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let r = if z < 2.5 {
        // erf z = 2/√π Σ (−1)ⁿ z^{2n+1} / (n! (2n+1)).
        let (mut term, mut sum, mut n) = (z, z, 0.0);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -z * z / n;
            sum += term / (2.0 * n + 1.0);
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        let mut f = z;
        for k in (1..=60).rev() {
            f = z + (f64::from(k) / 2.0) / f;
        }
        (-z * z).exp() / (std::f64::consts::PI.sqrt() * f)
    };
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Uncoded QAM with the same bits per 2D symbol (square-QAM formula, Gray
/// bits): BER at the symbol SNR `es_n0` (linear). The line's SNR over
/// 0–4 kHz is 4000/S below the matched filter's.
fn uncoded_theory(rate: u32, symbol_rate_hz: f64, snr_db: f64) -> f64 {
    let bits = f64::from(rate) / symbol_rate_hz;
    let m = 2f64.powf(bits);
    let es_n0 = 10f64.powf(snr_db / 10.0) * 4000.0 / symbol_rate_hz;
    let ser = 4.0 * (1.0 - 1.0 / m.sqrt()) * q((3.0 * es_n0 / (m - 1.0)).sqrt());
    (ser / bits).min(0.5)
}

/// The SNR where BER crosses `target`, interpolated on log BER.
fn crossing(points: &[(f64, f64)], target: f64) -> Option<f64> {
    points.windows(2).find_map(|w| {
        let ((s0, b0), (s1, b1)) = (w[0], w[1]);
        if b0 >= target && b1 <= target && b1 > 0.0 {
            let (l0, l1, lt) = (b0.log10(), b1.log10(), target.log10());
            Some(s0 + (s1 - s0) * (lt - l0) / (l1 - l0))
        } else if b0 >= target && b1 == 0.0 {
            // Below the floor the run can resolve: take the measured point.
            Some(s1)
        } else {
            None
        }
    })
}

fn main() {
    let bits: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3e6);
    let text = std::fs::read_to_string(root().join("graphs/v34_link.yaml")).expect("graph");
    let steps = |a: f64, b: f64| -> Vec<f64> {
        (0..=((b - a) / 0.5) as usize)
            .map(|i| a + 0.5 * i as f64)
            .collect()
    };
    let configs = [
        Config {
            name: "33 600 / 3429, uncoded",
            rate: 33600,
            symbol_rate: 3429,
            trellis: 0,
            expanded: false,
            snrs: steps(36.0, 42.0),
        },
        Config {
            name: "33 600 / 3429, 16-state",
            rate: 33600,
            symbol_rate: 3429,
            trellis: 16,
            expanded: false,
            snrs: steps(32.0, 38.0),
        },
        Config {
            name: "33 600 / 3429, 16-state, expanded",
            rate: 33600,
            symbol_rate: 3429,
            trellis: 16,
            expanded: true,
            snrs: steps(32.0, 38.0),
        },
        Config {
            name: "28 800 / 3200, uncoded",
            rate: 28800,
            symbol_rate: 3200,
            trellis: 0,
            expanded: false,
            snrs: steps(33.0, 39.0),
        },
        Config {
            name: "28 800 / 3200, 16-state",
            rate: 28800,
            symbol_rate: 3200,
            trellis: 16,
            expanded: false,
            snrs: steps(29.0, 35.0),
        },
        Config {
            name: "14 400 / 2400, uncoded",
            rate: 14400,
            symbol_rate: 2400,
            trellis: 0,
            expanded: false,
            snrs: steps(22.0, 28.0),
        },
        Config {
            name: "14 400 / 2400, 16-state",
            rate: 14400,
            symbol_rate: 2400,
            trellis: 16,
            expanded: false,
            snrs: steps(18.0, 24.0),
        },
    ];
    let jobs: Vec<(usize, f64)> = configs
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.snrs.iter().map(move |&s| (i, s)))
        .collect();
    let started = std::time::Instant::now();
    // Jobs go in (configuration, SNR) order, and so come the results.
    let results: Vec<Point> = on_every_core(&jobs, |&(ci, snr)| {
        let c = &configs[ci];
        let seconds = (bits / f64::from(c.rate) / 0.28).ceil() * 0.28 + 0.28;
        let vars: Vec<(String, String)> = [
            ("rate", c.rate.to_string()),
            ("symbol_rate", c.symbol_rate.to_string()),
            ("trellis", c.trellis.to_string()),
            ("expanded", c.expanded.to_string()),
            ("loop", "none".to_string()),
            ("noise_dbm0", "-150".to_string()),
            ("snr_db", snr.to_string()),
            ("seconds", format!("{seconds:.2}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let g = load_str(
            &text,
            "v34_link.yaml",
            &root().join("graphs"),
            &test_registry(),
            &vars,
        )
        .expect("graph");
        let (b, e, snr_rx) = match run_to_end(&g, &RunOptions::default()) {
            Ok(ev) => {
                let ber = ev.iter().find(|x| x.kind == "ber");
                let end = ev.iter().find(|x| x.kind == "end");
                (
                    ber.and_then(|x| x.fields["bits"].as_u64()).unwrap_or(0),
                    ber.and_then(|x| x.fields["errors"].as_u64()).unwrap_or(0),
                    end.and_then(|x| x.fields["snr_db"].as_f64())
                        .unwrap_or(f64::NAN),
                )
            }
            Err(_) => (0, 0, f64::NAN),
        };
        (ci, snr, b, e, snr_rx)
    });
    println!("| configuration | SNR (dB) | decision SNR (dB) | bits | errors | BER | uncoded QAM theory |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut at_1e5 = Vec::new();
    for (ci, c) in configs.iter().enumerate() {
        let s_hz = Mode::new(c.rate, c.symbol_rate, c.expanded)
            .unwrap()
            .symbol_rate
            .hz();
        let mut pts = Vec::new();
        for &(_, snr, b, e, rx) in results.iter().filter(|r| r.0 == ci) {
            // A BER lost sync when the bit count falls far short: count it as 0.5.
            let ber = if b == 0 { 0.5 } else { e as f64 / b as f64 };
            pts.push((snr, ber));
            println!(
                "| {} | {snr:.1} | {rx:.1} | {b} | {e} | {} | {:.1e} |",
                c.name,
                if e == 0 {
                    "0".to_string()
                } else {
                    format!("{ber:.1e}")
                },
                uncoded_theory(c.rate, s_hz, snr)
            );
        }
        at_1e5.push((c.name, crossing(&pts, 1e-5)));
    }
    println!();
    println!("| configuration | SNR for BER 10⁻⁵ (dB) |");
    println!("|---|---:|");
    for (name, s) in &at_1e5 {
        println!(
            "| {name} | {} |",
            s.map_or("—".to_string(), |v| format!("{v:.2}"))
        );
    }
    let get = |n: &str| at_1e5.iter().find(|(k, _)| *k == n).and_then(|(_, v)| *v);
    println!();
    for (rate, un, coded) in [
        (
            "33 600 / 3429",
            "33 600 / 3429, uncoded",
            "33 600 / 3429, 16-state",
        ),
        (
            "28 800 / 3200",
            "28 800 / 3200, uncoded",
            "28 800 / 3200, 16-state",
        ),
        (
            "14 400 / 2400",
            "14 400 / 2400, uncoded",
            "14 400 / 2400, 16-state",
        ),
    ] {
        if let (Some(a), Some(b)) = (get(un), get(coded)) {
            println!(
                "16-state code gain at {rate}, BER 10⁻⁵: {:.2} dB (theory: about 4 dB)",
                a - b
            );
        }
    }
    if let (Some(a), Some(b)) = (
        get("33 600 / 3429, 16-state"),
        get("33 600 / 3429, 16-state, expanded"),
    ) {
        println!(
            "expanded shell mapping gain at 33 600 / 3429, BER 10⁻⁵: {:.2} dB (theory: up to 1 dB)",
            a - b
        );
    }
    let e = |exp| average_energy(&Mode::new(33600, 3429, exp).unwrap());
    println!(
        "average energy at 33 600 / 3429: minimum rings {:.1}, expanded {:.1} (lattice units)",
        e(false),
        e(true)
    );
    eprintln!(
        "{} points in {:.0} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
}
