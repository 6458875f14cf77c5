// K/V access for flash_lanes.wgsl for any head_dim: four scalar loads per four floats.

@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;

// Floats base + 4·i4 … base + 4·i4 + 3 of K; zero at or past float `stop`.
fn k_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    let inside = vec4<u32>(f, f + 1u, f + 2u, f + 3u) < vec4<u32>(stop);
    return select(vec4<f32>(0.0), vec4<f32>(k[f], k[f + 1u], k[f + 2u], k[f + 3u]), inside);
}

fn v_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    let inside = vec4<u32>(f, f + 1u, f + 2u, f + 3u) < vec4<u32>(stop);
    return select(vec4<f32>(0.0), vec4<f32>(v[f], v[f + 1u], v[f + 2u], v[f + 3u]), inside);
}
