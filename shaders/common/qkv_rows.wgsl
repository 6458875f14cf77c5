// Row access shared by the flash kernels: needs bindings q, k, v (array<f32>) and
// params.head_dim. Prepended by src/kernels (shader! macro).

// Columns 4·c4 .. 4·c4+3 of global row `row` of `which` (0 = q, 1 = k, 2 = v), zero past head_dim.
fn load4(which: u32, row: u32, c4: u32) -> vec4<f32> {
    let d = params.head_dim;
    let base = row * d + c4 * 4u;
    var r = vec4<f32>(0.0);
    for (var t = 0u; t < 4u; t++) {
        if (c4 * 4u + t < d) {
            switch which {
                case 0u: { r[t] = q[base + t]; }
                case 1u: { r[t] = k[base + t]; }
                default: { r[t] = v[base + t]; }
            }
        }
    }
    return r;
}
