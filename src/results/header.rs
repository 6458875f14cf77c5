//! Who measured ([`DeviceHeader`]): the device and the software, as every file of a
//! device folder names them, and the folder's name ([`device_slug`]).

use super::run::{WGPU_VERSION, git_commit, now_rfc3339};
use crate::gpu::Gpu;
use serde::{Deserialize, Serialize};

/// Who measured: the device and the software.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceHeader {
    /// Adapter name.
    pub adapter: String,
    /// PCI vendor id.
    pub vendor: u32,
    /// Backend (Vulkan, Gl, Metal, Dx12).
    pub backend: String,
    /// Device type (DiscreteGpu, Cpu, ...).
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// wgpu version.
    pub wgpu_version: String,
    /// attnbench version.
    pub attnbench_version: String,
    /// Git commit of attnbench, when known.
    pub git_commit: Option<String>,
    /// When the file was last written (RFC 3339, UTC).
    pub date: String,
    /// Operating system and architecture.
    pub os: String,
    /// The memory budget the sweep ran under, when known.
    #[serde(default)]
    pub memory_budget_bytes: Option<u64>,
    /// `max_storage_buffer_binding_size` of the device.
    #[serde(default)]
    pub max_storage_buffer_binding_size: u64,
}

impl DeviceHeader {
    /// The header for `gpu`, dated now.
    pub fn for_gpu(gpu: &Gpu) -> Self {
        let s = gpu.summary();
        DeviceHeader {
            adapter: s.name.clone(),
            vendor: s.vendor,
            backend: s.backend.clone(),
            device_type: s.device_type.clone(),
            driver: format!("{} {}", s.driver, s.driver_info).trim().to_string(),
            wgpu_version: WGPU_VERSION.to_string(),
            attnbench_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit(),
            date: now_rfc3339(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            memory_budget_bytes: gpu.memory_budget().bytes,
            max_storage_buffer_binding_size: s.max_storage_buffer_binding_size,
        }
    }

    /// Whether `other` names the same device (adapter and backend): one device's files
    /// are never merged into, or applied to, another's.
    pub fn is_same_device(&self, other: &DeviceHeader) -> bool {
        self.adapter == other.adapter && self.backend == other.backend
    }

    /// A header for tests: adapter `name` on Vulkan, fixed date and versions.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str) -> Self {
        DeviceHeader {
            adapter: name.into(),
            vendor: 0,
            backend: "Vulkan".into(),
            device_type: "Cpu".into(),
            driver: "test".into(),
            wgpu_version: "30".into(),
            attnbench_version: "0".into(),
            git_commit: None,
            date: "2026-01-01T00:00:00Z".into(),
            os: "linux".into(),
            memory_budget_bytes: Some(1 << 30),
            max_storage_buffer_binding_size: 1 << 27,
        }
    }

    /// The folder name of this device: adapter name and backend.
    pub fn slug(&self) -> String {
        device_slug(&self.adapter, &self.backend)
    }
}

pub use attnbench_schema::device_slug;
