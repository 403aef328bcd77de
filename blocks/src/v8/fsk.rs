//! V.21 channels and bit timing shared by the FSK modulator and demodulator.
//!
//! modem-standards.md §2: V.8 §3 sends CI, CM and CJ on V.21 channel 1 and JM
//! on channel 2, at 300 bit/s with continuous-phase binary FSK, ±100 Hz about
//! the channel centre, mark (binary 1) on the lower tone.

use modemflow_flow::{BlockArgs, ParamSpec};

/// V.21 §2 (as used by V.8 §3): the data signalling rate.
pub const V21_BAUD: f64 = 300.0;

/// A V.21 channel: its mark and space tones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Channel {
    /// Tone for binary 1.
    pub mark_hz: f64,
    /// Tone for binary 0.
    pub space_hz: f64,
}

impl Channel {
    /// V.21 channel 1, V.21(L): 1080 Hz centre, 980 Hz mark, 1180 Hz space
    /// (modem-standards.md §2).
    pub const ONE: Channel = Channel {
        mark_hz: 980.0,
        space_hz: 1180.0,
    };
    /// V.21 channel 2, V.21(H): 1750 Hz centre, 1650 Hz mark, 1850 Hz space
    /// (modem-standards.md §2).
    pub const TWO: Channel = Channel {
        mark_hz: 1650.0,
        space_hz: 1850.0,
    };

    /// Channel 1 or 2.
    pub fn number(n: i64) -> Option<Channel> {
        match n {
            1 => Some(Channel::ONE),
            2 => Some(Channel::TWO),
            _ => None,
        }
    }

    pub fn centre_hz(&self) -> f64 {
        (self.mark_hz + self.space_hz) / 2.0
    }

    /// The same channel with both tones moved by `hz` (a line's carrier offset).
    pub fn shifted(self, hz: f64) -> Channel {
        Channel {
            mark_hz: self.mark_hz + hz,
            space_hz: self.space_hz + hz,
        }
    }
}

/// The `channel` parameter of both blocks.
pub(crate) fn channel_param() -> ParamSpec {
    ParamSpec::int(
        "channel",
        "V.21 channel: 1 = 980 Hz mark / 1180 Hz space (V.8 CI, CM, CJ), \
         2 = 1650 Hz mark / 1850 Hz space (V.8 JM)",
    )
    .allowed(&[1, 2])
    .default(1)
}

/// The `baud` parameter of both blocks.
pub(crate) fn baud_param() -> ParamSpec {
    ParamSpec::float("baud", "bit rate; V.21 uses 300")
        .default(V21_BAUD)
        .range(50.0, 1200.0)
        .unit("bit/s")
}

pub(crate) fn channel_arg(args: &BlockArgs) -> Result<Channel, String> {
    let n = args.int("channel")?;
    Channel::number(n).ok_or_else(|| format!("`channel` must be 1 or 2, got {n}"))
}

pub(crate) fn baud_arg(args: &BlockArgs) -> Result<f64, String> {
    let b = args.float("baud")?;
    if (50.0..=1200.0).contains(&b) {
        Ok(b)
    } else {
        Err(format!("`baud` = {b} is out of range 50 … 1200 bit/s"))
    }
}
