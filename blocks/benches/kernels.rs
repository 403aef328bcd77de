//! Throughput of the kernels with speed targets (run with `cargo bench -p modemflow-blocks`).

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use modemflow_blocks::core::fir::{design, Fir, Response};
use modemflow_blocks::g711::law::{Law, G711};
use modemflow_blocks::v34::scrambler::{Descrambler, Polynomial, Scrambler};
use modemflow_blocks::v8::fsk::Channel;
use modemflow_blocks::v8::fsk_rx::FskDemodulator;
use modemflow_blocks::v8::fsk_tx::FskModulator;

const N: usize = 1 << 20;

fn main() {
    divan::main();
}

#[divan::bench(args = [Polynomial::Gpc, Polynomial::Gpa])]
fn scrambler(bencher: Bencher, poly: Polynomial) {
    let input: Vec<u8> = (0..N)
        .map(|i| ((i * 2_654_435_761) >> 17 & 1) as u8)
        .collect();
    let mut out = vec![0u8; N];
    let mut s = Scrambler::new(poly);
    bencher
        .counter(ItemsCount::new(N))
        .bench_local(|| s.process(black_box(&input), black_box(&mut out)));
}

#[divan::bench(args = [Polynomial::Gpc, Polynomial::Gpa])]
fn descrambler(bencher: Bencher, poly: Polynomial) {
    let input: Vec<u8> = (0..N)
        .map(|i| ((i * 2_654_435_761) >> 17 & 1) as u8)
        .collect();
    let mut out = vec![0u8; N];
    let mut d = Descrambler::new(poly);
    bencher
        .counter(ItemsCount::new(N))
        .bench_local(|| d.process(black_box(&input), black_box(&mut out)));
}

#[divan::bench(args = [Law::Mu, Law::A])]
fn g711_encode(bencher: Bencher, law: Law) {
    let input: Vec<i16> = (0..N).map(|i| (i as i32 * 7919) as i16).collect();
    let mut out = vec![0u8; N];
    let g = G711::new(law);
    bencher
        .counter(ItemsCount::new(N))
        .bench_local(|| g.encode(black_box(&input), black_box(&mut out)));
}

#[divan::bench(args = [Law::Mu, Law::A])]
fn g711_decode(bencher: Bencher, law: Law) {
    let input: Vec<u8> = (0..N).map(|i| (i * 31) as u8).collect();
    let mut out = vec![0i16; N];
    let g = G711::new(law);
    bencher
        .counter(ItemsCount::new(N))
        .bench_local(|| g.decode(black_box(&input), black_box(&mut out)));
}

#[divan::bench]
fn fir_64_taps(bencher: Bencher) {
    let taps = design(Response::Lowpass, 3000.0, 0.0, 64).expect("valid design");
    let input: Vec<f32> = (0..N)
        .map(|i| ((i * 37 % 1000) as f32 - 500.0) / 500.0)
        .collect();
    let mut out = vec![0.0f32; N];
    let mut f = Fir::new(&taps);
    bencher
        .counter(ItemsCount::new(N))
        .bench_local(|| f.process(black_box(&input), black_box(&mut out)));
}

#[divan::bench]
fn fsk_demodulator(bencher: Bencher) {
    let bits: Vec<u8> = (0..N / 26 + 1)
        .map(|i| ((i * 2_654_435_761) >> 17 & 1) as u8)
        .collect();
    let mut signal = vec![0.0f32; N];
    FskModulator::new(Channel::ONE, 300.0, -14.0).modulate(&bits, &mut signal);
    let mut d = FskDemodulator::new(Channel::ONE, 300.0, -45.5).expect("valid design");
    let mut out = Vec::with_capacity(N / 20);
    bencher.counter(ItemsCount::new(N)).bench_local(|| {
        out.clear();
        d.process(black_box(&signal), black_box(&mut out), usize::MAX)
    });
}

/// The V.90 equalizer on a clean 56 000 bit/s line: 2040 training symbols,
/// then 2^20 data symbols decision-directed with its NLMS update, per
/// iteration (the least-squares training included). Args: (ff_taps, fb_taps):
/// (16, 0) is a 16-tap linear LMS equalizer, (32, 64) the default DFE.
#[divan::bench(args = [(16, 0), (32, 64)])]
fn pcm_equalizer(bencher: Bencher, taps: (usize, usize)) {
    use modemflow_blocks::v90::constellation::Constellation;
    use modemflow_blocks::v90::equalizer::{Config, PcmEqualizer};
    use modemflow_blocks::v90::training::Trn1d;
    use modemflow_blocks::v90::ucode::linear;
    let c = Constellation::design(Law::Mu, 36, 127).expect("56 000 bit/s design");
    let mut trn = Trn1d::new(Law::Mu, 88);
    let mut line: Vec<f32> = (0..2040).map(|_| trn.next_value()).collect();
    line.extend((0..N).map(|i| {
        let iv = c.interval(i % 6);
        let u = iv[(i * 2_654_435_761) % iv.len()];
        let v = linear(Law::Mu, u) as f32 / 32768.0;
        if (i * 40_503) >> 7 & 1 == 0 {
            v
        } else {
            -v
        }
    }));
    line.extend((0..192).map(|_| trn.next_value()));
    let cfg = Config {
        law: Law::Mu,
        training: 2040,
        u_info: 88,
        ff_taps: taps.0,
        fb_taps: taps.1,
        mu: 0.002,
        timing: false,
    };
    let mut out = Vec::with_capacity(8192);
    bencher.counter(ItemsCount::new(N)).bench_local(|| {
        let mut eq = PcmEqualizer::new(cfg.clone(), &c);
        // In the chunks a scheduler hands a block, which passes each chunk's
        // symbols on before taking the next.
        let mut n = 0;
        for chunk in black_box(&line).chunks(4096) {
            eq.push(chunk, &mut out);
            n += black_box(&out).len();
            out.clear();
        }
        eq.finish(&mut out);
        assert_eq!(n + out.len(), N);
        out.clear();
    });
}
