//! Live probes: a tap on one wire of the running graph and what its panel
//! shows. The graph never waits for a probe: the tap's queue is bounded and
//! chunks beyond it are dropped and counted (shown in the panel); the panel
//! takes what arrived once a frame.

use crate::analysis::constellation::Density;
use crate::analysis::eye::Eye;
use crate::analysis::levels::{Histogram, LevelMap, Points};
use crate::analysis::meter::{BerMeter, RateMeter};
use crate::analysis::scope::{Scope, Trigger};
use crate::analysis::spectrum::{Spectrum, Waterfall};
use crate::document::PortRef;
use egui_plot::{Line, Plot, PlotImage, PlotPoint, PlotPoints, Points as PlotPointsItem};
use modemflow_flow::{Buf, ItemType, PortType, Probe};
use std::time::{Duration, Instant};

/// A probe's plot, filling its panel but for the caption line below it
/// (within limits), with a coarse grid (every grid line is blended over the
/// whole plot, which a software renderer pays for each frame).
fn plot(id: &str, ui: &egui::Ui) -> Plot<'static> {
    let caption = ui.text_style_height(&egui::TextStyle::Body) + ui.spacing().item_spacing.y;
    Plot::new(id.to_string())
        .height((ui.available_height() - caption).clamp(MIN_PLOT_HEIGHT, MAX_PLOT_HEIGHT))
        .grid_spacing(24.0..=240.0)
}

/// Symbols the Ucode view shows as points, the newest: enough to show each
/// Ucode's spread, few enough that drawing them costs the graph little (each
/// point is a few triangles that a software renderer draws every frame).
const UCODE_POINTS: usize = 600;

/// Cells per side of the constellation's density image: 2 or more per point
/// spacing of V.34's 1664-point superconstellation (±45 or so).
const CONSTELLATION_CELLS: usize = 256;
/// Symbols over which the constellation's counts fade to 1/e: some 30 per
/// point of the largest constellation.
const CONSTELLATION_MEMORY: f32 = 50_000.0;

/// The smallest a plot gets in a crowded panel (it then scrolls).
const MIN_PLOT_HEIGHT: f32 = 80.0;
/// The tallest: a software renderer pays for every pixel of a plot each
/// frame (a panel twice this tall cost a quarter of the frame rate).
const MAX_PLOT_HEIGHT: f32 = 150.0;

/// The line's sample rate, for frequency axes and rates.
const SAMPLE_RATE: f64 = 8000.0;
/// Items a panel analyses per frame at most: the newest chunks up to this
/// many. A graph running a thousand times faster than real time sends far
/// more than a screen can show; the rest are taken off the tap (so the graph
/// never waits) and counted as skipped.
const ITEMS_PER_FRAME: usize = 16_384;

/// What a probe panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    Scope,
    Spectrum,
    Waterfall,
    Levels,
    /// PCM: received level versus Ucode, from (Ucode, level) pairs.
    Ucode,
    Eye,
    Meter,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 7] = [
        ProbeKind::Scope,
        ProbeKind::Spectrum,
        ProbeKind::Waterfall,
        ProbeKind::Levels,
        ProbeKind::Ucode,
        ProbeKind::Eye,
        ProbeKind::Meter,
    ];

    /// The kinds that can show a wire of this type: the Ucode view needs
    /// (Ucode, level) pairs, which travel as c32; the others take any type.
    pub fn for_port(ty: PortType) -> impl Iterator<Item = ProbeKind> {
        ProbeKind::ALL.into_iter().filter(move |k| match k {
            ProbeKind::Ucode => matches!(ty, PortType::Fixed(ItemType::C32) | PortType::Generic(_)),
            _ => true,
        })
    }

    /// The kind a click on a wire of this type opens: a constellation for
    /// complex symbols, the BER and rate meter for bits, else the scope.
    pub fn default_for(ty: PortType) -> ProbeKind {
        match ty {
            PortType::Fixed(ItemType::C32) => ProbeKind::Levels,
            PortType::Fixed(ItemType::Bit) => ProbeKind::Meter,
            _ => ProbeKind::Scope,
        }
    }

    /// A menu of the kinds for a wire of this type (in an open menu): the
    /// one clicked, which closes the menu.
    pub fn menu(ui: &mut egui::Ui, ty: PortType) -> Option<ProbeKind> {
        let mut chosen = None;
        for k in ProbeKind::for_port(ty) {
            if ui.button(k.title()).clicked() {
                chosen = Some(k);
                ui.close();
            }
        }
        chosen
    }

    /// The word stored in a graph's `layout:`.
    pub fn word(self) -> &'static str {
        match self {
            ProbeKind::Scope => "scope",
            ProbeKind::Spectrum => "spectrum",
            ProbeKind::Waterfall => "waterfall",
            ProbeKind::Levels => "levels",
            ProbeKind::Ucode => "ucode",
            ProbeKind::Eye => "eye",
            ProbeKind::Meter => "meter",
        }
    }

    pub fn from_word(w: &str) -> Option<ProbeKind> {
        ProbeKind::ALL.into_iter().find(|k| k.word() == w)
    }

    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Scope => "Time scope",
            ProbeKind::Spectrum => "Spectrum",
            ProbeKind::Waterfall => "Waterfall",
            ProbeKind::Levels => "Level histogram / constellation",
            ProbeKind::Ucode => "Received level versus Ucode",
            ProbeKind::Eye => "Eye diagram",
            ProbeKind::Meter => "Rate and BER",
        }
    }
}

