//! The FutureSDR backend: one generic adapter runs any modemflow block as a
//! FutureSDR kernel, so a modemflow flowgraph runs inside a FutureSDR
//! flowgraph with the same results as on modemflow's own schedulers.
//!
//! FutureSDR ports are typed by Rust type, so the adapter declares one vector
//! of ports per item representation (`u8` for bit and octet, `i16`, `f32`,
//! `c32`) and a modemflow port `k` of type `f32` becomes, say, `in_f32[j]`.

use futuresdr::runtime::dev::prelude::*;
use modemflow_flow::{Buf, Event, EventList, Flowgraph, Input, ItemType, Output, Status};
use num_complex::Complex32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Items a modemflow block may produce per work call inside FutureSDR.
const CHUNK: usize = 4096;

/// Which vector of FutureSDR ports a modemflow port lives in, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    U8,
    I16,
    F32,
    C32,
}

impl Lane {
    fn of(t: ItemType) -> Lane {
        match t {
            ItemType::Bit | ItemType::Octet => Lane::U8,
            ItemType::I16 => Lane::I16,
            ItemType::F32 => Lane::F32,
            ItemType::C32 => Lane::C32,
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            Lane::U8 => "u8",
            Lane::I16 => "i16",
            Lane::F32 => "f32",
            Lane::C32 => "c32",
        }
    }
}

/// Assigns each port of a list its lane and its index within the lane.
fn lanes(types: &[ItemType]) -> Vec<(Lane, usize)> {
    let mut counts = [0usize; 4];
    types
        .iter()
        .map(|t| {
            let lane = Lane::of(*t);
            let k = lane as usize;
            counts[k] += 1;
            (lane, counts[k] - 1)
        })
        .collect()
}

/// A failure inside FutureSDR, with the modemflow block id.
#[derive(Debug, Clone)]
pub struct BackendError {
    pub block: String,
    pub message: String,
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "block `{}`: {}", self.block, self.message)
    }
}

impl std::error::Error for BackendError {}

#[derive(Default)]
struct Collected {
    events: Vec<Event>,
    error: Option<BackendError>,
}

/// Holds every adapter until all of the flowgraph's adapters are initialised.
///
/// FutureSDR 0.0.40 lets a block work as soon as its own `Initialize` has
/// arrived, while the runtime is still initialising the blocks after it. A
/// block that finishes in that window sends its end-of-stream message to a
/// neighbour still in its init phase, which drops the message, and the
/// flowgraph never ends. The runtime notifies every block once all are
/// initialised, so an adapter that waits here is woken at the right time.
struct StartGate {
    blocks: usize,
    initialised: AtomicUsize,
}

impl StartGate {
    fn arrive(&self) {
        self.initialised.fetch_add(1, Ordering::AcqRel);
    }
    fn is_open(&self) -> bool {
        self.initialised.load(Ordering::Acquire) >= self.blocks
    }
}

/// A modemflow block running as a FutureSDR kernel.
#[derive(Block)]
pub struct Adapter {
    #[input]
    in_u8: Vec<DefaultCpuReader<u8>>,
    #[input]
    in_i16: Vec<DefaultCpuReader<i16>>,
    #[input]
    in_f32: Vec<DefaultCpuReader<f32>>,
    #[input]
    in_c32: Vec<DefaultCpuReader<Complex32>>,
    #[output]
    out_u8: Vec<DefaultCpuWriter<u8>>,
    #[output]
    out_i16: Vec<DefaultCpuWriter<i16>>,
    #[output]
    out_f32: Vec<DefaultCpuWriter<f32>>,
    #[output]
    out_c32: Vec<DefaultCpuWriter<Complex32>>,
    id: String,
    block: Box<dyn modemflow_flow::Block>,
    inputs: Vec<Input>,
    outputs: Vec<Output>,
    in_lanes: Vec<(Lane, usize)>,
    out_lanes: Vec<(Lane, usize)>,
    /// Produced items FutureSDR had no room for yet, per output.
    pending: Vec<Buf>,
    events: EventList,
    done: bool,
    collected: Arc<Mutex<Collected>>,
    gate: Arc<StartGate>,
}

fn count(l: &[(Lane, usize)], lane: Lane) -> usize {
    l.iter().filter(|(x, _)| *x == lane).count()
}

