//! The parameters every V.34 data-pump block reads the same way — `rate`,
//! `symbol_rate`, `expanded` and `rings` — and the check of their
//! combination (V.34 Table 1 rates per symbol rate; Table 10 ring counts),
//! which `modemflow check` reports at the parameter with the allowed values.

use super::rates::{allowed_rates_text, Mapping, Mode, SymbolRate, MAX_RINGS, SYMBOL_RATE_NAMES};
use modemflow_flow::{BlockArgs, BlockSpec, ParamSpec, Value};
use std::collections::BTreeMap;

/// The mode parameters, shared by every V.34 data-pump block.
pub fn mode_params(spec: BlockSpec) -> BlockSpec {
    spec.param(
        ParamSpec::int("rate", "data rate in bit/s, as modems report it (V.34 Table 1)")
            .default(33600)
            .range(2400.0, 33600.0)
            .unit("bit/s"),
    )
    .param(
        ParamSpec::int("symbol_rate", "symbols per second, by V.34's names (Table 1)")
            .default(3429)
            .allowed(&SYMBOL_RATE_NAMES)
            .unit("baud"),
    )
    .param(
        ParamSpec::bool(
            "expanded",
            "expanded shell mapping: more rings than the minimum (V.34 §9.2; MP's shaping bit)",
        )
        .default(false),
    )
    .param(
        ParamSpec::int(
            "rings",
            "ring count M: 0 = as `expanded` says; else V.34's minimum or expanded count for the rate (Table 10)",
        )
        .default(0)
        .range(0.0, f64::from(MAX_RINGS)),
    )
    .check(check_mode)
}

fn int(p: &BTreeMap<String, Value>, name: &str) -> i64 {
    p.get(name).and_then(Value::as_i64).unwrap_or(0)
}

/// The mode the parameters name, or the parameter at fault and why.
fn mode_of(p: &BTreeMap<String, Value>) -> Result<Mode, (&'static str, String)> {
    let s = int(p, "symbol_rate") as u32;
    let rate = int(p, "rate") as u32;
    let expanded = p.get("expanded").and_then(Value::as_bool).unwrap_or(false);
    let sr = SymbolRate::by_name(s).ok_or_else(|| {
        (
            "symbol_rate",
            format!("symbol rate {s} is not one of V.34's: 2400, 2743, 2800, 3000, 3200, 3429"),
        )
    })?;
    if !sr.allows(rate) {
        return Err((
            "rate",
            format!(
                "V.34 does not allow {rate} bit/s at {s} baud: {}",
                allowed_rates_text(sr)
            ),
        ));
    }
    let rings = int(p, "rings") as u32;
    let mode = Mode::new(rate, s, expanded).map_err(|e| ("rate", e))?;
    if rings == 0 {
        return Ok(mode);
    }
    let (min, exp) = (
        Mapping::new(mode.framing.b, false).m,
        Mapping::new(mode.framing.b, true).m,
    );
    if rings == min || rings == exp {
        return Mode::new(rate, s, rings == exp && exp != min).map_err(|e| ("rate", e));
    }
    let counts = if min == exp {
        format!("{min} ring{}", if min == 1 { "" } else { "s" })
    } else {
        format!("{min} rings (minimum) or {exp} (expanded)")
    };
    Err((
        "rings",
        format!("V.34 uses {counts} at {rate} bit/s and {s} baud, not {rings} (Table 10)"),
    ))
}

/// The loader's combination check (see [`modemflow_flow::ParamsCheck`]).
pub fn check_mode(p: &BTreeMap<String, Value>) -> Result<(), (&'static str, String)> {
    mode_of(p).map(|_| ())
}

/// The mode a block's parameters name.
pub fn mode_arg(args: &BlockArgs) -> Result<Mode, String> {
    mode_of(&args.params).map_err(|(name, m)| format!("`{name}`: {m}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(rate: i64, s: i64, expanded: bool, rings: i64) -> BTreeMap<String, Value> {
        [
            ("rate", Value::Int(rate)),
            ("symbol_rate", Value::Int(s)),
            ("expanded", Value::Bool(expanded)),
            ("rings", Value::Int(rings)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn combinations() {
        assert!(check_mode(&params(33600, 3429, false, 0)).is_ok());
        let (name, m) = check_mode(&params(33600, 3200, false, 0)).unwrap_err();
        assert_eq!(name, "rate");
        assert!(m.contains("4800 … 31200"), "{m}");
        assert_eq!(
            check_mode(&params(2400, 3000, false, 0)).unwrap_err().0,
            "rate"
        );
        assert_eq!(
            check_mode(&params(2500, 2400, false, 0)).unwrap_err().0,
            "rate"
        );
        // 33 600 at 3429: M = 11 or 13.
        assert!(check_mode(&params(33600, 3429, false, 13)).is_ok());
        assert!(mode_of(&params(33600, 3429, false, 13)).unwrap().expanded);
        assert!(!mode_of(&params(33600, 3429, true, 11)).unwrap().expanded);
        let (name, m) = check_mode(&params(33600, 3429, false, 12)).unwrap_err();
        assert_eq!(name, "rings");
        assert!(m.contains("11 rings (minimum) or 13 (expanded)"), "{m}");
        // 4800 at 3429 has M = 1 either way.
        let (_, m) = check_mode(&params(4800, 3429, false, 2)).unwrap_err();
        assert!(m.contains("uses 1 ring at 4800"), "{m}");
    }
}
