//! The browser's device: the adapter wgpu opens through WebGPU, named from what the page
//! read of `GPUAdapterInfo` (wgpu 30 leaves the name empty on the web and does not pass
//! vendor and architecture on), and the device header its results carry: backend
//! `WebGPU`, the browser as the driver, so that each browser and adapter gets its own
//! results folder.

use attnbench::gpu::{DeviceOptions, MemoryBudget};
use attnbench::results::DeviceHeader;
use attnbench::{Bench, Gpu};
use serde::{Deserialize, Serialize};

/// What the page knows about the adapter and the browser (`app.js`, `browserInfo()`).
#[derive(Clone, Debug, Deserialize)]
pub struct BrowserInfo {
    /// `GPUAdapterInfo.vendor`, e.g. `google`, `nvidia`.
    #[serde(default)]
    pub vendor: String,
    /// `GPUAdapterInfo.architecture`, e.g. `swiftshader`, `ampere`.
    #[serde(default)]
    pub architecture: String,
    /// `GPUAdapterInfo.device` (often empty).
    #[serde(default)]
    pub device: String,
    /// `GPUAdapterInfo.description` (often empty).
    #[serde(default)]
    pub description: String,
    /// The browser and its major version, e.g. `Chromium 156`: part of the adapter's name,
    /// since another browser is another WebGPU implementation and shader compiler.
    pub browser: String,
    /// The browser's full version or user agent: the "driver" of the device header.
    pub browser_full: String,
    /// The operating system and CPU as the browser tells them.
    #[serde(default)]
    pub platform: String,
    /// A memory budget such as `2G` (the page's `memory` setting); none: the browser does
    /// not tell how much memory its device has, and only per-buffer limits apply.
    #[serde(default)]
    pub memory: Option<String>,
}

impl BrowserInfo {
    /// `google swiftshader (Chromium 156)`: the distinct non-empty parts of the adapter
    /// info, and the browser.
    pub fn adapter_name(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for part in [
            &self.vendor,
            &self.architecture,
            &self.device,
            &self.description,
        ] {
            let part = part.trim();
            if !part.is_empty() && !parts.iter().any(|p| p.eq_ignore_ascii_case(part)) {
                parts.push(part);
            }
        }
        let adapter = if parts.is_empty() {
            "unnamed adapter".to_string()
        } else {
            parts.join(" ")
        };
        format!("{adapter} ({})", self.browser.trim())
    }

    fn budget(&self) -> Result<MemoryBudget, String> {
        match self
            .memory
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            Some(text) => Ok(MemoryBudget {
                bytes: Some(MemoryBudget::parse_bytes(text).map_err(|e| e.to_string())?),
                source: "the page's memory setting".into(),
            }),
            None => Ok(MemoryBudget {
                bytes: None,
                source: "none: browsers do not tell their device's memory".into(),
            }),
        }
    }
}

/// Opens the browser's adapter with the kernels' optional features and its own limits,
/// named by `info`.
pub async fn open(info: &BrowserInfo) -> Result<Bench, String> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::BROWSER_WEBGPU;
    let instance = wgpu::Instance::new(desc);
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("no WebGPU adapter: {e}"))?;
    let mut gpu = Gpu::open(adapter, info.budget()?, None, DeviceOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    gpu.name_adapter(info.adapter_name());
    Ok(Bench::untuned(gpu))
}

/// The device header of results measured on `gpu` in this browser.
pub fn header(gpu: &Gpu, info: &BrowserInfo) -> DeviceHeader {
    let mut header = DeviceHeader::for_gpu(gpu);
    header.driver = info.browser_full.trim().to_string();
    header.os = if info.platform.trim().is_empty() {
        "web (wasm32)".into()
    } else {
        format!("{} (wasm32 in the browser)", info.platform.trim())
    };
    header
}

/// The device as attnbench sees it, for the page to show beside the browser's own view of
/// the adapter.
#[derive(Serialize)]
pub struct DeviceReport {
    /// The results header (adapter name, backend, driver, ...).
    pub header: DeviceHeader,
    /// The folder its results go to (`results/<slug>/`).
    pub folder: String,
    /// The features attnbench's kernels use that the device has.
    pub features: Vec<&'static str>,
    /// How sweep rows are timed here.
    pub timing: &'static str,
    /// The memory budget and where it came from.
    pub memory_budget: MemoryBudget,
    /// Key limits.
    pub max_buffer_size: u64,
    /// Key limits.
    pub max_storage_buffer_binding_size: u64,
    /// Key limits.
    pub max_compute_workgroup_storage_size: u32,
    /// Key limits.
    pub max_compute_invocations_per_workgroup: u32,
}

impl DeviceReport {
    /// The report of `gpu` opened in this browser.
    pub fn of(gpu: &Gpu, info: &BrowserInfo) -> Self {
        let header = header(gpu, info);
        let features = gpu.features();
        let named = [
            (wgpu::Features::TIMESTAMP_QUERY, "timestamp-query"),
            (wgpu::Features::SHADER_F16, "shader-f16"),
            (wgpu::Features::SUBGROUP, "subgroups"),
        ];
        let limits = gpu.limits();
        DeviceReport {
            folder: header.slug(),
            header,
            features: named
                .iter()
                .filter(|(f, _)| features.contains(*f))
                .map(|(_, name)| *name)
                .collect(),
            timing: if features.contains(wgpu::Features::TIMESTAMP_QUERY) {
                "GPU timestamps at compute-pass boundaries (timestamp-query)"
            } else {
                "wall clock: performance.now() around onSubmittedWorkDone"
            },
            memory_budget: gpu.memory_budget().clone(),
            max_buffer_size: limits.max_buffer_size,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        }
    }
}
