//! modemflow studio: the editor's state and its window — palette, canvas,
//! inspector, variables, problems and event log, probe panels — and the
//! file, edit and run commands behind the menus.

use crate::canvas::{self, NodeView, Request, Viewer};
use crate::catalog::Catalog;
use crate::document::{BlockDoc, Document, PortRef, ProbeDoc, Scalar, Variable};
use crate::history::History;
use crate::probes::{ProbeKind, ProbeView};
use crate::run::{Ended, Session};
use crate::validate::{validate, Problem};
use crate::wires::{self, SharedSpots};
use egui::{Color32, RichText, Ui};
use egui_dock::DockState;
use egui_snarl::ui::SnarlWidget;
use egui_snarl::Snarl;
use modemflow_flow::registry::ParamKind;
use modemflow_flow::{Flowgraph, Registry, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Lines kept in the event log.
const LOG_LINES: usize = 2000;
/// Characters of a log line shown (all of it on hover).
const LOG_WIDTH: usize = 400;

/// One line of the log panel.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub text: String,
    pub error: bool,
}

/// The file dialog: a path typed or picked from the graph's folder.
struct FileDialog {
    save: bool,
    path: String,
}

pub struct Studio {
    catalog: Catalog,
    pub doc: Document,
    /// Where the document was read from or last saved to.
    pub path: Option<PathBuf>,
    base_dir: PathBuf,
    /// The document differs from the file.
    pub modified: bool,
    history: History,
    snarl: Snarl<NodeView>,
    rebuild: bool,
    pub selected: Option<String>,
    /// Result of the last validation (after every change).
    pub problems: Vec<Problem>,
    checked: Option<Flowgraph>,
    pub log: Vec<LogLine>,
    /// The status line: the last refusal or failure.
    pub status: Option<String>,
    pub search: String,
    session: Option<Session>,
    pub probes: Vec<ProbeView>,
    clipboard: Vec<BlockDoc>,
    dialog: Option<FileDialog>,
    frames: u64,
    /// How long the last run took, once it ended.
    pub last_run: Option<std::time::Duration>,
    /// The canvas widget's id, where its selection is kept.
    canvas_id: Option<egui::Id>,
    /// The canvas's zoom and pan as last drawn: graph coordinates to the
    /// screen.
    pub canvas_to_screen: Option<egui::emath::TSTransform>,
    /// The renderer clears the window to the panels' colour before each
    /// frame (`StudioApp::clear_color`), so the editor need not fill it.
    pub background_cleared: bool,
    /// Fit the whole graph into the canvas on the next frame.
    fit_view: bool,
    /// The canvas's rectangle and the transform of the last fit: while the
    /// view stays as fitted, a canvas that changes size (a probe panel
    /// docked beside it) is fitted again.
    fitted: Option<(egui::Rect, egui::emath::TSTransform)>,
    /// Where the canvas last drew its pins and blocks (canvas coordinates).
    spots: SharedSpots,
    /// A palette entry dropped this frame, and where (screen position).
    dropped: Option<(&'static str, egui::Pos2)>,
    /// The canvas and the probe panels as dockable tabs.
    dock: DockState<Tab>,
    next_probe: u64,
}

/// A tab of the central dock area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Tab {
    Canvas,
    Probe(u64),
}

/// What the dock area draws in each tab.
struct Tabs<'a> {
    studio: &'a mut Studio,
    now: Instant,
}

impl egui_dock::TabViewer for Tabs<'_> {
    type Tab = Tab;

    fn id(&mut self, tab: &mut Tab) -> egui::Id {
        egui::Id::new(("tab", *tab))
    }

    fn title(&mut self, tab: &mut Tab) -> egui::WidgetText {
        match tab {
            Tab::Canvas => "Graph".into(),
            Tab::Probe(id) => self
                .studio
                .probes
                .iter()
                .find(|p| p.id == *id)
                .map_or_else(|| "probe".to_string(), ProbeView::title)
                .into(),
        }
    }

    fn ui(&mut self, ui: &mut Ui, tab: &mut Tab) {
        match tab {
            Tab::Canvas => self.studio.canvas(ui),
            Tab::Probe(id) => {
                if let Some(p) = self.studio.probes.iter_mut().find(|p| p.id == *id) {
                    p.ui(ui, self.now);
                }
            }
        }
    }

    fn is_closeable(&self, tab: &Tab) -> bool {
        matches!(tab, Tab::Probe(_))
    }

    /// The window is already filled (see `Studio::ui`).
    fn clear_background(&self, _tab: &Tab) -> bool {
        false
    }

    fn on_close(&mut self, tab: &mut Tab) -> egui_dock::tab_viewer::OnCloseResponse {
        if let Tab::Probe(id) = tab {
            if let Some(p) = self.studio.probes.iter_mut().find(|p| p.id == *id) {
                p.open = false;
            }
        }
        egui_dock::tab_viewer::OnCloseResponse::Close
    }
}

impl Studio {
    pub fn new(registry: Registry) -> Studio {
        let mut s = Studio {
            catalog: Catalog::new(registry),
            doc: Document::new(),
            path: None,
            base_dir: std::env::current_dir().unwrap_or_default(),
            modified: false,
            history: History::default(),
            snarl: Snarl::new(),
            rebuild: true,
            selected: None,
            problems: Vec::new(),
            checked: None,
            log: Vec::new(),
            status: None,
            search: String::new(),
            session: None,
            probes: Vec::new(),
            clipboard: Vec::new(),
            dialog: None,
            frames: 0,
            last_run: None,
            canvas_id: None,
            canvas_to_screen: None,
            spots: SharedSpots::default(),
            background_cleared: false,
            fit_view: false,
            fitted: None,
            dropped: None,
            dock: DockState::new(vec![Tab::Canvas]),
            next_probe: 0,
        };
        s.revalidate();
        s
    }

