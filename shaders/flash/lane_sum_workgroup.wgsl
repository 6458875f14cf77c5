// lane_sum for flash/tiles.wgsl with LANES > 1 where subgroup operations cannot hold a row's
// lanes (no SUBGROUP, or subgroups that may be narrower than LANES): the partial dot
// products of the row's LANES consecutive invocations are summed through workgroup
// memory. Every lane adds the same values in the same order, so all lanes of the row end
// with identical scores (the softmax state must agree across them). Two barriers per
// call: every call must be in uniform control flow (flash/tiles.wgsl's are: their loop bounds
// are per workgroup).

var<workgroup> lane_buf: array<vec4<f32>, BLOCK_Q>;

fn lane_sum(x: vec4<f32>, lid: u32) -> vec4<f32> {
    lane_buf[lid] = x;
    workgroupBarrier();
    let first = lid - lid % LANES;
    var total = vec4<f32>(0.0);
    for (var u = 0u; u < LANES; u++) {
        total += lane_buf[first + u];
    }
    workgroupBarrier();
    return total;
}
