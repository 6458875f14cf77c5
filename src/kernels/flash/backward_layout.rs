//! How flash's backward is laid out on a device ([`BackwardLayout`]: which kernels, rows
//! per invocation, invocations per workgroup, lanes per row, where streamed rows are read
//! from), what it costs (live floats, loop iterations), and how a driver's loop cap splits
//! it into passes ([`BackwardPasses`]).

use super::backward_rows::BackwardRows;
use super::config::{LaneSum, q_texels, subgroup_size_of};
use crate::error::{Error, Result};
use crate::gpu::{
    DeviceFacts, REGISTER_CAP, REGISTER_TARGET, texel_extent, texel_pair_within_budget,
};
use crate::kernels::gradient_plan;
use crate::shape::Shape;

/// How the backward's two main kernels share the rows they stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackwardKind {
    /// Four streamed rows at a time shared across a subgroup by `subgroupBroadcast` from
    /// constant lanes, loops unrolled (`flash/backward_dq.wgsl`, `_dkdv.wgsl`): for CPU
    /// drivers with one fixed subgroup size, where every load is a loop over the lanes.
    Broadcast,
    /// Streamed rows staged in workgroup-memory tiles, each own row split across `lanes`
    /// lanes (`flash/backward_dq_tiles.wgsl`, `_dkdv_tiles.wgsl`): any subgroup size, or
    /// none, within the register cap. The default on GPUs and where the size varies.
    Tiles,
}

/// How the backward's kernels are laid out on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BackwardLayout {
    /// Which pair of kernels.
    pub kind: BackwardKind,
    /// Invocations per workgroup.
    pub block: u32,
    /// Broadcast: the adapter's fixed subgroup size. Tiles: lanes that split each row.
    pub lanes: u32,
    /// Query rows per invocation (broadcast) or lane group (tiles) of the dQ kernel.
    pub dq_rows: u32,
    /// Key rows per invocation (broadcast) or lane group (tiles) of the dK/dV kernel.
    pub dkdv_rows: u32,
    /// Tiles: streamed rows per workgroup-memory tile (a multiple of 4; 4 for broadcast).
    pub tile: u32,
    /// Whether the rows each kernel streams (Q and dO in dK/dV, K and V in dQ) are read from
    /// a texel pair (`src/kernels/flash/texel_pair.rs`) rather than from their buffers
    /// (broadcast only).
    pub texels: bool,
}

impl std::fmt::Display for BackwardLayout {
    /// `bwd DQ,DKDV,BLOCK[,texels]` (broadcast: the rows per invocation of the dQ and dK/dV
    /// kernels, the invocations per workgroup and whether streamed rows come from texel
    /// arrays, in `ATTNBENCH_FLASH_BWD_ROWS`'s order) or `bwd tiles,DQ,DKDV,BLOCK,LANES,TILE`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            BackwardKind::Broadcast => {
                write!(f, "bwd {},{},{}", self.dq_rows, self.dkdv_rows, self.block)?;
                if self.texels {
                    f.write_str(",texels")?;
                }
                Ok(())
            }
            BackwardKind::Tiles => write!(
                f,
                "bwd tiles,{},{},{},{},{}",
                self.dq_rows, self.dkdv_rows, self.block, self.lanes, self.tile
            ),
        }
    }
}

/// Register budgets per invocation, in floats, for the row registers of the broadcast dQ
/// kernel (3 per row and column: Q, dO, dQ) and dK/dV kernel (4: K, V, dK, dV). Measured on
/// lavapipe at B2 H4 n2048 d64 (rows of dQ, dK/dV → FA-model GFLOP/s, one session):
/// (1, 1) 4.1, (2, 2) 7.5, (4, 4) 9.8, (2, 4) 8.6, (4, 8) 11.3 but 4 minutes to compile,
/// (8, 4) 13.5: more rows share each broadcast row, until compile time explodes.
const DQ_REGISTER_FLOATS: u32 = 1536;
const DKDV_REGISTER_FLOATS: u32 = 1024;

/// The broadcast kernels' budgets as (floats per row and head-dim column, floats): what
/// their default rows come from ([`broadcast_rows`]) and what an
/// `ATTNBENCH_FLASH_BWD_ROWS` override is checked against
/// ([`super::backward_rows::BackwardRows::check`]). GPUs' register cap applies on top
/// ([`BackwardLayout::validate`]).
const BROADCAST_BUDGETS: [(u32, u32); 2] = [(3, DQ_REGISTER_FLOATS), (4, DKDV_REGISTER_FLOATS)];

