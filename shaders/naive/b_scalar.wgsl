// B of naive's lane products (K, V, Q or dO) from a storage buffer, for any head_dim: four
// scalar loads per four floats (shaders/naive/lanes_*.wgsl).

@group(0) @binding(1) var<storage, read> b: array<f32>;

// Floats base + 4·i4 … base + 4·i4 + 3 of B; zero at or past float `stop` (1 ≤ stop within
// B): loads are clamped below it, so every index is in bounds.
fn b_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    let inside = vec4<u32>(f, f + 1u, f + 2u, f + 3u) < vec4<u32>(stop);
    let last = stop - 1u;
    return select(vec4<f32>(0.0), vec4<f32>(b[min(f, last)], b[min(f + 1u, last)], b[min(f + 2u, last)], b[min(f + 3u, last)]), inside);
}
