//! V.90 downstream (V.90 §5; modem-standards.md §1, §5): Ucodes, data rates,
//! constellations, and the digital modem's encoder and the analogue modem's
//! decoder stages.

pub mod constellation;
pub mod rates;
pub mod ucode;

use modemflow_flow::Registry;

pub fn register(_r: &mut Registry) {}
