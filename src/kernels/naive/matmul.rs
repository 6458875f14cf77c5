//! naive's three matrix products over one chunk of the score matrix, in the plan's kernels
//! (`shaders/naive/lanes_*.wgsl` on CPU drivers, `shaders/naive/tiles.wgsl` with a product's
//! mapping elsewhere):
//!
//! - [`Product::Scores`]: S = scale·A·Bᵀ (QKᵀ, dP = dO·Vᵀ), masked, into the chunk;
//! - [`Product::Rows`]: out = scale·S·B (O = P·V, dQ = dS·K), the chunk's rows of out;
//! - [`Product::Columns`]: out (+)= scale·Sᵀ·B (dV = Pᵀ·dO, dK = dSᵀ·Q), every KV head the
//!   chunk's rows read, summed over its query heads and the chunks.

use super::bounds::BOUNDS;
use super::params::{ChunkRows, Params};
use super::plan::{BLoad, NaivePlan, Products, rows_name};
use crate::error::Result;
use crate::gpu::{
    Gpu, Resource, ShaderSource, Slot, TrackedBuffer, bind_resources, grid_for, params_buffer,
    pipeline_layout, shader, slots_and_params_layout, specialize, unroll_marked_loops,
};
use crate::kernels::flash::texel_pair::texel_shift;
use crate::kernels::{Dispatch, workgroup_count};
use crate::shape::Shape;
use std::sync::Arc;

/// One of naive's matrix products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Product {
    /// S = scale·A·Bᵀ into the chunk: A rows of Q (or dO) in binding 2.
    Scores,
    /// out = scale·S·B for the chunk's rows.
    Rows,
    /// out (+)= scale·Sᵀ·B for the KV heads the chunk's rows read.
    Columns,
}

/// The texel rows of `shaders/common/texels.wgsl`, specialized per device.
const TEXELS: ShaderSource = ShaderSource {
    name: "common/texels.wgsl",
    wgsl: include_str!("../../../shaders/common/texels.wgsl"),
};

/// How the lane products read B.
fn b_wgsl(b: BLoad) -> &'static str {
    match b {
        BLoad::Texels => include_str!("../../../shaders/naive/b_texels.wgsl"),
        BLoad::Vec4 => include_str!("../../../shaders/naive/b_vec4.wgsl"),
        BLoad::Scalar => include_str!("../../../shaders/naive/b_scalar.wgsl"),
    }
}

/// How every lane kernel and row pass reads and writes the chunk of scores.
pub(super) fn s_wgsl(vec4: bool) -> &'static str {
    if vec4 {
        include_str!("../../../shaders/naive/s_vec4.wgsl")
    } else {
        include_str!("../../../shaders/naive/s_scalar.wgsl")
    }
}

/// A compiled product and the layout of its bind group: the chunk (read_write), B, A (read)
/// for scores or out (read_write) otherwise, and the parameters.
#[derive(Clone)]
pub(super) struct Pipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

/// `product`'s pipeline in `plan`'s kernels at `head_dim`, compiled once per device.
pub(super) fn pipeline(
    gpu: &Gpu,
    plan: &NaivePlan,
    product: Product,
    head_dim: u32,
) -> Result<Pipeline> {
    let texels = matches!(
        plan.products,
        Products::Lanes {
            b: BLoad::Texels,
            ..
        }
    );
    let shift = if texels { texel_shift(gpu) } else { 0 };
    let key = (product, plan.products, head_dim, plan.s_vec4, shift);
    gpu.cached(key, || {
        let b_slot = if texels {
            Slot::Texels
        } else {
            Slot::Storage { read_only: true }
        };
        let third = Slot::Storage {
            read_only: product == Product::Scores,
        };
        let layout = slots_and_params_layout(
            gpu,
            "naive product",
            &[Slot::Storage { read_only: false }, b_slot, third],
        );
        let (source, wgsl) = match plan.products {
            Products::Lanes {
                subgroup,
                block,
                rows,
                quads,
                b,
                ..
            } => {
                let source = match product {
                    Product::Scores => shader!("naive/lanes_scores.wgsl", "naive/params.wgsl"),
                    Product::Rows => shader!("naive/lanes_rows.wgsl", "naive/params.wgsl"),
                    Product::Columns => shader!("naive/lanes_columns.wgsl", "naive/params.wgsl"),
                };
                let per = if product == Product::Columns {
                    ("QUADS", quads)
                } else {
                    ("ROWS", rows)
                };
                let consts = [per, ("D", head_dim), ("SG", subgroup), ("BLOCK", block)];
                let mut wgsl = specialize(source, &consts)?;
                wgsl.push_str(b_wgsl(b));
                wgsl.push_str(s_wgsl(plan.s_vec4));
                if texels {
                    wgsl.push_str(&specialize(TEXELS, &[("TEXEL_SHIFT", shift)])?);
                }
                let slots = head_dim.div_ceil(subgroup);
                let mut all = consts.to_vec();
                all.extend([("SLOTS", slots), ("KEYS", 4 * quads)]);
                (source, unroll_marked_loops(&wgsl, &all)?)
            }
            Products::Tiles { tm, tn, wx, wy, bk } => {
                let source = match product {
                    Product::Scores => shader!(
                        "naive/tiles.wgsl",
                        "naive/params.wgsl",
                        "naive/tiles_scores.wgsl"
                    ),
                    Product::Rows => shader!(
                        "naive/tiles.wgsl",
                        "naive/params.wgsl",
                        "naive/tiles_rows.wgsl"
                    ),
                    Product::Columns => shader!(
                        "naive/tiles.wgsl",
                        "naive/params.wgsl",
                        "naive/tiles_columns.wgsl"
                    ),
                };
                let consts = [("TM", tm), ("TN", tn), ("WX", wx), ("WY", wy), ("BK", bk)];
                (
                    source,
                    unroll_marked_loops(&specialize(source, &consts)?, &consts)?,
                )
            }
        };
        compile(gpu, source.name, wgsl, layout)
    })
}

