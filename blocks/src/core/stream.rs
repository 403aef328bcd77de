//! Stream utilities that work on any item type: head, null_sink, copy,
//! delay and throttle. Their port types come from what they connect to.

use modemflow_flow::{
    Block, BlockArgs, BlockSpec, ParamSpec, PortSpec, Registry, Status, Value, WorkIo,
};
use std::time::{Duration, Instant};

pub fn register(r: &mut Registry) {
    r.register(
        BlockSpec::new("head", "Stream", "Passes the first `count` items, then ends the stream", Head::make)
            .doc("Makes an endless stream finite: copies `count` items from `in` to `out` and then ends both. \
                  Upstream blocks stop once nothing downstream wants their output.")
            .param(ParamSpec::int("count", "Number of items to pass").range(0.0, 9.0e15).unit("items"))
            .input(PortSpec::generic("in", 'a', "Any stream"))
            .output(PortSpec::generic("out", 'a', "The first `count` items of `in`")),
    );
    r.register(
        BlockSpec::new(
            "null_sink",
            "Sinks",
            "Consumes and discards a stream",
            NullSink::make,
        )
        .doc("Reads every item of `in` and throws it away; use it to end a stream you do not need.")
        .input(PortSpec::generic("in", 'a', "Any stream")),
    );
    r.register(
        BlockSpec::new("copy", "Stream", "Copies its input to its output", Copy::make)
            .doc("Passes items through unchanged. Useful as a named tap point, and to measure the framework's overhead.")
            .input(PortSpec::generic("in", 'a', "Any stream"))
            .output(PortSpec::generic("out", 'a', "The same items")),
    );
    r.register(
        BlockSpec::new("delay", "Stream", "Delays a stream by a number of zero items", Delay::make)
            .doc("Outputs `samples` zero items before the first input item. Because its output starts without input, \
                  a feedback loop through a `delay` is allowed (two modems on one line form such a loop).")
            .param(ParamSpec::int("samples", "Delay").default(1).range(0.0, 1.0e8).unit("items"))
            .input(PortSpec::generic("in", 'a', "Any stream"))
            .output(PortSpec::generic("out", 'a', "`samples` zeros, then `in`"))
            .with_delay(),
    );
    r.register(
        BlockSpec::new("throttle", "Stream", "Paces a stream to real time", Throttle::make)
            .doc("Passes items no faster than `rate` items per second of wall-clock time, so a simulated graph runs \
                  as a live one would (for watching probes). Not needed in graphs that read or write real devices.")
            .param(ParamSpec::float("rate", "Items per second").default(8000.0).range(1.0, 1.0e9).unit("items/s").live())
            .input(PortSpec::generic("in", 'a', "Any stream"))
            .output(PortSpec::generic("out", 'a', "The same items, paced")),
    );
}

/// Copies up to `n` items from input 0 to output 0 and reports how many.
fn pass(io: &mut WorkIo<'_>, n: usize) -> usize {
    let (buf, start) = io.inputs[0].buf();
    let n = n.min(buf.len() - start);
    io.outputs[0].buf_mut().extend_from(buf, start, start + n);
    io.inputs[0].consume(n);
    n
}

struct Head {
    remaining: u64,
    total: u64,
}

impl Head {
    fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
        let count = a.int("count")?.max(0) as u64;
        Ok(Box::new(Head {
            remaining: count,
            total: count,
        }))
    }
}

impl Block for Head {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let want = (self.remaining.min(usize::MAX as u64) as usize).min(io.outputs[0].space());
        self.remaining -= pass(io, want) as u64;
        Ok(if self.remaining == 0 {
            Status::Done
        } else {
            Status::Ok
        })
    }

    fn length_hint(&self) -> Option<u64> {
        Some(self.total)
    }
}

struct NullSink;

impl NullSink {
    fn make(_: &BlockArgs) -> Result<Box<dyn Block>, String> {
        Ok(Box::new(NullSink))
    }
}

impl Block for NullSink {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let n = io.inputs[0].available();
        io.inputs[0].consume(n);
        Ok(if io.inputs[0].finished() {
            Status::Done
        } else {
            Status::Ok
        })
    }
}

struct Copy;

impl Copy {
    fn make(_: &BlockArgs) -> Result<Box<dyn Block>, String> {
        Ok(Box::new(Copy))
    }
}

impl Block for Copy {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let space = io.outputs[0].space();
        pass(io, space);
        Ok(Status::Ok)
    }
}

struct Delay {
    pending_zeros: usize,
}

impl Delay {
    fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
        Ok(Box::new(Delay {
            pending_zeros: a.int("samples")?.max(0) as usize,
        }))
    }
}

impl Block for Delay {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let z = self.pending_zeros.min(io.outputs[0].space().max(1));
        if z > 0 {
            io.outputs[0].buf_mut().extend_zeros(z);
            self.pending_zeros -= z;
        }
        let space = io.outputs[0].space();
        pass(io, space);
        Ok(Status::Ok)
    }
}

struct Throttle {
    rate: f64,
    start: Option<Instant>,
    passed: f64,
}

impl Throttle {
    fn make(a: &BlockArgs) -> Result<Box<dyn Block>, String> {
        Ok(Box::new(Throttle {
            rate: a.float("rate")?,
            start: None,
            passed: 0.0,
        }))
    }
}

impl Block for Throttle {
    fn work(&mut self, io: &mut WorkIo<'_>) -> Result<Status, String> {
        let ready = io.inputs[0].available().min(io.outputs[0].space());
        if ready == 0 {
            return Ok(Status::Ok);
        }
        let start = *self.start.get_or_insert_with(Instant::now);
        // At most a tenth of a second's worth at once keeps the pace smooth.
        let batch = (ready as f64).min((self.rate / 10.0).max(1.0));
        let due = Duration::from_secs_f64((self.passed + batch) / self.rate);
        let elapsed = start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
        self.passed += pass(io, batch as usize) as f64;
        Ok(Status::Ok)
    }

    fn set_param(&mut self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value.as_f64()) {
            ("rate", Some(r)) if r > 0.0 => {
                // Restart the clock so the new pace applies from now on.
                self.rate = r;
                self.start = None;
                self.passed = 0.0;
                Ok(())
            }
            _ => Err(format!("cannot set `{name}` to {value}")),
        }
    }
}
