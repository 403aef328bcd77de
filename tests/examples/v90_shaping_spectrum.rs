//! What V.90 spectral shaping does to the transmitted spectrum: prints the
//! Markdown table of docs/link-quality.md and writes
//! docs/figures/v90-shaping-spectrum.svg.
//!
//! `cargo run --release -p modemflow-tests --example v90_shaping_spectrum [SVG]`
//!
//! At 56 000 bit/s µ-law (D = 42 bits per data frame), for S_r = 0 (no
//! shaping: differential sign coding only) and S_r = 1, 2, 3 (lookahead
//! ld = 1, the default DC-notch metric filter), random data frames go through
//! the `SpectralShaper` kernel: labels uniformly random in each interval of
//! `Constellation::design(µ-law, K, 127)` with K from `split(42, S_r)`, and
//! random data sign bits. The `SignDecoder` kernel must give back every data
//! sign bit (else the program exits with status 1). The power spectral
//! density of the transmitted values (signed Table 1 values, 8000 per second)
//! is a Welch average of 1024-point Hann-windowed periodograms, half
//! overlapping. Everything is seeded, so the output is the same on every run.

use modemflow_blocks::g711::law::Law;
use modemflow_blocks::v90::constellation::Constellation;
use modemflow_blocks::v90::rates::{split, FRAME};
use modemflow_blocks::v90::shaper::{MetricFilter, ShapedFrame, SignDecoder, SpectralShaper};
use modemflow_blocks::v90::ucode::signed_linear;
use std::f64::consts::PI;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

const LAW: Law = Law::Mu;
/// 56 000 bit/s.
const D: u32 = 42;
/// Lookahead of the shaping search, in shaping frames.
const LD: u32 = 1;
/// Symbols per second.
const RATE: f64 = 8000.0;
/// About 20 s of symbols.
const FRAMES: usize = 20 * 8000 / FRAME;
/// Welch segment length (Hann window) and hop.
const N: usize = 1024;
const HOP: usize = N / 2;
/// Band edges for the table, Hz (a DFT bin belongs to the band holding its
/// centre frequency; bins are 7.8125 Hz apart).
const BANDS: [(f64, f64, &str); 4] = [
    (0.0, 100.0, "< 100 Hz"),
    (100.0, 300.0, "100–300 Hz"),
    (300.0, 3400.0, "300–3400 Hz"),
    (3400.0, 4000.1, "3400–4000 Hz"),
];

/// SplitMix64: a small, fixed, seedable generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (multiply-high; the bias is below 2⁻⁵⁰ here).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    fn bit(&mut self) -> u8 {
        (self.next() >> 63) as u8
    }
}