impl Adapter {
    fn new(
        id: &str,
        block: Box<dyn modemflow_flow::Block>,
        in_types: &[ItemType],
        out_types: &[ItemType],
        collected: Arc<Mutex<Collected>>,
        gate: Arc<StartGate>,
    ) -> Self {
        let in_lanes = lanes(in_types);
        let out_lanes = lanes(out_types);
        Adapter {
            in_u8: (0..count(&in_lanes, Lane::U8))
                .map(|_| Default::default())
                .collect(),
            in_i16: (0..count(&in_lanes, Lane::I16))
                .map(|_| Default::default())
                .collect(),
            in_f32: (0..count(&in_lanes, Lane::F32))
                .map(|_| Default::default())
                .collect(),
            in_c32: (0..count(&in_lanes, Lane::C32))
                .map(|_| Default::default())
                .collect(),
            out_u8: (0..count(&out_lanes, Lane::U8))
                .map(|_| Default::default())
                .collect(),
            out_i16: (0..count(&out_lanes, Lane::I16))
                .map(|_| Default::default())
                .collect(),
            out_f32: (0..count(&out_lanes, Lane::F32))
                .map(|_| Default::default())
                .collect(),
            out_c32: (0..count(&out_lanes, Lane::C32))
                .map(|_| Default::default())
                .collect(),
            id: id.to_string(),
            block,
            inputs: in_types.iter().map(|t| Input::new(*t)).collect(),
            outputs: out_types.iter().map(|t| Output::new(*t, CHUNK)).collect(),
            pending: out_types.iter().map(|t| t.new_buf(0)).collect(),
            in_lanes,
            out_lanes,
            events: Vec::new(),
            done: false,
            collected,
            gate,
        }
    }

    /// Moves everything FutureSDR has for input `i` into the block's input.
    fn pull(&mut self, i: usize) {
        let (lane, k) = self.in_lanes[i];
        macro_rules! take {
            ($readers:expr, $wrap:expr) => {{
                let r = &mut $readers[k];
                let s = r.slice();
                let n = s.len();
                if n > 0 {
                    self.inputs[i].push(&$wrap(s.to_vec()));
                    r.consume(n);
                }
                if r.finished() && r.slice().is_empty() {
                    self.inputs[i].set_eos();
                }
            }};
        }
        match lane {
            Lane::U8 => take!(self.in_u8, Buf::U8),
            Lane::I16 => take!(self.in_i16, Buf::I16),
            Lane::F32 => take!(self.in_f32, Buf::F32),
            Lane::C32 => take!(self.in_c32, Buf::C32),
        }
    }

    /// Writes as much of output `o`'s pending items as FutureSDR has room for;
    /// true when nothing is left pending.
    fn push(&mut self, o: usize) -> bool {
        let (lane, k) = self.out_lanes[o];
        macro_rules! give {
            ($writers:expr, $variant:path) => {{
                let w = &mut $writers[k];
                if let $variant(p) = &mut self.pending[o] {
                    let s = w.slice();
                    let n = s.len().min(p.len());
                    s[..n].copy_from_slice(&p[..n]);
                    w.produce(n);
                    p.drain(..n);
                    p.is_empty()
                } else {
                    true
                }
            }};
        }
        match lane {
            Lane::U8 => give!(self.out_u8, Buf::U8),
            Lane::I16 => give!(self.out_i16, Buf::I16),
            Lane::F32 => give!(self.out_f32, Buf::F32),
            Lane::C32 => give!(self.out_c32, Buf::C32),
        }
    }

    fn fail(&self, message: String) -> anyhow::Error {
        let e = BackendError {
            block: self.id.clone(),
            message,
        };
        if let Ok(mut c) = self.collected.lock() {
            c.error.get_or_insert(e.clone());
        }
        anyhow::anyhow!(e)
    }
}

