//! V.21 FSK demodulator (`fsk_demodulator`).
//!
//! The received signal goes through a complex band-pass filter centred on the
//! channel (a low-pass prototype shifted to the centre frequency, so the tones
//! of the other V.21 channel, 570 Hz and more away, are attenuated by more than
//! 50 dB) and is turned into complex baseband, where mark sits at −100 Hz and
//! space at +100 Hz. Its output is only a few hundred hertz wide, so it is
//! computed at every fourth sample only (2000 complex samples/s at 300 bit/s)
//! and everything after it runs at that rate. Two quadrature correlators, each summing over the last bit length,
//! give the mark and space energies used by carrier detect. The soft decision
//! is the sign of the frequency seen by a discriminator: the sum over the last
//! bit of z[n]·z*[n − LAG], whose angle is −ωLAG for mark and +ωLAG for space.
//! Unlike the correlators (which compare samples up to a whole bit apart), it
//! is hardly disturbed by a phase jump inside a tone, as spandsp's V.8
//! transmitter makes where it restarts a sequence. Its zero crossings mark bit boundaries, which steer a bit clock so
//! that each bit is decided when the correlation window covers exactly that bit.
//! Carrier detect needs both the in-band power over the same window and the
//! tone purity: the keying splatter of the other channel reaches into the band
//! some 25 dB below that channel's level, enough to pass a power threshold, but
//! it is not concentrated on one of our two tones the way our own FSK is.

use super::fsk::{baud_arg, baud_param, channel_arg, channel_param, Channel};
use crate::core::fir::{design, dot, Response};
use crate::core::level::{dbm0_to_rms_f32, rms_f32_to_dbm0};
use crate::core::tone::SAMPLE_RATE;
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, ParamSpec, PortSpec, Rate, Registry, Status,
    WorkIo,
};
use num_complex::{Complex32, Complex64};
use serde_json::json;
use std::f64::consts::TAU;

/// Taps of the band-pass prototype: with a Hamming window its transition is
/// about 3.3·8000/161 ≈ 165 Hz wide, so with the cut-off 200 Hz from the
/// centre (at 300 bit/s) the passband is flat over ±115 Hz, just past the
/// tones, and the stopband (≥ 50 dB) starts 285 Hz out, far inside the 570 Hz
/// to the nearest tone of the other channel.
const FILTER_TAPS: usize = 161;
/// The prototype's cut-off is the deviation plus this share of the bit rate:
/// narrow, to keep out as much of the other channel's keying splatter as the
/// correlators can spare.
const CUTOFF_ABOVE_DEV: f64 = 1.0 / 3.0;
/// Carrier needs the tone purity (the share of in-band energy over the last
/// bit that the stronger of the mark and space correlators holds, averaged over
/// about two bits) to reach this. Measured: V.21 FSK of the channel stays in
/// 0.84 … 1.0 even under the other channel 20 dB louder and reaches 0.99
/// within a few bits; the splatter of the other channel alone averages 0.65 and
/// peaks at 0.885.
const PURITY_ON: f64 = 0.9;
/// Carrier drops when the tone purity falls below this.
const PURITY_OFF: f64 = 0.7;
/// Bits over which the tone purity is averaged (one-pole).
const PURITY_BITS: f64 = 2.0;
/// The carrier goes off this far below the `threshold` (hysteresis), in dB.
const CARRIER_HYSTERESIS_DB: f64 = 3.0;
/// Carrier also drops when the in-band power over the last bit falls this far
/// below its average while carrier was on (−9 dB): at the end of a burst, so
/// that no bit is decided over the filter's ringing. Transitions and phase
/// jumps dip it by less than 5 dB.
const FALL: f64 = 0.125;
/// Bits over which that average is taken (one-pole).
const LEVEL_BITS: f64 = 4.0;
/// Fraction of a measured timing error corrected at each later bit boundary;
/// the first boundary after carrier-on is taken whole.
const TIMING_GAIN: f64 = 0.25;
/// Lag of the discriminator, in input samples: short, so that only the few lag
/// products straddling a phase jump see it (and those fall where the band-pass
/// output dips through the jump), yet ±18° per lag at ±100 Hz.
const LAG: usize = 4;
/// The band-pass output is computed at every DECIMATION-th input sample. Its
/// stopband (≥ 50 dB) starts 285 Hz from the centre, so what folds onto the
/// ±200 Hz passband at 8000/4 = 2000 samples/s (anything 1715 Hz or more away)
/// is already removed. At high bit rates it is lowered so that a bit still
/// spans at least this many decimated samples.
const DECIMATION: usize = 4;
const MIN_SAMPLES_PER_BIT: f64 = 6.0;
/// Samples larger than this are clipped: far beyond full scale (±1.0), and it
/// keeps the energies finite whatever comes in.
const CLIP: f32 = 1.0e3;
/// Bit-clock units per bit (the clock advances by the bit rate per sample).
const BIT: f64 = SAMPLE_RATE;
/// With `Idle::Mark`: how far a decision lies behind the start of the bit it
/// decides, in bits and in samples (measured on spandsp's V.8 recordings and
/// on our own modulator): one bit for the discriminator window, plus the
/// band-pass filter's delay of (FILTER_TAPS − 1)/2 samples and about half the
/// discriminator lag.
const DECISION_DELAY_BITS: f64 = 1.0;
const DECISION_DELAY_SAMPLES: f64 = (FILTER_TAPS - 1) as f64 / 2.0 + LAG as f64 / 2.0;
/// What the demodulator outputs while carrier is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// Nothing: bits come out only while carrier is on.
    None,
    /// A 1 (mark, the idle line) per bit period while carrier is off, so
    /// that the output keeps pace with the audio: bit k belongs to the bit
    /// period starting at about sample k·8000/baud. While carrier is on the
    /// decided bits come out as they are, none dropped or added, so a
    /// transmitter off the nominal rate shifts the count by its rate error
    /// until carrier goes off, when the idle bits take up the pace again.
    Mark,
}

