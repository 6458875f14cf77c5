// Parameters of naive's matrix products and row passes (the Rust side: src/kernels/naive/plan.rs's
// Params), and the index helpers they share; each shader binds `params` itself, last.
//
// A dispatch works on one chunk of the score matrix: global query rows
// [row_start, row_start + row_count) of the B·H·n rows (r = (b·H + h)·n + i), row r held at
// float (r − row_start)·n of the chunk's buffer. K and V (and dK, dV) have HKV heads: query
// head b·H + h reads KV head kv_head_of(b·H + h).
struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    // scores: the softmax scale; dS: scale of dS; products: factor on what they write.
    scale: f32,
    row_start: u32,
    row_count: u32,
    heads: u32,
    kv_heads: u32,
    // causal sliding window W (0: none): query i sees keys i − W < j ≤ i
    window: u32,
    // The first head the dispatch covers: (batch·H + h) for scores and rows, the KV head
    // (batch·HKV + g) for columns.
    first_head: u32,
    // Output blocks per head: blocks of query rows (scores, rows), of keys (columns).
    blocks: u32,
    // scores: blocks of keys per block of rows, and keys per block (a multiple of 4).
    key_blocks: u32,
    key_block: u32,
    // Workgroups that do work (the grid may hold a few more).
    total_groups: u32,
    _pad0: u32,
    _pad1: u32,
}

// One past the last key query i sees.
fn visible_end(i: u32) -> u32 {
    return select(params.seq_len, i + 1u, params.causal != 0u);
}

// Block `index` of `count` blocks of one head in the order workgroups take them: causal
// blocks get dearer with their index, so they are handed out short with long
// (0, last, 1, last − 1, …), as flash does: lavapipe splits a grid into contiguous ranges
// per thread.
fn block_order(index: u32, count: u32, dearer_first: bool) -> u32 {
    let zigzag = select(index / 2u, count - 1u - index / 2u, (index & 1u) == 1u);
    return select(index, zigzag, params.causal != 0u && dearer_first);
}
