//! modemflow's framework: item types, the block model, the registry, YAML
//! flowgraphs, the two schedulers, probes and live control.

pub mod block;
pub mod item;
pub mod registry;
pub mod value;

pub use block::{inputs_exhausted, Block, Event, EventList, Input, Output, Status, WorkIo};
pub use item::{Buf, Item, ItemType};
pub use registry::{
    BlockArgs, BlockSpec, EventSpec, Factory, ParamKind, ParamSpec, ParamsCheck, PortSpec,
    PortType, Rate, Registry,
};
pub use value::Value;
pub mod diag;
pub mod expr;
pub mod flowgraph;
pub use diag::{Diagnostic, Diagnostics, Loc};
pub use flowgraph::{load_file, load_str, Edge, Flowgraph, Node};
mod fused;
pub mod runtime;
mod threaded;
pub use runtime::{run_to_end, start, Controller, Probe, RunError, RunOptions, Running, Scheduler};
pub mod docs;