/// A change of carrier detect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CarrierChange {
    /// Index of the sample at which it changed, counted from the first input.
    pub sample: u64,
    pub on: bool,
    /// In-band power over the last bit at that sample.
    pub level_dbm0: f64,
}

/// e^{j·2π·hz·n/8000} for n over one period of the sequence (at most a second).
fn rotation_table(hz: f64) -> Vec<Complex32> {
    let period = (1..=SAMPLE_RATE as usize)
        .find(|&p| {
            let cycles = hz * p as f64 / SAMPLE_RATE;
            (cycles - cycles.round()).abs() < 1e-9
        })
        .unwrap_or(SAMPLE_RATE as usize);
    (0..period)
        .map(|n| {
            let a = TAU * hz * n as f64 / SAMPLE_RATE;
            Complex32::new(a.cos() as f32, a.sin() as f32)
        })
        .collect()
}

/// A V.21 FSK demodulator for one channel.
#[derive(Clone, Debug)]
pub struct FskDemodulator {
    /// Band-pass taps h[k]·cos(ωc·k) and h[k]·sin(ωc·k), reversed (oldest first).
    taps_re: Vec<f32>,
    taps_im: Vec<f32>,
    /// Input history stored twice, so the last FILTER_TAPS samples are always
    /// one contiguous slice `hist[pos + 1 .. pos + 1 + FILTER_TAPS]`.
    hist: Vec<f32>,
    pos: usize,
    /// 2·e^{−jωc·n}: brings the channel centre to 0 Hz at full tone amplitude.
    down: Vec<Complex32>,
    /// e^{+j2π·dev·n/8000}: brings mark (−dev) to 0 Hz; its conjugate space.
    tone: Vec<Complex32>,
    /// Positions of sample n in `down` and `tone`.
    down_pos: usize,
    tone_pos: usize,
    /// Input samples per band-pass output, and the samples left until the next.
    decimation: usize,
    until_next: usize,
    n: u64,
    /// Last bit-length of mark and space products and |z|², with their sums
    /// (at the decimated rate, as everything below).
    ring: Vec<(Complex64, Complex64, f64)>,
    ring_pos: usize,
    sum_mark: Complex64,
    sum_space: Complex64,
    sum_power: f64,
    /// The last LAG / decimation baseband samples (oldest at `lag_pos`).
    lagged: Vec<Complex64>,
    lag_pos: usize,
    /// Last bit-length of the lag products z[n]·z*[n − LAG], and their sum.
    ring_disc: Vec<Complex64>,
    sum_disc: Complex64,
    /// Carrier thresholds as mean |z|² (twice the sine power).
    on_power: f64,
    off_power: f64,
    carrier: bool,
    /// Whether carrier may come on: cleared when it drops on a fall of the
    /// power, set again once the power is below `off_power`, so the ringing of
    /// the filter after a burst cannot bring it back.
    armed: bool,
    /// In-band power averaged while carrier is on (one-pole, LEVEL_BITS).
    level: f64,
    level_alpha: f64,
    /// Averaged tone purity and its one-pole coefficient.
    purity: f64,
    purity_alpha: f64,
    baud: f64,
    /// Bit clock: a decision when it reaches BIT.
    clock: f64,
    last_d: f64,
    /// Imaginary part of the discriminator sum one decimated sample ago.
    last_disc_im: f64,
    locked: bool,
    since_crossing: usize,
    events: Vec<CarrierChange>,
    idle: Idle,
    /// With `Idle::Mark`: bits output so far.
    emitted: u64,
}

impl FskDemodulator {
    /// A demodulator for `channel` at `baud` bit/s that detects carrier at
    /// `threshold_dbm0` of in-band power.
    pub fn new(channel: Channel, baud: f64, threshold_dbm0: f64) -> Result<Self, String> {
        let baud = if baud.is_finite() {
            baud.clamp(50.0, 1200.0)
        } else {
            300.0
        };
        let dev = (channel.space_hz - channel.mark_hz) / 2.0;
        let centre = channel.centre_hz();
        // The prototype passes the two tones and the first sidebands of the
        // keying (±baud about each tone).
        let proto = design(
            Response::Lowpass,
            dev + CUTOFF_ABOVE_DEV * baud,
            0.0,
            FILTER_TAPS,
        )?;
        let (taps_re, taps_im): (Vec<f32>, Vec<f32>) = proto
            .iter()
            .enumerate()
            .rev()
            .map(|(k, &h)| {
                let a = TAU * centre * k as f64 / SAMPLE_RATE;
                (h * a.cos() as f32, h * a.sin() as f32)
            })
            .unzip();
        let down = rotation_table(-centre).iter().map(|c| c * 2.0).collect();
        let decimation = ((SAMPLE_RATE / baud / MIN_SAMPLES_PER_BIT) as usize).clamp(1, DECIMATION);
        let window = (SAMPLE_RATE / decimation as f64 / baud).round().max(1.0) as usize;
        let on_power = 2.0 * dbm0_to_rms_f32(threshold_dbm0).powi(2);
        Ok(FskDemodulator {
            taps_re,
            taps_im,
            hist: vec![0.0; 2 * FILTER_TAPS],
            pos: 0,
            down,
            tone: rotation_table(dev),
            down_pos: 0,
            tone_pos: 0,
            decimation,
            until_next: 0,
            n: 0,
            ring: vec![(Complex64::default(), Complex64::default(), 0.0); window],
            ring_pos: 0,
            sum_mark: Complex64::default(),
            sum_space: Complex64::default(),
            sum_power: 0.0,
            lagged: vec![Complex64::default(); (LAG / decimation).max(1)],
            lag_pos: 0,
            ring_disc: vec![Complex64::default(); window],
            sum_disc: Complex64::default(),
            on_power,
            off_power: on_power * 10f64.powf(-CARRIER_HYSTERESIS_DB / 10.0),
            carrier: false,
            armed: true,
            level: 0.0,
            level_alpha: 1.0 / (LEVEL_BITS * window as f64),
            purity: 0.0,
            purity_alpha: 1.0 / (PURITY_BITS * window as f64),
            baud,
            clock: 0.0,
            last_d: 0.0,
            last_disc_im: 0.0,
            locked: false,
            since_crossing: 0,
            events: Vec::new(),
            idle: Idle::None,
            emitted: 0,
        })
    }

