//! Flash's tile configuration: what it is ([`FlashConfig`], [`KvSource`]), what it costs
//! (workgroup memory, live floats per invocation, loop iterations), whether it fits a
//! device ([`FlashConfig::validate_on`], from the device's [`DeviceFacts`]) and how many
//! passes over the keys a driver's loop cap needs. Its text form is `config_text.rs`;
//! which configuration a shape gets is [`super::plan`]'s decision.

use crate::error::{Error, Result};
use crate::gpu::{
    DeviceFacts, Gpu, REGISTER_TARGET, TEXEL_BYTES, texel_extent, texel_pair_within_budget,
};
use crate::kernels::Precision;
use crate::shape::Shape;

/// Most keys per tile the tuner tries.
pub(super) const MAX_BLOCK_KV: u32 = 128;

/// How K and V reach the invocations of a workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvSource {
    /// Tiles of `block_kv` keys staged in workgroup memory (`shaders/flash/tiles.wgsl`): the
    /// classic GPU kernel.
    WorkgroupTiles,
    /// Four keys per step loaded cooperatively by the lanes of a subgroup and shared with
    /// `subgroupBroadcast` (`shaders/flash/lanes.wgsl`): for CPU drivers, where each memory
    /// load is a loop over the SIMD lanes. Needs SUBGROUP with one fixed subgroup size.
    SubgroupBroadcast,
    /// The same kernel with K and V read as texels of `rgba32float` textures
    /// ([`crate::gpu::TexelArray`]), which a first dispatch of each run fills from the
    /// buffers: on lavapipe a texel fetch is vectorized where a storage load is a loop over
    /// the lanes. Needs head_dim a multiple of 4 and textures that hold K.
    TexelBroadcast,
    /// Double-buffered workgroup-memory tiles of `block_kv` keys, each row's work split
    /// across `key_lanes` key lanes that take different keys (each with its own softmax
    /// state, merged once per pass) and `lanes` lanes that split the head dim
    /// (`shaders/flash/split.wgsl`, `config_split.rs`): the GPU work split of llama.cpp's
    /// and ONNX Runtime's kernels.
    KeySplit {
        /// Key lanes per row.
        key_lanes: u32,
    },
}

impl KvSource {
    /// Whether K/V are shared by `subgroupBroadcast` (`shaders/flash/lanes.wgsl`), from
    /// buffers or texel arrays.
    pub fn is_broadcast(self) -> bool {
        matches!(self, KvSource::SubgroupBroadcast | KvSource::TexelBroadcast)
    }
}

/// Tile sizes of one flash pipeline. Files hold it in its text form (`tiles,64,8,32`,
/// [`FlashConfig::parse`]), checked when they are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FlashConfig {
    /// Where K/V are shared from.
    pub kv: KvSource,
    /// Invocations per workgroup.
    pub block_q: u32,
    /// Query rows per invocation (register tiling).
    pub rows: u32,
    /// Keys per K/V tile in workgroup memory (always 4 with [`KvSource::SubgroupBroadcast`]).
    pub block_kv: u32,
    /// Lanes that share one query row (of a key lane, for [`KvSource::KeySplit`]),
    /// splitting its head dim (1 or a power of two; summed by subgroup where every subgroup
    /// holds them, else through workgroup memory). Rows per workgroup:
    /// [`FlashConfig::rows_per_workgroup`].
    pub lanes: u32,
}

impl TryFrom<String> for FlashConfig {
    type Error = String;

    fn try_from(text: String) -> std::result::Result<Self, String> {
        FlashConfig::parse(&text).map_err(|e| e.to_string())
    }
}

impl From<FlashConfig> for String {
    fn from(config: FlashConfig) -> String {
        config.to_string()
    }
}

/// How the `lanes` lanes that share a query row in `shaders/flash/tiles.wgsl` sum their partial
/// dot products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LaneSum {
    /// One lane per row: nothing to sum (`flash/lane_sum_none.wgsl`).
    Whole,
    /// A `subgroupShuffleXor` butterfly (`flash/lane_sum_subgroup.wgsl`): where every subgroup the
    /// driver may pick holds a row's lanes ([`DeviceFacts::subgroup_spans`]).
    Subgroup,
    /// Through workgroup memory with two barriers per sum (`flash/lane_sum_workgroup.wgsl`): any
    /// subgroup size, or none.
    Workgroup,
}

impl FlashConfig {
    /// Query rows one workgroup owns: `block_q / lanes · rows` (and / key lanes).
    pub fn rows_per_workgroup(&self) -> u32 {
        let key_lanes = match self.kv {
            KvSource::KeySplit { key_lanes } => key_lanes,
            _ => 1,
        };
        self.block_q / (self.lanes.max(1) * key_lanes) * self.rows
    }

