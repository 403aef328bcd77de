//! Rendered snapshots of the main window (wgpu; on machines without a GPU,
//! Mesa's lavapipe). The reference images are in tests/snapshots/;
//! `UPDATE_SNAPSHOTS=1 cargo test -p modemflow-gui --test snapshot` writes
//! them again after a deliberate change to the window.

use egui_kittest::Harness;
use modemflow_gui::app::Studio;
use modemflow_gui::document::PortRef;
use modemflow_gui::probes::ProbeKind;
use std::path::Path;

#[test]
fn main_window_with_a_v90_graph_and_probes() {
    let mut s = Studio::new(modemflow_blocks::registry());
    // Relative to the package, so the log line is the same in every clone.
    s.open(Path::new("../graphs/v90_downstream.yaml")).unwrap();
    s.selected = Some("line".into());
    s.open_probe(PortRef::new("line", "out"), ProbeKind::Spectrum);
    s.open_probe(PortRef::new("receiver", "ucodes"), ProbeKind::Ucode);
    s.open_probe(PortRef::new("dac", "out"), ProbeKind::Scope);
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .wgpu()
        .build_ui_state(|ui, s: &mut Studio| s.ui(ui), s);
    // A fixed number of frames: nodes settle their sizes over the first few.
    h.run_steps(30);
    // Software rasterisation differs in a few edge pixels from run to run.
    let opts = egui_kittest::SnapshotOptions::new().max_failed_pixels(50);
    h.snapshot_options("v90_downstream_with_probes", &opts);
}