impl Kernel for Adapter {
    async fn init(
        &mut self,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> futuresdr::runtime::Result<()> {
        self.gate.arrive();
        Ok(())
    }

    async fn work(
        &mut self,
        io: &mut WorkIo,
        _mo: &mut MessageOutputs,
        _meta: &mut BlockMeta,
    ) -> futuresdr::runtime::Result<()> {
        if !self.gate.is_open() {
            // Not called again until the runtime's start notification.
            return Ok(());
        }
        for i in 0..self.inputs.len() {
            self.pull(i);
        }
        let mut flushed = true;
        for o in 0..self.outputs.len() {
            flushed &= self.push(o);
        }
        if !flushed {
            // Downstream is full; FutureSDR calls again when it has read.
            return Ok(());
        }
        if self.done {
            io.finished = true;
            return Ok(());
        }
        let before: usize = self.inputs.iter().map(Input::available).sum();
        let status = {
            let mut wio =
                modemflow_flow::WorkIo::new(&mut self.inputs, &mut self.outputs, &mut self.events);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.block.work(&mut wio)
            }));
            match r {
                Ok(Ok(s)) => s,
                Ok(Err(m)) => return Err(self.fail(m)),
                Err(_) => return Err(self.fail("internal error (panic)".into())),
            }
        };
        if !self.events.is_empty() {
            if let Ok(mut c) = self.collected.lock() {
                for (kind, fields) in self.events.drain(..) {
                    c.events.push(Event {
                        block: self.id.clone(),
                        kind,
                        fields,
                    });
                }
            }
        }
        let consumed = self.inputs.iter().map(Input::available).sum::<usize>() != before;
        let mut produced = false;
        for o in 0..self.outputs.len() {
            if self.outputs[o].is_empty() {
                continue;
            }
            produced = true;
            let fresh = self.outputs[o].buf_mut().empty_like(CHUNK);
            let b = self.outputs[o].take(fresh);
            self.pending[o].extend_from(&b, 0, b.len());
            self.push(o);
        }
        for inp in &mut self.inputs {
            inp.compact();
        }
        let is_source = self.inputs.is_empty();
        let stuck = !consumed && !produced;
        if status == Status::Done || (stuck && modemflow_flow::inputs_exhausted(&self.inputs)) {
            self.done = true;
        }
        if self.done && self.pending.iter().all(Buf::is_empty) {
            io.finished = true;
        } else if consumed || produced || is_source || self.done {
            io.call_again = true;
        }
        Ok(())
    }
}

fn port(prefix: &str, (lane, k): (Lane, usize)) -> String {
    format!("{prefix}_{}[{k}]", lane.suffix())
}

/// Runs a validated modemflow flowgraph on FutureSDR's runtime and returns
/// the events in the order they were emitted.
pub fn run(
    g: &Flowgraph,
    blocks: Vec<Box<dyn modemflow_flow::Block>>,
) -> Result<Vec<Event>, BackendError> {
    let collected = Arc::new(Mutex::new(Collected::default()));
    let gate = Arc::new(StartGate {
        blocks: g.nodes.len(),
        initialised: AtomicUsize::new(0),
    });
    let mut fg = futuresdr::runtime::Flowgraph::new();
    let mut ids = Vec::new();
    for (node, block) in g.nodes.iter().zip(blocks) {
        let a = Adapter::new(
            &node.id,
            block,
            &node.input_types,
            &node.output_types,
            collected.clone(),
            gate.clone(),
        );
        ids.push(fg.add(a).id());
    }
    let setup = |e: futuresdr::runtime::Error| BackendError {
        block: "(futuresdr)".into(),
        message: e.to_string(),
    };
    for e in &g.edges {
        let out_l = lanes(&g.nodes[e.from.0].output_types)[e.from.1];
        let in_l = lanes(&g.nodes[e.to.0].input_types)[e.to.1];
        fg.stream_dyn(
            ids[e.from.0],
            port("out", out_l).as_str(),
            ids[e.to.0],
            port("in", in_l).as_str(),
        )
        .map_err(setup)?;
    }
    // Events go to stdout as JSON lines, so FutureSDR's own log must stay off
    // it; its control web server is not part of a modemflow run.
    futuresdr::runtime::config::set("log_level", "off");
    futuresdr::runtime::config::set("ctrlport_enable", false);
    let result = futuresdr::runtime::Runtime::new().run(fg);
    let mut c = collected.lock().map_err(|_| BackendError {
        block: "(futuresdr)".into(),
        message: "event store poisoned".into(),
    })?;
    if let Some(e) = c.error.take() {
        return Err(e);
    }
    result.map_err(setup)?;
    Ok(std::mem::take(&mut c.events))
}
