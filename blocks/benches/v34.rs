//! Throughput of the V.34 data pump's kernels (run with
//! `cargo bench -p modemflow-blocks --bench v34`); targets in
//! docs/performance.md.

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use modemflow_blocks::v34::constellation::Point;
use modemflow_blocks::v34::mapper::to_c32;
use modemflow_blocks::v34::modulator::Modulator;
use modemflow_blocks::v34::precoder::Coefficients;
use modemflow_blocks::v34::rates::{Mode, SymbolRate};
use modemflow_blocks::v34::shell::ShellTables;
use modemflow_blocks::v34::trellis::{Code, TrellisEncoder};
use modemflow_blocks::v34::viterbi::Viterbi;
use num_complex::Complex32;

fn main() {
    divan::main();
}

/// Pseudo-random numbers, the same every run.
fn randoms(n: usize) -> Vec<u64> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        })
        .collect()
}

const FRAMES: usize = 1 << 16;

/// 33 600 bit/s at 3429 baud, expanded: M = 13, K = 27.
#[divan::bench]
fn shell_mapper(bencher: Bencher) {
    let t = ShellTables::get(13);
    let r0: Vec<u64> = randoms(FRAMES).iter().map(|r| r % (1 << 27)).collect();
    let mut out = vec![[0u8; 8]; FRAMES];
    bencher.counter(ItemsCount::new(FRAMES)).bench_local(|| {
        for (o, &r) in out.iter_mut().zip(&r0) {
            *o = t.map(black_box(r));
        }
    });
}

#[divan::bench]
fn shell_demapper(bencher: Bencher) {
    let t = ShellTables::get(13);
    let rings: Vec<[u8; 8]> = randoms(FRAMES)
        .iter()
        .map(|r| t.map(r % (1 << 27)))
        .collect();
    let mut out = vec![0u64; FRAMES];
    bencher.counter(ItemsCount::new(FRAMES)).bench_local(|| {
        for (o, r) in out.iter_mut().zip(&rings) {
            *o = t.demap(black_box(r)).unwrap_or(0);
        }
    });
}

const SYMBOLS_4D: usize = 1 << 15;

/// Noisy channel points of the 16-, 32- or 64-state code.
fn coded(code: Code) -> (Mode, Vec<Complex32>) {
    let mode = Mode::new(33600, 3429, false).unwrap();
    let mut enc = TrellisEncoder::new(&mode, code, Coefficients::default());
    let r = randoms(SYMBOLS_4D);
    let mut z = Vec::with_capacity(2 * SYMBOLS_4D);
    for (i, &v) in r.iter().enumerate() {
        let a: Point = (4 * ((v % 8) as i32) - 15, 4 * ((v >> 8) % 8) as i32 - 15);
        let b: Point = (
            4 * ((v >> 16) % 8) as i32 - 15,
            4 * ((v >> 24) % 8) as i32 - 15,
        );
        let (y0, y1) = enc.encode(a, b);
        let n = ((i % 7) as f32 - 3.0) * 0.05;
        z.push(to_c32(y0) + Complex32::new(n, -n));
        z.push(to_c32(y1) + Complex32::new(-n, n * 0.5));
    }
    (mode, z)
}

#[divan::bench(args = [16, 32, 64])]
fn viterbi(bencher: Bencher, states: i64) {
    let code = Code::from_states(states).unwrap();
    let (mode, z) = coded(code);
    bencher
        .counter(ItemsCount::new(SYMBOLS_4D))
        .bench_local(|| {
            let mut v = Viterbi::new(&mode, code, 32);
            let mut out = Vec::with_capacity(SYMBOLS_4D);
            for p in z.chunks_exact(2) {
                v.push(p[0], p[1], &mut out);
            }
            black_box(out.len())
        });
}

#[divan::bench]
fn modulator_3429(bencher: Bencher) {
    let s = SymbolRate::by_name(3429).unwrap();
    let pts: Vec<Complex32> = randoms(1 << 16)
        .iter()
        .map(|r| {
            Complex32::new(
                (r % 7) as f32 * 0.3 - 1.0,
                (r >> 8) as f32 % 5.0 * 0.3 - 0.6,
            )
        })
        .collect();
    let mut out = Vec::with_capacity(1 << 18);
    bencher.counter(ItemsCount::new(pts.len())).bench_local(|| {
        let mut m = Modulator::new(s, false, -12.0, 0.1, 0);
        out.clear();
        for c in pts.chunks(1024) {
            m.push(c);
            m.produce(&mut out, usize::MAX);
        }
        black_box(out.len())
    });
}
