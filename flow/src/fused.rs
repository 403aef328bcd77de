//! The fused scheduler: every block in topological order on one thread.
//!
//! Deterministic, and cheap: a chunk moves to its only consumer by swapping
//! buffers, not by copying. Feedback through a block with a delay works
//! because passes repeat until nothing can move.

use crate::block::{inputs_exhausted, Event, Status};
use crate::item::Buf;
use crate::runtime::{Link, RunError, Shared, Slot};
use crossbeam_channel::Sender;
use std::sync::atomic::Ordering;

struct State {
    done: bool,
    /// For each output port, the consumers (node, input port).
    consumers: Vec<Vec<(usize, usize)>>,
}

/// Items a queue may hold while the scheduler is relaxed: far more than any
/// block needs at once (an equalizer's training is some thousands).
const RELAXED_CAP: usize = 1 << 20;

pub(crate) fn run(
    mut slots: Vec<Slot>,
    edges: &[Link],
    order: &[usize],
    chunk: usize,
    shared: &Shared,
    events: &Sender<Event>,
) -> Result<(), RunError> {
    let mut st: Vec<State> = slots
        .iter()
        .map(|s| State {
            done: false,
            consumers: vec![Vec::new(); s.outputs.len()],
        })
        .collect();
    let mut fed = vec![Vec::new(); slots.len()];
    for &((fnode, fport), (tnode, tport)) in edges {
        st[fnode].consumers[fport].push((tnode, tport));
        fed[tnode].push(tport);
    }
    // An optional input nothing feeds has ended before it began (as in the
    // threaded scheduler).
    for (i, slot) in slots.iter_mut().enumerate() {
        for (p, input) in slot.inputs.iter_mut().enumerate() {
            if !fed[i].contains(&p) {
                input.set_eos();
            }
        }
    }
    let mut relaxed = false;
    loop {
        if shared.abort.load(Ordering::Relaxed) {
            return Ok(());
        }
        let stopping = shared.stop.load(Ordering::Relaxed);
        let mut progress = false;
        for &i in order {
            if st[i].done {
                continue;
            }
            let is_source = slots[i].inputs.is_empty();
            if stopping && is_source {
                finish(i, &mut slots, &mut st);
                progress = true;
                continue;
            }
            // Downstream gone: nothing more is wanted from this block.
            let has_outputs = !slots[i].outputs.is_empty();
            if has_outputs && st[i].consumers.iter().flatten().all(|&(c, _)| st[c].done) {
                finish(i, &mut slots, &mut st);
                progress = true;
                continue;
            }
            // Back-pressure: produce only while consumers hold less than a chunk.
            let mut any_space = !has_outputs;
            for p in 0..slots[i].outputs.len() {
                let buffered = st[i].consumers[p]
                    .iter()
                    .filter(|&&(c, _)| !st[c].done)
                    .map(|&(c, cp)| slots[c].inputs[cp].available())
                    .max()
                    .unwrap_or(0);
                // Relaxed (after a round without progress): a block that needs
                // more than a chunk of input may get it, up to a cap, so that
                // a graph stuck on a feedback input stalls with an error
                // instead of filling memory.
                let limit = if buffered < chunk || (relaxed && buffered < RELAXED_CAP) {
                    chunk
                } else {
                    0
                };
                slots[i].outputs[p].set_limit(limit);
                let read = st[i].consumers[p].iter().any(|&(c, _)| !st[c].done)
                    || slots[i].taps[p].is_active();
                slots[i].outputs[p].set_wanted(read);
                any_space |= limit > 0;
            }
            if !any_space {
                continue;
            }
            slots[i].apply_control()?;
            let before = slots[i].available();
            let status = slots[i].call()?;
            slots[i].flush_events(events);
            let consumed = slots[i].available() != before;
            let mut produced = false;
            for p in 0..slots[i].outputs.len() {
                let n = slots[i].outputs[p].len();
                if n == 0 {
                    continue;
                }
                produced = true;
                // Only blocks that know the run's length drive the progress bar;
                // the others skip the shared counter.
                if p == 0 && shared.hints[i].is_some() {
                    shared.produced[i].fetch_add(n as u64, Ordering::Relaxed);
                }
                deliver(i, p, &mut slots, &st);
            }
            for inp in &mut slots[i].inputs {
                inp.compact();
            }
            let stuck = !consumed && !produced;
            if status == Status::Done || (stuck && inputs_exhausted(&slots[i].inputs)) {
                finish(i, &mut slots, &mut st);
                progress = true;
            } else if consumed || produced {
                progress = true;
            }
        }
        if st.iter().all(|s| s.done) {
            return Ok(());
        }
        if progress {
            relaxed = false;
        } else if !relaxed {
            relaxed = true;
        } else {
            let waiting: Vec<&str> = (0..slots.len())
                .filter(|&i| !st[i].done)
                .map(|i| slots[i].id.as_str())
                .collect();
            return Err(RunError {
                block: waiting.first().copied().unwrap_or("(graph)").to_string(),
                message: format!(
                    "the graph stalled: {} cannot make progress (a feedback loop needs enough delay to fill a block's frame)",
                    waiting.join(", ")
                ),
            });
        }
    }
}

/// Moves output `p` of node `i` to its consumers: the last one takes the
/// buffer itself, the others get copies.
fn deliver(i: usize, p: usize, slots: &mut [Slot], st: &[State]) {
    let out = slots[i].outputs[p].take(Buf::U8(Vec::new()));
    slots[i].taps[p].offer(&out);
    let consumers = &st[i].consumers[p];
    let last = consumers.iter().rposition(|&(c, _)| !st[c].done);
    let spare = match last {
        None => {
            let mut b = out;
            b.clear();
            b
        }
        Some(k) => {
            for &(c, cp) in &consumers[..k] {
                if !st[c].done {
                    slots[c].inputs[cp].push(&out);
                }
            }
            let (lc, lp) = consumers[k];
            slots[lc].inputs[lp].push_owned(out)
        }
    };
    slots[i].outputs[p].take(spare);
}

fn finish(i: usize, slots: &mut [Slot], st: &mut [State]) {
    st[i].done = true;
    for p in 0..st[i].consumers.len() {
        for k in 0..st[i].consumers[p].len() {
            let (c, cp) = st[i].consumers[p][k];
            slots[c].inputs[cp].set_eos();
        }
    }
    for inp in &mut slots[i].inputs {
        inp.consume(usize::MAX);
        inp.compact();
    }
}