    fn file_name(&self) -> String {
        self.path.as_ref().and_then(|p| p.file_name()).map_or_else(
            || "untitled.yaml".into(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    pub fn title(&self) -> String {
        format!(
            "{}{} — modemflow studio",
            self.file_name(),
            if self.modified { " *" } else { "" }
        )
    }

    /// Opens a flowgraph file. A file that cannot be read or parsed leaves
    /// the open graph as it was and reports why.
    pub fn open(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let m = format!("cannot read {}: {e}", path.display());
            self.fail(&m);
            m
        })?;
        let doc = Document::parse(&text).map_err(|e| {
            let m = format!("{}:{e}", path.display());
            self.fail(&m);
            m
        })?;
        self.stop();
        self.doc = doc;
        self.path = Some(path.to_path_buf());
        self.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        self.modified = false;
        self.history.clear();
        self.selected = None;
        self.catalog.refresh();
        self.probes.clear();
        self.dock = DockState::new(vec![Tab::Canvas]);
        let stored: Vec<(PortRef, ProbeKind)> = self
            .doc
            .layout
            .probes
            .iter()
            .filter_map(|p| {
                let (b, port) = p.port.rsplit_once('.')?;
                Some((PortRef::new(b, port), ProbeKind::from_word(&p.kind)?))
            })
            .collect();
        for (port, kind) in stored {
            self.open_probe(port, kind);
        }
        self.rebuild = true;
        self.fit_view = true;
        self.revalidate();
        self.note(format!("opened {}", path.display()));
        Ok(())
    }

    pub fn save(&mut self) -> Result<(), String> {
        match self.path.clone() {
            Some(p) => self.save_as(&p),
            None => {
                self.dialog = Some(FileDialog {
                    save: true,
                    path: "untitled.yaml".into(),
                });
                Ok(())
            }
        }
    }

    pub fn save_as(&mut self, path: &Path) -> Result<(), String> {
        self.sync_layout();
        std::fs::write(path, self.doc.to_yaml()).map_err(|e| {
            let m = format!("cannot write {}: {e}", path.display());
            self.fail(&m);
            m
        })?;
        self.path = Some(path.to_path_buf());
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.base_dir = dir.to_path_buf();
        }
        self.modified = false;
        self.revalidate();
        self.note(format!("saved {}", path.display()));
        Ok(())
    }

    pub fn note(&mut self, text: String) {
        self.push_log(LogLine { text, error: false });
    }

    fn fail(&mut self, text: &str) {
        self.status = Some(text.to_string());
        self.push_log(LogLine {
            text: text.to_string(),
            error: true,
        });
    }

    fn push_log(&mut self, l: LogLine) {
        self.log.push(l);
        if self.log.len() > LOG_LINES {
            self.log.drain(..self.log.len() - LOG_LINES);
        }
    }

    /// After any change to the document: check it again, rebuild the nodes.
    fn changed(&mut self) {
        self.modified = true;
        self.rebuild = true;
        self.revalidate();
    }

    fn revalidate(&mut self) {
        match validate(
            &self.doc,
            &self.file_name(),
            &self.base_dir,
            self.catalog.registry(),
        ) {
            Ok(g) => {
                self.problems.clear();
                self.checked = Some(g);
            }
            Err(p) => {
                self.problems = p;
                self.checked = None;
            }
        }
    }

    /// The problems with one parameter of one block.
    pub fn param_problems(&self, block: &str, param: &str) -> Vec<&Problem> {
        self.problems
            .iter()
            .filter(|p| p.block.as_deref() == Some(block) && p.param.as_deref() == Some(param))
            .collect()
    }

    /// Adds a block of type `kind`; its id.
    pub fn add_block(&mut self, kind: &str, pos: Option<[f32; 2]>) -> String {
        self.history.record(&self.doc, None);
        let id = self.doc.fresh_id(kind);
        let n = self.doc.blocks.len();
        self.doc.blocks.push(BlockDoc {
            id: id.clone(),
            kind: kind.to_string(),
            params: Vec::new(),
            enabled: true,
            note: None,
            one_line: true,
            comments: Default::default(),
        });
        let at = pos.unwrap_or([(n % 5) as f32 * 260.0, (n / 5) as f32 * 180.0 + 40.0]);
        self.doc.layout.positions.insert(id.clone(), at);
        self.selected = Some(id.clone());
        self.changed();
        id
    }

    /// Wires `from` to `to`, or shows why not.
    pub fn connect(&mut self, from: PortRef, to: PortRef) -> Result<(), String> {
        let r = canvas::connect(
            &mut self.doc,
            &mut self.history,
            &mut self.catalog,
            &self.base_dir,
            from,
            to,
        );
        match &r {
            Ok(()) => {
                self.status = None;
                self.changed();
            }
            Err(e) => self.status = Some(format!("wire refused: {e}")),
        }
        r
    }

