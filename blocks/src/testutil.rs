//! Helpers that drive a block through `Block::work` the way a scheduler would.

use modemflow_flow::{Block, BlockArgs, BlockSpec, Buf, Input, ItemType, Output, Status, WorkIo};

pub type Events = modemflow_flow::EventList;

/// Builds a block from its spec with `params` over the spec's defaults, checked
/// as the loader would check them.
pub fn make(
    spec: &BlockSpec,
    params: &[(&str, modemflow_flow::Value)],
) -> Result<Box<dyn Block>, String> {
    let mut args = BlockArgs::from_spec(spec, params)?;
    args.base_dir = std::env::temp_dir();
    (spec.factory)(&args)
}

/// What a run produced.
pub struct Run {
    pub outputs: Vec<Buf>,
    pub events: Events,
}

/// Feeds `chunks` to a one-input block (none when `in_ty` is `None`), one
/// chunk per step, with `out_cap` items of output space per call, then ends
/// the stream and calls it until it is done or stops making progress. A
/// source runs until it is done or has produced `max_out` items.
pub fn run(
    block: &mut dyn Block,
    in_ty: Option<ItemType>,
    chunks: &[Buf],
    out_tys: &[ItemType],
    out_cap: usize,
    max_out: usize,
) -> Result<Run, String> {
    let mut ins: Vec<Input> = in_ty.into_iter().map(Input::new).collect();
    let mut outs: Vec<Output> = out_tys.iter().map(|t| Output::new(*t, out_cap)).collect();
    let mut collected: Vec<Buf> = out_tys.iter().map(|t| t.new_buf(0)).collect();
    let mut events = Events::new();
    let mut step = |ins: &mut Vec<Input>,
                    outs: &mut Vec<Output>,
                    collected: &mut Vec<Buf>,
                    events: &mut Events|
     -> Result<(Status, bool), String> {
        let before = ins.first().map_or(0, Input::available);
        let n_events = events.len();
        let status = {
            let mut io = WorkIo::new(ins, outs, events);
            block.work(&mut io)?
        };
        let mut produced = false;
        for (o, c) in outs.iter_mut().zip(collected.iter_mut()) {
            let fresh = o.buf_mut().empty_like(out_cap);
            let b = o.take(fresh);
            produced |= !b.is_empty();
            c.extend_from(&b, 0, b.len());
        }
        let consumed = ins.first().map_or(0, Input::available) != before;
        Ok((status, produced || consumed || events.len() != n_events))
    };
    if ins.is_empty() {
        for _ in 0..10_000_000 {
            let (status, progress) = step(&mut ins, &mut outs, &mut collected, &mut events)?;
            let total = collected.first().map_or(0, Buf::len);
            if status == Status::Done || !progress || total >= max_out {
                break;
            }
        }
        return Ok(Run {
            outputs: collected,
            events,
        });
    }
    for chunk in chunks {
        ins[0].push(chunk);
        loop {
            let (status, progress) = step(&mut ins, &mut outs, &mut collected, &mut events)?;
            if status == Status::Done {
                return Ok(Run {
                    outputs: collected,
                    events,
                });
            }
            if !progress {
                break;
            }
        }
    }
    ins[0].set_eos();
    for _ in 0..10_000_000 {
        let (status, progress) = step(&mut ins, &mut outs, &mut collected, &mut events)?;
        if status == Status::Done || (!progress && ins[0].finished()) {
            break;
        }
    }
    Ok(Run {
        outputs: collected,
        events,
    })
}

/// Splits `items` into chunks whose sizes cycle through `sizes`.
pub fn chunked<T: modemflow_flow::Item>(items: &[T], sizes: &[usize]) -> Vec<Buf> {
    let mut v = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < items.len() {
        let n = sizes[k % sizes.len()].max(1).min(items.len() - i);
        v.push(T::wrap(items[i..i + n].to_vec()));
        i += n;
        k += 1;
    }
    v
}

/// The items of a buffer as a `Vec<T>`.
pub fn items<T: modemflow_flow::Item>(b: &Buf) -> Vec<T> {
    T::slice(b).expect("buffer type").clone()
}
