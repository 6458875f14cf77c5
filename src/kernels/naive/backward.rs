//! The backward of `naive` and `chunked` as autograd computes it, with the forward's matrix
//! products (`matmul.rs`) and a row pass:
//!
//! dP = dO·Vᵀ (scores with dO for Q and V for K, scale 1); dS = scale·P∘(dP − rowsum(dO∘O))
//! in place of dP (`shaders/naive/ds.wgsl`); dQ = dS·K (rows); dK = dSᵀ·Q and dV = Pᵀ·dO
//! (columns, summed over each KV head's query heads and over the chunks).
//!
//! `naive` keeps every chunk of P (its forward's, saved as autograd saves it) and of dP: two
//! B·H·n×n f32 matrices, so its training wall comes at half the forward's n² (n = 4096,
//! d = 64: 2 × 67 MB). `chunked` reuses one block of each and recomputes P block by block:
//! O(256·n) besides the tensors. On CPU drivers the products read B through one texel pair
//! (sized for Q), packed with K and V, then with Q and dO.

use super::forward::{Steps, b_resource, chunk_buffer, forward_steps, pack, phase, score_buffers};
use super::matmul::{Product, dispatch};
use super::params::ChunkRows;
use super::plan::{NaivePlan, ScoreRows};
use super::softmax::{softmax, softmax_backward};
use super::{Naive, plan};
use crate::error::Result;
use crate::gpu::{BufferTracker, Gpu, TEXEL_BYTES, TrackedBuffer};
use crate::kernels::flash::texel_pair::TexelPair;
use crate::kernels::{AttentionBuffers, Backward, GradientBuffers, PhasedDispatches, Prepared};
use crate::shape::Shape;
use std::sync::Arc;

impl Backward for Naive {
    fn summary(&self) -> &'static str {
        "autograd's: P and dP materialized (two n×n matrices), dS = P∘(dP − rowsum(dO∘O)), dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO as matrix products"
    }
}

/// The training step of `planned` on `io` and `grads`: the forward (leaving P) and the
/// backward, with their score buffers and texel pair.
pub(super) fn prepare_training(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    planned: (&NaivePlan, &Shape),
    io: &AttentionBuffers,
    grads: &GradientBuffers,
) -> Result<Prepared> {
    let (plan, _) = planned;
    let name = plan::rows_name(plan.rows);
    let p = score_buffers(gpu, tracker, planned, &format!("{name} P"))?;
    let dp = score_buffers(gpu, tracker, planned, &format!("{name} dP"))?;
    let pair = plan
        .texels
        .map(|t| TexelPair::new(gpu, tracker, t.texels))
        .transpose()?;
    // The forward leaves P in its score buffers: naive's backward reads them (P is the
    // saved activation); chunked's block holds only the last block's P, so its backward
    // recomputes P block by block.
    let (forward, forward_params) = forward_steps(gpu, tracker, planned, io, &p, pair.as_deref())?;
    let (backward, mut params) =
        backward_steps(gpu, tracker, planned, io, grads, (&p, &dp), pair.as_deref())?;
    params.extend(dp);
    Ok(Prepared::Training {
        forward: Box::new(PhasedDispatches::new(
            forward,
            (forward_params, p, pair.clone()),
        )),
        backward: Box::new(PhasedDispatches::new(backward, (params, pair))),
    })
}

/// The backward's dispatches: per chunk dP, dS and dQ with K and V packed, then dK and dV
/// with Q and dO packed (chunked: per block, after recomputing its P).
fn backward_steps(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    planned: (&NaivePlan, &Shape),
    io: &AttentionBuffers,
    grads: &GradientBuffers,
    (p, dp): (&[TrackedBuffer], &[TrackedBuffer]),
    pair: Option<&TexelPair>,
) -> Result<Steps> {
    let (plan, shape) = planned;
    let mut steps = Vec::new();
    let mut params = Vec::new();
    let kv_texels = shape.kv_tensor_bytes() / TEXEL_BYTES;
    let q_texels = shape.tensor_bytes() / TEXEL_BYTES;
    let pack_kv = pack(gpu, tracker, pair, (&io.k, &io.v), kv_texels)?;
    let pack_q = pack(gpu, tracker, pair, (&io.q, &grads.d_o), q_texels)?;
    let packed = |steps: &mut Vec<_>, which: &Option<(crate::kernels::Dispatch, TrackedBuffer)>| {
        if let Some((step, _)) = which {
            steps.push((phase::TEXELS, step.clone()));
        }
    };
    // Pair a: K, then Q; pair b: V, then dO.
    let k = b_resource(pair.map(|t| &t.a), &io.k);
    let v = b_resource(pair.map(|t| &t.b), &io.v);
    let q = b_resource(pair.map(|t| &t.a), &io.q);
    let d_o = b_resource(pair.map(|t| &t.b), &grads.d_o);
    let chunks: Vec<ChunkRows> = plan.chunks(shape).collect();
    // naive: every chunk's dP, dS, dQ, then every chunk's dK, dV; chunked: both per block.
    let groups: Vec<&[ChunkRows]> = match plan.rows {
        ScoreRows::Materialized => vec![&chunks[..]],
        ScoreRows::Blocked => chunks.chunks(1).collect(),
    };
    for group in groups {
        packed(&mut steps, &pack_kv);
        for chunk in group {
            let (pm, dpm) = (chunk_buffer(plan, p, chunk), chunk_buffer(plan, dp, chunk));
            if plan.rows == ScoreRows::Blocked {
                let qk = dispatch(
                    gpu,
                    tracker,
                    planned,
                    Product::Scores,
                    chunk,
                    shape.scale(),
                    (pm, k, &io.q),
                )?;
                let soft = softmax(gpu, tracker, planned, chunk, pm)?;
                for (ph, (step, buffer)) in [(phase::QK, qk), (phase::SOFTMAX, soft)] {
                    steps.push((ph, step));
                    params.push(buffer);
                }
            }
            let d_p = dispatch(
                gpu,
                tracker,
                planned,
                Product::Scores,
                chunk,
                1.0,
                (dpm, v, &grads.d_o),
            )?;
            let d_s = softmax_backward(gpu, tracker, planned, chunk, (dpm, pm, &grads.d_o, &io.o))?;
            let d_q = dispatch(
                gpu,
                tracker,
                planned,
                Product::Rows,
                chunk,
                1.0,
                (dpm, k, &grads.dq),
            )?;
            for (ph, (step, buffer)) in [(phase::DP, d_p), (phase::DS, d_s), (phase::DQ, d_q)] {
                steps.push((ph, step));
                params.push(buffer);
            }
        }
        packed(&mut steps, &pack_q);
        for chunk in group {
            let (pm, dpm) = (chunk_buffer(plan, p, chunk), chunk_buffer(plan, dp, chunk));
            let d_k = dispatch(
                gpu,
                tracker,
                planned,
                Product::Columns,
                chunk,
                1.0,
                (dpm, q, &grads.dk),
            )?;
            let d_v = dispatch(
                gpu,
                tracker,
                planned,
                Product::Columns,
                chunk,
                1.0,
                (pm, d_o, &grads.dv),
            )?;
            for (ph, (step, buffer)) in [(phase::DK, d_k), (phase::DV, d_v)] {
                steps.push((ph, step));
                params.push(buffer);
            }
        }
    }
    params.extend(pack_kv.into_iter().chain(pack_q).map(|(_, buffer)| buffer));
    Ok((steps, params))
}
