//! Helpers that drive a block through `Block::work` the way a scheduler would.

use modemflow_flow::{Block, BlockArgs, BlockSpec, Buf, Input, ItemType, Output, Status, WorkIo};

pub type Events = modemflow_flow::EventList;

/// Builds a block from its spec with `params` over the spec's defaults, checked
/// as the loader would check them.
pub fn make(
    spec: &BlockSpec,
    params: &[(&str, modemflow_flow::Value)],
) -> Result<Box<dyn Block>, String> {
    let args = BlockArgs::from_spec(spec, params)?;
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

/// Values a block must survive: non-finite, huge, tiny and signed zeros.
pub const GARBAGE_F32: [f32; 10] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e30,
    -1e30,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE / 2.0,
    0.0,
    -0.0,
];

/// `n` samples cycling through [`GARBAGE_F32`], every `step`-th one in turn.
pub fn garbage_f32(n: usize, step: usize) -> Vec<f32> {
    (0..n)
        .map(|i| GARBAGE_F32[(i * step) % GARBAGE_F32.len()])
        .collect()
}

/// Loads `yaml` with this crate's registry and runs it to the end on both
/// schedulers (chunks of 64), failing the test on any error.
pub fn run_on_both_schedulers(yaml: &str) {
    use modemflow_flow::{load_str, run_to_end, RunOptions, Scheduler};
    let reg = crate::registry();
    let g = load_str(yaml, "t.yaml", std::path::Path::new("."), &reg, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    for scheduler in [Scheduler::Fused, Scheduler::Threaded] {
        let opts = RunOptions {
            scheduler,
            chunk: 64,
            ..RunOptions::default()
        };
        run_to_end(&g, &opts).unwrap_or_else(|e| panic!("{scheduler:?}: {e}"));
    }
}

/// A driver for blocks with several inputs (each fed in its own chunks,
/// some starting late), applying the schedulers' finishing rule.
pub mod drive {
    use super::{chunked, items, Events};
    use modemflow_flow::{inputs_exhausted, Block, Buf, Input, ItemType, Output, Status, WorkIo};

    /// One input of a driven block.
    pub(crate) struct Feed<'a> {
        ty: ItemType,
        /// `None`: left unconnected (ended from the start).
        items: Option<&'a [u8]>,
        /// The step of its first chunk.
        from: usize,
    }

    impl<'a> Feed<'a> {
        pub(crate) fn new(ty: ItemType, items: &'a [u8]) -> Feed<'a> {
            Feed {
                ty,
                items: Some(items),
                from: 0,
            }
        }

        pub(crate) fn unconnected(ty: ItemType) -> Feed<'a> {
            Feed {
                ty,
                items: None,
                from: 0,
            }
        }

        /// Starts feeding at step `step` instead of 0.
        pub(crate) fn from(self, step: usize) -> Feed<'a> {
            Feed { from: step, ..self }
        }
    }

    /// How a run ended.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) enum End {
        /// The block said `Done`.
        Done,
        /// It made no progress while its inputs looked exhausted, so a
        /// scheduler finished it.
        Exhausted,
        /// It made no progress with inputs that could still bring data.
        Stuck,
        /// `work` returned this error.
        Failed(String),
    }

    /// What a run produced.
    pub(crate) struct Driven {
        pub outputs: Vec<Vec<u8>>,
        pub events: Events,
        pub end: End,
        /// Items left unread on each input.
        pub left: Vec<usize>,
    }

    /// Drives a block with u8 inputs as the schedulers do: step k pushes the
    /// k-th chunk of every input (sizes cycling through `sizes`; a feed
    /// starting later is shifted), each work call gets `cap` items of space
    /// per output, and the block is called until it makes no progress — then,
    /// if its inputs look exhausted ([`inputs_exhausted`]), it is finished as
    /// a scheduler would. After the last step every input ends.
    pub(crate) fn drive(
        block: &mut dyn Block,
        feeds: &[Feed<'_>],
        outputs: &[ItemType],
        sizes: &[usize],
        cap: usize,
    ) -> Driven {
        let chunks: Vec<Vec<Buf>> = feeds
            .iter()
            .map(|f| f.items.map_or(Vec::new(), |v| chunked(v, sizes)))
            .collect();
        let mut ins: Vec<Input> = feeds.iter().map(|f| Input::new(f.ty)).collect();
        for (input, f) in ins.iter_mut().zip(feeds) {
            if f.items.is_none() {
                input.set_eos();
            }
        }
        let mut outs: Vec<Output> = outputs.iter().map(|t| Output::new(*t, cap)).collect();
        let mut r = Driven {
            outputs: vec![Vec::new(); outputs.len()],
            events: Events::new(),
            end: End::Stuck,
            left: Vec::new(),
        };
        // One work call: Ok(progress) or how the run ended.
        let mut step = |ins: &mut Vec<Input>, r: &mut Driven| -> Result<bool, End> {
            let before: Vec<usize> = ins.iter().map(Input::available).collect();
            let status = block
                .work(&mut WorkIo::new(ins, &mut outs, &mut r.events))
                .map_err(End::Failed)?;
            let mut progress = false;
            for ((o, g), t) in outs.iter_mut().zip(r.outputs.iter_mut()).zip(outputs) {
                let b = o.take(t.new_buf(cap));
                progress |= !b.is_empty();
                g.extend(items::<u8>(&b));
            }
            progress |= ins.iter().map(Input::available).ne(before);
            if status == Status::Done {
                return Err(End::Done);
            }
            if !progress && inputs_exhausted(ins) {
                return Err(End::Exhausted);
            }
            Ok(progress)
        };
        let steps = feeds
            .iter()
            .zip(&chunks)
            .map(|(f, c)| f.from + c.len())
            .max()
            .unwrap_or(0);
        let mut result = None;
        'steps: for k in 0..steps {
            for ((input, c), f) in ins.iter_mut().zip(&chunks).zip(feeds) {
                if let Some(b) = k.checked_sub(f.from).and_then(|j| c.get(j)) {
                    input.push(b);
                }
            }
            loop {
                match step(&mut ins, &mut r) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(end) => {
                        result = Some(end);
                        break 'steps;
                    }
                }
            }
        }
        if result.is_none() {
            ins.iter_mut().for_each(Input::set_eos);
            for _ in 0..1_000_000 {
                match step(&mut ins, &mut r) {
                    Ok(true) => {}
                    Ok(false) => {
                        result = Some(End::Stuck);
                        break;
                    }
                    Err(end) => {
                        result = Some(end);
                        break;
                    }
                }
            }
        }
        r.end = result.unwrap_or(End::Stuck);
        r.left = ins.iter().map(Input::available).collect();
        r
    }
}
