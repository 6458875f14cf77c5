//! The textbook naive kernel (`shaders/naive/textbook.wgsl`), the first rung of
//! `attnbench ladder`: the materializing algorithm written the way a first CUDA tutorial
//! writes it, one invocation per score (a storage load per multiply-add), a max-subtracted
//! row softmax in place (one workgroup per row, three passes), then one invocation per
//! output element. The score matrix is split into binding-sized chunks as naive's is. Not
//! registered: the registry's `naive` is the GEMM-grade one; the ladder and the tests run
//! this one beside it so that the step from one to the other stays measured and verified.

use super::plan::{Chunking, ScoreRows};
use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, Gpu, bind_buffers, grid_for, params_buffer, pipeline_layout, shader,
    shader_params, storage_and_params_layout,
};
use crate::kernels::{
    AttentionBuffers, Dispatch, Dispatches, ForwardPlan, Kernel, Plan, PlanContext, PreparedKernel,
    io_plan,
};
use crate::shape::{F32_BYTES, Shape};
use std::sync::Arc;

/// The textbook kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Textbook;

/// The textbook kernel, for the ladder and the tests.
pub static TEXTBOOK: Textbook = Textbook;

/// Invocations per workgroup of the `scores` and `weighted_sum` entry points.
const THREADS: u64 = 256;

shader_params! {
    /// The Params of `shaders/naive/textbook_params.wgsl`.
    struct Params {
        seq_len: u32,
        head_dim: u32,
        causal: u32,
        scale: f32,
        row_start: u32,
        row_count: u32,
        heads: u32,
        kv_heads: u32,
        window: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

#[derive(Clone)]
struct Pipelines {
    layout: wgpu::BindGroupLayout,
    scores: wgpu::ComputePipeline,
    softmax: wgpu::ComputePipeline,
    weighted_sum: wgpu::ComputePipeline,
}

fn pipelines(gpu: &Gpu) -> Result<Pipelines> {
    gpu.cached(TEXTBOOK, || {
        let layout =
            storage_and_params_layout(gpu, "naive textbook", &[true, true, true, false, false]);
        let pipeline_layout = pipeline_layout(gpu, &layout);
        let source = shader!(
            "naive/textbook.wgsl",
            "naive/textbook_params.wgsl",
            "common/workgroup_reduce.wgsl"
        );
        let compile = |entry| gpu.compile(source, entry, Some(&pipeline_layout), &[]);
        Ok(Pipelines {
            scores: compile("scores")?,
            softmax: compile("softmax_rows")?,
            weighted_sum: compile("weighted_sum")?,
            layout,
        })
    })
}

impl Kernel for Textbook {
    fn name(&self) -> &'static str {
        "naive_textbook"
    }

    fn summary(&self) -> &'static str {
        "textbook naive: one invocation per score and per output element, three-pass row softmax"
    }

    fn min_bytes(&self, shape: &Shape) -> u64 {
        shape.min_io_bytes() + 4 * shape.score_matrix_bytes()
    }

    fn materializes_scores(&self) -> bool {
        true
    }

    /// Refuses what the driver's loop cap rules out (weighted_sum loops over all keys in
    /// one invocation) or a binding cannot hold; plans Q, K, V, O and the score chunks.
    fn plan(&self, shape: &Shape, ctx: &PlanContext<'_>) -> Result<Box<dyn Plan>> {
        let facts = ctx.facts;
        if let Some(cap) = facts.loop_cap
            && u64::from(shape.seq_len) + u64::from(shape.head_dim) > cap * 9 / 10
        {
            return Err(Error::Unsupported {
                kernel: self.name().into(),
                reason: format!(
                    "{} caps shader loops at {cap} iterations per invocation; {} loops over all n keys",
                    facts.name,
                    self.name()
                ),
            });
        }
        let split = ScoreRows::Materialized.split(shape, &facts.limits)?;
        let mut memory = io_plan(shape, shape.seq_len);
        let row_bytes = u64::from(shape.seq_len) * F32_BYTES;
        let rest = shape.rows() % split.rows_per_chunk;
        memory
            .storage_n(
                "scores",
                shape.rows() / split.rows_per_chunk,
                split.rows_per_chunk * row_bytes,
            )
            .storage_n("scores (last chunk)", u64::from(rest > 0), rest * row_bytes)
            .other_n("params", split.chunks, std::mem::size_of::<Params>() as u64);
        Ok(Box::new(ForwardPlan {
            kernel: "naive_textbook",
            decided: (*shape, split),
            memory,
            label: None,
            live_floats: None,
            dispatches: Vec::new(),
            build,
        }))
    }
}

/// The dispatches of the textbook kernel for `shape` split as `split`, on `io`.
fn build(
    (shape, split): &(Shape, Chunking),
    gpu: &Gpu,
    io: &AttentionBuffers,
    tracker: &Arc<BufferTracker>,
) -> Result<Box<dyn PreparedKernel>> {
    let (shape, split) = (shape, *split);
    {
        let p = pipelines(gpu)?;
        let limits = gpu.limits();
        let max_dim = limits.max_compute_workgroups_per_dimension;
        let n = u64::from(shape.seq_len);
        let d = u64::from(shape.head_dim);
        let rows = shape.rows();
        let mut steps = Vec::new();
        let mut buffers = Vec::new();
        for c in 0..split.chunks {
            let row_start = c * split.rows_per_chunk;
            let row_count = split.rows_per_chunk.min(rows - row_start);
            let scores = gpu.buffer(
                tracker,
                &format!("textbook scores[{c}]"),
                row_count * n * F32_BYTES,
                wgpu::BufferUsages::STORAGE,
            )?;
            let params = params_buffer(
                gpu,
                tracker,
                &format!("textbook params[{c}]"),
                &Params {
                    seq_len: shape.seq_len,
                    head_dim: shape.head_dim,
                    causal: u32::from(shape.causal),
                    scale: shape.scale(),
                    row_start: row_start as u32,
                    row_count: row_count as u32,
                    heads: shape.heads,
                    kv_heads: shape.kv_head_count(),
                    window: shape.window.unwrap_or(0),
                    _pad0: 0,
                    _pad1: 0,
                    _pad2: 0,
                },
            )?;
            let bind_group = bind_buffers(
                gpu,
                "naive textbook",
                &p.layout,
                &[&io.q, &io.k, &io.v, &io.o, &scores, &params],
            );
            let grids = [
                (&p.scores, (row_count * n).div_ceil(THREADS)),
                (&p.softmax, row_count),
                (&p.weighted_sum, (row_count * d).div_ceil(THREADS)),
            ];
            for (pipeline, groups) in grids {
                steps.push(Dispatch {
                    pipeline: pipeline.clone(),
                    bind_group: bind_group.clone(),
                    grid: grid_for(groups, max_dim)?,
                });
            }
            buffers.extend([params, scores]);
        }
        Ok(Box::new(Dispatches {
            steps,
            _buffers: buffers,
        }))
    }
}