/// An iterative radix-2 FFT of one fixed power-of-two length.
struct Fft {
    n: usize,
    /// cos and sin of −2πk/n, k < n/2.
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl Fft {
    fn new(n: usize) -> Fft {
        assert!(n.is_power_of_two() && n >= 2);
        let angle = |k: usize| -2.0 * PI * k as f64 / n as f64;
        Fft {
            n,
            cos: (0..n / 2).map(|k| angle(k).cos()).collect(),
            sin: (0..n / 2).map(|k| angle(k).sin()).collect(),
        }
    }

    /// In place: X[k] = Σ x[m]·e^(−2πikm/n).
    fn run(&self, re: &mut [f64], im: &mut [f64]) {
        let n = self.n;
        assert!(re.len() == n && im.len() == n);
        // Bit-reversed order.
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        // Butterflies.
        let mut len = 2;
        while len <= n {
            let half = len / 2;
            let step = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..half {
                    let (c, s) = (self.cos[k * step], self.sin[k * step]);
                    let (a, b) = (start + k, start + k + half);
                    let tr = re[b] * c - im[b] * s;
                    let ti = re[b] * s + im[b] * c;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            len *= 2;
        }
    }
}

fn hann() -> Vec<f64> {
    (0..N)
        .map(|n| 0.5 - 0.5 * (2.0 * PI * n as f64 / N as f64).cos())
        .collect()
}

/// Welch estimate: for k = 0…N/2, the mean of |X_k|² over the segments
/// divided by N·Σw², so that a white signal of mean square P reads P in every
/// bin, and Σ of the one-sided bins (interior ones counted twice) / N is the
/// signal's mean square.
fn welch(x: &[f64], fft: &Fft, win: &[f64]) -> Vec<f64> {
    let norm: f64 = win.iter().map(|w| w * w).sum::<f64>();
    let mut acc = vec![0.0; N / 2 + 1];
    let (mut re, mut im) = (vec![0.0; N], vec![0.0; N]);
    let mut segments = 0usize;
    for seg in x.windows(N).step_by(HOP) {
        for ((r, i), (&v, &w)) in re.iter_mut().zip(im.iter_mut()).zip(seg.iter().zip(win)) {
            *r = v * w;
            *i = 0.0;
        }
        fft.run(&mut re, &mut im);
        for (a, (r, i)) in acc.iter_mut().zip(re.iter().zip(&im)) {
            *a += r * r + i * i;
        }
        segments += 1;
    }
    acc.iter().map(|a| a / (segments as f64 * norm)).collect()
}

fn bin_hz(k: usize) -> f64 {
    k as f64 * RATE / N as f64
}

/// Mean square of the part of the signal in [lo, hi) Hz, from its Welch
/// density.
fn band_power(psd: &[f64], lo: f64, hi: f64) -> f64 {
    psd.iter()
        .enumerate()
        .filter(|&(k, _)| (lo..hi).contains(&bin_hz(k)))
        .map(|(k, p)| if k == 0 || k == N / 2 { *p } else { 2.0 * p })
        .sum::<f64>()
        / N as f64
}

fn db(ratio: f64) -> f64 {
    10.0 * ratio.log10()
}

/// "−12.3" with a real minus sign, as the docs write numbers.
fn signed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().any(|c| c != '0' && c != '.') => format!("−{rest}"),
        Some(rest) => rest.to_string(),
        None => s,
    }
}

struct Case {
    sr: u32,
    k: u32,
    s: u32,
    sign_bits: usize,
    signal: Vec<f64>,
    psd: Vec<f64>,
}

/// Shapes ~20 s of random frames with S_r = `sr` and checks the decoder.
fn run(sr: u32, fft: &Fft, win: &[f64]) -> Result<Case, String> {
    let (k, s) = split(D, sr).ok_or(format!("D = {D} with S_r = {sr} is not a V.90 rate"))?;
    let con = Constellation::design(LAW, k, 127)?;
    let mut shaper = SpectralShaper::new(LAW, sr, LD, MetricFilter::DC_NOTCH)?;
    let mut decoder = SignDecoder::new(sr)?;
    let s = s as usize;
    assert_eq!(shaper.sign_bits(), s);
    let mut rng = Rng(0x5650_5348_4150_0000 ^ u64::from(sr));
    let mut ucodes = Vec::with_capacity(FRAMES);
    let mut data = Vec::with_capacity(FRAMES * s);
    let mut out: Vec<ShapedFrame> = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        let u: [u8; FRAME] = std::array::from_fn(|i| {
            let c = con.interval(i);
            c[rng.below(c.len())]
        });
        let bits: Vec<u8> = (0..s).map(|_| rng.bit()).collect();
        out.extend(shaper.push(&u, &bits));
        ucodes.push(u);
        data.extend(bits);
    }
    while let Some(f) = shaper.flush() {
        out.push(f);
    }
    if out.len() != FRAMES {
        return Err(format!(
            "S_r {sr}: {} frames out for {FRAMES} in",
            out.len()
        ));
    }
    let mut got = vec![0u8; FRAMES * s];
    for (f, d) in out.iter().zip(got.chunks_exact_mut(s)) {
        decoder.decode(&f.signs, d);
    }
    if let Some(n) = (0..data.len()).find(|&n| got[n] != data[n]) {
        let wrong = got.iter().zip(&data).filter(|(a, b)| a != b).count();
        return Err(format!(
            "S_r {sr}: {wrong} of {} data sign bits decoded wrong, the first at bit {n} (frame {})",
            data.len(),
            n / s
        ));
    }
    if let Some(j) = (0..FRAMES).find(|&j| out[j].ucodes != ucodes[j]) {
        return Err(format!(
            "S_r {sr}: frame {j} left with Ucodes {:?}, went in with {:?}",
            out[j].ucodes, ucodes[j]
        ));
    }
    let signal: Vec<f64> = out
        .iter()
        .flat_map(|f| f.octets(LAW))
        .map(|o| f64::from(signed_linear(LAW, o)))
        .collect();
    let psd = welch(&signal, fft, win);
    Ok(Case {
        sr,
        k,
        s: s as u32,
        sign_bits: data.len(),
        signal,
        psd,
    })
}

