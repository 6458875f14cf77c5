//! `flash`: fused attention with the online softmax, in two shader variants that differ
//! only in how K and V reach the invocations ([`KvSource`]):
//!
//! - `shaders/flash.wgsl` ([`KvSource::WorkgroupTiles`], the GPU kernel): each workgroup
//!   owns `block_q · rows` query rows of one (batch, head); each invocation holds `rows`
//!   rows' queries and accumulators in registers; K/V tiles of `block_kv` keys stream
//!   through workgroup memory.
//! - `shaders/flash_lanes.wgsl` ([`KvSource::SubgroupBroadcast`], for CPU drivers): no
//!   workgroup memory; the lanes of a subgroup load four keys cooperatively and share them
//!   with `subgroupBroadcast`; loops are unrolled (`src/gpu/unroll.rs`) so every register
//!   index and lane is a constant.
//!
//! Memory is Q, K, V, O and the parameters: O(B·H·n·d), never n×n. Causal runs skip the keys
//! past each block's last query. The configuration comes from
//! [`FlashConfig::default_for`]: an override, the device's tuned choice
//! (`attnbench tune`, `results/<device>/tuning.json`), or a default per driver type.
//!
//! Measured ladder: lavapipe (llvmpipe, LLVM 15, 2 cores), d = 64, GPU timestamps,
//! `attnbench run --kernel flash --seq-len N --head-dim 64 [--batch 2 --heads 4]`
//! (`ATTNBENCH_FLASH_TILES` pins a configuration); probed f32 FMA peak ~90–96 GFLOP/s:
//!
//! | version | idea | GFLOP/s |
//! |---|---|---:|
//! | v1 (commit 1eaec13) | one row per invocation, a private array of the tile's scores | 3.0 (n = 4096) |
//! | v2 | four keys per step, scores in one vec4, one rescale per four keys | 3.4 (n = 4096) |
//! | v3 (commit 690f74f) | register tiling: 8 rows per invocation, each tile read serves 8 rows | 12.5 (n = 4096; 12.5 at B·H = 8) |
//! | v4 | K/V shared by subgroupBroadcast from constant lanes, loops unrolled, scalar loads | 25.7 (n = 2048) |
//! | v5 (current) | the same with one vec4 load per four floats; 4 rows, 32 invocations | 32.6 (n = 2048); **47.0 at B·H = 8, n = 4096 (49% of peak)** |
//!
//! Why v4 pays (from the JIT's disassembly under `perf`): lavapipe turns every load from
//! workgroup or storage memory into a loop over the 8 SIMD lanes (mask test, bounds check,
//! one masked broadcast per component), so v3 paid that loop once per K/V element per
//! invocation. v4 pays it once per 8 elements and shares them with register shuffles.
//!
//! What did not help: in v3, subgroupShuffle from per-lane registers indexed by loop
//! variables (12.8: a private array indexed by a variable is itself memory on lavapipe);
//! unrolling v3's column loops (1.1×); 8 rows per invocation in v5 (~10% faster at
//! 4 heads, but lavapipe needs 42 s to compile it with a cold shader cache, 9 s for 4 rows
//! and 183 s for 4 rows at d = 256; hence [`MAX_BROADCAST_REGISTERS`]). 16 rows per
//! invocation in v3 computed wrong results (probably its row loops, no longer unrolled,
//! then pass the loop cap below),
//! hence [`max_rows`].
//!
//! Causal: lavapipe splits a dispatch's workgroups into contiguous ranges per thread, so
//! causal blocks (whose work grows with their index) are handed out in pairs short/long;
//! causal then ran 1.61× faster than non-causal at n = 2048 in v3 (1.14× before).
//! f16 (`flash_f16`, workgroup tiles only): 10.9 GFLOP/s at n = 2048 on lavapipe, which
//! emulates f16 arithmetic.
//!
//! Lavapipe also stops every loop of an invocation after 65 535 iterations in all (gallivm's
//! loop limiter); past that a kernel silently returns wrong results (v3 did from
//! n ≈ 7 600 at d = 64). So on such drivers the keys are split into passes of
//! [`FlashConfig::keys_per_pass`] keys (tiles at d = 64: ~6 000; broadcast, whose key loop
//! is the only loop left: ~235 000), each row's running (m, l, accumulator) kept in a state
//! buffer between passes: still O(n·d) memory.

