// naive's column products for CPU drivers: out = scale · Sᵀ·B over one chunk of the score
// matrix, with S = P and B = dO (dV) or S = dS and B = Q (dK), summed over the query heads
// that read each KV head (grouped-query attention) and over the chunks (a KV head whose query
// rows began in an earlier chunk adds to what it holds). Each invocation holds the sums of
// 4·QUADS keys × D columns in registers; per step of four query rows it reads a 4 × 4 block of
// S per four keys (four vec4s along the rows), transposes it in registers, and the subgroup's
// lanes load the four rows of B together and share them by subgroupBroadcast (as
// naive/lanes_scores.wgsl).
//
// Workgroup = BLOCK invocations owning 4·QUADS·BLOCK keys of one KV head (quad u of `lid`
// holds keys k0 + 4·(u·BLOCK + lid) …). The query rows are those of the chunk that see some
// key of the block; S's entries a row does not see are exact zeros.

// Rewritten per pipeline by src/kernels/naive/matmul.rs (gpu::specialize):
const QUADS: u32 = 1u;         // groups of four keys per invocation
const D: u32 = 64u;            // head_dim
const SG: u32 = 8u;            // subgroup size
const BLOCK: u32 = 32u;        // invocations per workgroup, a multiple of SG
const SLOTS: u32 = (D + SG - 1u) / SG;
const KEYS: u32 = 4u * QUADS;

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
    let kv_head = params.first_head + group / params.blocks;
    // Causal key blocks get cheaper with their index (fewer rows see them).
    let k0 = block_order(group % params.blocks, params.blocks, true) * (BLOCK * KEYS);
    let group_size = params.heads / params.kv_heads;
    let first_head = (kv_head / params.kv_heads) * params.heads + (kv_head % params.kv_heads) * group_size;
    let chunk_end = params.row_start + params.row_count;

    // The rows that see some key of the block: i ≥ k0 when causal, i < k_last + W under a window.
    let k_last = min(n, k0 + BLOCK * KEYS) - 1u;
    let i_begin = select(0u, k0, params.causal != 0u);
    let i_end = select(n, min(n, k_last + params.window), params.window != 0u);

    var key: array<u32, QUADS>;      // the quad's first key
    for (var u = 0u; u < QUADS; u++) { // unroll
        key[u] = k0 + 4u * (u * BLOCK + lid);
    }
    var acc: array<f32, KEYS * D>;
    for (var member = 0u; member < group_size; member++) {
        let head_row = (first_head + member) * n;
        // This head's rows held by the chunk, as rows i of the head.
        let lo = max(i_begin, max(head_row, params.row_start) - head_row);
        let hi = select(0u, min(i_end, min(head_row + n, chunk_end) - head_row), chunk_end > head_row);
        for (var i0 = lo; i0 < hi; i0 += 4u) {
            let base = (head_row + i0) * D;
            let stop = (head_row + min(i0 + 4u, hi)) * D;
            var br: array<vec4<f32>, SLOTS>;
            for (var t = 0u; t < SLOTS; t++) { // unroll
                br[t] = b_quad(base, t * SG + lane, stop);
            }
            // pt[u·4 + j]: key j of quad u against the step's four rows.
            var pt: array<vec4<f32>, KEYS>;
            for (var u = 0u; u < QUADS; u++) { // unroll
                var rows: array<vec4<f32>, 4>;
                for (var t = 0u; t < 4u; t++) { // unroll
                    let ok = i0 + t < hi && key[u] < n;
                    let at = select(0u, (head_row + i0 + t - params.row_start) * n + key[u], ok);
                    rows[t] = select(vec4<f32>(0.0), s_load(at, select(1u, n - key[u], ok)), ok);
                }
                for (var j = 0u; j < 4u; j++) { // unroll
                    pt[u * 4u + j] = vec4<f32>(rows[0][j], rows[1][j], rows[2][j], rows[3][j]);
                }
            }
            for (var c = 0u; c < D; c++) { // unroll
                let bc = vec4<f32>(
                    subgroupBroadcast(br[(c / 4u) / SG], (c / 4u) % SG)[c % 4u],
                    subgroupBroadcast(br[((D + c) / 4u) / SG], ((D + c) / 4u) % SG)[(D + c) % 4u],
                    subgroupBroadcast(br[((2u * D + c) / 4u) / SG], ((2u * D + c) / 4u) % SG)[(2u * D + c) % 4u],
                    subgroupBroadcast(br[((3u * D + c) / 4u) / SG], ((3u * D + c) / 4u) % SG)[(3u * D + c) % 4u]);
                for (var k = 0u; k < KEYS; k++) { // unroll
                    acc[k * D + c] += dot(pt[k], bc);
                }
            }
        }
    }

    // Earlier chunks held rows of this KV head when its first query row precedes this chunk.
    let adds = first_head * n < params.row_start;
    for (var u = 0u; u < QUADS; u++) { // unroll
        for (var j = 0u; j < 4u; j++) { // unroll
            if (key[u] + j < n) {
                let o = (kv_head * n + key[u] + j) * D;
                for (var c = 0u; c < D; c++) { // unroll
                    let previous = select(0.0, out[o + c], adds);
                    out[o + c] = previous + acc[(u * 4u + j) * D + c] * params.scale;
                }
            }
        }
    }
}
