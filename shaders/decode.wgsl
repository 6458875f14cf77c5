// Decode attention, flash-decoding style (Dao et al. 2023): the last QUERIES query rows of
// each (batch, head) — the tokens being generated — against a KV cache of n keys. q and o
// hold only those rows, [B, H, QUERIES, d]; K and V are [B, HKV, n, d] (grouped-query
// attention: the H / HKV query heads of a group read one KV head).
//
// Pass `partial`: one workgroup per (batch, KV head, chunk of SPLIT keys) serves every query
// row of the group (H / HKV heads × QUERIES rows), four rows at a time: each key's K row is
// loaded once (vec4 loads where head_dim is a multiple of 4, kv_quads_vec4.wgsl) and scored
// against the four queries at once (one vec4 of scores per key in workgroup memory); the
// four rows' max and sum are reduced across the workgroup; then invocations split into
// (column quad, key phase) pairs, each V quad is loaded once for the four rows, and the
// phases' partial sums are added. The chunk's partial softmax of each row — max m, sum l
// and the unnormalized weighted sum of V — goes to `partials`. A group of up to four rows
// (MHA, or GQA with H / HKV ≤ 4) reads its K and V once; larger groups read the chunk once
// per four rows (from cache: a chunk is SPLIT·d floats).
// Pass `combine`: one workgroup per (batch, head, query row) rescales the chunks' partials
// to a common max and writes O = Σ acc·e^(m−M) / Σ l·e^(m−M).
// Causal: query row i (global index n − QUERIES + r) sees keys j ≤ i; with a sliding window
// W, only keys i − W < j ≤ i (chunks wholly before the window do no work).

override WG: u32 = 64u;
override SPLIT: u32 = 256u;     // keys per chunk
override QR: u32 = 4u;          // query rows scored per key load: 1 (a single row) or 4

const NEG_BIG: f32 = -3.0e38;
const MAX_D4: u32 = 64u;        // head_dim ≤ 256

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale: f32,
    queries: u32,               // query rows per (batch, head), at the end of the sequence
    splits: u32,                // chunks per (batch, KV head)
    total_groups: u32,          // workgroups that do work in this pass
    heads: u32,                 // H
    kv_heads: u32,              // HKV
    window: u32,                // causal sliding window (0: none)
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
// k and v (bindings 1 and 2) and k_quad / v_quad come from kv_quads_vec4.wgsl or
// kv_quads_scalar.wgsl.
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
// Per (batch·head, chunk, query row): head_dim accumulator floats, then m and l.
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read> params: Params;

var<workgroup> scores: array<vec4<f32>, SPLIT>;   // per key: the four rows' scores, then p
var<workgroup> q_tile: array<vec4<f32>, 256>;     // 4 rows × MAX_D4 quads
var<workgroup> red: array<vec4<f32>, WG>;

fn reduce4_max(lid: u32, value: vec4<f32>) -> vec4<f32> {
    red[lid] = value;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            red[lid] = max(red[lid], red[lid + stride]);
        }
        workgroupBarrier();
    }
    let result = red[0];
    workgroupBarrier();
    return result;
}

fn reduce4_sum(lid: u32, value: vec4<f32>) -> vec4<f32> {
    red[lid] = value;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            red[lid] = red[lid] + red[lid + stride];
        }
        workgroupBarrier();
    }
    let result = red[0];
    workgroupBarrier();
    return result;
}

fn partial_base(head: u32, chunk: u32, r: u32) -> u32 {
    return ((head * params.splits + chunk) * params.queries + r) * (params.head_dim + 2u);
}

