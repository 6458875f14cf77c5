// Parameters of naive.wgsl and naive_backward.wgsl, one layout for both (the Rust side:
// src/kernels/naive.rs's Params).
struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale: f32,
    // First global query row held by this chunk and how many rows it holds.
    row_start: u32,
    row_count: u32,
    heads: u32,
    kv_heads: u32,
    window: u32,               // 0: no window
    // naive_backward.wgsl's transposed_sum: 0 on the first chunk (write), 1 on later ones
    // (add). The forward ignores it.
    accumulate: u32,
    _pad1: u32,
    _pad2: u32,
}
