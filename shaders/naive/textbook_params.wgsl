// Parameters and workgroup sizes of naive/textbook.wgsl (the Rust side: src/kernels/naive/textbook.rs's
// Params and THREADS).
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
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Invocations per workgroup of the element-wise entry points, and of the per-row ones.
const THREADS: u32 = 256u;
const ROW_THREADS: u32 = 64u;
const REDUCE_WG: u32 = ROW_THREADS; // shaders/common/workgroup_reduce.wgsl
