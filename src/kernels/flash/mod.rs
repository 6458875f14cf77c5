//! `flash` and `flash_f16`: fused attention with the online softmax, never materializing
//! n×n, and flash's FlashAttention-2 backward. Two shaders differ only in how K and V reach
//! the invocations ([`KvSource`]):
//!
//! - `shaders/flash/tiles.wgsl` ([`KvSource::WorkgroupTiles`], the GPU kernel): each workgroup
//!   owns `block_q / lanes · rows` query rows of one (batch, head); each row is held by
//!   `lanes` lanes of a subgroup that split its head dim (partial dot products summed by a
//!   `subgroupShuffleXor` butterfly, `flash/lane_sum_subgroup.wgsl`; `flash/lane_sum_none.wgsl` without
//!   subgroups), with its query and accumulator slices in registers; K/V tiles of
//!   `block_kv` keys stream through workgroup memory, loaded with coalesced vec4 loads.
//!   `flash_f16` is the same kernel with f16 K/V tiles and query registers; softmax state
//!   and accumulator stay f32.
//! - `shaders/flash/lanes.wgsl` ([`KvSource::SubgroupBroadcast`], for CPU drivers): no
//!   workgroup memory; the lanes of a subgroup load four keys cooperatively and share them
//!   with `subgroupBroadcast`; loops are unrolled (`src/gpu/unroll.rs`) so every register
//!   index and lane is a constant. [`KvSource::TexelBroadcast`] runs the same shader with
//!   K and V read as texels of `rgba32float` textures (`shaders/common/kv_quads_texels.wgsl`),
//!   which a first dispatch of each run fills from the buffers ([`texel_pair`]): CPU
//!   drivers vectorize texel fetches where each storage load is a loop over the lanes.
//!
//! What a shape gets is decided once, by [`FlashPlan::resolve`]: the configuration (an
//! override, the device's tuned choice, or a default per driver type), the passes over the
//! keys (a driver that caps loops, as lavapipe does at 65 535 iterations per invocation,
//! splits the keys into passes, each row's running state kept in a state buffer between
//! them), the texel pair, and for training shapes the backward's layout.
//!
//! The backward (`backward.rs`) is FlashAttention-2's in three kernels, no float atomics:
//! the forward leaves each row's logsumexp; D = rowsum(dO ∘ O); dK/dV over key blocks and
//! dQ over query blocks, both recomputing P. Memory is O(B·H·n·d) in both directions.
//! The measured version ladder and what each idea gained is `docs/ladder.md`
//! (configurations in [`crate::kernels::ladder`], re-measured by `attnbench ladder`).

mod backward;
mod backward_layout;
mod backward_pipelines;
pub mod backward_rows;
mod bounds;
mod config;
mod config_split;
mod config_text;
mod forward;
mod gpu_grid;
mod pipelines;
mod plan;
mod resources;
mod run_plan;
pub mod texel_pair;
mod tuned;
mod variant;

pub use backward_layout::{BackwardKind, BackwardLayout, BackwardPasses, ForcedBackward};
pub use backward_rows::BackwardRows;
pub use config::{
    FlashConfig, KvSource, LaneSum, fixed_subgroup_size, kernel_name, max_rows, subgroup_size_of,
};
pub use config_text::TilesOverride;
pub use gpu_grid::gpu_grid;
pub use pipelines::{lane_ids_wgsl, lane_sum_fn_wgsl, lane_sum_wgsl};
pub use plan::{BackwardPlan, FlashPlan, TexelPairUse, untuned_config_on};
pub use tuned::{TunedConfigs, TuningKey};
pub use variant::{FLASH, FLASH_F16, Flash};

use crate::error::{Error, Result};
use crate::gpu::{Bounds, DeviceFacts};
use crate::kernels::{Backward, Kernel, Plan, PlanContext, Precision, no_backward};
use crate::shape::Shape;
use bounds::BOUNDS;
use run_plan::FlashRun;

impl Flash {
    /// Refuses f16 where the device lacks SHADER_F16.
    fn check_precision(&self, facts: &DeviceFacts) -> Result<()> {
        if self.precision == Precision::F16 && !facts.features.contains(wgpu::Features::SHADER_F16)
        {
            return Err(Error::Unsupported {
                kernel: self.name().into(),
                reason: format!("{} has no SHADER_F16", facts.name),
            });
        }
        Ok(())
    }
}

impl Kernel for Flash {
    fn name(&self) -> &'static str {
        kernel_name(self.precision)
    }

    fn summary(&self) -> &'static str {
        match self.precision {
            Precision::F32 => {
                "fused tiled kernel with online softmax; never materializes n×n (1 dispatch per pass over the keys)"
            }
            Precision::F16 => "flash with f16 K/V tiles and Q·Kᵀ, f32 softmax and accumulation",
        }
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn required_features(&self) -> wgpu::Features {
        match self.precision {
            Precision::F32 => wgpu::Features::empty(),
            Precision::F16 => wgpu::Features::SHADER_F16,
        }
    }

    /// f16 keeps ~3 decimal digits in Q·Kᵀ.
    fn tolerance(&self) -> f64 {
        match self.precision {
            Precision::F32 => 1e-4,
            Precision::F16 => 1e-2,
        }
    }

    fn bounds(&self) -> Bounds {
        BOUNDS
    }

    /// [`FlashPlan::resolve`]: the forward's tiles and passes, the texel pair, and for a
    /// training shape the backward's layout; where the whole pass does not fit the memory
    /// budget with the texel pair, the same plan reading the buffers instead.
    fn plan(&self, shape: &Shape, ctx: &PlanContext<'_>) -> Result<Box<dyn Plan>> {
        self.check_precision(ctx.facts)?;
        if shape.pass.has_backward() && self.precision != Precision::F32 {
            return Err(no_backward(self));
        }
        let plan = FlashPlan::resolve(self, shape, ctx)?;
        let run = FlashRun::new(plan, self.precision, shape, ctx.facts)?;
        let over_budget = ctx
            .facts
            .memory_budget
            .is_some_and(|budget| run.total_bytes() > budget);
        if over_budget && let Some(plain) = plan.without_texels(self) {
            return Ok(Box::new(FlashRun::new(
                plain,
                self.precision,
                shape,
                ctx.facts,
            )?));
        }
        Ok(Box::new(run))
    }

    fn backward(&self) -> Option<&dyn Backward> {
        (self.precision == Precision::F32).then_some(self as &dyn Backward)
    }
}