    /// How this configuration's lanes sum their partial dots on a device with `facts`.
    pub fn lane_sum(&self, facts: &DeviceFacts) -> LaneSum {
        if self.lanes <= 1 {
            LaneSum::Whole
        } else if facts.subgroup_spans(self.lanes, self.block_q) {
            LaneSum::Subgroup
        } else {
            LaneSum::Workgroup
        }
    }

    /// Bytes of workgroup memory the K and V tiles take for `head_dim` (and, where lanes
    /// sum through workgroup memory, one vec4 per invocation).
    pub fn workgroup_bytes(&self, head_dim: u32, lane_sum: LaneSum) -> u32 {
        let sums = if lane_sum == LaneSum::Workgroup {
            self.block_q * 16
        } else {
            0
        };
        match self.kv {
            KvSource::WorkgroupTiles => 2 * self.block_kv * head_dim.div_ceil(4) * 16 + sums,
            KvSource::SubgroupBroadcast | KvSource::TexelBroadcast => 0,
            KvSource::KeySplit { .. } => self.split_workgroup_bytes(head_dim) + sums,
        }
    }

    /// Floats one invocation keeps live across the key loop at `head_dim` (on a device
    /// whose smallest subgroup is `subgroup` lanes wide), counted from the shaders:
    /// - tiles (`flash/tiles.wgsl`), DL = ⌈d/4 / lanes⌉ vec4 columns per lane: per row the query
    ///   and accumulator columns (8·DL), scores, p (4 + 4), α, m, l and the row's two key
    ///   bounds (5); then four K/V vec4s in flight (16): R·(8·DL + 13) + 16;
    /// - broadcast (`flash/lanes.wgsl`): query and accumulator floats of every row
    ///   (2·R·d), the step's K and V slots (8·⌈d/SG⌉) and per row s, p, α, m, l and bounds
    ///   (13): 2·R·d + 8·⌈d/SG⌉ + 13·R.
    pub fn live_floats(&self, head_dim: u32, subgroup: u32) -> u32 {
        let rows = self.rows;
        match self.kv {
            KvSource::WorkgroupTiles => {
                let dl = head_dim.div_ceil(4).div_ceil(self.lanes.max(1));
                rows * (8 * dl + 13) + 16
            }
            KvSource::SubgroupBroadcast | KvSource::TexelBroadcast => {
                2 * rows * head_dim + 8 * head_dim.div_ceil(subgroup.max(1)) + 13 * rows
            }
            KvSource::KeySplit { .. } => self.split_live_floats(head_dim),
        }
    }

    /// The GPU default: workgroup tiles of 64 invocations (a whole number of the largest
    /// subgroup where lanes use subgroups), one row per lane group, and on devices with a
    /// register cap the fewest lanes per row that keep its live floats within
    /// [`REGISTER_TARGET`] (d = 64: 2 lanes, 128: 4, 256: 8); as many keys per tile as
    /// workgroup memory holds, up to 32.
    pub fn for_shape(
        shape: &Shape,
        facts: &DeviceFacts,
        precision: Precision,
    ) -> Result<FlashConfig> {
        let limits = &facts.limits;
        let d4 = shape.head_dim.div_ceil(4);
        let mut config = FlashConfig {
            kv: KvSource::WorkgroupTiles,
            block_q: 64.min(limits.max_compute_invocations_per_workgroup),
            rows: 1,
            block_kv: 1,
            lanes: 1,
        };
        if let Some(cap) = facts.register_cap {
            let target = cap.min(REGISTER_TARGET);
            while config.live_floats(shape.head_dim, 1) > target
                && config.lanes * 2 <= d4
                && config.lanes < config.block_q
            {
                config.lanes *= 2;
            }
            let wide = facts.subgroup_max.max(64);
            if config.lanes > 1
                && wide <= limits.max_compute_invocations_per_workgroup
                && facts.subgroup_spans(config.lanes, wide)
            {
                config.block_q = wide;
            }
        }
        let per_key = config.workgroup_bytes(shape.head_dim, LaneSum::Whole);
        let sums = config.workgroup_bytes(0, config.lane_sum(facts));
        // A multiple of 4: the shader consumes keys four at a time.
        let block_kv = (limits
            .max_compute_workgroup_storage_size
            .saturating_sub(sums)
            / per_key)
            .min(32)
            / 4
            * 4;
        if block_kv == 0 {
            return Err(Error::Unsupported {
                kernel: kernel_name(precision).into(),
                reason: format!(
                    "head_dim {} needs {} bytes of workgroup memory for 4 keys, device has {}",
                    shape.head_dim,
                    4 * per_key + sums,
                    limits.max_compute_workgroup_storage_size
                ),
            });
        }
        config.block_kv = block_kv;
        Ok(config)
    }

