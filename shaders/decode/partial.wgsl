// Decode attention, flash-decoding style (Dao et al. 2023), split like llama.cpp's Vulkan
// flash attention: the last QUERIES query rows of each (batch, head) — the tokens being
// generated — against a KV cache of n keys. q and o hold only those rows, [B, H, QUERIES,
// d]; K and V are [B, HKV, n, d] (grouped-query attention: the H / HKV query heads of a
// group read one KV head). Shared declarations: decode/params.wgsl.
//
// Pass `partial` (split-K): a workgroup owns a chunk of `keys` consecutive keys of one
// (batch, KV head); the chunks are sized to the device (about twice its parallelism,
// src/kernels/decode/plan.rs), not to n. Its BLOCK_Q invocations form KG = BLOCK_Q / LANES
// key lanes of LANES lanes each: key lane kg takes the keys chunk_start + kg + KG·s
// (neighbouring key lanes read neighbouring rows), and its LANES lanes split the head dim
// (lane `sub` holds columns 4·(sub + c·LANES) …: DL vec4s per row; LANES = 1 on CPU
// drivers, more on GPUs to stay within the register cap), their partial dot products
// summed by lane_sum (flash/lane_sum_*.wgsl, which also numbers the lanes: `lane_index`).
// Each key lane scores a key against QR query rows held in registers (QR = 4: four query
// heads of a grouped-query group at once; 1 for a lone row) and runs the online softmax
// over its keys alone. Then the workgroup merges its key lanes into one partial per query
// row — M = max m, L = Σ l·2^(m − M) and each column's Σ acc·2^(m − M) over the key lanes —
// by subgroup butterflies where the workgroup is one subgroup (CPU drivers:
// decode/merge_subgroup.wgsl), else through workgroup memory (decode/merge_workgroup.wgsl);
// the record (decode/params.wgsl) goes to `partials`. The combine pass
// (decode/combine.wgsl) merges the chunks' records.
// Causal: query row i (global index n − QUERIES + r) sees keys j ≤ i; with a sliding window
// W, only keys i − W < j ≤ i. Loop bounds are uniform per workgroup (lane sums and the
// merge may hold barriers); keys outside a row's range are masked, and key lanes that see none
// (a short chunk, tiny n) hold l = 0 and drop out of the merge. Every index is in bounds by
// construction (keys past n read the last key and are masked).

// Private arrays need constant sizes and constant indices (lavapipe keeps a private array
// indexed by a variable in memory): src/kernels/decode/ rewrites these lines and unrolls
// the marked loops (src/gpu/unroll.rs).
const BLOCK_Q: u32 = 64u;       // invocations per workgroup
const QR: u32 = 4u;             // query rows per pass over the keys: 1 or 4
const D4: u32 = 16u;            // ceil(head_dim / 4)
const LANES: u32 = 1u;          // lanes splitting each key's head dim
const DL: u32 = 16u;            // ceil(D4 / LANES): vec4 columns per lane
const KG: u32 = BLOCK_Q / LANES; // key lanes per workgroup

// Whether key j is one row e sees: lo ≤ j < hi per component.
fn seen4(j: u32, lo: vec4<u32>, hi: vec4<u32>) -> vec4<bool> {
    return (vec4<u32>(j) >= lo) & (vec4<u32>(j) < hi);
}

// Columns 4·c4 … 4·c4 + 3 of q's row `row`, zero past head_dim.
fn q_quad(row: u32, c4: u32) -> vec4<f32> {
    let d = params.head_dim;
    var r = vec4<f32>(0.0);
    for (var u = 0u; u < 4u; u++) {
        if (c4 * 4u + u < d) {
            r[u] = q[row * d + c4 * 4u + u];
        }
    }
    return r;
}

