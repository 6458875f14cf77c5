// Flash attention, one fused dispatch (Dao et al. 2022, forward pass).
// Each workgroup owns BLOCK_Q query rows of one (batch, head): one invocation per row keeps
// its query and output accumulator in registers. K and V stream through workgroup memory
// in tiles of BLOCK_KV keys; each row applies the online softmax per tile (running max m and
// sum l, accumulator rescaled by exp2(m_old − m_new)). The n×n matrix never exists: memory
// is O(B·H·n·d). Scores are kept in the log2 domain (scale·log2(e) folded into the query)
// so that exp2 is used. Causal tiles past the block's last query are skipped entirely.
//
// Any head_dim ≤ 4·MAX_D4 works: rows are loaded as scalars into zero-padded vec4 tiles.

override BLOCK_Q: u32 = 64u;   // query rows per workgroup = invocations per workgroup
override BLOCK_KV: u32 = 32u;  // keys per tile (≤ MAX_KV)
override D4: u32 = 16u;        // ceil(head_dim / 4)

const MAX_D4: u32 = 64u;       // head_dim ≤ 256
const MAX_KV: u32 = 64u;

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    // scale · log2(e)
    scale_log2: f32,
    // query blocks per (batch, head) and the number of workgroups that do work
    q_blocks: u32,
    total_groups: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> k_tile: array<vec4<f32>, BLOCK_KV * D4>;
var<workgroup> v_tile: array<vec4<f32>, BLOCK_KV * D4>;

// Element c4 (a vec4 of columns 4·c4 ..) of `row`, zero past head_dim.
fn load_q(row: u32, c4: u32) -> vec4<f32> {
    let d = params.head_dim;
    let base = row * d;
    var r = vec4<f32>(0.0);
    for (var t = 0u; t < 4u; t++) {
        let c = c4 * 4u + t;
        if (c < d) { r[t] = q[base + c]; }
    }
    return r;
}

@compute @workgroup_size(BLOCK_Q)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let d = params.head_dim;
    let head = group / params.q_blocks;
    let q0 = (group % params.q_blocks) * BLOCK_Q;
    let head_row = head * n;          // first global row of this (batch, head)
    let i = q0 + lid;                 // this invocation's query index
    let row_valid = i < n;
    let causal = params.causal != 0u;

    var q_reg: array<vec4<f32>, MAX_D4>;
    var acc: array<vec4<f32>, MAX_D4>;
    for (var c4 = 0u; c4 < D4; c4++) {
        q_reg[c4] = select(vec4<f32>(0.0), load_q(head_row + i, c4) * params.scale_log2, row_valid);
        acc[c4] = vec4<f32>(0.0);
    }
    var m = -3.0e38;
    var l = 0.0;
    var s: array<f32, MAX_KV>;

    // Keys past the block's last query are masked for every row of the block.
    let kv_end = select(n, min(n, q0 + BLOCK_Q), causal);
    let tile_elems = BLOCK_KV * D4;
    for (var kv0 = 0u; kv0 < kv_end; kv0 += BLOCK_KV) {
        // Cooperative load of K and V rows kv0 .. kv0+BLOCK_KV, zero-padded.
        for (var e = lid; e < tile_elems; e += BLOCK_Q) {
            let key = e / D4;
            let c4 = e % D4;
            let j = kv0 + key;
            var kk = vec4<f32>(0.0);
            var vv = vec4<f32>(0.0);
            if (j < n) {
                let base = (head_row + j) * d;
                for (var t = 0u; t < 4u; t++) {
                    let c = c4 * 4u + t;
                    if (c < d) {
                        kk[t] = k[base + c];
                        vv[t] = v[base + c];
                    }
                }
            }
            k_tile[e] = kk;
            v_tile[e] = vv;
        }
        workgroupBarrier();

        if (row_valid) {
            // Keys this row sees in the tile: all real ones, or up to i when causal.
            var count = min(BLOCK_KV, kv_end - kv0);
            if (causal) {
                count = select(0u, min(count, i + 1u - kv0), i >= kv0);
            }
            if (count > 0u) {
                var tile_max = -3.0e38;
                for (var jj = 0u; jj < count; jj++) {
                    var score = 0.0;
                    let kb = jj * D4;
                    for (var c4 = 0u; c4 < D4; c4++) {
                        score += dot(q_reg[c4], k_tile[kb + c4]);
                    }
                    s[jj] = score;
                    tile_max = max(tile_max, score);
                }
                let m_new = max(m, tile_max);
                let alpha = exp2(m - m_new);
                l *= alpha;
                for (var c4 = 0u; c4 < D4; c4++) {
                    acc[c4] *= alpha;
                }
                for (var jj = 0u; jj < count; jj++) {
                    let p = exp2(s[jj] - m_new);
                    l += p;
                    let vb = jj * D4;
                    for (var c4 = 0u; c4 < D4; c4++) {
                        acc[c4] = fma(vec4<f32>(p), v_tile[vb + c4], acc[c4]);
                    }
                }
                m = m_new;
            }
        }
        workgroupBarrier();
    }

    if (row_valid) {
        let inv = 1.0 / l;
        let base = (head_row + i) * d;
        for (var c4 = 0u; c4 < D4; c4++) {
            let value = acc[c4] * inv;
            for (var t = 0u; t < 4u; t++) {
                let c = c4 * 4u + t;
                if (c < d) { o[base + c] = value[t]; }
            }
        }
    }
}