    /// Sets a parameter as typed (empty text: back to the default).
    pub fn set_param(&mut self, block: &str, param: &str, text: &str) {
        let key = format!("{block}.{param}");
        self.history.record(&self.doc, Some(&key));
        if let Some(b) = self.doc.block_mut(block) {
            let v = (!text.trim().is_empty()).then(|| Scalar::plain(text.trim()));
            b.set_param(param, v);
        }
        self.changed();
    }

    /// Sets a variable the graph declares (as typed in its field).
    pub fn set_variable(&mut self, name: &str, text: &str) -> Result<(), String> {
        let i = self
            .doc
            .variables
            .iter()
            .position(|v| v.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.doc.variables.iter().map(|v| v.name.as_str()).collect();
                format!(
                    "no variable `{name}` in the graph; it has: {}",
                    names.join(", ")
                )
            })?;
        self.history
            .record(&self.doc, Some(&format!("variable {i}")));
        let quoted = self.doc.variables[i].value.quoted;
        self.doc.variables[i].value = Scalar {
            text: text.to_string(),
            quoted,
        };
        self.changed();
        Ok(())
    }

    pub fn remove_selected(&mut self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        self.history.record(&self.doc, None);
        for id in ids {
            self.doc.remove_block(id);
        }
        self.selected = None;
        self.changed();
    }

    pub fn undo(&mut self) {
        if let Some(d) = self.history.undo(&self.doc) {
            self.doc = d;
            self.changed();
        }
    }

    pub fn redo(&mut self) {
        if let Some(d) = self.history.redo(&self.doc) {
            self.doc = d;
            self.changed();
        }
    }

    fn copy(&mut self, ids: &[String]) {
        self.clipboard = ids
            .iter()
            .filter_map(|id| self.doc.block(id).cloned())
            .collect();
    }

    /// Pastes the copied blocks with fresh ids, with the wires between them.
    fn paste(&mut self) {
        if self.clipboard.is_empty() {
            return;
        }
        self.history.record(&self.doc, None);
        let mut renamed = std::collections::HashMap::new();
        for b in self.clipboard.clone() {
            let id = self.doc.fresh_id(&b.kind);
            let pos = self
                .doc
                .layout
                .positions
                .get(&b.id)
                .copied()
                .unwrap_or([0.0, 0.0]);
            self.doc
                .layout
                .positions
                .insert(id.clone(), [pos[0] + 40.0, pos[1] + 40.0]);
            renamed.insert(b.id.clone(), id.clone());
            self.doc.blocks.push(BlockDoc { id, ..b });
        }
        let wires: Vec<_> = self
            .doc
            .connections
            .iter()
            .filter_map(|c| {
                let f = renamed.get(&c.from.block)?;
                let t = renamed.get(&c.to.block)?;
                let mut n = c.clone();
                n.from.block = f.clone();
                n.to.block = t.clone();
                Some(n)
            })
            .collect();
        self.doc.connections.extend(wires);
        self.changed();
    }

    /// Starts the open graph on the threaded scheduler.
    pub fn run(&mut self) -> Result<(), String> {
        if self.session.as_ref().is_some_and(Session::is_running) {
            return Ok(());
        }
        self.revalidate();
        let Some(g) = &self.checked else {
            let m = format!(
                "cannot run: {} problem(s), see Problems",
                self.problems.len()
            );
            self.fail(&m);
            return Err(m);
        };
        let s = Session::start(g).inspect_err(|e| self.fail(e))?;
        for p in &mut self.probes {
            p.attach(s.probe(&p.port));
        }
        self.session = Some(s);
        self.note(format!("running {}", self.file_name()));
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Some(s) = &self.session {
            s.stop();
        }
    }

    pub fn is_running(&self) -> bool {
        self.session.as_ref().is_some_and(Session::is_running)
    }

    /// Opens a probe panel on the wire leaving `port`.
    pub fn open_probe(&mut self, port: PortRef, kind: ProbeKind) {
        let id = self.next_probe;
        self.next_probe += 1;
        let mut p = ProbeView::new(id, port, kind);
        if let Some(s) = &self.session {
            p.attach(s.probe(&p.port));
        }
        // The first panel to the right of the canvas, each next one below
        // the last.
        let last = self.probes.last().map(|p| Tab::Probe(p.id));
        let tree = self.dock.main_surface_mut();
        match last.and_then(|t| tree.find_tab(&t)) {
            Some((node, _)) => {
                tree.split_below(node, 0.5, vec![Tab::Probe(id)]);
            }
            None => {
                tree.split_right(egui_dock::NodeIndex::root(), 0.6, vec![Tab::Probe(id)]);
            }
        }
        self.probes.push(p);
        self.sync_probes();
    }

    fn sync_probes(&mut self) {
        self.probes.retain(|p| p.open);
        let probes: Vec<ProbeDoc> = self
            .probes
            .iter()
            .map(|p| ProbeDoc {
                port: p.port.to_string(),
                kind: p.kind.word().to_string(),
            })
            .collect();
        if probes != self.doc.layout.probes {
            self.doc.layout.probes = probes;
            self.modified = true;
        }
    }

    /// Node positions from the canvas into the document's layout.
    fn sync_layout(&mut self) {
        for (_, pos, n) in self.snarl.nodes_pos_ids() {
            let p = [pos.x.round(), pos.y.round()];
            match self.doc.layout.positions.insert(n.id.clone(), p) {
                // A block laid out for the first time: nothing was moved.
                None => {}
                Some(old) if old == p => {}
                Some(_) => self.modified = true,
            }
        }
    }

    /// Takes events and the end of the run; feeds the probes.
    pub fn poll(&mut self) {
        let now = Instant::now();
        let Some(s) = &mut self.session else {
            return;
        };
        let events = s.events();
        let end = s.poll_end();
        for e in events {
            let fields = serde_json::Value::Object(e.fields.clone()).to_string();
            if e.kind == "ber" {
                for p in &mut self.probes {
                    p.ber.update(&e.fields);
                }
            }
            self.push_log(LogLine {
                text: format!("{} {} {}", e.block, e.kind, fields),
                error: false,
            });
        }
        for p in &mut self.probes {
            p.pump(now);
        }
        if let Some(end) = end {
            self.last_run = self.session.as_ref().map(Session::elapsed);
            for p in &mut self.probes {
                p.pump(now);
                p.detach();
            }
            match end {
                Ended::Finished => {
                    let t = self.last_run.unwrap_or_default().as_secs_f64();
                    self.note(format!("finished in {t:.2} s"));
                }
                Ended::Failed { block, message } => {
                    self.fail(&format!("run-time error in block `{block}`: {message}"));
                    self.selected = Some(block.split('/').next().unwrap_or(&block).to_string());
                }
            }
            self.session = None;
        }
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// For a renderer without a GPU (Mesa's llvmpipe under Xvfb): flat
    /// windows and no anti-aliasing fringe, which are most of what such a
    /// renderer spends on a frame beyond the pixels themselves.
    pub fn software_rendering(ctx: &egui::Context) {
        ctx.global_style_mut(|s| {
            s.visuals.window_shadow = egui::Shadow::NONE;
            s.visuals.popup_shadow = egui::Shadow::NONE;
        });
        ctx.tessellation_options_mut(|t| t.feathering = false);
    }

    /// The whole window.
    pub fn ui(&mut self, ui: &mut Ui) {
        self.frames += 1;
        self.poll();
        if self.is_running() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(30));
        }
        self.shortcuts(ui);
        // The window is filled once, by the renderer's clear or here, and
        // the panels and tabs are not filled again on top: a software
        // renderer pays for every layer over every pixel (a full-window
        // fill cost a quarter of the frame rate on llvmpipe, a clear
        // nothing measurable).
        if !self.background_cleared {
            ui.painter()
                .rect_filled(ui.max_rect(), 0.0, ui.visuals().panel_fill);
        }
        let panel = egui::Frame::side_top_panel(ui.style()).fill(egui::Color32::TRANSPARENT);
        egui::Panel::top("menu")
            .frame(panel)
            .show(ui, |ui| self.menu(ui));
        egui::Panel::bottom("log")
            .frame(panel)
            .resizable(true)
            .default_size(170.0)
            .min_size(120.0)
            .show(ui, |ui| self.bottom(ui));
        egui::Panel::left("palette")
            .frame(panel)
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| self.palette(ui));
        egui::Panel::right("inspector")
            .frame(panel)
            .resizable(true)
            .default_size(320.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.inspector(ui);
                    ui.separator();
                    self.variables(ui);
                });
            });
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE)
            .show(ui, |ui| {
                // The canvas and the probes are tabs: drag one to dock it
                // elsewhere or out into a window of its own.
                let mut dock = std::mem::replace(&mut self.dock, DockState::new(Vec::new()));
                let style = egui_dock::Style::from_egui(ui.style());
                egui_dock::DockArea::new(&mut dock)
                    .style(style)
                    .show_add_buttons(false)
                    .show_leaf_collapse_buttons(false)
                    .show_leaf_close_all_buttons(false)
                    .show_inside(
                        ui,
                        &mut Tabs {
                            studio: self,
                            now: Instant::now(),
                        },
                    );
                self.dock = dock;
            });
        if self.probes.iter().any(|p| !p.open) {
            self.sync_probes();
        }
        self.file_dialog(ui);
    }

    fn shortcuts(&mut self, ui: &mut Ui) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let typing = ui.ctx().egui_wants_keyboard_input();
        let z = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
        let y = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
        let s = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
        let c = KeyboardShortcut::new(Modifiers::COMMAND, Key::C);
        let v = KeyboardShortcut::new(Modifiers::COMMAND, Key::V);
        let (undo, redo, save, copy, paste, delete) = ui.input_mut(|i| {
            (
                !typing && i.consume_shortcut(&z),
                !typing && i.consume_shortcut(&y),
                i.consume_shortcut(&s),
                !typing && i.consume_shortcut(&c),
                !typing && i.consume_shortcut(&v),
                !typing && i.key_pressed(Key::Delete),
            )
        });
        let selected = self.selected_ids(ui);
        if undo {
            self.undo();
        }
        if redo {
            self.redo();
        }
        if save {
            let _ = self.save();
        }
        if copy {
            self.copy(&selected);
        }
        if paste {
            self.paste();
        }
        if delete {
            self.remove_selected(&selected);
        }
    }

    /// Blocks selected on the canvas (several with shift or a drag), or the
    /// one shown in the inspector.
    fn selected_ids(&self, ui: &Ui) -> Vec<String> {
        let on_canvas = self
            .canvas_id
            .map(|id| egui_snarl::ui::get_selected_nodes(id, ui.ctx()))
            .unwrap_or_default();
        let mut ids: Vec<String> = on_canvas
            .into_iter()
            .filter_map(|n| self.snarl.get_node(n).map(|v| v.id.clone()))
            .collect();
        if ids.is_empty() {
            ids.extend(self.selected.clone());
        }
        ids
    }

    fn menu(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New").clicked() {
                    self.stop();
                    self.doc = Document::new();
                    self.path = None;
                    self.probes.clear();
                    self.dock = DockState::new(vec![Tab::Canvas]);
                    self.history.clear();
                    self.changed();
                    self.modified = false;
                    ui.close();
                }
                if ui.button("Open…").clicked() {
                    self.dialog = Some(FileDialog {
                        save: false,
                        path: self
                            .path
                            .as_ref()
                            .map_or_else(String::new, |p| p.display().to_string()),
                    });
                    ui.close();
                }
                if ui.button("Save").clicked() {
                    let _ = self.save();
                    ui.close();
                }
                if ui.button("Save as…").clicked() {
                    self.dialog = Some(FileDialog {
                        save: true,
                        path: self
                            .path
                            .as_ref()
                            .map_or_else(String::new, |p| p.display().to_string()),
                    });
                    ui.close();
                }
            });
            ui.menu_button("Edit", |ui| {
                if ui
                    .add_enabled(self.history.can_undo(), egui::Button::new("Undo"))
                    .clicked()
                {
                    self.undo();
                    ui.close();
                }
                if ui
                    .add_enabled(self.history.can_redo(), egui::Button::new("Redo"))
                    .clicked()
                {
                    self.redo();
                    ui.close();
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit graph to window").clicked() {
                    self.fit_view = true;
                    ui.close();
                }
            });
            ui.separator();
            if self.is_running() {
                if ui.button("■ Stop").clicked() {
                    self.stop();
                }
                let s = self.session.as_ref();
                let t = s.map_or(0.0, |s| s.elapsed().as_secs_f64());
                match s.and_then(Session::progress) {
                    Some(p) => ui.label(format!("running {t:.1} s, {:.0} %", p * 100.0)),
                    None => ui.label(format!("running {t:.1} s")),
                };
            } else if ui.button("▶ Run").clicked() {
                let _ = self.run();
            }
            ui.separator();
            ui.label(self.title());
            if let Some(s) = &self.status {
                ui.colored_label(Color32::from_rgb(230, 90, 80), s);
            }
        });
    }

    fn palette(&mut self, ui: &mut Ui) {
        ui.heading("Blocks");
        let label = ui.label("Search");
        ui.add(egui::TextEdit::singleline(&mut self.search).hint_text("names and descriptions"))
            .labelled_by(label.id);
        let mut add = None;
        let mut dropped = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (cat, specs) in self.catalog.palette(&self.search) {
                egui::CollapsingHeader::new(cat)
                    .open((!self.search.is_empty()).then_some(true))
                    .show(ui, |ui| {
                        for s in specs {
                            ui.horizontal(|ui| {
                                let plus = ui.small_button("+").on_hover_text("add to the graph");
                                let name = s.name;
                                plus.widget_info(|| {
                                    egui::WidgetInfo::labeled(
                                        egui::WidgetType::Button,
                                        true,
                                        format!("add {name}"),
                                    )
                                });
                                if plus.clicked() {
                                    add = Some(s.name);
                                }
                                let r = ui
                                    .add(
                                        egui::Label::new(s.name)
                                            .sense(egui::Sense::click_and_drag()),
                                    )
                                    .on_hover_text(s.summary);
                                if r.double_clicked() {
                                    add = Some(s.name);
                                }
                                if r.dragged() {
                                    // What is being carried, at the pointer.
                                    egui::Tooltip::always_open(
                                        ui.ctx().clone(),
                                        ui.layer_id(),
                                        egui::Id::new("palette drag"),
                                        egui::PopupAnchor::Pointer,
                                    )
                                    .show(|ui| ui.label(format!("+ {}", s.name)));
                                }
                                if r.drag_stopped() {
                                    if let Some(at) = ui.ctx().pointer_latest_pos() {
                                        dropped = Some((s.name, at));
                                    }
                                }
                            });
                        }
                    });
            }
        });
        if let Some(k) = add {
            self.add_block(k, None);
        }
        if dropped.is_some() {
            self.dropped = dropped;
        }
    }

    fn inspector(&mut self, ui: &mut Ui) {
        ui.heading("Inspector");
        let Some(id) = self.selected.clone() else {
            ui.label("Select a block to see its parameters.");
            return;
        };
        let Some(block) = self.doc.block(&id).cloned() else {
            ui.label(format!("`{id}` is not in the graph."));
            return;
        };
        ui.horizontal(|ui| {
            ui.label("id");
            let mut new_id = block.id.clone();
            if ui.text_edit_singleline(&mut new_id).lost_focus()
                && new_id != block.id
                && !new_id.is_empty()
            {
                self.history.record(&self.doc, None);
                self.doc.rename_block(&block.id, &new_id);
                self.selected = Some(new_id);
                self.changed();
            }
        });
        ui.label(RichText::new(&block.kind).italics());
        let mut enabled = block.enabled;
        if ui.checkbox(&mut enabled, "enabled").changed() {
            self.history.record(&self.doc, None);
            if let Some(b) = self.doc.block_mut(&id) {
                b.enabled = enabled;
            }
            self.changed();
        }
        for p in self
            .problems
            .iter()
            .filter(|p| p.block.as_deref() == Some(&id) && p.param.is_none())
        {
            ui.colored_label(Color32::from_rgb(230, 90, 80), p.text());
        }
        // Probes on the block's outputs (also in each output's right-click
        // menu on the canvas).
        let outputs = self
            .catalog
            .type_info(&block.kind, &self.base_dir)
            .map(|t| t.outputs)
            .unwrap_or_default();
        let mut probe = None;
        ui.horizontal_wrapped(|ui| {
            for o in &outputs {
                ui.menu_button(format!("Probe {}", o.name), |ui| {
                    if let Some(k) = ProbeKind::menu(ui, o.ty) {
                        probe = Some((PortRef::new(id.clone(), o.name.clone()), k));
                    }
                });
            }
        });
        if let Some((port, kind)) = probe {
            self.open_probe(port, kind);
        }
        let running = self.is_running();
        if let Some(spec) = self.catalog.spec(&block.kind).cloned() {
            ui.label(spec.summary);
            egui::CollapsingHeader::new("documentation").show(ui, |ui| {
                ui.label(spec.doc);
            });
            for ps in &spec.params {
                ui.separator();
                // The same line `modemflow describe` prints.
                let head = modemflow_flow::docs::param_line(ps);
                let label = ui.label(RichText::new(head).strong()).on_hover_text(ps.doc);
                ui.label(RichText::new(ps.doc).small());
                let current = block
                    .param(ps.name)
                    .map(|s| s.text.clone())
                    .unwrap_or_default();
                let mut text = current.clone();
                let hint = ps
                    .default
                    .as_ref()
                    .map_or_else(|| "required".to_string(), Value::to_string);
                let edit =
                    egui::TextEdit::singleline(&mut text).hint_text(format!("default: {hint}"));
                let r = ui
                    .add(edit.id_salt(format!("param {id}.{}", ps.name)))
                    .labelled_by(label.id);
                if r.changed() {
                    self.set_param(&id, ps.name, &text);
                }
                if running && ps.live {
                    // The value as the loader evaluated it (a variable, an
                    // expression or the default).
                    let evaluated = self.checked.as_ref().and_then(|g| {
                        let n = g.node(&id)?;
                        g.nodes[n].params.get(ps.name).cloned()
                    });
                    if let (Some((lo, hi)), Some(v)) = (ps.range, evaluated) {
                        if let Some(mut x) = v.as_f64() {
                            let slider = egui::Slider::new(&mut x, lo..=hi).text("live");
                            if ui.add(slider).changed() {
                                let nv = match ps.kind {
                                    ParamKind::Int => Value::Int(x.round() as i64),
                                    _ => Value::Float(x),
                                };
                                self.set_param(&id, ps.name, &nv.to_string());
                                if let Some(s) = &self.session {
                                    if let Err(e) = s.set(&id, ps.name, nv) {
                                        self.status = Some(e);
                                    }
                                }
                            }
                        }
                    }
                }
                for p in self.param_problems(&id, ps.name) {
                    ui.colored_label(Color32::from_rgb(230, 90, 80), p.text());
                }
            }
        } else if let Some(info) = self.catalog.type_info(&block.kind, &self.base_dir) {
            ui.label("subgraph: its variables are its parameters");
            for sp in info.sub_params.unwrap_or_default() {
                ui.separator();
                ui.label(RichText::new(&sp.name).strong())
                    .on_hover_text(&sp.doc);
                let mut text = block
                    .param(&sp.name)
                    .map(|s| s.text.clone())
                    .unwrap_or_default();
                let edit = egui::TextEdit::singleline(&mut text)
                    .hint_text(format!("default: {}", sp.default));
                if ui
                    .add(edit.id_salt(format!("param {id}.{}", sp.name)))
                    .changed()
                {
                    self.set_param(&id, &sp.name, &text);
                }
                for p in self.param_problems(&id, &sp.name) {
                    ui.colored_label(Color32::from_rgb(230, 90, 80), p.text());
                }
            }
        } else {
            ui.colored_label(
                Color32::from_rgb(230, 90, 80),
                format!("unknown block type `{}`", block.kind),
            );
        }
    }

    fn variables(&mut self, ui: &mut Ui) {
        ui.heading("Variables");
        let mut change: Option<(usize, Option<String>)> = None;
        egui::Grid::new("variables").num_columns(3).show(ui, |ui| {
            for (i, v) in self.doc.variables.iter().enumerate() {
                ui.label(&v.name).on_hover_text(v.comments.after.join(" "));
                let mut t = v.value.text.clone();
                if ui
                    .add(egui::TextEdit::singleline(&mut t).id_salt(format!("var {}", v.name)))
                    .changed()
                {
                    change = Some((i, Some(t)));
                }
                if ui.small_button("✖").on_hover_text("remove").clicked() {
                    change = Some((i, None));
                }
                ui.end_row();
            }
        });
        if ui.button("Add variable").clicked() {
            self.history.record(&self.doc, None);
            let name = (0..)
                .map(|i| format!("var_{i}"))
                .find(|n| self.doc.variables.iter().all(|v| &v.name != n))
                .unwrap_or_default();
            self.doc.variables.push(Variable {
                name,
                value: Scalar::plain("0"),
                comments: Default::default(),
            });
            self.changed();
        }
        match change {
            Some((i, Some(t))) => {
                let name = self.doc.variables[i].name.clone();
                let _ = self.set_variable(&name, &t);
            }
            Some((i, None)) => {
                self.history.record(&self.doc, None);
                self.doc.variables.remove(i);
                self.changed();
            }
            None => {}
        }
        for p in self.problems.iter().filter(|p| p.block.is_none()) {
            ui.colored_label(Color32::from_rgb(230, 90, 80), p.text());
        }
    }

    fn bottom(&mut self, ui: &mut Ui) {
        ui.columns(2, |cols| {
            cols[0].heading(format!("Problems ({})", self.problems.len()));
            let mut select = None;
            egui::ScrollArea::vertical()
                .id_salt("problems")
                .show(&mut cols[0], |ui| {
                    if self.problems.is_empty() {
                        ui.label("No problems: the graph is ready to run.");
                    }
                    for p in &self.problems {
                        let r = ui.add(
                            egui::Label::new(
                                RichText::new(p.text()).color(Color32::from_rgb(230, 90, 80)),
                            )
                            .sense(egui::Sense::click()),
                        );
                        if r.clicked() {
                            select = p.block.clone();
                        }
                    }
                });
            if let Some(b) = select {
                self.selected = Some(b);
            }
            cols[1].heading("Log");
            // Only the rows in view are laid out, however long the log.
            let row = cols[1].text_style_height(&egui::TextStyle::Monospace);
            egui::ScrollArea::vertical()
                .id_salt("log")
                .stick_to_bottom(true)
                .show_rows(&mut cols[1], row, self.log.len(), |ui, range| {
                    for l in &self.log[range] {
                        let shown: String = l.text.chars().take(LOG_WIDTH).collect();
                        let text = RichText::new(shown).monospace();
                        let r = if l.error {
                            ui.add(
                                egui::Label::new(text.color(Color32::from_rgb(230, 90, 80)))
                                    .truncate(),
                            )
                        } else {
                            ui.add(egui::Label::new(text).truncate())
                        };
                        if l.text.chars().count() > LOG_WIDTH {
                            r.on_hover_text(&l.text);
                        }
                    }
                });
        });
    }

    fn canvas(&mut self, ui: &mut Ui) {
        if self.rebuild {
            self.sync_layout_if_built();
            self.snarl = canvas::build(&self.doc, &mut self.catalog, &self.base_dir);
            self.rebuild = false;
        }
        let faulty: Vec<String> = self
            .problems
            .iter()
            .filter_map(|p| p.block.clone())
            .collect();
        let selected = self.selected.clone();
        let mut viewer = Viewer {
            doc: &mut self.doc,
            history: &mut self.history,
            catalog: &mut self.catalog,
            base_dir: &self.base_dir,
            changed: false,
            message: None,
            requests: Vec::new(),
            faulty: &faulty,
            selected: selected.as_deref(),
            to_global: None,
            fit: None,
            fitted: false,
            spots: self.spots.clone(),
        };
        *self.spots.borrow_mut() = Default::default();
        let rect = ui.max_rect();
        let untouched = self
            .fitted
            .is_some_and(|(r, t)| r != rect && Some(t) == self.canvas_to_screen);
        if self.fit_view || untouched {
            viewer.fit = Some(rect);
        }
        // A plain background: the grid pattern costs a software renderer
        // more than it tells.
        let mut style = egui_snarl::ui::SnarlStyle::new();
        style.bg_pattern = Some(egui_snarl::ui::BackgroundPattern::NoPattern);
        // Straight wires, so a click is tested against exactly what is drawn.
        style.wire_style = Some(egui_snarl::ui::WireStyle::Line);
        let response = SnarlWidget::new().id_salt("canvas").style(style).show(
            &mut self.snarl,
            &mut viewer,
            ui,
        );
        let (changed, message, mut requests, to_global, fitted) = (
            viewer.changed,
            viewer.message,
            viewer.requests,
            viewer.to_global,
            viewer.fitted,
        );
        if let Some(probe) = self.wire_under_pointer(ui, rect, to_global) {
            ui.ctx().set_cursor_icon(egui::CursorIcon::PointingHand);
            response.show_tooltip_text(format!("{} (click to probe)", probe.0));
            if ui.input(|i| i.pointer.primary_clicked()) {
                requests.push(Request::Probe(probe.0, probe.1));
            }
        }
        self.canvas_to_screen = to_global;
        if fitted {
            self.fit_view = false;
            self.fitted = to_global.map(|t| (rect, t));
        }
        // A block dragged from the palette lands where it was let go.
        if let Some((kind, at)) = self.dropped.take() {
            let inside = ui.max_rect().contains(at);
            let graph_pos = viewer_to_graph(to_global, at).filter(|_| inside);
            self.add_block(kind, graph_pos);
        }
        if let Some(m) = message {
            self.status = Some(m);
        }
        if changed {
            self.changed();
        }
        self.sync_layout();
        self.canvas_id = Some(widget_id(ui));
        if let Some(n) = egui_snarl::ui::get_selected_nodes(widget_id(ui), ui.ctx()).first() {
            if let Some(v) = self.snarl.get_node(*n) {
                self.selected = Some(v.id.clone());
            }
        }
        for r in requests {
            match r {
                Request::Select(id) => self.selected = Some(id),
                Request::Probe(port, kind) => self.open_probe(port, kind),
                Request::OpenSubgraph(kind) => {
                    if self.modified {
                        self.status = Some(format!(
                            "save this graph (or undo its changes) before opening `{kind}`"
                        ));
                    } else {
                        let path = self.base_dir.join(kind);
                        let _ = self.open(&path);
                    }
                }
            }
        }
    }

    /// Keeps positions the user dragged before the nodes are rebuilt.
    fn sync_layout_if_built(&mut self) {
        if self.snarl.nodes().next().is_some() {
            let ids: std::collections::HashSet<&str> =
                self.doc.blocks.iter().map(|b| b.id.as_str()).collect();
            for (_, pos, n) in self.snarl.nodes_pos_ids() {
                if ids.contains(n.id.as_str()) {
                    self.doc
                        .layout
                        .positions
                        .insert(n.id.clone(), [pos.x.round(), pos.y.round()]);
                }
            }
        }
    }

    fn file_dialog(&mut self, ui: &mut Ui) {
        let Some(d) = &mut self.dialog else {
            return;
        };
        let title = if d.save { "Save as" } else { "Open" };
        let mut go = false;
        let mut cancel = false;
        let mut pick = None;
        egui::Window::new(title)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                let label = ui.label("file");
                let r = ui
                    .add(
                        egui::TextEdit::singleline(&mut d.path)
                            .desired_width(360.0)
                            .id_salt("path"),
                    )
                    .labelled_by(label.id);
                if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    go = true;
                }
                let dir = Path::new(&d.path)
                    .parent()
                    .filter(|p| p.is_dir())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    let mut files: Vec<PathBuf> = entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                        .collect();
                    files.sort();
                    egui::ScrollArea::vertical()
                        .max_height(200.0)
                        .show(ui, |ui| {
                            for f in files {
                                if ui
                                    .selectable_label(false, f.display().to_string())
                                    .clicked()
                                {
                                    pick = Some(f.display().to_string());
                                }
                            }
                        });
                }
                ui.horizontal(|ui| {
                    if ui.button(title).clicked() {
                        go = true;
                    }
                    if ui.button("Cancel").clicked() {
                        cancel = true;
                    }
                });
            });
        if let Some(p) = pick {
            d.path = p;
        }
        if cancel {
            self.dialog = None;
        } else if go {
            let save = d.save;
            let path = PathBuf::from(d.path.clone());
            self.dialog = None;
            let _ = if save {
                self.save_as(&path)
            } else {
                self.open(&path)
            };
        }
    }
}

