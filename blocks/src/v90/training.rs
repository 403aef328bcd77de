//! The digital modem's training signal (V.90 Phase 3, TRN1d;
//! modem-standards.md §5.8): the PCM code with Ucode U_INFO, its sign taken
//! from the GPC scrambler reset to zero and fed ones, 1 = positive. It is
//! white, known to both ends, and uses one magnitude, so the analogue modem
//! can train its equalizer on it before any data.
//!
//! The `pcm_train` block sends it ahead of a codeword stream, and a short
//! guard of it after the stream ends, so the receiver's equalizer has real
//! line samples around the last data symbol; `pcm_equalizer` trains on the
//! same sequence and removes both.

use super::dil::{self, Dil};
use super::rates::FRAME;
use super::ucode;
use crate::g711::law::Law;
use crate::v34::scrambler::{Polynomial, Scrambler};
use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ItemType, ParamSpec, PortSpec, Rate, Status, WorkIo,
};

/// V.90 §8 (Phase 3): TRN1d lasts at least 2040 T, a multiple of 6.
pub const MIN_TRAINING: usize = 2040;
/// INFO1a bits 25:31: U_INFO must be above 66.
pub const MIN_U_INFO: u8 = 67;
/// Symbols of the training sequence sent after the data: more than the
/// equalizer's reach past a symbol (its bulk-delay search plus its
/// feed-forward span), a whole number of data frames.
pub const GUARD: usize = 192;

/// The training symbols: ±U_INFO with the GPC scrambler's signs.
#[derive(Clone, Debug)]
pub struct Trn1d {
    scrambler: Scrambler,
    law: Law,
    u_info: u8,
}

impl Trn1d {
    pub fn new(law: Law, u_info: u8) -> Trn1d {
        Trn1d {
            scrambler: Scrambler::new(Polynomial::Gpc),
            law,
            u_info: u_info.min(ucode::MAX_UCODE),
        }
    }

    /// The next sign (true = positive).
    pub fn next_sign(&mut self) -> bool {
        let mut out = [0u8];
        self.scrambler.process(&[1], &mut out);
        out[0] == 1
    }

    /// The next PCM codeword.
    pub fn next_octet(&mut self) -> u8 {
        let positive = self.next_sign();
        ucode::octet(self.law, self.u_info, positive)
    }

    /// The next symbol's value on the line (signed Table 1 value / 32768).
    pub fn next_value(&mut self) -> f32 {
        let v = ucode::linear(self.law, self.u_info) as f32 / 32768.0;
        if self.next_sign() {
            v
        } else {
            -v
        }
    }
}

/// Checks a training length: at least TRN1d's 2040 and whole data frames.
pub fn check_training(n: i64) -> Result<usize, String> {
    let n = usize::try_from(n).unwrap_or(0);
    if n < MIN_TRAINING || n % FRAME != 0 {
        return Err(format!(
            "`training` must be a multiple of 6 and at least {MIN_TRAINING} symbols (V.90 TRN1d), got {n}"
        ));
    }
    Ok(n)
}

struct Train {
    trn: Trn1d,
    law: Law,
    /// Training symbols still to send before the data.
    lead: usize,
    /// With the rate chosen by the receiver: the DIL and the TRN1d after it,
    /// still to send after the training.
    dil: Option<(Dil, usize)>,
    filler: usize,
    /// Guard symbols still to send after it.
    guard: usize,
}

impl Block for Train {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let out = &mut io.outputs[0];
        while self.lead > 0 && out.space() > 0 {
            let o = self.trn.next_octet();
            out.items::<u8>().push(o);
            self.lead -= 1;
        }
        if self.lead > 0 {
            return Ok(Status::Ok);
        }
        if let Some((seq, left)) = &mut self.dil {
            while *left > 0 && out.space() > 0 {
                let (u, positive) = seq.next(&mut self.trn);
                out.items::<u8>().push(ucode::octet(self.law, u, positive));
                *left -= 1;
            }
            if *left > 0 {
                return Ok(Status::Ok);
            }
            while self.filler > 0 && out.space() > 0 {
                let o = self.trn.next_octet();
                out.items::<u8>().push(o);
                self.filler -= 1;
            }
            if self.filler > 0 {
                return Ok(Status::Ok);
            }
        }
        let n = io.inputs[0].available().min(out.space());
        out.items::<u8>()
            .extend_from_slice(&io.inputs[0].items::<u8>()[..n]);
        io.inputs[0].consume(n);
        if io.inputs[0].finished() && io.inputs[0].available() == 0 {
            while self.guard > 0 && out.space() > 0 {
                let o = self.trn.next_octet();
                out.items::<u8>().push(o);
                self.guard -= 1;
            }
            if self.guard == 0 {
                return Ok(Status::Done);
            }
        }
        Ok(Status::Ok)
    }
}

fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let law = super::params::law_arg(a)?;
    let lead = check_training(a.int("training")?)?;
    let auto = a.int("rate")? == 0;
    Ok(Box::new(Train {
        trn: Trn1d::new(law, a.int("u_info")? as u8),
        law,
        lead,
        dil: auto.then(|| (Dil::default(), dil::LEN)),
        filler: if auto { dil::FILLER } else { 0 },
        guard: GUARD,
    }))
}

/// The parameters `pcm_train` and `pcm_equalizer` share.
pub fn training_params(s: BlockSpec) -> BlockSpec {
    s.param(
        ParamSpec::int(
            "training",
            "training symbols before the data (TRN1d: ≥ 2040, whole frames)",
        )
        .default(6000)
        .range(MIN_TRAINING as f64, 1e6),
    )
    .param(
        ParamSpec::int(
            "u_info",
            "Ucode of the training symbols (INFO1a U_INFO: above 66)",
        )
        .default(88)
        .range(f64::from(MIN_U_INFO), 127.0),
    )
}

pub fn spec() -> BlockSpec {
    training_params(
        BlockSpec::new(
            "pcm_train",
            "V.90",
            "Sends V.90's TRN1d training symbols before a PCM codeword stream (and a short guard after it)",
            make,
        )
        .doc(
            "The digital modem's training signal (V.90 Phase 3, TRN1d): `training` PCM codewords of Ucode \
             `u_info` whose signs come from the GPC scrambler reset to zero and fed ones (1 = positive), then \
             the input codewords unchanged, then 192 more training symbols once the input ends, so that the \
             receiver's equalizer has line samples beyond the last data symbol. With `rate` 0 (the receiver \
             chooses) the training is followed by the DIL — every Ucode 0…127 in every interval of the data \
             frame, eight times, four with each sign, in an order scrambled by TRN1d (6144 symbols) — and 600 \
             more TRN1d symbols, before the data. `pcm_equalizer` with the same \
             `training`, `u_info` and `law` trains on it and removes both. `training` is a multiple of 6, so \
             data frames keep their alignment.",
        )
        .param(super::params::law_param())
        .param(super::params::choosing_rate_param()),
    )
    .input(
        PortSpec::new(
            "in",
            ItemType::Octet,
            "PCM codewords (data); unconnected, the training (and DIL) alone",
        )
        .optional(),
    )
    .output(
        PortSpec::new("out", ItemType::Octet, "training, data, guard").rate(Rate::Varies),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunked, items, make as build, run};
    use modemflow_flow::{ItemType, Value};

    #[test]
    fn first_signs_are_the_reference_ones() {
        // modem-standards.md §5.8: the first 48 TRN1d signs.
        let want = "111111111111111111000001111111111111000000000011";
        let mut t = Trn1d::new(Law::Mu, 100);
        let got: String = (0..48)
            .map(|_| if t.next_sign() { '1' } else { '0' })
            .collect();
        assert_eq!(got, want);
        let mut t = Trn1d::new(Law::Mu, 100);
        assert_eq!(t.next_octet(), ucode::octet(Law::Mu, 100, true));
        let mut t = Trn1d::new(Law::A, 100);
        let v = t.next_value();
        assert_eq!(v, ucode::linear(Law::A, 100) as f32 / 32768.0);
    }

    fn run_train(params: &[(&str, Value)], data: &[u8], chunk: usize) -> Vec<u8> {
        let s = spec();
        let mut b = build(&s, params).unwrap();
        let r = run(
            b.as_mut(),
            Some(ItemType::Octet),
            &chunked(data, &[chunk]),
            &[ItemType::Octet],
            chunk.max(1),
            usize::MAX,
        )
        .unwrap();
        items::<u8>(&r.outputs[0])
    }

    #[test]
    fn block_sends_training_data_guard() {
        let params = [("training", Value::Int(2040)), ("u_info", Value::Int(90))];
        let data: Vec<u8> = (0..500u32).map(|i| (i * 7) as u8).collect();
        let out = run_train(&params, &data, 4096);
        assert_eq!(out.len(), 2040 + 500 + GUARD);
        let mut t = Trn1d::new(Law::Mu, 90);
        let train: Vec<u8> = (0..2040 + GUARD).map(|_| t.next_octet()).collect();
        assert_eq!(&out[..2040], &train[..2040]);
        assert_eq!(&out[2040..2540], &data[..]);
        assert_eq!(&out[2540..], &train[2040..]);
        for chunk in [1, 7, 333] {
            assert_eq!(run_train(&params, &data, chunk), out, "chunk {chunk}");
        }
    }

    #[test]
    fn training_length_is_checked() {
        assert!(check_training(2040).is_ok());
        assert!(check_training(2041).unwrap_err().contains("multiple of 6"));
        assert!(check_training(600).is_err());
        assert!(check_training(-6).is_err());
    }
}
