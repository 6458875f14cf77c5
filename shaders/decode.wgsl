// Decode attention, flash-decoding style (Dao et al. 2023): the last QUERIES query rows of
// each (batch, head) — the tokens being generated — against a KV cache of n keys.
//
// Pass `partial`: the keys are split into chunks of SPLIT keys, one workgroup per
// (batch, head, chunk). For each query row the workgroup computes the chunk's scores into
// workgroup memory (one invocation per key, strided), reduces max and sum across the
// workgroup, and writes the chunk's partial softmax: max m, sum l and the unnormalized
// weighted sum of V (one invocation per column).
// Pass `combine`: one workgroup per (batch, head, query row) rescales the chunks' partials
// to a common max and writes O = Σ acc·e^(m−M) / Σ l·e^(m−M).
// Causal: query row i (global index n − QUERIES + r) sees keys j ≤ i.

override WG: u32 = 64u;
override REDUCE_WG: u32 = WG; // shaders/workgroup_reduce.wgsl
override SPLIT: u32 = 256u;     // keys per chunk

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale: f32,
    queries: u32,               // query rows per (batch, head), at the end of the sequence
    splits: u32,                // chunks per (batch, head)
    total_groups: u32,          // workgroups that do work in this pass
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
// Per (batch·head, chunk, query row): head_dim accumulator floats, then m and l.
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read> params: Params;

var<workgroup> scores: array<f32, SPLIT>;
fn partial_base(head: u32, chunk: u32, r: u32) -> u32 {
    return ((head * params.splits + chunk) * params.queries + r) * (params.head_dim + 2u);
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
    let head = group / params.splits;
    let chunk = group % params.splits;
    let head_row = head * n;
    let k0 = chunk * SPLIT;
    let k_end = min(n, k0 + SPLIT);
    for (var r = 0u; r < params.queries; r++) {
        let i = n - params.queries + r;            // this query's position
        let visible = select(k_end, min(k_end, i + 1u), params.causal != 0u);
        // q and o hold only the decoded rows: [B, H, queries, d].
        let q_base = (head * params.queries + r) * d;
        var local_max = -3.0e38;
        for (var j = k0 + lid; j < visible; j += WG) {
            let k_base = (head_row + j) * d;
            var qk = 0.0;
            for (var c = 0u; c < d; c++) {
                qk = fma(q[q_base + c], k[k_base + c], qk);
            }
            let s = qk * params.scale;
            scores[j - k0] = s;
            local_max = max(local_max, s);
        }
        let m = reduce_max(lid, local_max);
        var local_sum = 0.0;
        for (var j = k0 + lid; j < visible; j += WG) {
            let p = exp(scores[j - k0] - m);
            scores[j - k0] = p;
            local_sum += p;
        }
        let l = reduce_sum(lid, local_sum);
        let out = partial_base(head, chunk, r);
        for (var c = lid; c < d; c += WG) {
            var acc = 0.0;
            for (var j = k0; j < visible; j++) {
                acc = fma(scores[j - k0], v[(head_row + j) * d + c], acc);
            }
            partials[out + c] = acc;
        }
        if (lid == 0u) {
            // A chunk wholly past a causal query holds nothing: l = 0 and m = −∞ in effect.
            partials[out + d] = select(-3.0e38, m, visible > k0);
            partials[out + d + 1u] = select(0.0, l, visible > k0);
        }
        workgroupBarrier();
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
    let n = params.seq_len;
    let d = params.head_dim;
    let head = group / params.queries;
    let r = group % params.queries;
    var big_m = -3.0e38;
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