/// The FFT against a direct DFT on one segment of `x`.
fn check_fft(fft: &Fft, x: &[f64]) -> Result<(), String> {
    let (mut re, mut im) = (x[..N].to_vec(), vec![0.0; N]);
    fft.run(&mut re, &mut im);
    let scale = x[..N].iter().map(|v| v.abs()).sum::<f64>();
    for k in [0, 1, 13, 100, 511, 512, 777] {
        let (mut r, mut i) = (0.0, 0.0);
        for (m, &v) in x[..N].iter().enumerate() {
            let ph = -2.0 * PI * ((k * m) % N) as f64 / N as f64;
            r += v * ph.cos();
            i += v * ph.sin();
        }
        let err = (r - re[k]).hypot(i - im[k]);
        if err > 1e-9 * scale {
            return Err(format!("FFT bin {k} is off by {err}"));
        }
    }
    Ok(())
}

/// Plot geometry: one panel's frame and scales.
struct Panel {
    x0: f64,
    x1: f64,
    f_max: f64,
    f_tick: f64,
    f_label: f64,
    id: &'static str,
}

const Y0: f64 = 44.0;
const Y1: f64 = 318.0;
const DB_TOP: f64 = 10.0;
const DB_BOTTOM: f64 = -60.0;
const COLOURS: [&str; 4] = ["#222222", "#1f77b4", "#ff7f0e", "#2ca02c"];

impl Panel {
    fn x(&self, hz: f64) -> f64 {
        self.x0 + (self.x1 - self.x0) * hz / self.f_max
    }
}

fn y(db: f64) -> f64 {
    Y0 + (Y1 - Y0) * (DB_TOP - db) / (DB_TOP - DB_BOTTOM)
}

