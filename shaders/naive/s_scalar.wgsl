// A chunk of the score matrix (S, P, dP or dS) read and written as scalars, for any n (rows
// start anywhere in a vec4).

@group(0) @binding(0) var<storage, read_write> s: array<f32>;

// The first min(count, 4) of floats f … f + 3, the rest zero; 1 ≤ count and f + count − 1
// within the chunk: loads are clamped below it.
fn s_load(f: u32, count: u32) -> vec4<f32> {
    let last = f + count - 1u;
    let inside = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(count);
    return select(vec4<f32>(0.0), vec4<f32>(s[f], s[min(f + 1u, last)], s[min(f + 2u, last)], s[min(f + 3u, last)]), inside);
}

// Writes the first min(count, 4) floats of `value` at f ….
fn s_store(f: u32, value: vec4<f32>, count: u32) {
    s[f] = value.x;
    if (count > 1u) {
        s[f + 1u] = value.y;
    }
    if (count > 2u) {
        s[f + 2u] = value.z;
    }
    if (count > 3u) {
        s[f + 3u] = value.w;
    }
}
