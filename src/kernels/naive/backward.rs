//! The backward pass of `naive` and `chunked` (`shaders/naive/backward.wgsl` with
//! `shaders/naive/forward.wgsl`'s entry points): the textbook gradients over materialized matrices.
//!
//! Per chunk of query rows (the forward's chunks: whole rows, each buffer within the binding
//! limit): P = softmax(scale·QKᵀ) (the forward's, or recomputed with naive/forward.wgsl's `scores`
//! and `softmax_rows`) and dP = dO·Vᵀ (`scores` with dO for Q and V for K),
//! dS = scale·P∘(dP − rowsum(P∘dP)) in place of dP, dQ = dS·K (naive/forward.wgsl's
//! `weighted_sum`), then dK += dSᵀ·Q and dV += Pᵀ·dO over the chunks (one invocation per
//! element, looping over the chunk's rows of every query head that reads the KV head).
//!
//! `naive` keeps every chunk of P (the forward's, saved as autograd saves it) and of dP:
//! two B·H·n×n f32 matrices, so its training wall comes at half the forward's n² (n = 4096,
//! d = 64: 2 × 67 MB). `chunked` reuses one block of each and recomputes P block by block:
//! O(256·n) besides the tensors.

use super::{Naive, Params, ScoreRows, THREADS, check_loop_cap, pipelines};
use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, DeviceFacts, Gpu, MemoryPlan, TrackedBuffer, bind_buffers, grid_for,
    params_buffer, pipeline_layout, shader, storage_and_params_layout,
};
use crate::kernels::{
    AttentionBuffers, Backward, Dispatch, Dispatches, GradientBuffers, Prepared, gradient_plan,
};
use crate::shape::Shape;
use std::sync::Arc;

#[derive(Clone)]
struct BackwardPipelines {
    layout: wgpu::BindGroupLayout,
    ds_rows: wgpu::ComputePipeline,
    transposed_sum: wgpu::ComputePipeline,
}

fn backward_pipelines(gpu: &Gpu) -> Result<BackwardPipelines> {
    gpu.cached((), || {
        let layout = storage_and_params_layout(gpu, "naive backward", &[true, false, true, false]);
        let pipeline_layout = pipeline_layout(gpu, &layout);
        let source = shader!(
            "naive/backward.wgsl",
            "naive/params.wgsl",
            "common/workgroup_reduce.wgsl"
        );
        let compile = |entry| gpu.compile(source, entry, Some(&pipeline_layout), &[]);
        Ok(BackwardPipelines {
            ds_rows: compile("ds_rows")?,
            transposed_sum: compile("transposed_sum")?,
            layout,
        })
    })
}

/// transposed_sum loops over the rows of every query head of a KV head.
fn check_backward_loop_cap(kernel: &str, shape: &Shape, facts: &DeviceFacts) -> Result<()> {
    if let Some(cap) = facts.loop_cap
        && u64::from(shape.group_size()) * u64::from(shape.seq_len) + u64::from(shape.head_dim)
            > cap * 9 / 10
    {
        return Err(Error::Unsupported {
            kernel: kernel.into(),
            reason: format!(
                "{} caps shader loops at {cap} iterations per invocation; {kernel}'s backward loops over H/HKV·n query rows",
                facts.name
            ),
        });
    }
    Ok(())
}

impl Backward for Naive {
    fn summary(&self) -> &'static str {
        "P and dP materialized (two n×n matrices), dS = P∘(dP − D), dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO"
    }
}

/// Refuses what the backward's loops cannot run on a device with `facts`.
pub(super) fn check_backward(kernel: &str, shape: &Shape, facts: &DeviceFacts) -> Result<()> {
    check_loop_cap(kernel, shape, facts)?;
    check_backward_loop_cap(kernel, shape, facts)
}

/// The buffers a training run creates: the forward's plan (its score chunks hold P for the
/// backward), dP doubling them, dO and the gradients, and the backward's parameters.
pub(super) fn training_memory(
    rows: ScoreRows,
    shape: &Shape,
    limits: &wgpu::Limits,
) -> Result<MemoryPlan> {
    let mut plan = rows.plan(shape, limits)?;
    let dp: Vec<_> = plan
        .buffers
        .iter()
        .filter(|b| b.label.starts_with("scores"))
        .map(|b| (format!("d{}", b.label), b.count, b.bytes))
        .collect();
    for (label, count, bytes) in dp {
        plan.storage_n(label, count, bytes);
    }
    plan.buffers.extend(gradient_plan(shape).buffers);
    let chunks = rows.split(shape, limits)?.chunks;
    plan.other_n(
        "backward params",
        chunks,
        3 * std::mem::size_of::<Params>() as u64,
    );
    Ok(plan)
}

