//! The block model: what a block sees of its streams when the scheduler calls it.
//!
//! A block is called repeatedly with its inputs' available items and empty-ish
//! output buffers. It consumes what it can use (whole frames if it works on
//! frames), appends what it produces, and may emit events. Both schedulers and
//! the FutureSDR adapter drive blocks through this one interface, so a block
//! must give the same output however its input is chunked.

use crate::item::{Buf, Item, ItemType};
use crate::value::Value;
use serde_json::{Map, Value as Json};

/// What a work call reports besides the items it moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Call again when there is new input or output space.
    Ok,
    /// The block has finished: its outputs end here.
    Done,
}

/// Consumed items an input keeps before it moves the unread ones to the
/// front (unless nothing is unread: then forgetting them is free).
const COMPACT_AT: usize = 1024;

/// One input port as seen by a block during a work call.
#[derive(Debug)]
pub struct Input {
    pub(crate) buf: Buf,
    pub(crate) read: usize,
    pub(crate) eos: bool,
}

impl Input {
    pub fn new(ty: ItemType) -> Self {
        Input {
            buf: ty.new_buf(0),
            read: 0,
            eos: false,
        }
    }

    /// The items available to read.
    ///
    /// Asking for the wrong Rust type is a bug in the block, not bad input; the
    /// schedulers catch the resulting panic and report it with the block id.
    pub fn items<T: Item>(&self) -> &[T] {
        match T::slice(&self.buf) {
            Some(v) => &v[self.read..],
            None => panic!(
                "block read its input as {} but it carries another type",
                T::NAME
            ),
        }
    }

    /// The available items as a type-erased buffer and the range that is unread.
    pub fn buf(&self) -> (&Buf, usize) {
        (&self.buf, self.read)
    }

    pub fn available(&self) -> usize {
        self.buf.len() - self.read
    }

    /// Marks `n` items as used; they will not be shown again.
    pub fn consume(&mut self, n: usize) {
        self.read = self.read.saturating_add(n).min(self.buf.len());
    }

    /// True when no items beyond those available will ever arrive.
    pub fn is_eos(&self) -> bool {
        self.eos
    }

    /// True when the stream has ended and every item has been consumed.
    pub fn finished(&self) -> bool {
        self.eos && self.available() == 0
    }

    /// Appends items (used by schedulers and adapters).
    pub fn push(&mut self, chunk: &Buf) {
        self.compact();
        self.buf.extend_from(chunk, 0, chunk.len());
    }

    /// Takes a whole chunk, without copying when nothing is left unread.
    pub fn push_owned(&mut self, chunk: Buf) -> Buf {
        if self.available() == 0 {
            let mut old = std::mem::replace(&mut self.buf, chunk);
            old.clear();
            self.read = 0;
            old
        } else {
            self.push(&chunk);
            let mut c = chunk;
            c.clear();
            c
        }
    }

    pub fn set_eos(&mut self) {
        self.eos = true;
    }

    /// Forgets consumed items so the buffer does not grow with the run:
    /// once they are at least as many as those left, and at least
    /// [`COMPACT_AT`], so that each item is moved at most once on average and
    /// small takes do not each cost a move (a block that takes a little of a
    /// long queue at a time would otherwise have the rest moved on every call).
    pub fn compact(&mut self) {
        if self.read >= COMPACT_AT.max(self.available()) || self.available() == 0 && self.read > 0 {
            self.buf.drop_front(self.read);
            self.read = 0;
        }
    }
}

/// Whether a block with these inputs, having just made no progress, can never
/// make any again: every input has ended, or one has ended for good and the
/// others hold data the block cannot use without it (how a feedback loop
/// closes at the end of a stream). Schedulers and adapters finish it then.
pub fn inputs_exhausted(inputs: &[Input]) -> bool {
    !inputs.is_empty()
        && (inputs.iter().all(Input::is_eos)
            || (inputs.iter().any(Input::finished)
                && inputs.iter().all(|x| x.finished() || x.available() > 0)))
}

/// One output port as seen by a block during a work call.
#[derive(Debug)]
pub struct Output {
    pub(crate) buf: Buf,
    pub(crate) limit: usize,
    pub(crate) wanted: bool,
}

impl Output {
    pub fn new(ty: ItemType, capacity: usize) -> Self {
        Output {
            buf: ty.new_buf(capacity),
            limit: capacity,
            wanted: true,
        }
    }

    /// The buffer to append produced items to.
    pub fn items<T: Item>(&mut self) -> &mut Vec<T> {
        match T::vec_mut(&mut self.buf) {
            Some(v) => v,
            None => panic!(
                "block wrote its output as {} but it carries another type",
                T::NAME
            ),
        }
    }

    /// Appends `n` zeroed items and returns them for a kernel to fill.
    pub fn append<T: Item>(&mut self, n: usize) -> &mut [T] {
        let v = self.items::<T>();
        let start = v.len();
        v.resize(start + n, T::default());
        &mut v[start..]
    }