use super::{
    AttentionBuffers, Dispatch, Dispatches, Kernel, PreparedKernel, bind_buffers, io_plan,
    params_buffer, pipeline_layout, shader, storage_and_params_layout, workgroup_count,
};
use crate::error::{Error, Result};
use crate::gpu::{BufferTracker, Gpu, MemoryPlan, grid_for, specialize, unroll_marked_loops};
use crate::shape::Shape;
use std::sync::Arc;

/// The flash kernel, in one of two precisions.
#[derive(Debug)]
pub struct Flash {
    /// Element type of the K/V tiles, query registers and Q·Kᵀ arithmetic.
    pub precision: Precision,
    /// Fixed tiles (the tuner's candidates); `None`: [`FlashConfig::default_for`].
    pub config: Option<FlashConfig>,
    /// At most this many keys per pass, as if the driver capped loops harder (tests use it
    /// to cross pass boundaries at small n); `None`: only the driver's cap splits.
    pub max_pass_keys: Option<u32>,
}

impl Flash {
    /// Flash in `precision` with the tiles fixed to `config`.
    pub fn with_config(precision: Precision, config: FlashConfig) -> Flash {
        Flash {
            precision,
            config: Some(config),
            max_pass_keys: None,
        }
    }

    /// Passes over the keys for `shape` with `config` on `gpu`.
    fn passes(&self, config: &FlashConfig, shape: &Shape, gpu: &Gpu) -> Result<u64> {
        let by_driver = config.passes(shape, gpu.shader_loop_cap())?;
        let by_request = self.max_pass_keys.map_or(1, |keys| {
            let keys = u64::from(keys).next_multiple_of(u64::from(config.block_kv));
            u64::from(shape.seq_len).div_ceil(keys)
        });
        Ok(by_driver.max(by_request))
    }

    /// The tiles this kernel uses for `shape` on `gpu`.
    pub fn config_for(&self, shape: &Shape, gpu: &Gpu) -> Result<FlashConfig> {
        match self.config {
            Some(config) => Ok(config),
            None => FlashConfig::default_for(shape, gpu, self.precision),
        }
    }
}

/// Element type of flash's tiles and score arithmetic (softmax state and the output
/// accumulator are always f32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout.
    F32,
    /// f16 tiles and Q·Kᵀ (needs SHADER_F16).
    F16,
}

/// `flash`: f32.
pub static FLASH: Flash = Flash {
    precision: Precision::F32,
    config: None,
    max_pass_keys: None,
};

/// `flash_f16`: f16 K/V tiles and Q·Kᵀ, f32 softmax and accumulation.
pub static FLASH_F16: Flash = Flash {
    precision: Precision::F16,
    config: None,
    max_pass_keys: None,
};

/// Most keys per tile the tuner tries.
const MAX_BLOCK_KV: u32 = 128;

/// How K and V reach the invocations of a workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvSource {
    /// Tiles of `block_kv` keys staged in workgroup memory (`shaders/flash.wgsl`): the
    /// classic GPU kernel.
    WorkgroupTiles,
    /// Four keys per step loaded cooperatively by the lanes of a subgroup and shared with
    /// `subgroupBroadcast` (`shaders/flash_lanes.wgsl`): for CPU drivers, where each memory
    /// load is a loop over the SIMD lanes. Needs SUBGROUP with one fixed subgroup size.
    SubgroupBroadcast,
}

/// Tile sizes of one flash pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FlashConfig {
    /// Where K/V are shared from.
    pub kv: KvSource,
    /// Invocations per workgroup.
    pub block_q: u32,
    /// Query rows per invocation (register tiling).
    pub rows: u32,
    /// Keys per K/V tile in workgroup memory (always 4 with [`KvSource::SubgroupBroadcast`]).
    pub block_kv: u32,
}

