// Decode's second pass (decode/partial.wgsl writes its input): one workgroup of REDUCE_WG
// invocations per (batch, head, query row) merges the row's `chunks` records (a few per
// unit of the device's parallelism: a few KB, against K/V's megabytes):
// M = max m and L = Σ l·2^(m − M) by workgroup reductions over the records, then each lane
// sums a slice of the records for one vec4 column and the slices are added:
// O = Σ acc·2^(m − M) / L. No subgroup operation: it runs on every adapter.

const D4: u32 = 16u;            // ceil(head_dim / 4): rewritten by src/kernels/decode/
const REDUCE_WG: u32 = 64u;     // invocations (common/workgroup_reduce.wgsl)

var<workgroup> col_sh: array<vec4<f32>, REDUCE_WG>;

@compute @workgroup_size(REDUCE_WG)
fn combine(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let d = params.head_dim;
    let head = group / params.queries;
    let r = group % params.queries;
    let chunks = params.chunks;
    var mx = NEG_BIG;
    for (var s = lid; s < chunks; s += REDUCE_WG) {
        mx = max(mx, partials[partial_base(head, s, r) + D4].x);
    }
    let big_m = reduce_max(lid, mx);
    var ls = 0.0;
    for (var s = lid; s < chunks; s += REDUCE_WG) {
        let ml = partials[partial_base(head, s, r) + D4];
        ls += ml.y * exp2(ml.x - big_m);
    }
    let big_l = reduce_sum(lid, ls);
    // Lane (slice, c4) sums records slice, slice + slices, … of column c4.
    let slices = REDUCE_WG / D4;
    let c4 = lid % D4;
    let slice = lid / D4;
    var a = vec4<f32>(0.0);
    if (slice < slices) {
        for (var s = slice; s < chunks; s += slices) {
            let base = partial_base(head, s, r);
            a = fma(vec4<f32>(exp2(partials[base + D4].x - big_m)), partials[base + c4], a);
        }
    }
    col_sh[lid] = a;
    workgroupBarrier();
    if (slice == 0u) {
        var total = col_sh[c4];
        for (var u = 1u; u < slices; u++) {
            total += col_sh[u * D4 + c4];
        }
        let row = head * params.queries + r;
        for (var e = 0u; e < 4u; e++) {
            if (c4 * 4u + e < d) {
                o[row * d + c4 * 4u + e] = total[e] / big_l;
            }
        }
    }
}
