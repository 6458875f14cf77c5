// Flash attention, one fused dispatch (Dao et al. 2022, forward pass).
//
// A workgroup owns BLOCK_Q·ROWS query rows of one (batch, head): invocation `lid` holds rows
// q0 + r·BLOCK_Q + lid for r < ROWS, each with its query and output accumulator in
// registers. K and V stream through workgroup memory in tiles of BLOCK_KV keys, and every
// K/V element read from the tile serves ROWS rows (register tiling: on CPU drivers such as
// lavapipe each workgroup-memory read costs far more than an FMA). Keys are consumed four
// at a time with their scores in one vec4, and the online softmax rescales each row's
// accumulator once per four keys: running max m and sum l, accumulator scaled by
// exp2(m_old − m_new). Scores live in the log2 domain (scale·log2 e folded into the query)
// so that exp2 is used. The n×n matrix never exists: memory is O(B·H·n·d). Causal blocks
// stop at their last query's tile.
//
// Keys may be split into passes (dispatches) over [kv_begin, kv_stop): between passes each
// row's running (m, l, accumulator) lives in `state`, B·H·n·(D4 + 1) vec4s, still O(n·d).
// Drivers that cap loop iterations per invocation (lavapipe) need this for long sequences;
// elsewhere one pass covers all keys and `state` is a placeholder.
//
// Any head_dim works: rows are loaded as scalars into zero-padded vec4 tiles.

override BLOCK_Q: u32 = 64u;   // invocations per workgroup
override BLOCK_KV: u32 = 32u;  // keys per tile, a multiple of 4
// Private arrays need constant sizes: src/kernels/flash/pipelines.rs rewrites these two lines per
// pipeline (gpu::specialize).
const ROWS: u32 = 1u;          // query rows per invocation
const D4: u32 = 16u;           // ceil(head_dim / 4)

const NEG_BIG: f32 = -3.0e38;
// Element type of K, V tiles and query registers: src/kernels/flash/pipelines.rs rewrites this line
// (and prepends `enable f16;`) for the f16 variant; scores, softmax state and the output
// accumulator stay f32.
alias kv4 = vec4<f32>;

// Params, q, o and params come from flash_params.wgsl.
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<vec4<f32>>;

var<workgroup> k_tile: array<kv4, BLOCK_KV * D4>;
var<workgroup> v_tile: array<kv4, BLOCK_KV * D4>;