@compute @workgroup_size(BLOCK_Q)
fn partial(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           ids: LaneIds) {
    let lid = lane_index(ids);
    let group = workgroup_linear_id(wid, nwg);
    // Uniform per workgroup: every lane of a workgroup leaves here or none does.
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let d = params.head_dim;
    let sub = lid % LANES;
    let kg = lid / LANES;
    let kv_head = group / params.chunks;          // index into [B, HKV]
    let chunk = group % params.chunks;
    let kv_row = kv_head * n;
    let group_size = params.heads / params.kv_heads;
    let first_head = (kv_head / params.kv_heads) * params.heads
        + (kv_head % params.kv_heads) * group_size;  // index into [B, H]
    let rows = group_size * params.queries;       // query rows of this KV head
    let chunk_start = chunk * params.keys;
    let chunk_stop = min(n, chunk_start + params.keys);
    for (var t0 = 0u; t0 < rows; t0 += QR) {
        // Rows t0 … t0 + QR − 1: row t is head first_head + t / queries, query r = t % queries.
        var lo = vec4<u32>(n);
        var hi = vec4<u32>(0u);
        var heads = vec4<u32>(0u);
        var rs = vec4<u32>(0u);
        var qr: array<vec4<f32>, QR * DL>;
        for (var e = 0u; e < QR; e++) { // unroll
            let t = min(t0 + e, rows - 1u);
            let r = t % params.queries;
            let i = n - params.queries + r;
            heads[e] = first_head + t / params.queries;
            rs[e] = r;
            lo[e] = first_visible_key(i, params.window);
            hi[e] = select(0u, select(n, i + 1u, params.causal != 0u), t0 + e < rows);
            let row = heads[e] * params.queries + r;
            for (var c = 0u; c < DL; c++) { // unroll
                let c4 = sub + c * LANES;
                qr[e * DL + c] = select(vec4<f32>(0.0), q_quad(row, min(c4, D4 - 1u)) * params.scale_log2, c4 < D4);
            }
        }
        let lo_min = min(min(lo.x, lo.y), min(lo.z, lo.w));
        let hi_max = min(chunk_stop, max(max(hi.x, hi.y), max(hi.z, hi.w)));
        // The chunk's first step that reaches lo_min (uniform: a whole step of KG keys).
        var j0 = chunk_start;
        if (lo_min > chunk_start) {
            j0 = chunk_start + (lo_min - chunk_start) / KG * KG;
        }
        var m = vec4<f32>(NEG_BIG);
        var l = vec4<f32>(0.0);
        var acc: array<vec4<f32>, QR * DL>;
        for (; j0 < hi_max; j0 += KG) {
            let j = j0 + kg;
            let base = (kv_row + min(j, n - 1u)) * d;
            var s = vec4<f32>(0.0);
            for (var c = 0u; c < DL; c++) { // unroll
                let kq = k_quad(base, min(sub + c * LANES, D4 - 1u), base + d);
                for (var e = 0u; e < QR; e++) { // unroll
                    s[e] += dot(qr[e * DL + c], kq);
                }
            }
            let full = lane_sum(s, lid);
            let seen = seen4(j, lo, hi) & vec4<bool>(j < hi_max);
            let sm = select(vec4<f32>(NEG_BIG), full, seen);
            let m_new = max(m, sm);
            let alpha = exp2(m - m_new);
            let p = select(vec4<f32>(0.0), exp2(sm - m_new), seen);
            l = l * alpha + p;
            m = m_new;
            for (var c = 0u; c < DL; c++) { // unroll
                let vq = v_quad(base, min(sub + c * LANES, D4 - 1u), base + d);
                for (var e = 0u; e < QR; e++) { // unroll
                    acc[e * DL + c] = fma(vec4<f32>(p[e]), vq, acc[e * DL + c] * alpha[e]);
                }
            }
        }
        // The workgroup's record per row: its key lanes' states merged
        // (decode/merge_subgroup.wgsl or decode/merge_workgroup.wgsl).
        let ml = merge_max_sum(lid, m, l, sub == 0u);
        let scale = exp2(m - ml[0]);
        for (var e = 0u; e < QR; e++) { // unroll
            let keep = t0 + e < rows;
            let out = partial_base(heads[e], chunk, rs[e]);
            for (var c = 0u; c < DL; c++) { // unroll
                merge_column(lid, c, acc[e * DL + c] * scale[e], out, keep);
            }
            if (keep && lid == 0u) {
                partials[out + D4] = vec4<f32>(ml[0][e], ml[1][e], 0.0, 0.0);
            }
        }
    }
}
