// Decode attention, flash-decoding style (Dao et al. 2023): the last QUERIES query rows of
// each (batch, head) — the tokens being generated — against a KV cache of n keys. q and o
// hold only those rows, [B, H, QUERIES, d]; K and V are [B, HKV, n, d] (grouped-query
// attention: the H / HKV query heads of a group read one KV head).
//
// Pass `partial` (split-K): a workgroup owns a chunk of `keys` consecutive keys of one
// (batch, KV head). Its BLOCK_Q invocations form KG = BLOCK_Q / LANES key lanes of LANES
// lanes each: key lane kg takes the keys chunk_start + kg + KG·s (neighbouring key lanes
// read neighbouring rows), and its LANES lanes split the head dim (lane `sub` holds
// columns 4·(sub + c·LANES) …: DL vec4s per row; LANES = 1 on CPU drivers, more on GPUs
// to stay within the register cap), their partial dot products summed by lane_sum
// (lanes_none / lanes_subgroup / flash/lane_sum_workgroup.wgsl). Each key lane scores a key against
// QR query rows held in registers (QR = 4: four query heads of a grouped-query group at
// once; 1 for a lone row), runs the online softmax over its keys alone and writes one
// partial softmax — the unnormalized weighted sum of V (D4 vec4s), then (m, l) — to
// `partials`: splits = chunks · KG of them per (batch, head, query row), a number sized
// to the device (src/kernels/decode.rs), not to n.
// Pass `combine`: one workgroup of REDUCE_WG invocations per (batch, head, query row):
// M = max m and L = Σ l·2^(m−M) by workgroup reductions over the partials, then each
// lane sums a slice of the partials for one vec4 column and the slices are added:
// O = Σ acc·2^(m−M) / L. No subgroup operation: it runs on every adapter.
// Causal: query row i (global index n − QUERIES + r) sees keys j ≤ i; with a sliding window
// W, only keys i − W < j ≤ i. Loop bounds are uniform per workgroup (lane sums may hold
// barriers); keys outside a row's range are masked. Every index is in bounds by
// construction (keys past n read the last key and are masked).

override BLOCK_Q: u32 = 64u;    // invocations per workgroup of `partial`
// Private arrays need constant sizes and constant indices (lavapipe keeps a private array
// indexed by a variable in memory): src/kernels/decode.rs rewrites these lines and unrolls
// the marked loops (src/gpu/unroll.rs).
const QR: u32 = 4u;             // query rows per pass over the keys: 1 or 4
const D4: u32 = 16u;            // ceil(head_dim / 4)
const LANES: u32 = 1u;          // lanes splitting each key's head dim
const DL: u32 = 16u;            // ceil(D4 / LANES): vec4 columns per lane
const REDUCE_WG: u32 = 256u;    // invocations of `combine` (common/workgroup_reduce.wgsl)

const NEG_BIG: f32 = -3.0e38;

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale_log2: f32,            // scale · log2(e)
    queries: u32,               // query rows per (batch, head), at the end of the sequence
    splits: u32,                // partials per (batch, head, query row): chunks · KG
    total_groups: u32,          // workgroups that do work in this pass
    heads: u32,                 // H
    kv_heads: u32,              // HKV
    window: u32,                // causal sliding window (0: none)
    keys: u32,                  // keys per chunk (a multiple of KG)
    chunks: u32,                // workgroups of `partial` per (batch, KV head)
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
// k and v (bindings 1 and 2) and k_quad / v_quad come from common/kv_quads_vec4.wgsl or
// common/kv_quads_scalar.wgsl.
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
// Per (batch·head, split, query row): D4 accumulator vec4s, then (m, l, 0, 0).
@group(0) @binding(4) var<storage, read_write> partials: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> params: Params;

var<workgroup> col_sh: array<vec4<f32>, REDUCE_WG>;

fn partial_base(head: u32, split: u32, r: u32) -> u32 {
    return ((head * params.splits + split) * params.queries + r) * (D4 + 1u);
}

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
           @builtin(local_invocation_index) lid: u32) {
    let group = workgroup_linear_id(wid, nwg);
    // Uniform per workgroup: every lane of a workgroup leaves here or none does.
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let d = params.head_dim;
    let kg_count = BLOCK_Q / LANES;
    let sub = lid % LANES;
    let kg = lid / LANES;
    let kv_head = group / params.chunks;          // index into [B, HKV]
    let chunk = group % params.chunks;
    let split = chunk * kg_count + kg;
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
            j0 = chunk_start + (lo_min - chunk_start) / kg_count * kg_count;
        }
        var m = vec4<f32>(NEG_BIG);
        var l = vec4<f32>(0.0);
        var acc: array<vec4<f32>, QR * DL>;
        for (; j0 < hi_max; j0 += kg_count) {
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
        for (var e = 0u; e < QR; e++) { // unroll
            if (t0 + e < rows) {
                let out = partial_base(heads[e], split, rs[e]);
                for (var c = 0u; c < DL; c++) { // unroll
                    let c4 = sub + c * LANES;
                    if (c4 < D4) {
                        partials[out + c4] = acc[e * DL + c];
                    }
                }
                // A key lane that saw no key of the row holds l = 0 and m = −∞ in effect.
                if (sub == 0u) {
                    partials[out + D4] = vec4<f32>(m[e], l[e], 0.0, 0.0);
                }
            }
        }
    }
}

@compute @workgroup_size(REDUCE_WG)
fn combine(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let d = params.head_dim;
    let head = group / params.queries;
    let r = group % params.queries;
    let splits = params.splits;
    var mx = NEG_BIG;
    for (var s = lid; s < splits; s += REDUCE_WG) {
        mx = max(mx, partials[partial_base(head, s, r) + D4].x);
    }
    let big_m = reduce_max(lid, mx);
    var ls = 0.0;
    for (var s = lid; s < splits; s += REDUCE_WG) {
        let ml = partials[partial_base(head, s, r) + D4];
        ls += ml.y * exp2(ml.x - big_m);
    }
    let big_l = reduce_sum(lid, ls);
    // Lane (slice, c4) sums partials slice, slice + slices, … of column c4.
    let slices = REDUCE_WG / D4;
    let c4 = lid % D4;
    let slice = lid / D4;
    var a = vec4<f32>(0.0);
    if (slice < slices) {
        for (var s = slice; s < splits; s += slices) {
            let base = partial_base(head, s, r);
            a = fma(vec4<f32>(exp2(partials[base + D4].x - big_m)), partials[base + c4], a);
        }
    }
    col_sh[lid] = a;
    workgroupBarrier();
    if (slice == 0u) {
        var total = col_sh[c4];
        for (var u = 1u; u < slices; u++) {
            total += col_sh[u * D4 + c4];
        }
        let row = head * params.queries + r;
        for (var e = 0u; e < 4u; e++) {
            if (c4 * 4u + e < d) {
                o[row * d + c4 * 4u + e] = total[e] / big_l;
            }
        }
    }
}