    /// Sets what comes out while carrier is off (`Idle::None` by default).
    pub fn with_idle(mut self, idle: Idle) -> Self {
        self.idle = idle;
        self
    }

    /// Samples per bit.
    fn bit_samples(&self) -> f64 {
        SAMPLE_RATE / self.baud
    }

    /// Samples from the start of a bit to its decision.
    fn decision_delay(&self) -> f64 {
        DECISION_DELAY_BITS * self.bit_samples() + DECISION_DELAY_SAMPLES
    }

    /// Whether carrier is detected now.
    pub fn carrier(&self) -> bool {
        self.carrier
    }

    /// In-band power over the last bit, in dBm0.
    pub fn level_dbm0(&self) -> f64 {
        power_dbm0(self.sum_power / self.ring.len() as f64)
    }

    /// Carrier changes found by the last call of [`FskDemodulator::process`].
    pub fn events(&self) -> &[CarrierChange] {
        &self.events
    }

    /// Demodulates `input`, appending one bit per bit period while carrier is
    /// on (with `Idle::Mark`, at all times: a 1 while carrier is off, one bit
    /// per bit period, bit k for the period starting at sample k·8000/baud,
    /// output about a bit and a half after that period ends), and stops early
    /// once it has appended `max_bits`. Returns how many samples it used.
    /// Non-finite samples count as silence.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<u8>, max_bits: usize) -> usize {
        self.events.clear();
        let mut made = 0;
        for (i, &x) in input.iter().enumerate() {
            if made >= max_bits {
                return i;
            }
            let decision = self.step(x);
            match self.idle {
                Idle::None => {
                    if let Some(bit) = decision {
                        out.push(bit);
                        made += 1;
                    }
                }
                Idle::Mark => {
                    if let Some(bit) = decision {
                        out.push(bit);
                        made += 1;
                        self.emitted += 1;
                    } else if !self.carrier && self.period_decided(self.emitted) {
                        out.push(1);
                        made += 1;
                        self.emitted += 1;
                    }
                }
            }
        }
        input.len()
    }

    /// Whether bit period `k`, which starts at k·8000/baud, would have been
    /// decided by now: its decision comes `decision_delay` after its start.
    fn period_decided(&self, k: u64) -> bool {
        self.n as f64 >= self.decision_delay() + k as f64 * self.bit_samples()
    }

    /// At the end of the input, with `Idle::Mark`: appends a 1 for each bit
    /// period that started before the end of the input and has no bit yet,
    /// at most `max_bits`. Returns true once all are out, so that N samples
    /// of a signal at the nominal rate give ⌈N·baud/8000⌉ bits in all.
    pub fn finish(&mut self, out: &mut Vec<u8>, max_bits: usize) -> bool {
        if self.idle == Idle::None {
            return true;
        }
        let started = (self.n as f64 / self.bit_samples()).ceil() as u64;
        let mut made = 0;
        while self.emitted < started {
            if made >= max_bits {
                return false;
            }
            out.push(1);
            made += 1;
            self.emitted += 1;
        }
        true
    }

    /// One sample: the bit decided at it, if any.
    fn step(&mut self, x: f32) -> Option<u8> {
        let x = if x.is_finite() {
            x.clamp(-CLIP, CLIP)
        } else {
            0.0
        };
        let m = self.taps_re.len();
        self.pos = if self.pos + 1 == m { 0 } else { self.pos + 1 };
        self.hist[self.pos] = x;
        self.hist[self.pos + m] = x;
        let sample = self.n;
        self.n += 1;
        let (down, tone) = (self.down[self.down_pos], self.tone[self.tone_pos]);
        self.down_pos = if self.down_pos + 1 == self.down.len() {
            0
        } else {
            self.down_pos + 1
        };
        self.tone_pos = if self.tone_pos + 1 == self.tone.len() {
            0
        } else {
            self.tone_pos + 1
        };
        if self.until_next > 0 {
            self.until_next -= 1;
            return None;
        }
        self.until_next = self.decimation - 1;

        let w = &self.hist[self.pos + 1..self.pos + 1 + m];
        let z = Complex32::new(dot(w, &self.taps_re), dot(w, &self.taps_im)) * down;
        let z64 = Complex64::new(f64::from(z.re), f64::from(z.im));
        let r64 = Complex64::new(f64::from(tone.re), f64::from(tone.im));
        let new = (z64 * r64, z64 * r64.conj(), z64.norm_sqr());
        let old = std::mem::replace(&mut self.ring[self.ring_pos], new);
        let past = std::mem::replace(&mut self.lagged[self.lag_pos], z64);
        self.lag_pos = (self.lag_pos + 1) % self.lagged.len();
        let disc = z64 * past.conj();
        let old_disc = std::mem::replace(&mut self.ring_disc[self.ring_pos], disc);
        self.sum_disc += disc - old_disc;
        self.ring_pos = (self.ring_pos + 1) % self.ring.len();
        self.sum_mark += new.0 - old.0;
        self.sum_space += new.1 - old.1;
        self.sum_power += new.2 - old.2;
        let last_disc_im = std::mem::replace(&mut self.last_disc_im, self.sum_disc.im);

        let len = self.ring.len() as f64;
        let power = (self.sum_power / len).max(0.0);
        let (em, es) = (self.sum_mark.norm_sqr(), self.sum_space.norm_sqr());
        let purity = if self.sum_power > 0.0 {
            (em.max(es) / (len * self.sum_power)).min(2.0)
        } else {
            0.0
        };
        self.purity += (purity - self.purity) * self.purity_alpha;
        if power < self.off_power {
            self.armed = true;
        }
        if !self.carrier && self.armed && power >= self.on_power && self.purity >= PURITY_ON {
            self.carrier = true;
            self.level = power;
            self.clock = 0.0;
            self.locked = false;
            self.since_crossing = self.ring.len();
            self.last_d = 0.0;
            self.events.push(change(sample, true, power));
        } else if self.carrier
            && (power < self.off_power || power < self.level * FALL || self.purity < PURITY_OFF)
        {
            self.carrier = false;
            self.armed = power < self.off_power || power >= self.level * FALL;
            self.events.push(change(sample, false, power));
        }
        if !self.carrier {
            return None;
        }
        self.level += (power - self.level) * self.level_alpha;

        let dn = self.sum_disc.norm();
        let d = if dn > 0.0 {
            -self.sum_disc.im / dn
        } else {
            0.0
        };
        // The clock advances by the bit rate per input sample.
        let advance = self.baud * self.decimation as f64;
        self.clock += advance;
        self.since_crossing += 1;
        // A sign change of d means the window straddles a bit boundary equally:
        // the decision instants are half a bit either side of it.
        if (d > 0.0) != (self.last_d > 0.0)
            && self.last_d != 0.0
            && 2 * self.since_crossing >= self.ring.len()
        {
            let back = (d / (d - self.last_d)).clamp(0.0, 1.0);
            let at_crossing = self.clock - back * advance;
            let err = at_crossing.rem_euclid(BIT) - BIT / 2.0;
            let gain = if self.locked { TIMING_GAIN } else { 1.0 };
            self.clock -= gain * err;
            self.locked = true;
            self.since_crossing = 0;
        }
        self.last_d = d;
        if self.clock >= BIT {
            self.clock -= BIT;
            // The decision instant fell this far (in decimated samples) before
            // now: take the discriminator sum there, between its last two values.
            let frac = (self.clock / advance).min(1.0);
            let im = self.sum_disc.im + frac * (last_disc_im - self.sum_disc.im);
            return Some(u8::from(im < 0.0));
        }
        None
    }
}

