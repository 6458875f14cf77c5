// Copies two tensors of vec4s (K and V, or Q and dO; head_dim a multiple of 4) into a pair
// of texel arrays (common/texels.wgsl), one texel per invocation: the dispatch before the kernels
// that read them with textureLoad (src/kernels/flash/texel_pair.rs). A dispatch rather than a
// copy command, so that it lies inside the run's timed pass.

struct PackParams {
    // Texels to copy from each of a and b.
    texels: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var a_texels: texture_storage_2d<rgba32float, write>;
@group(0) @binding(3) var b_texels: texture_storage_2d<rgba32float, write>;
@group(0) @binding(4) var<storage, read> params: PackParams;

const PACK_WG: u32 = 64u;

@compute @workgroup_size(PACK_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = workgroup_linear_id(wid, nwg) * PACK_WG + lid;
    if (t < params.texels) {
        let at = texel_at(t);
        textureStore(a_texels, at, a[t]);
        textureStore(b_texels, at, b[t]);
    }
}
