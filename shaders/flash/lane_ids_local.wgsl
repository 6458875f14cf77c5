// Lane numbering for kernels whose lanes use no subgroup operation (flash/lane_sum_none.wgsl,
// flash/lane_sum_workgroup.wgsl; decode's workgroup merge): appended by src/kernels.
//
// The invocation's lane index, by which the kernel assigns rows and lanes: with no
// subgroup operation among them any numbering works, so the local invocation index.
struct LaneIds {
    @builtin(local_invocation_index) local: u32,
}

fn lane_index(ids: LaneIds) -> u32 {
    return ids.local;
}
