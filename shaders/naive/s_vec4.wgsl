// A chunk of the score matrix (S, P, dP or dS) read and written four floats at a time, when n
// is a multiple of 4 (rows start on whole vec4s).

@group(0) @binding(0) var<storage, read_write> s: array<vec4<f32>>;

// Floats f … f + 3 (f a multiple of 4 within the chunk; `count` ≥ 4 here).
fn s_load(f: u32, count: u32) -> vec4<f32> {
    return s[f / 4u];
}

fn s_store(f: u32, value: vec4<f32>, count: u32) {
    s[f / 4u] = value;
}
