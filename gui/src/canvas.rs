//! The node editor: the document's blocks as nodes with typed, coloured
//! ports, its connections as wires. Every change made here goes to the
//! document (with an undo step); the nodes are rebuilt from the document
//! whenever it changes elsewhere.

use crate::catalog::{type_colour, Catalog, PortInfo};
use crate::document::{Connection, Document, PortRef};
use crate::history::History;
use crate::probes::ProbeKind;
use crate::wires::{PinAt, SharedSpots, SpotPin};
use egui::{Color32, Stroke, Ui};
use egui_snarl::ui::{PinInfo, SnarlPin, SnarlViewer};
use egui_snarl::{InPin, NodeId, OutPin, Snarl};
use std::path::Path;

/// A node: which block it shows and that block's ports.
#[derive(Clone, Debug)]
pub struct NodeView {
    pub id: String,
    pub kind: String,
    pub enabled: bool,
    pub inputs: Vec<PortInfo>,
    pub outputs: Vec<PortInfo>,
    /// The type could not be resolved (unknown type or unreadable file).
    pub unknown: bool,
}

/// Requests the canvas makes of the editor, handled after it is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Select(String),
    Probe(PortRef, ProbeKind),
    OpenSubgraph(String),
}

/// Builds the nodes and wires of `doc`; blocks without a stored position
/// are laid out in columns.
pub fn build(doc: &Document, catalog: &mut Catalog, base_dir: &Path) -> Snarl<NodeView> {
    let mut snarl = Snarl::new();
    let auto = layered(doc);
    let mut ids = std::collections::HashMap::new();
    for (i, b) in doc.blocks.iter().enumerate() {
        let info = catalog.type_info(&b.kind, base_dir);
        let view = NodeView {
            id: b.id.clone(),
            kind: b.kind.clone(),
            enabled: b.enabled,
            unknown: info.is_none(),
            inputs: info.as_ref().map(|t| t.inputs.clone()).unwrap_or_default(),
            outputs: info.map(|t| t.outputs).unwrap_or_default(),
        };
        let [x, y] = doc.layout.positions.get(&b.id).copied().unwrap_or(auto[i]);
        ids.insert(b.id.clone(), snarl.insert_node(egui::pos2(x, y), view));
    }
    for c in &doc.connections {
        let (Some(&f), Some(&t)) = (ids.get(&c.from.block), ids.get(&c.to.block)) else {
            continue;
        };
        let (Some(fo), Some(ti)) = (
            snarl[f].outputs.iter().position(|p| p.name == c.from.port),
            snarl[t].inputs.iter().position(|p| p.name == c.to.port),
        ) else {
            continue;
        };
        snarl.connect(
            egui_snarl::OutPinId {
                node: f,
                output: fo,
            },
            egui_snarl::InPinId { node: t, input: ti },
        );
    }
    snarl
}

/// Horizontal and vertical distance between laid-out blocks.
const COLUMN: f32 = 300.0;
const ROW: f32 = 120.0;

/// Columns before the layout wraps to a new band below: a long chain such
/// as the V.90 loopback's nine stages then fills a canvas that shares the
/// window with probe panels at a readable zoom, not one thin strip.
const COLUMNS: usize = 3;

