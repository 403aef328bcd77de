//! The open graph running on the threaded scheduler, beside the window: the
//! editor polls it once a frame for events and for the end of the run, and
//! taps wires for probes and sends live parameter changes through it. The
//! window never waits on the graph.

use crate::document::PortRef;
use modemflow_flow::{start, Event, Flowgraph, Probe, RunOptions, Running, Scheduler, Value};

/// A graph started from the editor.
pub struct Session {
    running: Option<Running>,
    started: std::time::Instant,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ended {
    Finished,
    /// A run-time error, naming the block.
    Failed {
        block: String,
        message: String,
    },
}

/// Chunks a probe may hold unread before the graph drops (and counts) more:
/// a few frames' worth of what a panel draws (16 384 items a frame).
pub const PROBE_QUEUE: usize = 16;

impl Session {
    /// Builds every block and starts the graph.
    pub fn start(graph: &Flowgraph) -> Result<Session, String> {
        let blocks = graph.instantiate().map_err(|d| d.to_string())?;
        let opts = RunOptions {
            scheduler: Scheduler::Threaded,
            // The window before the graph: it keeps its frame rate, the
            // graph takes the rest.
            background: true,
            ..RunOptions::default()
        };
        let running = start(graph, blocks, &opts);
        Ok(Session {
            running: Some(running),
            started: std::time::Instant::now(),
        })
    }

    /// Events emitted since the last call.
    pub fn events(&self) -> Vec<Event> {
        self.running
            .as_ref()
            .map(|r| r.events().try_iter().collect())
            .unwrap_or_default()
    }

    /// `Some` once the run has ended (after which the session is spent).
    pub fn poll_end(&mut self) -> Option<Ended> {
        if !self.running.as_ref()?.is_finished() {
            return None;
        }
        let r = self.running.take()?;
        Some(match r.wait() {
            Ok(()) => Ended::Finished,
            Err(e) => Ended::Failed {
                block: e.block,
                message: e.message,
            },
        })
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Asks the sources to end; the rest drains.
    pub fn stop(&self) {
        if let Some(r) = &self.running {
            r.stop();
        }
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub fn progress(&self) -> Option<f64> {
        self.running.as_ref()?.progress()
    }

    /// Changes a live parameter of a top-level block.
    pub fn set(&self, block: &str, param: &str, value: Value) -> Result<(), String> {
        let r = self
            .running
            .as_ref()
            .ok_or_else(|| "the graph is not running".to_string())?;
        r.controller().set(block, param, value)
    }

    /// Taps the wire that leaves `port` (as the top-level file names it). A
    /// subgraph's output is tapped where its items come from inside it (the
    /// loader's `Flowgraph::exports`).
    pub fn probe(&self, port: &PortRef) -> Result<Probe, String> {
        let r = self
            .running
            .as_ref()
            .ok_or_else(|| "the graph is not running".to_string())?;
        r.probe(&port.to_string(), PROBE_QUEUE)
    }
}
