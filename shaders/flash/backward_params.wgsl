// Parameters and work split shared by flash's backward shaders (flash/backward_stats.wgsl,
// flash/backward_dq.wgsl, flash/backward_dkdv.wgsl; the same Params as
// src/kernels/flash/backward_pipelines.rs). Each shader declares its own bindings.

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    // scale · log2(e): scores and the forward's logsumexp are in the log2 domain
    scale_log2: f32,
    // 1/√d, applied once to dQ and dK at the end
    scale: f32,
    // blocks per head (query blocks for dQ, key blocks for dK/dV) and the workgroups that
    // do work
    blocks: u32,
    total_groups: u32,
    // This pass covers keys (dQ) or query rows (dK/dV) [begin, stop), multiples of 4;
    // accumulate: 0 on the first pass (write), 1 on later ones (add).
    begin: u32,
    stop: u32,
    accumulate: u32,
    // grouped-query attention: query head h reads KV head h / (heads / kv_heads)
    heads: u32,
    kv_heads: u32,
    // causal sliding window W (0: none): query i sees keys i − W < j ≤ i
    window: u32,
    // floats per row of the forward's state buffer (its logsumexp at stride − 2)
    state_stride: u32,
    // seq_len rounded up to a multiple of 4: rows per head of the stats buffer
    padded_rows: u32,
    _pad: u32,
}

// Block `block` of a head's `blocks`, in the order workgroup `index` takes it: causal
// blocks are handed out short with long (0, last, 1, last − 1, …) as the forward's are, so
// that drivers splitting the grid into contiguous ranges per thread get equal work.
fn balanced_block(index: u32) -> u32 {
    let zigzag = select(index / 2u, params.blocks - 1u - index / 2u, (index & 1u) == 1u);
    return select(index, zigzag, params.causal != 0u);
}

// Index of the vec4 of `stats` holding the logsumexps of rows 4·(i / 4) … of head `head`
// (the next vec4 holds their D = rowsum(dO ∘ O)).
fn stats_index(head: u32, i: u32) -> u32 {
    return head * (params.padded_rows / 2u) + (i / 4u) * 2u;
}
