//! [`DecodePlan`]: how decode splits one shape on one device, a pure function of the shape
//! and the device's facts — the workgroup's key lanes and lanes per key, the chunks of
//! keys (llama.cpp's split-k count: about twice the device's parallelism), and what that
//! costs in live floats, workgroup memory, loop iterations and partials.

use crate::gpu::{DeviceFacts, REGISTER_TARGET};
use crate::kernels::flash::LaneSum;
use crate::shape::Shape;

/// Query rows per (batch, head) a decode step computes: one generated token.
pub const DECODE_QUERIES: u32 = 1;

/// Invocations per workgroup of the partial pass on CPU drivers without subgroups: a key
/// lane per invocation holds whole rows. With a fixed subgroup size the workgroup is one
/// subgroup ([`Merge::Subgroup`]).
const CPU_WORKGROUP: u32 = 64;

/// Invocations per workgroup of the partial pass on GPUs: 8 warps of 32, so that about
/// two workgroups per SM (the chunk count below) keep enough loads in flight.
const GPU_WORKGROUP: u32 = 256;

/// Invocations of the combine pass (`REDUCE_WG` in `shaders/decode/combine.wgsl`): a
/// power of two no smaller than the most vec4 columns of a row (d ≤ 256).
pub(super) const COMBINE_WG: u32 = 64;

/// Most vec4s of workgroup memory the partial pass's merge takes per invocation.
const MERGE_VEC4S: u32 = 512;

/// Fewest keys each key lane of a chunk takes: fewer would spend more on merging than on
/// keys.
const MIN_KEYS_PER_LANE: u32 = 8;

/// Query rows of decode at `shape`: the last [`DECODE_QUERIES`] (fewer for shorter n).
pub(super) fn queries(shape: &Shape) -> u32 {
    DECODE_QUERIES.min(shape.seq_len)
}

/// How a workgroup of the partial pass merges its key lanes into one record per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Merge {
    /// Subgroup butterflies (`decode/merge_subgroup.wgsl`): the workgroup is one subgroup of
    /// the device's fixed size. CPU drivers: no barrier, so lavapipe runs each workgroup as
    /// one SIMD group (a barrier anywhere makes every group a coroutine, and took its key
    /// loop from 45–60 ms to 110–125 ms at 1×1×262 144×64).
    Subgroup,
    /// A tree and column sums through workgroup memory (`decode/merge_workgroup.wgsl`):
    /// workgroups of several subgroups (GPUs), or none.
    Workgroup,
}

/// How decode splits one shape on one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecodePlan {
    /// Query rows a key lane serves per K/V load: 4, or 1 when the group has a single row
    /// (multi-head attention with one query), where four would waste arithmetic.
    pub rows_per_load: u32,
    /// Lanes splitting each key's head dim (1 on CPU drivers).
    pub lanes: u32,
    /// Invocations per workgroup of the partial pass (key lanes × lanes).
    pub workgroup: u32,
    /// Workgroups of the partial pass per (batch, KV head): the chunks of keys, each
    /// merged into one partial per query row.
    pub chunks: u32,
    /// Keys per chunk (a multiple of the key lanes).
    pub chunk_keys: u32,
    /// How the lanes of a key sum their partial dots.
    pub lane_sum: LaneSum,
    /// How the key lanes merge into the workgroup's record.
    pub merge: Merge,
}

