//! Running a flowgraph: the shared handle (events, probes, live control, stop)
//! and the two schedulers behind it.

use crate::block::{Block, Event, Input, Output, Status, WorkIo};
use crate::flowgraph::Flowgraph;
use crate::item::{Buf, ItemType};
use crate::registry::BlockSpec;
use crate::value::Value;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender, TrySendError};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Which scheduler runs the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduler {
    /// All blocks in order on one thread: deterministic, lowest overhead.
    Fused,
    /// One thread per block, connected by bounded channels: for live runs.
    Threaded,
}

impl Scheduler {
    pub fn parse(s: &str) -> Option<Scheduler> {
        match s {
            "fused" => Some(Scheduler::Fused),
            "threaded" => Some(Scheduler::Threaded),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub scheduler: Scheduler,
    /// Items a block may produce per output per work call.
    pub chunk: usize,
    /// Run the graph's threads at a lower priority than the caller's, where
    /// the system allows it (Linux: nice 19 per thread). An editor's window
    /// then stays responsive while the graph takes every cycle it leaves.
    pub background: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            scheduler: Scheduler::Fused,
            chunk: 4096,
            background: false,
        }
    }
}

/// Lowers the calling thread's scheduling priority (see
/// [`RunOptions::background`]); a no-op where threads have no priority of
/// their own.
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; on Linux,
    // PRIO_PROCESS with who = 0 names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

/// A failure while running, naming the block.
#[derive(Clone, Debug, PartialEq)]
pub struct RunError {
    pub block: String,
    pub message: String,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "block `{}`: {}", self.block, self.message)
    }
}

impl std::error::Error for RunError {}

/// One subscriber of a tapped output.
struct TapSub {
    tx: Sender<Buf>,
    dropped: Arc<AtomicU64>,
}

/// An output port that probes can subscribe to while the graph runs.
#[derive(Default)]
pub(crate) struct TapPoint {
    active: AtomicBool,
    subs: Mutex<Vec<TapSub>>,
}