impl std::fmt::Display for FlashConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kv {
            KvSource::WorkgroupTiles => {
                write!(f, "tiles,{},{},{}", self.block_q, self.rows, self.block_kv)
            }
            KvSource::SubgroupBroadcast => {
                write!(f, "broadcast,{},{}", self.block_q, self.rows)
            }
        }
    }
}

impl FlashConfig {
    /// Bytes of workgroup memory the K and V tiles take for `head_dim`.
    pub fn workgroup_bytes(&self, head_dim: u32) -> u32 {
        match self.kv {
            KvSource::WorkgroupTiles => 2 * self.block_kv * head_dim.div_ceil(4) * 16,
            KvSource::SubgroupBroadcast => 0,
        }
    }

    /// The configuration flash uses for `shape` on `gpu`, first found of:
    /// 1. `ATTNBENCH_FLASH_TILES` (see [`FlashConfig::parse`]);
    /// 2. the device's tuned choice for this kernel and head dim ([`crate::tuning`], from
    ///    `attnbench tune`), when it is valid for the shape;
    /// 3. on CPU drivers with a fixed subgroup size, f32: subgroup broadcast with
    ///    4 subgroups per workgroup and up to 4 rows per invocation (lavapipe, d = 64,
    ///    n = 2048: 33 ms against 86 ms for the best workgroup tiles);
    /// 4. workgroup tiles ([`FlashConfig::for_shape`]), with several rows per invocation
    ///    on CPU drivers, where each workgroup-memory read costs many FMAs.
    pub fn default_for(shape: &Shape, gpu: &Gpu, precision: Precision) -> Result<FlashConfig> {
        if let Some(config) = Self::from_env()? {
            return Ok(config);
        }
        let tuned = gpu
            .tuned(kernel_name(precision), shape.head_dim)
            .and_then(|text| Self::parse(&text).ok())
            .filter(|config| config.validate(shape, gpu, precision).is_ok());
        if let Some(config) = tuned {
            return Ok(config);
        }
        let cpu = gpu.summary().device_type == "Cpu";
        if cpu && let Ok(sg) = fixed_subgroup_size(gpu) {
            let broadcast = FlashConfig {
                kv: KvSource::SubgroupBroadcast,
                block_q: 4 * sg,
                rows: (256 / shape.head_dim).clamp(1, 4),
                block_kv: 4,
            };
            if broadcast.validate(shape, gpu, precision).is_ok() {
                return Ok(broadcast);
            }
        }
        let mut config = Self::for_shape(shape, &gpu.limits())?;
        if cpu {
            config.rows = max_rows(shape.head_dim).min(8);
        }
        Ok(config)
    }

    /// The `ATTNBENCH_FLASH_TILES` override, parsed and checked ([`FlashConfig::parse`]);
    /// `None` when unset. A malformed value is an [`Error::InvalidSetting`] naming the
    /// variable, before any work is done with it.
    pub fn from_env() -> Result<Option<FlashConfig>> {
        let Some(text) = std::env::var("ATTNBENCH_FLASH_TILES")
            .ok()
            .filter(|t| !t.trim().is_empty())
        else {
            return Ok(None);
        };
        Self::parse(&text).map(Some).map_err(|e| match e {
            Error::InvalidSetting {
                value, expected, ..
            } => Error::InvalidSetting {
                what: "ATTNBENCH_FLASH_TILES".into(),
                value,
                expected,
            },
            other => other,
        })
    }

