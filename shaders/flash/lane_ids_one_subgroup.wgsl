// Lane numbering for a workgroup that is exactly one subgroup (decode's subgroup merge on
// CPU drivers, its size the adapter's fixed subgroup size): appended by src/kernels.
//
// The invocation's lane index is its `subgroup_invocation_id`, so that
// `subgroupShuffleXor(x, mask)` reads lane index `^ mask`; no assumed mapping from the
// local invocation index, and no `subgroup_id` (one subgroup: it is 0).
struct LaneIds {
    @builtin(subgroup_invocation_id) lane: u32,
}

fn lane_index(ids: LaneIds) -> u32 {
    return ids.lane;
}
