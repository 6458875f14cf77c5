// Decode attention, flash-decoding style (Dao et al. 2023): the last QUERIES query rows of
// each (batch, head) — the tokens being generated — against a KV cache of n keys. q and o
// hold only those rows, [B, H, QUERIES, d]; K and V are [B, HKV, n, d] (grouped-query
// attention: the H / HKV query heads of a group read one KV head).
//
// Pass `partial` (split-K at the level of invocations): a workgroup owns a chunk of
// WG·keys keys of one (batch, KV head); invocation t takes the keys chunk_start + t + WG·s
// (consecutive invocations read consecutive key rows) and runs the online softmax over
// them on its own, with no workgroup memory and no barrier: for each key it loads the K
// row once (vec4 loads where head_dim is a multiple of 4, kv_quads_vec4.wgsl), scores it
// against QR query rows held in registers (QR = 4: four query heads of a grouped-query
// group at once; QR = 1 for a lone row), and loads the V row once into the QR
// accumulators. Each invocation writes its partial softmax — max m (log2 domain), sum l
// and the unnormalized weighted sum of V — to `partials`: splits = chunks · WG of them per
// (batch, head, query row). A group of up to four query rows (MHA, or GQA with
// H / HKV ≤ 4) reads the KV cache once per step; larger groups read it once per four rows.
// Pass `combine`: one workgroup per (batch, head, query row) rescales the partials to a
// common max and writes O = Σ acc·2^(m−M) / Σ l·2^(m−M).
// Causal: query row i (global index n − QUERIES + r) sees keys j ≤ i; with a sliding window
// W, only keys i − W < j ≤ i (invocations whose keys all lie before it do no work).

override WG: u32 = 64u;
// Private arrays need constant sizes and constant indices (lavapipe keeps a private array
// indexed by a variable in memory): src/kernels/decode.rs rewrites these lines and unrolls
// the marked loops (src/gpu/unroll.rs).
const QR: u32 = 4u;             // query rows per pass over the keys: 1 or 4
const D4: u32 = 16u;            // ceil(head_dim / 4)

const NEG_BIG: f32 = -3.0e38;

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale_log2: f32,            // scale · log2(e)
    queries: u32,               // query rows per (batch, head), at the end of the sequence
    splits: u32,                // partials per (batch, head, query row): chunks · WG, or n
                                // when one chunk holds every key (invocations past n
                                // have none)
    total_groups: u32,          // workgroups that do work in this pass
    heads: u32,                 // H
    kv_heads: u32,              // HKV
    window: u32,                // causal sliding window (0: none)
    keys: u32,                  // keys per invocation of `partial`
    chunks: u32,                // workgroups of `partial` per (batch, KV head)
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
// k and v (bindings 1 and 2) and k_quad / v_quad come from kv_quads_vec4.wgsl or
// kv_quads_scalar.wgsl.
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
// Per (batch·head, split, query row): head_dim accumulator floats, then m and l.
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read> params: Params;

