//! `naive`: the quadratic-wall baseline (`shaders/naive.wgsl`).
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

use super::{
    AttentionBuffers, Kernel, PreparedKernel, bind_buffers, io_plan, pipeline_layout, shader,
    storage_and_uniform_layout, uniform_buffer,
};
use crate::error::{Error, Result};
use crate::gpu::{BufferTracker, Gpu, MemoryPlan, TrackedBuffer, grid_for};
use crate::shape::{F32_BYTES, Shape};
use std::sync::Arc;

/// The naive kernel.
#[derive(Debug)]
pub struct Naive;

/// Invocations per workgroup of the `scores` and `weighted_sum` entry points.
const THREADS: u64 = 256;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale: f32,
    row_start: u32,
    row_count: u32,
    _pad: [u32; 2],
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
            limit: "max_storage_buffer_binding_size".into(),
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
struct Pipelines {
    layout: wgpu::BindGroupLayout,
    scores: wgpu::ComputePipeline,
    softmax: wgpu::ComputePipeline,
    weighted_sum: wgpu::ComputePipeline,
}

fn pipelines(gpu: &Gpu) -> Result<Pipelines> {
    gpu.cached("naive", || {
        let layout = storage_and_uniform_layout(gpu, "naive", &[true, true, true, false, false]);
        let pipeline_layout = pipeline_layout(gpu, &layout);
        let source = shader!("naive.wgsl");
        let compile = |entry| gpu.compile(source, entry, Some(&pipeline_layout), &[]);
        Ok(Pipelines {
            scores: compile("scores")?,
            softmax: compile("softmax_rows")?,
            weighted_sum: compile("weighted_sum")?,
            layout,
        })
    })
}

impl Kernel for Naive {
    fn name(&self) -> &'static str {
        "naive"
    }

    fn summary(&self) -> &'static str {
        "materializes the n×n score matrix: scores, row softmax, P·V (3 dispatches)"
    }

    /// Q, K, V, O plus S written, read and rewritten by the softmax, and read by P·V.
    fn min_bytes(&self, shape: &Shape) -> u64 {
        shape.min_io_bytes() + 4 * shape.score_matrix_bytes()
    }

    fn materializes_scores(&self) -> bool {
        true
    }

    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()> {
        // weighted_sum loops over all keys in one invocation.
        if let Some(cap) = gpu.shader_loop_cap()
            && u64::from(shape.seq_len) + u64::from(shape.head_dim) > cap * 9 / 10
        {
            return Err(Error::Unsupported {
                kernel: "naive".into(),
                reason: format!(
                    "{} caps shader loops at {cap} iterations per invocation; naive loops over all n keys",
                    gpu.summary().name
                ),
            });
        }
        Ok(())
    }

    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
        let mut plan = io_plan(shape);
        let split = chunking(shape, &gpu.limits())?;
        let row_bytes = u64::from(shape.seq_len) * F32_BYTES;
        let rows = shape.rows();
        for c in 0..split.chunks {
            let chunk_rows = split.rows_per_chunk.min(rows - c * split.rows_per_chunk);
            plan.storage(format!("scores[{c}]"), chunk_rows * row_bytes);
            plan.other(format!("params[{c}]"), std::mem::size_of::<Params>() as u64);
        }
        Ok(plan)
    }

    fn prepare(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Box<dyn PreparedKernel>> {
        let p = pipelines(gpu)?;
        let limits = gpu.limits();
        let split = chunking(shape, &limits)?;
        let max_dim = limits.max_compute_workgroups_per_dimension;
        let n = u64::from(shape.seq_len);
        let d = u64::from(shape.head_dim);
        let rows = shape.rows();
        let mut chunks = Vec::new();
        for c in 0..split.chunks {
            let row_start = c * split.rows_per_chunk;
            let row_count = split.rows_per_chunk.min(rows - row_start);
            let scores = gpu.buffer(
                tracker,
                &format!("naive scores[{c}]"),
                row_count * n * F32_BYTES,
                wgpu::BufferUsages::STORAGE,
            )?;
            let params = uniform_buffer(
                gpu,
                tracker,
                &format!("naive params[{c}]"),
                &Params {
                    seq_len: shape.seq_len,
                    head_dim: shape.head_dim,
                    causal: u32::from(shape.causal),
                    scale: shape.scale(),
                    row_start: row_start as u32,
                    row_count: row_count as u32,
                    _pad: [0; 2],
                },
            )?;
            let bind_group = bind_buffers(
                gpu,
                "naive",
                &p.layout,
                &[&io.q, &io.k, &io.v, &io.o, &scores, &params],
            );
            chunks.push(Chunk {
                bind_group,
                score_grid: grid_for((row_count * n).div_ceil(THREADS), max_dim)?,
                softmax_grid: grid_for(row_count, max_dim)?,
                output_grid: grid_for((row_count * d).div_ceil(THREADS), max_dim)?,
                _buffers: [scores, params],
            });
        }
        Ok(Box::new(PreparedNaive {
            pipelines: p,
            chunks,
        }))
    }
}

struct Chunk {
    bind_group: wgpu::BindGroup,
    score_grid: [u32; 3],
    softmax_grid: [u32; 3],
    output_grid: [u32; 3],
    _buffers: [TrackedBuffer; 2],
}

struct PreparedNaive {
    pipelines: Pipelines,
    chunks: Vec<Chunk>,
}

impl PreparedKernel for PreparedNaive {
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        for chunk in &self.chunks {
            pass.set_bind_group(0, &chunk.bind_group, &[]);
            let steps = [
                (&self.pipelines.scores, chunk.score_grid),
                (&self.pipelines.softmax, chunk.softmax_grid),
                (&self.pipelines.weighted_sum, chunk.output_grid),
            ];
            for (pipeline, [x, y, z]) in steps {
                pass.set_pipeline(pipeline);
                pass.dispatch_workgroups(x, y, z);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
