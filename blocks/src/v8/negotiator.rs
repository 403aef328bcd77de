//! The `v8_negotiator` block: one end of a V.8 start-up, caller or answerer
//! (V.8 §7–8; modem-standards.md §3.4). It reads the line, sends its own
//! signals on it and reports what it heard, what it sends and the mode both
//! ends agreed on.
//!
//! Answerer: 0.2 s of silence, then ANSam/ for at most 5 s; after two
//! identical CMs, JM (the modes both list) in place of ANSam, repeated until
//! CJ has been received; then at once 75 ms of silence, and V.8 is done.
//!
//! Caller: silent until it recognises ANSam, then silent for Te, then CM
//! repeated; after two identical JMs it finishes the octet it is sending,
//! sends CJ, then 75 ms of silence, and V.8 is done.
//!
//! The transmitted sample n depends only on received samples up to n, so two
//! negotiators can face each other through any line with at least one sample
//! of delay.

use super::answer_tone::{AnswerTone, AnswerToneGenerator};
use super::answer_tone_detector::AnswerToneDetector;
use super::capabilities::{agree, Offer, Pcm};
use super::fsk::{Channel, V21_BAUD};
use super::fsk_rx::FskDemodulator;
use super::fsk_tx::FskModulator;
use super::message::{frame, frame_cj, hex, Deframer, Received, Sequence, SYNC_CM_JM};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, EventSpec, ItemType, ParamSpec, PortSpec, Status, WorkIo,
};
use serde_json::{json, Value as Json};

/// Sample rate of the line.
const FS: f64 = 8000.0;
/// V.8 §8.2: the answerer is silent for at least 0.2 s after connecting.
const ANSWER_SILENCE_S: f64 = 0.2;
/// V.8 §8.2.2: ANSam lasts 5 ± 1 s unless a CM ends it.
const ANSAM_S: f64 = 5.0;
/// V.8 §7.4: 75 ± 5 ms of silence after CJ, before the next phase.
const CJ_SILENCE_S: f64 = 0.075;
/// V.8 §5: ten ones before the sync octet; after them every 10 bits are one
/// start/stop framed octet.
const PREAMBLE_BITS: usize = 10;
const OCTET_BITS: usize = 10;
/// Carrier-detect threshold of the V.21 receivers (as spandsp's V.8 sets it).
const FSK_THRESHOLD_DBM0: f64 = -45.5;
/// Least answer-tone level the caller recognises, and how long the tone
/// must last first (the detector also needs 0.22 s to measure the AM).
const TONE_THRESHOLD_DBM0: f64 = -43.0;
const TONE_MIN_S: f64 = 0.2;

/// Which end of the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Caller,
    Answerer,
}

/// How a negotiator is set up.
#[derive(Clone, Debug)]
pub struct Config {
    pub role: Role,
    /// What this end offers (its CM, or what its JM may list).
    pub offer: Offer,
    /// The answerer's tone: ANSam or ANSam/ (V.34 and V.90 want ANSam/).
    pub answer_tone: AnswerTone,
    /// Caller: silence between recognising ANSam and the first CM (V.8 §8.1).
    pub te_s: f64,
    /// Transmit level of the answer tone and of V.21, dBm0.
    pub level_dbm0: f64,
    /// How long to wait for the answer tone, for JM after CM starts, and for
    /// CJ after JM starts.
    pub timeout_s: f64,
}

/// Something the negotiator reports: (sample, kind, fields). Kinds:
/// `sending`, `received`, `agreed`, `failed`.
pub type Report = (u64, &'static str, Json);

/// What the transmitter is doing.
#[derive(Clone, Debug)]
enum Tx {
    Silence,
    Tone(AnswerToneGenerator),
    /// V.21 bits from `bits[pos..]`, starting again at 0 when `repeat`.
    Fsk {
        modem: FskModulator,
        bits: Vec<u8>,
        pos: usize,
        repeat: bool,
    },
}

/// Where the procedure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Caller: waiting for an answer tone; answerer: its initial silence.
    Start,
    /// Caller: the Te silence after ANSam.
    Te {
        until: u64,
    },
    /// Answerer: sending ANSam, waiting for two identical CMs.
    Answering,
    /// Caller: CM; answerer: JM. Until the reply (two JMs / CJ).
    Exchanging {
        since: u64,
    },
    /// Caller: finishing CM and sending CJ.
    SendingCj,
    /// The 75 ms after CJ; then done.
    Closing {
        until: u64,
    },
    Finished,
}

