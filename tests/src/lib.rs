//! Helpers shared by the cross-crate tests: a registry with the real blocks
//! plus test-only blocks that record what reaches them.

use modemflow_flow::{Block, BlockArgs, BlockSpec, ParamSpec, PortSpec, Registry, Status, WorkIo};
use std::collections::HashMap;
use std::sync::Mutex;

static RECORDED: Mutex<Option<HashMap<String, Vec<f64>>>> = Mutex::new(None);

/// What a `record` block with parameter `key` received, as f64.
pub fn recorded(key: &str) -> Vec<f64> {
    RECORDED
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(key).cloned()))
        .unwrap_or_default()
}

struct Record {
    key: String,
    data: Vec<f64>,
}

impl Block for Record {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let (buf, start) = io.inputs[0].buf();
        let n = buf.len() - start;
        let mut tail = buf.empty_like(n);
        tail.extend_from(buf, start, buf.len());
        self.data.extend(tail.to_f64());
        io.inputs[0].consume(n);
        if io.inputs[0].finished() {
            let mut m = RECORDED.lock().map_err(|_| "poisoned".to_string())?;
            m.get_or_insert_with(HashMap::new)
                .insert(self.key.clone(), std::mem::take(&mut self.data));
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

fn make_record(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
    Ok(Box::new(Record {
        key: a.string("key")?,
        data: Vec::new(),
    }))
}

/// Adds two f32 streams item by item.
struct Add;

impl Block for Add {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0]
            .available()
            .min(io.inputs[1].available())
            .min(io.outputs[0].space());
        let (a, rest) = io.inputs.split_at_mut(1);
        let sum: Vec<f32> = a[0].items::<f32>()[..n]
            .iter()
            .zip(&rest[0].items::<f32>()[..n])
            .map(|(x, y)| x + y)
            .collect();
        io.outputs[0].items::<f32>().extend_from_slice(&sum);
        io.inputs[0].consume(n);
        io.inputs[1].consume(n);
        Ok(Status::Ok)
    }
}

/// A source of 0, 1, 2, … as f32 (cheap, for measuring the framework).
struct Counter(u64);

impl Block for Counter {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.outputs[0].space();
        let out = io.outputs[0].items::<f32>();
        for _ in 0..n {
            out.push(self.0 as f32);
            self.0 += 1;
        }
        Ok(Status::Ok)
    }
}

/// Passes f32 items on `out` and, only while something reads it, a copy on
/// `copy`; at the end its `copies` event says how many items it copied and
/// how many it skipped because nothing read `copy`.
#[derive(Default)]
struct WantedCopy {
    copied: u64,
    skipped: u64,
}

impl Block for WantedCopy {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0]
            .available()
            .min(io.outputs[0].space())
            .min(io.outputs[1].space());
        let items = io.inputs[0].items::<f32>()[..n].to_vec();
        io.outputs[0].items::<f32>().extend_from_slice(&items);
        if io.outputs[1].is_wanted() {
            io.outputs[1].items::<f32>().extend_from_slice(&items);
            self.copied += n as u64;
        } else {
            self.skipped += n as u64;
        }
        io.inputs[0].consume(n);
        if io.inputs[0].finished() && io.inputs[0].available() == 0 {
            io.emit(
                "copies",
                serde_json::json!({"copied": self.copied, "skipped": self.skipped}),
            );
            return Ok(Status::Done);
        }
        Ok(Status::Ok)
    }
}

/// Plays back, as f32, what a `record` block with parameter `key` kept
/// (for timing a receiver alone on a line signal made beforehand).
struct Replay {
    data: Vec<f32>,
    at: usize,
}

impl Block for Replay {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.outputs[0].space().min(self.data.len() - self.at);
        io.outputs[0]
            .items::<f32>()
            .extend_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(if self.at == self.data.len() {
            Status::Done
        } else {
            Status::Ok
        })
    }
}

fn make_replay(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
    let data = recorded(&a.string("key")?)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    Ok(Box::new(Replay { data, at: 0 }))
}

