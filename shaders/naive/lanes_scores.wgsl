// naive's scores for CPU drivers: S = scale · A·Bᵀ over one chunk of the score matrix, with A
// = Q and B = K (the forward) or A = dO and B = V (dP, scale 1). A register-blocked matrix
// product in flash/lanes.wgsl's manner: each invocation holds ROWS rows of A in registers and
// writes ROWS × 4 scores per step; the subgroup's lanes load four rows of B (4·D floats)
// together and share them by subgroupBroadcast from constant lanes, so each B float is loaded
// once per subgroup (on lavapipe every storage load is a loop over the SIMD lanes; B's loads
// are texel fetches where head_dim allows, naive/b_texels.wgsl).
//
// Workgroup = BLOCK invocations (a multiple of SG) owning BLOCK·ROWS query rows of one head
// (row r of invocation `lid` is q0 + r·BLOCK + lid) and one block of `key_block` keys. Keys no
// row of the block sees (past the last row when causal, before the first row's window) are
// skipped, and masked scores of the steps computed are written as 0: naive/softmax.wgsl reads
// only the keys each row sees and writes whole rows.
//
// Loops over rows and columns are marked `// unroll` (src/gpu/unroll.rs), so registers and
// broadcast lanes are indexed by constants; the key loop's bounds are per workgroup (uniform
// control flow around the broadcasts).

// Rewritten per pipeline by src/kernels/naive/matmul.rs (gpu::specialize):
const ROWS: u32 = 4u;          // query rows per invocation
const D: u32 = 64u;            // head_dim
const SG: u32 = 8u;            // subgroup size
const BLOCK: u32 = 32u;        // invocations per workgroup, a multiple of SG
// Four rows of B are 4·D floats: lane ℓ holds vec4s ℓ, ℓ + SG, … in SLOTS registers.
const SLOTS: u32 = (D + SG - 1u) / SG;

// s (the chunk, read_write) at binding 0: naive/s_vec4.wgsl or naive/s_scalar.wgsl; B at
// binding 1: naive/b_*.wgsl.
@group(0) @binding(2) var<storage, read> a: array<f32>;
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
    let per_head = params.blocks * params.key_blocks;
    let head = params.first_head + group / per_head;
    let within = group % per_head;
    let q0 = block_order(within / params.key_blocks, params.blocks, true) * (BLOCK * ROWS);
    let k_block = (within % params.key_blocks) * params.key_block;
    let head_row = head * n;
    let kv_row = kv_head_of(head, params.heads, params.kv_heads) * n;
    let chunk_end = params.row_start + params.row_count;

    var ar: array<f32, ROWS * D>;
    var live: array<bool, ROWS>;     // the row lies in the chunk (and in the head)
    var at: array<u32, ROWS>;        // its first float in the chunk (0 when not live)
    var first_key: array<u32, ROWS>; // keys it sees: [first_key, end_key)
    var end_key: array<u32, ROWS>;
    for (var r = 0u; r < ROWS; r++) { // unroll
        let i = q0 + r * BLOCK + lid;
        let row = head_row + i;
        live[r] = i < n && row >= params.row_start && row < chunk_end;
        let held = select(0u, row, live[r]);
        at[r] = select(0u, (row - params.row_start) * n, live[r]);
        first_key[r] = first_visible_key(i, params.window);
        end_key[r] = visible_end(i);
        for (var c = 0u; c < D; c++) { // unroll
            ar[r * D + c] = select(0.0, a[held * D + c] * params.scale, live[r]);
        }
    }

    // The block's keys that some row of it sees, from a multiple of 4.
    let k_begin = max(k_block, first_visible_key(q0, params.window) & ~3u);
    var k_end = min(n, k_block + params.key_block);
    if (params.causal != 0u) {
        k_end = min(k_end, q0 + BLOCK * ROWS);
    }
    for (var kv0 = k_begin; kv0 < k_end; kv0 += 4u) {
        // Rows kv0 … kv0 + 3 of B are floats [base, base + 4·D); those past the head's last
        // key read as 0.
        let base = (kv_row + kv0) * D;
        let stop = (kv_row + min(kv0 + 4u, n)) * D;
        var br: array<vec4<f32>, SLOTS>;
        for (var t = 0u; t < SLOTS; t++) { // unroll
            br[t] = b_quad(base, t * SG + lane, stop);
        }
        // Float f = j·D + c (row j of the four, column c) is component f % 4 of register
        // (f / 4) / SG in lane (f / 4) % SG.
        var acc: array<vec4<f32>, ROWS>;
        for (var c = 0u; c < D; c++) { // unroll
            let bc = vec4<f32>(
                subgroupBroadcast(br[(c / 4u) / SG], (c / 4u) % SG)[c % 4u],
                subgroupBroadcast(br[((D + c) / 4u) / SG], ((D + c) / 4u) % SG)[(D + c) % 4u],
                subgroupBroadcast(br[((2u * D + c) / 4u) / SG], ((2u * D + c) / 4u) % SG)[(2u * D + c) % 4u],
                subgroupBroadcast(br[((3u * D + c) / 4u) / SG], ((3u * D + c) / 4u) % SG)[(3u * D + c) % 4u]);
            for (var r = 0u; r < ROWS; r++) { // unroll
                acc[r] = fma(vec4<f32>(ar[r * D + c]), bc, acc[r]);
            }
        }
        let key = vec4<u32>(kv0, kv0 + 1u, kv0 + 2u, kv0 + 3u);
        for (var r = 0u; r < ROWS; r++) { // unroll
            if (live[r]) {
                let seen = (key >= vec4<u32>(first_key[r])) & (key < vec4<u32>(end_key[r]));
                s_store(at[r] + kv0, select(vec4<f32>(0.0), acc[r], seen), n - kv0);
            }
        }
    }
}