impl DecodePlan {
    /// The plan for `shape` on a device with `facts` (`lanes` fixes the lanes per key, for
    /// tests): rows per load as the group allows; on devices with a register cap the fewest
    /// lanes per key that keep its live floats within [`REGISTER_TARGET`]; chunks so that
    /// all of them together make about twice the device's parallelism
    /// ([`DeviceFacts::parallelism`]), each key lane taking at least [`MIN_KEYS_PER_LANE`]
    /// keys, and more where a driver's loop cap needs them.
    pub fn new(shape: &Shape, facts: &DeviceFacts, lanes: Option<u32>) -> DecodePlan {
        let rows_per_load = if shape.group_size() * queries(shape) > 1 {
            4
        } else {
            1
        };
        let d4 = shape.head_dim.div_ceil(4);
        let (workgroup, merge) = match (facts.is_cpu, facts.fixed_subgroup_size()) {
            (true, Some(size)) => (size, Merge::Subgroup),
            (true, None) => (CPU_WORKGROUP, Merge::Workgroup),
            (false, _) => (GPU_WORKGROUP, Merge::Workgroup),
        };
        let workgroup = workgroup
            .min(facts.limits.max_compute_invocations_per_workgroup)
            .max(1);
        let mut plan = DecodePlan {
            rows_per_load,
            lanes: 1,
            workgroup,
            chunks: 1,
            chunk_keys: 1,
            lane_sum: LaneSum::Whole,
            merge,
        };
        match (lanes, facts.register_cap) {
            (Some(lanes), _) => plan.lanes = lanes.clamp(1, workgroup),
            (None, Some(cap)) => {
                while plan.live_floats(shape.head_dim) > cap.min(REGISTER_TARGET) && plan.lanes < d4
                {
                    plan.lanes *= 2;
                }
            }
            (None, None) => {}
        }
        plan.lane_sum = if plan.lanes == 1 {
            LaneSum::Whole
        } else if facts.subgroup_spans(plan.lanes, workgroup) {
            LaneSum::Subgroup
        } else {
            LaneSum::Workgroup
        };
        let key_lanes = plan.key_lanes();
        let kv_heads = u64::from(shape.batch) * u64::from(shape.kv_head_count());
        let wanted = (2 * u64::from(facts.parallelism())).div_ceil(kv_heads);
        let most = u64::from(shape.seq_len.div_ceil(key_lanes * MIN_KEYS_PER_LANE)).max(1);
        plan.set_chunks(shape, wanted.min(most) as u32);
        if let Some(cap) = facts.loop_cap {
            while plan.iterations(shape) > cap * 9 / 10 && u64::from(plan.chunks) < most {
                plan.set_chunks(shape, plan.chunks * 2);
            }
        }
        plan
    }

    /// This plan with about `chunks` chunks per (batch, KV head) instead (tests).
    pub fn with_chunks(mut self, shape: &Shape, chunks: u32) -> DecodePlan {
        self.set_chunks(shape, chunks);
        self
    }

    /// Splits the keys into about `chunks` chunks of a whole number of steps each.
    fn set_chunks(&mut self, shape: &Shape, chunks: u32) {
        let chunks = chunks.max(1);
        self.chunk_keys = shape
            .seq_len
            .div_ceil(chunks)
            .next_multiple_of(self.key_lanes());
        self.chunks = shape.seq_len.div_ceil(self.chunk_keys);
    }

    /// `split C×K, rows R[, lanes L]`: chunks per KV head (the records per row) × key
    /// lanes per chunk, rows per load and lanes per key, as results name it.
    pub fn label(&self) -> String {
        let lanes = if self.lanes > 1 {
            format!(", lanes {}", self.lanes)
        } else {
            String::new()
        };
        format!(
            "split {}×{}, rows {}{lanes}",
            self.chunks,
            self.key_lanes(),
            self.rows_per_load
        )
    }

    /// Key lanes per workgroup of the partial pass.
    pub fn key_lanes(&self) -> u32 {
        self.workgroup / self.lanes
    }

    /// vec4 columns of a row each lane holds: ⌈d/4 / lanes⌉.
    pub fn columns(&self, head_dim: u32) -> u32 {
        head_dim.div_ceil(4).div_ceil(self.lanes)
    }

    /// vec4s per invocation of the merge's workgroup memory (`MS` in
    /// `decode/merge_workgroup.wgsl`): at least two (the tree over (m, l)), at most a row's
    /// columns; none for [`Merge::Subgroup`].
    pub fn merge_slots(&self, head_dim: u32) -> u32 {
        match self.merge {
            Merge::Subgroup => 0,
            Merge::Workgroup => self
                .columns(head_dim)
                .min(MERGE_VEC4S / self.workgroup)
                .max(2),
        }
    }

    /// Bytes of workgroup memory of the partial pass: the merge's slots, and one vec4 per
    /// invocation where lanes sum through workgroup memory.
    pub fn workgroup_bytes(&self, head_dim: u32) -> u32 {
        let sums = u32::from(self.lane_sum == LaneSum::Workgroup);
        (self.merge_slots(head_dim) + sums) * self.workgroup * 16
    }

    /// Live floats per invocation of the partial pass at `head_dim`, counted from the
    /// shader: the query and accumulator columns of its rows (8·QR·DL, DL = ⌈d/4 /
    /// lanes⌉), m, l, the rows' bounds, heads and query indices (six vec4s), the scores,
    /// α, p and the new max (four vec4s) and a K or V vec4 (4): 8·QR·DL + 44. The merge
    /// after the key loop holds less (the query columns are dead by then).
    pub fn live_floats(&self, head_dim: u32) -> u32 {
        8 * self.rows_per_load * self.columns(head_dim) + 44
    }