/// Positions for a graph read without a layout: left to right in the order
/// items flow (a block's column is one past the furthest block placed before
/// it that feeds it, so a feedback loop is cut where it closes), wrapping
/// every [`COLUMNS`] columns into a band below; top to bottom in file order.
fn layered(doc: &Document) -> Vec<[f32; 2]> {
    let index: std::collections::HashMap<&str, usize> = doc
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let n = doc.blocks.len();
    let wires: Vec<(usize, usize)> = doc
        .connections
        .iter()
        .filter_map(|c| {
            Some((
                *index.get(c.from.block.as_str())?,
                *index.get(c.to.block.as_str())?,
            ))
        })
        .collect();
    // Kahn's order; in a cycle, the first block in the file goes next.
    let mut indegree = vec![0usize; n];
    for &(_, t) in &wires {
        indegree[t] += 1;
    }
    let mut placed = vec![false; n];
    let mut depth = vec![0usize; n];
    for _ in 0..n {
        let Some(next) = (0..n)
            .find(|&i| !placed[i] && indegree[i] == 0)
            .or_else(|| (0..n).find(|&i| !placed[i]))
        else {
            break;
        };
        placed[next] = true;
        depth[next] = wires
            .iter()
            .filter(|&&(f, t)| t == next && placed[f] && f != next)
            .map(|&(f, _)| depth[f] + 1)
            .max()
            .unwrap_or(0);
        for &(f, t) in &wires {
            if f == next && indegree[t] > 0 {
                indegree[t] -= 1;
            }
        }
    }
    let mut rows: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let row_of: Vec<usize> = depth
        .iter()
        .map(|&d| {
            let r = rows.entry(d).or_insert(0);
            *r += 1;
            *r - 1
        })
        .collect();
    // Each band is as tall as its tallest column.
    let bands = depth.iter().max().map_or(1, |d| d / COLUMNS + 1);
    let mut band_top = vec![0.0f32; bands + 1];
    for b in 0..bands {
        let tallest = (b * COLUMNS..(b + 1) * COLUMNS)
            .map(|d| rows.get(&d).copied().unwrap_or(0))
            .max()
            .unwrap_or(1);
        band_top[b + 1] = band_top[b] + tallest.max(1) as f32 * ROW + ROW / 2.0;
    }
    depth
        .iter()
        .zip(&row_of)
        .map(|(&d, &r)| {
            [
                (d % COLUMNS) as f32 * COLUMN,
                band_top[d / COLUMNS] + r as f32 * ROW,
            ]
        })
        .collect()
}

/// Connects `from` to `to` in the document if their item types can meet;
/// else the reason. An input takes one wire: connecting replaces it.
pub fn connect(
    doc: &mut Document,
    history: &mut History,
    catalog: &mut Catalog,
    base_dir: &Path,
    from: PortRef,
    to: PortRef,
) -> Result<(), String> {
    let port_of = |catalog: &mut Catalog, doc: &Document, r: &PortRef, output: bool| {
        let b = doc
            .block(&r.block)
            .ok_or_else(|| format!("no block `{}`", r.block))?;
        let info = catalog
            .type_info(&b.kind, base_dir)
            .ok_or_else(|| format!("`{}` has an unknown type `{}`", r.block, b.kind))?;
        let list = if output { info.outputs } else { info.inputs };
        list.into_iter().find(|p| p.name == r.port).ok_or_else(|| {
            format!(
                "`{}` has no {} `{}`",
                r.block,
                if output { "output" } else { "input" },
                r.port
            )
        })
    };
    let f = port_of(catalog, doc, &from, true)?;
    let t = port_of(catalog, doc, &to, false)?;
    catalog.wire_check(&from.to_string(), f.ty, &to.to_string(), t.ty)?;
    if doc.connections.iter().any(|c| c.from == from && c.to == to) {
        return Ok(());
    }
    history.record(doc, None);
    doc.connections.retain(|c| c.to != to);
    doc.connections.push(Connection {
        from,
        to,
        comments: Default::default(),
    });
    Ok(())
}

/// The viewer: reads and edits the document while the canvas is drawn.
pub struct Viewer<'a> {
    pub doc: &'a mut Document,
    pub history: &'a mut History,
    pub catalog: &'a mut Catalog,
    pub base_dir: &'a Path,
    /// Set when the document changed (the nodes are rebuilt next frame).
    pub changed: bool,
    /// A refused wire's reason, or another message for the status line.
    pub message: Option<String>,
    pub requests: Vec<Request>,
    /// Blocks with a validation problem (drawn with a red frame).
    pub faulty: &'a [String],
    pub selected: Option<&'a str>,
    /// The canvas's transform from graph to screen, as last drawn.
    pub to_global: Option<egui::emath::TSTransform>,
    /// Zoom and pan to show every block inside this screen rectangle.
    pub fit: Option<egui::Rect>,
    /// Set when the view was fitted this frame.
    pub fitted: bool,
    /// Where pins and blocks are drawn this frame, for clicks on wires.
    pub spots: SharedSpots,
}

