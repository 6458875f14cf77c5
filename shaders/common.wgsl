// Shared by every kernel: prepended to each shader file before compilation.

// Dispatch grids are folded into x·y·z to stay under 65 535 workgroups per dimension
// (src/gpu/grid.rs); this unfolds the linear workgroup id.
fn workgroup_linear_id(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}