    /// Loop iterations one invocation runs per K/V tile (fitted on lavapipe: the key loop
    /// in steps of 4 around two column loops and the lanes' sums, plus the tile load), used
    /// against [`DeviceFacts::loop_cap`].
    pub fn loop_iterations_per_tile(&self, head_dim: u32, lane_sum: LaneSum) -> u64 {
        let d4 = u64::from(head_dim.div_ceil(4));
        let kv = u64::from(self.block_kv);
        match self.kv {
            KvSource::WorkgroupTiles => {
                let lanes = u64::from(self.lanes.max(1));
                let per_lane = d4.div_ceil(lanes);
                let per_sum = match lane_sum {
                    LaneSum::Whole => 0,
                    LaneSum::Subgroup => u64::from(lanes.trailing_zeros()),
                    LaneSum::Workgroup => lanes,
                };
                (kv / 4) * (2 * per_lane + 4 + u64::from(self.rows) * per_sum)
                    + (kv * d4).div_ceil(u64::from(self.block_q))
                    + 8
            }
            // Everything inside the key loop is unrolled.
            KvSource::SubgroupBroadcast | KvSource::TexelBroadcast => 1,
            KvSource::KeySplit { .. } => self.split_loop_iterations(head_dim, lane_sum),
        }
    }

    /// Keys one pass may cover so that an invocation stays under a driver's loop cap (90% of
    /// it, less the loops that load and store each row's state), a multiple of `block_kv`;
    /// `None` when even one tile does not fit.
    pub fn keys_per_pass(&self, head_dim: u32, facts: &DeviceFacts) -> Option<u64> {
        let Some(cap) = facts.loop_cap else {
            return Some(u64::MAX);
        };
        let per_lane = u64::from(head_dim.div_ceil(4).div_ceil(self.lanes.max(1)));
        let overhead = u64::from(self.rows) * (per_lane + 1) * 8 + 64;
        let per_tile = self.loop_iterations_per_tile(head_dim, self.lane_sum(facts));
        let tiles = (cap * 9 / 10).checked_sub(overhead)? / per_tile;
        (tiles > 0).then(|| tiles * u64::from(self.block_kv))
    }

    /// Passes over the keys for `shape` on a device with `facts`.
    pub fn passes(&self, shape: &Shape, facts: &DeviceFacts, precision: Precision) -> Result<u64> {
        let per_pass = self.keys_per_pass(shape.head_dim, facts).ok_or_else(|| Error::Unsupported {
            kernel: kernel_name(precision).into(),
            reason: format!(
                "one tile of head_dim {} exceeds the driver's cap of {} loop iterations per invocation",
                shape.head_dim,
                facts.loop_cap.unwrap_or(0)
            ),
        })?;
        Ok(u64::from(shape.seq_len).div_ceil(per_pass).max(1))
    }

    /// [`FlashConfig::validate_on`] less the memory budget: whether the device can run this
    /// configuration correctly at all. What a tuned choice must pass to be applied; one that
    /// does not fit the budget at some shape gives way to the default there.
    pub fn validate_on_device(
        &self,
        shape: &Shape,
        facts: &DeviceFacts,
        precision: Precision,
    ) -> Result<()> {
        self.validate_facts(shape, facts, precision, false)
    }

    /// Whether this configuration can run `shape` in `precision` on a device with `facts`:
    /// what each K/V source needs (subgroups of a fixed size for broadcast, texture
    /// support and room in the memory budget for texels), lanes within the head dim, rows
    /// within the unrolled registers, workgroup size and memory within the limits, and
    /// live floats within the device's register cap.
    pub fn validate_on(
        &self,
        shape: &Shape,
        facts: &DeviceFacts,
        precision: Precision,
    ) -> Result<()> {
        self.validate_facts(shape, facts, precision, true)
    }