/// The broadcast kernels' default (dQ, dK/dV) rows per invocation at `head_dim`: as many
/// as their budgets hold, at most 8 and 4 (d = 64: 8 and 4; d = 128: 4 and 2).
fn broadcast_rows(head_dim: u32) -> (u32, u32) {
    let [(dq_per, dq_budget), (dkdv_per, dkdv_budget)] = BROADCAST_BUDGETS;
    (
        (dq_budget / (dq_per * head_dim)).clamp(1, 8),
        (dkdv_budget / (dkdv_per * head_dim)).clamp(1, 4),
    )
}

/// A forced layout kind: `ATTNBENCH_FLASH_BWD=broadcast`, `tiles` or `tiles,LANES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForcedBackward {
    /// The broadcast kernels (where the adapter has one fixed subgroup size).
    Broadcast,
    /// The tile kernels, with this many lanes per row where given.
    Tiles(Option<u32>),
}

impl ForcedBackward {
    /// Parses `broadcast`, `tiles` or `tiles,LANES` (LANES a power of two up to 64).
    pub fn parse(text: &str) -> Result<ForcedBackward> {
        let invalid = || Error::InvalidSetting {
            what: "ATTNBENCH_FLASH_BWD".into(),
            value: text.into(),
            expected: "broadcast, tiles or tiles,LANES (LANES a power of two up to 64)".into(),
        };
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        match fields.as_slice() {
            ["broadcast"] => Ok(ForcedBackward::Broadcast),
            ["tiles"] => Ok(ForcedBackward::Tiles(None)),
            ["tiles", lanes] => match lanes.parse::<u32>() {
                Ok(l) if l.is_power_of_two() && l <= 64 => Ok(ForcedBackward::Tiles(Some(l))),
                _ => Err(invalid()),
            },
            _ => Err(invalid()),
        }
    }
}

impl BackwardLayout {
    /// The layout for `shape` on a device with `facts`: the broadcast kernels on CPU
    /// drivers with one fixed subgroup size (lavapipe: faster there), the tile kernels
    /// elsewhere; `forced` forces either (for experiments and tests), and `rows` fixes the
    /// broadcast layout's rows. Checked against the device ([`BackwardLayout::validate`]).
    pub fn for_shape(
        shape: &Shape,
        facts: &DeviceFacts,
        forced: Option<ForcedBackward>,
        rows: Option<BackwardRows>,
    ) -> Result<BackwardLayout> {
        let broadcast_here = facts.is_cpu && facts.fixed_subgroup_size().is_some();
        let layout = match forced {
            Some(ForcedBackward::Broadcast) => Self::broadcast(shape, facts, rows)?,
            Some(ForcedBackward::Tiles(lanes)) => Self::tiles(shape, facts, lanes)?,
            None if broadcast_here => Self::broadcast(shape, facts, rows)?,
            None => Self::tiles(shape, facts, None)?,
        };
        layout.validate(shape, facts)?;
        Ok(layout)
    }

    /// The broadcast layout: rows per invocation as the register budgets allow for its head
    /// dim (at most 8 for dQ, 4 for dK/dV; d = 64: 8 and 4), 32 invocations per workgroup
    /// on CPU drivers and 64 elsewhere, and on CPU drivers streamed rows from texel arrays
    /// where they can hold Q (head_dim a multiple of 4, within the texture limits and the
    /// memory budget). `ATTNBENCH_FLASH_BWD_ROWS=dq,dkdv[,block[,texels|buffers]]`
    /// overrides it (for experiments; texels only where they can be held; the tile layout
    /// ignores it). Refused without a fixed subgroup size.
    fn broadcast(
        shape: &Shape,
        facts: &DeviceFacts,
        rows: Option<BackwardRows>,
    ) -> Result<BackwardLayout> {
        let lanes = subgroup_size_of(facts)?;
        let head_dim = shape.head_dim;
        let base = if facts.is_cpu { 32 } else { 64 };
        // Range-checked when parsed; checked against the head dim and the subgroup size
        // here, with the same budgets the default rows come from.
        if let Some(rows) = rows {
            rows.check(head_dim, lanes, BROADCAST_BUDGETS)?;
        }
        // Q, K, V, O, dO and the gradients, and the texel pair of Q's size: within the
        // memory budget, or the streamed rows come from the buffers.
        let others = crate::kernels::io_plan(shape, shape.seq_len).total_bytes()
            + gradient_plan(shape).total_bytes();
        let texels_fit = head_dim.is_multiple_of(4)
            && facts.texel_arrays
            && texel_extent("flash backward", q_texels(shape), &facts.limits).is_ok()
            && texel_pair_within_budget(facts, others, q_texels(shape)).is_ok();
        let texels = match rows.and_then(|r| r.texels) {
            Some(true) => texels_fit,
            Some(false) => false,
            None => facts.is_cpu && texels_fit,
        };
        let (dq_default, dkdv_default) = broadcast_rows(head_dim);
        Ok(BackwardLayout {
            kind: BackwardKind::Broadcast,
            block: rows
                .and_then(|r| r.block)
                .unwrap_or(base)
                .max(lanes)
                .next_multiple_of(lanes),
            lanes,
            dq_rows: rows.map_or(dq_default, |r| r.dq_rows),
            dkdv_rows: rows.map_or(dkdv_default, |r| r.dkdv_rows),
            tile: 4,
            texels,
        })
    }