/// Room a block takes on the canvas beyond its position (its top-left
/// corner), about the size of a laid-out block with a few ports.
const NODE_EXTENT: egui::Vec2 = egui::vec2(260.0, 110.0);
/// Screen space kept free around a fitted graph.
const FIT_MARGIN: f32 = 16.0;

/// The transform that shows every block of `snarl` inside `rect`, centred,
/// never magnified beyond 1; None without blocks.
pub fn fit_transform(
    snarl: &Snarl<NodeView>,
    rect: egui::Rect,
) -> Option<egui::emath::TSTransform> {
    let mut bb = egui::Rect::NOTHING;
    for (_, pos, _) in snarl.nodes_pos_ids() {
        bb.extend_with(pos);
        bb.extend_with(pos + NODE_EXTENT);
    }
    let room = rect.shrink(FIT_MARGIN);
    if !bb.is_positive() || !room.is_positive() {
        return None;
    }
    let scaling = (room.size() / bb.size()).min_elem().clamp(0.1, 1.0);
    let translation = rect.center().to_vec2() - bb.center().to_vec2() * scaling;
    Some(egui::emath::TSTransform::new(translation, scaling))
}

fn pin_for(p: &PortInfo) -> PinInfo {
    let [r, g, b] = type_colour(p.ty);
    PinInfo::circle().with_fill(Color32::from_rgb(r, g, b))
}

fn port_ref(snarl: &Snarl<NodeView>, node: NodeId, port: &str) -> PortRef {
    PortRef::new(snarl[node].id.clone(), port)
}

/// `block.port` of an output pin.
pub fn out_ref(snarl: &Snarl<NodeView>, pin: egui_snarl::OutPinId) -> PortRef {
    port_ref(snarl, pin.node, &snarl[pin.node].outputs[pin.output].name)
}

/// `block.port` of an input pin.
pub fn in_ref(snarl: &Snarl<NodeView>, pin: egui_snarl::InPinId) -> PortRef {
    port_ref(snarl, pin.node, &snarl[pin.node].inputs[pin.input].name)
}

impl Viewer<'_> {
    /// Removes the wires `cut` picks, as one undo step.
    fn cut_wires(&mut self, cut: impl Fn(&Connection) -> bool) {
        self.history.record(self.doc, None);
        self.doc.connections.retain(|c| !cut(c));
        self.changed = true;
    }
}

