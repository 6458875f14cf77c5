// f16 FMA peak probe (src/probe/measure.rs): compiled only where the device has SHADER_F16.
// Self-contained (no shared prelude) because `enable` must come first. At most 65 535
// workgroups, so no folded grid is needed.
enable f16;

struct Params {
    iterations: u32,
    count: u32,
    x: f32,
    y: f32,
}

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> params: Params;

override WG: u32 = 256u;
// Iterations of the FMA loop: a pipeline constant, so that the driver knows the trip
// count (as it would for a kernel's unrolled inner loops); x and y stay runtime values.
override ITERATIONS: u32 = 512u;

// As fma_f32 with vec4<f16> chains: 8·4·2 FLOPs per iteration.
@compute @workgroup_size(WG)
fn fma_f16(@builtin(global_invocation_id) gid: vec3<u32>) {
    let id = gid.x;
    if (id >= params.count) {
        return;
    }
    let x = vec4<f16>(f16(params.x));
    let y = vec4<f16>(f16(params.y));
    let seed = f16(id % 8u);
    var a0 = vec4<f16>(seed);
    var a1 = a0 + 1.0h;
    var a2 = a0 + 2.0h;
    var a3 = a0 + 3.0h;
    var a4 = a0 + 4.0h;
    var a5 = a0 + 5.0h;
    var a6 = a0 + 6.0h;
    var a7 = a0 + 7.0h;
    for (var i = 0u; i < ITERATIONS; i++) {
        a0 = fma(a0, x, y);
        a1 = fma(a1, x, y);
        a2 = fma(a2, x, y);
        a3 = fma(a3, x, y);
        a4 = fma(a4, x, y);
        a5 = fma(a5, x, y);
        a6 = fma(a6, x, y);
        a7 = fma(a7, x, y);
    }
    dst[id] = vec4<f32>(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
}
