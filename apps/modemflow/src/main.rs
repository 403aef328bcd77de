//! The `modemflow` command: run, check and describe modem flowgraphs.

use clap::{Parser, Subcommand};
use modemflow_flow::{docs, load_file, Diagnostics, RunOptions, Scheduler};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "modemflow",
    version,
    about = "Run, check and describe telephone-line modem flowgraphs"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a flowgraph; events go to stdout as JSON lines, progress to stderr.
    Run {
        file: PathBuf,
        /// Override a variable: --set NAME=VALUE (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        #[arg(long, default_value = "fused", value_parser = ["fused", "threaded"])]
        scheduler: String,
        #[arg(long, default_value = "native", value_parser = ["native", "futuresdr"])]
        backend: String,
        /// Items per work call (chunk size).
        #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
        chunk: u32,
        /// No progress bar or summary on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate flowgraphs without running them; every error is listed.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
    /// List the block types.
    Blocks {
        #[arg(long)]
        json: bool,
        /// Print the block reference (docs/blocks.md) in Markdown.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
    },
    /// Describe one block type: ports, parameters, events.
    Describe {
        #[arg(value_name = "TYPE")]
        block_type: String,
        #[arg(long)]
        json: bool,
    },
    /// Open the editor, modemflow studio (the `modemflow-gui` program
    /// installed beside this one); arguments after FILE go to it.
    Gui {
        file: Option<PathBuf>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `modemflow-gui` beside this program, else on PATH.
fn gui_program() -> PathBuf {
    let name = format!("modemflow-gui{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(&name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, String> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("--set expects NAME=VALUE, got `{s}`")),
        })
        .collect()
}

fn print_diagnostics(d: &Diagnostics) {
    let mut err = std::io::stderr().lock();
    for x in &d.0 {
        let _ = writeln!(err, "{x}");
    }
    let n = d.0.len();
    let _ = writeln!(err, "{n} error{}", if n == 1 { "" } else { "s" });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let reg = modemflow_blocks::registry();
    match cli.cmd {
        Cmd::Gui { file, args } => {
            let program = gui_program();
            let status = std::process::Command::new(&program)
                .args(file.iter().map(|f| f.as_os_str()))
                .args(&args)
                .status();
            match status {
                Ok(s) if s.success() => ExitCode::SUCCESS,
                Ok(s) => ExitCode::from(s.code().map_or(1, |c| c.clamp(1, 255) as u8)),
                Err(e) => {
                    eprintln!(
                        "error: cannot start {}: {e}\n  hint: build it with `cargo build --release -p modemflow-gui`",
                        program.display()
                    );
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Blocks { json, markdown } => {
            if json {
                let all: Vec<_> = reg.all().into_iter().map(|s| s.to_json()).collect();
                println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            } else if markdown {
                print!("{}", docs::markdown(&reg));
            } else {
                print!("{}", docs::table(&reg));
            }
            ExitCode::SUCCESS
        }
        Cmd::Describe { block_type, json } => match reg.get(&block_type) {
            Some(spec) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&spec.to_json()).unwrap_or_default()
                    );
                } else {
                    print!("{}", docs::describe(spec));
                }
                ExitCode::SUCCESS
            }
            None => {
                let hint = reg
                    .suggest(&block_type)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                eprintln!(
                    "error: no block type `{block_type}`{hint}; `modemflow blocks` lists them"
                );
                ExitCode::from(2)
            }
        },
        Cmd::Check { files, set } => {
            let sets = match parse_sets(&set) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut bad = 0;
            for f in &files {
                let res = load_file(f, &reg, &sets).and_then(|g| g.instantiate().map(|_| g));
                match res {
                    Ok(g) => eprintln!(
                        "{}: ok ({} blocks, {} connections)",
                        f.display(),
                        g.nodes.len(),
                        g.edges.len()
                    ),
                    Err(d) => {
                        bad += 1;
                        print_diagnostics(&d);
                    }
                }
            }
            if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Cmd::Run {
            file,
            set,
            scheduler,
            backend,
            chunk,
            quiet,
        } => run(
            &reg,
            &file,
            &set,
            &scheduler,
            &backend,
            chunk as usize,
            quiet,
        ),
    }
}

fn run(
    reg: &modemflow_flow::Registry,
    file: &std::path::Path,
    set: &[String],
    scheduler: &str,
    backend: &str,
    chunk: usize,
    quiet: bool,
) -> ExitCode {
    let sets = match parse_sets(set) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let g = match load_file(file, reg, &sets) {
        Ok(g) => g,
        Err(d) => {
            print_diagnostics(&d);
            return ExitCode::from(2);
        }
    };
    let blocks = match g.instantiate() {
        Ok(b) => b,
        Err(d) => {
            print_diagnostics(&d);
            return ExitCode::from(2);
        }
    };
    let t0 = Instant::now();
    if backend == "futuresdr" {
        return run_futuresdr(&g, blocks, quiet, t0);
    }
    let opts = RunOptions {
        scheduler: Scheduler::parse(scheduler).unwrap_or(Scheduler::Fused),
        chunk,
        ..RunOptions::default()
    };
    let running = modemflow_flow::start(&g, blocks, &opts);

    let interrupts = Arc::new(AtomicUsize::new(0));
    {
        let interrupts = interrupts.clone();
        let _ = ctrlc::set_handler(move || {
            if interrupts.fetch_add(1, Ordering::SeqCst) >= 1 {
                std::process::exit(130);
            }
        });
    }
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut stopping = false;
    let events = running.events().clone();
    let mut out = std::io::stdout().lock();
    let mut n_events = 0usize;
    loop {
        if let Ok(ev) = events.recv_timeout(Duration::from_millis(100)) {
            n_events += 1;
            // Keep the bar (stderr) and the event lines (stdout) apart on a terminal.
            let mut print = || {
                let _ = writeln!(out, "{}", ev.to_json());
                let _ = out.flush();
            };
            match &bar {
                Some(b) => b.suspend(print),
                None => print(),
            }
            continue;
        }
        if interrupts.load(Ordering::SeqCst) > 0 && !stopping {
            stopping = true;
            if !quiet {
                eprintln!("\ninterrupted: stopping the sources and flushing outputs (Ctrl-C again to quit at once)");
            }
            running.stop();
        }
        if !quiet && bar.is_none() && t0.elapsed() > Duration::from_secs(1) {
            if let Some(_p) = running.progress() {
                let b = indicatif::ProgressBar::new(1000);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{elapsed_precise} [{bar:40}] {percent:>3}% eta {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar = Some(b);
            }
        }
        if let (Some(b), Some(p)) = (&bar, running.progress()) {
            b.set_position((p * 1000.0) as u64);
        }
        if running.is_finished() {
            break;
        }
    }
    for ev in events.try_iter() {
        n_events += 1;
        let _ = writeln!(out, "{}", ev.to_json());
    }
    let _ = out.flush();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match running.wait() {
        Ok(()) => {
            if !quiet {
                eprintln!(
                    "{}: finished in {:.2} s ({} blocks, {} events{}{})",
                    g.name_or_file(),
                    t0.elapsed().as_secs_f64(),
                    g.nodes.len(),
                    n_events,
                    peak_memory()
                        .map(|kb| format!(", peak memory {:.1} MB", kb as f64 / 1024.0))
                        .unwrap_or_default(),
                    if stopping { ", interrupted" } else { "" }
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Peak resident memory of this process in KiB (Linux), for the summary.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(not(feature = "futuresdr"))]
fn run_futuresdr(
    _g: &modemflow_flow::Flowgraph,
    _blocks: Vec<Box<dyn modemflow_flow::Block>>,
    _quiet: bool,
    _t0: Instant,
) -> ExitCode {
    eprintln!("error: this modemflow was built without the FutureSDR backend; rebuild with `cargo build --release --features futuresdr`");
    ExitCode::from(2)
}

#[cfg(feature = "futuresdr")]
fn run_futuresdr(
    g: &modemflow_flow::Flowgraph,
    blocks: Vec<Box<dyn modemflow_flow::Block>>,
    quiet: bool,
    t0: Instant,
) -> ExitCode {
    match modemflow_futuresdr::run(g, blocks) {
        Ok(events) => {
            let mut out = std::io::stdout().lock();
            for ev in &events {
                let _ = writeln!(out, "{}", ev.to_json());
            }
            if !quiet {
                eprintln!(
                    "{}: finished on FutureSDR in {:.2} s",
                    g.name_or_file(),
                    t0.elapsed().as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