@compute @workgroup_size(BLOCK_Q)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let qb = query_block(group, BLOCK_Q * ROWS);
    let q0 = qb.q0;
    let head_row = qb.head_row;
    let causal = qb.causal;
    let first = qb.first;
    let last = qb.last;

    var q_reg: array<kv4, ROWS * D4>;
    var acc: array<vec4<f32>, ROWS * D4>;
    var m: array<f32, ROWS>;
    var l: array<f32, ROWS>;
    var visible: array<u32, ROWS>;  // keys row r may see (0 for rows past n)
    for (var r = 0u; r < ROWS; r++) {
        let i = q0 + r * BLOCK_Q + lid;
        let valid = i < n;
        visible[r] = select(0u, select(n, i + 1u, causal), valid);
        m[r] = NEG_BIG;
        l[r] = 0.0;
        let st = (head_row + i) * (D4 + 1u);
        for (var c4 = 0u; c4 < D4; c4++) {
            q_reg[r * D4 + c4] = kv4(select(vec4<f32>(0.0), load4(0u, head_row + i, c4) * params.scale_log2, valid));
            acc[r * D4 + c4] = vec4<f32>(0.0);
            if (!first && valid) {
                acc[r * D4 + c4] = state[st + c4];
            }
        }
        if (!first && valid) {
            let ml = state[st + D4];
            m[r] = ml.x;
            l[r] = ml.y;
        }
    }

    // Keys past the block's last query are masked for every row of the block.
    let kv_end = min(params.kv_stop, select(n, min(n, q0 + BLOCK_Q * ROWS), causal));
    let tile_elems = BLOCK_KV * D4;
    var s: array<vec4<f32>, ROWS>;
    for (var kv0 = params.kv_begin; kv0 < kv_end; kv0 += BLOCK_KV) {
        for (var e = lid; e < tile_elems; e += BLOCK_Q) {
            let j = kv0 + e / D4;
            let c4 = e % D4;
            let in_range = j < n;
            k_tile[e] = kv4(select(vec4<f32>(0.0), load4(1u, head_row + j, c4), in_range));
            v_tile[e] = kv4(select(vec4<f32>(0.0), load4(2u, head_row + j, c4), in_range));
        }
        workgroupBarrier();

        // A bound uniform across the workgroup keeps the tile reads uniform (one load and a
        // broadcast on SIMD-across-invocations drivers); keys a row must not see are masked.
        let tile_keys = min(BLOCK_KV, kv_end - kv0);
        for (var jj = 0u; jj < tile_keys; jj += 4u) {
            let b0 = jj * D4;
            for (var r = 0u; r < ROWS; r++) {
                s[r] = vec4<f32>(0.0);
            }
            for (var c4 = 0u; c4 < D4; c4++) {
                let k0 = k_tile[b0 + c4];
                let k1 = k_tile[b0 + D4 + c4];
                let k2 = k_tile[b0 + 2u * D4 + c4];
                let k3 = k_tile[b0 + 3u * D4 + c4];
                for (var r = 0u; r < ROWS; r++) {
                    let qc = q_reg[r * D4 + c4];
                    s[r] += vec4<f32>(f32(dot(qc, k0)), f32(dot(qc, k1)), f32(dot(qc, k2)), f32(dot(qc, k3)));
                }
            }
            var p: array<vec4<f32>, ROWS>;
            var alpha: array<f32, ROWS>;
            let key = vec4<u32>(kv0 + jj, kv0 + jj + 1u, kv0 + jj + 2u, kv0 + jj + 3u);
            for (var r = 0u; r < ROWS; r++) {
                // Mask the keys this row does not see (past n, or past i when causal).
                let sr = select(vec4<f32>(NEG_BIG), s[r], key < vec4<u32>(visible[r]));
                let m_new = max(m[r], max(max(sr.x, sr.y), max(sr.z, sr.w)));
                alpha[r] = exp2(m[r] - m_new);
                p[r] = exp2(sr - vec4<f32>(m_new));
                l[r] = l[r] * alpha[r] + (p[r].x + p[r].y + p[r].z + p[r].w);
                m[r] = m_new;
            }
            for (var c4 = 0u; c4 < D4; c4++) {
                let v0 = vec4<f32>(v_tile[b0 + c4]);
                let v1 = vec4<f32>(v_tile[b0 + D4 + c4]);
                let v2 = vec4<f32>(v_tile[b0 + 2u * D4 + c4]);
                let v3 = vec4<f32>(v_tile[b0 + 3u * D4 + c4]);
                for (var r = 0u; r < ROWS; r++) {
                    let pr = p[r];
                    var a = acc[r * D4 + c4] * alpha[r];
                    a = fma(vec4<f32>(pr.x), v0, a);
                    a = fma(vec4<f32>(pr.y), v1, a);
                    a = fma(vec4<f32>(pr.z), v2, a);
                    a = fma(vec4<f32>(pr.w), v3, a);
                    acc[r * D4 + c4] = a;
                }
            }
        }
        workgroupBarrier();
    }

    for (var r = 0u; r < ROWS; r++) {
        let i = q0 + r * BLOCK_Q + lid;
        if (i < n && !last) {
            let st = (head_row + i) * (D4 + 1u);
            for (var c4 = 0u; c4 < D4; c4++) {
                state[st + c4] = acc[r * D4 + c4];
            }
            state[st + D4] = vec4<f32>(m[r], l[r], 0.0, 0.0);
        }
        if (i < n && last) {
            let inv = 1.0 / l[r];
            let base = (head_row + i) * params.head_dim;
            for (var c4 = 0u; c4 < D4; c4++) {
                let value = acc[r * D4 + c4] * inv;
                for (var t = 0u; t < 4u; t++) {
                    let c = c4 * 4u + t;
                    if (c < params.head_dim) { o[base + c] = value[t]; }
                }
            }
        }
    }
}
