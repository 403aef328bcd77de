//! modemflow's framework: item types, the block model, the registry, YAML
//! flowgraphs, the two schedulers, probes and live control.

pub mod block;
pub mod item;
pub mod registry;
pub mod value;

pub use block::{Block, Event, Input, Output, Status, WorkIo};
pub use item::{Buf, Item, ItemType};
pub use registry::{
    BlockArgs, BlockSpec, EventSpec, Factory, ParamKind, ParamSpec, PortSpec, PortType, Rate,
    Registry,
};
pub use value::Value;