impl ScoreRows {
    /// Builds the forward and the backward on one set of buffers.
    pub(super) fn prepare_training(
        self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        grads: &GradientBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Prepared> {
        let rows_held = self;
        // The forward leaves P in its score buffers: naive's backward reads them (P is the
        // saved activation); chunked's block holds only the last block's P, so its
        // backward recomputes P block by block.
        let (p_what, dp_what) = match rows_held {
            ScoreRows::Materialized => ("naive P", "naive dP"),
            ScoreRows::Blocked => ("chunked P", "chunked dP"),
        };
        let p_buffers = rows_held.score_buffers(gpu, shape, tracker, p_what)?;
        let dp_buffers = rows_held.score_buffers(gpu, shape, tracker, dp_what)?;
        let (forward_steps, forward_params) =
            rows_held.forward_steps(gpu, shape, io, tracker, &p_buffers)?;
        let recompute_p = rows_held == ScoreRows::Blocked;
        let p = pipelines(gpu)?;
        let b = backward_pipelines(gpu)?;
        let limits = gpu.limits();
        let split = rows_held.split(shape, &limits)?;
        let max_dim = limits.max_compute_workgroups_per_dimension;
        let n = u64::from(shape.seq_len);
        let d = u64::from(shape.head_dim);
        let rows = shape.rows();
        let kv_groups = shape.kv_tensor_elements().div_ceil(THREADS);
        let mut steps = Vec::new();
        let mut buffers = Vec::new();
        for c in 0..split.chunks {
            let row_start = c * split.rows_per_chunk;
            let row_count = split.rows_per_chunk.min(rows - row_start);
            let pm = rows_held.chunk_buffer(&p_buffers, c);
            let dpm = rows_held.chunk_buffer(&dp_buffers, c);
            let [scaled, unscaled, accumulating] =
                chunk_params(gpu, tracker, shape, c, row_start, row_count)?;
            // naive/forward.wgsl's layout: q, k, v, o (read_write), s (read_write), params. The o
            // slot takes a gradient buffer that no other slot of the dispatch holds.
            let fwd = |label: &str, bufs: [&wgpu::Buffer; 5], params: &wgpu::Buffer| {
                let [q, k, v, o, s] = bufs;
                bind_buffers(gpu, label, &p.layout, &[q, k, v, o, s, params])
            };
            let probabilities = fwd("naive bwd P", [&io.q, &io.k, &io.v, &grads.dq, pm], &scaled);
            let d_probabilities = fwd(
                "naive bwd dP",
                [&grads.d_o, &io.v, &io.v, &grads.dq, dpm],
                &unscaled,
            );
            let d_query = fwd(
                "naive bwd dQ",
                [&io.q, &io.k, &io.k, &grads.dq, dpm],
                &scaled,
            );
            // naive/backward.wgsl's layout: a, b (read_write), x, out (read_write), params.
            let bwd = |label: &str, bufs: [&wgpu::Buffer; 4], params: &wgpu::Buffer| {
                let [a, b_, x, out] = bufs;
                bind_buffers(gpu, label, &b.layout, &[a, b_, x, out, params])
            };
            let d_scores = bwd("naive bwd dS", [pm, dpm, &io.q, &grads.dk], &scaled);
            let d_key = bwd("naive bwd dK", [dpm, pm, &io.q, &grads.dk], &accumulating);
            let d_value = bwd(
                "naive bwd dV",
                [pm, dpm, &grads.d_o, &grads.dv],
                &accumulating,
            );
            let matrix_groups = (row_count * n).div_ceil(THREADS);
            let mut order = Vec::new();
            if recompute_p {
                order.push((&p.scores, &probabilities, matrix_groups));
                order.push((&p.softmax, &probabilities, row_count));
            }
            order.extend([
                (&p.scores, &d_probabilities, matrix_groups),
                (&b.ds_rows, &d_scores, row_count),
                (&p.weighted_sum, &d_query, (row_count * d).div_ceil(THREADS)),
                (&b.transposed_sum, &d_key, kv_groups),
                (&b.transposed_sum, &d_value, kv_groups),
            ]);
            for (pipeline, bind_group, groups) in order {
                steps.push(Dispatch {
                    pipeline: pipeline.clone(),
                    bind_group: bind_group.clone(),
                    grid: grid_for(groups, max_dim)?,
                });
            }
            buffers.extend([scaled, unscaled, accumulating]);
        }
        buffers.extend(dp_buffers);
        let mut forward_buffers = forward_params;
        forward_buffers.extend(p_buffers);
        Ok(Prepared::Training {
            forward: Box::new(Dispatches {
                steps: forward_steps,
                _buffers: forward_buffers,
            }),
            backward: Box::new(Dispatches {
                steps,
                _buffers: buffers,
            }),
        })
    }
}

/// The three parameter buffers of chunk `c` (rows `row_start..row_start + row_count`): the
/// scaled scores, the unscaled dP, and the dK/dV sums (accumulating after the first chunk).
fn chunk_params(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    shape: &Shape,
    c: u64,
    row_start: u64,
    row_count: u64,
) -> Result<[TrackedBuffer; 3]> {
    let chunk = Params::chunk(shape, row_start, row_count, shape.scale());
    let scaled = params_buffer(gpu, tracker, &format!("naive bwd params[{c}]"), &chunk)?;
    let unscaled = params_buffer(
        gpu,
        tracker,
        &format!("naive bwd dP params[{c}]"),
        &Params {
            scale: 1.0,
            ..chunk
        },
    )?;
    let accumulating = params_buffer(
        gpu,
        tracker,
        &format!("naive bwd sum params[{c}]"),
        &Params {
            accumulate: u32::from(c > 0),
            ..chunk
        },
    )?;
    Ok([scaled, unscaled, accumulating])
}
