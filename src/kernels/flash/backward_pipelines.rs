//! The pipelines of flash's backward: `shaders/flash/backward_stats.wgsl` and the two main
//! kernels (`shaders/flash/backward_dq.wgsl`, `shaders/flash/backward_dkdv.wgsl`),
//! specialized per layout and head dim, with the loads of the tensors they read generated
//! per source (buffer or texel array).

use super::backward_layout::{BackwardKind, BackwardLayout};
use super::bounds::BOUNDS;
use super::config::LaneSum;
use super::pipelines::lane_sum_wgsl;
use super::texel_pair::texel_shift;
use crate::error::Result;
use crate::gpu::{
    Gpu, Slot, pipeline_layout, shader, slots_and_params_layout, specialize,
    storage_and_params_layout, unroll_marked_loops,
};
use crate::shape::Shape;

/// Loads of the tensors `(name, binding, from_texels)` for the backward shaders: a binding
/// each and `NAME_quad(base, i4, stop)` (floats base + 4·i4 …, zero at or past `stop`) and
/// `NAME_at(f)`; a texel array read with `textureLoad` where `from_texels` (`common/texels.wgsl`),
/// else a read-only storage buffer, of vec4s where the head dim is a multiple of 4. Every
/// load is in bounds: `stop` (≥ 4, a multiple of 4 for vec4 and texel loads) lies within
/// the tensor, and reads at or past it are clamped below it and zeroed.
fn tensor_loads(tensors: &[(&str, u32, bool)], vec4: bool) -> String {
    let mut out = String::new();
    for &(name, binding, from_texels) in tensors {
        if from_texels {
            out.push_str(&format!(
                "@group(0) @binding({binding}) var {name}_texels: texture_2d<f32>;\n\
                 fn {name}_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {{\n\
                 \x20   let f = base + 4u * i4;\n\
                 \x20   return select(vec4<f32>(0.0), textureLoad({name}_texels, texel_at(min(f, stop - 4u) / 4u), 0), f < stop);\n\
                 }}\n\
                 fn {name}_at(f: u32) -> f32 {{ return textureLoad({name}_texels, texel_at(f / 4u), 0)[f % 4u]; }}\n"
            ));
        } else if vec4 {
            out.push_str(&format!(
                "@group(0) @binding({binding}) var<storage, read> {name}: array<vec4<f32>>;\n\
                 fn {name}_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {{\n\
                 \x20   let f = base + 4u * i4;\n\
                 \x20   return select(vec4<f32>(0.0), {name}[min(f, stop - 4u) / 4u], f < stop);\n\
                 }}\n\
                 fn {name}_at(f: u32) -> f32 {{ return {name}[f / 4u][f % 4u]; }}\n"
            ));
        } else {
            out.push_str(&format!(
                "@group(0) @binding({binding}) var<storage, read> {name}: array<f32>;\n\
                 fn {name}_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {{\n\
                 \x20   var r = vec4<f32>(0.0);\n\
                 \x20   for (var t = 0u; t < 4u; t++) {{\n\
                 \x20       let f = base + 4u * i4 + t;\n\
                 \x20       if (f < stop) {{ r[t] = {name}[f]; }}\n\
                 \x20   }}\n\
                 \x20   return r;\n\
                 }}\n\
                 fn {name}_at(f: u32) -> f32 {{ return {name}[f]; }}\n"
            ));
        }
    }
    out
}

/// A pipeline and its bind group layout.
#[derive(Clone)]
pub(super) struct Pipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

/// What a backward pipeline is specialized to: its cache key on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum PipelineKey {
    /// A broadcast main kernel.
    Broadcast {
        which: Main,
        layout: BackwardLayout,
        head_dim: u32,
        vec4: bool,
    },
    /// A tile main kernel.
    Tiles {
        which: Main,
        layout: BackwardLayout,
        head_dim: u32,
        vec4: bool,
        lane_sum: LaneSum,
    },
    /// The stats pre-pass.
    Stats,
}

/// Which of the two main kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Main {
    /// dQ over query blocks, streaming K and V.
    Dq,
    /// dK and dV over key blocks, streaming Q and dO.
    DkDv,
}