    /// The tile layout: one row per lane group, `lanes` lanes per row (or the fewest that
    /// keep both kernels within [`REGISTER_TARGET`], as the forward's defaults aim, under
    /// the GPU register cap — [`REGISTER_CAP`] on CPU drivers too, so that they run what a
    /// GPU would: d = 64: 8 lanes, 128: 16, 256: 32, 74 live floats each), 64 invocations (a
    /// whole number of the largest subgroup where lanes sum by subgroup), and as many
    /// streamed rows per tile as workgroup memory holds, up to 32.
    fn tiles(shape: &Shape, facts: &DeviceFacts, lanes: Option<u32>) -> Result<BackwardLayout> {
        let d4 = shape.head_dim.div_ceil(4);
        let mut layout = BackwardLayout {
            kind: BackwardKind::Tiles,
            block: 64.min(facts.limits.max_compute_invocations_per_workgroup),
            lanes: lanes.unwrap_or(1),
            dq_rows: 1,
            dkdv_rows: 1,
            tile: 4,
            texels: false,
        };
        if lanes.is_none() {
            let cap = facts
                .register_cap
                .unwrap_or(REGISTER_CAP)
                .min(REGISTER_TARGET);
            while layout.live_floats(shape.head_dim, 1) > cap
                && layout.lanes < d4
                && layout.lanes < layout.block
            {
                layout.lanes *= 2;
            }
        }
        let wide = facts.subgroup_max.max(64);
        if layout.lanes > 1
            && wide <= facts.limits.max_compute_invocations_per_workgroup
            && facts.subgroup_spans(layout.lanes, wide)
        {
            layout.block = wide;
        }
        let per_row = 2 * d4 * 16;
        let free = facts
            .limits
            .max_compute_workgroup_storage_size
            .saturating_sub(layout.lane_sum_bytes(facts));
        layout.tile = (free / per_row).min(32) / 4 * 4;
        Ok(layout)
    }

    /// How the tile kernels' lanes sum their partial dots on a device with `facts`.
    pub fn lane_sum(&self, facts: &DeviceFacts) -> LaneSum {
        if self.kind == BackwardKind::Broadcast || self.lanes <= 1 {
            LaneSum::Whole
        } else if facts.subgroup_spans(self.lanes, self.block) {
            LaneSum::Subgroup
        } else {
            LaneSum::Workgroup
        }
    }

    fn lane_sum_bytes(&self, facts: &DeviceFacts) -> u32 {
        if self.lane_sum(facts) == LaneSum::Workgroup {
            self.block * 16
        } else {
            0
        }
    }

    /// Bytes of workgroup memory of either kernel on a device with `facts`: the tiles of
    /// streamed rows (two tensors of `tile` rows) and the lane sums' slots; none for the
    /// broadcast kernels.
    pub fn workgroup_bytes(&self, head_dim: u32, facts: &DeviceFacts) -> u32 {
        match self.kind {
            BackwardKind::Broadcast => 0,
            BackwardKind::Tiles => {
                2 * self.tile * head_dim.div_ceil(4) * 16 + self.lane_sum_bytes(facts)
            }
        }
    }

