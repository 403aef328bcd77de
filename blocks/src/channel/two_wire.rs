//! A 2-wire telephone line between two ends, A and B (`two_wire_line`).
//!
//! A subscriber loop carries both directions on one pair of wires. At each
//! end a hybrid splits the pair into a transmit and a receive path, and no
//! hybrid is perfect: part of an end's own transmit signal leaks into its own
//! receiver (the near echo), and part of the signal that reaches the far end
//! leaks back into the pair there and returns after a round trip (the far
//! echo). So what end A receives is
//!
//! ```text
//! received_A[n] = g_loss·b[n − D] + g_echo·a[n − E] + g_far·a[n − 2D] + noise_A[n]
//! ```
//!
//! and symmetrically for B, with D the one-way delay, E the delay of the
//! near echo, g_loss the line's attenuation, g_echo the trans-hybrid loss and
//! g_far = g_loss²·g_echo (out over the line, through the far hybrid, back
//! over the line). Modems meet exactly these impairments on a real call:
//! echo they must tolerate (or cancel) and a far signal that is weaker than
//! their own.
//!
//! Two modems talking over this line form a feedback loop (each answers what
//! it hears), so the line is a delay element: with P = min(D, E) its outputs
//! run P samples ahead of its inputs. It emits P samples of noise before any
//! input, then one sample per output for every pair of input samples, so the
//! output only ever depends on inputs it has already seen.

use super::awgn::Awgn;
use crate::core::tone::SAMPLE_RATE;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, Input, ItemType, ParamSpec, PortSpec, Registry, Status, Value,
    WorkIo,
};

/// Largest magnitude an input sample keeps: three path terms of at most this
/// (each gain is at most 1) plus noise cannot overflow to infinity, and it is
/// far above any level a real signal has, so it never changes one.
const INPUT_LIMIT: f32 = f32::MAX / 4.0;

/// Mixed into the seed of end B's noise so the two receivers draw from
/// different streams (an arbitrary odd 64-bit constant, the golden ratio's
/// fraction; PCG64's seeding spreads even a one-bit difference).
const B_NOISE_SEED_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Milliseconds to whole samples at the project's rate, at least one, so a
/// line always has some delay (which a feedback loop needs).
pub fn ms_to_samples(ms: f64) -> usize {
    ((ms * SAMPLE_RATE / 1000.0).round() as usize).max(1)
}

/// Attenuation in dB to an amplitude gain. A line is passive: negative (or
/// NaN) losses count as 0 dB, so no gain exceeds 1.
fn gain(loss_db: f64) -> f32 {
    10f64.powf(-loss_db.max(0.0) / 20.0) as f32
}

/// What a line does to an input sample: non-finite counts as 0, anything
/// beyond ±[`INPUT_LIMIT`] is clamped to it.
fn sanitize(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-INPUT_LIMIT, INPUT_LIMIT)
    } else {
        0.0
    }
}

/// The line's state: the last max(2D, E) input samples of each end, the
/// gains, and one seeded noise generator per receiver. One noise draw per
/// output sample, in order, so the output does not depend on chunking.
#[derive(Clone, Debug)]
pub struct TwoWireLine {
    delay: usize,
    echo_delay: usize,
    priming: usize,
    priming_left: usize,
    loss_db: f64,
    echo_loss_db: f64,
    g_loss: f32,
    g_echo: f32,
    g_far: f32,
    /// Ring buffers of past inputs; `pos` is where the next pair goes.
    hist_a: Vec<f32>,
    hist_b: Vec<f32>,
    pos: usize,
    noise_a: Awgn,
    noise_b: Awgn,
    /// Noise-free outputs of one call, before the noise is added.
    clean_a: Vec<f32>,
    clean_b: Vec<f32>,
}

