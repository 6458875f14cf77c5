// Workgroup-wide max and sum of one f32 per invocation, for REDUCE_WG invocations (a power
// of two the including shader defines). Call from uniform control flow: it has barriers.

var<workgroup> reduce_buf: array<f32, REDUCE_WG>;

fn reduce_max(lid: u32, value: f32) -> f32 {
    reduce_buf[lid] = value;
    workgroupBarrier();
    for (var stride = REDUCE_WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            reduce_buf[lid] = max(reduce_buf[lid], reduce_buf[lid + stride]);
        }
        workgroupBarrier();
    }
    let result = reduce_buf[0];
    workgroupBarrier();
    return result;
}

fn reduce_sum(lid: u32, value: f32) -> f32 {
    reduce_buf[lid] = value;
    workgroupBarrier();
    for (var stride = REDUCE_WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            reduce_buf[lid] = reduce_buf[lid] + reduce_buf[lid + stride];
        }
        workgroupBarrier();
    }
    let result = reduce_buf[0];
    workgroupBarrier();
    return result;
}