    /// Own rows per workgroup of `which` kernel (dQ: `true`).
    pub fn rows_per_workgroup(&self, dq: bool) -> u32 {
        let rows = if dq { self.dq_rows } else { self.dkdv_rows };
        match self.kind {
            BackwardKind::Broadcast => self.block * rows,
            BackwardKind::Tiles => self.block / self.lanes * rows,
        }
    }

    /// Live floats per invocation of the larger of the two kernels at `head_dim`, on a
    /// device whose smallest subgroup is `subgroup` lanes wide, counted from the shaders:
    /// - broadcast: per row its own rows (3 or 4 × d), s, dp, ds (and p) vec4s and bounds,
    ///   plus the step's streamed slots (8·⌈d/SG⌉): dQ 3·R·d + 8·⌈d/SG⌉ + 16·R, dK/dV
    ///   4·R·d + 8·⌈d/SG⌉ + 18·R + 8;
    /// - tiles, DL = ⌈d/4 / lanes⌉: dQ R·(12·DL + 16) + 16 (q, dO, dQ columns; s, dp, ds,
    ///   L, D and bounds; four streamed vec4s in flight), dK/dV R·(16·DL + 18) + 24 (k, v,
    ///   dK, dV columns; s, dp, p, ds and bounds; streamed vec4s, L and D).
    pub fn live_floats(&self, head_dim: u32, subgroup: u32) -> u32 {
        let (dq, dkdv) = (self.dq_rows, self.dkdv_rows);
        match self.kind {
            BackwardKind::Broadcast => {
                let slots = 8 * head_dim.div_ceil(subgroup.max(1));
                (3 * dq * head_dim + slots + 16 * dq)
                    .max(4 * dkdv * head_dim + slots + 18 * dkdv + 8)
            }
            BackwardKind::Tiles => {
                let dl = head_dim.div_ceil(4).div_ceil(self.lanes.max(1));
                (dq * (12 * dl + 16) + 16).max(dkdv * (16 * dl + 18) + 24)
            }
        }
    }

    /// Whether the layout runs `shape` on a device with `facts`: tiles within workgroup
    /// memory and lanes within the head dim, and live floats within the register cap.
    pub fn validate(&self, shape: &Shape, facts: &DeviceFacts) -> Result<()> {
        let unsupported = |reason: String| Error::Unsupported {
            kernel: "flash".into(),
            reason: format!("flash's backward ({self}): {reason}"),
        };
        if self.kind == BackwardKind::Tiles {
            let d4 = shape.head_dim.div_ceil(4);
            if self.lanes > d4.next_power_of_two() || self.lanes > self.block {
                return Err(unsupported(format!(
                    "{} lanes per row exceed head_dim {}'s {d4} vec4 columns",
                    self.lanes, shape.head_dim
                )));
            }
            let bytes = 2 * self.tile * d4 * 16 + self.lane_sum_bytes(facts);
            if self.tile < 4 || bytes > facts.limits.max_compute_workgroup_storage_size {
                return Err(unsupported(format!(
                    "tiles of head_dim {} need {} bytes of workgroup memory, device has {}",
                    shape.head_dim,
                    (2 * 4 * d4 * 16).max(bytes),
                    facts.limits.max_compute_workgroup_storage_size
                )));
            }
            if self.block > facts.limits.max_compute_invocations_per_workgroup {
                return Err(unsupported(format!(
                    "{} invocations exceed the device",
                    self.block
                )));
            }
        }
        facts.check_registers(
            "flash",
            &format!("flash's backward {self} at head_dim {}", shape.head_dim),
            self.live_floats(shape.head_dim, facts.subgroup_min),
        )
    }

    /// Loop iterations per step of four streamed rows of the (dQ, dK/dV) kernels (the
    /// broadcast kernels' steps are unrolled: one), for [`BackwardPasses`].
    pub fn step_iterations(&self, head_dim: u32, lane_sum: LaneSum) -> (u64, u64) {
        if self.kind == BackwardKind::Broadcast {
            return (1, 1);
        }
        let d4 = u64::from(head_dim.div_ceil(4));
        let dl = d4.div_ceil(u64::from(self.lanes));
        let per_sum = match lane_sum {
            LaneSum::Whole => 0,
            LaneSum::Subgroup => u64::from(self.lanes.trailing_zeros()),
            LaneSum::Workgroup => u64::from(self.lanes),
        };
        let tile = u64::from(self.tile.max(4));
        let load = ((tile * d4).div_ceil(u64::from(self.block)) + 2) * 4 / tile + 1;
        let step = |rows: u32| {
            let r = u64::from(rows);
            2 * dl * (1 + r) + r * (3 + 2 * per_sum) + 2 + load
        };
        (step(self.dq_rows), step(self.dkdv_rows))
    }
}