impl TwoWireLine {
    /// A line with one-way delay `delay` and near-echo delay `echo_delay`
    /// (in samples, each at least 1), attenuation `loss_db`, trans-hybrid
    /// loss `echo_loss_db` (both in dB, negative counts as 0), and white
    /// Gaussian noise of `noise_dbm0` at each receiver. End A's noise is
    /// seeded with `seed`, end B's with a different seed derived from it.
    pub fn new(
        delay: usize,
        echo_delay: usize,
        loss_db: f64,
        echo_loss_db: f64,
        noise_dbm0: f64,
        seed: u64,
    ) -> Self {
        let delay = delay.max(1);
        let echo_delay = echo_delay.max(1);
        let priming = delay.min(echo_delay);
        let history = (2 * delay).max(echo_delay);
        let mut line = TwoWireLine {
            delay,
            echo_delay,
            priming,
            priming_left: priming,
            loss_db: 0.0,
            echo_loss_db: 0.0,
            g_loss: 1.0,
            g_echo: 1.0,
            g_far: 1.0,
            hist_a: vec![0.0; history],
            hist_b: vec![0.0; history],
            pos: 0,
            noise_a: Awgn::new(noise_dbm0, seed),
            noise_b: Awgn::new(noise_dbm0, seed ^ B_NOISE_SEED_MIX),
            clean_a: Vec::new(),
            clean_b: Vec::new(),
        };
        line.set_losses(loss_db, echo_loss_db);
        line
    }

    /// The one-way delay D in samples.
    pub fn delay(&self) -> usize {
        self.delay
    }

    /// The near-echo delay E in samples.
    pub fn echo_delay(&self) -> usize {
        self.echo_delay
    }

    /// P = min(D, E): how many samples each output runs ahead of the inputs.
    pub fn priming(&self) -> usize {
        self.priming
    }

    /// How many of the P leading output samples have not been emitted yet.
    pub fn priming_left(&self) -> usize {
        self.priming_left
    }

    /// Sets the attenuation of the far end's signal, in dB.
    pub fn set_loss(&mut self, loss_db: f64) {
        self.set_losses(loss_db, self.echo_loss_db);
    }

    /// Sets the trans-hybrid loss of both ends, in dB.
    pub fn set_echo_loss(&mut self, echo_loss_db: f64) {
        self.set_losses(self.loss_db, echo_loss_db);
    }

    /// Sets the noise power at each receiver, in dBm0.
    pub fn set_noise(&mut self, level_dbm0: f64) {
        self.noise_a.set_level(level_dbm0);
        self.noise_b.set_level(level_dbm0);
    }

    fn set_losses(&mut self, loss_db: f64, echo_loss_db: f64) {
        self.loss_db = loss_db;
        self.echo_loss_db = echo_loss_db;
        self.g_loss = gain(loss_db);
        self.g_echo = gain(echo_loss_db);
        // Out over the line, back through the far hybrid, back over the line.
        self.g_far = self.g_loss * self.g_loss * self.g_echo;
    }

    /// Appends to `out_a` and `out_b` (what ends A and B receive) first any
    /// leading samples still due, then one sample each for every pair
    /// `(a[i], b[i])` of transmitted samples, at most `max_out` samples per
    /// output in all. Returns how many input pairs it used; the caller keeps
    /// the rest (and any unpaired tail of the longer input) for later.
    pub fn process(
        &mut self,
        a: &[f32],
        b: &[f32],
        out_a: &mut Vec<f32>,
        out_b: &mut Vec<f32>,
        max_out: usize,
    ) -> usize {
        let lead = self.priming_left.min(max_out);
        self.priming_left -= lead;
        let pairs = a.len().min(b.len()).min(max_out - lead);
        self.clean_a.clear();
        self.clean_b.clear();
        // Before any input every path is still in flight: silence.
        self.clean_a.resize(lead, 0.0);
        self.clean_b.resize(lead, 0.0);
        // Input n gives output n + P, which reaches back D − P samples for
        // the far signal, E − P for the near echo and 2D − P for the far
        // echo; all of them are at most max(2D, E) − 1.
        let h = self.hist_a.len();
        let back = |k: usize, pos: usize| (pos + h - k) % h;
        let (k_far, k_echo, k_round) = (
            self.delay - self.priming,
            self.echo_delay - self.priming,
            2 * self.delay - self.priming,
        );
        for (&xa, &xb) in a[..pairs].iter().zip(&b[..pairs]) {
            let pos = self.pos;
            self.hist_a[pos] = sanitize(xa);
            self.hist_b[pos] = sanitize(xb);
            let (ha, hb) = (&self.hist_a, &self.hist_b);
            let (far, echo, round) = (back(k_far, pos), back(k_echo, pos), back(k_round, pos));
            self.clean_a
                .push(self.g_loss * hb[far] + self.g_echo * ha[echo] + self.g_far * ha[round]);
            self.clean_b
                .push(self.g_loss * ha[far] + self.g_echo * hb[echo] + self.g_far * hb[round]);
            self.pos = (pos + 1) % h;
        }
        for (clean, noise, out) in [
            (&self.clean_a, &mut self.noise_a, out_a),
            (&self.clean_b, &mut self.noise_b, out_b),
        ] {
            let start = out.len();
            out.resize(start + clean.len(), 0.0);
            noise.process(clean, &mut out[start..]);
        }
        pairs
    }
}