    /// [`FlashConfig::validate_on`], with the texels' memory budget checked where `budget`.
    fn validate_facts(
        &self,
        shape: &Shape,
        facts: &DeviceFacts,
        precision: Precision,
        budget: bool,
    ) -> Result<()> {
        let limits = &facts.limits;
        let unsupported = |reason: String| Error::Unsupported {
            kernel: kernel_name(precision).into(),
            reason,
        };
        if self.kv.is_broadcast() {
            self.check_broadcast(shape, facts, precision, budget)?;
        }
        if let KvSource::KeySplit { key_lanes } = self.kv {
            self.check_split(shape, key_lanes, precision)?;
        }
        if self.lanes > 1 && self.lanes > shape.head_dim.div_ceil(4) {
            return Err(unsupported(format!(
                "{} lanes per row exceed head_dim {}'s {} vec4 columns",
                self.lanes,
                shape.head_dim,
                shape.head_dim.div_ceil(4)
            )));
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
        let bytes = self.workgroup_bytes(shape.head_dim, self.lane_sum(facts));
        if bytes > limits.max_compute_workgroup_storage_size {
            return Err(unsupported(format!(
                "tiles need {bytes} bytes of workgroup memory, device has {}",
                limits.max_compute_workgroup_storage_size
            )));
        }
        facts.check_registers(
            kernel_name(precision),
            &format!("{self} at head_dim {}", shape.head_dim),
            self.live_floats(shape.head_dim, facts.subgroup_min),
        )
    }

    /// What the broadcast kernels need: f32, one fixed subgroup size dividing `block_q`,
    /// rows within the unrolled registers, and for texels a head dim of whole texels and
    /// textures that hold K within the memory budget.
    fn check_broadcast(
        &self,
        shape: &Shape,
        facts: &DeviceFacts,
        precision: Precision,
        budget: bool,
    ) -> Result<()> {
        let unsupported = |reason: String| Error::Unsupported {
            kernel: kernel_name(precision).into(),
            reason,
        };
        if precision != Precision::F32 {
            return Err(unsupported(
                "subgroup broadcast is built for f32 only".into(),
            ));
        }
        let sg = subgroup_size_of(facts)?;
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
        if self.kv == KvSource::TexelBroadcast {
            if !shape.head_dim.is_multiple_of(4) {
                return Err(unsupported(format!(
                    "texel arrays hold four floats per texel; head_dim {} is not a multiple of 4",
                    shape.head_dim
                )));
            }
            if !facts.texel_arrays {
                return Err(unsupported(format!(
                    "{} cannot write and read {:?} textures from shaders",
                    facts.name,
                    crate::gpu::TEXEL_FORMAT
                )));
            }
            texel_extent(
                &format!("flash at {shape}: K"),
                kv_texels(shape),
                &facts.limits,
            )?;
            // The textures are a speed-up, not a need: where they would push a run past the
            // memory budget, flash reads the buffers instead (the default falls back).
            if budget {
                let io = crate::kernels::io_plan(shape, shape.seq_len).total_bytes();
                texel_pair_within_budget(facts, io, kv_texels(shape)).map_err(unsupported)?;
            }
        }
        Ok(())
    }
}

/// Most query-row floats (rows × head_dim) one invocation of the broadcast kernel holds at
/// `head_dim`: 512 up to d = 128, 256 beyond. Its code is unrolled over them, and a CPU
/// driver's compile time grows faster than its speed: more rows share each K/V load (which
/// lavapipe turns into a loop over its lanes), but a cold compile of 8 rows takes most of
/// a minute. So the default stays at 4 rows and the tuner tries 8 ([`crate::tuning`]); the
/// measurements behind it are in `docs/ladder.md`.
fn max_broadcast_registers(head_dim: u32) -> u32 {
    if head_dim <= 128 { 512 } else { 256 }
}

/// The broadcast kernel's default rows per invocation at `head_dim`: as many as
/// [`max_broadcast_registers`] allow, at most 4 (4 up to d = 128, 1 at d = 256).
pub(super) fn default_broadcast_rows(head_dim: u32) -> u32 {
    (max_broadcast_registers(head_dim) / head_dim).clamp(1, 4)
}

/// The subgroup size of `gpu` when it is fixed (the broadcast kernels' lanes split each
/// step's keys by it); an error where there are no subgroups or their size varies.
pub fn fixed_subgroup_size(gpu: &Gpu) -> Result<u32> {
    subgroup_size_of(gpu.facts())
}

/// [`fixed_subgroup_size`] from a device's facts.
pub fn subgroup_size_of(facts: &DeviceFacts) -> Result<u32> {
    let unsupported = |reason: String| Error::Unsupported {
        kernel: "flash".into(),
        reason,
    };
    if !facts.has_subgroups() {
        return Err(unsupported(format!("{} has no SUBGROUP", facts.name)));
    }
    facts.fixed_subgroup_size().ok_or_else(|| {
        unsupported(format!(
            "subgroup size varies ({}..={}); subgroup broadcast needs one size",
            facts.subgroup_min, facts.subgroup_max
        ))
    })
}

/// Most rows per invocation for `head_dim`: query and accumulator registers stay within
/// 2 × 128 vec4 per invocation (lavapipe computed wrong results with 2 × 256).
pub fn max_rows(head_dim: u32) -> u32 {
    max_rows_per_lane(head_dim, 1)
}

/// Most rows per lane group when `lanes` lanes split each row's head dim: each lane holds
/// `ceil(head_dim / 4 / lanes)` vec4 columns per row, within the same 2 × 128 vec4s.
pub(super) fn max_rows_per_lane(head_dim: u32, lanes: u32) -> u32 {
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

/// Texels of Q (and of dO): the largest tensor the pair holds in a training step.
pub(crate) fn q_texels(shape: &Shape) -> u64 {
    shape.tensor_bytes() / TEXEL_BYTES
}