/// A screen position on the canvas in the graph's coordinates.
fn viewer_to_graph(
    to_global: Option<egui::emath::TSTransform>,
    at: egui::Pos2,
) -> Option<[f32; 2]> {
    let p = to_global?.inverse() * at;
    Some([p.x.round(), p.y.round()])
}

/// How far from a wire a click still takes it, in screen points.
const WIRE_REACH: f32 = 5.0;

impl Studio {
    /// The output and probe kind of the wire under the pointer, if the
    /// pointer is on the canvas (not a block, not an open menu).
    fn wire_under_pointer(
        &self,
        ui: &Ui,
        canvas: egui::Rect,
        to_screen: Option<egui::emath::TSTransform>,
    ) -> Option<(PortRef, ProbeKind)> {
        let at = ui.input(|i| i.pointer.hover_pos())?;
        if !canvas.contains(at) || egui::Popup::is_any_open(ui.ctx()) {
            return None;
        }
        let t = to_screen?;
        let (from, _) = wires::wire_at(
            &self.spots.borrow(),
            self.snarl.wires(),
            t.inverse() * at,
            WIRE_REACH / t.scaling,
        )?;
        let port = canvas::out_ref(&self.snarl, from);
        let ty = self.snarl[from.node].outputs[from.output].ty;
        Some((port, ProbeKind::default_for(ty)))
    }

