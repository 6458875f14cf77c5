//! Texel arrays: a flat array of `vec4<f32>` held in an `rgba32float` 2D texture, row-major
//! with rows of [`texel_row_width`] texels, so that a kernel can read it with `textureLoad`
//! instead of storage loads. Why: on CPU drivers (lavapipe) a storage load inside a loop is
//! a loop over the SIMD lanes while a texel fetch is vectorized; one vec4 load cost
//! 14.2–14.7 ns per lane from a storage buffer against 1.8–2.5 ns from a texture
//! (`cargo run --release --example load_probe`). Texel `t` is at
//! `(t & (width − 1), t >> log2(width))`. Its bytes count in a [`BufferTracker`] like a
//! buffer's, so peak bytes include it.

use super::context::Gpu;
use super::facts::TEXEL_FORMAT;
use super::memory::BufferTracker;
use crate::error::{Error, Result};
use std::sync::Arc;

/// Bytes of one texel.
pub const TEXEL_BYTES: u64 = 16;

/// Texels per texture row on a device with `limits`: the largest power of two up to 8192
/// that the device's 2D textures allow (a power of two, so that shaders split a texel index
/// with a mask and a shift).
pub fn texel_row_width(limits: &wgpu::Limits) -> u32 {
    let most = limits.max_texture_dimension_2d.clamp(1, 8192);
    1 << most.ilog2()
}

/// Rows of a texel array of `texels` texels: a power of two. lavapipe (llvmpipe) compiles a
/// shader variant per texture state, whether each dimension is a power of two included, and
/// recompiles a whole kernel (over a minute for flash's unrolled ones) the first time a
/// texture of the other kind reaches it; with power-of-two rows every texel array has the
/// same state.
fn texel_rows(texels: u64, width: u32) -> u64 {
    texels.max(1).div_ceil(u64::from(width)).next_power_of_two()
}

/// The texture extent of a texel array of `texels` texels, or why the device cannot hold
/// it (more rows than `max_texture_dimension_2d`).
pub fn texel_extent(what: &str, texels: u64, limits: &wgpu::Limits) -> Result<wgpu::Extent3d> {
    let width = texel_row_width(limits);
    let rows = texel_rows(texels, width);
    let most_rows = u64::from(limits.max_texture_dimension_2d);
    if rows > most_rows {
        return Err(Error::TooLarge {
            what: format!("{what}: texel array"),
            needed: texels * TEXEL_BYTES,
            allowed: most_rows * u64::from(width) * TEXEL_BYTES,
            limit: crate::error::Limit::MaxTextureDimension2d {
                texels_per_row: width,
                rows: most_rows,
            },
        });
    }
    Ok(wgpu::Extent3d {
        width,
        height: rows as u32,
        depth_or_array_layers: 1,
    })
}

/// Bytes a texel array of `texels` texels takes on a device with `limits` (whole rows, a
/// power of two of them).
pub fn texel_array_bytes(texels: u64, limits: &wgpu::Limits) -> u64 {
    let width = texel_row_width(limits);
    texel_rows(texels, width) * u64::from(width) * TEXEL_BYTES
}

/// Whether `gpu` can write texel arrays from a shader (storage binding) and read them with
/// `textureLoad` (texture binding).
pub fn texel_arrays_supported(gpu: &Gpu) -> bool {
    gpu.facts().texel_arrays
}

/// A texel array on the device whose bytes count in a [`BufferTracker`] while it lives.
#[derive(Debug)]
pub struct TexelArray {
    texture: wgpu::Texture,
    /// The view shaders bind (as a sampled texture or a write-only storage texture).
    pub view: wgpu::TextureView,
    bytes: u64,
    tracker: Arc<BufferTracker>,
}

impl TexelArray {
    /// Bytes the texture takes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for TexelArray {
    fn drop(&mut self) {
        self.texture.destroy();
        self.tracker.remove(self.bytes);
    }
}

impl Gpu {
    /// Creates a texel array of `texels` texels, written by shaders (storage binding) and
    /// read with `textureLoad`, counted in `tracker`.
    pub fn texel_array(
        &self,
        tracker: &Arc<BufferTracker>,
        label: &str,
        texels: u64,
    ) -> Result<TexelArray> {
        let limits = self.limits();
        let size = texel_extent(label, texels, &limits)?;
        let bytes = texel_array_bytes(texels, &limits);
        let texture = self.scoped(&format!("allocating {label} ({bytes} bytes)"), || {
            self.device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size,
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: TEXEL_FORMAT,
                // COPY_DST lets wgpu zero-initialize the texture with a buffer copy. Without
                // it wgpu clears it with a render pass, and on lavapipe (Mesa 22.3) a render
                // pass leaves a framebuffer bound after which its timestamps are deferred
                // to the next flush: later passes in the process then read ~0.1 ms for
                // 50 ms of work (see gpu::batching::per_run_times).
                usage: wgpu::TextureUsages::TEXTURE_BINDING
                    | wgpu::TextureUsages::STORAGE_BINDING
                    | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        })?;
        let view = texture.create_view(&Default::default());
        tracker.add(bytes);
        Ok(TexelArray {
            texture,
            view,
            bytes,
            tracker: tracker.clone(),
        })
    }
}

/// Whether a pair of texel arrays of `texels` texels each fits the memory budget of a
/// device with `facts` beside `others` bytes of buffers; the reason when it does not.
pub fn texel_pair_within_budget(
    facts: &super::DeviceFacts,
    others: u64,
    texels: u64,
) -> std::result::Result<(), String> {
    let needed = others + 2 * texel_array_bytes(texels, &facts.limits);
    match facts.memory_budget {
        Some(budget) if needed > budget => Err(format!(
            "a texel pair needs {needed} bytes with the run's buffers, over the memory budget of {budget}"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_a_power_of_two_and_arrays_past_the_texture_limit_are_refused() {
        let limits = wgpu::Limits {
            max_texture_dimension_2d: 16384,
            ..wgpu::Limits::default()
        };
        assert_eq!(texel_row_width(&limits), 8192);
        let small = wgpu::Limits {
            max_texture_dimension_2d: 3000,
            ..wgpu::Limits::default()
        };
        assert_eq!(texel_row_width(&small), 2048);
        let extent = texel_extent("k", 8193, &limits).unwrap();
        assert_eq!((extent.width, extent.height), (8192, 2));
        assert_eq!(texel_array_bytes(8193, &limits), 2 * 8192 * 16);
        assert_eq!(texel_array_bytes(0, &limits), 8192 * 16);
        assert!(texel_extent("k", 8192 * 16384, &limits).is_ok());
        match texel_extent("k", 8192 * 16384 + 1, &limits) {
            Err(Error::TooLarge { needed, .. }) => assert_eq!(needed, (8192 * 16384 + 1) * 16),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
}
