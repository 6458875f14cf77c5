// Parameters and the Q, O bindings shared by flash.wgsl and flash_lanes.wgsl (the same
// Params as src/kernels/flash.rs); each shader declares its own K, V and state bindings.

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    // scale · log2(e)
    scale_log2: f32,
    // query blocks per (batch, head) and the number of workgroups that do work
    q_blocks: u32,
    total_groups: u32,
    // keys of this pass, and bit 0: first pass (start fresh), bit 1: last pass (write O)
    kv_begin: u32,
    kv_stop: u32,
    pass_flags: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read> params: Params;