enum View {
    Scope(Scope),
    Spectrum(Spectrum),
    Waterfall(Waterfall),
    /// Real levels as a histogram; complex symbols as a density image (its
    /// texture made on the first frame that has symbols).
    Levels(Histogram, Density, Option<egui::TextureHandle>),
    /// Mean level per Ucode, the newest pairs, and pairs on wires that are
    /// not c32.
    Ucode(Box<LevelMap>, Points, u64),
    Eye(Eye),
    Meter,
}

/// One open probe.
pub struct ProbeView {
    /// Unique while the editor runs: names the panel's dock tab.
    pub id: u64,
    pub port: PortRef,
    pub kind: ProbeKind,
    pub open: bool,
    tap: Option<Probe>,
    /// Why there is no tap (the graph is not running, or the wire cannot be
    /// tapped).
    pub note: Option<String>,
    view: View,
    rate: RateMeter,
    pub ber: BerMeter,
    pub chunks: u64,
    pub items: u64,
    /// Chunks taken off the tap but not analysed (beyond a frame's budget).
    pub skipped: u64,
    /// Dropped chunks of earlier taps (a probe outlives runs).
    dropped_before: u64,
}

/// Items of any type as f32 (bits and octets as their values, c32 as the
/// real part; the constellation takes c32 pairs separately).
fn as_f32(b: &Buf) -> Vec<f32> {
    match b {
        Buf::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
        Buf::I16(v) => v.iter().map(|&x| f32::from(x) / 32768.0).collect(),
        Buf::F32(v) => v.clone(),
        Buf::C32(v) => v.iter().map(|c| c.re).collect(),
    }
}

/// A Ucode carried as f32; anything but 0..=127 becomes 255, which the
/// level map counts as ignored.
fn ucode(u: f32) -> u8 {
    if (0.0..=127.0).contains(&u) && u.fract() == 0.0 {
        u as u8
    } else {
        255
    }
}

impl ProbeView {
    pub fn new(id: u64, port: PortRef, kind: ProbeKind) -> ProbeView {
        let view = match kind {
            ProbeKind::Scope => View::Scope(Scope::new(400)),
            ProbeKind::Spectrum => View::Spectrum(Spectrum::new(512, SAMPLE_RATE, 16)),
            ProbeKind::Waterfall => View::Waterfall(Waterfall::new(256, SAMPLE_RATE, 120)),
            ProbeKind::Levels => View::Levels(
                Histogram::new(-1.0, 1.0, 256),
                Density::new(CONSTELLATION_CELLS),
                None,
            ),
            ProbeKind::Ucode => View::Ucode(Box::default(), Points::new(UCODE_POINTS), 0),
            ProbeKind::Eye => View::Eye(Eye::new(1.0, 2, 200)),
            ProbeKind::Meter => View::Meter,
        };
        ProbeView {
            id,
            port,
            kind,
            open: true,
            tap: None,
            note: Some("waiting for the graph to run".into()),
            view,
            rate: RateMeter::new(Duration::from_secs(1)),
            ber: BerMeter::new(),
            chunks: 0,
            items: 0,
            skipped: 0,
            dropped_before: 0,
        }
    }

    pub fn title(&self) -> String {
        format!("{} · {}", self.kind.title(), self.port)
    }

    pub fn attach(&mut self, tap: Result<Probe, String>) {
        self.detach();
        match tap {
            Ok(t) => {
                self.tap = Some(t);
                self.note = None;
            }
            Err(e) => self.note = Some(e),
        }
    }

    /// The run ended: keep what was shown, count what was dropped.
    pub fn detach(&mut self) {
        if let Some(t) = self.tap.take() {
            self.dropped_before += t.dropped();
        }
    }

