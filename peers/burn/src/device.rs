//! The adapter attnbench would pick, opened the way Burn's wgpu runtime opens its own (the
//! adapter's features and limits), and registered with Burn, so that both run on one
//! adapter through one wgpu; and CubeCL's configuration, set before Burn first reads it.

use crate::error::PeerError;
use attnbench::AdapterChoice;
use attnbench::gpu::{backend_name, select_adapter};
use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
use burn::tensor::wgpu::WgpuSetup;
use std::path::Path;

/// The Burn device on the chosen adapter, and what the adapter is.
pub struct BurnDevice {
    /// Burn's handle of the registered device.
    pub device: burn::tensor::Device,
    /// The adapter's name.
    pub adapter: String,
    /// Its backend, named as attnbench names it (`Vulkan`, `Gl`, …).
    pub backend: String,
    /// Whether the device computes in f16.
    pub shader_f16: bool,
}

/// CubeCL's configuration for the peer: its defaults (not `cubecl.toml` nor `CUBECL_*`,
/// which could send logs to stdout, where the peer speaks JSON), with every autotune
/// decision written as JSON to `decisions` (how the peer learns the strategy chosen) and
/// no persistent autotune cache, so that each run tunes afresh on its own inputs.
pub fn configure_cubecl(decisions: &Path) -> Result<(), PeerError> {
    let mut config = CubeClRuntimeConfig::default();
    config.autotune.decisions.file = Some(decisions.to_path_buf());
    config.autotune.disable_cache = true;
    if CubeClRuntimeConfig::try_set(config) {
        Ok(())
    } else {
        Err(PeerError::Device(
            "CubeCL's configuration was read before the peer could set it".into(),
        ))
    }
}

/// Opens the adapter `choice` picks (attnbench's own selection) and registers it with Burn.
pub fn open(choice: &AdapterChoice) -> Result<BurnDevice, PeerError> {
    let adapter = select_adapter(choice)?;
    let info = adapter.get_info();
    // What cubecl's WGSL runtime requests when it opens an adapter itself: every feature
    // but mappable primary buffers, the adapter's limits, memory hints for its pools.
    let descriptor = wgpu::DeviceDescriptor {
        label: Some("attnbench-burn-peer"),
        required_features: adapter
            .features()
            .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        ..Default::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&descriptor))
        .map_err(|e| PeerError::Device(format!("opening {}: {e}", info.name)))?;
    let shader_f16 = device.features().contains(wgpu::Features::SHADER_F16);
    // attnbench's selection keeps its instance to itself; Burn stores one beside the
    // device but does not use it: an instance of the same backend stands in.
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: info.backend.into(),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let setup = WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend: info.backend,
    };
    let device = burn::tensor::Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| PeerError::Device(format!("registering {} with Burn: {e}", info.name)))?;
    Ok(BurnDevice {
        device,
        adapter: info.name,
        backend: backend_name(info.backend),
        shader_f16,
    })
}
