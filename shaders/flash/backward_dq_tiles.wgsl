// Flash backward, dQ, for GPUs: any subgroup size the adapter reports, or none (the
// forward's workgroup-tile layout, flash/tiles.wgsl, applied to FlashAttention-2's dQ loop).
//
// A workgroup owns GROUPS · ROWS query rows of one (batch, head). Each row is held by LANES
// consecutive lanes that split its head dim: lane `sub` keeps columns 4·(sub + t·LANES) …
// of q (times scale·log2 e), dO and the dQ accumulator (DL vec4s each per row), so the
// registers per lane shrink by LANES. K and V stream through workgroup memory in tiles of
// BLOCK_KV keys (coalesced vec4 loads), four keys per step: every lane reads the same tile
// element for all its rows. Per step the partial dots of a row's lanes are summed by
// lane_sum (a subgroup butterfly where every subgroup holds a row's lanes, else through
// workgroup memory: flash/lane_sum_subgroup.wgsl / flash/lane_sum_workgroup.wgsl / flash/lane_sum_none.wgsl), then
//   P = exp2(s − L), dS = P ∘ (dP − D), dQ += dS · k, and dQ · scale at the end.
// Masks, windows, passes [begin, stop) and the causal block order are those of
// flash/backward_dq.wgsl. Every index is in bounds by construction: rows and keys past n
// are clamped to the last one and masked, columns past the head dim to the last vec4.

override BLOCK_Q: u32 = 64u;   // invocations per workgroup
override BLOCK_KV: u32 = 16u;  // keys per K/V tile, a multiple of 4
// Rewritten per pipeline by src/kernels/flash/backward_pipelines.rs (gpu::specialize):
const ROWS: u32 = 1u;          // query rows per lane group
const D4: u32 = 16u;           // ceil(head_dim / 4)
const LANES: u32 = 4u;         // lanes per row
const GROUPS: u32 = 16u;       // BLOCK_Q / LANES: lane groups per workgroup
const DL: u32 = (D4 + LANES - 1u) / LANES;  // vec4 columns per lane

// q, k, v, d_o (bindings 0–3) and their loads X_quad come from
// src/kernels/flash/backward_pipelines.rs (buffers; vec4 loads where head_dim allows).
@group(0) @binding(4) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dq: array<f32>;
@group(0) @binding(6) var<storage, read> params: Params;

