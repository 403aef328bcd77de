//! Signal levels in dBm0 and their values on the i16 and f32 scales.
//!
//! G.711 and the project's architecture note: a 0 dBm0 sine has its peak
//! 3.14 dB below the µ-law full-scale value 32124, on the 16-bit scale.

/// G.711: the largest µ-law decoder output on the 16-bit scale.
pub const MU_LAW_FULL_SCALE_I16: f64 = 32124.0;

/// G.711: 0 dBm0 is 3.14 dB below a full-scale µ-law sine (a level in dB,
/// not an approximation of π).
#[allow(clippy::approx_constant)]
pub const DBM0_BELOW_FULL_SCALE_DB: f64 = 3.14;

/// Full scale of the f32 streams: ±1.0 is ±32768 on the i16 scale.
pub const F32_FULL_SCALE_I16: f64 = 32768.0;

/// Peak of a 0 dBm0 sine on the i16 scale (about 22 378).
pub fn dbm0_peak_i16() -> f64 {
    MU_LAW_FULL_SCALE_I16 * 10f64.powf(-DBM0_BELOW_FULL_SCALE_DB / 20.0)
}

/// Peak of a sine of `level` dBm0 on the f32 scale.
pub fn dbm0_to_peak_f32(level: f64) -> f64 {
    dbm0_peak_i16() / F32_FULL_SCALE_I16 * 10f64.powf(level / 20.0)
}

/// RMS of any signal of `level` dBm0 on the f32 scale (a sine's peak / √2).
pub fn dbm0_to_rms_f32(level: f64) -> f64 {
    dbm0_to_peak_f32(level) / std::f64::consts::SQRT_2
}

/// The level in dBm0 of a signal with RMS `rms` on the f32 scale.
pub fn rms_f32_to_dbm0(rms: f64) -> f64 {
    20.0 * (rms / dbm0_to_rms_f32(0.0)).log10()
}

/// The level in dBm0 of a signal whose mean square on the f32 scale is
/// `power` (a noise or error power; zero reads as −inf clamped far below
/// any line level).
pub fn power_f32_to_dbm0(power: f64) -> f64 {
    rms_f32_to_dbm0(power.max(1e-30).sqrt())
}

/// A figure rounded to hundredths, as events report levels and SNRs (to
/// 0.01 dB).
pub fn hundredths(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_points() {
        assert!((dbm0_peak_i16() - 22_378.4).abs() < 0.1);
        assert!((dbm0_to_peak_f32(DBM0_BELOW_FULL_SCALE_DB) - 32124.0 / 32768.0).abs() < 1e-12);
        assert!((rms_f32_to_dbm0(dbm0_to_rms_f32(-13.0)) + 13.0).abs() < 1e-9);
    }
}