/// Passes of the backward's two main kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackwardPasses {
    /// Keys per pass of the dQ kernel (a multiple of 4).
    pub dq_keys: u64,
    /// Query rows per pass of the dK/dV kernel (a multiple of 4).
    pub dkdv_rows: u64,
}

impl BackwardPasses {
    /// Within the driver's loop cap, where a step of four streamed rows costs `costs`
    /// (dQ, dK/dV) loop iterations ([`BackwardLayout::step_iterations`]; the dK/dV kernel
    /// runs its steps once per query head of a group), and at most `max_keys` per pass when
    /// set.
    pub fn for_shape(
        shape: &Shape,
        cap: Option<u64>,
        max_keys: Option<u32>,
        (dq_cost, dkdv_cost): (u64, u64),
    ) -> Result<BackwardPasses> {
        let n = u64::from(shape.seq_len).next_multiple_of(4);
        let group = u64::from(shape.group_size());
        let (mut dq_keys, mut dkdv_rows) = (n, n);
        if let Some(cap) = cap {
            let steps = (cap * 8 / 10).saturating_sub(64 + 16 * dq_cost.max(dkdv_cost));
            dq_keys = dq_keys.min(steps / dq_cost.max(1) * 4);
            dkdv_rows = dkdv_rows.min((steps / dkdv_cost.max(1) / group).saturating_sub(1) * 4);
        }
        if let Some(keys) = max_keys {
            let keys = u64::from(keys).next_multiple_of(4);
            dq_keys = dq_keys.min(keys);
            dkdv_rows = dkdv_rows.min(keys);
        }
        if dq_keys == 0 || dkdv_rows == 0 {
            return Err(Error::Unsupported {
                kernel: "flash".into(),
                reason: format!(
                    "the driver's loop cap of {} iterations per invocation leaves no room for the backward's steps at {} query heads per KV head",
                    cap.unwrap_or(0),
                    group
                ),
            });
        }
        Ok(BackwardPasses { dq_keys, dkdv_rows })
    }

    /// The (begin, end) rows or keys of each pass of `per_pass`, over n padded to 4.
    pub fn ranges(per_pass: u64, n: u64) -> Vec<(u32, u32)> {
        let padded = n.next_multiple_of(4);
        (0..padded.div_ceil(per_pass))
            .map(|p| {
                (
                    (p * per_pass) as u32,
                    ((p + 1) * per_pass).min(padded) as u32,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_stay_under_the_loop_cap_and_cover_every_row() {
        let shape = Shape::new(100_000, 64)
            .with_batch_heads(1, 8)
            .with_kv_heads(2);
        let passes = BackwardPasses::for_shape(&shape, Some(65_535), None, (1, 1)).unwrap();
        // 4 query heads per KV head: each dK/dV step is 4 loop iterations.
        assert!(passes.dkdv_rows / 4 * 4 <= 65_535 * 8 / 10);
        // A costlier step (the tile kernels' column loops) shortens the passes.
        let tiles = BackwardPasses::for_shape(&shape, Some(65_535), None, (40, 40)).unwrap();
        assert!(tiles.dq_keys / 4 * 40 <= 65_535 * 8 / 10 && tiles.dq_keys < passes.dq_keys);
        assert!(passes.dq_keys / 4 <= 65_535 * 8 / 10);
        let ranges = BackwardPasses::ranges(passes.dkdv_rows, 100_000);
        assert_eq!(ranges.first().unwrap().0, 0);
        assert_eq!(ranges.last().unwrap().1, 100_000);
        assert!(
            ranges
                .windows(2)
                .all(|w| w[0].1 == w[1].0 && w[0].1 % 4 == 0)
        );
        // A forced small pass is rounded to whole steps of four.
        let small = BackwardPasses::for_shape(&Shape::new(37, 16), None, Some(10), (1, 1)).unwrap();
        assert_eq!(small.dq_keys, 12);
        assert_eq!(BackwardPasses::ranges(12, 37).len(), 4);
    }
}