var<workgroup> k_tile: array<vec4<f32>, BLOCK_KV * D4>;
var<workgroup> v_tile: array<vec4<f32>, BLOCK_KV * D4>;

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
    let causal = params.causal != 0u;
    let head = group / params.blocks;
    let q0 = balanced_block(group % params.blocks) * GROUPS * ROWS;
    let head_row = head * n;
    let kv_row = kv_head_of(head, params.heads, params.kv_heads) * n;
    let sub = lid % LANES;
    let slot = lid / LANES;

    var qr: array<vec4<f32>, ROWS * DL>;
    var dor: array<vec4<f32>, ROWS * DL>;
    var acc: array<vec4<f32>, ROWS * DL>;
    var lse: array<f32, ROWS>;
    var big_d: array<f32, ROWS>;
    var visible: array<u32, ROWS>;    // keys row r sees end here (0 for rows past n)
    var first_key: array<u32, ROWS>;  // and start here (a sliding window's start)
    for (var r = 0u; r < ROWS; r++) {
        let i = q0 + r * GROUPS + slot;
        let valid = i < n;
        visible[r] = select(0u, select(n, i + 1u, causal), valid);
        first_key[r] = first_visible_key(i, params.window);
        let base = (head_row + min(i, n - 1u)) * d;
        for (var t = 0u; t < DL; t++) {
            let c4 = sub + t * LANES;
            let mine = valid && c4 < D4;
            let c = min(c4, D4 - 1u);
            qr[r * DL + t] = select(vec4<f32>(0.0), q_quad(base, c, base + d) * params.scale_log2, mine);
            dor[r * DL + t] = select(vec4<f32>(0.0), d_o_quad(base, c, base + d), mine);
            acc[r * DL + t] = vec4<f32>(0.0);
        }
        let held = min(i, params.padded_rows - 1u);
        let si = stats_index(head, held);
        lse[r] = stats[si][held % 4u];
        big_d[r] = stats[si + 1u][held % 4u];
    }

    // Bounds uniform across the workgroup keep the barriers (and lane sums) in uniform
    // control flow; keys a row must not see are masked.
    let kv_end = min(params.stop, select(n, min(n, q0 + GROUPS * ROWS), causal));
    let kv_start = max(params.begin, first_visible_key(q0, params.window) & ~3u);
    for (var kv0 = kv_start; kv0 < kv_end; kv0 += BLOCK_KV) {
        for (var e = lid; e < BLOCK_KV * D4; e += BLOCK_Q) {
            let j = kv0 + e / D4;
            let base = (kv_row + min(j, n - 1u)) * d;
            k_tile[e] = select(vec4<f32>(0.0), k_quad(base, e % D4, base + d), j < n);
            v_tile[e] = select(vec4<f32>(0.0), v_quad(base, e % D4, base + d), j < n);
        }
        workgroupBarrier();

        let tile_keys = min(BLOCK_KV, kv_end - kv0);
        for (var jj = 0u; jj < tile_keys; jj += 4u) {
            let b0 = jj * D4;
            var s: array<vec4<f32>, ROWS>;
            var dp: array<vec4<f32>, ROWS>;
            for (var t = 0u; t < DL; t++) {
                // Lanes past D4 hold zeros: their reads are clamped, their dots zero.
                let c4 = min(sub + t * LANES, D4 - 1u);
                let k0 = k_tile[b0 + c4];
                let k1 = k_tile[b0 + D4 + c4];
                let k2 = k_tile[b0 + 2u * D4 + c4];
                let k3 = k_tile[b0 + 3u * D4 + c4];
                let v0 = v_tile[b0 + c4];
                let v1 = v_tile[b0 + D4 + c4];
                let v2 = v_tile[b0 + 2u * D4 + c4];
                let v3 = v_tile[b0 + 3u * D4 + c4];
                for (var r = 0u; r < ROWS; r++) {
                    let q = qr[r * DL + t];
                    let o = dor[r * DL + t];
                    s[r] += vec4<f32>(dot(q, k0), dot(q, k1), dot(q, k2), dot(q, k3));
                    dp[r] += vec4<f32>(dot(o, v0), dot(o, v1), dot(o, v2), dot(o, v3));
                }
            }
            var ds: array<vec4<f32>, ROWS>;
            let key = vec4<u32>(kv0 + jj) + vec4<u32>(0u, 1u, 2u, 3u);
            for (var r = 0u; r < ROWS; r++) {
                let full_s = lane_sum(s[r], lid);
                let full_dp = lane_sum(dp[r], lid);
                let seen = (key < vec4<u32>(visible[r])) & (key >= vec4<u32>(first_key[r]));
                let p = select(vec4<f32>(0.0), exp2(full_s - vec4<f32>(lse[r])), seen);
                ds[r] = p * (full_dp - vec4<f32>(big_d[r]));
            }
            for (var t = 0u; t < DL; t++) {
                let c4 = min(sub + t * LANES, D4 - 1u);
                let k0 = k_tile[b0 + c4];
                let k1 = k_tile[b0 + D4 + c4];
                let k2 = k_tile[b0 + 2u * D4 + c4];
                let k3 = k_tile[b0 + 3u * D4 + c4];
                for (var r = 0u; r < ROWS; r++) {
                    let w = ds[r];
                    acc[r * DL + t] = fma(vec4<f32>(w.w), k3, fma(vec4<f32>(w.z), k2,
                        fma(vec4<f32>(w.y), k1, fma(vec4<f32>(w.x), k0, acc[r * DL + t]))));
                }
            }
        }
        workgroupBarrier();
    }

    let keep = params.accumulate != 0u;
    for (var r = 0u; r < ROWS; r++) {
        let i = q0 + r * GROUPS + slot;
        if (i >= n) {
            continue;
        }
        let base = (head_row + i) * d;
        for (var t = 0u; t < DL; t++) {
            let c4 = sub + t * LANES;
            for (var e = 0u; e < 4u; e++) {
                let c = c4 * 4u + e;
                if (c4 < D4 && c < d) {
                    dq[base + c] = select(0.0, dq[base + c], keep) + acc[r * DL + t][e] * params.scale;
                }
            }
        }
    }
}