    /// Loop iterations one invocation runs in the pass that runs more, for a driver's loop
    /// cap: the partial pass's key loop once per QR query rows (with the lanes' sum per
    /// key), its merge; the combine's loops over the chunks.
    pub fn iterations(&self, shape: &Shape) -> u64 {
        let steps = u64::from((shape.group_size() * queries(shape)).div_ceil(self.rows_per_load));
        let per_key = 1 + match self.lane_sum {
            LaneSum::Whole => 0,
            LaneSum::Subgroup => u64::from(self.lanes.trailing_zeros()),
            LaneSum::Workgroup => u64::from(self.lanes),
        };
        let keys = u64::from(self.chunk_keys / self.key_lanes());
        let merge = 3 * u64::from(self.workgroup.trailing_zeros())
            + u64::from(self.columns(shape.head_dim))
                * match self.merge {
                    Merge::Subgroup => u64::from(self.workgroup.trailing_zeros()),
                    Merge::Workgroup => u64::from(self.key_lanes()),
                };
        let partial = steps * (keys * per_key + merge + 8);
        let chunks = u64::from(self.chunks);
        let slices = u64::from((COMBINE_WG / shape.head_dim.div_ceil(4)).max(1));
        let combine =
            2 * chunks.div_ceil(u64::from(COMBINE_WG)) + chunks.div_ceil(slices) + slices + 32;
        partial.max(combine)
    }

    /// Bytes of the partials: one record of ⌈d/4⌉ + 1 vec4s per (batch, head, chunk,
    /// query row).
    pub fn partials_bytes(&self, shape: &Shape) -> u64 {
        shape.batch_heads()
            * u64::from(self.chunks)
            * u64::from(queries(shape))
            * (u64::from(shape.head_dim.div_ceil(4)) + 1)
            * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lavapipe() -> DeviceFacts {
        DeviceFacts {
            is_cpu: true,
            register_cap: None,
            loop_cap: Some(65_535),
            compute_units: Some(2),
            ..DeviceFacts::simulated_gpu(Some((8, 8)))
        }
    }

    #[test]
    fn keys_split_into_twice_the_parallelism_whatever_n() {
        let long = Shape::new(262_144, 64);
        let cpu = DecodePlan::new(&long, &lavapipe(), None);
        assert_eq!((cpu.chunks, cpu.lanes, cpu.workgroup), (4, 1, 8));
        assert_eq!((cpu.merge, cpu.workgroup_bytes(64)), (Merge::Subgroup, 0));
        let h100 = DecodePlan::new(&long, &DeviceFacts::h100(), None);
        // 264 wanted; chunks of a whole number of 64-key steps make it 256 of 1024 keys.
        assert_eq!((h100.chunks, h100.lanes, h100.workgroup), (256, 4, 256));
        assert_eq!(
            (h100.lane_sum, h100.merge),
            (LaneSum::Subgroup, Merge::Workgroup)
        );
        // The combine's reads: 256 records of 17 vec4s, 69.6 KB against K/V's 128 MiB.
        assert_eq!(h100.partials_bytes(&long), 256 * 17 * 16);
        // Grouped queries share the device among the KV heads.
        let gqa = Shape::new(65_536, 64)
            .with_batch_heads(1, 8)
            .with_kv_heads(2);
        let plan = DecodePlan::new(&gqa, &DeviceFacts::h100(), None);
        assert_eq!((plan.chunks, plan.rows_per_load, plan.lanes), (128, 4, 16));
        assert!(plan.live_floats(64) <= REGISTER_TARGET);
    }

    #[test]
    fn short_and_capped_shapes_get_fewer_or_more_chunks() {
        // n = 1: one chunk, its empty key lanes merge away inside the workgroup.
        let one = DecodePlan::new(&Shape::new(1, 64), &lavapipe(), None);
        assert_eq!((one.chunks, one.chunk_keys), (1, 8));
        // Past lavapipe's loop cap the chunks grow until each lane's loop fits.
        let huge = Shape::new(1 << 24, 64);
        let plan = DecodePlan::new(&huge, &lavapipe(), None);
        assert!(plan.chunks > 4 && plan.iterations(&huge) <= 65_535 * 9 / 10);
        // Without subgroups (GL) the merge goes through workgroup memory, within 32 KiB.
        let gl = DeviceFacts {
            features: wgpu::Features::empty(),
            subgroup_min: 0,
            subgroup_max: 0,
            ..lavapipe()
        };
        let plan = DecodePlan::new(&Shape::new(4096, 256), &gl, None);
        assert_eq!((plan.merge, plan.workgroup), (Merge::Workgroup, 64));
        assert!(plan.workgroup_bytes(256) <= 32 << 10);
    }
}
