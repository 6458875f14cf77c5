//! `naive`: the quadratic-wall baseline (`shaders/naive/forward.wgsl`), and `chunked`, the same
//! dispatches over blocks of query rows with one reused block×n scores buffer.
//!
//! Three dispatches over the full score matrix S (B·H·n×n f32 in global memory):
//! scores (one invocation per score), a max-subtracted row softmax in place (one workgroup
//! per row), then O = P·V (one invocation per output element). S is split into chunks of
//! whole rows, one buffer each, no larger than the storage binding limit, so that naive is
//! stopped by device memory rather than by the 128 MiB binding limit of lavapipe.
//!
//! Measured (lavapipe, 2 cores, d = 64, B·H = 1): ~1.3–1.4 GFLOP/s from n = 256 to 2048,
//! 4× per doubling of n, then 0.9 GFLOP/s at n = 4096 once the 64 MiB score matrix no
//! longer fits the CPU's caches (6× from 2048 to 4096).

mod backward;

use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, DeviceFacts, Gpu, MemoryPlan, TrackedBuffer, bind_buffers, grid_for,
    params_buffer, pipeline_layout, shader, shader_params, storage_and_params_layout,
};
use crate::kernels::{
    AttentionBuffers, Dispatch, Dispatches, Kernel, Plan, PlanContext, Prepared, PreparedKernel,
    RunBuffers, buffers_mismatch, io_plan,
};
use crate::shape::{F32_BYTES, Shape};
use std::sync::Arc;

/// The naive kernel family: how score rows are held is the only difference.
#[derive(Debug)]
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

/// Invocations per workgroup of the `scores` and `weighted_sum` entry points.
pub(crate) const THREADS: u64 = 256;

