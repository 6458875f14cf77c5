// Naive attention's backward pass: the two n×n matrices P and dP in global memory. Per chunk
// of query rows src/kernels/naive/backward.rs dispatches naive/forward.wgsl's entry points for
//   P = softmax(scale · Q·Kᵀ)        (scores, softmax_rows)
//   dP = dO·Vᵀ                      (scores with Q := dO, K := V, scale 1)
// then this file's
//   ds_rows:          dS = scale · P ∘ (dP − rowsum(P ∘ dP)), in place of dP
// and naive/forward.wgsl's weighted_sum for dQ = dS·K, and this file's
//   transposed_sum:   dK = dSᵀ·Q and dV = Pᵀ·dO, summed over the chunks (and over the query
//                     heads of each KV head under grouped-query attention).
// rowsum(P ∘ dP) is FlashAttention's D = rowsum(dO ∘ O): the same number, computed here from
// the matrices naive has anyway. Masked entries of P and dP are exact zeros (naive/forward.wgsl).

// Params and the workgroup sizes: shaders/naive/params.wgsl.

// ds_rows: a = P, b = dP (becomes dS). transposed_sum: a = the matrix (dS or P), x = the
// rows it weighs (Q or dO), out = dK or dV; b is bound but unused.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> params: Params;

// One workgroup per row of the chunk: D = Σ_j P·dP, then dS = scale · P ∘ (dP − D).
@compute @workgroup_size(ROW_THREADS)
fn ds_rows(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let local_row = workgroup_linear_id(wid, nwg);
    if (local_row >= params.row_count) {
        return;
    }
    let n = params.seq_len;
    let base = local_row * n;
    var partial = 0.0;
    for (var j = lid; j < n; j += ROW_THREADS) {
        partial = fma(a[base + j], b[base + j], partial);
    }
    let big_d = reduce_sum(lid, partial);
    for (var j = lid; j < n; j += ROW_THREADS) {
        b[base + j] = params.scale * a[base + j] * (b[base + j] - big_d);
    }
}

// One invocation per element (KV head g, key j, column c) of dK or dV:
// out[g, j, c] (+)= Σ over the chunk's rows r of the query heads reading KV head g that see
// key j, of a[r, j] · x[r, c].
@compute @workgroup_size(THREADS)
fn transposed_sum(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let n = params.seq_len;
    let d = params.head_dim;
    let kv_heads = params.kv_heads;
    let batch_kv_rows = (arrayLength(&out) / d);
    let t = workgroup_linear_id(wid, nwg) * THREADS + lid;
    if (t >= batch_kv_rows * d) {
        return;
    }
    let c = t % d;
    let kv_row = t / d;
    let g = kv_row / n;
    let j = kv_row % n;
    let group = params.heads / kv_heads;
    let batch = g / kv_heads;
    // Queries that see key j: i ≥ j when causal, and i < j + W under a window.
    let i_first = select(0u, j, params.causal != 0u);
    let i_end = select(n, min(n, j + params.window), params.window != 0u);
    let chunk_end = params.row_start + params.row_count;
    var acc = 0.0;
    for (var member = 0u; member < group; member++) {
        let head = batch * params.heads + (g % kv_heads) * group + member;
        let row_lo = max(head * n + i_first, params.row_start);
        let row_hi = min(head * n + i_end, chunk_end);
        for (var row = row_lo; row < row_hi; row++) {
            acc = fma(a[(row - params.row_start) * n + j], x[row * d + c], acc);
        }
    }
    let previous = select(0.0, out[t], params.accumulate != 0u);
    out[t] = previous + acc;
}