    pub fn is_attached(&self) -> bool {
        self.tap.is_some()
    }

    /// Chunks the graph dropped because this panel fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped_before + self.tap.as_ref().map_or(0, Probe::dropped)
    }

    /// Takes what arrived since the last frame.
    pub fn pump(&mut self, now: Instant) {
        let Some(tap) = &self.tap else {
            return;
        };
        let chunks: Vec<Buf> = tap.rx.try_iter().collect();
        // The newest chunks that fit the frame's budget.
        let mut budget = ITEMS_PER_FRAME;
        let mut first = chunks.len();
        while first > 0 && chunks[first - 1].len() <= budget {
            first -= 1;
            budget -= chunks[first].len();
        }
        for b in &chunks {
            self.chunks += 1;
            self.items += b.len() as u64;
            self.rate.add(b.len() as u64, now);
        }
        self.skipped += first as u64;
        for b in &chunks[first..] {
            match &mut self.view {
                View::Scope(s) => s.push(&as_f32(b)),
                View::Spectrum(s) => s.push(&as_f32(b)),
                View::Waterfall(w) => w.push(&as_f32(b)),
                View::Levels(h, d, _) => match b {
                    Buf::C32(v) => {
                        let pairs: Vec<(f32, f32)> = v.iter().map(|c| (c.re, c.im)).collect();
                        d.decay((-(pairs.len() as f32) / CONSTELLATION_MEMORY).exp());
                        d.push(&pairs);
                    }
                    _ => h.push(&as_f32(b)),
                },
                View::Ucode(map, pts, other) => match b {
                    Buf::C32(v) => {
                        let pairs: Vec<(u8, f32)> = v.iter().map(|c| (ucode(c.re), c.im)).collect();
                        map.push(&pairs);
                        let xy: Vec<(f32, f32)> = v.iter().map(|c| (c.re, c.im)).collect();
                        pts.push(&xy);
                    }
                    _ => *other += b.len() as u64,
                },
                View::Eye(e) => e.push(&as_f32(b)),
                View::Meter => {}
            }
        }
    }

    /// The panel's contents.
    pub fn ui(&mut self, ui: &mut egui::Ui, now: Instant) {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "{} chunks, {} items, {:.0} items/s",
                self.chunks,
                self.items,
                self.rate.rate(now)
            ));
            ui.label(format!("dropped: {}", self.dropped()))
                .on_hover_text("chunks the graph dropped because this panel's queue was full");
            ui.label(format!("skipped: {}", self.skipped))
                .on_hover_text("chunks taken but not drawn: more than a frame can show");
        });
        if let Some(n) = &self.note {
            ui.colored_label(ui.visuals().warn_fg_color, n);
        }
        let id = format!("plot {} {}", self.port, self.kind.word());
        match &mut self.view {
            View::Scope(s) => {
                let mut t = s.trigger();
                ui.horizontal(|ui| {
                    ui.label("trigger");
                    ui.radio_value(&mut t, Trigger::Free, "free");
                    let level = match t {
                        Trigger::Rising(l) | Trigger::Falling(l) => l,
                        Trigger::Free => 0.0,
                    };
                    ui.radio_value(&mut t, Trigger::Rising(level), "rising");
                    ui.radio_value(&mut t, Trigger::Falling(level), "falling");
                });
                if t != s.trigger() {
                    s.set_trigger(t);
                }
                let pts: PlotPoints = s
                    .frame()
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| [i as f64 / SAMPLE_RATE * 1000.0, f64::from(v)])
                    .collect();
                plot(&id, ui).show(ui, |p| {
                    p.line(Line::new("signal", pts));
                });
                ui.label("time (ms)");
            }
            View::Spectrum(s) if s.frames() == 0 => {
                ui.label(format!(
                    "no data yet (a {}-point FFT needs that many items)",
                    s.n()
                ));
            }
            View::Spectrum(s) => {
                let pts: PlotPoints = s.db().into_iter().collect();
                plot(&id, ui).show(ui, |p| {
                    p.line(Line::new("power (dB)", pts));
                });
                ui.label(format!("frequency (Hz); {} frames averaged", s.frames()));
            }
            View::Waterfall(w) => {
                let cols = w.n() / 2 + 1;
                let rows: Vec<&[f32]> = w.rows().collect();
                if rows.is_empty() {
                    ui.label("no data yet");
                } else {
                    let values: Vec<f64> = rows
                        .iter()
                        .flat_map(|r| r.iter().map(|&v| f64::from(v.max(-140.0))))
                        .collect();
                    plot(&id, ui).show(ui, |p| {
                        p.heatmap(egui_plot::Heatmap::new(values, cols));
                    });
                    ui.label("frequency →, newest row on top");
                }
            }
            View::Levels(h, d, texture) => {
                if d.symbols() == 0 {
                    h.decay(0.98);
                    let counts: PlotPoints = h.bars().into_iter().collect();
                    plot(&id, ui).show(ui, |p| {
                        p.line(Line::new("levels", counts));
                    });
                    ui.label(format!(
                        "received level (line scale); {} outside −1…1",
                        h.outside()
                    ));
                } else {
                    let n = d.cells();
                    let pixels: Vec<egui::Color32> = d
                        .brightness()
                        .into_iter()
                        .map(|v| egui::Color32::from_rgba_unmultiplied(80, 200, 255, v))
                        .collect();
                    let image = egui::ColorImage::new([n, n], pixels);
                    let options = egui::TextureOptions::NEAREST;
                    let tex = texture.get_or_insert_with(|| {
                        ui.ctx()
                            .load_texture(format!("{id} density"), image.clone(), options)
                    });
                    tex.set(image, options);
                    let side = 2.0 * f64::from(d.half());
                    let (tid, size) = (tex.id(), egui::vec2(side as f32, side as f32));
                    plot(&id, ui).data_aspect(1.0).show(ui, |p| {
                        p.image(PlotImage::new(
                            "symbols",
                            tid,
                            PlotPoint::new(0.0, 0.0),
                            size,
                        ));
                    });
                    ui.label(format!(
                        "I →, Q ↑ (±{}); {} spots, {} cells lit, {} symbols, {} not finite",
                        d.half(),
                        d.spots(),
                        d.lit(),
                        d.symbols(),
                        d.skipped()
                    ));
                }
            }
            View::Ucode(map, pts, other) => {
                if *other > 0 {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!(
                            "{other} items were not (Ucode, level) pairs: this view needs a c32 wire \
                             carrying the Ucode in the real part and the level in the imaginary part"
                        ),
                    );
                }
                let scatter: PlotPoints = pts.points().into_iter().collect();
                let means: PlotPoints = map.points().into_iter().collect();
                plot(&id, ui).show(ui, |p| {
                    p.points(PlotPointsItem::new("symbols", scatter).radius(1.0));
                    p.line(Line::new("mean level", means));
                });
                let seen = (0..=127u8).filter(|&u| map.count(u) > 0).count();
                ui.label(format!(
                    "Ucode → received level (line scale); {seen} Ucodes seen, {} pairs ignored",
                    map.ignored()
                ));
            }
            View::Eye(e) => {
                let traces: Vec<Vec<[f64; 2]>> = e.traces().map(<[[f64; 2]]>::to_vec).collect();
                plot(&id, ui).show(ui, |p| {
                    for (i, t) in traces.into_iter().enumerate() {
                        p.line(Line::new(format!("t{i}"), PlotPoints::from(t)).width(0.5));
                    }
                });
                ui.label("symbol periods");
            }
            View::Meter => {
                ui.heading(format!("{:.0} items/s", self.rate.rate(now)));
                match self.ber.ber() {
                    Some(b) => ui.label(format!(
                        "BER {b:.3e} ({} errors in {} bits)",
                        self.ber.errors(),
                        self.ber.bits()
                    )),
                    None => ui.label("BER: no `ber` event yet"),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ucode_view_is_offered_for_c32_only() {
        let kinds = |ty| ProbeKind::for_port(ty).collect::<Vec<_>>();
        assert!(kinds(PortType::Fixed(ItemType::C32)).contains(&ProbeKind::Ucode));
        assert!(kinds(PortType::Generic('a')).contains(&ProbeKind::Ucode));
        for ty in [ItemType::F32, ItemType::Bit, ItemType::Octet, ItemType::I16] {
            let k = kinds(PortType::Fixed(ty));
            assert!(!k.contains(&ProbeKind::Ucode), "{ty:?}");
            assert_eq!(k.len(), ProbeKind::ALL.len() - 1);
        }
        for k in ProbeKind::ALL {
            assert_eq!(ProbeKind::from_word(k.word()), Some(k));
        }
    }

    #[test]
    fn only_whole_ucodes_0_to_127_count() {
        assert_eq!(ucode(0.0), 0);
        assert_eq!(ucode(127.0), 127);
        for bad in [-1.0, 128.0, 3.5, f32::NAN, f32::INFINITY, -0.5] {
            assert_eq!(ucode(bad), 255, "{bad}");
        }
    }
}
