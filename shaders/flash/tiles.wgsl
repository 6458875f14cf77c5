// Flash attention for GPUs, one fused dispatch per pass over the keys (Dao et al. 2022,
// forward pass; the thread layout of FlashAttention-2 with scalar FMAs).
//
// A workgroup owns BLOCK_Q/LANES · ROWS query rows of one (batch, head). Each row is held
// by LANES lanes of one subgroup, which split its head dim: lane `sub` keeps the query and
// the output accumulator of columns 4·(sub + t·LANES) … in registers (DL vec4s per row),
// so the registers per lane shrink by LANES and more rows fit per workgroup at large head
// dims. A score is a dot product summed across the LANES lanes of its row with a subgroup
// butterfly (subgroupShuffleXor, flash/lane_sum_subgroup.wgsl); with LANES = 1 a lane holds whole
// rows and no subgroup operation is used (flash/lane_sum_none.wgsl: the kernel for adapters without
// subgroups, such as wgpu's GL backend). The row max and sum of the online softmax are then
// the same in every lane of the row and need no further reduction.
//
// K and V stream through workgroup memory in tiles of BLOCK_KV keys: consecutive lanes load
// consecutive vec4s of the tile (coalesced; one vec4 load per four floats where head_dim is
// a multiple of 4, common/kv_quads_vec4.wgsl), and every tile element read serves ROWS rows
// (register tiling). Keys are consumed four at a time with their scores in one vec4; the
// online softmax rescales each row's accumulator once per four keys: running max m and sum
// l, accumulator scaled by exp2(m_old − m_new), scores in the log2 domain (scale·log2 e
// folded into the query). The n×n matrix never exists: memory is O(B·H·n·d). Causal blocks
// stop at their last query's tile, and keys a row must not see are masked.
//
// Keys may be split into passes over [kv_begin, kv_stop): between passes each row's running
// (m, l, accumulator) lives in `state`, B·H·n·(D4 + 1) vec4s, still O(n·d). Drivers that
// cap loop iterations per invocation (lavapipe) need this for long sequences; elsewhere one
// pass covers all keys and `state` is a placeholder.

override BLOCK_Q: u32 = 64u;   // invocations per workgroup (a multiple of the subgroup size when LANES > 1)
override BLOCK_KV: u32 = 32u;  // keys per tile, a multiple of 4
// Private arrays need constant sizes: src/kernels/flash/pipelines.rs rewrites these lines
// per pipeline (gpu::specialize).
const ROWS: u32 = 1u;          // query rows per lane group
const D4: u32 = 16u;           // ceil(head_dim / 4)
const LANES: u32 = 1u;         // lanes per row (1, or a power of two up to the subgroup size)
const DL: u32 = (D4 + LANES - 1u) / LANES;  // vec4 columns per lane
const GROUPS: u32 = 64u;       // BLOCK_Q / LANES: lane groups (rows at a time) per workgroup

const NEG_BIG: f32 = -3.0e38;
// Element type of the K, V tiles and query registers: src/kernels/flash/pipelines.rs
// rewrites this line (and prepends `enable f16;`) for the f16 variant; scores, softmax
// state and the output accumulator stay f32.
alias kv4 = vec4<f32>;

// Params, q, o and params come from flash/params.wgsl; k, v and k_quad / v_quad from
// common/kv_quads_vec4.wgsl (head_dim a multiple of 4) or common/kv_quads_scalar.wgsl; lane_sum from
// flash/lane_sum_none.wgsl or flash/lane_sum_subgroup.wgsl.
@group(0) @binding(4) var<storage, read_write> state: array<vec4<f32>>;

var<workgroup> k_tile: array<kv4, BLOCK_KV * D4>;
var<workgroup> v_tile: array<kv4, BLOCK_KV * D4>;

// Columns 4·c4 … 4·c4 + 3 of query row `row`, zero past head_dim (read once per row).
fn q_quad(row: u32, c4: u32) -> vec4<f32> {
    let d = params.head_dim;
    let f = row * d + c4 * 4u;
    var r = vec4<f32>(0.0);
    for (var t = 0u; t < 4u; t++) {
        if (c4 * 4u + t < d) {
            r[t] = q[f + t];
        }
    }
    return r;
}

