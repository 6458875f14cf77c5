// K/V access for flash/lanes.wgsl through texel arrays (common/texels.wgsl): K and V copied into
// rgba32float textures by flash/texels_pack.wgsl at the start of each run and read with
// textureLoad. On lavapipe a texel fetch is vectorized where a storage load is a loop over
// the SIMD lanes (examples/load_probe.rs). Needs head_dim a multiple of 4, so that four
// floats of a key are one texel.

@group(0) @binding(1) var k_texels: texture_2d<f32>;
@group(0) @binding(2) var v_texels: texture_2d<f32>;

// Floats base + 4·i4 … base + 4·i4 + 3 of K; zero at or past float `stop`. `base` and
// `stop` are multiples of 4 here, stop ≥ 4 within the texels packed: the fetch is clamped
// below it.
fn k_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    return select(vec4<f32>(0.0), textureLoad(k_texels, texel_at(min(f, stop - 4u) / 4u), 0), f < stop);
}

fn v_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    return select(vec4<f32>(0.0), textureLoad(v_texels, texel_at(min(f, stop - 4u) / 4u), 0), f < stop);
}