/// One end of V.8.
#[derive(Clone, Debug)]
pub struct Negotiator {
    cfg: Config,
    n: u64,
    phase: Phase,
    tx: Tx,
    tone_rx: Option<AnswerToneDetector>,
    fsk_rx: FskDemodulator,
    deframer: Deframer,
    /// The CM (caller: its own; answerer: the accepted one) and the JM.
    cm: Option<Offer>,
    jm: Option<Offer>,
    reports: Vec<Report>,
    bits: Vec<u8>,
    found: Vec<Received>,
    tones: Vec<(&'static str, Json)>,
}

impl Negotiator {
    pub fn new(cfg: Config) -> Negotiator {
        let listen = match cfg.role {
            Role::Caller => Channel::TWO,
            Role::Answerer => Channel::ONE,
        };
        let fsk_rx = FskDemodulator::new(listen, V21_BAUD, FSK_THRESHOLD_DBM0)
            .expect("the V.21 receiver's design is fixed and valid");
        Negotiator {
            tone_rx: (cfg.role == Role::Caller)
                .then(|| AnswerToneDetector::new(TONE_THRESHOLD_DBM0, TONE_MIN_S)),
            cm: (cfg.role == Role::Caller).then(|| cfg.offer.clone()),
            cfg,
            n: 0,
            phase: Phase::Start,
            tx: Tx::Silence,
            fsk_rx,
            deframer: Deframer::new(),
            jm: None,
            reports: Vec::new(),
            bits: Vec::new(),
            found: Vec::new(),
            tones: Vec::new(),
        }
    }

    /// Reports made by the last call of [`Negotiator::process`].
    pub fn reports(&self) -> &[Report] {
        &self.reports
    }

    /// True once V.8 has ended, agreed or failed.
    pub fn finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Reads `rx` and writes as many transmit samples to `tx`, one for one;
    /// returns how many (the shorter length).
    pub fn process(&mut self, rx: &[f32], tx: &mut [f32]) -> usize {
        self.reports.clear();
        let n = rx.len().min(tx.len());
        for (x, y) in rx[..n].iter().zip(&mut tx[..n]) {
            self.receive(*x);
            self.advance();
            *y = self.transmit();
            self.n += 1;
        }
        n
    }

    fn seconds(&self, s: f64) -> u64 {
        (s * FS).round() as u64
    }

    fn report(&mut self, kind: &'static str, mut fields: Json) {
        fields["t"] = json!(self.n as f64 / FS);
        self.reports.push((self.n, kind, fields));
    }

    fn fail(&mut self, reason: String) {
        self.tx = Tx::Silence;
        self.phase = Phase::Finished;
        self.report("failed", json!({ "reason": reason }));
    }

    fn start_fsk(&mut self, channel: Channel, bits: Vec<u8>, signal: &str) {
        self.tx = Tx::Fsk {
            modem: FskModulator::new(channel, V21_BAUD, self.cfg.level_dbm0),
            bits,
            pos: 0,
            repeat: true,
        };
        self.report("sending", json!({ "signal": signal }));
    }

    fn receive(&mut self, x: f32) {
        if let Some(det) = &mut self.tone_rx {
            det.push(&[x], &mut self.tones);
        }
        for (kind, fields) in std::mem::take(&mut self.tones) {
            self.heard_tone(kind, fields);
        }
        self.bits.clear();
        self.fsk_rx.process(&[x], &mut self.bits, usize::MAX);
        for i in 0..self.bits.len() {
            self.deframer.push(self.bits[i], &mut self.found);
        }
        for r in std::mem::take(&mut self.found) {
            self.heard_message(r);
        }
    }

