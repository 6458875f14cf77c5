//! The device layer: choosing an adapter, creating the device with its own limits and the
//! optional features the kernels use, turning wgpu errors into [`crate::Error`]s, accounting
//! for every buffer (and texel array), and timing passes.

mod adapter;
mod batching;
mod compile;
mod context;
mod facts;
mod grid;
mod memory;
mod params;
mod passes;
mod pipeline;
mod profile;
mod shaders;
mod texels;
mod timing;
mod unroll;

pub use adapter::{AdapterChoice, AdapterSummary, DeviceOptions, backend_name, describe_adapter};
#[cfg(not(target_arch = "wasm32"))]
pub use adapter::{list_adapters, select_adapter};
pub use batching::{
    BatchReading, MAX_BATCH, MIN_COVERAGE, MIN_SAMPLE_NS, RunTimes, covers, next_batch,
    per_run_times,
};
pub use context::{Gpu, ShaderSource};
pub use facts::{
    ASSUMED_GPU_UNITS, DeviceFacts, PlanAs, REGISTER_CAP, REGISTER_TARGET, TEXEL_FORMAT,
    parse_register_cap,
};
pub use grid::grid_for;
pub use memory::{BufferTracker, MemoryBudget, MemoryPlan, PlannedBuffer, TrackedBuffer};
pub(crate) use params::shader_params;
pub use params::{ShaderParams, wgsl_mismatch};
#[cfg(not(target_arch = "wasm32"))]
pub use passes::time_passes;
pub use passes::{
    Encode, calibrate_async, submit_passes, time_batch_async, time_passes_async, time_samples_async,
};
pub use pipeline::specialize;
pub(crate) use pipeline::{
    Resource, Slot, bind_buffers, bind_resources, params_buffer, pipeline_layout, shader,
    slots_and_params_layout, storage_and_params_layout,
};
pub use profile::{GpuProfile, Occupancy, Peaks, SmLimits};
pub use shaders::{Bounds, CompiledShader, parse_shader_checks};
pub use texels::{
    TEXEL_BYTES, TexelArray, texel_array_bytes, texel_arrays_supported, texel_extent,
    texel_pair_within_budget, texel_row_width,
};
pub use timing::{PassTimer, TimingSource};
pub use unroll::unroll_marked_loops;
