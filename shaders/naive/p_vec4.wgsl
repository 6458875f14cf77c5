// P read four floats at a time beside the matrix `s` (naive/ds.wgsl), when n is a multiple of 4.

@group(0) @binding(1) var<storage, read> p: array<vec4<f32>>;

fn p_load(f: u32, count: u32) -> vec4<f32> {
    return p[f / 4u];
}