@compute @workgroup_size(BLOCK_Q)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        ids: LaneIds) {
    // Lanes by their lane index (lane_sum_*.wgsl): by subgroup where lanes sum by subgroup.
    let lid = lane_index(ids);
    let group = workgroup_linear_id(wid, nwg);
    // Uniform per workgroup: every lane of a workgroup leaves here or none does.
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let d = params.head_dim;
    let qb = query_block(group, GROUPS * ROWS);
    let q0 = qb.q0;
    let head_row = qb.head_row;
    let kv_row = qb.kv_row;
    let causal = qb.causal;
    let first = qb.first;
    let last = qb.last;
    // The LANES lanes of a row are lane indices lid − sub … lid − sub + LANES − 1: lanes
    // of one subgroup where they sum by subgroup (lane_sum_subgroup.wgsl, `lane_index`).
    let sub = lid % LANES;
    let slot = lid / LANES;

    var q_reg: array<kv4, ROWS * DL>;
    var acc: array<vec4<f32>, ROWS * DL>;
    var m: array<f32, ROWS>;
    var l: array<f32, ROWS>;
    var visible: array<u32, ROWS>;  // keys row r may see end here (0 for rows past n)
    var first_key: array<u32, ROWS>;  // and start here (a sliding window's start)
    for (var r = 0u; r < ROWS; r++) {
        let i = q0 + r * GROUPS + slot;
        let valid = i < n;
        visible[r] = select(0u, select(n, i + 1u, causal), valid);
        first_key[r] = first_visible_key(i, params.window);
        m[r] = NEG_BIG;
        l[r] = 0.0;
        let st = (head_row + i) * (D4 + 1u);
        for (var t = 0u; t < DL; t++) {
            let c4 = sub + t * LANES;
            let mine = valid && c4 < D4;
            // Rows past n read the last row (in bounds) and are zeroed.
            q_reg[r * DL + t] = kv4(select(vec4<f32>(0.0), q_quad(head_row + min(i, n - 1u), c4) * params.scale_log2, mine));
            acc[r * DL + t] = vec4<f32>(0.0);
            if (!first && mine) {
                acc[r * DL + t] = state[st + c4];
            }
        }
        if (!first && valid) {
            let ml = state[st + D4];
            m[r] = ml.x;
            l[r] = ml.y;
        }
    }

    // Keys past the block's last query are masked for every row of the block.
    let kv_end = min(params.kv_stop, select(n, min(n, q0 + GROUPS * ROWS), causal));
    let tile_elems = BLOCK_KV * D4;
    var s: array<vec4<f32>, ROWS>;
    // A sliding window also skips the keys before the block's first row's window.
    for (var kv0 = max(params.kv_begin, qb.kv_first); kv0 < kv_end; kv0 += BLOCK_KV) {
        // Coalesced: invocation e loads vec4 e of the tile, rows of D4 vec4s back to back.
        for (var e = lid; e < tile_elems; e += BLOCK_Q) {
            let j = kv0 + e / D4;
            let c4 = e % D4;
            let base = (kv_row + min(j, n - 1u)) * d;
            let in_range = j < n;
            k_tile[e] = kv4(select(vec4<f32>(0.0), k_quad(base, c4, base + d), in_range));
            v_tile[e] = kv4(select(vec4<f32>(0.0), v_quad(base, c4, base + d), in_range));
        }
        workgroupBarrier();

        // A bound uniform across the workgroup keeps the subgroup operations in uniform
        // control flow; keys a row must not see are masked instead.
        let tile_keys = min(BLOCK_KV, kv_end - kv0);
        for (var jj = 0u; jj < tile_keys; jj += 4u) {
            let b0 = jj * D4;
            for (var r = 0u; r < ROWS; r++) {
                s[r] = vec4<f32>(0.0);
            }
            for (var t = 0u; t < DL; t++) {
                // Lanes past D4 hold zero queries: their reads are clamped, their dots zero.
                let c4 = min(sub + t * LANES, D4 - 1u);
                let k0 = k_tile[b0 + c4];
                let k1 = k_tile[b0 + D4 + c4];
                let k2 = k_tile[b0 + 2u * D4 + c4];
                let k3 = k_tile[b0 + 3u * D4 + c4];
                for (var r = 0u; r < ROWS; r++) {
                    let qc = q_reg[r * DL + t];
                    s[r] += vec4<f32>(f32(dot(qc, k0)), f32(dot(qc, k1)), f32(dot(qc, k2)), f32(dot(qc, k3)));
                }
            }
            var p: array<vec4<f32>, ROWS>;
            var alpha: array<f32, ROWS>;
            let key = vec4<u32>(kv0 + jj, kv0 + jj + 1u, kv0 + jj + 2u, kv0 + jj + 3u);
            for (var r = 0u; r < ROWS; r++) {
                // The partial dots of the row's lanes summed: every lane has the scores.
                let full = lane_sum(s[r], lid);
                // Mask the keys this row does not see (past n, past i when causal, before
                // its window); p is zeroed too, for four masked keys before any it sees.
                let seen = (key < vec4<u32>(visible[r])) & (key >= vec4<u32>(first_key[r]));
                let sr = select(vec4<f32>(NEG_BIG), full, seen);
                let m_new = max(m[r], max(max(sr.x, sr.y), max(sr.z, sr.w)));
                alpha[r] = exp2(m[r] - m_new);
                p[r] = select(vec4<f32>(0.0), exp2(sr - vec4<f32>(m_new)), seen);
                l[r] = l[r] * alpha[r] + (p[r].x + p[r].y + p[r].z + p[r].w);
                m[r] = m_new;
            }
            for (var t = 0u; t < DL; t++) {
                let c4 = min(sub + t * LANES, D4 - 1u);
                let v0 = vec4<f32>(v_tile[b0 + c4]);
                let v1 = vec4<f32>(v_tile[b0 + D4 + c4]);
                let v2 = vec4<f32>(v_tile[b0 + 2u * D4 + c4]);
                let v3 = vec4<f32>(v_tile[b0 + 3u * D4 + c4]);
                for (var r = 0u; r < ROWS; r++) {
                    let pr = p[r];
                    var a = acc[r * DL + t] * alpha[r];
                    a = fma(vec4<f32>(pr.x), v0, a);
                    a = fma(vec4<f32>(pr.y), v1, a);
                    a = fma(vec4<f32>(pr.z), v2, a);
                    a = fma(vec4<f32>(pr.w), v3, a);
                    acc[r * DL + t] = a;
                }
            }
        }
        workgroupBarrier();
    }

    for (var r = 0u; r < ROWS; r++) {
        let i = q0 + r * GROUPS + slot;
        if (i >= n) {
            continue;
        }
        let st = (head_row + i) * (D4 + 1u);
        if (!last) {
            for (var t = 0u; t < DL; t++) {
                let c4 = sub + t * LANES;
                if (c4 < D4) {
                    state[st + c4] = acc[r * DL + t];
                }
            }
            if (sub == 0u) {
                state[st + D4] = vec4<f32>(m[r], l[r], 0.0, 0.0);
            }
        } else {
            // For a backward pass: the row's logsumexp of scale·log2(e)·q·k, beside m, l.
            if ((params.pass_flags & 4u) != 0u && sub == 0u) {
                state[st + D4] = vec4<f32>(m[r], l[r], m[r] + log2(l[r]), 0.0);
            }
            let inv = 1.0 / l[r];
            let base = (head_row + i) * d;
            for (var t = 0u; t < DL; t++) {
                let c4 = sub + t * LANES;
                let value = acc[r * DL + t] * inv;
                for (var e = 0u; e < 4u; e++) {
                    let c = c4 * 4u + e;
                    if (c4 < D4 && c < d) { o[base + c] = value[e]; }
                }
            }
        }
    }
}