    /// The caller's answer-tone detector found something.
    fn heard_tone(&mut self, kind: &'static str, mut fields: Json) {
        if !matches!(kind, "ans" | "ansam") || self.phase != Phase::Start {
            return;
        }
        fields["message"] = json!(kind);
        self.report("received", fields);
        self.tone_rx = None;
        if kind == "ansam" {
            // V.8 §8.1: Te counts from recognising ANSam when no call signal was sent.
            self.phase = Phase::Te {
                until: self.n + self.seconds(self.cfg.te_s),
            };
        } else {
            self.fail(
                "the answer tone has no 15 Hz AM (ANS, not ANSam): the answerer does not do V.8"
                    .into(),
            );
        }
    }

    fn heard_message(&mut self, r: Received) {
        let name = match (r.sequence, self.cfg.role) {
            (Sequence::Ci, _) => "ci",
            (Sequence::CmJm, Role::Answerer) => "cm",
            (Sequence::CmJm, Role::Caller) => "jm",
            (Sequence::Cj, _) => "cj",
            (Sequence::V92, _) => "v92",
        };
        // V.8 §7.3–7.4: a CM or JM counts after two identical receptions in a row.
        let accepted = r.sequence == Sequence::CmJm && r.accepted;
        self.report(
            "received",
            json!({ "message": name, "octets": hex(&r.octets), "accepted": accepted }),
        );
        let octets = r.octets;
        match (self.cfg.role, self.phase, r.sequence) {
            (Role::Answerer, Phase::Start | Phase::Answering, Sequence::CmJm) if accepted => {
                let Some(cm) = Offer::from_octets(&octets) else {
                    return;
                };
                let jm = self.cfg.offer.jm_for(&cm);
                self.start_fsk(Channel::TWO, frame(SYNC_CM_JM, &jm.octets()), "jm");
                self.cm = Some(cm);
                self.jm = Some(jm);
                self.phase = Phase::Exchanging { since: self.n };
            }
            (Role::Answerer, Phase::Exchanging { .. }, Sequence::Cj) => {
                // V.8 §7.4: JM stops at once after the third CJ octet.
                self.tx = Tx::Silence;
                self.close();
            }
            (Role::Caller, Phase::Exchanging { .. }, Sequence::CmJm) if accepted => {
                let Some(jm) = Offer::from_octets(&octets) else {
                    return;
                };
                self.jm = Some(jm);
                self.finish_cm_with_cj();
            }
            _ => {}
        }
    }

    /// V.8 §7.4: the caller completes the CM octet it is sending (with its
    /// start and stop bits) and follows it with CJ.
    fn finish_cm_with_cj(&mut self) {
        if let Tx::Fsk {
            bits, pos, repeat, ..
        } = &mut self.tx
        {
            let end = if *pos <= PREAMBLE_BITS {
                *pos
            } else {
                PREAMBLE_BITS + (*pos - PREAMBLE_BITS).div_ceil(OCTET_BITS) * OCTET_BITS
            };
            bits.truncate(end.max(*pos));
            bits.extend(frame_cj());
            *repeat = false;
        }
        self.phase = Phase::SendingCj;
        self.report("sending", json!({ "signal": "cj" }));
    }

    fn close(&mut self) {
        self.phase = Phase::Closing {
            until: self.n + self.seconds(CJ_SILENCE_S),
        };
        self.report("sending", json!({ "signal": "silence" }));
    }