// Whether key j is one row e of the step sees: lo ≤ j < hi per component.
fn seen4(j: u32, lo: vec4<u32>, hi: vec4<u32>) -> vec4<bool> {
    return (vec4<u32>(j) >= lo) & (vec4<u32>(j) < hi);
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
    let d4 = (d + 3u) / 4u;
    let kv_head = group / params.splits;          // index into [B, HKV]
    let chunk = group % params.splits;
    let kv_row = kv_head * n;
    let group_size = params.heads / params.kv_heads;
    let first_head = (kv_head / params.kv_heads) * params.heads
        + (kv_head % params.kv_heads) * group_size;  // index into [B, H]
    let rows = group_size * params.queries;       // query rows this workgroup serves
    let k0 = chunk * SPLIT;
    let k_end = min(n, k0 + SPLIT);
    // The V pass: invocation t takes column quad t % d4 of keys ≡ t / d4 (mod phases).
    let phases = max(WG / d4, 1u);
    let c4_mine = lid % d4;
    let phase = lid / d4;
    for (var t0 = 0u; t0 < rows; t0 += QR) {
        // Rows t0 … t0 + QR − 1 of the group: row t is head first_head + t / queries,
        // query r = t % queries. Rows past `rows` see no key.
        var lo = vec4<u32>(0u);
        var hi = vec4<u32>(0u);
        var heads = vec4<u32>(0u);
        var rs = vec4<u32>(0u);
        for (var e = 0u; e < QR; e++) {
            let t = min(t0 + e, rows - 1u);
            let r = t % params.queries;
            let i = n - params.queries + r;
            let end = select(k_end, min(k_end, i + 1u), params.causal != 0u);
            heads[e] = first_head + t / params.queries;
            rs[e] = r;
            lo[e] = max(k0, first_visible_key(i, params.window));
            hi[e] = select(0u, end, t0 + e < rows);
        }
        // Unused components see no key and stay out of the key range below (every lo ≥ k0).
        for (var e = QR; e < 4u; e++) {
            lo[e] = k_end;
            hi[e] = 0u;
        }
        // The step's queries, scaled, as quads in workgroup memory.
        for (var x = lid; x < QR * d4; x += WG) {
            let e = x / d4;
            let c4 = x % d4;
            let f = (heads[e] * params.queries + rs[e]) * d + c4 * 4u;
            var quad = vec4<f32>(0.0);
            for (var u = 0u; u < 4u; u++) {
                if (c4 * 4u + u < d) {
                    quad[u] = q[f + u];
                }
            }
            q_tile[e * MAX_D4 + c4] = quad * params.scale;
        }
        workgroupBarrier();
        let lo_min = min(min(lo.x, lo.y), min(lo.z, lo.w));
        let hi_max = max(max(hi.x, hi.y), max(hi.z, hi.w));

        // Scores: one invocation per key, its K row read once for the QR rows.
        var local_max = vec4<f32>(NEG_BIG);
        for (var j = lo_min + lid; j < hi_max; j += WG) {
            let base = (kv_row + j) * d;
            var s = vec4<f32>(0.0);
            for (var c4 = 0u; c4 < d4; c4++) {
                let kq = k_quad(base, c4, base + d);
                s.x += dot(q_tile[c4], kq);
                if (QR > 1u) {
                    s.y += dot(q_tile[MAX_D4 + c4], kq);
                    s.z += dot(q_tile[2u * MAX_D4 + c4], kq);
                    s.w += dot(q_tile[3u * MAX_D4 + c4], kq);
                }
            }
            let masked = select(vec4<f32>(NEG_BIG), s, seen4(j, lo, hi));
            scores[j - k0] = masked;
            local_max = max(local_max, masked);
        }
        let m = reduce4_max(lid, local_max);
        var local_sum = vec4<f32>(0.0);
        for (var j = lo_min + lid; j < hi_max; j += WG) {
            let p = select(vec4<f32>(0.0), exp(scores[j - k0] - m), seen4(j, lo, hi));
            scores[j - k0] = p;
            local_sum += p;
        }
        let l = reduce4_sum(lid, local_sum);

        // Weighted sum of V: each V quad read once for the QR rows.
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        if (phase < phases) {
            for (var j = lo_min + phase; j < hi_max; j += phases) {
                let base = (kv_row + j) * d;
                let vq = v_quad(base, c4_mine, base + d);
                let p = scores[j - k0];
                acc0 = fma(vec4<f32>(p.x), vq, acc0);
                if (QR > 1u) {
                    acc1 = fma(vec4<f32>(p.y), vq, acc1);
                    acc2 = fma(vec4<f32>(p.z), vq, acc2);
                    acc3 = fma(vec4<f32>(p.w), vq, acc3);
                }
            }
        }
        // Sum the phases' partial sums, one row at a time, and write the row's partial.
        for (var e = 0u; e < QR; e++) {
            var mine = acc0;
            if (e == 1u) { mine = acc1; }
            if (e == 2u) { mine = acc2; }
            if (e == 3u) { mine = acc3; }
            red[lid] = select(vec4<f32>(0.0), mine, phase < phases);
            workgroupBarrier();
            if (t0 + e < rows && lid < d4) {
                var total = vec4<f32>(0.0);
                for (var ph = 0u; ph < phases; ph++) {
                    total += red[ph * d4 + lid];
                }
                let out = partial_base(heads[e], chunk, rs[e]);
                for (var u = 0u; u < 4u; u++) {
                    let c = lid * 4u + u;
                    if (c < d) {
                        partials[out + c] = total[u];
                    }
                }
                if (lid == 0u) {
                    // A chunk the row sees no key of holds nothing: l = 0, m = −∞ in effect.
                    let any = lo[e] < hi[e];
                    partials[out + d] = select(NEG_BIG, m[e], any);
                    partials[out + d + 1u] = select(0.0, l[e], any);
                }
            }
            workgroupBarrier();
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
        total += partials[base + d + 1u] * exp(partials[base + d] - big_m);
    }
    let row = head * params.queries + r;
    for (var c = lid; c < d; c += WG) {
        var acc = 0.0;
        for (var s = 0u; s < params.splits; s++) {
            let base = partial_base(head, s, r);
            acc += partials[base + c] * exp(partials[base + d] - big_m);
        }
        o[row * d + c] = acc / total;
    }
}