    /// Where the wire from `from` to `to` was last drawn, as its two ends on
    /// the screen.
    pub fn wire_on_screen(&self, from: &PortRef, to: &PortRef) -> Option<(egui::Pos2, egui::Pos2)> {
        let t = self.canvas_to_screen?;
        let (o, i) = self.snarl.wires().find(|&(o, i)| {
            canvas::out_ref(&self.snarl, o) == *from && canvas::in_ref(&self.snarl, i) == *to
        })?;
        let spots = self.spots.borrow();
        Some((t * *spots.outputs.get(&o)?, t * *spots.inputs.get(&i)?))
    }
}

/// The canvas's id as `SnarlWidget::id_salt("canvas")` makes it inside the
/// central panel.
fn widget_id(ui: &Ui) -> egui::Id {
    ui.id().with(egui::Id::new("canvas"))
}

/// The editor as an eframe application.
pub struct StudioApp(pub Studio);

/// Whether the OpenGL renderer is a software one.
fn software_gl(frame: &eframe::Frame) -> bool {
    use eframe::glow::HasContext;
    frame.gl().is_some_and(|gl| {
        // SAFETY: a plain query of the current context's renderer string.
        let name = unsafe { gl.get_parameter_string(eframe::glow::RENDERER) }.to_lowercase();
        ["llvmpipe", "softpipe", "swrast"]
            .iter()
            .any(|s| name.contains(s))
    })
}

impl eframe::App for StudioApp {
    /// The panels' colour, so the editor draws no background of its own.
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    fn ui(&mut self, ui: &mut Ui, frame: &mut eframe::Frame) {
        self.0.background_cleared = true;
        if self.0.frames() == 0 && software_gl(frame) {
            Studio::software_rendering(ui.ctx());
            self.0
                .note("software OpenGL: flat windows, no anti-aliasing".into());
        }
        let title = self.0.title();
        ui.ctx()
            .send_viewport_cmd(egui::ViewportCommand::Title(title));
        self.0.ui(ui);
    }
}
