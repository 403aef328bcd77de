//! V.90 downstream data rates (V.90 §5.2, Table 2; modem-standards.md §5.1–5.2):
//! D = K + S bits per 6-symbol data frame at 8000 symbols/s, so the rate is
//! D·8000/6 bit/s, 28 000 to 56 000 in steps of 1333⅓.

/// V.90 §5.1: 21 ≤ D ≤ 42.
pub const MIN_D: u32 = 21;
pub const MAX_D: u32 = 42;
/// V.90 §5.2: six PCM symbols per data frame.
pub const FRAME: usize = 6;
/// V.90 §5.4.5: S_r, sign bits spent on shaping, is 0…3.
pub const MAX_SR: u32 = 3;

/// V.90 Table 2: whether K modulus bits and S sign bits make a valid frame.
pub fn valid(k: u32, s: u32) -> bool {
    let s_range = match k {
        15 => 6..=6,
        16 => 5..=6,
        17 => 4..=6,
        18..=36 => 3..=6,
        37 => 3..=5,
        38 => 3..=4,
        39 => 3..=3,
        _ => return false,
    };
    s_range.contains(&s) && k + s <= MAX_D
}

/// The rate of D bits per frame, as modems report it (rounded down: 29333,
/// 30666, …).
pub fn bit_rate(d: u32) -> u32 {
    d * 8000 / 6
}

/// D for a rate given as modems report it (28000, 29333, …, 56000), or the
/// exact D·8000/6 rounded either way.
pub fn bits_per_frame(rate: u32) -> Option<u32> {
    let d = ((f64::from(rate) * 6.0 / 8000.0).round()) as u32;
    ((MIN_D..=MAX_D).contains(&d) && rate.abs_diff(d * 8000 / 6) <= 1).then_some(d)
}

/// (K, S) for D bits per frame with S_r sign bits used for shaping
/// (S = 6 − S_r, K = D − S), if V.90 allows it.
pub fn split(d: u32, sr: u32) -> Option<(u32, u32)> {
    if sr > MAX_SR {
        return None;
    }
    let s = FRAME as u32 - sr;
    let k = d.checked_sub(s)?;
    valid(k, s).then_some((k, s))
}

/// Every rate V.90 allows, as modems report them.
pub fn all_rates() -> Vec<u32> {
    (MIN_D..=MAX_D).map(bit_rate).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_as_modems_report_them() {
        let r = all_rates();
        assert_eq!(r.len(), 22);
        assert_eq!(&r[..4], [28000, 29333, 30666, 32000]);
        assert_eq!(*r.last().unwrap(), 56000);
        for (d, rate) in (MIN_D..=MAX_D).zip(&r) {
            assert_eq!(bits_per_frame(*rate), Some(d));
        }
        assert_eq!(bits_per_frame(29334), Some(22));
        assert_eq!(bits_per_frame(29000), None);
        assert_eq!(bits_per_frame(57333), None);
    }

    #[test]
    fn table_2_pairs() {
        // modem-standards.md §5.2.
        assert!(valid(15, 6) && !valid(15, 5));
        assert!(valid(16, 5) && !valid(16, 4));
        assert!(valid(17, 4) && !valid(17, 3));
        assert!(valid(18, 3) && valid(36, 6) && !valid(36, 7));
        assert!(valid(37, 5) && !valid(37, 6));
        assert!(valid(38, 4) && !valid(38, 5));
        assert!(valid(39, 3) && !valid(39, 4));
        assert!(!valid(14, 6) && !valid(40, 2));
        // Every rate works with every S_r.
        for d in MIN_D..=MAX_D {
            for sr in 0..=MAX_SR {
                let (k, s) = split(d, sr).unwrap_or_else(|| panic!("D {d} Sr {sr}"));
                assert_eq!((k + s, s), (d, 6 - sr));
            }
        }
        assert_eq!(split(42, 0), Some((36, 6)));
        assert_eq!(split(42, 4), None);
    }
}
