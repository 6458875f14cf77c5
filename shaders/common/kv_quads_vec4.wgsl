// K/V access for flash/lanes.wgsl when head_dim is a multiple of 4: one vec4 load per four
// floats (on lavapipe each load is a loop over the SIMD lanes, so fewer loads pay).

@group(0) @binding(1) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v: array<vec4<f32>>;

// Floats base + 4·i4 … base + 4·i4 + 3 of K; zero at or past float `stop`. `base` and
// `stop` are multiples of 4 here, and stop ≥ 4 lies within the tensor: the load is clamped
// below it, so every index is in bounds (select evaluates both of its operands).
fn k_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    return select(vec4<f32>(0.0), k[min(f, stop - 4u) / 4u], f < stop);
}

fn v_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    return select(vec4<f32>(0.0), v[min(f, stop - 4u) / 4u], f < stop);
}