fn partial_base(head: u32, split: u32, r: u32) -> u32 {
    return ((head * params.splits + split) * params.queries + r) * (params.head_dim + 2u);
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

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let d = params.head_dim;
    let kv_head = group / params.chunks;          // index into [B, HKV]
    let chunk = group % params.chunks;
    let split = chunk * WG + lid;
    if (split >= params.splits) {
        return;                                   // no key, no partial (no barrier below)
    }
    let kv_row = kv_head * n;
    let group_size = params.heads / params.kv_heads;
    let first_head = (kv_head / params.kv_heads) * params.heads
        + (kv_head % params.kv_heads) * group_size;  // index into [B, H]
    let rows = group_size * params.queries;       // query rows of this KV head
    let j_first = chunk * WG * params.keys + lid;  // this invocation's first key
    let j_stop = min(n, (chunk + 1u) * WG * params.keys);
    for (var t0 = 0u; t0 < rows; t0 += QR) {
        // Rows t0 … t0 + QR − 1: row t is head first_head + t / queries, query r = t % queries.
        var lo = vec4<u32>(n);
        var hi = vec4<u32>(0u);
        var heads = vec4<u32>(0u);
        var rs = vec4<u32>(0u);
        var qr: array<vec4<f32>, QR * D4>;
        for (var e = 0u; e < QR; e++) { // unroll
            let t = min(t0 + e, rows - 1u);
            let r = t % params.queries;
            let i = n - params.queries + r;
            heads[e] = first_head + t / params.queries;
            rs[e] = r;
            lo[e] = first_visible_key(i, params.window);
            hi[e] = select(0u, select(n, i + 1u, params.causal != 0u), t0 + e < rows);
            let row = heads[e] * params.queries + r;
            for (var c4 = 0u; c4 < D4; c4++) { // unroll
                qr[e * D4 + c4] = q_quad(row, c4) * params.scale_log2;
            }
        }
        let lo_min = min(min(lo.x, lo.y), min(lo.z, lo.w));
        let hi_max = min(j_stop, max(max(hi.x, hi.y), max(hi.z, hi.w)));
        // The invocation's first key at or past lo_min.
        var j = j_first;
        if (lo_min > j_first) {
            j = j_first + (lo_min - j_first + WG - 1u) / WG * WG;
        }
        var m = vec4<f32>(NEG_BIG);
        var l = vec4<f32>(0.0);
        var acc: array<vec4<f32>, QR * D4>;
        for (; j < hi_max; j += WG) {
            let base = (kv_row + j) * d;
            var s = vec4<f32>(0.0);
            for (var c4 = 0u; c4 < D4; c4++) { // unroll
                let kq = k_quad(base, c4, base + d);
                for (var e = 0u; e < QR; e++) { // unroll
                    s[e] += dot(qr[e * D4 + c4], kq);
                }
            }
            let seen = seen4(j, lo, hi);
            let sm = select(vec4<f32>(NEG_BIG), s, seen);
            let m_new = max(m, sm);
            let alpha = exp2(m - m_new);
            let p = select(vec4<f32>(0.0), exp2(sm - m_new), seen);
            l = l * alpha + p;
            m = m_new;
            for (var c4 = 0u; c4 < D4; c4++) { // unroll
                let vq = v_quad(base, c4, base + d);
                for (var e = 0u; e < QR; e++) { // unroll
                    acc[e * D4 + c4] = fma(vec4<f32>(p[e]), vq, acc[e * D4 + c4] * alpha[e]);
                }
            }
        }
        for (var e = 0u; e < QR; e++) { // unroll
            if (t0 + e < rows) {
                let out = partial_base(heads[e], split, rs[e]);
                for (var c4 = 0u; c4 < D4; c4++) { // unroll
                    for (var u = 0u; u < 4u; u++) {
                        if (c4 * 4u + u < d) {
                            partials[out + c4 * 4u + u] = acc[e * D4 + c4][u];
                        }
                    }
                }
                // An invocation that saw no key of the row holds l = 0 and m = −∞ in effect.
                partials[out + d] = m[e];
                partials[out + d + 1u] = l[e];
            }
        }
    }
}

@compute @workgroup_size(WG)
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
    var big_m = NEG_BIG;
    for (var s = 0u; s < params.splits; s++) {
        big_m = max(big_m, partials[partial_base(head, s, r) + d]);
    }
    var total = 0.0;
    for (var s = 0u; s < params.splits; s++) {
        let base = partial_base(head, s, r);
        total += partials[base + d + 1u] * exp2(partials[base + d] - big_m);
    }
    let row = head * params.queries + r;
    for (var c = lid; c < d; c += WG) {
        var acc = 0.0;
        for (var s = 0u; s < params.splits; s++) {
            let base = partial_base(head, s, r);
            acc += partials[base + c] * exp2(partials[base + d] - big_m);
        }
        o[row * d + c] = acc / total;
    }
}
