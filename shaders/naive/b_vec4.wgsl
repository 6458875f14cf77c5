// B of naive's lane products (K, V, Q or dO) from a storage buffer, when head_dim is a multiple
// of 4: one vec4 load per four floats (shaders/naive/lanes_*.wgsl).

@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;

// Floats base + 4·i4 … base + 4·i4 + 3 of B; zero at or past float `stop`. `base` and `stop`
// are multiples of 4 and 4 ≤ stop lies within B: the load is clamped below it, so every
// index is in bounds (select evaluates both of its operands).
fn b_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {
    let f = base + 4u * i4;
    return select(vec4<f32>(0.0), b[min(f, stop - 4u) / 4u], f < stop);
}
