// Texel arrays (src/gpu/texels.rs): a flat array of vec4<f32> in an rgba32float 2D texture,
// row-major with 2^TEXEL_SHIFT texels per row.

// Rewritten per device by gpu::specialize (log2 of gpu::texel_row_width).
const TEXEL_SHIFT: u32 = 13u;

// Where texel `t` of a texel array sits in its texture.
fn texel_at(t: u32) -> vec2<u32> {
    return vec2<u32>(t & ((1u << TEXEL_SHIFT) - 1u), t >> TEXEL_SHIFT);
}
