//! The key-split configurations ([`KvSource::KeySplit`], `shaders/flash/split.wgsl`): what
//! they cost (workgroup memory, live floats, loop iterations), what they need, and the
//! family's own choice for a shape ([`FlashConfig::split_for_shape`]).

use super::config::{FlashConfig, KvSource, LaneSum, kernel_name};
use crate::error::{Error, Result};
use crate::gpu::{DeviceFacts, REGISTER_CAP, REGISTER_TARGET};
use crate::kernels::Precision;
use crate::shape::Shape;

/// Most rows per row group, and most keys per tile, the split kernel is built for.
const MAX_SPLIT_ROWS: u32 = 4;
const MAX_SPLIT_BLOCK_KV: u32 = 64;

impl FlashConfig {
    fn key_lanes(&self) -> u32 {
        match self.kv {
            KvSource::KeySplit { key_lanes } => key_lanes,
            _ => 1,
        }
    }

    /// Steps of four keys per key lane and tile.
    pub(super) fn keys_per_lane4(&self) -> u32 {
        self.block_kv / (4 * self.key_lanes())
    }

    /// Workgroup memory of the split kernel without the lanes' sums: two buffers of K and
    /// V tiles, rows padded to d/4 + 1 vec4s (which also hold the merge), and each row
    /// group's (m, l) per key lane.
    pub(super) fn split_workgroup_bytes(&self, head_dim: u32) -> u32 {
        let stride = head_dim.div_ceil(4) + 1;
        4 * self.block_kv * stride * 16 + self.rows_per_workgroup() * self.key_lanes() * 8
    }

    /// Live floats per invocation of the split kernel, counted from the shader: per row
    /// the query and accumulator columns (8·DL, DL = ⌈d/4 / lanes⌉), the scores of its
    /// keys (4·KPT4), m, l, the row's key bounds, the merged M and L and the tile max (7);
    /// then four K/V vec4s in flight (16) and indices (8): R·(8·DL + 4·KPT4 + 7) + 24.
    pub(super) fn split_live_floats(&self, head_dim: u32) -> u32 {
        let dl = head_dim.div_ceil(4).div_ceil(self.lanes.max(1));
        self.rows * (8 * dl + 4 * self.keys_per_lane4() + 7) + 24
    }

    /// Loop iterations per tile of the split kernel (its register loops are unrolled): the
    /// staging loop, the lanes' sums, the tile loop itself.
    pub(super) fn split_loop_iterations(&self, head_dim: u32, lane_sum: LaneSum) -> u64 {
        let d4 = u64::from(head_dim.div_ceil(4));
        let per_sum = match lane_sum {
            LaneSum::Whole => 0,
            LaneSum::Subgroup => u64::from(self.lanes.trailing_zeros()),
            LaneSum::Workgroup => u64::from(self.lanes),
        };
        let sums = u64::from(self.rows * self.keys_per_lane4()) * per_sum;
        (u64::from(self.block_kv) * d4).div_ceil(u64::from(self.block_q)) + sums + 4
    }

    /// What the split kernel needs besides the limits [`FlashConfig::validate_on`] checks:
    /// f32, whole row groups per workgroup, whole steps of four keys per key lane, a tile
    /// that holds the merge of a workgroup's rows, and rows and keys within what it is
    /// built for.
    pub(super) fn check_split(
        &self,
        shape: &Shape,
        key_lanes: u32,
        precision: Precision,
    ) -> Result<()> {
        let unsupported = |reason: String| Error::Unsupported {
            kernel: kernel_name(precision).into(),
            reason: format!("{self}: {reason}"),
        };
        if precision != Precision::F32 {
            return Err(unsupported("the key split is built for f32 only".into()));
        }
        let lanes = self.lanes.max(1);
        if key_lanes == 0 || !self.block_q.is_multiple_of(key_lanes * lanes) {
            return Err(unsupported(
                "block_q must be a whole number of row groups of key lanes × lanes".into(),
            ));
        }
        if self.block_kv == 0
            || self.block_kv > MAX_SPLIT_BLOCK_KV
            || !self.block_kv.is_multiple_of(4 * key_lanes)
        {
            return Err(unsupported(format!(
                "block_kv must be a multiple of 4 × key lanes up to {MAX_SPLIT_BLOCK_KV}"
            )));
        }
        if !(1..=MAX_SPLIT_ROWS).contains(&self.rows) {
            return Err(unsupported(format!("rows must be in 1..={MAX_SPLIT_ROWS}")));
        }
        // The merge holds each row's key lanes in the tile buffers.
        if self.rows_per_workgroup() * key_lanes > 4 * self.block_kv {
            return Err(unsupported(
                "the merge of a workgroup's rows needs rows × key lanes ≤ 4 × block_kv".into(),
            ));
        }
        if lanes > shape.head_dim.div_ceil(4).next_power_of_two() {
            return Err(unsupported(format!(
                "{lanes} lanes exceed head_dim {}'s vec4 columns",
                shape.head_dim
            )));
        }
        Ok(())
    }

    /// The split family's choice for `shape` on a device with `facts`: one row per row
    /// group; the fewest lanes per key lane that keep its live floats within
    /// [`REGISTER_TARGET`] (on CPU drivers too: they run what a GPU would); 4 key lanes of
    /// one step each (16 keys per tile), fewer where workgroup memory cannot hold two
    /// buffers of them (2 at d = 128, 1 at d = 256); 64 invocations (a whole number of the
    /// largest subgroup where lanes sum by subgroup).
    pub fn split_for_shape(
        shape: &Shape,
        facts: &DeviceFacts,
        precision: Precision,
    ) -> Result<FlashConfig> {
        let d4 = shape.head_dim.div_ceil(4);
        let target = facts
            .register_cap
            .unwrap_or(REGISTER_CAP)
            .min(REGISTER_TARGET);
        let mut config = FlashConfig {
            kv: KvSource::KeySplit { key_lanes: 4 },
            block_q: 64,
            rows: 1,
            block_kv: 16,
            lanes: 1,
        };
        while config.split_live_floats(shape.head_dim) > target && config.lanes * 2 <= d4 {
            config.lanes *= 2;
        }
        let wide = facts.subgroup_max.max(64);
        if config.lanes > 1
            && wide <= facts.limits.max_compute_invocations_per_workgroup
            && facts.subgroup_spans(config.lanes, wide)
        {
            config.block_q = wide;
        }
        for key_lanes in [4, 2, 1] {
            config.kv = KvSource::KeySplit { key_lanes };
            config.block_kv = 4 * key_lanes;
            while config.block_q < config.lanes * key_lanes {
                config.block_q *= 2;
            }
            if config.validate_on(shape, facts, precision).is_ok() {
                return Ok(config);
            }
        }
        config.validate_on(shape, facts, precision)?;
        Ok(config)
    }
}
