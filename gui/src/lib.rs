//! modemflow studio: the egui editor that assembles flowgraphs from the
//! registry's blocks, validates them with the command line's loader, runs
//! them on the threaded scheduler and shows any wire live in probe panels.

pub mod analysis;
pub mod app;
pub mod canvas;
pub mod catalog;
pub mod document;
pub mod history;
pub mod probes;
pub mod run;
pub mod validate;
pub mod wires;