/// Hand-written SVG: the full band on the left, 0–500 Hz on the right; the
/// density of each case in dB against the unshaped signal's mean density (a
/// white signal with the unshaped signal's power reads 0 dB).
fn svg(cases: &[Case], reference: f64) -> String {
    let panels = [
        Panel {
            x0: 66.0,
            x1: 440.0,
            f_max: 4000.0,
            f_tick: 500.0,
            f_label: 1000.0,
            id: "full",
        },
        Panel {
            x0: 500.0,
            x1: 700.0,
            f_max: 500.0,
            f_tick: 50.0,
            f_label: 100.0,
            id: "zoom",
        },
    ];
    let mut o = String::new();
    let w = |o: &mut String, s: &str| o.push_str(s);
    w(
        &mut o,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"400\" \
         viewBox=\"0 0 720 400\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n\
         <rect width=\"720\" height=\"400\" fill=\"#ffffff\"/>\n",
    );
    let _ = writeln!(
        o,
        "<text x=\"360\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\
         V.90 spectral shaping at 56 000 bit/s, µ-law (ld = {LD}, DC-notch filter)</text>"
    );
    let _ = writeln!(o, "<defs>");
    for p in &panels {
        let _ = writeln!(
            o,
            "<clipPath id=\"{}\"><rect x=\"{:.1}\" y=\"{Y0:.1}\" width=\"{:.1}\" height=\"{:.1}\"/></clipPath>",
            p.id,
            p.x0,
            p.x1 - p.x0,
            Y1 - Y0
        );
    }
    let _ = writeln!(o, "</defs>");
    for p in &panels {
        // Grid, ticks and tick labels.
        let mut db_tick = DB_BOTTOM;
        while db_tick <= DB_TOP + 1e-9 {
            let yy = y(db_tick);
            let _ = writeln!(
                o,
                "<line x1=\"{:.1}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#e0e0e0\"/>",
                p.x0, p.x1
            );
            let _ = writeln!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                p.x0 - 5.0,
                yy + 4.0,
                signed(db_tick, 0)
            );
            db_tick += 10.0;
        }
        let mut f = 0.0;
        while f <= p.f_max + 1e-9 {
            let xx = p.x(f);
            let _ = writeln!(
                o,
                "<line x1=\"{xx:.1}\" y1=\"{Y0:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#e0e0e0\"/>",
                Y1 + 4.0
            );
            if (f / p.f_label).fract().abs() < 1e-9 {
                let _ = writeln!(
                    o,
                    "<text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{f:.0}</text>",
                    Y1 + 17.0
                );
            }
            f += p.f_tick;
        }
        // The 100 Hz edge of the band the requirement is about.
        let xx = p.x(100.0);
        let _ = writeln!(
            o,
            "<line x1=\"{xx:.1}\" y1=\"{Y0:.1}\" x2=\"{xx:.1}\" y2=\"{Y1:.1}\" stroke=\"#888888\" stroke-dasharray=\"4 3\"/>"
        );
        // One line per case.
        for (c, colour) in cases.iter().zip(COLOURS) {
            let mut pts = String::new();
            for (k, &v) in c.psd.iter().enumerate() {
                let hz = bin_hz(k);
                if hz > p.f_max + 1e-9 {
                    break;
                }
                let d = db(v / reference).max(DB_BOTTOM - 20.0);
                let _ = write!(pts, "{:.1},{:.1} ", p.x(hz), y(d));
            }
            let _ = writeln!(
                o,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.4\" \
                 stroke-linejoin=\"round\" clip-path=\"url(#{})\" points=\"{}\"/>",
                p.id,
                pts.trim_end()
            );
        }
        // Frame and axis title.
        let _ = writeln!(
            o,
            "<rect x=\"{:.1}\" y=\"{Y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#000000\"/>",
            p.x0,
            p.x1 - p.x0,
            Y1 - Y0
        );
        let title = if p.f_max < 4000.0 {
            "frequency (Hz), 0–500 Hz"
        } else {
            "frequency (Hz)"
        };
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{title}</text>",
            (p.x0 + p.x1) / 2.0,
            Y1 + 34.0
        );
    }
    let _ = writeln!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"start\" fill=\"#666666\" font-size=\"11\">100 Hz</text>",
        panels[1].x(100.0) + 3.0,
        Y0 + 12.0
    );
    let _ = writeln!(
        o,
        "<text transform=\"translate(20 {:.1}) rotate(-90)\" text-anchor=\"middle\">\
         PSD (dB re unshaped mean)</text>",
        (Y0 + Y1) / 2.0
    );
    // Legend, one row under the panels.
    let mut x = 120.0;
    for (c, colour) in cases.iter().zip(COLOURS) {
        // S with a subscript r.
        let label = format!(
            "S<tspan font-size=\"9\" dy=\"3\">r</tspan><tspan dx=\"3\" dy=\"-3\">= {}{}</tspan>",
            c.sr,
            if c.sr == 0 { " (unshaped)" } else { "" }
        );
        let _ = writeln!(
            o,
            "<line x1=\"{x:.1}\" y1=\"381\" x2=\"{:.1}\" y2=\"381\" stroke=\"{colour}\" stroke-width=\"2.5\"/>\
             <text x=\"{:.1}\" y=\"385\">{label}</text>",
            x + 24.0,
            x + 30.0
        );
        x += if c.sr == 0 { 170.0 } else { 100.0 };
    }
    let _ = writeln!(o, "</svg>");
    o
}