shader_params! {
    /// The Params of naive/forward.wgsl and naive/backward.wgsl (`shaders/naive/params.wgsl`).
    pub(crate) struct Params {
        seq_len: u32,
        head_dim: u32,
        causal: u32,
        scale: f32,
        row_start: u32,
        row_count: u32,
        heads: u32,
        kv_heads: u32,
        window: u32,
        accumulate: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

impl Params {
    /// The parameters of the chunk of `row_count` rows from `row_start`, with `scale`.
    pub(crate) fn chunk(shape: &Shape, row_start: u64, row_count: u64, scale: f32) -> Params {
        Params {
            seq_len: shape.seq_len,
            head_dim: shape.head_dim,
            causal: u32::from(shape.causal),
            scale,
            row_start: row_start as u32,
            row_count: row_count as u32,
            heads: shape.heads,
            kv_heads: shape.kv_head_count(),
            window: shape.window.unwrap_or(0),
            accumulate: 0,
            _pad1: 0,
            _pad2: 0,
        }
    }
}

/// How the score matrix is split: `rows_per_chunk` whole rows per buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunking {
    /// Rows per chunk (the last may hold fewer).
    pub rows_per_chunk: u64,
    /// Number of chunks.
    pub chunks: u64,
}

/// Splits B·H·n rows of n scores into chunks that each fit one storage binding.
pub fn chunking(shape: &Shape, limits: &wgpu::Limits) -> Result<Chunking> {
    let row_bytes = u64::from(shape.seq_len) * F32_BYTES;
    let max_chunk = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if row_bytes > max_chunk {
        return Err(Error::TooLarge {
            what: format!("naive at {shape}: one row of scores"),
            needed: row_bytes,
            allowed: max_chunk,
            limit: crate::error::Limit::MaxStorageBufferBindingSize,
        });
    }
    let rows = shape.rows();
    let rows_per_chunk = (max_chunk / row_bytes).min(rows);
    Ok(Chunking {
        rows_per_chunk,
        chunks: rows.div_ceil(rows_per_chunk),
    })
}

#[derive(Clone)]
pub(crate) struct Pipelines {
    pub layout: wgpu::BindGroupLayout,
    pub scores: wgpu::ComputePipeline,
    pub softmax: wgpu::ComputePipeline,
    pub weighted_sum: wgpu::ComputePipeline,
}

pub(crate) fn pipelines(gpu: &Gpu) -> Result<Pipelines> {
    gpu.cached((), || {
        let layout = storage_and_params_layout(gpu, "naive", &[true, true, true, false, false]);
        let pipeline_layout = pipeline_layout(gpu, &layout);
        let source = shader!(
            "naive/forward.wgsl",
            "naive/params.wgsl",
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

/// How score rows are held between the three dispatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreRows {
    /// The whole B·H·n×n matrix, in as many binding-sized buffers as it takes.
    Materialized,
    /// One buffer of `QUERY_BLOCK` rows, reused by every block of queries in turn.
    Blocked,
}

/// Query rows per block of the chunked kernel (Rabe & Staats 2021 use blocks of ~1024).
pub const QUERY_BLOCK: u64 = 256;

impl ScoreRows {
    pub(crate) fn split(self, shape: &Shape, limits: &wgpu::Limits) -> Result<Chunking> {
        let full = chunking(shape, limits)?;
        Ok(match self {
            ScoreRows::Materialized => full,
            ScoreRows::Blocked => {
                let rows_per_chunk = full.rows_per_chunk.min(QUERY_BLOCK);
                Chunking {
                    rows_per_chunk,
                    chunks: shape.rows().div_ceil(rows_per_chunk),
                }
            }
        })
    }

    pub(crate) fn plan(self, shape: &Shape, limits: &wgpu::Limits) -> Result<MemoryPlan> {
        self.plan_with(shape, self.split(shape, limits)?)
    }

    /// The plan of `shape` with its score rows split as `split`.
    fn plan_with(self, shape: &Shape, split: Chunking) -> Result<MemoryPlan> {
        let mut plan = io_plan(shape, shape.seq_len);
        let row_bytes = u64::from(shape.seq_len) * F32_BYTES;
        let rows = shape.rows();
        // Counted entries, not one per chunk: the plan of a problem of millions of chunks
        // is as small as any other's (it is made before the problem is refused).
        match self {
            ScoreRows::Materialized => {
                let rest = rows % split.rows_per_chunk;
                plan.storage_n(
                    "scores",
                    rows / split.rows_per_chunk,
                    split.rows_per_chunk * row_bytes,
                )
                .storage_n(
                    "scores (last chunk)",
                    u64::from(rest > 0),
                    rest * row_bytes,
                );
            }
            ScoreRows::Blocked => {
                plan.storage("scores", split.rows_per_chunk * row_bytes);
            }
        }
        plan.other_n("params", split.chunks, std::mem::size_of::<Params>() as u64);
        Ok(plan)
    }

    /// The buffers holding score rows: one per chunk (materialized, together the n×n
    /// matrix) or one block reused by every chunk (blocked). `what` names them.
    pub(crate) fn score_buffers(
        self,
        gpu: &Gpu,
        shape: &Shape,
        tracker: &Arc<BufferTracker>,
        what: &str,
    ) -> Result<Vec<TrackedBuffer>> {
        let split = self.split(shape, &gpu.limits())?;
        let row_bytes = u64::from(shape.seq_len) * F32_BYTES;
        let rows = shape.rows();
        let count = match self {
            ScoreRows::Materialized => split.chunks,
            ScoreRows::Blocked => 1,
        };
        (0..count)
            .map(|c| {
                let chunk_rows = split.rows_per_chunk.min(rows - c * split.rows_per_chunk);
                gpu.buffer(
                    tracker,
                    &format!("{what}[{c}]"),
                    chunk_rows * row_bytes,
                    wgpu::BufferUsages::STORAGE,
                )
            })
            .collect()
    }

    /// The buffer of `buffers` ([`ScoreRows::score_buffers`]) that holds chunk `c`.
    pub(crate) fn chunk_buffer(self, buffers: &[TrackedBuffer], c: u64) -> &TrackedBuffer {
        match self {
            ScoreRows::Materialized => &buffers[c as usize],
            ScoreRows::Blocked => &buffers[0],
        }
    }

    /// The forward's dispatches over `scores` (left holding P, the softmax of the scores),
    /// and the parameter buffers they bind.
    pub(crate) fn forward_steps(
        self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        tracker: &Arc<BufferTracker>,
        scores: &[TrackedBuffer],
    ) -> Result<(Vec<Dispatch>, Vec<TrackedBuffer>)> {
        let p = pipelines(gpu)?;
        let limits = gpu.limits();
        let split = self.split(shape, &limits)?;
        let max_dim = limits.max_compute_workgroups_per_dimension;
        let n = u64::from(shape.seq_len);
        let d = u64::from(shape.head_dim);
        let rows = shape.rows();
        let mut steps = Vec::new();
        let mut buffers = Vec::new();
        for c in 0..split.chunks {
            let row_start = c * split.rows_per_chunk;
            let row_count = split.rows_per_chunk.min(rows - row_start);
            let params = params_buffer(
                gpu,
                tracker,
                &format!("naive params[{c}]"),
                &Params::chunk(shape, row_start, row_count, shape.scale()),
            )?;
            let bind_group = bind_buffers(
                gpu,
                "naive",
                &p.layout,
                &[
                    &io.q,
                    &io.k,
                    &io.v,
                    &io.o,
                    self.chunk_buffer(scores, c),
                    &params,
                ],
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
            buffers.push(params);
        }
        Ok((steps, buffers))
    }

    pub(crate) fn prepare_forward(
        self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Box<dyn PreparedKernel>> {
        let what = match self {
            ScoreRows::Materialized => "naive scores",
            ScoreRows::Blocked => "chunked scores",
        };
        let scores = self.score_buffers(gpu, shape, tracker, what)?;
        let (steps, mut buffers) = self.forward_steps(gpu, shape, io, tracker, &scores)?;
        buffers.extend(scores);
        Ok(Box::new(Dispatches {
            steps,
            _buffers: buffers,
        }))
    }
}

/// weighted_sum loops over all keys in one invocation.
pub(crate) fn check_loop_cap(kernel: &str, shape: &Shape, facts: &DeviceFacts) -> Result<()> {
    if let Some(cap) = facts.loop_cap
        && u64::from(shape.seq_len) + u64::from(shape.head_dim) > cap * 9 / 10
    {
        return Err(Error::Unsupported {
            kernel: kernel.into(),
            reason: format!(
                "{} caps shader loops at {cap} iterations per invocation; {kernel} loops over all n keys",
                facts.name
            ),
        });
    }
    Ok(())
}

impl Kernel for Naive {
    fn name(&self) -> &'static str {
        match self.rows {
            ScoreRows::Materialized => "naive",
            ScoreRows::Blocked => "chunked",
        }
    }

    fn summary(&self) -> &'static str {
        match self.rows {
            ScoreRows::Materialized => {
                "materializes the n×n score matrix: scores, row softmax, P·V (3 dispatches)"
            }
            ScoreRows::Blocked => {
                "naive's dispatches over blocks of 256 query rows: only a block×n slice of scores at once"
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

    fn plan(&self, shape: &Shape, ctx: &PlanContext<'_>) -> Result<Box<dyn Plan>> {
        let facts = ctx.facts;
        let training = shape.pass.has_backward();
        let memory = if training {
            backward::check_backward(self.name(), shape, facts)?;
            backward::training_memory(self.rows, shape, &facts.limits)?
        } else {
            check_loop_cap(self.name(), shape, facts)?;
            self.rows.plan(shape, &facts.limits)?
        };
        Ok(Box::new(NaiveRun {
            rows: self.rows,
            shape: *shape,
            memory,
        }))
    }

    fn backward(&self) -> Option<&dyn crate::kernels::Backward> {
        Some(self)
    }
}

/// naive's or chunked's plan for one shape: how score rows are held, and the buffers.
struct NaiveRun {
    rows: ScoreRows,
    shape: Shape,
    memory: MemoryPlan,
}

impl Plan for NaiveRun {
    fn memory(&self) -> &MemoryPlan {
        &self.memory
    }

    fn prepare(
        &self,
        gpu: &Gpu,
        buffers: RunBuffers<'_>,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Prepared> {
        let shape = &self.shape;
        match (shape.pass.has_backward(), buffers.grads) {
            (true, Some(grads)) => self
                .rows
                .prepare_training(gpu, shape, buffers.io, grads, tracker),
            (false, None) => Ok(Prepared::Forward(
                self.rows.prepare_forward(gpu, shape, buffers.io, tracker)?,
            )),
            (training, _) => Err(buffers_mismatch("naive", training)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader() {
        let wgsl = crate::gpu::shader!("naive/params.wgsl").wgsl;
        assert_eq!(
            crate::gpu::wgsl_mismatch::<Params>(wgsl),
            None,
            "naive/params.wgsl"
        );
    }

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

    /// 33 million rows of 132 MB each: one row per chunk on a 128 MiB binding. The plan is
    /// a few counted entries, not 66 million (which took 4.7 GB before the refusal).
    #[test]
    fn plans_of_millions_of_chunks_stay_small() {
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: 128 << 20,
            max_buffer_size: (2 << 30) - 1,
            ..wgpu::Limits::default()
        };
        let shape = Shape::new(33_000_000, 1);
        let split = chunking(&shape, &limits).unwrap();
        assert_eq!(split.chunks, 33_000_000);
        let plan = ScoreRows::Materialized.plan_with(&shape, split).unwrap();
        assert!(plan.buffers.len() < 10, "{}", plan.buffers.len());
        assert_eq!(plan.buffer_count(), 4 + 2 * 33_000_000);
        assert_eq!(
            plan.total_bytes(),
            io_plan(&shape, shape.seq_len).total_bytes()
                + shape.score_matrix_bytes()
                + 33_000_000 * std::mem::size_of::<Params>() as u64
        );
    }
}
