// naive's softmax backward over one chunk, in place of dP: dS = scale · P ∘ (dP − D) per row,
// D = rowsum(dO ∘ O) (FlashAttention's D; autograd's rowsum(P ∘ dP), the same number), the keys
// a row does not see written as exact zeros (dP there may be anything). One workgroup per row,
// one pass over dP and P.

// Invocations per row, rewritten per pipeline by src/kernels/naive/softmax.rs: one subgroup
// on CPU drivers (reduced by naive/reduce_subgroup.wgsl), else 64 (reduced through workgroup
// memory, common/workgroup_reduce.wgsl).
const ROW_WG: u32 = 64u;
const REDUCE_WG: u32 = ROW_WG;

// s (dP, read_write) at binding 0: naive/s_*.wgsl; p (P) at binding 1: naive/p_*.wgsl.
@group(0) @binding(2) var<storage, read> d_o: array<f32>;
@group(0) @binding(3) var<storage, read> o: array<f32>;
@group(0) @binding(4) var<storage, read> params: Params;

@compute @workgroup_size(ROW_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let local_row = workgroup_linear_id(wid, nwg);
    if (local_row >= params.row_count) {
        return;
    }
    let n = params.seq_len;
    let d = params.head_dim;
    let row = params.row_start + local_row;
    let i = row % n;
    var partial = 0.0;
    for (var c = lid; c < d; c += ROW_WG) {
        partial = fma(d_o[row * d + c], o[row * d + c], partial);
    }
    let big_d = reduce_sum(lid, partial);
    let first = first_visible_key(i, params.window);
    let end = visible_end(i);
    let base = local_row * n;
    for (var j = 4u * lid; j < n; j += 4u * ROW_WG) {
        let key = vec4<u32>(j, j + 1u, j + 2u, j + 3u);
        let seen = (key >= vec4<u32>(first)) & (key < vec4<u32>(end));
        let ds = params.scale * p_load(base + j, n - j) * (s_load(base + j, n - j) - vec4<f32>(big_d));
        s_store(base + j, select(vec4<f32>(0.0), ds, seen), n - j);
    }
}
