//! What the editor's live probes compute from the samples that pass a wire: pure kernels, fed chunk by chunk, read once per frame.
//!
//! Nothing here knows about egui or threads, so every kernel can be tested
//! with plain sample vectors. Every kernel accepts any input (NaN, ±inf,
//! empty chunks, silly sizes) without panicking and keeps its memory bounded.

pub mod constellation;
pub mod eye;
pub mod levels;
pub mod meter;
pub mod scope;
pub mod spectrum;