impl TapPoint {
    /// Whether a probe is subscribed.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Offers a copy of a chunk to every subscriber without ever waiting:
    /// a full probe drops the chunk and counts it.
    #[inline]
    pub(crate) fn offer(&self, chunk: &Buf) {
        if !self.active.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut subs) = self.subs.lock() else {
            return;
        };
        subs.retain(|s| {
            // A full queue costs no copy: the chunk is only counted.
            if s.tx.is_full() {
                s.dropped.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            match s.tx.try_send(chunk.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    s.dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
        if subs.is_empty() {
            self.active.store(false, Ordering::Relaxed);
        }
    }
}

/// A live view of one connection: chunks of items as they pass.
pub struct Probe {
    pub port: String,
    pub item_type: ItemType,
    pub rx: Receiver<Buf>,
    dropped: Arc<AtomicU64>,
}

impl Probe {
    /// Chunks dropped because the probe's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

type ControlMsg = (String, Value);

/// A connection as the schedulers see it: (node, output) -> (node, input).
pub(crate) type Link = ((usize, usize), (usize, usize));

/// Changes parameters marked live on a running graph.
#[derive(Clone)]
pub struct Controller {
    blocks: Arc<HashMap<String, (BlockSpec, Sender<ControlMsg>)>>,
}

impl Controller {
    /// Checks the value against the registry and hands it to the block before
    /// its next work call.
    pub fn set(&self, block: &str, param: &str, value: Value) -> Result<(), String> {
        let (spec, tx) = self
            .blocks
            .get(block)
            .ok_or_else(|| format!("no block `{block}` in the running graph"))?;
        let ps = spec
            .param_spec(param)
            .ok_or_else(|| format!("block `{block}` ({}) has no parameter `{param}`", spec.name))?;
        if !ps.live {
            return Err(format!(
                "parameter `{param}` of `{block}` cannot change while running; stop, edit and run again"
            ));
        }
        let v = ps.check(&value)?;
        tx.send((param.to_string(), v))
            .map_err(|_| format!("block `{block}` has already finished"))
    }
}

/// Shared state between a run and its handle.
pub(crate) struct Shared {
    pub(crate) stop: AtomicBool,
    pub(crate) abort: AtomicBool,
    pub(crate) produced: Vec<AtomicU64>,
    pub(crate) hints: Vec<Option<u64>>,
}

/// A graph that has been started.
pub struct Running {
    events: Receiver<Event>,
    controller: Controller,
    taps: HashMap<String, (ItemType, Arc<TapPoint>)>,
    shared: Arc<Shared>,
    join: Option<JoinHandle<Result<(), RunError>>>,
}

impl Running {
    /// Events as blocks emit them, each with its block id.
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    pub fn controller(&self) -> Controller {
        self.controller.clone()
    }

    /// Taps the output `block.port` (a subgraph block's outputs also by
    /// their outer names, e.g. `receiver.cp`); chunks beyond `capacity`
    /// unread ones are dropped and counted rather than slowing the graph.
    pub fn probe(&self, port: &str, capacity: usize) -> Result<Probe, String> {
        let (ty, tap) = self.taps.get(port).ok_or_else(|| {
            let mut names: Vec<&String> = self.taps.keys().collect();
            names.sort();
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            format!("no output `{port}`; outputs: {}", names.join(", "))
        })?;
        let (tx, rx) = bounded(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        if let Ok(mut subs) = tap.subs.lock() {
            subs.push(TapSub {
                tx,
                dropped: dropped.clone(),
            });
        }
        tap.active.store(true, Ordering::Relaxed);
        Ok(Probe {
            port: port.to_string(),
            item_type: *ty,
            rx,
            dropped,
        })
    }

    /// Asks the sources to end; what is in flight drains and sinks flush.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// True once every block has finished (or the run failed).
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }

    /// Fraction done, when some block knows the run's length.
    pub fn progress(&self) -> Option<f64> {
        let mut best: Option<f64> = None;
        for (i, h) in self.shared.hints.iter().enumerate() {
            if let Some(total) = h {
                let done = self.shared.produced[i].load(Ordering::Relaxed) as f64;
                let f = if *total == 0 {
                    1.0
                } else {
                    (done / *total as f64).min(1.0)
                };
                best = Some(best.map_or(f, |b: f64| b.max(f)));
            }
        }
        best
    }

    /// Waits for the run to end.
    pub fn wait(mut self) -> Result<(), RunError> {
        match self.join.take().map(|j| j.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(RunError {
                block: "(scheduler)".into(),
                message: "the scheduler thread panicked".into(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(j) = self.join.take() {
            self.shared.abort.store(true, Ordering::Relaxed);
            let _ = j.join();
        }
    }
}

/// Per-block data both schedulers need.
pub(crate) struct Slot {
    pub(crate) id: String,
    pub(crate) block: Box<dyn Block>,
    pub(crate) inputs: Vec<Input>,
    pub(crate) outputs: Vec<Output>,
    pub(crate) ctrl: Receiver<ControlMsg>,
    pub(crate) taps: Vec<Arc<TapPoint>>,
    pub(crate) events: crate::block::EventList,
}

impl Slot {
    pub(crate) fn apply_control(&mut self) -> Result<(), RunError> {
        while let Ok((name, v)) = self.ctrl.try_recv() {
            self.block.set_param(&name, &v).map_err(|m| RunError {
                block: self.id.clone(),
                message: m,
            })?;
        }
        Ok(())
    }

    /// One work call, with panics turned into errors naming the block.
    pub(crate) fn call(&mut self) -> Result<Status, RunError> {
        let Slot {
            block,
            inputs,
            outputs,
            events,
            id,
            ..
        } = self;
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut io = WorkIo::new(inputs, outputs, events);
            block.work(&mut io)
        }));
        match r {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(m)) => Err(RunError {
                block: id.clone(),
                message: m,
            }),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                Err(RunError {
                    block: id.clone(),
                    message: format!("internal error: {msg}"),
                })
            }
        }
    }

    pub(crate) fn flush_events(&mut self, tx: &Sender<Event>) {
        for (kind, fields) in self.events.drain(..) {
            let _ = tx.send(Event {
                block: self.id.clone(),
                kind,
                fields,
            });
        }
    }

    pub(crate) fn available(&self) -> usize {
        self.inputs.iter().map(Input::available).sum()
    }
}

/// Starts a graph whose blocks were made by `Flowgraph::instantiate`.
pub fn start(g: &Flowgraph, blocks: Vec<Box<dyn Block>>, opts: &RunOptions) -> Running {
    let chunk = opts.chunk.max(1);
    let (ev_tx, ev_rx) = unbounded();
    let mut taps_by_name = HashMap::new();
    let mut ctrl_map = HashMap::new();
    let mut slots = Vec::new();
    let mut hints = Vec::new();
    for (node, block) in g.nodes.iter().zip(blocks) {
        let (ctx, crx) = unbounded();
        ctrl_map.insert(node.id.clone(), (node.spec.clone(), ctx));
        let mut taps = Vec::new();
        for (p, port) in node.spec.outputs.iter().enumerate() {
            let tap = Arc::new(TapPoint::default());
            taps_by_name.insert(
                format!("{}.{}", node.id, port.name),
                (node.output_types[p], tap.clone()),
            );
            taps.push(tap);
        }
        hints.push(block.length_hint());
        slots.push(Slot {
            id: node.id.clone(),
            block,
            inputs: node.input_types.iter().map(|t| Input::new(*t)).collect(),
            outputs: node
                .output_types
                .iter()
                .map(|t| Output::new(*t, chunk))
                .collect(),
            ctrl: crx,
            taps,
            events: Vec::new(),
        });
    }
    // A subgraph block's outputs by their outer names too.
    for (name, &(n, p)) in &g.exports {
        if let Some(found) = slots.get(n).and_then(|s| s.taps.get(p)).and_then(|tap| {
            let ty = *g.nodes.get(n)?.output_types.get(p)?;
            Some((ty, tap.clone()))
        }) {
            taps_by_name.insert(name.clone(), found);
        }
    }
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        abort: AtomicBool::new(false),
        produced: (0..slots.len()).map(|_| AtomicU64::new(0)).collect(),
        hints,
    });
    let order =
        crate::flowgraph::topological_order(g).unwrap_or_else(|_| (0..slots.len()).collect());
    let edges: Vec<Link> = g.edges.iter().map(|e| (e.from, e.to)).collect();
    let sh = shared.clone();
    let background = opts.background;
    let join = match opts.scheduler {
        Scheduler::Fused => std::thread::Builder::new()
            .name("modemflow-fused".into())
            .spawn(move || {
                if background {
                    lower_priority();
                }
                crate::fused::run(slots, &edges, &order, chunk, &sh, &ev_tx)
            }),
        // Block threads inherit the scheduler thread's priority.
        Scheduler::Threaded => std::thread::Builder::new()
            .name("modemflow-threaded".into())
            .spawn(move || {
                if background {
                    lower_priority();
                }
                crate::threaded::run(slots, &edges, chunk, &sh, &ev_tx)
            }),
    }
    .ok();
    Running {
        events: ev_rx,
        controller: Controller {
            blocks: Arc::new(ctrl_map),
        },
        taps: taps_by_name,
        shared,
        join,
    }
}

/// Runs a graph to the end, returning every event in the order it came.
pub fn run_to_end(g: &Flowgraph, opts: &RunOptions) -> Result<Vec<Event>, RunError> {
    let blocks = g.instantiate().map_err(|d| RunError {
        block: "(flowgraph)".into(),
        message: d.to_string(),
    })?;
    let r = start(g, blocks, opts);
    let events = r.events().clone();
    let res = r.wait();
    let ev: Vec<Event> = events.try_iter().collect();
    res.map(|_| ev)
}
