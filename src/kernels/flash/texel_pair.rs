//! A pair of texel arrays ([`crate::gpu::TexelArray`]) that flash's broadcast kernels read
//! the tensors they stream from: K and V in the forward (`shaders/common/kv_quads_texels.wgsl`)
//! and the backward's dQ kernel, Q and dO in its dK/dV kernel. A dispatch of
//! `shaders/flash/texels_pack.wgsl` fills the pair from two buffers before the kernels that read
//! it, inside the run's timed pass (O(n·d) against their O(n²·d)).
//!
//! Why: on lavapipe a texel fetch is vectorized where a storage load is a loop over the SIMD
//! lanes (`examples/load_probe.rs`: 1.8–2.5 against 14.2–14.7 ns per lane and vec4).
//!
//! One pair serves a whole training step: its dispatches run in order, so the forward's
//! K/V, the backward's Q/dO and its K/V take turns in the same two textures, sized for the
//! largest (Q: B·H·n·d floats). That keeps flash's extra memory at two textures.

use super::bounds::BOUNDS;
use crate::error::Result;
use crate::gpu::{
    BufferTracker, Gpu, MemoryPlan, Resource, Slot, TexelArray, TrackedBuffer, bind_resources,
    grid_for, params_buffer, pipeline_layout, shader, shader_params, slots_and_params_layout,
    specialize, texel_array_bytes, texel_row_width,
};
use crate::kernels::Dispatch;
use std::sync::Arc;

/// Invocations per workgroup of `shaders/flash/texels_pack.wgsl` (its `PACK_WG`).
const PACK_WG: u64 = 64;

shader_params! {
    struct PackParams {
        texels: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// Two texel arrays of the same size.
#[derive(Debug)]
pub(crate) struct TexelPair {
    /// Holds K, or Q.
    pub a: TexelArray,
    /// Holds V, or dO.
    pub b: TexelArray,
    texels: u64,
}

impl TexelPair {
    /// Allocates a pair of `texels` texels each, counted in `tracker`.
    pub(crate) fn new(
        gpu: &Gpu,
        tracker: &Arc<BufferTracker>,
        texels: u64,
    ) -> Result<Arc<TexelPair>> {
        Ok(Arc::new(TexelPair {
            a: gpu.texel_array(tracker, "texels a", texels)?,
            b: gpu.texel_array(tracker, "texels b", texels)?,
            texels,
        }))
    }

    /// The dispatch that copies the first `texels` vec4s of buffers `a` and `b` into the
    /// pair, and the parameter buffer it binds.
    pub(crate) fn pack(
        &self,
        gpu: &Gpu,
        tracker: &Arc<BufferTracker>,
        (a, b): (&wgpu::Buffer, &wgpu::Buffer),
        texels: u64,
    ) -> Result<(Dispatch, TrackedBuffer)> {
        debug_assert!(texels <= self.texels);
        let (layout, pipeline) = pack_pipeline(gpu)?;
        let params = params_buffer(
            gpu,
            tracker,
            "texels pack params",
            &PackParams {
                // The pair's texture extent bounds it far below u32::MAX.
                texels: texels.min(self.texels) as u32,
                _pad0: 0,
                _pad1: 0,
                _pad2: 0,
            },
        )?;
        let bind_group = bind_resources(
            gpu,
            "texels pack",
            &layout,
            &[
                Resource::Buffer(a),
                Resource::Buffer(b),
                Resource::View(&self.a.view),
                Resource::View(&self.b.view),
                Resource::Buffer(&params),
            ],
        );
        let grid = grid_for(
            texels.div_ceil(PACK_WG),
            gpu.limits().max_compute_workgroups_per_dimension,
        )?;
        Ok((
            Dispatch {
                pipeline,
                bind_group,
                grid,
            },
            params,
        ))
    }
}

/// Adds a pair of `texels` texels, and the parameters of `packs` pack dispatches, to `plan`.
pub(crate) fn plan_pair(plan: &mut MemoryPlan, texels: u64, packs: u64, limits: &wgpu::Limits) {
    let bytes = texel_array_bytes(texels, limits);
    plan.other("texels a", bytes).other("texels b", bytes);
    for pack in 0..packs {
        plan.other(
            format!("texels pack params[{pack}]"),
            std::mem::size_of::<PackParams>() as u64,
        );
    }
}

/// log2 of the texels per texture row of this device's texel arrays (the shaders'
/// `TEXEL_SHIFT`).
pub(crate) fn texel_shift(gpu: &Gpu) -> u32 {
    texel_row_width(&gpu.limits()).ilog2()
}

/// The `shaders/flash/texels_pack.wgsl` pipeline and its bind group layout.
fn pack_pipeline(gpu: &Gpu) -> Result<(wgpu::BindGroupLayout, wgpu::ComputePipeline)> {
    let shift = texel_shift(gpu);
    // Keyed by the texture row's shift: the pack pipeline is the only (layout, pipeline)
    // pair cached under a plain number.
    gpu.cached(shift, || {
        let layout = slots_and_params_layout(
            gpu,
            "texels pack",
            &[
                Slot::Storage { read_only: true },
                Slot::Storage { read_only: true },
                Slot::TexelsOut,
                Slot::TexelsOut,
            ],
        );
        let source = shader!("flash/texels_pack.wgsl", "common/texels.wgsl");
        let pipeline = gpu.compile_text(
            BOUNDS,
            source.name,
            specialize(source, &[("TEXEL_SHIFT", shift)])?,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &[],
        )?;
        Ok((layout, pipeline))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader() {
        let wgsl = crate::gpu::shader!("flash/texels_pack.wgsl").wgsl;
        assert_eq!(
            crate::gpu::wgsl_mismatch::<PackParams>(wgsl),
            None,
            "flash/texels_pack.wgsl"
        );
    }
}
