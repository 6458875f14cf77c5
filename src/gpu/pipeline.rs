//! Shader and pipeline helpers shared by the kernels and the probes: WGSL files with their
//! shared includes ([`shader!`]), bind group layouts of storage buffers plus a parameter
//! buffer, bind groups, parameter buffers and pipeline layouts.

use super::{BufferTracker, Gpu, ShaderSource, TrackedBuffer};
use crate::error::{Error, Result};
use std::sync::Arc;

/// A shader file with `shaders/common/common.wgsl` and any shared files named after it prepended:
/// `shader!("flash/tiles.wgsl", "common/qkv_rows.wgsl")`.
macro_rules! shader {
    ($file:literal $(, $include:literal)*) => {
        $crate::gpu::ShaderSource {
            name: $file,
            wgsl: concat!(
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/common/common.wgsl")),
                $(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $include)),)*
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file))
            ),
        }
    };
}
pub(crate) use shader;

/// What a shader binds at one slot of a bind group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A storage buffer, read-only where `read_only`.
    Storage {
        /// Bound `read` rather than `read_write`.
        read_only: bool,
    },
    /// A texel array read with `textureLoad` (`texture_2d<f32>`, see [`super::texels`]).
    Texels,
    /// A texel array written with `textureStore` (`texture_storage_2d<rgba32float, write>`).
    TexelsOut,
}

impl Slot {
    fn binding_type(self) -> wgpu::BindingType {
        match self {
            Slot::Storage { read_only } => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            Slot::Texels => wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            Slot::TexelsOut => wgpu::BindingType::StorageTexture {
                access: wgpu::StorageTextureAccess::WriteOnly,
                format: super::facts::TEXEL_FORMAT,
                view_dimension: wgpu::TextureViewDimension::D2,
            },
        }
    }
}

/// A bind group layout of `storage.len()` storage buffers (read-only where `true`) at
/// bindings 0.., followed by the read-only storage buffer of the parameters, visible to
/// compute.
pub(crate) fn storage_and_params_layout(
    gpu: &Gpu,
    label: &str,
    storage_read_only: &[bool],
) -> wgpu::BindGroupLayout {
    let slots: Vec<Slot> = storage_read_only
        .iter()
        .map(|&read_only| Slot::Storage { read_only })
        .collect();
    slots_and_params_layout(gpu, label, &slots)
}

/// A bind group layout of `slots` at bindings 0.., followed by the read-only storage
/// buffer of the parameters, visible to compute.
pub(crate) fn slots_and_params_layout(
    gpu: &Gpu,
    label: &str,
    slots: &[Slot],
) -> wgpu::BindGroupLayout {
    let entry = |binding: usize, slot: Slot| wgpu::BindGroupLayoutEntry {
        binding: binding as u32,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: slot.binding_type(),
        count: None,
    };
    // The parameters are a read-only storage buffer, not a uniform buffer: lavapipe
    // (Mesa 22.3) inlines uniform values that bound loops and recompiles the shader's NIR
    // on its queue thread at every dispatch while inlining looks worthwhile, which took
    // one of two cores away from the workers (flash at n = 1024: 18 ms instead of 6).
    let entries: Vec<wgpu::BindGroupLayoutEntry> = slots
        .iter()
        .copied()
        .chain([Slot::Storage { read_only: true }])
        .enumerate()
        .map(|(i, slot)| entry(i, slot))
        .collect();
    gpu.device
        .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &entries,
        })
}

/// One resource of a bind group: a whole buffer or a texel array's view.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Resource<'a> {
    /// A buffer, bound whole.
    Buffer(&'a wgpu::Buffer),
    /// A texture view (a texel array).
    View(&'a wgpu::TextureView),
}

/// A bind group binding `resources` at bindings 0.. in order.
pub(crate) fn bind_resources(
    gpu: &Gpu,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    resources: &[Resource<'_>],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: match r {
                Resource::Buffer(b) => b.as_entire_binding(),
                Resource::View(v) => wgpu::BindingResource::TextureView(v),
            },
        })
        .collect();
    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// A bind group binding `buffers` whole, at bindings 0.. in order.
pub(crate) fn bind_buffers(
    gpu: &Gpu,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let resources: Vec<Resource<'_>> = buffers.iter().map(|b| Resource::Buffer(b)).collect();
    bind_resources(gpu, label, layout, &resources)
}

/// A tracked buffer holding the parameters `value` (bound read-only storage, see
/// [`storage_and_params_layout`]).
pub(crate) fn params_buffer<T: bytemuck::Pod>(
    gpu: &Gpu,
    tracker: &Arc<BufferTracker>,
    label: &str,
    value: &T,
) -> Result<TrackedBuffer> {
    let bytes = bytemuck::bytes_of(value);
    let buffer = gpu.buffer(
        tracker,
        label,
        bytes.len() as u64,
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    )?;
    gpu.queue.write_buffer(&buffer, 0, bytes);
    Ok(buffer)
}

/// A pipeline layout with one bind group layout.
pub(crate) fn pipeline_layout(
    gpu: &Gpu,
    bind_group_layout: &wgpu::BindGroupLayout,
) -> wgpu::PipelineLayout {
    gpu.device
        .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[Some(bind_group_layout)],
            immediate_size: 0,
        })
}

/// Rewrites each `const NAME: u32 = …;` line of `source` to the given value. Every name
/// must occur exactly once, so a renamed constant is an error rather than silently ignored.
pub fn specialize(source: ShaderSource, consts: &[(&str, u32)]) -> Result<String> {
    let mut lines: Vec<String> = source.wgsl.lines().map(str::to_string).collect();
    for (name, value) in consts {
        let prefix = format!("const {name}: u32 = ");
        let mut hits = lines
            .iter_mut()
            .filter(|l| l.trim_start().starts_with(&prefix));
        match (hits.next(), hits.next()) {
            (Some(line), None) => *line = format!("{prefix}{value}u;"),
            _ => {
                return Err(Error::Gpu {
                    during: format!("specializing {}", source.name),
                    message: format!("expected exactly one `{prefix}…` line"),
                });
            }
        }
    }
    Ok(lines.join("\n"))
}