/// naive's pipeline of `wgsl` (entry point `main`, named `name`) on `layout`: every naive
/// shader is in bounds by construction ([`BOUNDS`]).
pub(super) fn compile(
    gpu: &Gpu,
    name: &'static str,
    wgsl: String,
    layout: wgpu::BindGroupLayout,
) -> Result<Pipeline> {
    let pipeline = gpu.compile_text(
        BOUNDS,
        name,
        wgsl,
        "main",
        Some(&pipeline_layout(gpu, &layout)),
        &[],
    )?;
    Ok(Pipeline { layout, pipeline })
}

/// The workgroups of `product` over `chunk`: the parameters' first head, blocks per head,
/// key (or column) blocks per block, and the workgroups that do work.
fn grid_params(
    plan: &NaivePlan,
    shape: &Shape,
    product: Product,
    chunk: &ChunkRows,
    scale: f32,
) -> Result<Params> {
    let n = shape.seq_len;
    let d = shape.head_dim;
    let (first_head, heads) = match product {
        Product::Scores | Product::Rows => chunk.heads(shape),
        Product::Columns => chunk.kv_heads(shape),
    };
    let (rows_per_block, blocks2, key_block) = match plan.products {
        Products::Lanes {
            block,
            rows,
            quads,
            key_block,
            ..
        } => match product {
            Product::Scores => (block * rows, n.div_ceil(key_block), key_block),
            Product::Rows => (block * rows, 1, 0),
            Product::Columns => (block * 4 * quads, 1, 0),
        },
        Products::Tiles { tm, tn, wx, wy, .. } => {
            let (bm, bn) = (tm * wy, tn * wx);
            match product {
                Product::Scores => (bm, n.div_ceil(bn), bn),
                Product::Rows | Product::Columns => (bm, d.div_ceil(bn), bn),
            }
        }
    };
    let blocks = n.div_ceil(rows_per_block);
    let groups = heads * u64::from(blocks) * u64::from(blocks2);
    Ok(Params {
        first_head: first_head as u32,
        blocks,
        key_blocks: blocks2,
        key_block,
        total_groups: workgroup_count(rows_name(plan.rows), shape, groups)?,
        ..chunk.params(shape, scale)
    })
}

/// The dispatch of `product` over `chunk` with `scale`, binding the chunk of scores `s`,
/// `b` and `third` (A for scores, out otherwise), and the parameter buffer it binds.
#[allow(clippy::too_many_arguments)]
pub(super) fn dispatch(
    gpu: &Gpu,
    tracker: &Arc<crate::gpu::BufferTracker>,
    (plan, shape): (&NaivePlan, &Shape),
    product: Product,
    chunk: &ChunkRows,
    scale: f32,
    (s, b, third): (&wgpu::Buffer, Resource<'_>, &wgpu::Buffer),
) -> Result<(Dispatch, TrackedBuffer)> {
    let p = pipeline(gpu, plan, product, shape.head_dim)?;
    let values = grid_params(plan, shape, product, chunk, scale)?;
    let label = format!("naive {product:?} params[{}]", chunk.index);
    let params = params_buffer(gpu, tracker, &label, &values)?;
    let bind_group = bind_resources(
        gpu,
        "naive product",
        &p.layout,
        &[
            Resource::Buffer(s),
            b,
            Resource::Buffer(third),
            Resource::Buffer(&params),
        ],
    );
    let grid = grid_for(
        u64::from(values.total_groups),
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
