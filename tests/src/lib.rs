//! Helpers shared by the cross-crate tests: a registry with the real blocks
//! plus test-only blocks that record what reaches them.

use modemflow_flow::{
    Block, BlockArgs, BlockSpec, Buf, ParamSpec, PortSpec, Registry, Status, WorkIo,
};
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

/// The real registry plus `record` (a sink that keeps what it gets) and
/// `add_f32` (for feedback-loop tests).
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
    r
}

/// Builds a chunk of f32 items (for feeding blocks by hand).
pub fn f32_buf(v: &[f32]) -> Buf {
    Buf::F32(v.to_vec())
}

/// The workspace root, for reading shipped graphs.
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default()
}
