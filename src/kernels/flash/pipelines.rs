//! Flash's compute pipelines: `shaders/flash/tiles.wgsl` (workgroup tiles, f32 or f16 tiles),
//! and `shaders/flash/lanes.wgsl` (subgroup broadcast, K/V from buffers or texel arrays),
//! specialized per configuration and head dim and cached on the device.

use super::bounds::BOUNDS;
use super::config::{FlashConfig, KvSource, LaneSum, fixed_subgroup_size};
use super::texel_pair::texel_shift;
use crate::error::{Error, Result};
use crate::gpu::{
    Gpu, Slot, pipeline_layout, shader, slots_and_params_layout, specialize,
    storage_and_params_layout, unroll_marked_loops,
};
use crate::kernels::Precision;

/// What a flash forward pipeline is specialized to: its cache key on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum PipelineKey {
    /// `tiles.wgsl`.
    Tiles {
        precision: Precision,
        config: FlashConfig,
        d4: u32,
        vec4: bool,
        lane_sum: LaneSum,
    },
    /// `split.wgsl`.
    Split {
        config: FlashConfig,
        d4: u32,
        vec4: bool,
        lane_sum: LaneSum,
    },
    /// `lanes.wgsl`.
    Broadcast {
        config: FlashConfig,
        head_dim: u32,
        subgroup: u32,
    },
}

#[derive(Clone)]
pub(super) struct Pipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