impl SnarlViewer<NodeView> for Viewer<'_> {
    fn title(&mut self, node: &NodeView) -> String {
        node.id.clone()
    }

    fn show_header(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) {
        let n = &snarl[node];
        let title = if n.enabled {
            egui::RichText::new(&n.id).strong()
        } else {
            egui::RichText::new(format!("{} (disabled)", n.id)).weak()
        };
        if ui
            .add(egui::Label::new(title).sense(egui::Sense::click()))
            .clicked()
        {
            self.requests.push(Request::Select(n.id.clone()));
        }
    }

    fn node_frame(
        &mut self,
        default: egui::Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<NodeView>,
    ) -> egui::Frame {
        let n = &snarl[node];
        if self.faulty.contains(&n.id) || n.unknown {
            default.stroke(Stroke::new(2.0, Color32::from_rgb(220, 50, 50)))
        } else if self.selected == Some(n.id.as_str()) {
            default.stroke(Stroke::new(2.0, Color32::from_rgb(90, 170, 255)))
        } else {
            default
        }
    }

    fn inputs(&mut self, node: &NodeView) -> usize {
        node.inputs.len()
    }

    fn outputs(&mut self, node: &NodeView) -> usize {
        node.outputs.len()
    }

    fn show_input(
        &mut self,
        pin: &InPin,
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) -> impl SnarlPin + 'static {
        let p = &snarl[pin.id.node].inputs[pin.id.input];
        let text = if p.optional {
            format!("{} (optional)", p.name)
        } else {
            p.name.clone()
        };
        ui.label(text)
            .on_hover_text(format!("{}: {}", p.ty.describe(), p.doc));
        SpotPin {
            pin: pin_for(p),
            at: PinAt::In(pin.id),
            spots: self.spots.clone(),
        }
    }

    fn show_output(
        &mut self,
        pin: &OutPin,
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) -> impl SnarlPin + 'static {
        let p = snarl[pin.id.node].outputs[pin.id.output].clone();
        let r = port_ref(snarl, pin.id.node, &p.name);
        ui.add(egui::Label::new(&p.name).sense(egui::Sense::click()))
            .on_hover_text(format!(
                "{}: {} (right-click to probe)",
                p.ty.describe(),
                p.doc
            ))
            .context_menu(|ui| {
                ui.label(format!("Probe {}", p.name));
                if let Some(k) = ProbeKind::menu(ui, p.ty) {
                    self.requests.push(Request::Probe(r.clone(), k));
                }
            });
        SpotPin {
            pin: pin_for(&p),
            at: PinAt::Out(pin.id),
            spots: self.spots.clone(),
        }
    }

    fn has_body(&mut self, _node: &NodeView) -> bool {
        true
    }

    fn show_body(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) {
        let n = &snarl[node];
        let kind = if n.unknown {
            egui::RichText::new(format!("{} (unknown)", n.kind))
                .color(Color32::from_rgb(220, 50, 50))
        } else {
            egui::RichText::new(&n.kind).italics()
        };
        ui.label(kind);
    }

    fn connect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<NodeView>) {
        let (f, t) = (out_ref(snarl, from.id), in_ref(snarl, to.id));
        match connect(self.doc, self.history, self.catalog, self.base_dir, f, t) {
            Ok(()) => {
                self.changed = true;
                self.message = None;
            }
            Err(e) => self.message = Some(format!("wire refused: {e}")),
        }
    }

    fn disconnect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<NodeView>) {
        let (f, t) = (out_ref(snarl, from.id), in_ref(snarl, to.id));
        self.cut_wires(|c| c.from == f && c.to == t);
    }

    fn drop_outputs(&mut self, pin: &OutPin, snarl: &mut Snarl<NodeView>) {
        let f = out_ref(snarl, pin.id);
        self.cut_wires(|c| c.from == f);
    }

    fn drop_inputs(&mut self, pin: &InPin, snarl: &mut Snarl<NodeView>) {
        let t = in_ref(snarl, pin.id);
        self.cut_wires(|c| c.to == t);
    }

    fn final_node_rect(
        &mut self,
        _node: NodeId,
        rect: egui::Rect,
        _ui: &mut Ui,
        _snarl: &mut Snarl<NodeView>,
    ) {
        self.spots.borrow_mut().blocks.push(rect);
    }

    fn current_transform(
        &mut self,
        to_global: &mut egui::emath::TSTransform,
        snarl: &mut Snarl<NodeView>,
    ) {
        if let Some(t) = self.fit.and_then(|rect| fit_transform(snarl, rect)) {
            *to_global = t;
            self.fitted = true;
        }
        self.to_global = Some(*to_global);
    }

    fn has_node_menu(&mut self, _node: &NodeView) -> bool {
        true
    }

    fn show_node_menu(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<NodeView>,
    ) {
        let n = snarl[node].clone();
        if ui.button("Delete").clicked() {
            self.history.record(self.doc, None);
            self.doc.remove_block(&n.id);
            self.changed = true;
            ui.close();
        }
        let toggle = if n.enabled { "Disable" } else { "Enable" };
        if ui.button(toggle).clicked() {
            self.history.record(self.doc, None);
            if let Some(b) = self.doc.block_mut(&n.id) {
                b.enabled = !b.enabled;
            }
            self.changed = true;
            ui.close();
        }
        if n.kind.ends_with(".yaml") && ui.button("Open subgraph").clicked() {
            self.requests.push(Request::OpenSubgraph(n.kind.clone()));
            ui.close();
        }
        for p in &n.outputs {
            ui.menu_button(format!("Probe {}", p.name), |ui| {
                if let Some(k) = ProbeKind::menu(ui, p.ty) {
                    self.requests.push(Request::Probe(
                        PortRef::new(n.id.clone(), p.name.clone()),
                        k,
                    ));
                }
            });
        }
    }
}
