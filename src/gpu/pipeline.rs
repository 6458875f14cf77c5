//! Shader and pipeline helpers shared by the kernels and the probes: WGSL files with their
//! shared includes ([`shader!`]), bind group layouts of storage buffers plus a parameter
//! buffer, bind groups, parameter buffers and pipeline layouts.

use super::{BufferTracker, Gpu, TrackedBuffer};
use crate::error::Result;
use std::sync::Arc;

/// A shader file with `shaders/common.wgsl` and any shared files named after it prepended:
/// `shader!("flash.wgsl", "qkv_rows.wgsl")`.
macro_rules! shader {
    ($file:literal $(, $include:literal)*) => {
        $crate::gpu::ShaderSource {
            name: $file,
            wgsl: concat!(
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/common.wgsl")),
                $(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $include)),)*
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file))
            ),
        }
    };
}
pub(crate) use shader;

/// A bind group layout of `storage.len()` storage buffers (read-only where `true`) at
/// bindings 0.., followed by the read-only storage buffer of the parameters, visible to
/// compute.
pub(crate) fn storage_and_params_layout(
    gpu: &Gpu,
    label: &str,
    storage_read_only: &[bool],
) -> wgpu::BindGroupLayout {
    let mut entries: Vec<wgpu::BindGroupLayoutEntry> = storage_read_only
        .iter()
        .enumerate()
        .map(|(i, &read_only)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    // The parameters are a read-only storage buffer, not a uniform buffer: lavapipe
    // (Mesa 22.3) inlines uniform values that bound loops and recompiles the shader's NIR
    // on its queue thread at every dispatch while inlining looks worthwhile, which took
    // one of two cores away from the workers (flash at n = 1024: 18 ms instead of 6).
    entries.push(wgpu::BindGroupLayoutEntry {
        binding: storage_read_only.len() as u32,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only: true },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    });
    gpu.device
        .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
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
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
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
