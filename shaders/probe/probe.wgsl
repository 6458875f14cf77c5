// Device ceiling probes (src/probe/measure.rs). Each result is written out and checked on
// the host, so a probe the compiler optimized away fails instead of reporting an impossible
// peak.

struct Params {
    iterations: u32,
    count: u32,      // vec4 elements (copy) or invocations (fma) that do work
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

// Peak FMA: independent chains a ← a·x + y per invocation (x, y from the parameter buffer
// so nothing folds). Several chain shapes are measured and the best counts, because the
// shape that saturates one device spills registers or starves another (e.g. lavapipe with
// 16-wide vectors on an 8-wide CPU spills eight vec4 chains). Every entry leaves the sum of
// its chains, chain c starting at (id mod 8) + c, in all four lanes of dst[id].

// 8 vec4 chains: 8·4·2 FLOPs per iteration.
@compute @workgroup_size(WG)
fn fma_f32(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let id = workgroup_linear_id(wid, nwg) * WG + lid;
    if (id >= params.count) {
        return;
    }
    let x = vec4<f32>(params.x);
    let y = vec4<f32>(params.y);
    let seed = f32(id % 8u);
    var a0 = vec4<f32>(seed);
    var a1 = a0 + 1.0;
    var a2 = a0 + 2.0;
    var a3 = a0 + 3.0;
    var a4 = a0 + 4.0;
    var a5 = a0 + 5.0;
    var a6 = a0 + 6.0;
    var a7 = a0 + 7.0;
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
    dst[id] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

// 4 vec4 chains: 4·4·2 FLOPs per iteration, half the live registers.
@compute @workgroup_size(WG)
fn fma_f32_vec4x4(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let id = workgroup_linear_id(wid, nwg) * WG + lid;
    if (id >= params.count) {
        return;
    }
    let x = vec4<f32>(params.x);
    let y = vec4<f32>(params.y);
    let seed = f32(id % 8u);
    var a0 = vec4<f32>(seed);
    var a1 = a0 + 1.0;
    var a2 = a0 + 2.0;
    var a3 = a0 + 3.0;
    for (var i = 0u; i < ITERATIONS; i++) {
        a0 = fma(a0, x, y);
        a1 = fma(a1, x, y);
        a2 = fma(a2, x, y);
        a3 = fma(a3, x, y);
    }
    dst[id] = a0 + a1 + a2 + a3;
}

// 8 scalar chains: 8·2 FLOPs per iteration, for devices that vectorize across invocations
// and gain nothing from vec4 inside one.
@compute @workgroup_size(WG)
fn fma_f32_scalar8(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let id = workgroup_linear_id(wid, nwg) * WG + lid;
    if (id >= params.count) {
        return;
    }
    let x = params.x;
    let y = params.y;
    let seed = f32(id % 8u);
    var a0 = seed;
    var a1 = a0 + 1.0;
    var a2 = a0 + 2.0;
    var a3 = a0 + 3.0;
    var a4 = a0 + 4.0;
    var a5 = a0 + 5.0;
    var a6 = a0 + 6.0;
    var a7 = a0 + 7.0;
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

// Bandwidth: dst[i] = src[i]·x over `count` vec4s, grid-stride; 32 bytes moved per element.
@compute @workgroup_size(WG)
fn scale_copy(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let threads = nwg.x * nwg.y * nwg.z * WG;
    let x = params.x;
    for (var i = workgroup_linear_id(wid, nwg) * WG + lid; i < params.count; i += threads) {
        dst[i] = src[i] * x;
    }
}

// 4 scalar chains: 4·2 FLOPs per iteration, the fewest live registers (wide lavapipe vectors
// on a narrower CPU hold each chain in several machine registers).
@compute @workgroup_size(WG)
fn fma_f32_scalar4(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let id = workgroup_linear_id(wid, nwg) * WG + lid;
    if (id >= params.count) {
        return;
    }
    let x = params.x;
    let y = params.y;
    let seed = f32(id % 8u);
    var a0 = seed;
    var a1 = a0 + 1.0;
    var a2 = a0 + 2.0;
    var a3 = a0 + 3.0;
    for (var i = 0u; i < ITERATIONS; i++) {
        a0 = fma(a0, x, y);
        a1 = fma(a1, x, y);
        a2 = fma(a2, x, y);
        a3 = fma(a3, x, y);
    }
    dst[id] = vec4<f32>(a0 + a1 + a2 + a3);
}
