//! The editor driven like a user, with egui_kittest: find widgets by their
//! labels, click and type, and read what the window shows. No display is
//! needed.

use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use modemflow_gui::app::Studio;
use modemflow_gui::document::PortRef;
use modemflow_gui::probes::ProbeKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn graphs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs")
}

fn studio() -> Studio {
    Studio::new(modemflow_blocks::registry())
}

fn harness(s: Studio) -> Harness<'static, Studio> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, s: &mut Studio| s.ui(ui), s)
}

/// Steps the window until `done` holds (the graph runs on its own threads),
/// at most `secs` seconds.
fn step_until(
    h: &mut Harness<'static, Studio>,
    secs: f64,
    done: impl Fn(&Harness<'static, Studio>) -> bool,
) {
    let start = Instant::now();
    while !done(h) {
        assert!(start.elapsed().as_secs_f64() < secs, "timed out");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Types `text` into the field whose label contains `label`, replacing
/// what it holds.
fn type_into(h: &mut Harness<'static, Studio>, label: &str, text: &str) {
    h.get_by_label_contains(label).focus();
    h.run();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    h.get_by_label_contains(label).type_text(text);
    h.run();
}

/// Clicks at `at` like a user: hover, press, release.
fn click_at(h: &mut Harness<'static, Studio>, at: egui::Pos2) {
    h.hover_at(at);
    h.step();
    h.drag_at(at);
    h.step();
    h.drop_at(at);
    h.run();
}

/// Clicks block `id`'s title on the canvas. The accessibility tree gives
/// the canvas's widgets in the canvas's own coordinates, before its zoom
/// and pan; the transform the canvas was last drawn with maps them to the
/// screen.
fn click_block(h: &mut Harness<'static, Studio>, id: &str) {
    let to_screen = h.state().canvas_to_screen.expect("the canvas was drawn");
    let at = to_screen * h.get_by_label(id).rect().center();
    click_at(h, at);
    assert_eq!(h.state().selected.as_deref(), Some(id), "clicked at {at:?}");
}

/// The number that opens the second part ("…; N …") of the probe caption
/// containing `label`, and the caption. A label's text is its
/// accessibility value.
fn caption_number(h: &Harness<'static, Studio>, label: &str) -> (usize, String) {
    let text = h
        .get_by_label_contains(label)
        .accesskit_node()
        .value()
        .unwrap_or_default();
    let n = text
        .split("; ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    (n, text)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("modemflow-gui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn blocks_are_added_from_the_palette_by_searching() {
    let mut h = harness(studio());
    h.run();
    type_into(&mut h, "Search", "pseudo-random");
    // Found by its description; the category opens with the search.
    h.get_by_label("add prbs_source").click();
    h.run();
    assert_eq!(h.state().doc.blocks.len(), 1);
    assert_eq!(h.state().doc.blocks[0].kind, "prbs_source");
    // The node is on the canvas, with its output port.
    h.get_by_label("prbs_source_0");
    h.get_by_label("out");
}

#[test]
fn an_invalid_parameter_shows_the_checks_message() {
    let mut s = studio();
    s.open(&graphs().join("scrambler_ber.yaml")).unwrap();
    let mut h = harness(s);
    h.run();
    click_block(&mut h, "ber");
    type_into(&mut h, "order (int", "5");
    // `modemflow check` says the same.
    assert!(h
        .query_all_by_label_contains("block `ber`: `order` = 5")
        .next()
        .is_some());
    assert!(h
        .state()
        .problems
        .iter()
        .any(|p| p.param.as_deref() == Some("order")));
}

#[test]
fn save_then_reopen_keeps_the_graph() {
    let mut s = studio();
    s.open(&graphs().join("v90_downstream.yaml")).unwrap();
    let before = s.doc.clone();
    let mut h = harness(s);
    h.run();
    let path = temp("saved.yaml");
    h.get_by_label("File").click();
    h.run();
    h.get_by_label("Save as…").click();
    h.run();
    type_into(&mut h, "file", &path.display().to_string());
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Save as")
        .click();
    h.run();
    assert!(path.exists(), "{}", path.display());
    assert!(!h.state().modified);
    // The command line's loader reads it.
    let reg = modemflow_blocks::registry();
    let text = std::fs::read_to_string(&path).unwrap();
    modemflow_flow::load_str(&text, "saved.yaml", &graphs(), &reg, &[]).unwrap();
    let mut again = studio();
    again.open(&path).unwrap();
    assert_eq!(again.doc.blocks, before.blocks);
    assert_eq!(again.doc.connections, before.connections);
    assert_eq!(again.doc.variables, before.variables);
}

#[test]
fn a_malformed_file_keeps_the_previous_graph() {
    let mut s = studio();
    s.open(&graphs().join("scrambler_ber.yaml")).unwrap();
    let bad = temp("bad.yaml");
    std::fs::write(&bad, "blocks: [\n  {id: a\n").unwrap();
    assert!(s.open(&bad).is_err());
    assert!(s.open(&temp("missing.yaml")).is_err());
    let mut h = harness(s);
    h.run();
    assert_eq!(h.state().doc.blocks.len(), 6);
    assert!(h.query_all_by_label_contains("bad.yaml:").next().is_some());
    assert!(h
        .query_all_by_label_contains("cannot read")
        .next()
        .is_some());
}

#[test]
fn running_scrambler_ber_shows_the_ber_event() {
    let mut s = studio();
    s.open(&graphs().join("scrambler_ber.yaml")).unwrap();
    let mut h = harness(s);
    h.run();
    h.get_by_label("▶ Run").click();
    step_until(&mut h, 60.0, |h| {
        h.state().log.iter().any(|l| l.text.starts_with("ber ber"))
    });
    // The run ends after its last event (and keeps the window repainting
    // until then).
    step_until(&mut h, 60.0, |h| !h.state().is_running());
    h.run();
    h.get_by_label_contains("ber ber {\"bits\":");
    assert!(h
        .state()
        .log
        .iter()
        .any(|l| l.text.starts_with("finished in")));
}

#[test]
fn a_probe_on_a_wire_shows_data_arriving() {
    let mut s = studio();
    s.open(&graphs().join("scrambler_ber.yaml")).unwrap();
    let mut h = harness(s);
    h.run();
    // With the source selected, probe its output from the inspector.
    click_block(&mut h, "src");
    h.get_by_label("Probe out").click();
    h.run();
    h.get_by_label("Time scope").click();
    h.run();
    assert_eq!(h.state().probes.len(), 1);
    h.get_by_label_contains("waiting for the graph to run");
    h.get_by_label("▶ Run").click();
    step_until(&mut h, 60.0, |h| h.state().probes[0].items > 0);
    // Until the run ends (a running graph keeps the window repainting).
    step_until(&mut h, 60.0, |h| !h.state().is_running());
    h.run();
    let p = &h.state().probes[0];
    assert!(p.chunks > 0 && p.items > 0);
    assert_eq!(
        h.state().doc.layout.probes.len(),
        1,
        "stored with the layout"
    );
}

/// A click on a wire opens the probe its type suggests (bits: the BER and
/// rate meter; samples: the scope); a click beside it opens nothing.
#[test]
fn clicking_a_wire_probes_it() {
    let mut s = studio();
    s.open(&graphs().join("v90_downstream.yaml")).unwrap();
    let mut h = harness(s);
    h.run();
    let wire = |h: &Harness<'static, Studio>, from: (&str, &str), to: (&str, &str)| {
        let (a, b) = h
            .state()
            .wire_on_screen(&PortRef::new(from.0, from.1), &PortRef::new(to.0, to.1))
            .expect("the wire is drawn");
        (a, b)
    };
    let (a, b) = wire(&h, ("receiver", "out"), ("ber", "in"));
    // 12 points to the side of the wire's middle is not on it.
    let beside = a.lerp(b, 0.5) + (b - a).normalized().rot90() * 12.0;
    click_at(&mut h, beside);
    assert!(h.state().probes.is_empty());
    click_at(&mut h, a.lerp(b, 0.5));
    assert_eq!(h.state().probes.len(), 1);
    assert_eq!(h.state().probes[0].port, PortRef::new("receiver", "out"));
    assert_eq!(h.state().probes[0].kind, ProbeKind::Meter);
    // The probe panel narrows the canvas, which is fitted again.
    h.run();
    let (a, b) = wire(&h, ("line", "out"), ("receiver", "in"));
    click_at(&mut h, a.lerp(b, 0.5));
    assert_eq!(h.state().probes.len(), 2);
    assert_eq!(h.state().probes[1].port, PortRef::new("line", "out"));
    assert_eq!(h.state().probes[1].kind, ProbeKind::Scope);
}

/// The PCM view: received level versus Ucode on the V.90 receiver's
/// `ucodes` output, which nothing in the graph reads.
#[test]
fn the_v90_receiver_shows_received_level_versus_ucode() {
    let mut s = studio();
    s.open(&graphs().join("v90_downstream.yaml")).unwrap();
    s.set_variable("seconds", "0.5").unwrap();
    s.set_variable("training", "2040").unwrap();
    let mut h = harness(s);
    h.run();
    click_block(&mut h, "receiver");
    h.get_by_label("Probe ucodes").click();
    h.run();
    h.get_by_label("Received level versus Ucode").click();
    h.run();
    assert_eq!(h.state().probes.len(), 1);
    h.get_by_label("▶ Run").click();
    h.step();
    assert!(h.state().is_running());
    step_until(&mut h, 120.0, |h| !h.state().is_running());
    h.run();
    assert_eq!(h.state().probes[0].dropped(), 0);
    let (seen, text) = caption_number(&h, "Ucodes seen");
    // 56 000 bit/s uses some 64 magnitudes per interval.
    assert!(seen >= 60, "{text}");
    assert!(text.ends_with(", 0 pairs ignored"), "{text}");
}

/// An opened graph is fitted to the canvas, and fitted again when a probe
/// panel docks beside the canvas and narrows it (until the user zooms or
/// pans).
#[test]
fn an_opened_graph_fits_the_canvas_and_stays_fitted_as_probes_dock() {
    let mut s = studio();
    s.open(&graphs().join("v90_downstream.yaml")).unwrap();
    let ids: Vec<String> = s.doc.blocks.iter().map(|b| b.id.clone()).collect();
    let mut h = harness(s);
    h.run();
    let inside = |h: &Harness<'static, Studio>, right: f32| {
        let t = h.state().canvas_to_screen.unwrap();
        let left = h.get_by_label("Search").rect().right();
        for id in &ids {
            let r = t * h.get_by_label(id).rect();
            assert!(
                r.left() > left && r.right() < right,
                "`{id}` at {r:?}, canvas {left}…{right}"
            );
        }
    };
    inside(&h, 1280.0);
    click_block(&mut h, "line");
    h.get_by_label("Probe out").click();
    h.run();
    h.get_by_label("Spectrum").click();
    h.run();
    let probe_left = h.get_by_label("waiting for the graph to run").rect().left();
    assert!(probe_left < 900.0, "{probe_left}");
    inside(&h, probe_left);
}

#[test]
fn delete_undo_copy_paste_from_the_keyboard() {
    let mut s = studio();
    s.open(&graphs().join("scrambler_ber.yaml")).unwrap();
    let mut h = harness(s);
    h.run();
    click_block(&mut h, "ber");
    h.key_press(egui::Key::Delete);
    h.run();
    assert!(h.state().doc.block("ber").is_none());
    assert!(h
        .state()
        .doc
        .connections
        .iter()
        .all(|c| c.to.block != "ber"));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run();
    assert!(
        h.state().doc.block("ber").is_some(),
        "undo brings it back with its wire"
    );
    assert!(h
        .state()
        .doc
        .connections
        .iter()
        .any(|c| c.to.block == "ber"));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Y);
    h.run();
    assert!(
        h.state().doc.block("ber").is_none(),
        "redo removes it again"
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run();
    click_block(&mut h, "scr");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::C);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::V);
    h.run();
    let copy = h.state().doc.block("scrambler_0").expect("the pasted copy");
    assert_eq!(copy.params, h.state().doc.block("scr").unwrap().params);
}

#[test]
fn a_block_dragged_from_the_palette_lands_where_it_is_dropped() {
    let mut h = harness(studio());
    h.run();
    drop_block(
        &mut h,
        "pseudo-random",
        "prbs_source",
        egui::pos2(700.0, 300.0),
    );
    assert_eq!(h.state().doc.blocks.len(), 1);
    let [x0, y0] = h.state().doc.layout.positions["prbs_source_0"];
    // Positions are the canvas's own coordinates: a second block dropped
    // further right lands further right, at the same height.
    drop_block(
        &mut h,
        "pseudo-random",
        "prbs_source",
        egui::pos2(850.0, 300.0),
    );
    let [x1, y1] = h.state().doc.layout.positions["prbs_source_1"];
    assert!(
        x1 > x0 + 50.0 && (y1 - y0).abs() < 5.0,
        "({x0}, {y0}) then ({x1}, {y1})"
    );
}

/// Drags with the pointer from `from` to `to` over a few frames.
fn drag(h: &mut Harness<'static, Studio>, from: egui::Pos2, to: egui::Pos2) {
    h.hover_at(from);
    h.step();
    h.drag_at(from);
    h.step();
    for k in 1..=10 {
        h.hover_at(from + (to - from) * (k as f32 / 10.0));
        h.step();
    }
    h.drop_at(to);
    h.run();
}

/// Adds `kind` by dragging its palette entry to `at`.
fn drop_block(h: &mut Harness<'static, Studio>, search: &str, kind: &str, at: egui::Pos2) {
    type_into(h, "Search", search);
    let from = h
        .get_all_by_label(kind)
        .map(|n| n.rect().center())
        .min_by(|a, b| a.x.total_cmp(&b.x))
        .unwrap();
    drag(h, from, at);
}

#[test]
fn wires_are_drawn_from_pin_to_pin_and_mismatches_refused() {
    let mut h = harness(studio());
    h.run();
    drop_block(&mut h, "sine", "tone_source", egui::pos2(330.0, 200.0));
    drop_block(&mut h, "G.711", "g711_encode", egui::pos2(650.0, 200.0));
    drop_block(&mut h, "f32_to_i16", "f32_to_i16", egui::pos2(650.0, 400.0));
    assert_eq!(h.state().doc.blocks.len(), 3);
    // Pins sit just outside their port names: outputs to the right, inputs
    // to the left.
    // The tone's output is the leftmost; the inputs are the two on the right.
    let out = h
        .get_all_by_label("out")
        .map(|n| n.rect())
        .min_by(|a, b| a.left().total_cmp(&b.left()))
        .unwrap();
    let ins: Vec<egui::Rect> = h.get_all_by_label("in").map(|n| n.rect()).collect();
    let out_pin = egui::pos2(out.right() + 9.0, out.center().y);
    let pin_of = |r: &egui::Rect| egui::pos2(r.left() - 20.0, r.center().y);
    // The encoder's input (upper right) takes i16: refused.
    let upper = ins
        .iter()
        .min_by(|a, b| a.top().total_cmp(&b.top()))
        .unwrap();
    let lower = ins
        .iter()
        .max_by(|a, b| a.top().total_cmp(&b.top()))
        .unwrap();
    drag(&mut h, out_pin, pin_of(upper));
    assert!(h.state().doc.connections.is_empty());
    h.get_by_label_contains(
        "wire refused: `tone_source_0.out` carries f32 but `g711_encode_0.in` takes i16",
    );
    // The conversion block's input takes f32: connected.
    drag(&mut h, out_pin, pin_of(lower));
    let c = &h.state().doc.connections;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].from, PortRef::new("tone_source_0", "out"));
    assert_eq!(c[0].to, PortRef::new("f32_to_i16_0", "in"));
}

