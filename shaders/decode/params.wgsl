// What both passes of decode share (shaders/decode/partial.wgsl, combine.wgsl): the
// parameters, q, o and the partials, whose layout is one D4 + 1 vec4 record per
// (batch·head, chunk, query row): the chunk's unnormalized weighted sum of V (D4 vec4s,
// scaled to the chunk's max), then (m, l, 0, 0) — the chunk's max score (log2 units) and
// its softmax denominator at that max.

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale_log2: f32,            // scale · log2(e)
    queries: u32,               // query rows per (batch, head), at the end of the sequence
    chunks: u32,                // partials per (batch, head, query row): one per chunk
    total_groups: u32,          // workgroups that do work in this pass
    heads: u32,                 // H
    kv_heads: u32,              // HKV
    window: u32,                // causal sliding window (0: none)
    keys: u32,                  // keys per chunk (a multiple of KG)
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
// k and v (bindings 1 and 2) and k_quad / v_quad come from common/kv_quads_vec4.wgsl or
// common/kv_quads_scalar.wgsl (the partial pass alone reads them).
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> params: Params;

const NEG_BIG: f32 = -3.0e38;

fn partial_base(head: u32, chunk: u32, r: u32) -> u32 {
    return ((head * params.chunks + chunk) * params.queries + r) * (D4 + 1u);
}
