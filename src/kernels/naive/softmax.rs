//! naive's row passes over one chunk of the score matrix, one workgroup per row
//! (`shaders/naive/softmax.wgsl`, `shaders/naive/ds.wgsl`): the softmax, S → P in place, two
//! passes over each row (a running max and sum, then the write); and its backward,
//! dP → dS = scale·P∘(dP − rowsum(dO∘O)) in place, one pass.

use super::matmul::{Pipeline, compile, s_wgsl};
use super::params::ChunkRows;
use super::plan::NaivePlan;
use crate::error::Result;
use crate::gpu::{
    BufferTracker, Gpu, Slot, TrackedBuffer, bind_buffers, grid_for, params_buffer, shader,
    slots_and_params_layout, specialize, unroll_marked_loops,
};
use crate::kernels::Dispatch;
use crate::shape::Shape;
use std::sync::Arc;

/// Which row pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pass {
    Softmax,
    SoftmaxBackward,
}

fn pipeline(gpu: &Gpu, pass: Pass, plan: &NaivePlan) -> Result<Pipeline> {
    let (s_vec4, rows) = (plan.s_vec4, plan.row_pass);
    gpu.cached((pass, s_vec4, rows), || {
        let rw = Slot::Storage { read_only: false };
        let read = Slot::Storage { read_only: true };
        let (source, slots, p_wgsl): (_, &[Slot], &str) = match pass {
            Pass::Softmax if rows.held.is_some() => (
                shader!("naive/softmax_held.wgsl", "naive/params.wgsl"),
                &[rw],
                "",
            ),
            Pass::Softmax => (
                shader!("naive/softmax.wgsl", "naive/params.wgsl"),
                &[rw],
                "",
            ),
            Pass::SoftmaxBackward => (
                shader!("naive/ds.wgsl", "naive/params.wgsl"),
                &[rw, read, read, read],
                if s_vec4 {
                    include_str!("../../../shaders/naive/p_vec4.wgsl")
                } else {
                    include_str!("../../../shaders/naive/p_scalar.wgsl")
                },
            ),
        };
        let layout = slots_and_params_layout(gpu, "naive row pass", slots);
        let reduce = if rows.subgroup {
            include_str!("../../../shaders/naive/reduce_subgroup.wgsl")
        } else {
            include_str!("../../../shaders/common/workgroup_reduce.wgsl")
        };
        let mut consts = vec![("ROW_WG", rows.invocations)];
        if let (Pass::Softmax, Some(quads)) = (pass, rows.held) {
            consts.push(("QUADS", quads));
        }
        let wgsl = format!(
            "{}{}{p_wgsl}{reduce}",
            specialize(source, &consts)?,
            s_wgsl(s_vec4)
        );
        let wgsl = unroll_marked_loops(&wgsl, &consts)?;
        compile(gpu, source.name, wgsl, layout)
    })
}

/// One workgroup per row of `chunk`, binding `buffers` then the parameters.
fn row_dispatch(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    (plan, shape): (&NaivePlan, &Shape),
    pass: Pass,
    chunk: &ChunkRows,
    buffers: &[&wgpu::Buffer],
) -> Result<(Dispatch, TrackedBuffer)> {
    let p = pipeline(gpu, pass, plan)?;
    let params = params_buffer(
        gpu,
        tracker,
        &format!("naive {pass:?} params[{}]", chunk.index),
        &chunk.params(shape, shape.scale()),
    )?;
    let mut all = buffers.to_vec();
    all.push(&params);
    let bind_group = bind_buffers(gpu, "naive row pass", &p.layout, &all);
    let grid = grid_for(
        chunk.count,
        gpu.limits().max_compute_workgroups_per_dimension,
    )?;
    Ok((
        Dispatch {
            pipeline: p.pipeline,
            bind_group,
            grid,
        },
        params,
    ))
}

/// The softmax of `chunk`'s rows of `s`, in place.
pub(super) fn softmax(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    planned: (&NaivePlan, &Shape),
    chunk: &ChunkRows,
    s: &wgpu::Buffer,
) -> Result<(Dispatch, TrackedBuffer)> {
    row_dispatch(gpu, tracker, planned, Pass::Softmax, chunk, &[s])
}

/// dS = scale·P∘(dP − rowsum(dO∘O)) for `chunk`'s rows, in place of `dp`.
pub(super) fn softmax_backward(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    planned: (&NaivePlan, &Shape),
    chunk: &ChunkRows,
    (dp, p, d_o, o): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
) -> Result<(Dispatch, TrackedBuffer)> {
    row_dispatch(
        gpu,
        tracker,
        planned,
        Pass::SoftmaxBackward,
        chunk,
        &[dp, p, d_o, o],
    )
}
