// Flash backward, dK and dV, for GPUs: any subgroup size the adapter reports, or none
// (flash/backward_dq_tiles.wgsl's layout, over key blocks).
//
// A workgroup owns GROUPS · ROWS keys of one (batch, KV head). Each key row is held by
// LANES consecutive lanes that split its head dim: lane `sub` keeps columns
// 4·(sub + t·LANES) … of k (times scale·log2 e), v and the dK, dV accumulators. The query
// rows of every query head that reads this KV head stream through workgroup memory, Q and
// dO in tiles of BLOCK_KV rows, four rows per step, with their logsumexp L and
// D = rowsum(dO ∘ O) read as one vec4 each (flash/backward_stats.wgsl):
//   s = log2(e)·scale·q·k, P = exp2(s − L), dV += P · dO, dP = dO·v, dS = P ∘ (dP − D),
//   dK += dS · q, and dK · scale at the end.
// The partial dots of a key's lanes are summed by lane_sum (lanes_*.wgsl). Masks, windows,
// passes [begin, stop) over the query rows and the causal block order are those of
// flash/backward_dkdv.wgsl. Every index is in bounds by construction.

override BLOCK_Q: u32 = 64u;   // invocations per workgroup
override BLOCK_KV: u32 = 16u;  // query rows per Q/dO tile, a multiple of 4
// Rewritten per pipeline by src/kernels/flash/backward_pipelines.rs (gpu::specialize):
const ROWS: u32 = 1u;          // key rows per lane group
const D4: u32 = 16u;           // ceil(head_dim / 4)
const LANES: u32 = 4u;         // lanes per key row
const GROUPS: u32 = 16u;       // BLOCK_Q / LANES: lane groups per workgroup
const DL: u32 = (D4 + LANES - 1u) / LANES;  // vec4 columns per lane

// q, k, v, d_o (bindings 0–3) and their loads X_quad come from
// src/kernels/flash/backward_pipelines.rs.
@group(0) @binding(4) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dk: array<f32>;
@group(0) @binding(6) var<storage, read_write> dv: array<f32>;
@group(0) @binding(7) var<storage, read> params: Params;

var<workgroup> q_tile: array<vec4<f32>, BLOCK_KV * D4>;
var<workgroup> o_tile: array<vec4<f32>, BLOCK_KV * D4>;