struct TwoWireBlock(TwoWireLine);

impl Block for TwoWireBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let space = io.outputs[0].space().min(io.outputs[1].space());
        let (out_a, out_b) = io.outputs.split_at_mut(1);
        let pairs = self.0.process(
            io.inputs[0].items::<f32>(),
            io.inputs[1].items::<f32>(),
            out_a[0].items::<f32>(),
            out_b[0].items::<f32>(),
            space,
        );
        for input in io.inputs.iter_mut() {
            input.consume(pairs);
        }
        // Once one input has ended and been used up, what is left on the
        // other has no partner and never will.
        let done = self.0.priming_left() == 0 && io.inputs.iter().any(Input::finished);
        Ok(if done { Status::Done } else { Status::Ok })
    }

    fn set_param(&mut self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value.as_f64()) {
            ("loss", Some(l)) => self.0.set_loss(l),
            ("echo_loss", Some(l)) => self.0.set_echo_loss(l),
            ("noise", Some(l)) => self.0.set_noise(l),
            _ => {
                return Err(format!(
                    "parameter `{name}` cannot be changed while running"
                ))
            }
        }
        Ok(())
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(TwoWireBlock(TwoWireLine::new(
        ms_to_samples(args.float("delay")?),
        ms_to_samples(args.float("echo_delay")?),
        args.float("loss")?,
        args.float("echo_loss")?,
        args.float("noise")?,
        args.int("seed")? as u64,
    ))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "two_wire_line",
        "Channel",
        "a 2-wire telephone line between two ends, with echoes and noise",
        make,
    )
    .doc(
        "Joins end A and end B over one simulated pair of wires carrying both directions, \
         so two modems can talk to each other through it. Each end receives the other end's \
         signal `loss` dB down after `delay`; its own signal leaking through its own hybrid \
         (near echo), `echo_loss` dB below its transmit level after `echo_delay`; its own \
         signal reflected at the far hybrid (far echo), 2·`loss` + `echo_loss` dB down after \
         2·`delay`; and white Gaussian noise of `noise` dBm0, independent at the two ends \
         (end A's seeded with `seed`, end B's with a seed derived from it). Delays are \
         rounded to whole samples at 8000 Hz, at least one.\n\n\
         Before any input both outputs carry min(`delay`, `echo_delay`) samples of noise \
         alone; after that every pair of input samples gives one sample on each output, so \
         the outputs run that far ahead of the inputs and the line may close a feedback loop \
         (two modems answering each other). It works on pairs: it needs items on both \
         inputs, and it ends once either input has ended and been used up; whatever is \
         left on the other then has no partner and is not used. Non-finite input samples count as 0; finite ones \
         beyond ±f32::MAX/4 are clamped to it so that the outputs stay finite.",
    )
    .param(
        ParamSpec::float("delay", "one-way delay from one end to the other")
            .default(10.0)
            .range(0.125, 500.0)
            .unit("ms"),
    )
    .param(
        ParamSpec::float("loss", "attenuation of the far end's signal")
            .default(20.0)
            .range(0.0, 60.0)
            .unit("dB")
            .live(),
    )
    .param(
        ParamSpec::float(
            "echo_loss",
            "trans-hybrid loss: how far below an end's own transmit level its near echo arrives",
        )
        .default(6.0)
        .range(0.0, 80.0)
        .unit("dB")
        .live(),
    )
    .param(
        ParamSpec::float("echo_delay", "delay of the near echo")
            .default(1.0)
            .range(0.125, 50.0)
            .unit("ms"),
    )
    .param(
        ParamSpec::float("noise", "noise power at each receiver")
            .default(-70.0)
            .range(-150.0, 0.0)
            .unit("dBm0")
            .live(),
    )
    .param(ParamSpec::int("seed", "random generator seed").default(1))
    .input(PortSpec::new("a", ItemType::F32, "what end A transmits"))
    .input(PortSpec::new("b", ItemType::F32, "what end B transmits"))
    .output(PortSpec::new("a", ItemType::F32, "what end A receives"))
    .output(PortSpec::new("b", ItemType::F32, "what end B receives"))
    .with_delay()
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::level::rms_f32_to_dbm0;
    use crate::core::tone::Tone;
    use crate::testutil::{chunked, items, make as build, GARBAGE_F32};
    use modemflow_flow::{EventList, Output};

    /// Noise this far down is below anything the tests look at (its RMS is
    /// about 1.5e-8), so the line is noise-free to within [`TINY`].
    const QUIET: f64 = -150.0;
    const TINY: f32 = 1e-6;

    /// What a run of the block produced, and whether it said it was done.
    struct Run2 {
        a: Vec<f32>,
        b: Vec<f32>,
        done: bool,
    }

    /// Drives the block as a scheduler would: step k pushes the k-th chunk of
    /// `a` (sizes cycling through `sizes_a`) and of `b` (through `sizes_b`),
    /// each work call gets `cap` items of output space, and the block is
    /// called until it makes no progress; then both inputs end.
    fn run2(
        block: &mut dyn Block,
        a: &[f32],
        b: &[f32],
        sizes_a: &[usize],
        sizes_b: &[usize],
        cap: usize,
    ) -> Run2 {
        let (ca, cb) = (chunked(a, sizes_a), chunked(b, sizes_b));
        let mut ins = [Input::new(ItemType::F32), Input::new(ItemType::F32)];
        let mut outs = [
            Output::new(ItemType::F32, cap),
            Output::new(ItemType::F32, cap),
        ];
        let mut events = EventList::new();
        let mut got = [Vec::new(), Vec::new()];
        let mut step = |ins: &mut [Input; 2], got: &mut [Vec<f32>; 2]| {
            let before = (ins[0].available(), ins[1].available());
            let status = block
                .work(&mut WorkIo::new(ins, &mut outs, &mut events))
                .unwrap();
            let mut produced = false;
            for (o, g) in outs.iter_mut().zip(got.iter_mut()) {
                assert!(o.len() <= cap, "wrote {} items into space {cap}", o.len());
                let buf = o.take(ItemType::F32.new_buf(cap));
                produced |= !buf.is_empty();
                g.extend(items::<f32>(&buf));
            }
            let consumed = (ins[0].available(), ins[1].available()) != before;
            (status, produced || consumed)
        };
        for k in 0..ca.len().max(cb.len()) {
            if let Some(c) = ca.get(k) {
                ins[0].push(c);
            }
            if let Some(c) = cb.get(k) {
                ins[1].push(c);
            }
            loop {
                let (status, progress) = step(&mut ins, &mut got);
                assert_eq!(status, Status::Ok, "done before the inputs ended");
                if !progress {
                    break;
                }
            }
        }
        ins[0].set_eos();
        ins[1].set_eos();
        let mut done = false;
        for _ in 0..10_000_000 {
            let (status, progress) = step(&mut ins, &mut got);
            if status == Status::Done {
                done = true;
                break;
            }
            if !progress {
                break;
            }
        }
        let [a, b] = got;
        Run2 { a, b, done }
    }

    fn line(params: &[(&str, Value)]) -> Box<dyn Block> {
        build(&spec(), params).unwrap()
    }

    /// Runs the block over the whole of `a` and `b` at once.
    fn whole(params: &[(&str, Value)], a: &[f32], b: &[f32]) -> Run2 {
        let n = a.len().max(b.len()).max(1);
        run2(&mut *line(params), a, b, &[n], &[n], 1 << 20)
    }

    fn level_dbm0(x: &[f32]) -> f64 {
        let p = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
        rms_f32_to_dbm0(p.sqrt())
    }

    fn db_to_gain(db: f64) -> f32 {
        10f64.powf(-db / 20.0) as f32
    }

    #[test]
    fn impulse_reaches_the_far_end_after_the_delay_and_echoes_back() {
        // (delay ms, echo_delay ms, D, E): E < D, E > D, both one sample,
        // E = 2D (near and far echo land together) and a rounded delay.
        for (delay, echo_delay, d, e) in [
            (10.0, 1.0, 80, 8),
            (0.5, 2.5, 4, 20),
            (0.125, 0.125, 1, 1),
            (1.0, 2.0, 8, 16),
            (2.3, 0.2, 18, 2),
        ] {
            let (loss, echo_loss) = (20.0, 6.0);
            let p = [
                ("delay", Value::Float(delay)),
                ("echo_delay", Value::Float(echo_delay)),
                ("loss", Value::Float(loss)),
                ("echo_loss", Value::Float(echo_loss)),
                ("noise", Value::Float(QUIET)),
            ];
            let n = 3 * d + e + 10;
            let mut impulse = vec![0.0f32; n];
            impulse[0] = 1.0;
            let silence = vec![0.0f32; n];
            for from_a in [true, false] {
                let r = if from_a {
                    whole(&p, &impulse, &silence)
                } else {
                    whole(&p, &silence, &impulse)
                };
                let (near, far) = if from_a { (&r.a, &r.b) } else { (&r.b, &r.a) };
                let mut want_far = vec![0.0f32; n];
                want_far[d] = db_to_gain(loss);
                let mut want_near = vec![0.0f32; n];
                want_near[e] += db_to_gain(echo_loss);
                want_near[2 * d] += db_to_gain(2.0 * loss + echo_loss);
                for m in 0..n {
                    let at = format!("delay {delay} echo {echo_delay} from_a {from_a} n={m}");
                    assert!((far[m] - want_far[m]).abs() < TINY, "far {at}: {}", far[m]);
                    assert!(
                        (near[m] - want_near[m]).abs() < TINY,
                        "near {at}: {}",
                        near[m]
                    );
                }
            }
        }
    }

    #[test]
    fn sine_arrives_loss_down_and_echoes_echo_loss_down() {
        let tx_level = -10.0;
        let n = 8000;
        let mut sine = vec![0.0f32; n];
        Tone::new(1000.0, tx_level, 0.3).fill(&mut sine);
        let silence = vec![0.0f32; n];
        // From the start of the far echo on, over whole 8-sample periods.
        let settled = |x: &[f32]| level_dbm0(&x[800..n]);
        for loss in [0.0, 3.0, 20.0, 60.0] {
            let p = [("loss", Value::Float(loss)), ("noise", Value::Float(QUIET))];
            let r = whole(&p, &silence, &sine);
            let got = settled(&r.a);
            assert!((got - (tx_level - loss)).abs() < 0.1, "loss {loss}: {got}");
        }
        // Enough loss that the far echo (2·loss + echo_loss down) is 60 dB
        // below the near echo and does not move its level.
        for echo_loss in [0.0, 6.0, 30.0] {
            let p = [
                ("loss", Value::Float(30.0)),
                ("echo_loss", Value::Float(echo_loss)),
                ("noise", Value::Float(QUIET)),
            ];
            let r = whole(&p, &sine, &silence);
            let got = settled(&r.a);
            assert!(
                (got - (tx_level - echo_loss)).abs() < 0.1,
                "echo_loss {echo_loss}: {got}"
            );
        }
    }

    #[test]
    fn noise_has_its_level_differs_per_end_and_repeats_with_the_seed() {
        let n = 3 * 8000;
        let silence = vec![0.0f32; n];
        for noise in [-70.0, -30.0, 0.0] {
            let p = [("noise", Value::Float(noise)), ("seed", Value::Int(9))];
            let r = whole(&p, &silence, &silence);
            for (end, x) in [("a", &r.a), ("b", &r.b)] {
                let got = level_dbm0(x);
                assert!((got - noise).abs() < 0.3, "{noise} dBm0 at {end}: {got}");
            }
            let dot = |x: &[f32], y: &[f32]| {
                x.iter()
                    .zip(y)
                    .map(|(&u, &v)| f64::from(u) * f64::from(v))
                    .sum::<f64>()
            };
            let rho = dot(&r.a, &r.b) / (dot(&r.a, &r.a) * dot(&r.b, &r.b)).sqrt();
            assert!(rho.abs() < 0.05, "{noise} dBm0: correlation {rho}");
            let again = whole(&p, &silence, &silence);
            assert_eq!((&again.a, &again.b), (&r.a, &r.b), "same seed");
            let other = whole(
                &[("noise", Value::Float(noise)), ("seed", Value::Int(10))],
                &silence,
                &silence,
            );
            assert_ne!(other.a, r.a, "another seed");
            assert_ne!(other.b, r.b, "another seed");
        }
    }

    #[test]
    fn primes_before_any_input_then_one_output_per_input_pair() {
        // (delay ms, echo_delay ms, P)
        for (delay, echo_delay, lead) in [(10.0, 1.0, 8), (0.5, 2.0, 4), (0.125, 50.0, 1)] {
            let p = [
                ("delay", Value::Float(delay)),
                ("echo_delay", Value::Float(echo_delay)),
            ];
            let mut block = line(&p);
            // No input at all yet: only the leading samples come out.
            let r = run2(&mut *block, &[], &[], &[1], &[1], 4096);
            assert_eq!((r.a.len(), r.b.len()), (lead, lead), "{delay}/{echo_delay}");
            // Input on one end only gives nothing more: no partner yet.
            let mut block = line(&p);
            let r = run2(&mut *block, &[0.5; 100], &[], &[7], &[1], 4096);
            assert_eq!((r.a.len(), r.b.len()), (lead, lead), "one input only");
            assert!(r.done, "an ended input ends the line");
            // N pairs give N + P samples on each output, and then it is done.
            for n in [1, 5, 1000] {
                let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
                let r = whole(&p, &x, &x);
                assert_eq!((r.a.len(), r.b.len()), (n + lead, n + lead), "{n} pairs");
                assert!(r.done, "{n} pairs");
            }
        }
    }

    #[test]
    fn outputs_never_depend_on_input_not_yet_seen() {
        // Inputs that agree up to sample k and differ after it give outputs
        // that agree up to sample k + P.
        let p = [
            ("delay", Value::Float(2.0)),
            ("echo_delay", Value::Float(0.5)),
        ];
        let lead = 4;
        let n = 400;
        let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.21).sin()).collect();
        let y: Vec<f32> = (0..n).map(|i| (i as f32 * 0.13).cos()).collect();
        let base = whole(&p, &x, &y);
        for k in [0, 1, 50, 399] {
            let mut x2 = x.clone();
            let mut y2 = y.clone();
            for v in &mut x2[k..] {
                *v += 0.25;
            }
            for v in &mut y2[k..] {
                *v -= 0.25;
            }
            let r = whole(&p, &x2, &y2);
            assert_eq!(r.a[..k + lead], base.a[..k + lead], "a, change at {k}");
            assert_eq!(r.b[..k + lead], base.b[..k + lead], "b, change at {k}");
            assert_ne!(r.a, base.a, "a, change at {k}");
            assert_ne!(r.b, base.b, "b, change at {k}");
        }
    }

    #[test]
    fn same_output_whatever_the_chunking() {
        let n = 10_000;
        let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.05).sin()).collect();
        let b: Vec<f32> = (0..n).map(|i| 0.5 * (i as f32 * 0.011).cos()).collect();
        let p = [
            ("delay", Value::Float(3.0)),
            ("echo_delay", Value::Float(0.75)),
            ("noise", Value::Float(-40.0)),
            ("seed", Value::Int(77)),
        ];
        let want = whole(&p, &a, &b);
        assert_eq!(want.a.len(), n + 6);
        for (sa, sb, cap) in [
            (&[1][..], &[1][..], 1),
            (&[7], &[7], 7),
            (&[333], &[333], 64),
            (&[4096], &[4096], 4096),
            (&[1, 7, 333], &[4096, 1], 100),
            (&[7], &[333], 3),
        ] {
            let r = run2(&mut *line(&p), &a, &b, sa, sb, cap);
            assert!(r.done);
            assert_eq!(r.a, want.a, "{sa:?} {sb:?} cap {cap}");
            assert_eq!(r.b, want.b, "{sa:?} {sb:?} cap {cap}");
        }
    }

    #[test]
    fn garbage_input_never_panics_and_output_stays_finite() {
        let a = crate::testutil::garbage_f32(3000, 1);
        let b = crate::testutil::garbage_f32(3000, 7);
        for loss in [0.0, 20.0] {
            let p = [
                ("loss", Value::Float(loss)),
                ("echo_loss", Value::Float(0.0)),
                ("delay", Value::Float(0.25)),
                ("echo_delay", Value::Float(0.5)),
                ("noise", Value::Float(0.0)),
            ];
            for (sa, sb) in [(&[1][..], &[1][..]), (&[7], &[333]), (&[4096], &[4096])] {
                let r = run2(&mut *line(&p), &a, &b, sa, sb, 333);
                assert_eq!(r.a.len(), a.len() + 2);
                assert!(r.a.iter().chain(&r.b).all(|v| v.is_finite()));
            }
        }
        // Non-finite samples count as silence.
        let p = [("noise", Value::Float(-20.0))];
        let nonfinite: Vec<f32> = (0..900).map(|i| GARBAGE_F32[i % 3]).collect();
        let silence = vec![0.0f32; 900];
        let r = whole(&p, &nonfinite, &nonfinite);
        let want = whole(&p, &silence, &silence);
        assert_eq!((r.a, r.b), (want.a, want.b));
    }

    #[test]
    fn live_parameters_change_the_running_line() {
        let mut block = line(&[("noise", Value::Float(QUIET))]);
        block.set_param("loss", &Value::Float(6.0)).unwrap();
        block.set_param("echo_loss", &Value::Float(12.0)).unwrap();
        assert!(block.set_param("delay", &Value::Float(5.0)).is_err());
        assert!(block.set_param("echo_delay", &Value::Float(5.0)).is_err());
        assert!(block.set_param("seed", &Value::Int(3)).is_err());
        let n = 400;
        let mut impulse = vec![0.0f32; n];
        impulse[0] = 1.0;
        let r = run2(&mut *block, &impulse, &vec![0.0; n], &[n], &[n], 4096);
        assert!((r.b[80] - db_to_gain(6.0)).abs() < TINY, "{}", r.b[80]);
        assert!((r.a[8] - db_to_gain(12.0)).abs() < TINY, "{}", r.a[8]);
        assert!((r.a[160] - db_to_gain(24.0)).abs() < TINY, "{}", r.a[160]);

        let mut block = line(&[("noise", Value::Float(QUIET))]);
        block.set_param("noise", &Value::Float(-20.0)).unwrap();
        let silence = vec![0.0f32; 24_000];
        let r = run2(&mut *block, &silence, &silence, &[999], &[999], 512);
        assert!((level_dbm0(&r.a) + 20.0).abs() < 0.3);
        assert!((level_dbm0(&r.b) + 20.0).abs() < 0.3);

        // A change applies from the next sample on: impulses every 100
        // samples, the loss changed after the first 250.
        let mut l = TwoWireLine::new(10, 3, 20.0, 6.0, QUIET, 1);
        let pulses: Vec<f32> = (0..500).map(|i| f32::from(i % 100 == 0)).collect();
        let silence = vec![0.0f32; 500];
        let (mut ra, mut rb) = (Vec::new(), Vec::new());
        assert_eq!(
            l.process(&pulses[..250], &silence[..250], &mut ra, &mut rb, 9999),
            250
        );
        l.set_loss(40.0);
        l.set_echo_loss(0.0);
        assert_eq!(
            l.process(&pulses[250..], &silence[250..], &mut ra, &mut rb, 9999),
            250
        );
        assert_eq!(rb.len(), 503);
        for k in 0..5 {
            let want = if k < 3 { 20.0 } else { 40.0 };
            assert!(
                (rb[100 * k + 10] - db_to_gain(want)).abs() < TINY,
                "pulse {k}"
            );
            let echo = if k < 3 { 6.0 } else { 0.0 };
            assert!(
                (ra[100 * k + 3] - db_to_gain(echo)).abs() < TINY,
                "pulse {k}"
            );
        }
    }

    #[test]
    fn kernel_reports_its_delays() {
        let l = TwoWireLine::new(80, 8, 20.0, 6.0, -70.0, 1);
        assert_eq!(
            (l.delay(), l.echo_delay(), l.priming(), l.priming_left()),
            (80, 8, 8, 8)
        );
        let l = TwoWireLine::new(0, 0, 20.0, 6.0, -70.0, 1);
        assert_eq!((l.delay(), l.echo_delay(), l.priming()), (1, 1, 1));
        assert_eq!(ms_to_samples(10.0), 80);
        assert_eq!(ms_to_samples(0.125), 1);
        assert_eq!(ms_to_samples(0.01), 1);
        assert_eq!(ms_to_samples(500.0), 4000);
    }

    #[test]
    fn spec_is_a_delay_with_the_documented_parameters() {
        let s = spec();
        assert!(s.delays, "must be usable in a feedback loop");
        assert_eq!(s.category, super::super::awgn::spec().category);
        let names = |ports: &[PortSpec]| ports.iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(&s.inputs), ["a", "b"]);
        assert_eq!(names(&s.outputs), ["a", "b"]);
        for (name, default, range, unit, live) in [
            ("delay", 10.0, (0.125, 500.0), "ms", false),
            ("loss", 20.0, (0.0, 60.0), "dB", true),
            ("echo_loss", 6.0, (0.0, 80.0), "dB", true),
            ("echo_delay", 1.0, (0.125, 50.0), "ms", false),
            ("noise", -70.0, (-150.0, 0.0), "dBm0", true),
        ] {
            let p = s.param_spec(name).unwrap();
            assert_eq!(p.default, Some(Value::Float(default)), "{name}");
            assert_eq!(p.range, Some(range), "{name}");
            assert_eq!(p.unit, unit, "{name}");
            assert_eq!(p.live, live, "{name}");
        }
        let seed = s.param_spec("seed").unwrap();
        assert_eq!(
            seed.default,
            super::super::awgn::spec()
                .param_spec("seed")
                .unwrap()
                .default
        );
        assert!(!seed.live);
        assert_eq!(s.params.len(), 6);
    }

    #[test]
    fn closes_a_feedback_loop_in_both_schedulers() {
        // End B sends back whatever it hears; end A hears its own tone plus
        // that, and the line ends when the tone does.
        let yaml = "\
blocks:
  - {id: tone, type: tone_source, params: {frequency: 1000, level: -10}}
  - {id: limit, type: head, params: {count: 4000}}
  - {id: line, type: two_wire_line, params: {loss: 6}}
  - {id: sink, type: null_sink}
connections:
  - tone.out -> limit.in
  - limit.out -> line.a
  - line.b -> line.b
  - line.a -> sink.in
";
        crate::testutil::run_on_both_schedulers(yaml);
    }
}