    /// Parses the [`Display`](std::fmt::Display) form: `tiles,block_q,rows,block_kv` (e.g.
    /// `tiles,64,8,32`) or `broadcast,block_q,rows` (e.g. `broadcast,8,8`); a bare
    /// `block_q,rows,block_kv` means tiles. The `ATTNBENCH_FLASH_TILES` override and the
    /// text form in `tuning.json`.
    ///
    /// Everything that does not depend on the device is checked here: `block_q` in
    /// 1..=1024, `rows` in 1..=16, and for tiles `block_kv` a multiple of 4 (the shader
    /// consumes keys four at a time) in 4..=128. [`FlashConfig::validate`] then checks the
    /// device and the shape.
    pub fn parse(text: &str) -> Result<FlashConfig> {
        let invalid = |why: &str| Error::InvalidSetting {
            what: "flash tile configuration".into(),
            value: text.into(),
            expected: format!(
                "{why}tiles,BLOCK_Q,ROWS,BLOCK_KV (e.g. tiles,64,8,32) or broadcast,BLOCK_Q,ROWS (e.g. broadcast,32,4)"
            ),
        };
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let all_numbers = |fs: &[&str]| -> Option<Vec<u32>> {
            fs.iter().map(|v| v.parse::<u32>().ok()).collect()
        };
        let config = match fields.as_slice() {
            ["broadcast", rest @ ..] => match all_numbers(rest).as_deref() {
                Some(&[block_q, rows]) => FlashConfig {
                    kv: KvSource::SubgroupBroadcast,
                    block_q,
                    rows,
                    block_kv: 4,
                },
                _ => return Err(invalid("")),
            },
            // The older form without a prefix means tiles.
            ["tiles", rest @ ..] | rest @ [_, _, _] => match all_numbers(rest).as_deref() {
                Some(&[block_q, rows, block_kv]) => FlashConfig {
                    kv: KvSource::WorkgroupTiles,
                    block_q,
                    rows,
                    block_kv,
                },
                _ => return Err(invalid("")),
            },
            _ => return Err(invalid("")),
        };
        if !(1..=1024).contains(&config.block_q) {
            return Err(invalid("BLOCK_Q must be in 1..=1024; "));
        }
        if !(1..=16).contains(&config.rows) {
            return Err(invalid("ROWS must be in 1..=16; "));
        }
        if config.block_kv == 0 || config.block_kv > MAX_BLOCK_KV || config.block_kv % 4 != 0 {
            return Err(invalid(
                "BLOCK_KV must be a multiple of 4 in 4..=128 (keys are consumed four at a time); ",
            ));
        }
        Ok(config)
    }

    /// Tiles that fit `limits`, one row per invocation.
    pub fn for_shape(shape: &Shape, limits: &wgpu::Limits) -> Result<FlashConfig> {
        let block_q = 64.min(limits.max_compute_invocations_per_workgroup);
        let per_key = FlashConfig {
            kv: KvSource::WorkgroupTiles,
            block_q,
            rows: 1,
            block_kv: 1,
        }
        .workgroup_bytes(shape.head_dim);
        // A multiple of 4: the shader consumes keys four at a time.
        let block_kv = (limits.max_compute_workgroup_storage_size / per_key).min(32) / 4 * 4;
        if block_kv == 0 {
            return Err(Error::Unsupported {
                kernel: "flash".into(),
                reason: format!(
                    "head_dim {} needs {} bytes of workgroup memory for 4 keys, device has {}",
                    shape.head_dim,
                    4 * per_key,
                    limits.max_compute_workgroup_storage_size
                ),
            });
        }
        Ok(FlashConfig {
            kv: KvSource::WorkgroupTiles,
            block_q,
            rows: 1,
            block_kv,
        })
    }

    /// Loop iterations one invocation runs per K/V tile (fitted on lavapipe: the key loop
    /// in steps of 4 around two column loops, plus the tile load), used against
    /// [`Gpu::shader_loop_cap`].
    pub fn loop_iterations_per_tile(&self, head_dim: u32) -> u64 {
        let d4 = u64::from(head_dim.div_ceil(4));
        let kv = u64::from(self.block_kv);
        match self.kv {
            KvSource::WorkgroupTiles => {
                (kv / 4) * (2 * d4 + 4) + (kv * d4).div_ceil(u64::from(self.block_q)) + 8
            }
            // Everything inside the key loop is unrolled.
            KvSource::SubgroupBroadcast => 1,
        }
    }

