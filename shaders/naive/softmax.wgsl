// naive's row softmax over one chunk of the score matrix, in place: P = softmax(S) per row, the
// keys a row does not see (causal, window) written as exact zeros. Two passes over each row,
// the fewest a standalone softmax needs: one read that keeps a running max and a running sum of
// exponentials (rescaled when the max grows, as the online softmax does), and one that writes
// exp(s − max) / sum. One workgroup per row; invocations take the row's vec4s in turn
// (coalesced on GPUs). The scores of keys a row does not see may be anything (naive's scores
// skip whole steps no row of a block sees): they are never used.

// Invocations per row, rewritten per pipeline by src/kernels/naive/softmax.rs: one subgroup
// on CPU drivers (reduced by naive/reduce_subgroup.wgsl), else 64 (reduced through workgroup
// memory, common/workgroup_reduce.wgsl).
const ROW_WG: u32 = 64u;
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
    var m = NEG_BIG;
    var l = 0.0;
    for (var j = (first & ~3u) + 4u * lid; j < end; j += 4u * ROW_WG) {
        let key = vec4<u32>(j, j + 1u, j + 2u, j + 3u);
        let seen = (key >= vec4<u32>(first)) & (key < vec4<u32>(end));
        let x = select(vec4<f32>(NEG_BIG), s_load(base + j, n - j), seen);
        let m_new = max(m, max(max(x.x, x.y), max(x.z, x.w)));
        let e = select(vec4<f32>(0.0), exp(x - vec4<f32>(m_new)), seen);
        l = l * exp(m - m_new) + (e.x + e.y + e.z + e.w);
        m = m_new;
    }
    let row_max = reduce_max(lid, m);
    let inv = 1.0 / reduce_sum(lid, l * exp(m - row_max));
    for (var j = 4u * lid; j < n; j += 4u * ROW_WG) {
        let key = vec4<u32>(j, j + 1u, j + 2u, j + 3u);
        let seen = (key >= vec4<u32>(first)) & (key < vec4<u32>(end));
        let p = exp(s_load(base + j, n - j) - vec4<f32>(row_max)) * inv;
        s_store(base + j, select(vec4<f32>(0.0), p, seen), n - j);
    }
}
