// naive's row softmax over one chunk of the score matrix, in place, for rows short enough to
// hold in registers: one read of the row, its max, its exponentials kept, their sum, one write
// of P = exp(s − max) / sum; the keys a row does not see written as exact zeros. One workgroup
// per row (one subgroup on CPU drivers); invocation `lid` holds the row's vec4s
// lid, lid + ROW_WG, … (QUADS of them, loops unrolled so that they stay in registers).
// Longer rows stream through naive/softmax.wgsl.

// Rewritten per pipeline by src/kernels/naive/softmax.rs (gpu::specialize):
const ROW_WG: u32 = 8u;
const QUADS: u32 = 8u;         // vec4s per invocation: ROW_WG · QUADS · 4 ≥ n
const REDUCE_WG: u32 = ROW_WG;
const NEG_BIG: f32 = -3.0e38;

// s (the chunk, read_write) at binding 0: naive/s_vec4.wgsl or naive/s_scalar.wgsl.
@group(0) @binding(1) var<storage, read> params: Params;

@compute @workgroup_size(ROW_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let local_row = workgroup_linear_id(wid, nwg);
    if (local_row >= params.row_count) {
        return;
    }
    let n = params.seq_len;
    let i = (params.row_start + local_row) % n;
    let first = first_visible_key(i, params.window);
    let end = visible_end(i);
    let base = local_row * n;
    var x: array<vec4<f32>, QUADS>;
    var m = NEG_BIG;
    for (var t = 0u; t < QUADS; t++) { // unroll
        let j = 4u * (t * ROW_WG + lid);
        let inside = j < n;
        let key = vec4<u32>(j, j + 1u, j + 2u, j + 3u);
        let seen = (key >= vec4<u32>(first)) & (key < vec4<u32>(end));
        let loaded = s_load(base + select(0u, j, inside), select(1u, n - j, inside));
        x[t] = select(vec4<f32>(NEG_BIG), loaded, seen);
        m = max(m, max(max(x[t].x, x[t].y), max(x[t].z, x[t].w)));
    }
    let row_max = reduce_max(lid, m);
    var l = 0.0;
    for (var t = 0u; t < QUADS; t++) { // unroll
        let j = 4u * (t * ROW_WG + lid);
        let key = vec4<u32>(j, j + 1u, j + 2u, j + 3u);
        let seen = (key >= vec4<u32>(first)) & (key < vec4<u32>(end));
        x[t] = select(vec4<f32>(0.0), exp(x[t] - vec4<f32>(row_max)), seen);
        l += (x[t].x + x[t].y) + (x[t].z + x[t].w);
    }
    let inv = 1.0 / reduce_sum(lid, l);
    for (var t = 0u; t < QUADS; t++) { // unroll
        let j = 4u * (t * ROW_WG + lid);
        if (j < n) {
            s_store(base + j, x[t] * inv, n - j);
        }
    }
}