    /// Keys one pass may cover so that an invocation stays under a driver's loop cap (90% of
    /// it, less the loops that load and store each row's state), a multiple of `block_kv`;
    /// `None` when even one tile does not fit.
    pub fn keys_per_pass(&self, head_dim: u32, cap: Option<u64>) -> Option<u64> {
        let Some(cap) = cap else {
            return Some(u64::MAX);
        };
        let d4 = u64::from(head_dim.div_ceil(4));
        let overhead = u64::from(self.rows) * (d4 + 1) * 8 + 64;
        let tiles = (cap * 9 / 10).checked_sub(overhead)? / self.loop_iterations_per_tile(head_dim);
        (tiles > 0).then(|| tiles * u64::from(self.block_kv))
    }

    /// Passes over the keys for `shape` on a device with loop cap `cap`.
    pub fn passes(&self, shape: &Shape, cap: Option<u64>) -> Result<u64> {
        let per_pass = self.keys_per_pass(shape.head_dim, cap).ok_or_else(|| Error::Unsupported {
            kernel: "flash".into(),
            reason: format!(
                "one tile of head_dim {} exceeds the driver's cap of {} loop iterations per invocation",
                shape.head_dim,
                cap.unwrap_or(0)
            ),
        })?;
        Ok(u64::from(shape.seq_len).div_ceil(per_pass).max(1))
    }

    /// Whether this configuration can run `shape` in `precision` on `gpu`, and if not why.
    pub fn validate(&self, shape: &Shape, gpu: &Gpu, precision: Precision) -> Result<()> {
        let limits = gpu.limits();
        let unsupported = |reason: String| Error::Unsupported {
            kernel: "flash".into(),
            reason,
        };
        if self.kv == KvSource::SubgroupBroadcast {
            if precision != Precision::F32 {
                return Err(unsupported(
                    "subgroup broadcast is built for f32 only".into(),
                ));
            }
            let sg = fixed_subgroup_size(gpu)?;
            if self.block_kv != 4 || !self.block_q.is_multiple_of(sg) {
                return Err(unsupported(format!(
                    "subgroup broadcast needs 4 keys per step and block_q a multiple of the subgroup size {sg}, got {self}"
                )));
            }
            if self.rows * shape.head_dim > MAX_BROADCAST_REGISTERS {
                return Err(unsupported(format!(
                    "rows {} × head_dim {} exceeds {MAX_BROADCAST_REGISTERS} unrolled registers",
                    self.rows, shape.head_dim
                )));
            }
        }
        if self.block_kv == 0 || self.block_kv > MAX_BLOCK_KV {
            return Err(unsupported(format!(
                "block_kv {} not in 1..={MAX_BLOCK_KV}",
                self.block_kv
            )));
        }
        if self.kv == KvSource::WorkgroupTiles
            && !(1..=max_rows(shape.head_dim)).contains(&self.rows)
        {
            return Err(unsupported(format!(
                "rows {} not in 1..={} for head_dim {}",
                self.rows,
                max_rows(shape.head_dim),
                shape.head_dim
            )));
        }
        if self.block_q == 0 || self.block_q > limits.max_compute_invocations_per_workgroup {
            return Err(unsupported(format!(
                "block_q {} exceeds the device",
                self.block_q
            )));
        }
        if self.workgroup_bytes(shape.head_dim) > limits.max_compute_workgroup_storage_size {
            return Err(unsupported(format!(
                "tiles need {} bytes of workgroup memory, device has {}",
                self.workgroup_bytes(shape.head_dim),
                limits.max_compute_workgroup_storage_size
            )));
        }
        Ok(())
    }
}

/// The kernel name of flash in `precision` (its tuned choices are filed under it).
fn kernel_name(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "flash",
        Precision::F16 => "flash_f16",
    }
}

/// Most query-row floats (rows × head_dim) one invocation of the broadcast kernel holds.
/// Its code is unrolled over them, and lavapipe's compile time grows faster than that:
/// with a cold shader cache, d = 64 takes 9 s at 4 rows, 42 s at 8; d = 256 takes 183 s
/// at 4 rows. 8 rows at d = 64 ran ~10% faster than 4 (n = 2048, 4 heads): not worth it.
const MAX_BROADCAST_REGISTERS: u32 = 256;

