// B of naive's lane products (K, V, Q or dO) as texels of an rgba32float texture
// (common/texels.wgsl), packed from its buffer by a dispatch before the products that read it:
// lavapipe vectorizes texel fetches where each storage load is a loop over the SIMD lanes.
// Needs head_dim a multiple of 4.

@group(0) @binding(1) var b_texels: texture_2d<f32>;

// Floats base + 4·i4 … base + 4·i4 + 3 of B; zero at or past float `stop`. `base` and `stop`
// are multiples of 4, 4 ≤ stop within the texels packed: the fetch is clamped below it.
fn b_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    return select(vec4<f32>(0.0), textureLoad(b_texels, texel_at(min(f, stop - 4u) / 4u), 0), f < stop);
}
