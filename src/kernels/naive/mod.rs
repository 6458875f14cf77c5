//! `naive`: the quadratic-wall baseline at GEMM grade, and `chunked`, the same dispatches over
//! blocks of query rows with one reused block×n scores buffer.
//!
//! The algorithm a BLAS-backed framework runs (numpy's `q @ k.T`, softmax, `@ v`; PyTorch's
//! `SDPBackend.MATH`): S = scale·QKᵀ (causal and window masks applied) written to device
//! memory as the full B·H·n×n matrix, a row softmax over S in place, O = P·V. S is split into
//! chunks of whole rows, one buffer each within the storage binding limit, so that naive is
//! stopped by device memory rather than by a binding limit. What makes it a fair baseline is
//! how each phase runs:
//!
//! - QKᵀ and P·V are register-blocked matrix products ([`matmul`]): on CPU drivers each
//!   invocation holds a few query rows in registers and a subgroup shares each row of K or V
//!   by broadcast, read as texels where lavapipe would otherwise loop over its SIMD lanes per
//!   storage load (`shaders/naive/lanes_*.wgsl`, flash's CPU path without the online
//!   softmax); on GPUs block tiles staged in workgroup memory, a few outputs per invocation
//!   within the register cap (`shaders/naive/tiles.wgsl`);
//! - the softmax is a bandwidth-bound row pass, two passes over each row ([`softmax`]).
//!
//! Every choice is [`NaivePlan::new`]'s, from the shape and the device's facts. The backward
//! (`backward.rs`) is autograd's with the same products. The one-invocation-per-score kernel
//! this replaced is [`textbook::TEXTBOOK`], the first rung of `attnbench ladder`.

mod backward;
mod bounds;
mod forward;
mod matmul;
mod params;
mod plan;
mod softmax;
pub mod textbook;

pub use plan::{
    BLoad, Chunking, NaivePlan, Products, QUERY_BLOCK, RowPass, ScoreRows, TexelPairSize, chunking,
};

use crate::error::Result;
use crate::gpu::{BufferTracker, DeviceFacts, Gpu, MemoryPlan};
use crate::kernels::{Kernel, Plan, PlanContext, Prepared, RunBuffers, buffers_mismatch};
use crate::shape::Shape;
use std::sync::Arc;

/// The naive kernel family: how score rows are held is the only difference.
#[derive(Clone, Copy, Debug)]
pub struct Naive {
    pub(crate) rows: ScoreRows,
}

/// `naive`: the whole n×n matrix at once.
pub static NAIVE: Naive = Naive {
    rows: ScoreRows::Materialized,
};

/// `chunked`: naive's dispatches over blocks of [`QUERY_BLOCK`] query rows, so only a
/// block×n slice of scores exists at once (Rabe & Staats 2021, "Self-attention does not
/// need O(n²) memory"): the same work as naive, O(block·n + n·d) memory.
pub static CHUNKED: Naive = Naive {
    rows: ScoreRows::Blocked,
};

impl Naive {
    /// The plan of this kernel for `shape` on a device with `facts` (what [`Kernel::plan`]
    /// decides; tests read it for adapters that are not here).
    pub fn plan_on(&self, shape: &Shape, facts: &DeviceFacts) -> Result<NaivePlan> {
        NaivePlan::new(self.rows, shape, facts)
    }
}

impl Kernel for Naive {
    fn name(&self) -> &'static str {
        plan::rows_name(self.rows)
    }

    fn summary(&self) -> &'static str {
        match self.rows {
            ScoreRows::Materialized => {
                "materializes the n×n score matrix: QKᵀ and P·V as register-blocked matrix products, a row softmax pass"
            }
            ScoreRows::Blocked => {
                "naive's products over blocks of 256 query rows: only a block×n slice of scores at once"
            }
        }
    }

    /// Q, K, V, O plus S written, read and rewritten by the softmax, and read by P·V
    /// (the same traffic for chunked, in a block-sized buffer).
    fn min_bytes(&self, shape: &Shape) -> u64 {
        shape.min_io_bytes() + 4 * shape.score_matrix_bytes()
    }

    fn materializes_scores(&self) -> bool {
        self.rows == ScoreRows::Materialized
    }

    fn bounds(&self) -> crate::gpu::Bounds {
        bounds::BOUNDS
    }

    fn backward(&self) -> Option<&dyn crate::kernels::Backward> {
        Some(self)
    }

    fn plan(&self, shape: &Shape, ctx: &PlanContext<'_>) -> Result<Box<dyn Plan>> {
        let plan = self.plan_on(shape, ctx.facts)?;
        Ok(Box::new(NaiveRun {
            memory: plan.memory(shape),
            plan,
            shape: *shape,
        }))
    }
}

