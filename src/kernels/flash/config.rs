//! Flash's tile configuration: what it is ([`FlashConfig`], [`KvSource`]), its text form
//! (`ATTNBENCH_FLASH_TILES`, `tuning.json`), whether it fits a device
//! ([`FlashConfig::validate`]) and how many passes over the keys a driver's loop cap needs.
//! Which configuration a shape gets is [`super::plan`]'s decision.

use super::texel_pair::texels_within_budget;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, TEXEL_BYTES, texel_arrays_supported, texel_extent};
use crate::kernels::Precision;
use crate::shape::Shape;

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
    /// The same kernel with K and V read as texels of `rgba32float` textures
    /// ([`crate::gpu::TexelArray`]), which a first dispatch of each run fills from the
    /// buffers: on lavapipe a texel fetch is vectorized where a storage load is a loop over
    /// the lanes. Needs head_dim a multiple of 4 and textures that hold K.
    TexelBroadcast,
}

impl KvSource {
    /// Whether K/V are shared by `subgroupBroadcast` (`shaders/flash_lanes.wgsl`), from
    /// buffers or texel arrays.
    pub fn is_broadcast(self) -> bool {
        matches!(self, KvSource::SubgroupBroadcast | KvSource::TexelBroadcast)
    }
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
    /// Lanes that share one query row, splitting its head dim (workgroup tiles only; 1 or a
    /// power of two up to the subgroup size; above 1 needs SUBGROUP). Rows per workgroup:
    /// `block_q / lanes · rows`.
    #[serde(default = "one")]
    pub lanes: u32,
}

fn one() -> u32 {
    1
}

impl std::fmt::Display for FlashConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kv {
            KvSource::WorkgroupTiles if self.lanes == 1 => {
                write!(f, "tiles,{},{},{}", self.block_q, self.rows, self.block_kv)
            }
            KvSource::WorkgroupTiles => write!(
                f,
                "tiles,{},{},{},{}",
                self.block_q, self.rows, self.block_kv, self.lanes
            ),
            KvSource::SubgroupBroadcast => {
                write!(f, "broadcast,{},{}", self.block_q, self.rows)
            }
            KvSource::TexelBroadcast => write!(f, "texels,{},{}", self.block_q, self.rows),
        }
    }
}

impl FlashConfig {
    /// Bytes of workgroup memory the K and V tiles take for `head_dim`.
    pub fn workgroup_bytes(&self, head_dim: u32) -> u32 {
        match self.kv {
            KvSource::WorkgroupTiles => 2 * self.block_kv * head_dim.div_ceil(4) * 16,
            KvSource::SubgroupBroadcast | KvSource::TexelBroadcast => 0,
        }
    }

    /// The `ATTNBENCH_FLASH_TILES` override, parsed and checked ([`FlashConfig::parse`]);
    /// `None` when unset. A malformed value is an [`Error::InvalidSetting`] naming the
    /// variable, before any work is done with it.
    pub fn from_env() -> Result<Option<FlashConfig>> {
        // Parsed once per process: every row of a sweep sees the same typed value.
        static PARSED: std::sync::OnceLock<std::result::Result<Option<FlashConfig>, Error>> =
            std::sync::OnceLock::new();
        let parsed = PARSED.get_or_init(|| {
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
        });
        match parsed {
            Ok(config) => Ok(*config),
            Err(Error::InvalidSetting {
                what,
                value,
                expected,
            }) => Err(Error::InvalidSetting {
                what: what.clone(),
                value: value.clone(),
                expected: expected.clone(),
            }),
            Err(other) => Err(Error::InvalidShape(other.to_string())),
        }
    }

