//! Decode's two pipelines (the partial pass, specialized to the plan, and the combine) and
//! the dispatches of one run: one workgroup per (batch, KV head, chunk), then one per
//! (batch, head, query row).

use super::plan::{COMBINE_WG, DecodePlan, Merge, queries};
use crate::error::Result;
use crate::gpu::{
    Bounds, BufferTracker, Gpu, ShaderSource, bind_buffers, grid_for, params_buffer,
    pipeline_layout, shader, shader_params, specialize, storage_and_params_layout,
    unroll_marked_loops,
};
use crate::kernels::flash::{LaneSum, lane_ids_wgsl, lane_sum_fn_wgsl};
use crate::kernels::{AttentionBuffers, Dispatch, Dispatches, PreparedKernel, workgroup_count};
use crate::shape::Shape;
use std::sync::Arc;

shader_params! {
    /// `decode/params.wgsl`'s `Params`.
    pub(super) struct Params {
        seq_len: u32,
        head_dim: u32,
        causal: u32,
        scale_log2: f32,
        queries: u32,
        chunks: u32,
        total_groups: u32,
        heads: u32,
        kv_heads: u32,
        window: u32,
        keys: u32,
        _pad: u32,
    }
}

/// What decode's pipelines are specialized to: their cache key on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PipelineKey {
    vec4: bool,
    d4: u32,
    plan: DecodePlan,
}

#[derive(Clone)]
struct Pipelines {
    layout: wgpu::BindGroupLayout,
    partial: wgpu::ComputePipeline,
    combine: wgpu::ComputePipeline,
}

fn pipelines(gpu: &Gpu, shape: &Shape, plan: &DecodePlan) -> Result<Pipelines> {
    let vec4 = shape.head_dim.is_multiple_of(4);
    let d4 = shape.head_dim.div_ceil(4);
    let key = PipelineKey {
        vec4,
        d4,
        plan: *plan,
    };
    gpu.cached(key, || {
        let layout = storage_and_params_layout(gpu, "decode", &[true, true, true, false, false]);
        let pipeline_layout = pipeline_layout(gpu, &layout);
        let partial = if vec4 {
            shader!(
                "decode/partial.wgsl",
                "decode/params.wgsl",
                "common/kv_quads_vec4.wgsl"
            )
        } else {
            shader!(
                "decode/partial.wgsl",
                "decode/params.wgsl",
                "common/kv_quads_scalar.wgsl"
            )
        };
        let consts = [
            ("BLOCK_Q", plan.workgroup),
            ("QR", plan.rows_per_load),
            ("D4", d4),
            ("LANES", plan.lanes),
            ("DL", plan.columns(shape.head_dim)),
        ];
        let mut wgsl = unroll_marked_loops(&specialize(partial, &consts)?, &consts)?;
        wgsl.push_str(lane_sum_fn_wgsl(plan.lane_sum));
        wgsl.push_str(match plan.merge {
            // One subgroup: its invocation ids number the lanes.
            Merge::Subgroup => {
                include_str!("../../../shaders/flash/lane_ids_one_subgroup.wgsl")
            }
            Merge::Workgroup => lane_ids_wgsl(plan.lane_sum == LaneSum::Subgroup),
        });
        wgsl.push_str(&merge_wgsl(plan, shape.head_dim)?);
        let combine = shader!(
            "decode/combine.wgsl",
            "decode/params.wgsl",
            "common/workgroup_reduce.wgsl"
        );
        let combine_wgsl = specialize(combine, &[("D4", d4), ("REDUCE_WG", COMBINE_WG)])?;
        let compile = |name, wgsl, entry| {
            gpu.compile_text(
                Bounds::InBounds,
                name,
                wgsl,
                entry,
                Some(&pipeline_layout),
                &[],
            )
        };
        Ok(Pipelines {
            partial: compile(partial.name, wgsl, "partial")?,
            combine: compile(combine.name, combine_wgsl, "combine")?,
            layout,
        })
    })
}

/// The merge of the partial pass's key lanes for `plan` (`decode/merge_*.wgsl`),
/// specialized to its slots.
fn merge_wgsl(plan: &DecodePlan, head_dim: u32) -> Result<String> {
    Ok(match plan.merge {
        Merge::Subgroup => include_str!("../../../shaders/decode/merge_subgroup.wgsl").into(),
        Merge::Workgroup => specialize(
            ShaderSource {
                name: "decode/merge_workgroup.wgsl",
                wgsl: include_str!("../../../shaders/decode/merge_workgroup.wgsl"),
            },
            &[("MS", plan.merge_slots(head_dim))],
        )?,
    })
}

/// The dispatches of one decode run of `plan` at `shape` on `io`.
pub(super) fn build(
    (shape, plan): &(Shape, DecodePlan),
    gpu: &Gpu,
    io: &AttentionBuffers,
    tracker: &Arc<BufferTracker>,
) -> Result<Box<dyn PreparedKernel>> {
    let p = pipelines(gpu, shape, plan)?;
    let max_dim = gpu.limits().max_compute_workgroups_per_dimension;
    let partials = gpu.buffer(
        tracker,
        "decode partials",
        plan.partials_bytes(shape),
        wgpu::BufferUsages::STORAGE,
    )?;
    let mut steps = Vec::new();
    let mut buffers = Vec::new();
    let kv_heads = u64::from(shape.batch) * u64::from(shape.kv_head_count());
    for (label, pipeline, groups) in [
        ("partial", &p.partial, kv_heads * u64::from(plan.chunks)),
        (
            "combine",
            &p.combine,
            shape.batch_heads() * u64::from(queries(shape)),
        ),
    ] {
        let total_groups = workgroup_count("decode", shape, groups)?;
        let params = params_buffer(
            gpu,
            tracker,
            &format!("decode params[{label}]"),
            &Params {
                seq_len: shape.seq_len,
                head_dim: shape.head_dim,
                causal: u32::from(shape.causal),
                scale_log2: shape.scale() * std::f32::consts::LOG2_E,
                queries: queries(shape),
                chunks: plan.chunks,
                total_groups,
                heads: shape.heads,
                kv_heads: shape.kv_head_count(),
                window: shape.window.unwrap_or(0),
                keys: plan.chunk_keys,
                _pad: 0,
            },
        )?;
        let bind_group = bind_buffers(
            gpu,
            "decode",
            &p.layout,
            &[&io.q, &io.k, &io.v, &io.o, &partials, &params],
        );
        steps.push(Dispatch {
            pipeline: pipeline.clone(),
            bind_group,
            grid: grid_for(u64::from(total_groups), max_dim)?,
        });
        buffers.push(params);
    }
    buffers.push(partials);
    Ok(Box::new(Dispatches {
        steps,
        _buffers: buffers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader() {
        let wgsl = include_str!("../../../shaders/decode/params.wgsl");
        assert_eq!(
            crate::gpu::wgsl_mismatch::<Params>(wgsl),
            None,
            "decode/params.wgsl"
        );
    }
}
