//! The device layer: choosing an adapter, creating the device with its own limits and the
//! optional features the kernels use, turning wgpu errors into [`crate::Error`]s, accounting
//! for every buffer, and timing passes.

mod adapter;
mod context;
mod grid;
mod memory;
mod passes;
mod pipeline;
mod timing;
mod unroll;

pub use adapter::{AdapterChoice, AdapterSummary, describe_adapter, list_adapters};
pub use context::{CompiledShader, Gpu, ShaderSource, specialize};
pub use grid::grid_for;
pub use memory::{BufferTracker, MemoryBudget, MemoryPlan, PlannedBuffer, TrackedBuffer};
pub use passes::{Encode, submit_passes, time_passes};
pub(crate) use pipeline::{
    bind_buffers, params_buffer, pipeline_layout, shader, storage_and_params_layout,
};
pub use timing::median;
pub use timing::{PassTimer, TimingSource};
pub use unroll::unroll_marked_loops;