/// The real registry plus `record` (a sink that keeps what it gets) and
/// `add_f32` (for feedback-loop tests), `counter_f32`, `wanted_copy` and
/// `replay_f32` (plays back a recording).
pub fn test_registry() -> Registry {
    let mut r = modemflow_blocks::registry();
    r.register(
        BlockSpec::new(
            "record",
            "Test",
            "Keeps every item for the test to read",
            make_record,
        )
        .param(ParamSpec::string("key", "Name to read the items back by"))
        .input(PortSpec::generic("in", 'a', "Any stream")),
    );
    r.register(
        BlockSpec::new(
            "replay_f32",
            "Test",
            "Plays back what a `record` block kept",
            make_replay,
        )
        .param(ParamSpec::string("key", "Name the items were recorded by"))
        .output(PortSpec::new("out", modemflow_flow::ItemType::F32, "")),
    );
    r.register(
        BlockSpec::new("add_f32", "Test", "Sum of two f32 streams", |_| {
            Ok(Box::new(Add))
        })
        .input(PortSpec::new("a", modemflow_flow::ItemType::F32, ""))
        .input(PortSpec::new("b", modemflow_flow::ItemType::F32, ""))
        .output(PortSpec::new("out", modemflow_flow::ItemType::F32, "")),
    );
    r.register(
        BlockSpec::new("counter_f32", "Test", "0, 1, 2, … as f32", |_| {
            Ok(Box::new(Counter(0)))
        })
        .output(PortSpec::new("out", modemflow_flow::ItemType::F32, "")),
    );
    r.register(
        BlockSpec::new(
            "wanted_copy",
            "Test",
            "f32 through, and a copy only while something reads it",
            |_| Ok(Box::new(WantedCopy::default())),
        )
        .input(PortSpec::new("in", modemflow_flow::ItemType::F32, ""))
        .output(PortSpec::new("out", modemflow_flow::ItemType::F32, ""))
        .output(PortSpec::new("copy", modemflow_flow::ItemType::F32, "").optional()),
    );
    r
}

/// A deterministic graph with two independent chains (noise, FIR and G.711
/// into a `record` block named by `key`; PRBS, scrambler, bit errors and BER),
/// used to compare schedulers and backends item for item.
pub const MIXED_GRAPH: &str = "\
variables:
  n: 20000
  key: x
blocks:
  - {id: tone, type: tone_source, params: {frequency: 1234, level: -13}}
  - {id: noise, type: awgn, params: {level: -30, seed: 5}}
  - {id: limit, type: head, params: {count: n}}
  - {id: fir, type: fir_filter, params: {cutoff: 2000, num_taps: 31}}
  - {id: pcm, type: f32_to_i16}
  - {id: enc, type: g711_encode, params: {law: a}}
  - {id: dec, type: g711_decode, params: {law: a}}
  - {id: rec, type: record, params: {key: key}}
  - {id: src, type: prbs_source, params: {order: 15, seed: 3}}
  - {id: blimit, type: head, params: {count: n}}
  - {id: scr, type: scrambler, params: {polynomial: gpa}}
  - {id: err, type: bit_error, params: {probability: 0.001, seed: 9}}
  - {id: descr, type: descrambler, params: {polynomial: gpa}}
  - {id: ber, type: ber_sink, params: {order: 15}}
connections:
  - tone.out -> noise.in
  - noise.out -> limit.in
  - limit.out -> fir.in
  - fir.out -> pcm.in
  - pcm.out -> enc.in
  - enc.out -> dec.in
  - dec.out -> rec.in
  - src.out -> blimit.in
  - blimit.out -> scr.in
  - scr.out -> err.in
  - err.out -> descr.in
  - descr.out -> ber.in
";

/// `f` of every job, run on every core at once (for the examples' sweeps),
/// the results in the jobs' order.
pub fn on_every_core<J: Sync, R: Send>(jobs: &[J], f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        mine.push((i, f(job)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a job panicked"))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// The workspace root, for reading shipped graphs.
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default()
}
