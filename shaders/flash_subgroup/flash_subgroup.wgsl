// Flash attention with subgroup reductions (needs SUBGROUP). One subgroup per query row
// (per part of a row, below): lane ℓ takes keys j ≡ ℓ (mod subgroup size), so each step
// scores `subgroup_size` keys at once; the row max and the row sum of the online softmax
// are subgroupMax / subgroupAdd, shared by every lane, and the lanes' partial accumulators
// are summed with subgroupAdd at the end. K and V rows are read per lane; the workgroup's
// query rows sit once in workgroup memory (every lane of a row reads the same q), so a
// lane keeps only its accumulator columns in registers.
//
// Subgroups are identified by the `subgroup_id` builtin, never by an assumed mapping
// from the local invocation index. PARTS subgroups share a row: each scores every key
// (the whole q·k) and accumulates DP = ⌈D4 / PARTS⌉ of the row's vec4 columns of V, so
// that a lane's live floats stay within a GPU's register cap at large head dims
// (src/kernels/flash_subgroup.rs). A workgroup holds ROWS rows, ROWS · PARTS subgroups of
// the largest size the adapter may use; subgroups past that count idle, so any subgroup
// size up to WG / (ROWS · PARTS) works. Loops are uniform across each subgroup (causal
// rows mask the keys they must not see), as subgroup operations require.

override WG: u32 = 64u;
// Rewritten per pipeline by src/kernels/flash_subgroup.rs (gpu::specialize):
const D4: u32 = 16u;           // ceil(head_dim / 4)
const ROWS: u32 = 2u;          // query rows per workgroup
const PARTS: u32 = 1u;         // subgroups per row, each with DP accumulator columns
const DP: u32 = 16u;           // ceil(D4 / PARTS)
const NEG_BIG: f32 = -3.0e38;

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale_log2: f32,
    rows_per_group: u32,
    q_blocks: u32,
    total_groups: u32,
    heads: u32,
    kv_heads: u32,
    window: u32,              // causal sliding window (0: none)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read> params: Params;

var<workgroup> q_sh: array<vec4<f32>, ROWS * D4>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_id) subgroup: u32,
        @builtin(subgroup_size) sg: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
    let group = workgroup_linear_id(wid, nwg);
    // Uniform per workgroup: every lane leaves here or none does.
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let head = group / params.q_blocks;
    let block = group % params.q_blocks;
    let head_row = head * n;
    let kv_row = kv_head_of(head, params.heads, params.kv_heads) * n;
    // The workgroup's query rows, scaled, into workgroup memory (zero past n).
    for (var e = lid; e < ROWS * D4; e += WG) {
        let i = block * ROWS + e / D4;
        q_sh[e] = select(vec4<f32>(0.0), load4(0u, head_row + min(i, n - 1u), e % D4) * params.scale_log2, i < n);
    }
    workgroupBarrier();
    let slot = subgroup / PARTS;
    let part = subgroup % PARTS;
    let row = min(slot, ROWS - 1u);
    let i = block * ROWS + slot;
    let valid = slot < ROWS && i < n;
    let causal = params.causal != 0u;
    let visible = select(0u, select(n, i + 1u, causal), valid);
    let first_key = first_visible_key(i, params.window);

    var acc: array<vec4<f32>, DP>;
    for (var c = 0u; c < DP; c++) {
        acc[c] = vec4<f32>(0.0);
    }
    var m = NEG_BIG;
    var l = 0.0;
    // Uniform bound: the block's last row sees the most keys.
    let kv_end = select(n, min(n, (block + 1u) * ROWS), causal);
    // A sliding window skips the keys before the block's first row's window.
    let kv_start = first_visible_key(block * ROWS, params.window);
    for (var j0 = kv_start; j0 < kv_end; j0 += sg) {
        let j = j0 + lane;
        let seen = j < visible && j >= first_key;
        var s = NEG_BIG;
        if (seen) {
            var score = 0.0;
            for (var c4 = 0u; c4 < D4; c4++) {
                score += dot(q_sh[row * D4 + c4], load4(1u, kv_row + j, c4));
            }
            s = score;
        }
        let m_new = max(m, subgroupMax(s));
        let alpha = exp2(m - m_new);
        let p = select(0.0, exp2(s - m_new), seen);
        l = l * alpha + subgroupAdd(p);
        m = m_new;
        for (var c = 0u; c < DP; c++) {
            let c4 = part * DP + c;
            var vv = vec4<f32>(0.0);
            if (seen && c4 < D4) {
                vv = load4(2u, kv_row + j, c4);
            }
            acc[c] = fma(vec4<f32>(p), vv, acc[c] * alpha);
        }
    }
    let base = (head_row + i) * params.head_dim;
    for (var c = 0u; c < DP; c++) {
        let c4 = part * DP + c;
        let total = subgroupAdd(acc[c]) / l;
        if (valid && lane == 0u && c4 < D4) {
            for (var t = 0u; t < 4u; t++) {
                let col = c4 * 4u + t;
                if (col < params.head_dim) { o[base + col] = total[t]; }
            }
        }
    }
}
