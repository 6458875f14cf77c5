//! flash's forward as dispatches: an optional pack of K and V into the texel pair, then one
//! dispatch per pass over the keys, each row's running state kept between passes in a
//! state buffer (which also keeps each row's logsumexp for a backward pass).

use super::config::{KvSource, kv_texels};
use super::pipelines::pipeline;
use super::plan::FlashPlan;
use super::texel_pair::{TexelPair, plan_pair};
use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, DeviceFacts, Gpu, MemoryPlan, Resource, TrackedBuffer, bind_resources, grid_for,
    params_buffer, shader_params,
};
use crate::kernels::{
    AttentionBuffers, Dispatch, Dispatches, KeepAlive, Precision, PreparedKernel,
};
use crate::kernels::{io_plan, workgroup_count};
use crate::shape::Shape;
use std::sync::Arc;

shader_params! {
    struct Params {
        seq_len: u32,
        head_dim: u32,
        causal: u32,
        scale_log2: f32,
        q_blocks: u32,
        total_groups: u32,
        kv_begin: u32,
        kv_stop: u32,
        pass_flags: u32,
        heads: u32,
        kv_heads: u32,
        window: u32,
    }
}

/// Every buffer and texture a run of `plan` creates for `shape` (Q/K/V/O, the state, the
/// texel pair and the parameters), for the forward; the backward adds its own.
pub(super) fn forward_memory(plan: &FlashPlan, shape: &Shape, facts: &DeviceFacts) -> MemoryPlan {
    let mut memory = io_plan(shape, shape.seq_len);
    memory.storage("state", state_bytes(shape, plan.passes));
    if let Some(pair) = plan.texels {
        plan_pair(&mut memory, pair.texels, pair.packs, &facts.limits);
    }
    for pass in 0..plan.passes {
        memory.other(
            format!("params[{pass}]"),
            std::mem::size_of::<Params>() as u64,
        );
    }
    memory
}

/// The buffers a run of `plan` allocates besides Q/K/V/O: the state buffer and the texel
/// pair, when the plan has one.
pub(super) struct RunResources {
    /// Each row's running state between passes (and its logsumexp for a backward).
    pub state: TrackedBuffer,
    /// The texel pair shared by every kernel of the run that reads texels.
    pub texels: Option<Arc<TexelPair>>,
}

impl RunResources {
    /// Allocates them through `tracker`.
    pub(super) fn allocate(
        plan: &FlashPlan,
        shape: &Shape,
        gpu: &Gpu,
        tracker: &Arc<BufferTracker>,
    ) -> Result<RunResources> {
        let state = gpu.buffer(
            tracker,
            "flash state",
            state_bytes(shape, plan.passes),
            wgpu::BufferUsages::STORAGE,
        )?;
        let texels = plan
            .texels
            .map(|pair| TexelPair::new(gpu, tracker, pair.texels))
            .transpose()?;
        Ok(RunResources { state, texels })
    }
}

/// The forward of `plan` in `precision` on `io`, reading K/V from the texel pair where the
/// configuration says so. For shapes with a backward pass the last pass also writes each
/// row's logsumexp into the state buffer.
pub(super) fn prepare_forward(
    gpu: &Gpu,
    shape: &Shape,
    io: &AttentionBuffers,
    tracker: &Arc<BufferTracker>,
    (plan, precision): (&FlashPlan, Precision),
    resources: &RunResources,
) -> Result<Box<dyn PreparedKernel>> {
    let config = plan.config;
    let p = pipeline(gpu, config, shape.head_dim, precision)?;
    let q_blocks = shape.seq_len.div_ceil(config.rows_per_workgroup());
    let total_groups = shape.batch_heads() * u64::from(q_blocks);
    let total_groups_u32 = workgroup_count("flash", shape, total_groups)?;
    let grid = grid_for(
        total_groups,
        gpu.limits().max_compute_workgroups_per_dimension,
    )?;
    let passes = plan.passes;
    let per_pass = u64::from(shape.seq_len)
        .div_ceil(passes)
        .next_multiple_of(u64::from(config.block_kv));
    let mut steps = Vec::new();
    let mut buffers = Vec::new();
    let texels = match (config.kv, &resources.texels) {
        (KvSource::TexelBroadcast, Some(pair)) => {
            let (pack, params) = pair.pack(gpu, tracker, (&io.k, &io.v), kv_texels(shape))?;
            steps.push(pack);
            buffers.push(params);
            Some(pair)
        }
        (KvSource::TexelBroadcast, None) => {
            return Err(Error::Gpu {
                during: format!("preparing flash {config} at {shape}"),
                message: "texel broadcast needs the texel pair its plan provides".into(),
            });
        }
        _ => None,
    };
    let (k, v) = match texels {
        Some(pair) => (Resource::View(&pair.a.view), Resource::View(&pair.b.view)),
        None => (Resource::Buffer(&io.k), Resource::Buffer(&io.v)),
    };
    for pass in 0..passes {
        let params = params_buffer(
            gpu,
            tracker,
            &format!("flash params[{pass}]"),
            &Params {
                seq_len: shape.seq_len,
                head_dim: shape.head_dim,
                causal: u32::from(shape.causal),
                scale_log2: shape.scale() * std::f32::consts::LOG2_E,
                q_blocks,
                total_groups: total_groups_u32,
                kv_begin: (pass * per_pass).min(u64::from(shape.seq_len)) as u32,
                kv_stop: ((pass + 1) * per_pass).min(u64::from(shape.seq_len)) as u32,
                pass_flags: u32::from(pass == 0)
                    | (u32::from(pass + 1 == passes) << 1)
                    | (u32::from(shape.pass.has_backward()) << 2),
                heads: shape.heads,
                kv_heads: shape.kv_head_count(),
                window: shape.window.unwrap_or(0),
            },
        )?;
        let bind_group = bind_resources(
            gpu,
            "flash",
            &p.layout,
            &[
                Resource::Buffer(&io.q),
                k,
                v,
                Resource::Buffer(&io.o),
                Resource::Buffer(&resources.state),
                Resource::Buffer(&params),
            ],
        );
        steps.push(Dispatch {
            pipeline: p.pipeline.clone(),
            bind_group,
            grid,
        });
        buffers.push(params);
    }
    let dispatches = Box::new(Dispatches {
        steps,
        _buffers: buffers,
    });
    Ok(match texels {
        Some(pair) => Box::new(KeepAlive {
            inner: dispatches,
            _held: pair.clone(),
        }),
        None => dispatches,
    })
}

/// Bytes of the running state between passes, which also keeps each row's logsumexp for a
/// backward pass (a 16-byte placeholder for one pass of the forward alone).
pub(super) fn state_bytes(shape: &Shape, passes: u64) -> u64 {
    if passes <= 1 && !shape.pass.has_backward() {
        16
    } else {
        shape.rows() * (u64::from(shape.head_dim.div_ceil(4)) + 1) * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader() {
        let wgsl = crate::gpu::shader!("flash/params.wgsl").wgsl;
        assert_eq!(
            crate::gpu::wgsl_mismatch::<Params>(wgsl),
            None,
            "flash/params.wgsl"
        );
    }
}
