// P read as scalars beside the matrix `s` (naive/ds.wgsl), for any n.

@group(0) @binding(1) var<storage, read> p: array<f32>;

// As s_load (naive/s_scalar.wgsl).
fn p_load(f: u32, count: u32) -> vec4<f32> {
    let last = f + count - 1u;
    let inside = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(count);
    return select(vec4<f32>(0.0), vec4<f32>(p[f], p[min(f + 1u, last)], p[min(f + 2u, last)], p[min(f + 3u, last)]), inside);
}
