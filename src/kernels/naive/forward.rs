//! naive's forward as dispatches: per chunk of score rows S = scale·QKᵀ (masked), the row
//! softmax in place, O = P·V; on CPU drivers K and V first packed into the texel pair the
//! products read them through. Each dispatch is labelled with its phase (QKᵀ, softmax, P·V,
//! texels) for `run --json`'s phase split.

use super::matmul::{Product, dispatch};
use super::params::ChunkRows;
use super::plan::{NaivePlan, ScoreRows};
use super::softmax::softmax;
use crate::error::Result;
use crate::gpu::{BufferTracker, Gpu, Resource, TrackedBuffer};
use crate::kernels::flash::texel_pair::TexelPair;
use crate::kernels::{AttentionBuffers, Dispatch, Phase, PhasedDispatches, PreparedKernel};
use crate::shape::{F32_BYTES, Shape};
use std::sync::Arc;

/// The phases of naive's forward and backward.
pub(super) mod phase {
    use crate::kernels::Phase;

    /// Packing the tensors the products read as texels.
    pub(crate) const TEXELS: Phase = Phase {
        name: "texels",
        forward_share: 0.0,
    };
    /// S = scale·QKᵀ.
    pub(crate) const QK: Phase = Phase {
        name: "QKᵀ",
        forward_share: 0.5,
    };
    /// P = softmax(S).
    pub(crate) const SOFTMAX: Phase = Phase {
        name: "softmax",
        forward_share: 0.0,
    };
    /// O = P·V.
    pub(crate) const PV: Phase = Phase {
        name: "P·V",
        forward_share: 0.5,
    };
    /// dP = dO·Vᵀ.
    pub(crate) const DP: Phase = Phase {
        name: "dO·Vᵀ",
        forward_share: 0.5,
    };
    /// dS = P∘(dP − rowsum(dO∘O)).
    pub(crate) const DS: Phase = Phase {
        name: "dS",
        forward_share: 0.0,
    };
    /// dQ = dS·K·scale.
    pub(crate) const DQ: Phase = Phase {
        name: "dS·K",
        forward_share: 0.5,
    };
    /// dK = dSᵀ·Q·scale.
    pub(crate) const DK: Phase = Phase {
        name: "dSᵀ·Q",
        forward_share: 0.5,
    };
    /// dV = Pᵀ·dO.
    pub(crate) const DV: Phase = Phase {
        name: "Pᵀ·dO",
        forward_share: 0.5,
    };
}

/// Dispatches labelled with their phases, and the parameter buffers they bind.
pub(super) type Steps = (Vec<(Phase, Dispatch)>, Vec<TrackedBuffer>);

/// The buffers holding score rows: one per chunk (materialized: together the n×n matrix) or
/// one block reused by every chunk (blocked). `what` names them.
pub(super) fn score_buffers(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    (plan, shape): (&NaivePlan, &Shape),
    what: &str,
) -> Result<Vec<TrackedBuffer>> {
    let row_bytes = u64::from(shape.seq_len) * F32_BYTES;
    let count = match plan.rows {
        ScoreRows::Materialized => plan.split.chunks,
        ScoreRows::Blocked => 1,
    };
    plan.chunks(shape)
        .take(count as usize)
        .map(|chunk| {
            gpu.buffer(
                tracker,
                &format!("{what}[{}]", chunk.index),
                chunk.count * row_bytes,
                wgpu::BufferUsages::STORAGE,
            )
        })
        .collect()
}

/// The buffer of `buffers` ([`score_buffers`]) that holds `chunk`.
pub(super) fn chunk_buffer<'b>(
    plan: &NaivePlan,
    buffers: &'b [TrackedBuffer],
    chunk: &ChunkRows,
) -> &'b TrackedBuffer {
    match plan.rows {
        ScoreRows::Materialized => &buffers[chunk.index as usize],
        ScoreRows::Blocked => &buffers[0],
    }
}

/// How the products read B: the texel array `texels` where the plan packs B, else the
/// buffer itself.
pub(super) fn b_resource<'a>(
    texels: Option<&'a crate::gpu::TexelArray>,
    buffer: &'a wgpu::Buffer,
) -> Resource<'a> {
    match texels {
        Some(array) => Resource::View(&array.view),
        None => Resource::Buffer(buffer),
    }
}

/// The dispatch packing `a` and `b` (`texels` vec4s each) into the pair, when there is one.
pub(super) fn pack(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    pair: Option<&TexelPair>,
    (a, b): (&wgpu::Buffer, &wgpu::Buffer),
    texels: u64,
) -> Result<Option<(Dispatch, TrackedBuffer)>> {
    pair.map(|pair| pair.pack(gpu, tracker, (a, b), texels))
        .transpose()
}

/// The forward over `scores` (left holding P, the softmax of the scores, for a backward):
/// K and V packed into `pair` first where the plan reads texels, then per chunk QKᵀ, the
/// softmax and P·V.
pub(super) fn forward_steps(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    planned: (&NaivePlan, &Shape),
    io: &AttentionBuffers,
    scores: &[TrackedBuffer],
    pair: Option<&TexelPair>,
) -> Result<Steps> {
    let (plan, shape) = planned;
    let mut steps = Vec::new();
    let mut params = Vec::new();
    let kv_texels = shape.kv_tensor_bytes() / crate::gpu::TEXEL_BYTES;
    if let Some((step, buffer)) = pack(gpu, tracker, pair, (&io.k, &io.v), kv_texels)? {
        steps.push((phase::TEXELS, step));
        params.push(buffer);
    }
    let k = b_resource(pair.map(|p| &p.a), &io.k);
    let v = b_resource(pair.map(|p| &p.b), &io.v);
    for chunk in plan.chunks(shape) {
        let s = chunk_buffer(plan, scores, &chunk);
        let qk = dispatch(
            gpu,
            tracker,
            planned,
            Product::Scores,
            &chunk,
            shape.scale(),
            (s, k, &io.q),
        )?;
        let soft = softmax(gpu, tracker, planned, &chunk, s)?;
        let pv = dispatch(
            gpu,
            tracker,
            planned,
            Product::Rows,
            &chunk,
            1.0,
            (s, v, &io.o),
        )?;
        for (p, (step, buffer)) in [(phase::QK, qk), (phase::SOFTMAX, soft), (phase::PV, pv)] {
            steps.push((p, step));
            params.push(buffer);
        }
    }
    Ok((steps, params))
}

/// The forward of `planned` on `io`: its score buffers, texel pair and phased dispatches.
pub(super) fn prepare_forward(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    planned: (&NaivePlan, &Shape),
    io: &AttentionBuffers,
) -> Result<Box<dyn PreparedKernel>> {
    let (plan, _) = planned;
    let what = format!("{} scores", super::plan::rows_name(plan.rows));
    let scores = score_buffers(gpu, tracker, planned, &what)?;
    let pair = plan
        .texels
        .map(|p| TexelPair::new(gpu, tracker, p.texels))
        .transpose()?;
    let (steps, params) = forward_steps(gpu, tracker, planned, io, &scores, pair.as_deref())?;
    Ok(Box::new(PhasedDispatches::new(
        steps,
        (params, scores, pair),
    )))
}
