// Lane numbering for kernels whose lanes meet in subgroup operations
// (flash/lane_sum_subgroup.wgsl; decode's subgroup merge): appended by src/kernels.
//
// The invocation's lane index, by which the kernel assigns rows and lanes: numbered by
// subgroup, `subgroup_id · subgroup_size + subgroup_invocation_id`, so that the LANES
// lanes of a row (aligned LANES-runs of the index) are lanes of one subgroup and
// `subgroupShuffleXor(x, mask)` reads lane index `^ mask`. Vulkan does not promise that
// subgroups are runs of the local invocation index; this numbering needs no such promise.
// It is a permutation of the workgroup's invocations when every subgroup is full (the
// workgroup a whole number of the largest subgroup size: src/gpu/facts.rs,
// `subgroup_spans`).
struct LaneIds {
    @builtin(subgroup_id) subgroup: u32,
    @builtin(subgroup_size) size: u32,
    @builtin(subgroup_invocation_id) lane: u32,
}

fn lane_index(ids: LaneIds) -> u32 {
    return ids.subgroup * ids.size + ids.lane;
}
