// naive's row products for CPU drivers: out = scale · S·B over one chunk of the score matrix,
// with S = P and B = V (O, the forward's last product) or S = dS and B = K (dQ). Each
// invocation holds ROWS × D sums in registers; per step of four keys it reads its rows' four
// scores (one vec4 each) and the subgroup's lanes load the four rows of B together and share
// them by subgroupBroadcast from constant lanes (as naive/lanes_scores.wgsl).
//
// Workgroup = BLOCK invocations owning BLOCK·ROWS query rows of one head (row r of `lid` is
// q0 + r·BLOCK + lid); the keys are those any row of the block sees, and the rows' entries
// past what a row sees are exact zeros (naive/softmax.wgsl and naive/ds.wgsl write whole rows).

// Rewritten per pipeline by src/kernels/naive/matmul.rs (gpu::specialize):
const ROWS: u32 = 4u;          // query rows per invocation
const D: u32 = 64u;            // head_dim
const SG: u32 = 8u;            // subgroup size
const BLOCK: u32 = 32u;        // invocations per workgroup, a multiple of SG
const SLOTS: u32 = (D + SG - 1u) / SG;

// s (the chunk) at binding 0: naive/s_*.wgsl; B at binding 1: naive/b_*.wgsl.
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> params: Params;

@compute @workgroup_size(BLOCK)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let head = params.first_head + group / params.blocks;
    let q0 = block_order(group % params.blocks, params.blocks, true) * (BLOCK * ROWS);
    let head_row = head * n;
    let kv_row = kv_head_of(head, params.heads, params.kv_heads) * n;
    let chunk_end = params.row_start + params.row_count;

    var live: array<bool, ROWS>;
    var at: array<u32, ROWS>;        // the row's first float in the chunk (0 when not live)
    for (var r = 0u; r < ROWS; r++) { // unroll
        let row = head_row + q0 + r * BLOCK + lid;
        live[r] = q0 + r * BLOCK + lid < n && row >= params.row_start && row < chunk_end;
        at[r] = select(0u, (row - params.row_start) * n, live[r]);
    }

    var acc: array<f32, ROWS * D>;
    let k_begin = first_visible_key(q0, params.window) & ~3u;
    let k_end = min(n, select(n, q0 + BLOCK * ROWS, params.causal != 0u));
    for (var kv0 = k_begin; kv0 < k_end; kv0 += 4u) {
        let base = (kv_row + kv0) * D;
        let stop = (kv_row + min(kv0 + 4u, n)) * D;
        var br: array<vec4<f32>, SLOTS>;
        for (var t = 0u; t < SLOTS; t++) { // unroll
            br[t] = b_quad(base, t * SG + lane, stop);
        }
        var p: array<vec4<f32>, ROWS>;
        for (var r = 0u; r < ROWS; r++) { // unroll
            p[r] = select(vec4<f32>(0.0), s_load(at[r] + kv0, n - kv0), live[r]);
        }
        for (var c = 0u; c < D; c++) { // unroll
            let bc = vec4<f32>(
                subgroupBroadcast(br[(c / 4u) / SG], (c / 4u) % SG)[c % 4u],
                subgroupBroadcast(br[((D + c) / 4u) / SG], ((D + c) / 4u) % SG)[(D + c) % 4u],
                subgroupBroadcast(br[((2u * D + c) / 4u) / SG], ((2u * D + c) / 4u) % SG)[(2u * D + c) % 4u],
                subgroupBroadcast(br[((3u * D + c) / 4u) / SG], ((3u * D + c) / 4u) % SG)[(3u * D + c) % 4u]);
            for (var r = 0u; r < ROWS; r++) { // unroll
                acc[r * D + c] += dot(p[r], bc);
            }
        }
    }

    for (var r = 0u; r < ROWS; r++) { // unroll
        if (live[r]) {
            let o = (head_row + q0 + r * BLOCK + lid) * D;
            for (var c = 0u; c < D; c++) { // unroll
                out[o + c] = acc[r * D + c] * params.scale;
            }
        }
    }
}
