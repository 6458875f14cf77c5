// K/V access for flash/lanes.wgsl for any head_dim: four scalar loads per four floats.

@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;

// Floats base + 4·i4 … base + 4·i4 + 3 of K; zero at or past float `stop` (≥ 1, within
// the tensor): loads are clamped below it, so every index is in bounds.
fn k_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    let inside = vec4<u32>(f, f + 1u, f + 2u, f + 3u) < vec4<u32>(stop);
    return select(vec4<f32>(0.0), vec4<f32>(k[min(f, stop - 1u)], k[min(f + 1u, stop - 1u)], k[min(f + 2u, stop - 1u)], k[min(f + 3u, stop - 1u)]), inside);
}

fn v_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    let inside = vec4<u32>(f, f + 1u, f + 2u, f + 3u) < vec4<u32>(stop);
    return select(vec4<f32>(0.0), vec4<f32>(v[min(f, stop - 1u)], v[min(f + 1u, stop - 1u)], v[min(f + 2u, stop - 1u)], v[min(f + 3u, stop - 1u)]), inside);
}