/// naive's or chunked's plan for one shape ([`NaivePlan`]) and the buffers it creates.
struct NaiveRun {
    plan: NaivePlan,
    shape: Shape,
    memory: MemoryPlan,
}

impl Plan for NaiveRun {
    fn memory(&self) -> &MemoryPlan {
        &self.memory
    }

    fn label(&self) -> Option<String> {
        Some(self.plan.label())
    }

    fn live_floats(&self) -> Option<u32> {
        Some(self.plan.live_floats(self.shape.head_dim))
    }

    fn prepare(
        &self,
        gpu: &Gpu,
        buffers: RunBuffers<'_>,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Prepared> {
        let (plan, shape) = (&self.plan, &self.shape);
        match (plan.backward, buffers.grads) {
            (true, Some(grads)) => {
                backward::prepare_training(gpu, tracker, (plan, shape), buffers.io, grads)
            }
            (false, None) => Ok(Prepared::Forward(forward::prepare_forward(
                gpu,
                tracker,
                (plan, shape),
                buffers.io,
            )?)),
            (training, _) => Err(buffers_mismatch(plan::rows_name(plan.rows), training)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::io_plan;

    #[test]
    fn chunks_hold_whole_rows_within_the_binding_limit() {
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: 128 << 20,
            max_buffer_size: (2 << 30) - 1,
            ..wgpu::Limits::default()
        };
        let shape = Shape::new(8192, 64);
        let split = chunking(&shape, &limits).unwrap();
        assert_eq!(split.rows_per_chunk, 4096);
        assert_eq!(split.chunks, 2);
    }

    /// A lavapipe-like device: a CPU driver with subgroups of 8, texel arrays and the loop
    /// cap.
    fn lavapipe() -> DeviceFacts {
        DeviceFacts {
            is_cpu: true,
            register_cap: None,
            loop_cap: Some(65_535),
            ..DeviceFacts::simulated_gpu(Some((8, 8)))
        }
    }

    /// The driver's loop cap refuses, with the count, what a product would run past 90% of
    /// it: P·V loops over n / 4 steps of keys, the column products over H/HKV · n / 4 rows.
    #[test]
    fn the_loop_cap_refuses_what_a_product_would_run_past_it() {
        let facts = lavapipe();
        let plan = NAIVE.plan_on(&Shape::new(2048, 64), &facts).unwrap();
        assert!(matches!(plan.products, Products::Lanes { .. }), "{plan:?}");
        assert!(CHUNKED.plan_on(&Shape::new(200_000, 64), &facts).is_ok());
        let long = CHUNKED
            .plan_on(&Shape::new(240_000, 64), &facts)
            .unwrap_err();
        assert!(long.to_string().contains("caps shader loops"), "{long}");
        let training = |kv_heads| {
            let shape = Shape::new(30_000, 64)
                .with_batch_heads(1, 8)
                .with_kv_heads(kv_heads)
                .with_pass(crate::shape::Pass::Backward);
            CHUNKED.plan_on(&shape, &facts)
        };
        assert!(training(2).is_ok());
        let gqa = training(1).unwrap_err();
        assert!(gqa.to_string().contains("dK and dV"), "{gqa}");
        // Without subgroups (GL): the tiles, whose loops count their loads too.
        let gl = DeviceFacts {
            features: wgpu::Features::empty(),
            subgroup_min: 0,
            subgroup_max: 0,
            ..facts
        };
        let plan = NAIVE.plan_on(&Shape::new(4096, 64), &gl).unwrap();
        assert!(matches!(plan.products, Products::Tiles { .. }), "{plan:?}");
        assert!(CHUNKED.plan_on(&Shape::new(200_000, 64), &gl).is_err());
    }

    /// 33 million rows of 132 MB each: one row per chunk on a 128 MiB binding. The plan is
    /// a few counted entries, not 66 million (which took 4.7 GB before the refusal).
    #[test]
    fn plans_of_millions_of_chunks_stay_small() {
        let mut facts = DeviceFacts::simulated_gpu(Some((32, 32)));
        facts.limits.max_storage_buffer_binding_size = 128 << 20;
        facts.limits.max_buffer_size = (2 << 30) - 1;
        let shape = Shape::new(33_000_000, 1);
        let plan = NAIVE.plan_on(&shape, &facts).unwrap();
        assert_eq!(plan.split.chunks, 33_000_000);
        let memory = plan.memory(&shape);
        assert!(memory.buffers.len() < 10, "{}", memory.buffers.len());
        assert_eq!(memory.buffer_count(), 4 + 4 * 33_000_000);
        assert_eq!(
            memory.total_bytes(),
            io_plan(&shape, shape.seq_len).total_bytes()
                + shape.score_matrix_bytes()
                + 3 * 33_000_000 * std::mem::size_of::<params::Params>() as u64
        );
    }
}