fn main() -> ExitCode {
    let path = std::env::args().nth(1).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../docs/figures/v90-shaping-spectrum.svg")
        },
        PathBuf::from,
    );
    let fft = Fft::new(N);
    let win = hann();
    let mut cases = Vec::new();
    for sr in 0..=3 {
        match run(sr, &fft, &win) {
            Ok(c) => {
                println!(
                    "S_r {sr} (K {}, S {}): decoded: all {} sign bits back",
                    c.k, c.s, c.sign_bits
                );
                cases.push(c);
            }
            Err(e) => {
                eprintln!("FAILED: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Err(e) = check_fft(&fft, &cases[0].signal) {
        eprintln!("FAILED: {e}");
        return ExitCode::FAILURE;
    }
    // The unshaped signal's total power is the reference of the table; its
    // mean density (total / one-sided bandwidth) that of the figure.
    let total = |c: &Case| band_power(&c.psd, 0.0, RATE);
    let p0 = total(&cases[0]);
    for c in &cases {
        let direct = c.signal.iter().map(|v| v * v).sum::<f64>() / c.signal.len() as f64;
        if (db(total(c) / direct)).abs() > 0.05 {
            eprintln!(
                "FAILED: S_r {}: Welch total {:.1} dB off the mean square",
                c.sr,
                db(total(c) / direct)
            );
            return ExitCode::FAILURE;
        }
    }
    let low0 = band_power(&cases[0].psd, BANDS[0].0, BANDS[0].1);
    println!();
    println!(
        "Power in each band, dB relative to the unshaped signal's total power \
         ({FRAMES} frames = {:.1} s, Welch: {N}-point Hann, 50 % overlap):",
        (FRAMES * FRAME) as f64 / RATE
    );
    println!();
    let mut head = String::from("| S_r | K + S | total |");
    let mut rule = String::from("|---|---|---:|");
    for (_, _, name) in BANDS {
        let _ = write!(head, " {name} |");
        rule.push_str("---:|");
    }
    head.push_str(" < 100 Hz vs unshaped |");
    rule.push_str("---:|");
    println!("{head}\n{rule}");
    let mut reductions = Vec::new();
    for c in &cases {
        let mut row = format!(
            "| {}{} | {} + {} | {} dB |",
            c.sr,
            if c.sr == 0 { " (unshaped)" } else { "" },
            c.k,
            c.s,
            signed(db(total(c) / p0), 1)
        );
        for (lo, hi, _) in BANDS {
            let _ = write!(
                row,
                " {} dB |",
                signed(db(band_power(&c.psd, lo, hi) / p0), 1)
            );
        }
        let r = db(band_power(&c.psd, BANDS[0].0, BANDS[0].1) / low0);
        if c.sr == 0 {
            row.push_str(" — |");
        } else {
            let _ = write!(row, " **{} dB** |", signed(r, 1));
            reductions.push((c.sr, -r));
        }
        println!("{row}");
    }
    println!();
    for (sr, r) in &reductions {
        println!(
            "S_r {sr}, ld {LD}: power below 100 Hz {r:.1} dB under the unshaped signal's ({})",
            if *r >= 10.0 {
                "≥ 10 dB: met"
            } else {
                "< 10 dB: not met"
            }
        );
    }
    // A white signal of the unshaped signal's power reads p0 in every bin.
    let figure = svg(&cases, p0);
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("FAILED: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    let path = match path.parent().map(std::fs::canonicalize) {
        Some(Ok(dir)) => dir.join(path.file_name().unwrap_or_default()),
        _ => path,
    };
    if let Err(e) = std::fs::write(&path, &figure) {
        eprintln!("FAILED: {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("\nwrote {} ({} bytes)", path.display(), figure.len());
    ExitCode::SUCCESS
}
