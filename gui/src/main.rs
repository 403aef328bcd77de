//! `modemflow-gui [FILE]`: modemflow studio, the flowgraph editor.

use clap::Parser;
use modemflow_gui::app::{Studio, StudioApp};
use modemflow_gui::document::PortRef;
use modemflow_gui::probes::ProbeKind;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "modemflow-gui",
    version,
    about = "modemflow studio: assemble flowgraphs and probe them live"
)]
struct Args {
    /// A flowgraph file to open.
    file: Option<PathBuf>,
    /// Set a variable of the opened graph: --set NAME=VALUE (repeatable),
    /// as `modemflow run` takes it; the editor shows and saves the value.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Start running the graph at once.
    #[arg(long)]
    run: bool,
    /// Open a probe: BLOCK.PORT:KIND, KIND one of scope, spectrum,
    /// waterfall, levels, eye, meter (may be given several times).
    #[arg(long = "probe", value_name = "BLOCK.PORT:KIND")]
    probes: Vec<String>,
    /// How the window is drawn: glow (OpenGL) or wgpu (Vulkan, Metal, DX12
    /// or OpenGL).
    #[arg(long, default_value = "glow", value_parser = ["glow", "wgpu"])]
    renderer: String,
    /// Close the window after this many seconds and print the frame rate
    /// on stderr (for measurements and screenshots).
    #[arg(long, value_name = "SECONDS")]
    exit_after: Option<f64>,
    /// Close the window when the graph's run ends and print how long it
    /// ran on stderr (with --run; for measurements).
    #[arg(long)]
    exit_when_done: bool,
}

/// Closes the window after a while and reports frames per second.
struct Timed {
    app: StudioApp,
    started: Instant,
    limit: Option<Duration>,
    when_done: bool,
    /// The window is closing (it may draw once more).
    closing: bool,
}

impl Timed {
    /// One line on stderr: the frame rate, and how long the graph ran.
    fn report(&self) {
        let frames = self.app.0.frames();
        let t = self.started.elapsed().as_secs_f64();
        let run = match self.app.0.last_run {
            Some(r) => format!("; the graph ran for {:.3} s", r.as_secs_f64()),
            None if self.app.0.is_running() => "; the graph is still running".into(),
            None => String::new(),
        };
        eprintln!(
            "modemflow-gui: {frames} frames in {t:.2} s: {:.1} frames/s{run}",
            frames as f64 / t
        );
    }
}

impl eframe::App for Timed {
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        self.app.clear_color(visuals)
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.app.ui(ui, frame);
        let ended = self.when_done && !self.app.0.is_running();
        let timed_out = self.limit.is_some_and(|l| self.started.elapsed() >= l);
        if (ended || timed_out) && !self.closing {
            self.closing = true;
            self.report();
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if self.limit.is_some() {
            // Measuring: draw as fast as the machine allows.
            ui.ctx().request_repaint();
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut studio = Studio::new(modemflow_blocks::registry());
    if let Some(f) = &args.file {
        if let Err(e) = studio.open(f) {
            eprintln!("modemflow-gui: {e}");
        }
    }
    for kv in &args.set {
        let done = kv
            .split_once('=')
            .ok_or_else(|| format!("--set expects NAME=VALUE, got `{kv}`"))
            .and_then(|(k, v)| studio.set_variable(k.trim(), v));
        if let Err(e) = done {
            eprintln!("modemflow-gui: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    for p in &args.probes {
        let parsed = p.rsplit_once(':').and_then(|(port, kind)| {
            let (b, o) = port.rsplit_once('.')?;
            Some((PortRef::new(b, o), ProbeKind::from_word(kind)?))
        });
        match parsed {
            Some((port, kind)) => studio.open_probe(port, kind),
            None => {
                eprintln!("modemflow-gui: --probe {p}: expected BLOCK.PORT:KIND, KIND one of scope, spectrum, waterfall, levels, eye, meter");
                return std::process::ExitCode::from(2);
            }
        }
    }
    if args.run {
        if let Err(e) = studio.run() {
            eprintln!("modemflow-gui: {e}");
        }
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_title(studio.title()),
        renderer: if args.renderer == "wgpu" {
            eframe::Renderer::Wgpu
        } else {
            eframe::Renderer::Glow
        },
        ..Default::default()
    };
    let app = Timed {
        app: StudioApp(studio),
        started: Instant::now(),
        limit: args.exit_after.map(Duration::from_secs_f64),
        when_done: args.exit_when_done,
        closing: false,
    };
    match eframe::run_native("modemflow studio", options, Box::new(|_| Ok(Box::new(app)))) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modemflow-gui: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
