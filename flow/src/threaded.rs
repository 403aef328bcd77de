//! The threaded scheduler: one thread per block, bounded channels between
//! them, for live runs with probes and parameter changes.

use crate::block::{inputs_exhausted, Event, Status};
use crate::item::Buf;
use crate::runtime::{Link, RunError, Shared, Slot};
use crossbeam_channel::{bounded, Receiver, Select, SendTimeoutError, Sender, TrySendError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Chunks a connection holds before its producer waits.
const QUEUE: usize = 16;
/// Times a waiting block yields its core before it parks.
const SPINS: usize = 16;
/// How often a waiting block looks at the stop and abort flags.
const POLL: Duration = Duration::from_millis(50);

enum Msg {
    Chunk(Buf),
    Eos,
}

pub(crate) fn run(
    slots: Vec<Slot>,
    edges: &[Link],
    chunk: usize,
    shared: &Shared,
    events: &Sender<Event>,
) -> Result<(), RunError> {
    let mut senders: Vec<Vec<Vec<Sender<Msg>>>> = slots
        .iter()
        .map(|s| vec![Vec::new(); s.outputs.len()])
        .collect();
    let mut receivers: Vec<Vec<Option<Receiver<Msg>>>> = slots
        .iter()
        .map(|s| (0..s.inputs.len()).map(|_| None).collect())
        .collect();
    // Emptied buffers travel back to their producer, so a steady run does not
    // allocate: one return queue per output, shared by its consumers.
    let returns: Vec<Vec<(Sender<Buf>, Receiver<Buf>)>> = slots
        .iter()
        .map(|s| (0..s.outputs.len()).map(|_| bounded(2 * QUEUE)).collect())
        .collect();
    // Per block and output, the blocks it feeds: a block whose every
    // consumer has finished stops, even if it never sends again (a sender
    // only learns of a finished consumer when it sends).
    let mut consumers: Vec<Vec<Vec<usize>>> = slots
        .iter()
        .map(|s| vec![Vec::new(); s.outputs.len()])
        .collect();
    let finished: Vec<AtomicBool> = slots.iter().map(|_| AtomicBool::new(false)).collect();
    let mut give_back: Vec<Vec<Option<Sender<Buf>>>> = slots
        .iter()
        .map(|s| (0..s.inputs.len()).map(|_| None).collect())
        .collect();
    for &((f, fp), (t, tp)) in edges {
        let (tx, rx) = bounded(QUEUE);
        senders[f][fp].push(tx);
        consumers[f][fp].push(t);
        receivers[t][tp] = Some(rx);
        give_back[t][tp] = Some(returns[f][fp].0.clone());
    }
    let spares: Vec<Vec<Receiver<Buf>>> = returns
        .into_iter()
        .map(|v| v.into_iter().map(|(_, rx)| rx).collect())
        .collect();
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let per_block = senders
            .into_iter()
            .zip(receivers)
            .zip(give_back)
            .zip(spares)
            .zip(consumers);
        for (i, (slot, ((((outs, ins), back), spare), consumers))) in
            slots.into_iter().zip(per_block).enumerate()
        {
            let first_error = &first_error;
            let finished = &finished;
            let name = format!("mf-{}", slot.id);
            let links = Links {
                outs,
                ins,
                back,
                spare,
                consumers,
            };
            let _ = std::thread::Builder::new()
                .name(name)
                .spawn_scoped(scope, move || {
                    let result = block_thread(i, slot, links, chunk, shared, events, finished);
                    finished[i].store(true, Ordering::Release);
                    if let Err(e) = result {
                        shared.abort.store(true, Ordering::Relaxed);
                        if let Ok(mut fe) = first_error.lock() {
                            fe.get_or_insert(e);
                        }
                    }
                });
        }
    });
    match first_error.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One block's connections in the threaded scheduler.
struct Links {
    /// Per output, one sender per consumer.
    outs: Vec<Vec<Sender<Msg>>>,
    /// Per input, its producer (none if unconnected).
    ins: Vec<Option<Receiver<Msg>>>,
    /// Per input, where its emptied buffers go back to.
    back: Vec<Option<Sender<Buf>>>,
    /// Per output, emptied buffers coming back for reuse.
    spare: Vec<Receiver<Buf>>,
    /// Per output, the blocks it feeds.
    consumers: Vec<Vec<usize>>,
}