pub(super) fn pipeline(
    gpu: &Gpu,
    config: FlashConfig,
    head_dim: u32,
    precision: Precision,
) -> Result<Pipeline> {
    if config.kv.is_broadcast() {
        return broadcast_pipeline(gpu, config, head_dim);
    }
    if let KvSource::KeySplit { key_lanes } = config.kv {
        return split_pipeline(gpu, config, key_lanes, head_dim);
    }
    let d4 = head_dim.div_ceil(4);
    let lane_sum = config.lane_sum(gpu.facts());
    // The K/V load variant depends on whether head_dim is a multiple of 4.
    let key = PipelineKey::Tiles {
        precision,
        config,
        d4,
        vec4: head_dim.is_multiple_of(4),
        lane_sum,
    };
    gpu.cached(key, || {
        let layout = storage_and_params_layout(gpu, "flash", &[true, true, true, false, false]);
        let constants = [
            ("BLOCK_Q", f64::from(config.block_q)),
            ("BLOCK_KV", f64::from(config.block_kv)),
        ];
        // K/V loads: one vec4 per four floats where head_dim allows.
        let source = if head_dim.is_multiple_of(4) {
            shader!(
                "flash/tiles.wgsl",
                "flash/params.wgsl",
                "common/kv_quads_vec4.wgsl"
            )
        } else {
            shader!(
                "flash/tiles.wgsl",
                "flash/params.wgsl",
                "common/kv_quads_scalar.wgsl"
            )
        };
        let mut wgsl = specialize(
            source,
            &[
                ("ROWS", config.rows),
                ("D4", d4),
                ("LANES", config.lanes),
                ("GROUPS", config.block_q / config.lanes),
            ],
        )?;
        wgsl.push_str(&lane_sum_wgsl(lane_sum));
        if precision == Precision::F16 {
            const F32_ALIAS: &str = "alias kv4 = vec4<f32>;";
            if !wgsl.contains(F32_ALIAS) {
                return Err(Error::Gpu {
                    during: "specializing flash/tiles.wgsl for f16".into(),
                    message: format!("expected the line `{F32_ALIAS}`"),
                });
            }
            wgsl = format!(
                "enable f16;\n{}",
                wgsl.replace(F32_ALIAS, "alias kv4 = vec4<f16>;")
            );
        }
        let pipeline = gpu.compile_text(
            BOUNDS,
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &constants,
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}

/// The `shaders/flash/split.wgsl` pipeline: specialized to the configuration and head
/// dimension, its register loops unrolled, the lanes' sum as the device allows.
fn split_pipeline(
    gpu: &Gpu,
    config: FlashConfig,
    key_lanes: u32,
    head_dim: u32,
) -> Result<Pipeline> {
    let d4 = head_dim.div_ceil(4);
    let lane_sum = config.lane_sum(gpu.facts());
    let vec4 = head_dim.is_multiple_of(4);
    let key = PipelineKey::Split {
        config,
        d4,
        vec4,
        lane_sum,
    };
    gpu.cached(key, || {
        let layout = storage_and_params_layout(gpu, "flash", &[true, true, true, false, false]);
        let source = if vec4 {
            shader!(
                "flash/split.wgsl",
                "flash/params.wgsl",
                "common/kv_quads_vec4.wgsl"
            )
        } else {
            shader!(
                "flash/split.wgsl",
                "flash/params.wgsl",
                "common/kv_quads_scalar.wgsl"
            )
        };
        let kpt4 = config.keys_per_lane4();
        let consts = [
            ("ROWS", config.rows),
            ("D4", d4),
            ("LANES", config.lanes),
            ("KL", key_lanes),
            ("BKV", config.block_kv),
            ("GROUPS", config.block_q / (key_lanes * config.lanes)),
            ("DL", d4.div_ceil(config.lanes)),
            ("KPT4", kpt4),
            ("RK4", config.rows * kpt4),
        ];
        let mut wgsl = unroll_marked_loops(&specialize(source, &consts)?, &consts)?;
        wgsl.push_str(&lane_sum_wgsl(lane_sum));
        let pipeline = gpu.compile_text(
            BOUNDS,
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &[("BLOCK_Q", f64::from(config.block_q))],
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}

/// The `lane_sum` of flash's tile kernels for `lane_sum` — none where a lane holds whole
/// rows (no subgroup operation: runs without subgroups), a subgroup butterfly, or a sum
/// through workgroup memory (any subgroup size, or none) — with the lane numbering it
/// needs ([`lane_ids_wgsl`]: by subgroup for the butterfly).
pub fn lane_sum_wgsl(lane_sum: LaneSum) -> String {
    format!(
        "{}{}",
        lane_sum_fn_wgsl(lane_sum),
        lane_ids_wgsl(lane_sum == LaneSum::Subgroup)
    )
}

/// The `lane_sum` function alone, for a kernel that numbers its lanes itself.
pub fn lane_sum_fn_wgsl(lane_sum: LaneSum) -> &'static str {
    match lane_sum {
        LaneSum::Whole => include_str!("../../../shaders/flash/lane_sum_none.wgsl"),
        LaneSum::Subgroup => include_str!("../../../shaders/flash/lane_sum_subgroup.wgsl"),
        LaneSum::Workgroup => include_str!("../../../shaders/flash/lane_sum_workgroup.wgsl"),
    }
}

/// The lane numbering a kernel assigns its work by (`LaneIds`, `lane_index`): by subgroup
/// (`subgroup_id · subgroup_size + subgroup_invocation_id`) where lanes meet in subgroup
/// operations, else the local invocation index (no subgroup builtin: runs without
/// subgroups).
pub fn lane_ids_wgsl(by_subgroup: bool) -> &'static str {
    if by_subgroup {
        include_str!("../../../shaders/flash/lane_ids_subgroup.wgsl")
    } else {
        include_str!("../../../shaders/flash/lane_ids_local.wgsl")
    }
}

/// The `shaders/flash/lanes.wgsl` pipeline: specialized to the head dimension, rows and
/// subgroup size (and with texel arrays the texture row width), then unrolled.
fn broadcast_pipeline(gpu: &Gpu, config: FlashConfig, head_dim: u32) -> Result<Pipeline> {
    let sg = fixed_subgroup_size(gpu)?;
    let key = PipelineKey::Broadcast {
        config,
        head_dim,
        subgroup: sg,
    };
    gpu.cached(key, || {
        let texels = config.kv == KvSource::TexelBroadcast;
        let kv_slot = if texels {
            Slot::Texels
        } else {
            Slot::Storage { read_only: true }
        };
        let layout = slots_and_params_layout(
            gpu,
            "flash",
            &[
                Slot::Storage { read_only: true },
                kv_slot,
                kv_slot,
                Slot::Storage { read_only: false },
                Slot::Storage { read_only: false },
            ],
        );
        let source = if texels {
            shader!(
                "flash/lanes.wgsl",
                "flash/params.wgsl",
                "common/texels.wgsl",
                "common/kv_quads_texels.wgsl"
            )
        } else if head_dim.is_multiple_of(4) {
            shader!(
                "flash/lanes.wgsl",
                "flash/params.wgsl",
                "common/kv_quads_vec4.wgsl"
            )
        } else {
            shader!(
                "flash/lanes.wgsl",
                "flash/params.wgsl",
                "common/kv_quads_scalar.wgsl"
            )
        };
        let consts = [
            ("ROWS", config.rows),
            ("D", head_dim),
            ("SG", sg),
            ("SLOTS", head_dim.div_ceil(sg)),
        ];
        let mut specialized = consts[..3].to_vec();
        if texels {
            specialized.push(("TEXEL_SHIFT", texel_shift(gpu)));
        }
        let wgsl = unroll_marked_loops(&specialize(source, &specialized)?, &consts)?;
        let pipeline = gpu.compile_text(
            BOUNDS,
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &[("BLOCK_Q", f64::from(config.block_q))],
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}