    /// Parses the [`Display`](std::fmt::Display) form: `tiles,block_q,rows,block_kv[,lanes]`
    /// (e.g. `tiles,64,8,32` or `tiles,128,2,32,4`), `broadcast,block_q,rows` (e.g.
    /// `broadcast,8,8`) or `texels,block_q,rows` (broadcast from texel arrays); a bare
    /// `block_q,rows,block_kv` means tiles. The `ATTNBENCH_FLASH_TILES` override and the
    /// text form in `tuning.json`.
    ///
    /// Everything that does not depend on the device is checked here: `block_q` in
    /// 1..=1024, `rows` in 1..=16, `lanes` a power of two dividing `block_q`, and for tiles
    /// `block_kv` a multiple of 4 (the shader consumes keys four at a time) in 4..=128. [`FlashConfig::validate`] then checks the
    /// device and the shape.
    pub fn parse(text: &str) -> Result<FlashConfig> {
        let invalid = |why: &str| Error::InvalidSetting {
            what: "flash tile configuration".into(),
            value: text.into(),
            expected: format!(
                "{why}tiles,BLOCK_Q,ROWS,BLOCK_KV[,LANES] (e.g. tiles,64,8,32), broadcast,BLOCK_Q,ROWS (e.g. broadcast,32,4) or texels,BLOCK_Q,ROWS"
            ),
        };
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let all_numbers = |fs: &[&str]| -> Option<Vec<u32>> {
            fs.iter().map(|v| v.parse::<u32>().ok()).collect()
        };
        let config = match fields.as_slice() {
            [kind @ ("broadcast" | "texels"), rest @ ..] => match all_numbers(rest).as_deref() {
                Some(&[block_q, rows]) => FlashConfig {
                    kv: if *kind == "texels" {
                        KvSource::TexelBroadcast
                    } else {
                        KvSource::SubgroupBroadcast
                    },
                    block_q,
                    rows,
                    block_kv: 4,
                    lanes: 1,
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
                    lanes: 1,
                },
                Some(&[block_q, rows, block_kv, lanes]) => FlashConfig {
                    kv: KvSource::WorkgroupTiles,
                    block_q,
                    rows,
                    block_kv,
                    lanes,
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
        if !config.lanes.is_power_of_two() || config.lanes > 64 {
            return Err(invalid("LANES must be a power of two up to 64; "));
        }
        if !config.block_q.is_multiple_of(config.lanes) {
            return Err(invalid("BLOCK_Q must be a multiple of LANES; "));
        }
        if config.block_kv == 0 || config.block_kv > MAX_BLOCK_KV || config.block_kv % 4 != 0 {
            return Err(invalid(
                "BLOCK_KV must be a multiple of 4 in 4..=128 (keys are consumed four at a time); ",
            ));
        }
        Ok(config)
    }

    /// Tiles that fit `limits`, one row per invocation.
    pub fn for_shape(
        shape: &Shape,
        limits: &wgpu::Limits,
        precision: Precision,
    ) -> Result<FlashConfig> {
        let block_q = 64.min(limits.max_compute_invocations_per_workgroup);
        let per_key = FlashConfig {
            kv: KvSource::WorkgroupTiles,
            block_q,
            rows: 1,
            block_kv: 1,
            lanes: 1,
        }
        .workgroup_bytes(shape.head_dim);
        // A multiple of 4: the shader consumes keys four at a time.
        let block_kv = (limits.max_compute_workgroup_storage_size / per_key).min(32) / 4 * 4;
        if block_kv == 0 {
            return Err(Error::Unsupported {
                kernel: kernel_name(precision).into(),
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
            lanes: 1,
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
                let lanes = u64::from(self.lanes.max(1));
                let per_lane = d4.div_ceil(lanes);
                let butterfly = u64::from(self.rows) * u64::from(lanes.trailing_zeros());
                (kv / 4) * (2 * per_lane + 4 + butterfly)
                    + (kv * d4).div_ceil(u64::from(self.block_q))
                    + 8
            }
            // Everything inside the key loop is unrolled.
            KvSource::SubgroupBroadcast | KvSource::TexelBroadcast => 1,
        }
    }

    /// Keys one pass may cover so that an invocation stays under a driver's loop cap (90% of
    /// it, less the loops that load and store each row's state), a multiple of `block_kv`;
    /// `None` when even one tile does not fit.
    pub fn keys_per_pass(&self, head_dim: u32, cap: Option<u64>) -> Option<u64> {
        let Some(cap) = cap else {
            return Some(u64::MAX);
        };
        let per_lane = u64::from(head_dim.div_ceil(4).div_ceil(self.lanes.max(1)));
        let overhead = u64::from(self.rows) * (per_lane + 1) * 8 + 64;
        let tiles = (cap * 9 / 10).checked_sub(overhead)? / self.loop_iterations_per_tile(head_dim);
        (tiles > 0).then(|| tiles * u64::from(self.block_kv))
    }

    /// Passes over the keys for `shape` on a device with loop cap `cap`.
    pub fn passes(&self, shape: &Shape, cap: Option<u64>, precision: Precision) -> Result<u64> {
        let per_pass = self.keys_per_pass(shape.head_dim, cap).ok_or_else(|| Error::Unsupported {
            kernel: kernel_name(precision).into(),
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
        self.validate_on_device(shape, gpu, precision)?;
        if self.kv == KvSource::TexelBroadcast {
            // The textures are a speed-up, not a need: where they would push a run past the
            // memory budget, flash reads the buffers instead (the default falls back).
            let io = crate::kernels::io_plan(shape, shape.seq_len).total_bytes();
            texels_within_budget(gpu, io, kv_texels(shape)).map_err(|reason| {
                Error::Unsupported {
                    kernel: kernel_name(precision).into(),
                    reason,
                }
            })?;
        }
        Ok(())
    }

    /// [`FlashConfig::validate`] less the memory budget: whether the device can run this
    /// configuration correctly at all. What a tuned choice must pass to be applied; one that
    /// does not fit the budget at some shape gives way to the default there.
    pub fn validate_on_device(&self, shape: &Shape, gpu: &Gpu, precision: Precision) -> Result<()> {
        let limits = gpu.limits();
        let unsupported = |reason: String| Error::Unsupported {
            kernel: kernel_name(precision).into(),
            reason,
        };
        if self.kv.is_broadcast() {
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
            let most = max_broadcast_registers(shape.head_dim);
            if self.rows * shape.head_dim > most {
                return Err(unsupported(format!(
                    "rows {} × head_dim {} exceeds {most} unrolled registers",
                    self.rows, shape.head_dim
                )));
            }
        }
        if self.kv == KvSource::TexelBroadcast {
            if !shape.head_dim.is_multiple_of(4) {
                return Err(unsupported(format!(
                    "texel arrays hold four floats per texel; head_dim {} is not a multiple of 4",
                    shape.head_dim
                )));
            }
            if !texel_arrays_supported(gpu) {
                return Err(unsupported(format!(
                    "{} cannot write and read {:?} textures from shaders",
                    gpu.summary().name,
                    crate::gpu::TEXEL_FORMAT
                )));
            }
            texel_extent(&format!("flash at {shape}: K"), kv_texels(shape), &limits)?;
        }
        if self.lanes > 1 {
            let info = gpu.adapter().get_info();
            if !gpu.features().contains(wgpu::Features::SUBGROUP) {
                return Err(unsupported(format!(
                    "{} lanes per row need SUBGROUP, which {} lacks",
                    self.lanes,
                    gpu.summary().name
                )));
            }
            if self.lanes > info.subgroup_min_size
                || !self.block_q.is_multiple_of(info.subgroup_max_size.max(1))
            {
                return Err(unsupported(format!(
                    "{} lanes per row need lanes ≤ the subgroup size {} and block_q a multiple of {}, got {self}",
                    self.lanes, info.subgroup_min_size, info.subgroup_max_size
                )));
            }
            if self.lanes > shape.head_dim.div_ceil(4) {
                return Err(unsupported(format!(
                    "{} lanes per row exceed head_dim {}'s {} vec4 columns",
                    self.lanes,
                    shape.head_dim,
                    shape.head_dim.div_ceil(4)
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
            && !(1..=max_rows_per_lane(shape.head_dim, self.lanes)).contains(&self.rows)
        {
            return Err(unsupported(format!(
                "rows {} not in 1..={} for head_dim {}",
                self.rows,
                max_rows_per_lane(shape.head_dim, self.lanes),
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

/// Most query-row floats (rows × head_dim) one invocation of the broadcast kernel holds at
/// `head_dim`: 512 up to d = 128, 256 beyond. Its code is unrolled over them, and lavapipe's
/// compile time grows faster than that: with a cold shader cache, d = 64 takes 9 s at
/// 4 rows, 42 s at 8; d = 128 takes 45 s at 3 rows and 70 s at 4; d = 256 takes 183 s at
/// 4 rows. 8 rows at d = 64 ran ~10% faster than 4 (n = 2048, 4 heads) on a fast day, and
/// 1.5× faster on a slow one (270 against 415 ms, 2026-11-26;
/// `ATTNBENCH_FLASH_TILES=broadcast,32,8 attnbench run --kernel flash --seq-len 2048
/// --head-dim 64 --heads 4`, and `broadcast,32,4`): lavapipe loads each K/V
/// float in a per-lane loop, and more rows share each load. The default stays at 4 (a cold
/// compile of 8 rows takes 40–85 s); the tuner tries 8 ([`crate::tuning`]). At
/// d = 128, 4 rows ran 1.6× faster than 2 (10.6 against 6.6 GFLOP/s, 8 heads, n = 2048),
/// 3 rows 1.3×: worth the compile, since d = 128 is the head dim of most current LLMs.
fn max_broadcast_registers(head_dim: u32) -> u32 {
    if head_dim <= 128 { 512 } else { 256 }
}

/// The broadcast kernel's default rows per invocation at `head_dim`: as many as
/// [`max_broadcast_registers`] allow, at most 4 (4 up to d = 128, 1 at d = 256).
pub(super) fn default_broadcast_rows(head_dim: u32) -> u32 {
    (max_broadcast_registers(head_dim) / head_dim).clamp(1, 4)
}

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
            "{} ({}) has no SUBGROUP",
            gpu.summary().name,
            gpu.summary().backend
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
    max_rows_per_lane(head_dim, 1)
}

/// Most rows per lane group when `lanes` lanes split each row's head dim: each lane holds
/// `ceil(head_dim / 4 / lanes)` vec4 columns per row, within the same 2 × 128 vec4s.
pub fn max_rows_per_lane(head_dim: u32, lanes: u32) -> u32 {
    (128 / head_dim.div_ceil(4).div_ceil(lanes.max(1))).clamp(1, 16)
}

/// Texels of K (and of V) for `shape`: four floats each.
pub(crate) fn kv_texels(shape: &Shape) -> u64 {
    shape.kv_tensor_bytes() / TEXEL_BYTES
}

/// The kernel name of flash in `precision` (its tuned choices are filed under it).
pub fn kernel_name(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "flash",
        Precision::F16 => "flash_f16",
    }
}
