// Shared by every kernel: prepended to each shader file before compilation.

// Dispatch grids are folded into x·y·z to stay under 65 535 workgroups per dimension
// (src/gpu/grid.rs); this unfolds the linear workgroup id.
fn workgroup_linear_id(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}

// Grouped-query attention: the KV head that query head `head` (b·H + h, an index into
// [B, H]) reads, as an index into [B, HKV]: same batch, head h / (H / HKV).
fn kv_head_of(head: u32, heads: u32, kv_heads: u32) -> u32 {
    return (head / heads) * kv_heads + (head % heads) / (heads / kv_heads);
}

// The first key query i sees under a causal sliding window of `window` keys (0: no
// window): i + 1 − W, or 0.
fn first_visible_key(i: u32, window: u32) -> u32 {
    return select(0u, i + 1u - window, window != 0u && i + 1u > window);
}