fn block_thread(
    i: usize,
    mut slot: Slot,
    links: Links,
    chunk: usize,
    shared: &Shared,
    events: &Sender<Event>,
    finished: &[AtomicBool],
) -> Result<(), RunError> {
    let Links {
        mut outs,
        ins,
        back,
        spare,
        consumers,
    } = links;
    let recycle = |p: usize, old: Buf| {
        if let Some(b) = &back[p] {
            let _ = b.try_send(old);
        }
    };
    let is_source = slot.inputs.is_empty();
    let has_outputs = !slot.outputs.is_empty();
    for (p, r) in ins.iter().enumerate() {
        if r.is_none() {
            slot.inputs[p].set_eos();
        }
    }
    loop {
        if shared.abort.load(Ordering::Relaxed) {
            return Ok(());
        }
        if is_source && shared.stop.load(Ordering::Relaxed) {
            break;
        }
        // Downstream gone: nothing more is wanted from this block.
        let wanted = |p: usize| {
            !outs[p].is_empty()
                && consumers[p]
                    .iter()
                    .any(|&c| !finished[c].load(Ordering::Acquire))
        };
        if has_outputs && !(0..outs.len()).any(wanted) {
            break;
        }
        // Take what has arrived, without waiting and without hoarding.
        for (p, r) in ins.iter().enumerate() {
            let Some(r) = r else { continue };
            while !slot.inputs[p].is_eos() && slot.inputs[p].available() < chunk {
                match r.try_recv() {
                    Ok(Msg::Chunk(b)) => {
                        let old = slot.inputs[p].push_owned(b);
                        recycle(p, old);
                    }
                    Ok(Msg::Eos) | Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        slot.inputs[p].set_eos()
                    }
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                }
            }
        }
        slot.apply_control()?;
        for (p, o) in slot.outputs.iter_mut().enumerate() {
            o.set_limit(chunk);
            o.set_wanted(wanted(p) || slot.taps[p].is_active());
        }
        let before = slot.available();
        let status = slot.call()?;
        slot.flush_events(events);
        let consumed = slot.available() != before;
        let mut produced = false;
        for (p, out_links) in outs.iter_mut().enumerate() {
            let len = slot.outputs[p].len();
            if len == 0 {
                continue;
            }
            produced = true;
            // Only blocks that know the run's length drive the progress bar;
            // the others skip the shared counter.
            if p == 0 && shared.hints[i].is_some() {
                shared.produced[i].fetch_add(len as u64, Ordering::Relaxed);
            }
            let fresh = match spare[p].try_recv() {
                Ok(b) => b,
                Err(_) => slot.outputs[p].buf_mut().empty_like(chunk),
            };
            let buf = slot.outputs[p].take(fresh);
            slot.taps[p].offer(&buf);
            send_all(out_links, buf, shared)?;
        }
        for inp in &mut slot.inputs {
            inp.compact();
        }
        if status == Status::Done {
            break;
        }
        if consumed || produced {
            continue;
        }
        if is_source {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        if inputs_exhausted(&slot.inputs) {
            break;
        }
        // Nothing could move: wait for any input that can still bring data.
        let waiting: Vec<usize> = (0..ins.len())
            .filter(|&p| !slot.inputs[p].is_eos() && ins[p].is_some())
            .collect();
        // Giving the core to the producer first is much cheaper than parking
        // and being woken when there are more blocks than cores.
        let mut arrived = false;
        for _ in 0..SPINS {
            arrived = waiting
                .iter()
                .any(|&p| ins[p].as_ref().is_some_and(|r| !r.is_empty()));
            if arrived {
                break;
            }
            std::thread::yield_now();
        }
        if arrived {
            continue;
        }
        let mut sel = Select::new();
        for &p in &waiting {
            if let Some(r) = &ins[p] {
                sel.recv(r);
            }
        }
        if let Ok(op) = sel.select_timeout(POLL) {
            let p = waiting[op.index()];
            if let Some(r) = &ins[p] {
                match op.recv(r) {
                    Ok(Msg::Chunk(b)) => {
                        let old = slot.inputs[p].push_owned(b);
                        recycle(p, old);
                    }
                    Ok(Msg::Eos) | Err(_) => slot.inputs[p].set_eos(),
                }
            }
        }
    }
    for o in &outs {
        for tx in o {
            let _ = tx.send_timeout(Msg::Eos, Duration::from_secs(1));
        }
    }
    Ok(())
}

/// Sends a chunk to every consumer, waiting while a queue is full (that is
/// the back-pressure), dropping consumers that have finished.
fn send_all(txs: &mut Vec<Sender<Msg>>, buf: Buf, shared: &Shared) -> Result<(), RunError> {
    let count = txs.len();
    let mut gone = Vec::new();
    let mut owned = Some(buf);
    for (k, tx) in txs.iter().enumerate() {
        let Some(b) = (if k + 1 == count {
            owned.take()
        } else {
            owned.clone()
        }) else {
            break;
        };
        // A full queue usually drains as soon as its consumer gets a core.
        let mut pending = Some(Msg::Chunk(b));
        for _ in 0..SPINS {
            let Some(m) = pending.take() else { break };
            match tx.try_send(m) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) => {
                    pending = Some(m);
                    std::thread::yield_now();
                }
                Err(TrySendError::Disconnected(m)) => {
                    pending = Some(m);
                    break;
                }
            }
        }
        let Some(mut msg) = pending else { continue };
        loop {
            match tx.send_timeout(msg, POLL) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(m)) => {
                    if shared.abort.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    msg = m;
                }
                Err(SendTimeoutError::Disconnected(_)) => {
                    gone.push(k);
                    break;
                }
            }
        }
    }
    for k in gone.into_iter().rev() {
        txs.remove(k);
    }
    Ok(())
}