    pub fn buf_mut(&mut self) -> &mut Buf {
        &mut self.buf
    }

    /// How many more items the block should append in this call. A block that
    /// works on frames may exceed it by less than one frame.
    pub fn space(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Whether anything reads this output: a connected block still running,
    /// or a probe. An optional output nobody reads may be left empty, which
    /// saves a block the work of producing what would be thrown away; it
    /// becomes wanted again as soon as a probe attaches.
    pub fn is_wanted(&self) -> bool {
        self.wanted
    }

    pub fn set_wanted(&mut self, wanted: bool) {
        self.wanted = wanted;
    }

    /// Hands the produced items to the scheduler, leaving an empty buffer.
    pub fn take(&mut self, replacement: Buf) -> Buf {
        std::mem::replace(&mut self.buf, replacement)
    }
}

/// An event a block emits: a kind (`"ber"`, `"cm"`, …) and JSON fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub block: String,
    pub kind: String,
    pub fields: Map<String, Json>,
}

impl Event {
    /// The event as one JSON object: `{"block":…, "event":…, fields…}`.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("block".into(), Json::String(self.block.clone()));
        m.insert("event".into(), Json::String(self.kind.clone()));
        for (k, v) in &self.fields {
            m.insert(k.clone(), v.clone());
        }
        Json::Object(m)
    }
}

/// Events emitted during work calls: kind and fields, before the runtime adds
/// the block id.
pub type EventList = Vec<(String, Map<String, Json>)>;

/// Everything a block touches during one work call.
pub struct WorkIo<'a> {
    pub inputs: &'a mut [Input],
    pub outputs: &'a mut [Output],
    pub(crate) events: &'a mut EventList,
}

impl<'a> WorkIo<'a> {
    pub fn new(
        inputs: &'a mut [Input],
        outputs: &'a mut [Output],
        events: &'a mut EventList,
    ) -> Self {
        WorkIo {
            inputs,
            outputs,
            events,
        }
    }

    /// Emits an event; the runtime adds the block id.
    pub fn emit(&mut self, kind: &str, fields: Json) {
        let fields = match fields {
            Json::Object(m) => m,
            Json::Null => Map::new(),
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        self.events.push((kind.to_string(), fields));
    }

    /// The usual work of a block with one input and one output at the same
    /// rate: hands `kernel` as many input items as there is output space, and
    /// an output slice of the same length. Returns how many it processed.
    pub fn map<I: Item, O: Item>(&mut self, kernel: impl FnOnce(&[I], &mut [O])) -> usize {
        let n = self.inputs[0].available().min(self.outputs[0].space());
        let out = self.outputs[0].append::<O>(n);
        kernel(&self.inputs[0].items::<I>()[..n], out);
        self.inputs[0].consume(n);
        n
    }

    /// True when every input has ended and been consumed.
    pub fn inputs_finished(&self) -> bool {
        self.inputs.iter().all(Input::finished)
    }
}

/// A streaming block. Implementations stay thin: they move items between the
/// runtime's buffers and a DSP kernel.
pub trait Block: Send {
    /// Consumes available input, appends output, and says whether it is done.
    /// An `Err` ends the run with the message, reported with the block id.
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String>;

    /// Changes a parameter marked `live` in the registry while running.
    /// The value has already been checked against the parameter's spec.
    fn set_param(&mut self, name: &str, _value: &Value) -> Result<(), String> {
        Err(format!(
            "parameter `{name}` cannot be changed while running"
        ))
    }

    /// How many items the block will put on its first output in all, when it
    /// knows (a `head`, a file source); drives the progress bar.
    fn length_hint(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(v: &[f32]) -> Buf {
        Buf::F32(v.to_vec())
    }

    #[test]
    fn inputs_keep_unread_items_in_order_and_stay_bounded() {
        let mut inp = Input::new(ItemType::F32);
        let mut next = 0.0f32;
        let mut want = 0.0f32;
        for round in 0..2000 {
            let c: Vec<f32> = (0..7)
                .map(|_| {
                    next += 1.0;
                    next
                })
                .collect();
            inp.push(&chunk(&c));
            // Take fewer than arrive for a while, then catch up.
            let take = if round < 1000 { 5 } else { 9 }.min(inp.available());
            for &v in &inp.items::<f32>()[..take] {
                want += 1.0;
                assert_eq!(v, want);
            }
            inp.consume(take);
            inp.compact();
            // Consumed items are at most as many as the unread ones, or
            // fewer than COMPACT_AT (plus one chunk).
            assert!(
                inp.buf.len() <= inp.available() + COMPACT_AT.max(inp.available()) + 7,
                "round {round}"
            );
        }
        // Consuming everything, however much is asked for, never overflows.
        inp.consume(3);
        inp.consume(usize::MAX);
        assert_eq!(inp.available(), 0);
        inp.compact();
        assert_eq!(inp.buf.len(), 0);
    }
}
