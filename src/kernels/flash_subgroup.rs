//! `flash_subgroup`: flash with one subgroup per query row and subgroup reductions for the
//! online softmax's row max and sum (`shaders/flash_subgroup/flash_subgroup.wgsl`); needs SUBGROUP.
//! Lanes split the keys, so scores need no workgroup memory and no barriers.
//! Measured on lavapipe (subgroups of 8 AVX2 lanes), n = 2048, d = 64: 1.85 GFLOP/s against
//! flash's 12.5: every lane gathers its own K and V rows, and that is what costs on a CPU
//! driver. GPUs with 32- or 64-wide subgroups are where this variant is meant to be tried.

use crate::error::{Error, Result};
use crate::gpu::{
    Bounds, BufferTracker, DeviceFacts, Gpu, bind_buffers, grid_for, params_buffer,
    pipeline_layout, shader, shader_params, specialize, storage_and_params_layout,
};
use crate::kernels::{
    AttentionBuffers, Dispatch, Dispatches, ForwardPlan, Kernel, Plan, PlanContext, PreparedKernel,
    io_plan, no_backward, workgroup_count,
};
use crate::shape::Shape;
use std::sync::Arc;

/// The subgroup flash kernel.
#[derive(Debug)]
pub struct FlashSubgroup;

shader_params! {
    struct Params {
        seq_len: u32,
        head_dim: u32,
        causal: u32,
        scale_log2: f32,
        rows_per_group: u32,
        q_blocks: u32,
        total_groups: u32,
        heads: u32,
        kv_heads: u32,
        window: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
        _pad3: u32,
    }
}

/// Invocations per workgroup and query rows per workgroup (one per subgroup of the largest
/// size the adapter may use, so that smaller subgroups only leave some idle).
fn geometry(facts: &DeviceFacts) -> (u32, u32) {
    let max_sg = facts.subgroup_max.max(1);
    let wg = 64u32
        .max(max_sg)
        .min(facts.limits.max_compute_invocations_per_workgroup);
    (wg, (wg / max_sg).max(1))
}

/// What flash_subgroup decided for one shape: the shape, invocations and query rows per
/// workgroup.
struct Decided {
    shape: Shape,
    wg: u32,
    rows_per_group: u32,
}

#[derive(Clone)]
struct Pipeline {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

fn pipeline(gpu: &Gpu, head_dim: u32, wg: u32) -> Result<Pipeline> {
    let d4 = head_dim.div_ceil(4);
    gpu.cached((wg, d4), || {
        let layout = storage_and_params_layout(gpu, "flash_subgroup", &[true, true, true, false]);
        let source = shader!("flash_subgroup/flash_subgroup.wgsl", "common/qkv_rows.wgsl");
        let pipeline = gpu.compile_text(
            Bounds::InBounds,
            source.name,
            specialize(source, &[("D4", d4)])?,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &[("WG", f64::from(wg))],
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}

impl Kernel for FlashSubgroup {
    /// Audited: every index in bounds by construction (rows past n clamped, loads
    /// guarded), so its shaders compile without naga's runtime checks.
    fn bounds(&self) -> Bounds {
        Bounds::InBounds
    }

    fn name(&self) -> &'static str {
        "flash_subgroup"
    }

    fn required_features(&self) -> wgpu::Features {
        wgpu::Features::SUBGROUP
    }

    fn summary(&self) -> &'static str {
        "flash with a subgroup per query row: subgroupMax/subgroupAdd for the softmax (SUBGROUP)"
    }

    fn plan(&self, shape: &Shape, ctx: &PlanContext<'_>) -> Result<Box<dyn Plan>> {
        let facts = ctx.facts;
        let unsupported = |reason: String| Error::Unsupported {
            kernel: self.name().into(),
            reason,
        };
        if !facts.has_subgroups() {
            return Err(unsupported(format!("{} has no SUBGROUP", facts.name)));
        }
        // Each lane loops over n / subgroup size keys, twice over the columns.
        if let Some(cap) = facts.loop_cap {
            let min_sg = u64::from(facts.subgroup_min.max(1));
            let d4 = u64::from(shape.head_dim.div_ceil(4));
            let iterations = u64::from(shape.seq_len).div_ceil(min_sg) * (2 * d4 + 2) + 2 * d4;
            if iterations > cap * 9 / 10 {
                return Err(unsupported(format!(
                    "{} caps shader loops at {cap} iterations per invocation; this shape needs {iterations}",
                    facts.name
                )));
            }
        }
        if shape.pass.has_backward() {
            return Err(no_backward(self));
        }
        let mut memory = io_plan(shape, self.query_rows(shape));
        memory.other("params", std::mem::size_of::<Params>() as u64);
        let (wg, rows_per_group) = geometry(facts);
        Ok(Box::new(ForwardPlan {
            kernel: self.name(),
            decided: Decided {
                shape: *shape,
                wg,
                rows_per_group,
            },
            memory,
            label: None,
            live_floats: None,
            build,
        }))
    }
}

/// The dispatch of `decided` on `io`.
fn build(
    decided: &Decided,
    gpu: &Gpu,
    io: &AttentionBuffers,
    tracker: &Arc<BufferTracker>,
) -> Result<Box<dyn PreparedKernel>> {
    let Decided {
        shape,
        wg,
        rows_per_group,
    } = decided;
    let (shape, wg, rows_per_group) = (shape, *wg, *rows_per_group);
    let p = pipeline(gpu, shape.head_dim, wg)?;
    let q_blocks = shape.seq_len.div_ceil(rows_per_group);
    let total = shape.batch_heads() * u64::from(q_blocks);
    let total_groups = workgroup_count("flash_subgroup", shape, total)?;
    let params = params_buffer(
        gpu,
        tracker,
        "flash_subgroup params",
        &Params {
            seq_len: shape.seq_len,
            head_dim: shape.head_dim,
            causal: u32::from(shape.causal),
            scale_log2: shape.scale() * std::f32::consts::LOG2_E,
            rows_per_group,
            q_blocks,
            total_groups,
            heads: shape.heads,
            kv_heads: shape.kv_head_count(),
            window: shape.window.unwrap_or(0),
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
            _pad3: 0,
        },
    )?;
    let bind_group = bind_buffers(
        gpu,
        "flash_subgroup",
        &p.layout,
        &[&io.q, &io.k, &io.v, &io.o, &params],
    );
    Ok(Box::new(Dispatches {
        steps: vec![Dispatch {
            pipeline: p.pipeline,
            bind_group,
            grid: grid_for(total, gpu.limits().max_compute_workgroups_per_dimension)?,
        }],
        _buffers: vec![params],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader() {
        let wgsl = crate::gpu::shader!("flash_subgroup/flash_subgroup.wgsl").wgsl;
        assert_eq!(
            crate::gpu::wgsl_mismatch::<Params>(wgsl),
            None,
            "flash_subgroup/flash_subgroup.wgsl"
        );
    }
}