#[test]
fn a_live_parameter_gets_a_slider_at_its_evaluated_value() {
    let mut s = studio();
    s.open(&graphs().join("scrambler_ber.yaml")).unwrap();
    // The bit-error block's probability is the variable `p_error`.
    s.set_variable("p_error", "0.25").unwrap();
    s.set_variable("seconds", "100000").unwrap();
    s.selected = Some("line".into());
    let mut h = harness(s);
    h.run();
    assert!(h.query_by_role(egui::accesskit::Role::Slider).is_none());
    h.get_by_label("▶ Run").click();
    h.step();
    h.step();
    h.get_by_role(egui::accesskit::Role::Slider);
    // The number beside it.
    let shown = h.get_by_role(egui::accesskit::Role::SpinButton);
    assert_eq!(shown.value().as_deref(), Some("0.25"));
    h.state_mut().stop();
    step_until(&mut h, 60.0, |h| !h.state().is_running());
}

/// The V.34 receiver's soft symbols as a constellation (at 33 600 bit/s
/// with expanded shell mapping every point of the 1664-point
/// superconstellation is sent) and its equalizer error as a time scope; the
/// V.90 upstream graph opens too.
#[test]
fn the_v34_receiver_shows_its_constellation_and_error() {
    let mut s = studio();
    s.open(&graphs().join("v90_upstream.yaml")).unwrap();
    let mut h = harness(s);
    h.run();
    for id in ["transmitter", "adc", "network", "receiver"] {
        h.get_by_label(id);
    }
    let mut s = studio();
    s.open(&graphs().join("v34_link.yaml")).unwrap();
    s.set_variable("expanded", "true").unwrap();
    s.set_variable("seconds", "60.2").unwrap();
    let mut h = harness(s);
    h.run();
    click_block(&mut h, "receiver");
    h.get_by_label("Probe symbols").click();
    h.run();
    h.get_by_label("Level histogram / constellation").click();
    h.run();
    click_block(&mut h, "receiver");
    h.get_by_label("Probe error").click();
    h.run();
    h.get_by_label("Time scope").click();
    h.run();
    assert_eq!(h.state().probes.len(), 2);
    h.get_by_label("▶ Run").click();
    h.step();
    step_until(&mut h, 120.0, |h| !h.state().is_running());
    h.run();
    let (spots, text) = caption_number(&h, "spots");
    // Each point a spot of its own: nearly all 1664, none split in two.
    assert!((1600..=1664).contains(&spots), "{text}");
    let error = &h.state().probes[1];
    assert_eq!(error.port, PortRef::new("receiver", "error"));
    assert!(error.items > 1000, "{}", error.items);
}