fn change(sample: u64, on: bool, power: f64) -> CarrierChange {
    CarrierChange {
        sample,
        on,
        level_dbm0: power_dbm0(power),
    }
}

/// The sine power in dBm0 of a complex baseband signal with mean |z|² `power`.
fn power_dbm0(power: f64) -> f64 {
    rms_f32_to_dbm0((power.max(0.0) / 2.0).sqrt()).max(-150.0)
}

struct FskDemodulatorBlock(FskDemodulator);

impl Block for FskDemodulatorBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let space = io.outputs[0].space();
        if space > 0 {
            let input = io.inputs[0].items::<f32>();
            let used = self.0.process(input, io.outputs[0].items::<u8>(), space);
            io.inputs[0].consume(used);
            for e in self.0.events() {
                io.emit(
                    "carrier",
                    json!({
                        "t": e.sample as f64 / SAMPLE_RATE,
                        "on": e.on,
                        "level_dbm0": e.level_dbm0,
                    }),
                );
            }
        }
        // At the end, the bits of the periods the input reached but that are
        // still waiting for their decision's time.
        let space = io.outputs[0].space();
        Ok(
            if io.inputs[0].finished() && self.0.finish(io.outputs[0].items::<u8>(), space) {
                Status::Done
            } else {
                Status::Ok
            },
        )
    }
}

fn make(args: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let idle = match args.string("idle")?.as_str() {
        "none" => Idle::None,
        "mark" => Idle::Mark,
        other => return Err(format!("`idle` must be none or mark, got `{other}`")),
    };
    Ok(Box::new(FskDemodulatorBlock(
        FskDemodulator::new(
            channel_arg(args)?,
            baud_arg(args)?,
            args.float("threshold")?,
        )?
        .with_idle(idle),
    )))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "fsk_demodulator",
        "Demodulators",
        "V.21 FSK demodulator with carrier detect (V.8 CI/CM/CJ/JM)",
        make,
    )
    .doc(
        "Receives one V.21 channel (1: 980/1180 Hz, 2: 1650/1850 Hz; mark = 1). A \
         161-tap complex band-pass (±200 Hz) around the channel centre takes the \
         other channel's tones more than 50 dB down, so both directions of a V.8 \
         exchange can share the line; its output is computed at every fourth sample \
         (at 300 bit/s) and all that follows runs at that rate. A discriminator over \
         one bit (the angle of z[n]·z*[n−4] summed over the bit) decides each bit; bit timing follows the transitions, and bits are \
         decided at their centres. Carrier goes on when the in-band power reaches \
         `threshold` and the signal is FSK of this channel (the stronger tone \
         correlator holds 90 % of the in-band energy, averaged over two bits), and \
         off 3 dB below the threshold, below 70 %, or when the power falls 9 dB \
         below its level during the burst; it takes about 7 bits to come \
         on. With `idle: none` nothing comes out without carrier. With `idle: mark` \
         exactly one bit comes out per bit period at all times, a 1 (mark, the idle \
         line) while carrier is off: output bit k is the bit period starting at \
         sample k·8000/baud (the demodulator's delay of one bit plus 82 samples is \
         taken out; bits come out about 5 bit periods late, and at the end of the \
         input the remaining periods it reached are flushed, so N samples give \
         ⌈N·baud/8000⌉ bits). The bit clock then runs freely at the nominal rate, \
         and during a burst each decision goes to its nearest bit period, so a \
         bit position divided by the bit rate is the audio time. Non-finite \
         samples count as silence.",
    )
    .param(channel_param())
    .param(baud_param())
    .param(
        ParamSpec::float("threshold", "in-band power at which carrier is detected")
            .default(-45.5)
            .range(-70.0, 0.0)
            .unit("dBm0"),
    )
    .param(
        ParamSpec::choice(
            "idle",
            &["none", "mark"],
            "output while carrier is off: none, or a 1 (mark) per bit period so that bit k \
             belongs to the bit period starting at k/baud seconds",
        )
        .default("none"),
    )
    .input(PortSpec::new("in", ItemType::F32, "received line signal"))
    .output(
        PortSpec::new(
            "out",
            ItemType::Bit,
            "received bits while carrier is on (idle: mark: one per bit period)",
        )
            .rate(Rate::Ratio(3, 80)),
    )
    .event(EventSpec::new(
        "carrier",
        "carrier detect changed",
        &[
            ("t", "time of the change, seconds from the first sample"),
            ("on", "true when carrier appeared, false when it went"),
            ("level_dbm0", "in-band power over the last bit, dBm0"),
        ],
    ))
}