/// The pipeline of one of the two main kernels for `layout` at `head_dim`: the broadcast
/// kernels, specialized to the subgroup size and unrolled, or [`tiles_pipeline`].
pub(super) fn main_pipeline(
    gpu: &Gpu,
    which: Main,
    layout: BackwardLayout,
    head_dim: u32,
) -> Result<Pipeline> {
    if layout.kind == BackwardKind::Tiles {
        return tiles_pipeline(gpu, which, layout, head_dim);
    }
    let vec4 = head_dim.is_multiple_of(4);
    let (source, rows, outputs) = match which {
        Main::Dq => (
            shader!(
                "flash/backward_dq.wgsl",
                "flash/backward_params.wgsl",
                "common/texels.wgsl"
            ),
            layout.dq_rows,
            1,
        ),
        Main::DkDv => (
            shader!(
                "flash/backward_dkdv.wgsl",
                "flash/backward_params.wgsl",
                "common/texels.wgsl"
            ),
            layout.dkdv_rows,
            2,
        ),
    };
    // The rows each kernel streams, from texels where the layout says so.
    let streamed = |name: &str| {
        layout.texels
            && match which {
                Main::Dq => name == "k" || name == "v",
                Main::DkDv => name == "q" || name == "d_o",
            }
    };
    let tensors = [("q", 0), ("k", 1), ("v", 2), ("d_o", 3)]
        .map(|(name, binding)| (name, binding, streamed(name)));
    let key = PipelineKey::Broadcast {
        which,
        layout,
        head_dim,
        vec4,
    };
    gpu.cached(key, || {
        let mut slots: Vec<Slot> = tensors
            .iter()
            .map(|&(_, _, from_texels)| {
                if from_texels {
                    Slot::Texels
                } else {
                    Slot::Storage { read_only: true }
                }
            })
            .collect();
        slots.push(Slot::Storage { read_only: true });
        slots.extend(std::iter::repeat_n(
            Slot::Storage { read_only: false },
            outputs,
        ));
        let bind_layout = slots_and_params_layout(gpu, "flash backward", &slots);
        let consts = [
            ("ROWS", rows),
            ("D", head_dim),
            ("SG", layout.lanes),
            ("SLOTS", head_dim.div_ceil(layout.lanes)),
        ];
        let mut specialized = consts[..3].to_vec();
        specialized.push(("TEXEL_SHIFT", texel_shift(gpu)));
        let mut wgsl = specialize(source, &specialized)?;
        wgsl.push_str(&tensor_loads(&tensors, vec4));
        let wgsl = unroll_marked_loops(&wgsl, &consts)?;
        let pipeline = gpu.compile_text(
            BOUNDS,
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &bind_layout)),
            &[("BLOCK", f64::from(layout.block))],
        )?;
        Ok(Pipeline {
            layout: bind_layout,
            pipeline,
        })
    })
}

/// The pipeline of one of the two tile kernels (`flash_backward_*_tiles.wgsl`) for
/// `layout` at `head_dim`: streamed rows from buffers, lanes summed as the device allows.
fn tiles_pipeline(
    gpu: &Gpu,
    which: Main,
    layout: BackwardLayout,
    head_dim: u32,
) -> Result<Pipeline> {
    let vec4 = head_dim.is_multiple_of(4);
    let lane_sum = layout.lane_sum(gpu.facts());
    let key = PipelineKey::Tiles {
        which,
        layout,
        head_dim,
        vec4,
        lane_sum,
    };
    gpu.cached(key, || {
        let (source, rows, outputs) = match which {
            Main::Dq => (
                shader!("flash/backward_dq_tiles.wgsl", "flash/backward_params.wgsl"),
                layout.dq_rows,
                1,
            ),
            Main::DkDv => (
                shader!(
                    "flash/backward_dkdv_tiles.wgsl",
                    "flash/backward_params.wgsl"
                ),
                layout.dkdv_rows,
                2,
            ),
        };
        let mut slots = vec![Slot::Storage { read_only: true }; 5];
        slots.extend(std::iter::repeat_n(
            Slot::Storage { read_only: false },
            outputs,
        ));
        let bind_layout = slots_and_params_layout(gpu, "flash backward", &slots);
        let mut wgsl = specialize(
            source,
            &[
                ("ROWS", rows),
                ("D4", head_dim.div_ceil(4)),
                ("LANES", layout.lanes),
                ("GROUPS", layout.block / layout.lanes),
            ],
        )?;
        let tensors = [
            ("q", 0, false),
            ("k", 1, false),
            ("v", 2, false),
            ("d_o", 3, false),
        ];
        wgsl.push_str(&tensor_loads(&tensors, vec4));
        wgsl.push_str(&lane_sum_wgsl(lane_sum));
        let pipeline = gpu.compile_text(
            BOUNDS,
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &bind_layout)),
            &[
                ("BLOCK_Q", f64::from(layout.block)),
                ("BLOCK_KV", f64::from(layout.tile)),
            ],
        )?;
        Ok(Pipeline {
            layout: bind_layout,
            pipeline,
        })
    })
}

/// The pipeline of D = rowsum(dO ∘ O), stored with L four rows per vec4.
pub(super) fn stats_pipeline(gpu: &Gpu) -> Result<Pipeline> {
    gpu.cached(PipelineKey::Stats, || {
        let layout = storage_and_params_layout(gpu, "flash stats", &[true, true, true, false]);
        let source = shader!("flash/backward_stats.wgsl", "flash/backward_params.wgsl");
        let pipeline = gpu.compile_text(
            BOUNDS,
            source.name,
            source.wgsl.to_string(),
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &[],
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}

/// Bytes of the stats buffer: L and D of every row, rows padded to a multiple of 4 per head.
pub(super) fn stats_bytes(shape: &Shape) -> u64 {
    shape.batch_heads() * u64::from(shape.seq_len).next_multiple_of(4) * 2 * 4
}

/// Invocations per workgroup of the stats kernel.
pub(super) const STATS_THREADS: u64 = 256;
