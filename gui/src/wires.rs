//! Clicking a wire opens a probe on it. The canvas draws each wire as a
//! straight line between its two pins' centres; every pin records its centre
//! as it is drawn, so a click is tested against the very segments on screen.
//! Everything here is in the canvas's own coordinates, before zoom and pan.

use egui::{Painter, Pos2, Rect, Style};
use egui_snarl::ui::{PinInfo, PinWireInfo, SnarlPin, SnarlStyle};
use egui_snarl::{InPinId, OutPinId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Where the pins and blocks were drawn in the last frame.
#[derive(Clone, Debug, Default)]
pub struct Spots {
    pub outputs: HashMap<OutPinId, Pos2>,
    pub inputs: HashMap<InPinId, Pos2>,
    /// Wires run behind the blocks, so a click on a block is never a wire's.
    pub blocks: Vec<Rect>,
}

/// The spots of the frame being drawn, shared with the pins that fill them.
pub type SharedSpots = Rc<RefCell<Spots>>;

/// Which pin a [`SpotPin`] is.
#[derive(Clone, Copy, Debug)]
pub enum PinAt {
    Out(OutPinId),
    In(InPinId),
}

/// A pin that records its centre where it is drawn.
pub struct SpotPin {
    pub pin: PinInfo,
    pub at: PinAt,
    pub spots: SharedSpots,
}

impl SnarlPin for SpotPin {
    fn draw(
        self,
        snarl_style: &SnarlStyle,
        style: &Style,
        rect: Rect,
        painter: &Painter,
    ) -> PinWireInfo {
        // The wire starts at the centre of the pin's rectangle; a hovered pin
        // is drawn larger about the same centre.
        let centre = rect.center();
        {
            let mut s = self.spots.borrow_mut();
            match self.at {
                PinAt::Out(p) => s.outputs.insert(p, centre),
                PinAt::In(p) => s.inputs.insert(p, centre),
            };
        }
        self.pin.draw(snarl_style, style, rect, painter)
    }
}

/// Distance from `p` to the segment `a`–`b`.
fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let len2 = ab.length_sq();
    let t = if len2 > 0.0 {
        ((p - a).dot(ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    p.distance(a + ab * t)
}

/// The wire nearest `p` within `tolerance`, unless `p` is on a block, on one
/// of the wire's pins (a click there starts a new wire) or a pin of the wire
/// is not on screen.
pub fn wire_at(
    spots: &Spots,
    wires: impl IntoIterator<Item = (OutPinId, InPinId)>,
    p: Pos2,
    tolerance: f32,
) -> Option<(OutPinId, InPinId)> {
    if spots.blocks.iter().any(|r| r.contains(p)) {
        return None;
    }
    wires
        .into_iter()
        .filter_map(|(o, i)| {
            let (a, b) = (*spots.outputs.get(&o)?, *spots.inputs.get(&i)?);
            let d = distance_to_segment(p, a, b);
            let off_pins = p.distance(a) > 2.0 * tolerance && p.distance(b) > 2.0 * tolerance;
            (d <= tolerance && off_pins).then_some((d, (o, i)))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, w)| w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::pos2;
    use egui_snarl::NodeId;

    fn out(n: usize) -> OutPinId {
        OutPinId {
            node: NodeId(n),
            output: 0,
        }
    }
    fn inp(n: usize) -> InPinId {
        InPinId {
            node: NodeId(n),
            input: 0,
        }
    }

    /// Two wires: 0 → 1 along y = 0 from x = 0 to 100, and 1 → 2 from
    /// (100, 50) to (200, 150); a block covers x 40..60 around the first.
    fn spots() -> Spots {
        let mut s = Spots::default();
        s.outputs.insert(out(0), pos2(0.0, 0.0));
        s.inputs.insert(inp(1), pos2(100.0, 0.0));
        s.outputs.insert(out(1), pos2(100.0, 50.0));
        s.inputs.insert(inp(2), pos2(200.0, 150.0));
        s.blocks
            .push(Rect::from_min_max(pos2(40.0, -10.0), pos2(60.0, 10.0)));
        s
    }

    #[test]
    fn a_point_on_or_near_a_wire_finds_it() {
        let s = spots();
        let wires = [(out(0), inp(1)), (out(1), inp(2))];
        assert_eq!(wire_at(&s, wires, pos2(20.0, 3.0), 4.0), Some(wires[0]));
        assert_eq!(wire_at(&s, wires, pos2(150.0, 100.0), 4.0), Some(wires[1]));
        // Along the diagonal's normal: 3 px away finds it, 6 px does not.
        let n = egui::vec2(1.0, -1.0).normalized();
        assert_eq!(
            wire_at(&s, wires, pos2(150.0, 100.0) + 3.0 * n, 4.0),
            Some(wires[1])
        );
        assert_eq!(wire_at(&s, wires, pos2(150.0, 100.0) + 6.0 * n, 4.0), None);
        // Beyond a wire's end is not on it, nor is its pin.
        assert_eq!(wire_at(&s, wires, pos2(-6.0, 0.0), 4.0), None);
        assert_eq!(wire_at(&s, wires, pos2(5.0, 0.0), 4.0), None);
        assert_eq!(wire_at(&s, wires, pos2(9.0, 0.0), 4.0), Some(wires[0]));
    }

    #[test]
    fn blocks_and_missing_pins_hide_wires() {
        let mut s = spots();
        let wires = [(out(0), inp(1)), (out(1), inp(2))];
        // Under the block.
        assert_eq!(wire_at(&s, wires, pos2(50.0, 0.0), 4.0), None);
        // A pin not drawn this frame (its block is off screen).
        s.inputs.remove(&inp(2));
        assert_eq!(wire_at(&s, wires, pos2(150.0, 100.0), 4.0), None);
    }

    #[test]
    fn the_nearest_of_two_close_wires_wins() {
        let mut s = Spots::default();
        s.outputs.insert(out(0), pos2(0.0, 0.0));
        s.inputs.insert(inp(1), pos2(100.0, 0.0));
        s.outputs.insert(out(3), pos2(0.0, 4.0));
        s.inputs.insert(inp(4), pos2(100.0, 4.0));
        let wires = [(out(0), inp(1)), (out(3), inp(4))];
        assert_eq!(wire_at(&s, wires, pos2(50.0, 1.0), 5.0), Some(wires[0]));
        assert_eq!(wire_at(&s, wires, pos2(50.0, 3.0), 5.0), Some(wires[1]));
    }
}