/// The subgroup size of `gpu` when it is fixed (the broadcast kernel's lanes split each
/// step's keys by it); an error where there are no subgroups or their size varies.
pub fn fixed_subgroup_size(gpu: &Gpu) -> Result<u32> {
    let info = gpu.adapter().get_info();
    let unsupported = |reason: String| Error::Unsupported {
        kernel: "flash".into(),
        reason,
    };
    if !gpu.features().contains(wgpu::Features::SUBGROUP) {
        return Err(unsupported(format!(
            "{} has no SUBGROUP",
            gpu.summary().name
        )));
    }
    if info.subgroup_min_size != info.subgroup_max_size || info.subgroup_min_size == 0 {
        return Err(unsupported(format!(
            "subgroup size varies ({}..={}); subgroup broadcast needs one size",
            info.subgroup_min_size, info.subgroup_max_size
        )));
    }
    Ok(info.subgroup_min_size)
}

/// Most rows per invocation for `head_dim`: query and accumulator registers stay within
/// 2 × 128 vec4 per invocation (lavapipe computed wrong results with 2 × 256).
pub fn max_rows(head_dim: u32) -> u32 {
    (128 / head_dim.div_ceil(4)).clamp(1, 16)
}

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
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
    _pad: [u32; 3],
}

#[derive(Clone)]
struct Pipeline {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

fn pipeline(
    gpu: &Gpu,
    config: FlashConfig,
    head_dim: u32,
    precision: Precision,
) -> Result<Pipeline> {
    if config.kv == KvSource::SubgroupBroadcast {
        return broadcast_pipeline(gpu, config, head_dim);
    }
    let d4 = head_dim.div_ceil(4);
    let key = format!("flash {precision:?} {config} d4 {d4}");
    gpu.cached(&key, || {
        let layout = storage_and_params_layout(gpu, "flash", &[true, true, true, false, false]);
        let constants = [
            ("BLOCK_Q", f64::from(config.block_q)),
            ("BLOCK_KV", f64::from(config.block_kv)),
        ];
        let source = shader!("flash.wgsl", "flash_params.wgsl", "qkv_rows.wgsl");
        let mut wgsl = specialize(source, &[("ROWS", config.rows), ("D4", d4)])?;
        if precision == Precision::F16 {
            const F32_ALIAS: &str = "alias kv4 = vec4<f32>;";
            if !wgsl.contains(F32_ALIAS) {
                return Err(Error::Gpu {
                    during: "specializing flash.wgsl for f16".into(),
                    message: format!("expected the line `{F32_ALIAS}`"),
                });
            }
            wgsl = format!(
                "enable f16;\n{}",
                wgsl.replace(F32_ALIAS, "alias kv4 = vec4<f16>;")
            );
        }
        let pipeline = gpu.compile_text(
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &constants,
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}

/// The `shaders/flash_lanes.wgsl` pipeline: specialized to the head dimension, rows and
/// subgroup size, then unrolled.
fn broadcast_pipeline(gpu: &Gpu, config: FlashConfig, head_dim: u32) -> Result<Pipeline> {
    let sg = fixed_subgroup_size(gpu)?;
    let key = format!("flash {config} d{head_dim} sg{sg}");
    gpu.cached(&key, || {
        let layout = storage_and_params_layout(gpu, "flash", &[true, true, true, false, false]);
        let source = if head_dim.is_multiple_of(4) {
            shader!(
                "flash_lanes.wgsl",
                "flash_params.wgsl",
                "kv_quads_vec4.wgsl"
            )
        } else {
            shader!(
                "flash_lanes.wgsl",
                "flash_params.wgsl",
                "kv_quads_scalar.wgsl"
            )
        };
        let consts = [
            ("ROWS", config.rows),
            ("D", head_dim),
            ("SG", sg),
            ("SLOTS", head_dim.div_ceil(sg)),
        ];
        let wgsl = unroll_marked_loops(&specialize(source, &consts[..3])?, &consts)?;
        let pipeline = gpu.compile_text(
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &[("BLOCK_Q", f64::from(config.block_q))],
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}

/// Prepares flash with `config` in `passes` passes over the keys.
fn prepare_with(
    gpu: &Gpu,
    shape: &Shape,
    io: &AttentionBuffers,
    tracker: &Arc<BufferTracker>,
    config: FlashConfig,
    precision: Precision,
    passes: u64,
) -> Result<Box<dyn PreparedKernel>> {
    let limits = gpu.limits();
    config.validate(shape, gpu, precision)?;
    let p = pipeline(gpu, config, shape.head_dim, precision)?;
    let q_blocks = shape.seq_len.div_ceil(config.block_q * config.rows);
    let total_groups = shape.batch_heads() * u64::from(q_blocks);
    let total_groups_u32 = workgroup_count("flash", shape, total_groups)?;
    let grid = grid_for(total_groups, limits.max_compute_workgroups_per_dimension)?;
    let state = gpu.buffer(
        tracker,
        "flash state",
        state_bytes(shape, passes),
        wgpu::BufferUsages::STORAGE,
    )?;
    let per_pass = u64::from(shape.seq_len)
        .div_ceil(passes)
        .next_multiple_of(u64::from(config.block_kv));
    let mut steps = Vec::new();
    let mut buffers = Vec::new();
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
                pass_flags: u32::from(pass == 0) | (u32::from(pass + 1 == passes) << 1),
                _pad: [0; 3],
            },
        )?;
        let bind_group = bind_buffers(
            gpu,
            "flash",
            &p.layout,
            &[&io.q, &io.k, &io.v, &io.o, &state, &params],
        );
        steps.push(Dispatch {
            pipeline: p.pipeline.clone(),
            bind_group,
            grid,
        });
        buffers.push(params);
    }
    buffers.push(state);
    Ok(Box::new(Dispatches {
        steps,
        _buffers: buffers,
    }))
}

/// Bytes of the running state between passes (a 16-byte placeholder for one pass).
fn state_bytes(shape: &Shape, passes: u64) -> u64 {
    if passes <= 1 {
        16
    } else {
        shape.rows() * (u64::from(shape.head_dim.div_ceil(4)) + 1) * 16
    }
}

impl Kernel for Flash {
    fn name(&self) -> &'static str {
        kernel_name(self.precision)
    }

    fn summary(&self) -> &'static str {
        match self.precision {
            Precision::F32 => {
                "fused tiled kernel with online softmax; never materializes n×n (1 dispatch per pass over the keys)"
            }
            Precision::F16 => "flash with f16 K/V tiles and Q·Kᵀ, f32 softmax and accumulation",
        }
    }

    fn dtype(&self) -> &'static str {
        match self.precision {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }

    /// f16 keeps ~3 decimal digits in Q·Kᵀ.
    fn tolerance(&self) -> f64 {
        match self.precision {
            Precision::F32 => 1e-4,
            Precision::F16 => 1e-2,
        }
    }

    fn config_label(&self, shape: &Shape, gpu: &Gpu) -> Option<String> {
        self.config_for(shape, gpu).ok().map(|c| c.to_string())
    }

    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()> {
        if self.precision == Precision::F16 && !gpu.features().contains(wgpu::Features::SHADER_F16)
        {
            return Err(Error::Unsupported {
                kernel: self.name().into(),
                reason: format!("{} has no SHADER_F16", gpu.summary().name),
            });
        }
        let config = self.config_for(shape, gpu)?;
        config.validate(shape, gpu, self.precision)?;
        self.passes(&config, shape, gpu).map(|_| ())
    }

    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
        let mut plan = io_plan(shape);
        let config = self.config_for(shape, gpu)?;
        let passes = self.passes(&config, shape, gpu)?;
        plan.storage("state", state_bytes(shape, passes));
        for pass in 0..passes {
            plan.other(
                format!("params[{pass}]"),
                std::mem::size_of::<Params>() as u64,
            );
        }
        Ok(plan)
    }

    fn prepare(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Box<dyn PreparedKernel>> {
        self.check_support(shape, gpu)?;
        let config = self.config_for(shape, gpu)?;
        let passes = self.passes(&config, shape, gpu)?;
        prepare_with(gpu, shape, io, tracker, config, self.precision, passes)
    }
}
