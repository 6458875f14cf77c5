// Textbook naive attention, the first rung of `attnbench ladder` (src/kernels/naive/textbook.rs):
// one invocation per score and per output element, a storage load per multiply-add. Three
// dispatches per chunk of query rows:
//   scores:        S[r, j] = scale · q_r · k_j      (0 where causal masks j > i)
//   softmax_rows:  P[r, :] = softmax(S[r, :])       (max-subtracted, in place)
//   weighted_sum:  O[r, :] = P[r, :] · V
// S is the full n×n matrix per (batch, head), materialized in global memory. It may be split
// across several buffers ("chunks" of whole rows) so that the binding-size limit does not
// stop it before device memory does; each chunk is one bind group and one set of dispatches.
// Rows r are global query rows in [0, B·H·n): r = (b·H + h)·n + i. K and V have HKV heads
// (grouped-query attention): row r reads KV head kv_head_of(b·H + h). A sliding window
// masks keys before i + 1 − W as causal masks keys after i (the matrix stays n×n).

// Params and the workgroup sizes: shaders/naive/textbook_params.wgsl.

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read_write> s: array<f32>;
@group(0) @binding(5) var<storage, read> params: Params;

// Keys query i may see: [first_visible_key(i, window), visible_keys(i)).
fn visible_keys(i: u32) -> u32 {
    return select(params.seq_len, i + 1u, params.causal != 0u);
}

// First row of the K/V head that global query row `row` reads.
fn kv_head_row(row: u32) -> u32 {
    let n = params.seq_len;
    return kv_head_of(row / n, params.heads, params.kv_heads) * n;
}

// One invocation per score of the chunk: row_count · n of them.
@compute @workgroup_size(THREADS)
fn scores(@builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let n = params.seq_len;
    let t = workgroup_linear_id(wid, nwg) * THREADS + lid;
    if (t >= params.row_count * n) {
        return;
    }
    let local_row = t / n;
    let j = t % n;
    let row = params.row_start + local_row;
    let i = row % n;
    var value = 0.0;
    if (j < visible_keys(i) && j >= first_visible_key(i, params.window)) {
        let d = params.head_dim;
        let q_base = row * d;
        let k_base = (kv_head_row(row) + j) * d;
        var dot = 0.0;
        for (var c = 0u; c < d; c++) {
            dot = fma(q[q_base + c], k[k_base + c], dot);
        }
        value = dot * params.scale;
    }
    s[t] = value;
}

// One workgroup per row of the chunk; masked entries become exact zeros.
@compute @workgroup_size(ROW_THREADS)
fn softmax_rows(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let local_row = workgroup_linear_id(wid, nwg);
    if (local_row >= params.row_count) {
        return;
    }
    let n = params.seq_len;
    let i = (params.row_start + local_row) % n;
    let keys = visible_keys(i);
    let first = first_visible_key(i, params.window);
    let base = local_row * n;
    var m = -3.0e38;
    for (var j = first + lid; j < keys; j += ROW_THREADS) {
        m = max(m, s[base + j]);
    }
    m = reduce_max(lid, m);
    var sum = 0.0;
    for (var j = first + lid; j < keys; j += ROW_THREADS) {
        let p = exp(s[base + j] - m);
        s[base + j] = p;
        sum += p;
    }
    sum = reduce_sum(lid, sum);
    let inv = 1.0 / sum;
    for (var j = lid; j < n; j += ROW_THREADS) {
        s[base + j] = select(0.0, s[base + j] * inv, j < keys && j >= first);
    }
}

// One invocation per output element of the chunk: row_count · d of them.
@compute @workgroup_size(THREADS)
fn weighted_sum(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let d = params.head_dim;
    let t = workgroup_linear_id(wid, nwg) * THREADS + lid;
    if (t >= params.row_count * d) {
        return;
    }
    let local_row = t / d;
    let c = t % d;
    let n = params.seq_len;
    let row = params.row_start + local_row;
    let i = row % n;
    let kv_base = kv_head_row(row);
    let keys = visible_keys(i);
    let p_base = local_row * n;
    var acc = 0.0;
    for (var j = first_visible_key(i, params.window); j < keys; j++) {
        acc = fma(s[p_base + j], v[(kv_base + j) * d + c], acc);
    }
    o[row * d + c] = acc;
}