@compute @workgroup_size(BLOCK_Q)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        ids: LaneIds) {
    // Lanes by their lane index (lane_sum_*.wgsl): by subgroup where lanes sum by subgroup.
    let lid = lane_index(ids);
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let d = params.head_dim;
    let causal = params.causal != 0u;
    let windowed = params.window != 0u;
    let kv_head = group / params.blocks;
    let k0 = balanced_block(group % params.blocks) * GROUPS * ROWS;
    let kv_row = kv_head * n;
    let group_size = params.heads / params.kv_heads;
    let first_head = (kv_head / params.kv_heads) * params.heads
        + (kv_head % params.kv_heads) * group_size;
    let sub = lid % LANES;
    let slot = lid / LANES;

    var kr: array<vec4<f32>, ROWS * DL>;
    var vr: array<vec4<f32>, ROWS * DL>;
    var dk_acc: array<vec4<f32>, ROWS * DL>;
    var dv_acc: array<vec4<f32>, ROWS * DL>;
    var lo: array<u32, ROWS>;   // queries that see key j start here
    var hi: array<u32, ROWS>;   // and end here (0 for keys past n)
    for (var r = 0u; r < ROWS; r++) {
        let j = k0 + r * GROUPS + slot;
        let valid = j < n;
        lo[r] = select(0u, j, causal);
        hi[r] = select(0u, select(n, min(n, j + params.window), windowed), valid);
        let base = (kv_row + min(j, n - 1u)) * d;
        for (var t = 0u; t < DL; t++) {
            let c4 = sub + t * LANES;
            let mine = valid && c4 < D4;
            let c = min(c4, D4 - 1u);
            kr[r * DL + t] = select(vec4<f32>(0.0), k_quad(base, c, base + d) * params.scale_log2, mine);
            vr[r * DL + t] = select(vec4<f32>(0.0), v_quad(base, c, base + d), mine);
            dk_acc[r * DL + t] = vec4<f32>(0.0);
            dv_acc[r * DL + t] = vec4<f32>(0.0);
        }
    }

    // Query rows any key of the block sees, within this pass: uniform per workgroup.
    let last_key = min(n, k0 + GROUPS * ROWS) - 1u;
    let i_start = max(params.begin, select(0u, k0 & ~3u, causal));
    let i_end = min(params.stop, select(n, min(n, last_key + params.window), windowed));
    for (var member = 0u; member < group_size; member++) {
        let head = first_head + member;
        let head_row = head * n;
        for (var i0 = i_start; i0 < i_end; i0 += BLOCK_KV) {
            for (var e = lid; e < BLOCK_KV * D4; e += BLOCK_Q) {
                let i = i0 + e / D4;
                let base = (head_row + min(i, n - 1u)) * d;
                q_tile[e] = select(vec4<f32>(0.0), q_quad(base, e % D4, base + d), i < n);
                o_tile[e] = select(vec4<f32>(0.0), d_o_quad(base, e % D4, base + d), i < n);
            }
            workgroupBarrier();

            let tile_rows = min(BLOCK_KV, i_end - i0);
            for (var jj = 0u; jj < tile_rows; jj += 4u) {
                let b0 = jj * D4;
                let si = stats_index(head, i0 + jj);
                let lse = stats[si];
                let big_d = stats[si + 1u];
                var s: array<vec4<f32>, ROWS>;
                var dp: array<vec4<f32>, ROWS>;
                for (var t = 0u; t < DL; t++) {
                    let c4 = min(sub + t * LANES, D4 - 1u);
                    let q0 = q_tile[b0 + c4];
                    let q1 = q_tile[b0 + D4 + c4];
                    let q2 = q_tile[b0 + 2u * D4 + c4];
                    let q3 = q_tile[b0 + 3u * D4 + c4];
                    let o0 = o_tile[b0 + c4];
                    let o1 = o_tile[b0 + D4 + c4];
                    let o2 = o_tile[b0 + 2u * D4 + c4];
                    let o3 = o_tile[b0 + 3u * D4 + c4];
                    for (var r = 0u; r < ROWS; r++) {
                        let k = kr[r * DL + t];
                        let v = vr[r * DL + t];
                        s[r] += vec4<f32>(dot(k, q0), dot(k, q1), dot(k, q2), dot(k, q3));
                        dp[r] += vec4<f32>(dot(v, o0), dot(v, o1), dot(v, o2), dot(v, o3));
                    }
                }
                var p: array<vec4<f32>, ROWS>;
                var ds: array<vec4<f32>, ROWS>;
                let query = vec4<u32>(i0 + jj) + vec4<u32>(0u, 1u, 2u, 3u);
                for (var r = 0u; r < ROWS; r++) {
                    let full_s = lane_sum(s[r], lid);
                    let full_dp = lane_sum(dp[r], lid);
                    let seen = (query >= vec4<u32>(lo[r])) & (query < vec4<u32>(hi[r]));
                    p[r] = select(vec4<f32>(0.0), exp2(full_s - lse), seen);
                    ds[r] = p[r] * (full_dp - big_d);
                }
                for (var t = 0u; t < DL; t++) {
                    let c4 = min(sub + t * LANES, D4 - 1u);
                    let q0 = q_tile[b0 + c4];
                    let q1 = q_tile[b0 + D4 + c4];
                    let q2 = q_tile[b0 + 2u * D4 + c4];
                    let q3 = q_tile[b0 + 3u * D4 + c4];
                    let o0 = o_tile[b0 + c4];
                    let o1 = o_tile[b0 + D4 + c4];
                    let o2 = o_tile[b0 + 2u * D4 + c4];
                    let o3 = o_tile[b0 + 3u * D4 + c4];
                    for (var r = 0u; r < ROWS; r++) {
                        let w = p[r];
                        let g = ds[r];
                        dv_acc[r * DL + t] = fma(vec4<f32>(w.w), o3, fma(vec4<f32>(w.z), o2,
                            fma(vec4<f32>(w.y), o1, fma(vec4<f32>(w.x), o0, dv_acc[r * DL + t]))));
                        dk_acc[r * DL + t] = fma(vec4<f32>(g.w), q3, fma(vec4<f32>(g.z), q2,
                            fma(vec4<f32>(g.y), q1, fma(vec4<f32>(g.x), q0, dk_acc[r * DL + t]))));
                    }
                }
            }
            workgroupBarrier();
        }
    }

    let keep = params.accumulate != 0u;
    for (var r = 0u; r < ROWS; r++) {
        let j = k0 + r * GROUPS + slot;
        if (j >= n) {
            continue;
        }
        let base = (kv_row + j) * d;
        for (var t = 0u; t < DL; t++) {
            let c4 = sub + t * LANES;
            for (var e = 0u; e < 4u; e++) {
                let c = c4 * 4u + e;
                if (c4 < D4 && c < d) {
                    dk[base + c] = select(0.0, dk[base + c], keep) + dk_acc[r * DL + t][e] * params.scale;
                    dv[base + c] = select(0.0, dv[base + c], keep) + dv_acc[r * DL + t][e];
                }
            }
        }
    }
}