    /// Timers.
    fn advance(&mut self) {
        let timeout = self.seconds(self.cfg.timeout_s);
        match (self.cfg.role, self.phase) {
            (Role::Answerer, Phase::Start) if self.n >= self.seconds(ANSWER_SILENCE_S) => {
                self.tx = Tx::Tone(AnswerToneGenerator::new(
                    self.cfg.answer_tone,
                    self.cfg.level_dbm0,
                    ANSAM_S,
                ));
                self.phase = Phase::Answering;
                let signal = if self.cfg.answer_tone.reversals() {
                    "ansam_pr"
                } else {
                    "ansam"
                };
                self.report("sending", json!({ "signal": signal }));
            }
            (Role::Caller, Phase::Start) if self.n >= timeout => {
                self.fail(format!("no answer tone within {} s", self.cfg.timeout_s));
            }
            (Role::Caller, Phase::Te { until }) if self.n >= until => {
                let cm = self.cfg.offer.octets();
                self.start_fsk(Channel::ONE, frame(SYNC_CM_JM, &cm), "cm");
                self.phase = Phase::Exchanging { since: self.n };
            }
            (_, Phase::Exchanging { since }) if self.n >= since + timeout => {
                let what = match self.cfg.role {
                    Role::Caller => "two identical JMs",
                    Role::Answerer => "CJ",
                };
                self.fail(format!("no {what} within {} s", self.cfg.timeout_s));
            }
            (_, Phase::Closing { until }) if self.n >= until => {
                self.phase = Phase::Finished;
                self.agreed();
            }
            _ => {}
        }
    }

    fn agreed(&mut self) {
        let (Some(cm), Some(jm)) = (self.cm.clone(), self.jm.clone()) else {
            return;
        };
        let a = agree(&cm, &jm);
        let mut fields = json!({
            "cm": hex(&cm.octets()),
            "jm": hex(&jm.octets()),
            "common": a.common,
            "protocol": if a.lapm { Some("lapm") } else { None },
            "call_function": jm.call_function_name(),
        });
        match a.mode {
            Some(mode) => {
                fields["mode"] = json!(mode);
                if let Some(caller_analogue) = a.caller_analogue {
                    let analogue = caller_analogue == (self.cfg.role == Role::Caller);
                    fields["pcm_role"] = json!(if analogue { "analogue" } else { "digital" });
                }
                self.report("agreed", fields);
            }
            None => {
                fields["reason"] = json!("the JM lists no modulation mode both modems have");
                self.report("failed", fields);
            }
        }
    }

    fn transmit(&mut self) -> f32 {
        let mut y = [0.0f32];
        match &mut self.tx {
            Tx::Silence => {}
            Tx::Tone(g) => {
                if g.fill(&mut y) == 0 {
                    // V.8 §8.2.2: ANSam ended without two identical CMs.
                    self.tx = Tx::Silence;
                    self.fail(format!("no CM during the {ANSAM_S} s of the answer tone"));
                }
            }
            Tx::Fsk {
                modem,
                bits,
                pos,
                repeat,
            } => {
                let (taken, made) = modem.modulate(&bits[*pos..], &mut y);
                *pos += taken;
                if made == 0 && *repeat {
                    let (taken, _) = modem.modulate(bits, &mut y);
                    *pos = taken;
                } else if made == 0 {
                    // CJ is out: V.8 §7.4's silence follows.
                    self.tx = Tx::Silence;
                    self.close();
                }
            }
        }
        y[0]
    }
}

struct NegotiatorBlock(Negotiator);

impl Block for NegotiatorBlock {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0].available().min(io.outputs[0].space());
        if n > 0 {
            let rx = &io.inputs[0].items::<f32>()[..n];
            let tx = io.outputs[0].append::<f32>(n);
            self.0.process(rx, tx);
            io.inputs[0].consume(n);
            for (_, kind, fields) in self.0.reports() {
                io.emit(kind, fields.clone());
            }
        }
        Ok(
            if io.inputs[0].finished() && io.inputs[0].available() == 0 {
                Status::Done
            } else {
                Status::Ok
            },
        )
    }
}

fn list(s: &str) -> Vec<&str> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect()
}

fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let role = match a.string("role")?.as_str() {
        "answerer" => Role::Answerer,
        _ => Role::Caller,
    };
    let modulations = a.string("modulations")?;
    let names = list(&modulations);
    let pcm = match a.string("pcm")?.as_str() {
        "none" => Pcm::None,
        "analogue" => Pcm::Analogue,
        "digital" => Pcm::Digital,
        // auto: the caller is the analogue V.90 modem and the answerer the
        // digital one (the usual dial-up call), when v90 is offered at all.
        _ if !names.contains(&"v90") => Pcm::None,
        _ if role == Role::Caller => Pcm::Analogue,
        _ => Pcm::Digital,
    };
    let offer = Offer::new(&names, pcm, a.string("protocol")? == "lapm")?;
    let answer_tone = match a.string("answer_tone")?.as_str() {
        "ansam" => AnswerTone::Ansam,
        _ => AnswerTone::AnsamPr,
    };
    Ok(Box::new(NegotiatorBlock(Negotiator::new(Config {
        role,
        offer,
        answer_tone,
        te_s: a.float("te")?,
        level_dbm0: a.float("level")?,
        timeout_s: a.float("timeout")?,
    }))))
}

pub fn spec() -> BlockSpec {
    BlockSpec::new(
        "v8_negotiator",
        "V.8",
        "One end of a V.8 start-up (caller or answerer): ANSam, CM, JM, CJ with V.8's timers",
        make,
    )
    .doc(
        "Runs the V.8 procedure (V.8 §7–8) as the calling or the answering modem, reading the line on `in` \
         and sending on `out`, one sample out per sample in (the sample sent at n depends on what was received \
         up to n, so two negotiators can face each other through a line with some delay). Answerer: 0.2 s of \
         silence, ANSam/ (or ANSam) for at most 5 s; after two identical CMs it sends JM on V.21 channel 2 \
         with the modes both list, until CJ; then 75 ms of silence. Caller: silent until it recognises ANSam, \
         silent for `te`, then CM on channel 1; after two identical JMs it finishes its current octet, sends \
         CJ, then 75 ms of silence. Then `agreed` gives the mode: v90 when the CM and JM make an analogue/digital \
         pair (V.90 §9.1.1), otherwise the first mode of V.8 Table 4 the JM lists. The CM/JM octets are built \
         from `modulations`, `pcm` and `protocol` (V.8 Tables 2–7; V.90 needs v34 too, V.8 §6.3; the digital \
         V.90 modem states a digital PSTN connection). CI is not sent. After V.8 the block sends silence.",
    )
    .param(ParamSpec::choice("role", &["caller", "answerer"], "which end of the call").default("caller"))
    .param(
        ParamSpec::string(
            "modulations",
            "modes offered, comma-separated V.8 Table 4 names: v90, v34, v34hdx, v32bis, v22bis, v17, \
             v29hdx, v27ter, v26ter, v26bis, v23, v23hdx, v21",
        )
        .default("v90,v34,v32bis,v22bis,v21"),
    )
    .param(
        ParamSpec::choice(
            "pcm",
            &["auto", "none", "analogue", "digital"],
            "V.90 role offered (pcm0): auto = analogue for the caller, digital for the answerer, when v90 is listed",
        )
        .default("auto"),
    )
    .param(ParamSpec::choice("protocol", &["lapm", "none"], "error-correction protocol offered (prot0)").default("lapm"))
    .param(
        ParamSpec::choice("answer_tone", &["ansam_pr", "ansam"], "answerer's tone (V.34 and V.90 want ansam_pr)")
            .default("ansam_pr"),
    )
    .param(
        ParamSpec::float("te", "caller's silence between recognising ANSam and CM (V.8 §8.1: ≥ 0.5 s, ≥ 1 s to disable echo cancellers)")
            .default(1.0)
            .range(0.5, 5.0)
            .unit("s"),
    )
    .param(
        ParamSpec::float("level", "transmit level of the answer tone and V.21 (V.2: at most −13 dBm0 on average)")
            .default(-13.0)
            .range(-50.0, 0.0)
            .unit("dBm0"),
    )
    .param(
        ParamSpec::float("timeout", "wait for the answer tone, for JM after CM starts, for CJ after JM starts")
            .default(10.0)
            .range(1.0, 600.0)
            .unit("s"),
    )
    .input(PortSpec::new("in", ItemType::F32, "received line signal, 8000 Hz"))
    .output(PortSpec::new("out", ItemType::F32, "transmitted signal, one sample per received sample"))
    .event(EventSpec::new(
        "sending",
        "the transmitter starts a signal",
        &[("t", "seconds from the first sample"), ("signal", "ansam_pr, ansam, cm, jm, cj or silence")],
    ))
    .event(EventSpec::new(
        "received",
        "a signal was read from the line",
        &[
            ("t", "seconds from the first sample, when it was read"),
            ("message", "ans, ansam (caller), ci, cm, cj, v92 (answerer), jm (caller)"),
            ("octets", "information octets after the sync, upper-case hex"),
            ("accepted", "a CM or JM identical to the one before it"),
        ],
    ))
    .event(EventSpec::new(
        "agreed",
        "V.8 ended: the mode both ends go to",
        &[
            ("t", "end of the 75 ms silence after CJ, seconds"),
            ("mode", "v90 or the V.8 Table 4 name (v34, v32bis, …)"),
            ("pcm_role", "with v90: analogue or digital, this end's V.90 role"),
            ("common", "every mode the JM lists"),
            ("protocol", "lapm or null"),
            ("call_function", "V.8 Table 2 name"),
            ("cm", "the CM's octets"),
            ("jm", "the JM's octets"),
        ],
    ))
    .event(EventSpec::new(
        "failed",
        "V.8 ended without a mode",
        &[("t", "seconds"), ("reason", "what was missing")],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(role: Role, modes: &[&str], pcm: Pcm) -> Config {
        Config {
            role,
            offer: Offer::new(modes, pcm, true).unwrap(),
            answer_tone: AnswerTone::AnsamPr,
            te_s: 1.0,
            level_dbm0: -13.0,
            timeout_s: 10.0,
        }
    }

    /// Runs two negotiators against each other through `line` (what each
    /// receives from what both sent, given the last `delay` samples), in
    /// chunks of `delay`; returns every report of each.
    fn face_off(
        mut caller: Negotiator,
        mut answerer: Negotiator,
        seconds: f64,
        delay: usize,
        line: impl Fn(&[f32], &[f32]) -> (Vec<f32>, Vec<f32>),
    ) -> (Vec<Report>, Vec<Report>) {
        let total = (seconds * FS) as usize;
        let (mut to_c, mut to_a) = (vec![0.0f32; delay], vec![0.0f32; delay]);
        let (mut rc, mut ra) = (Vec::new(), Vec::new());
        let (mut c_tx, mut a_tx) = (vec![0.0f32; delay], vec![0.0f32; delay]);
        for _ in 0..total / delay {
            caller.process(&to_c, &mut c_tx);
            answerer.process(&to_a, &mut a_tx);
            rc.extend_from_slice(caller.reports());
            ra.extend_from_slice(answerer.reports());
            (to_c, to_a) = line(&c_tx, &a_tx);
        }
        (rc, ra)
    }

    fn clean(c: &[f32], a: &[f32]) -> (Vec<f32>, Vec<f32>) {
        (a.to_vec(), c.to_vec())
    }

    fn find<'a>(r: &'a [Report], kind: &str) -> Option<&'a Report> {
        r.iter().find(|(_, k, _)| *k == kind)
    }

    fn sent(r: &[Report]) -> Vec<&str> {
        r.iter()
            .filter(|(_, k, _)| *k == "sending")
            .map(|(_, _, f)| f["signal"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_v90_caller_and_a_v90_server_agree_on_v90() {
        let caller = Negotiator::new(config(
            Role::Caller,
            &["v90", "v34", "v32bis", "v22bis", "v21"],
            Pcm::Analogue,
        ));
        let answerer = Negotiator::new(config(
            Role::Answerer,
            &["v90", "v34", "v32bis", "v22bis"],
            Pcm::Digital,
        ));
        let (rc, ra) = face_off(caller, answerer, 8.0, 40, clean);
        let (tc, _, c) = find(&rc, "agreed").expect("caller agreed");
        let (ta, _, a) = find(&ra, "agreed").expect("answerer agreed");
        assert_eq!(c["mode"], "v90");
        assert_eq!(a["mode"], "v90");
        assert_eq!(c["pcm_role"], "analogue");
        assert_eq!(a["pcm_role"], "digital");
        assert_eq!(c["cm"], "C1 65 13 90 2A 0D 27");
        assert_eq!(c["jm"], "C1 65 13 10 2A 8D 47");
        assert_eq!(a["jm"], c["jm"]);
        assert_eq!(a["cm"], c["cm"]);
        assert_eq!(c["protocol"], "lapm");
        assert_eq!(sent(&rc), ["cm", "cj", "silence"]);
        assert_eq!(sent(&ra), ["ansam_pr", "jm", "silence"]);
        assert!(find(&rc, "failed").is_none() && find(&ra, "failed").is_none());
        // The order of V.8 §8: ANSam at 0.2 s; the caller recognises it,
        // waits Te = 1 s, sends CM; JM after two CMs; CJ; both done within
        // about 75 ms + the 5 ms line delay of each other.
        let at = |r: &[Report], kind: &str, what: &str, key: &str| {
            r.iter()
                .find(|(_, k, f)| *k == kind && f[key] == what)
                .map(|(n, _, _)| *n as f64 / FS)
                .unwrap_or_else(|| panic!("no {kind} {what}"))
        };
        let ansam = at(&ra, "sending", "ansam_pr", "signal");
        assert!((ansam - 0.2).abs() < 1e-3, "{ansam}");
        let heard = at(&rc, "received", "ansam", "message");
        let cm = at(&rc, "sending", "cm", "signal");
        assert!(heard > ansam + 0.2 && heard < ansam + 1.0, "{heard}");
        assert!((cm - heard - 1.0).abs() < 1e-3, "Te: {cm} {heard}");
        let jm = at(&ra, "sending", "jm", "signal");
        // Two whole CMs (90 bits each) and the receiver's delay.
        assert!(
            jm > cm + 180.0 / 300.0 && jm < cm + 270.0 / 300.0,
            "{cm} {jm}"
        );
        let cj = at(&rc, "sending", "cj", "signal");
        assert!(
            cj > jm + 2.0 * 90.0 / 300.0 && cj < jm + 3.0 * 90.0 / 300.0,
            "{jm} {cj}"
        );
        let (tc, ta) = (*tc as f64 / FS, *ta as f64 / FS);
        assert!(tc > cj + 0.075 && tc < cj + 0.075 + 0.2, "{cj} {tc}");
        assert!((tc - ta).abs() < 0.1, "{tc} {ta}");
    }

    #[test]
    fn without_pcm_they_take_the_first_common_mode_of_table_4() {
        let caller = Negotiator::new(config(
            Role::Caller,
            &["v32bis", "v22bis", "v21"],
            Pcm::None,
        ));
        let answerer = Negotiator::new(config(
            Role::Answerer,
            &["v90", "v34", "v22bis", "v21"],
            Pcm::Digital,
        ));
        let (rc, ra) = face_off(caller, answerer, 8.0, 40, clean);
        assert_eq!(find(&rc, "agreed").unwrap().2["mode"], "v22bis");
        assert_eq!(find(&ra, "agreed").unwrap().2["mode"], "v22bis");
        assert!(find(&ra, "agreed").unwrap().2.get("pcm_role").is_none());
    }

    #[test]
    fn nothing_in_common_fails_on_both_sides() {
        let caller = Negotiator::new(config(Role::Caller, &["v21"], Pcm::None));
        let answerer = Negotiator::new(config(Role::Answerer, &["v34"], Pcm::None));
        let (rc, ra) = face_off(caller, answerer, 8.0, 40, clean);
        assert!(find(&rc, "agreed").is_none());
        assert!(find(&rc, "failed").unwrap().2["reason"]
            .as_str()
            .unwrap()
            .contains("no modulation mode"));
        assert!(find(&ra, "failed").is_some());
    }

    #[test]
    fn an_answerer_alone_gives_up_after_five_seconds_of_ansam() {
        let mut a = Negotiator::new(config(Role::Answerer, &["v34"], Pcm::None));
        let rx = vec![0.0f32; 7 * 8000];
        let mut tx = vec![0.0f32; rx.len()];
        a.process(&rx, &mut tx);
        let (n, _, f) = find(a.reports(), "failed").unwrap();
        assert!(f["reason"].as_str().unwrap().contains("no CM"));
        assert_eq!(*n, 8000 / 5 + 5 * 8000);
        // Silence, then the tone, then silence.
        assert!(tx[..1600].iter().all(|&x| x == 0.0));
        assert!(tx[1600..1700].iter().any(|&x| x != 0.0));
        assert!(tx[*n as usize..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn a_caller_alone_times_out_and_plain_ans_is_not_v8() {
        let mut c = Negotiator::new(config(Role::Caller, &["v34"], Pcm::None));
        let rx = vec![0.0f32; 11 * 8000];
        let mut tx = vec![1.0f32; rx.len()];
        c.process(&rx, &mut tx);
        assert!(tx.iter().all(|&x| x == 0.0));
        assert!(find(c.reports(), "failed").unwrap().2["reason"]
            .as_str()
            .unwrap()
            .contains("no answer tone"));

        let mut c = Negotiator::new(config(Role::Caller, &["v34"], Pcm::None));
        let mut ans = vec![0.0f32; 3 * 8000];
        AnswerToneGenerator::new(AnswerTone::Ans, -13.0, 2.0).fill(&mut ans[800..]);
        let mut tx = vec![0.0f32; ans.len()];
        c.process(&ans, &mut tx);
        assert!(find(c.reports(), "failed").unwrap().2["reason"]
            .as_str()
            .unwrap()
            .contains("ANS, not ANSam"));
        assert!(tx.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn the_same_whatever_the_chunking() {
        let run = |chunk: usize| {
            let mut c = Negotiator::new(config(Role::Caller, &["v34", "v21"], Pcm::None));
            let mut a = Negotiator::new(config(Role::Answerer, &["v34"], Pcm::None));
            // Fixed 40-sample line; the chunk only changes how calls split.
            let (mut line_c, mut line_a) = (vec![0.0f32; 40], vec![0.0f32; 40]);
            let (mut out_c, mut out_a, mut reports) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..(6 * 8000 / 40) {
                let (mut tc, mut ta) = (vec![0.0f32; 40], vec![0.0f32; 40]);
                for k in (0..40).step_by(chunk) {
                    let e = (k + chunk).min(40);
                    c.process(&line_c[k..e], &mut tc[k..e]);
                    reports.extend(c.reports().iter().map(|r| (0, r.clone())));
                    a.process(&line_a[k..e], &mut ta[k..e]);
                    reports.extend(a.reports().iter().map(|r| (1, r.clone())));
                }
                out_c.extend_from_slice(&tc);
                out_a.extend_from_slice(&ta);
                (line_c, line_a) = (ta, tc);
            }
            (out_c, out_a, reports)
        };
        let one = run(40);
        assert!(one.2.iter().any(|(_, r)| r.1 == "agreed"));
        for chunk in [1, 7, 13] {
            assert!(run(chunk) == one, "chunk {chunk}");
        }
    }

    #[test]
    fn garbage_on_the_line_never_panics() {
        for x in [f32::NAN, f32::INFINITY, -f32::INFINITY, 1e30, -1e30, 0.0] {
            for role in [Role::Caller, Role::Answerer] {
                let mut n = Negotiator::new(config(role, &["v34"], Pcm::None));
                let rx = vec![x; 12 * 8000];
                let mut tx = vec![0.0f32; rx.len()];
                assert_eq!(n.process(&rx, &mut tx), rx.len());
                assert!(tx.iter().all(|y| y.is_finite()));
            }
        }
    }
}