pub fn register(r: &mut Registry) {
    r.register(spec());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::awgn::Awgn;
    use crate::testutil::{chunked, items, make as build, run};
    use crate::v8::fsk_tx::FskModulator;
    use modemflow_flow::Value;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    fn data_path(name: &str) -> String {
        format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn wav(name: &str) -> Vec<f32> {
        let mut r = hound::WavReader::open(data_path(name)).unwrap();
        r.samples::<i16>()
            .map(|s| f32::from(s.unwrap()) / 32768.0)
            .collect()
    }

    fn sidecar(name: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(data_path(name)).unwrap()).unwrap()
    }

    fn bits_of(s: &str) -> Vec<u8> {
        s.bytes().map(|c| c - b'0').collect()
    }

    /// Demodulates `x` in chunks of 4096; the bits and carrier changes.
    fn demodulate(channel: Channel, x: &[f32]) -> (Vec<u8>, Vec<CarrierChange>) {
        let mut d = FskDemodulator::new(channel, 300.0, -45.5).unwrap();
        let mut bits = Vec::new();
        let mut events = Vec::new();
        for c in x.chunks(4096) {
            assert_eq!(d.process(c, &mut bits, usize::MAX), c.len());
            events.extend_from_slice(d.events());
        }
        (bits, events)
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    /// Fewest differences between `sent` and any same-length run of `got`.
    fn fewest_errors(got: &[u8], sent: &[u8]) -> usize {
        if got.len() < sent.len() {
            return sent.len();
        }
        got.windows(sent.len())
            .map(|w| w.iter().zip(sent).filter(|(a, b)| a != b).count())
            .min()
            .unwrap_or(sent.len())
    }

    /// Async 8N1 framing: start 0, eight data bits LSB first, stop 1.
    fn uart(bits: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut i = 0;
        while i + 10 <= bits.len() {
            if bits[i] == 0 && bits[i + 9] == 1 {
                bytes.push((0..8).fold(0u8, |b, k| b | bits[i + 1 + k] << k));
                i += 10;
            } else {
                i += 1;
            }
        }
        bytes
    }

    fn random_bits(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = Pcg64::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(0..2u8)).collect()
    }

    /// V.8 messages start with ten ones; sending some lets carrier detect
    /// and the bit clock settle before the data.
    fn with_preamble(data: &[u8]) -> Vec<u8> {
        let mut v = vec![1u8; 10];
        v.extend_from_slice(data);
        v
    }

    fn modulate(channel: Channel, bits: &[u8], level: f64) -> Vec<f32> {
        let mut m = FskModulator::new(channel, 300.0, level);
        let mut out = vec![0.0f32; bits.len() * 27 + 1];
        let (_, n) = m.modulate(bits, &mut out);
        out.truncate(n);
        out
    }

    /// Silence, the signal, silence.
    fn padded(x: &[f32]) -> Vec<f32> {
        let mut v = vec![0.0f32; 400];
        v.extend_from_slice(x);
        v.extend(std::iter::repeat_n(0.0, 400));
        v
    }

    #[test]
    fn spandsp_sync_prbs9_on_both_channels() {
        for (ch, name) in [
            (Channel::ONE, "v21_ch1_sync"),
            (Channel::TWO, "v21_ch2_sync"),
        ] {
            let v = sidecar(&format!("{name}.json"));
            let sent = bits_of(v["bits"].as_str().unwrap());
            let off = v["pattern_bits_offset"].as_u64().unwrap() as usize;
            let len = v["pattern_bits_len"].as_u64().unwrap() as usize;
            assert_eq!(len, 511);
            let (got, events) = demodulate(ch, &wav(&format!("{name}.wav")));
            assert!(find(&got, &sent[off..off + len]).is_some(), "{name}");
            assert_eq!(fewest_errors(&got, &sent[15..sent.len() - 2]), 0, "{name}");
            assert_eq!(events.len(), 2, "{name}: {events:?}");
            let start = v["fsk_start_sample"].as_u64().unwrap();
            let end = v["fsk_end_sample"].as_u64().unwrap();
            assert!(
                events[0].on && events[0].sample >= start && events[0].sample < start + 250,
                "{name}: {events:?}"
            );
            assert!(!events[1].on && events[1].sample > end && events[1].sample < end + 250);
        }
    }

    /// Checks that `got` is the bits of the bursts of `sent` (split at
    /// `burst_lens`) one after the other, each missing at most its first 8
    /// (preamble) bits while carrier detect comes on, with nothing else.
    fn assert_bursts(got: &[u8], sent: &[u8], burst_lens: &[usize], name: &str) {
        let mut pos = 0;
        let mut start = 0;
        for &len in burst_lens {
            let burst = &sent[start..start + len];
            start += len;
            let k = (0..=8).find(|&k| got[pos..].starts_with(&burst[k..]));
            let Some(k) = k else {
                panic!(
                    "{name}: burst at sent bit {} not found at got bit {pos}",
                    start - len
                );
            };
            pos += len - k;
        }
        assert_eq!(start, sent.len(), "{name}");
        assert_eq!(pos, got.len(), "{name}: extra bits at the end");
    }

    /// spandsp's V.8 exchanges: CM, CJ (and CI bursts) on channel 1 from the
    /// caller, JM on channel 2 from the answerer. Among them is a phase jump
    /// of about 157° in a run of marks (v8_call.wav, sample ≈ 32797, inside
    /// transmitted bit 463) where spandsp restarts a sequence.
    #[test]
    fn spandsp_v8_exchanges_bit_exact() {
        let v8 = sidecar("v8.json");
        let ci = sidecar("v8_ci.json");
        for (v, file, ch, side, key) in [
            (
                &v8,
                "v8_call.wav",
                Channel::ONE,
                "caller",
                "tx_bits_v21_ch1",
            ),
            (
                &v8,
                "v8_answer.wav",
                Channel::TWO,
                "answerer",
                "tx_bits_v21_ch2",
            ),
            (
                &ci,
                "v8_ci_call.wav",
                Channel::ONE,
                "caller",
                "tx_bits_v21_ch1",
            ),
            (
                &ci,
                "v8_ci_answer.wav",
                Channel::TWO,
                "answerer",
                "tx_bits_v21_ch2",
            ),
        ] {
            let s = &v["sides"][side];
            let sent = bits_of(s[key]["bits"].as_str().unwrap());
            // Each V.21 segment is a burst; all but the last end on a whole bit.
            let first = s[key]["first_bit_sample"].as_f64().unwrap();
            let mut lens = Vec::new();
            let segments: Vec<_> = s["tx_segments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["what"].as_str().unwrap().starts_with("V21"))
                .collect();
            for g in &segments[..segments.len() - 1] {
                let end = g["end_sample"].as_f64().unwrap();
                let before: usize = lens.iter().sum();
                lens.push(((end - first) * 300.0 / SAMPLE_RATE).round() as usize - before);
            }
            lens.push(sent.len() - lens.iter().sum::<usize>());
            let (got, events) = demodulate(ch, &wav(file));
            assert_eq!(events.len(), 2 * segments.len(), "{file}: {events:?}");
            assert_bursts(&got, &sent, &lens, file);
        }
    }

    #[test]
    fn spandsp_async_bytes_on_both_channels() {
        for (ch, name) in [
            (Channel::ONE, "v21_ch1_async"),
            (Channel::TWO, "v21_ch2_async"),
        ] {
            let v = sidecar(&format!("{name}.json"));
            let want: Vec<u8> = v["bytes_hex"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| u8::from_str_radix(h.as_str().unwrap(), 16).unwrap())
                .collect();
            assert_eq!(want.len(), 46);
            let (got, _) = demodulate(ch, &wav(&format!("{name}.wav")));
            assert_eq!(uart(&got), want, "{name}");
        }
    }

    #[test]
    fn the_other_channel_brings_no_carrier() {
        for (ch, name) in [
            (Channel::TWO, "v21_ch1_sync"),
            (Channel::TWO, "v21_ch1_async"),
            (Channel::ONE, "v21_ch2_sync"),
            (Channel::ONE, "v21_ch2_async"),
        ] {
            let (got, events) = demodulate(ch, &wav(&format!("{name}.wav")));
            assert!(
                got.is_empty() && events.is_empty(),
                "{name} on the other channel: {} bits {events:?}",
                got.len()
            );
        }
    }

    #[test]
    fn the_other_channel_is_50_db_down() {
        for (ch, other) in [(Channel::ONE, Channel::TWO), (Channel::TWO, Channel::ONE)] {
            for hz in [other.mark_hz, other.space_hz] {
                let x: Vec<f32> = (0..4000)
                    .map(|n| {
                        (dbm0_to_rms_f32(0.0)
                            * 2f64.sqrt()
                            * (TAU * hz * n as f64 / SAMPLE_RATE).sin())
                            as f32
                    })
                    .collect();
                let mut d = FskDemodulator::new(ch, 300.0, -45.5).unwrap();
                d.process(&x, &mut Vec::new(), usize::MAX);
                assert!(d.level_dbm0() < -50.0, "{hz} Hz: {}", d.level_dbm0());
            }
            let mut d = FskDemodulator::new(ch, 300.0, -45.5).unwrap();
            d.process(
                &modulate(ch, &[1, 0].repeat(100), 0.0),
                &mut Vec::new(),
                usize::MAX,
            );
            assert!(d.level_dbm0().abs() < 0.5, "{}", d.level_dbm0());
        }
    }

    #[test]
    fn round_trip_at_several_levels() {
        let data = random_bits(1000, 7);
        for ch in [Channel::ONE, Channel::TWO] {
            for level in [-9.0, -20.0, -35.0, -43.0] {
                let x = padded(&modulate(ch, &with_preamble(&data), level));
                let (got, events) = demodulate(ch, &x);
                assert_eq!(fewest_errors(&got, &data), 0, "{ch:?} at {level} dBm0");
                assert_eq!(events.len(), 2);
                let on_level = events[0].level_dbm0;
                assert!(on_level >= -45.5 && on_level < level + 1.0, "{on_level}");
            }
        }
    }

    #[test]
    fn below_the_threshold_nothing_comes_out() {
        let x = padded(&modulate(Channel::ONE, &random_bits(300, 3), -50.0));
        let (got, events) = demodulate(Channel::ONE, &x);
        assert!(got.is_empty() && events.is_empty());
    }

    /// `wanted` at `wanted_dbm0` under the other channel 20 dB louder, both
    /// with independent random bits, plus white noise 12 dB below `wanted`;
    /// both transmitters are off by `offset_hz`. The bit errors of `wanted`.
    fn errors_beside_the_other_channel(wanted: Channel, other: Channel, offset_hz: f64) -> usize {
        let wanted_dbm0 = -30.0;
        let data = random_bits(2400, 11);
        let mut m = FskModulator::new(wanted.shifted(offset_hz), 300.0, wanted_dbm0);
        let mut x = vec![0.0f32; (data.len() + 10) * 27];
        let (_, n) = m.modulate(&with_preamble(&data), &mut x);
        let mut x = padded(&x[..n]);
        let mut i = FskModulator::new(other.shifted(offset_hz), 300.0, wanted_dbm0 + 20.0);
        let mut y = vec![0.0f32; x.len()];
        let (_, n) = i.modulate(&random_bits(x.len() / 26 + 1, 12), &mut y);
        assert_eq!(n, x.len());
        for (a, b) in x.iter_mut().zip(&y) {
            *a += b;
        }
        let mut noisy = vec![0.0f32; x.len()];
        Awgn::new(wanted_dbm0 - 12.0, 13).process(&x, &mut noisy);
        let (got, _) = demodulate(wanted, &noisy);
        fewest_errors(&got, &data)
    }

    #[test]
    fn channel_1_under_a_20_db_louder_channel_2_and_noise() {
        assert_eq!(
            errors_beside_the_other_channel(Channel::ONE, Channel::TWO, 0.0),
            0
        );
    }

    #[test]
    fn channel_2_under_a_20_db_louder_channel_1_and_noise() {
        assert_eq!(
            errors_beside_the_other_channel(Channel::TWO, Channel::ONE, 0.0),
            0
        );
    }

    #[test]
    fn carrier_offset_of_10_hz() {
        for offset in [-10.0, 10.0] {
            for (w, o) in [(Channel::ONE, Channel::TWO), (Channel::TWO, Channel::ONE)] {
                assert_eq!(
                    errors_beside_the_other_channel(w, o, offset),
                    0,
                    "{offset} Hz"
                );
            }
            let data = random_bits(1000, 5);
            let mut m = FskModulator::new(Channel::ONE.shifted(offset), 300.0, -20.0);
            let mut x = vec![0.0f32; 1010 * 27];
            let (_, n) = m.modulate(&with_preamble(&data), &mut x);
            let (got, _) = demodulate(Channel::ONE, &padded(&x[..n]));
            assert_eq!(fewest_errors(&got, &data), 0, "{offset} Hz");
        }
    }

    #[test]
    fn block_output_is_the_same_for_any_chunking() {
        let mut x = wav("v21_ch1_async.wav");
        x.extend(wav("v21_ch1_sync.wav"));
        let mut results = Vec::new();
        for (size, cap) in [(1usize, 1usize), (4096, 4096), (333, 7)] {
            let mut b = build(&spec(), &[("channel", Value::Int(1))]).unwrap();
            let r = run(
                &mut *b,
                Some(ItemType::F32),
                &chunked(&x, &[size]),
                &[ItemType::Bit],
                cap,
                0,
            )
            .unwrap();
            results.push((items::<u8>(&r.outputs[0]), r.events));
        }
        assert!(results[0].0.len() > 1000);
        assert_eq!(results[0].1.len(), 4);
        assert_eq!(results[0].1[0].0, "carrier");
        assert_eq!(results[0], results[1]);
        assert_eq!(results[0], results[2]);
    }

    #[test]
    fn garbage_does_not_panic() {
        let x: Vec<f32> = (0..5000)
            .map(|i| match i % 7 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => -f32::MAX,
                3 => f32::MAX,
                _ => (i as f32).sin(),
            })
            .collect();
        let mut d = FskDemodulator::new(Channel::TWO, 300.0, -45.5).unwrap();
        let mut out = Vec::new();
        d.process(&x, &mut out, usize::MAX);
        assert!(d.level_dbm0().is_finite());
        // After the garbage, a clean signal decodes again.
        let data = random_bits(200, 9);
        d.process(&vec![0.0; 400], &mut out, usize::MAX);
        out.clear();
        d.process(
            &padded(&modulate(Channel::TWO, &with_preamble(&data), -14.0)),
            &mut out,
            usize::MAX,
        );
        assert_eq!(fewest_errors(&out, &data), 0);
    }

    /// Demodulates `x` with `Idle::Mark` in chunks of `chunk`, flushing at
    /// the end.
    fn demodulate_marking(channel: Channel, x: &[f32], chunk: usize) -> Vec<u8> {
        let mut d = FskDemodulator::new(channel, 300.0, -45.5)
            .unwrap()
            .with_idle(Idle::Mark);
        let mut bits = Vec::new();
        for c in x.chunks(chunk) {
            assert_eq!(d.process(c, &mut bits, usize::MAX), c.len());
        }
        assert!(d.finish(&mut bits, usize::MAX));
        bits
    }

    /// With idle marks, the V.8 messages of spandsp's exchanges come out of
    /// the deframer as sent, each at its audio time. Measured: the caller's
    /// messages +1.6 … +1.7 ms (its bits start half a bit off our grid, so
    /// each lands in the later period) and its CJ +0.2 ms; the answerer's
    /// JMs +0.2 ms.
    #[test]
    fn idle_marks_give_v8_messages_at_their_audio_time() {
        use crate::v8::message::{hex, Deframer, Sequence};
        let v = sidecar("v8.json");
        let mut worst: f64 = 0.0;
        for (file, ch, side, key) in [
            ("v8_call.wav", Channel::ONE, "caller", "tx_messages_v21_ch1"),
            (
                "v8_answer.wav",
                Channel::TWO,
                "answerer",
                "tx_messages_v21_ch2",
            ),
        ] {
            let x = wav(file);
            let bits = demodulate_marking(ch, &x, 4096);
            assert_eq!(bits.len(), (x.len() * 3).div_ceil(80), "{file}");
            let mut d = Deframer::new();
            let mut got = Vec::new();
            for &b in &bits {
                d.push(b, &mut got);
            }
            d.flush(&mut got);
            let sent = v["sides"][side][key].as_array().unwrap();
            assert_eq!(got.len(), sent.len(), "{file}: {got:?}");
            for (g, s) in got.iter().zip(sent) {
                let kind = match g.sequence {
                    Sequence::Ci => "CI",
                    Sequence::CmJm if ch == Channel::ONE => "CM",
                    Sequence::CmJm => "JM",
                    Sequence::Cj => "CJ",
                    Sequence::V92 => "V92",
                };
                assert_eq!(kind, s["type"].as_str().unwrap(), "{file}");
                let octets: Vec<String> = s["octets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o.as_str().unwrap().to_string())
                    .collect();
                let mut want = octets.join(" ");
                // The answerer's last JM stops inside an octet (0x65: its
                // start bit and b0…b6 went out); the marks after the burst
                // complete it as 0xE5, as they would for any async receiver.
                if s["ended_by"] == "end_of_stream" && g.octets.len() == octets.len() + 1 {
                    want += " E5";
                }
                assert_eq!(hex(&g.octets), want, "{file}");
                let err =
                    g.start_bit as f64 / 300.0 - s["start_sample"].as_f64().unwrap() / SAMPLE_RATE;
                eprintln!("{file} {kind}: {:+.2} ms", err * 1e3);
                assert!(err.abs() <= 0.010, "{file} {kind}: {err}");
                worst = worst.max(err.abs());
            }
        }
        eprintln!("worst {:.2} ms", worst * 1e3);
    }

    /// Our own modulator after `lead` samples of silence: bit k starts at
    /// sample lead + k·80/3, and comes out as bit ⌊(lead + k·80/3)·3/80⌉,
    /// give or take one (where carrier-on falls within a bit period).
    #[test]
    fn idle_marks_put_each_bit_in_its_period() {
        let data = random_bits(600, 21);
        let sent = with_preamble(&data);
        for ch in [Channel::ONE, Channel::TWO] {
            for lead in [0usize, 7, 13, 20, 400, 1000, 1013] {
                let mut x = vec![0.0f32; lead];
                x.extend(modulate(ch, &sent, -20.0));
                x.extend(std::iter::repeat_n(0.0, 400));
                let bits = demodulate_marking(ch, &x, 4096);
                assert_eq!(bits.len(), (x.len() * 3).div_ceil(80));
                let first = (lead as f64 * 3.0 / 80.0).round() as usize;
                let at = find(&bits, &data).expect("data");
                assert!(at.abs_diff(first + 10) <= 1, "{ch:?} lead {lead}: {at}");
                assert!(bits[..first].iter().all(|&b| b == 1));
                assert!(bits[at + data.len()..].iter().all(|&b| b == 1));
            }
        }
    }

    #[test]
    fn idle_marks_give_one_bit_per_period_whatever_comes_in() {
        let len = 80_000;
        let silence = vec![0.0f32; len];
        let mut noise = vec![0.0f32; len];
        Awgn::new(-20.0, 31).process(&silence, &mut noise);
        // Bursts of FSK at the nominal rate and 1 % off it, with gaps of
        // silence and of noise, on both channels.
        let mut bursts = Vec::new();
        let mut k = 0;
        while bursts.len() < len {
            let baud = [300.0, 303.0, 297.0][k % 3];
            let mut m = FskModulator::new(Channel::ONE, baud, -15.0);
            let bits = with_preamble(&random_bits(200 + 37 * k, k as u64));
            let mut y = vec![0.0f32; bits.len() * 28 + 1];
            let (_, n) = m.modulate(&bits, &mut y);
            bursts.extend_from_slice(&y[..n]);
            bursts.extend_from_slice(&noise[..300 + 111 * k]);
            bursts.extend(std::iter::repeat_n(0.0, 200 + 53 * k));
            k += 1;
        }
        bursts.truncate(len);
        for (name, x) in [
            ("silence", &silence),
            ("noise", &noise),
            ("bursts", &bursts),
        ] {
            for ch in [Channel::ONE, Channel::TWO] {
                let bits = demodulate_marking(ch, x, 4096);
                assert!(bits.len().abs_diff(3000) <= 1, "{name}: {}", bits.len());
                if name == "silence" || (name == "bursts" && ch == Channel::TWO) {
                    assert!(bits.iter().all(|&b| b == 1), "{name} {ch:?}");
                }
            }
        }
        // Without the flush at the end, the count is short by the delay only.
        let mut d = FskDemodulator::new(Channel::ONE, 300.0, -45.5)
            .unwrap()
            .with_idle(Idle::Mark);
        let mut bits = Vec::new();
        d.process(&bursts, &mut bits, usize::MAX);
        assert!((2994..3000).contains(&bits.len()), "{}", bits.len());
    }

    #[test]
    fn idle_mark_block_output_is_the_same_for_any_chunking() {
        let mut x = wav("v8_call.wav");
        x.extend(wav("v21_ch1_sync.wav"));
        let mut results = Vec::new();
        for (size, cap) in [(1usize, 1usize), (4096, 4096), (333, 7)] {
            let mut b = build(
                &spec(),
                &[
                    ("channel", Value::Int(1)),
                    ("idle", Value::Str("mark".into())),
                ],
            )
            .unwrap();
            let r = run(
                &mut *b,
                Some(ItemType::F32),
                &chunked(&x, &[size]),
                &[ItemType::Bit],
                cap,
                0,
            )
            .unwrap();
            results.push((items::<u8>(&r.outputs[0]), r.events));
        }
        assert_eq!(results[0].0.len(), (x.len() * 3).div_ceil(80));
        assert_eq!(results[0], results[1]);
        assert_eq!(results[0], results[2]);
    }
}
