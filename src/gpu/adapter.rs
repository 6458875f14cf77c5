//! Adapter selection the way wgpu users expect: `WGPU_BACKEND`, `WGPU_POWER_PREF` and
//! `WGPU_ADAPTER_NAME` (case-insensitive substring), overridable by CLI flags; by default the
//! high-performance adapter. Unlike `wgpu::util::initialize_adapter_from_env`, a name that
//! matches nothing is an error listing the adapters, not a panic.

use crate::error::{Error, Result};
use serde::Serialize;

/// How to choose the adapter and open its device (filled at the edge from flags and the
/// `WGPU_*`/`ATTNBENCH_*` variables, [`crate::settings`]); `None` fields take the defaults.
#[derive(Clone, Debug, Default)]
pub struct AdapterChoice {
    /// Backends to search (`vulkan`, `gl`, `metal`, `dx12`, comma separated), as `WGPU_BACKEND`.
    pub backends: Option<String>,
    /// `high`, `low` or `none`, as `WGPU_POWER_PREF`.
    pub power: Option<String>,
    /// A case-insensitive substring of the adapter name, as `WGPU_ADAPTER_NAME`.
    pub name: Option<String>,
    /// Memory budget override in bytes (suffixes K, M, G, T allowed), as `ATTNBENCH_MEMORY_BUDGET`.
    pub memory_budget: Option<String>,
    /// Request a smaller `max_storage_buffer_binding_size` than the adapter has, to
    /// emulate a smaller device (tests use this to force naive's score chunking).
    pub storage_binding_cap: Option<u64>,
    /// How the device is opened besides the adapter.
    pub options: DeviceOptions,
}

/// How a device is opened: its register cap, naga's runtime checks, the compile log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceOptions {
    /// Most live floats per invocation on a GPU (`None`: uncapped); CPU drivers are never
    /// capped. [`crate::gpu::REGISTER_CAP`] by default.
    pub register_cap: Option<u32>,
    /// naga's runtime checks on every shader, also those declared in bounds (for
    /// debugging a kernel suspected of reading out of bounds).
    pub shader_checks: bool,
    /// Print each pipeline's compile time.
    pub log_compiles: bool,
    /// How the planners see the device: as it is, or as a discrete GPU with its limits
    /// ([`crate::gpu::PlanAs`], `--plan-as`, `ATTNBENCH_PLAN_AS`).
    pub plan_as: super::facts::PlanAs,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        DeviceOptions {
            register_cap: Some(super::facts::REGISTER_CAP),
            shader_checks: false,
            log_compiles: false,
            plan_as: super::facts::PlanAs::Device,
        }
    }
}

impl AdapterChoice {
    /// The backends to search.
    pub fn backends(&self) -> Result<wgpu::Backends> {
        let Some(list) = &self.backends else {
            return Ok(wgpu::Backends::all());
        };
        // Every item must name a backend: wgpu's own parser drops unknown names silently.
        let mut parsed = wgpu::Backends::empty();
        for item in list.split(',').map(str::trim) {
            let one = wgpu::Backends::from_comma_list(item);
            if item.is_empty() || one.is_empty() {
                return Err(Error::InvalidSetting {
                    what: "backend (WGPU_BACKEND / --backend)".into(),
                    value: list.clone(),
                    expected: "a comma-separated list of vulkan, gl, metal, dx12".into(),
                });
            }
            parsed |= one;
        }
        Ok(parsed)
    }

    /// The power preference; high performance unless asked otherwise.
    pub fn power(&self) -> Result<wgpu::PowerPreference> {
        match self
            .power
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("high") | Some("high-performance") => {
                Ok(wgpu::PowerPreference::HighPerformance)
            }
            Some("low") | Some("low-power") => Ok(wgpu::PowerPreference::LowPower),
            Some("none") => Ok(wgpu::PowerPreference::None),
            Some(other) => Err(Error::InvalidSetting {
                what: "power preference (WGPU_POWER_PREF / --power)".into(),
                value: other.into(),
                expected: "high, low or none".into(),
            }),
        }
    }
}

/// A printable description of one adapter.
#[derive(Clone, Debug, Serialize)]
pub struct AdapterSummary {
    /// Adapter name.
    pub name: String,
    /// Backend (Vulkan, Gl, ...).
    pub backend: String,
    /// Device type (DiscreteGpu, Cpu, ...).
    pub device_type: String,
    /// PCI vendor id.
    pub vendor: u32,
    /// Driver name.
    pub driver: String,
    /// Driver version/info.
    pub driver_info: String,
    /// Whether GPU timestamps can be written at compute pass boundaries.
    pub timestamps: bool,
    /// Whether subgroup operations are available.
    pub subgroups: bool,
    /// Whether f16 in shaders is available.
    pub shader_f16: bool,
    /// Largest buffer.
    pub max_buffer_size: u64,
    /// Largest storage buffer binding.
    pub max_storage_buffer_binding_size: u64,
    /// Workgroup memory per workgroup.
    pub max_compute_workgroup_storage_size: u32,
    /// Invocations per workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroups per dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Smallest and largest subgroup size (0 where there are no subgroups).
    pub subgroup_min_size: u32,
    /// Largest subgroup size.
    pub subgroup_max_size: u32,
    /// Whether the adapter offers cooperative matrices
    /// (`Features::EXPERIMENTAL_COOPERATIVE_MATRIX`: tensor cores from WGSL).
    pub cooperative_matrix: bool,
    /// Its cooperative-matrix configurations, e.g. `16×16×16 F16→F32`.
    pub cooperative_matrix_configs: Vec<String>,
}

/// How results and reports name a backend: wgpu's name for it (`Vulkan`, `Gl`, `Metal`,
/// `Dx12`), except the browser's, which is `WebGPU` (wgpu calls it `BrowserWebGpu`).
pub fn backend_name(backend: wgpu::Backend) -> String {
    match backend {
        wgpu::Backend::BrowserWebGpu => "WebGPU".to_string(),
        other => format!("{other:?}"),
    }
}

/// Describes an adapter: identity, the features that matter here, key limits.
pub fn describe_adapter(adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    let features = adapter.features();
    let limits = adapter.limits();
    AdapterSummary {
        name: info.name,
        backend: backend_name(info.backend),
        device_type: format!("{:?}", info.device_type),
        vendor: info.vendor,
        driver: info.driver,
        driver_info: info.driver_info,
        timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        subgroups: features.contains(wgpu::Features::SUBGROUP),
        shader_f16: features.contains(wgpu::Features::SHADER_F16),
        max_buffer_size: limits.max_buffer_size,
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
        max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        subgroup_min_size: info.subgroup_min_size,
        subgroup_max_size: info.subgroup_max_size,
        cooperative_matrix: features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX),
        cooperative_matrix_configs: if features
            .contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
        {
            adapter
                .cooperative_matrix_properties()
                .iter()
                .map(|p| {
                    format!(
                        "{}×{}×{} {:?}→{:?}{}",
                        p.m_size,
                        p.n_size,
                        p.k_size,
                        p.ab_type,
                        p.cr_type,
                        if p.saturating_accumulation {
                            " (saturating)"
                        } else {
                            ""
                        }
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// A wgpu instance for the chosen backends, with memory-budget thresholds set so that
/// backends that report a budget (DX12, Vulkan with VK_EXT_memory_budget) refuse oversized
/// allocations with an error instead of paging or losing the device.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn instance(choice: &AdapterChoice) -> Result<wgpu::Instance> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = choice.backends()?;
    desc.memory_budget_thresholds = wgpu::MemoryBudgetThresholds {
        for_resource_creation: Some(95),
        for_device_loss: Some(99),
    };
    Ok(wgpu::Instance::new(desc))
}

/// Every adapter on the chosen backends.
#[cfg(not(target_arch = "wasm32"))]
pub fn list_adapters(choice: &AdapterChoice) -> Result<Vec<wgpu::Adapter>> {
    let instance = instance(choice)?;
    Ok(pollster::block_on(
        instance.enumerate_adapters(choice.backends()?),
    ))
}

/// Picks the adapter: those whose name contains the wanted substring (all if none is given),
/// ranked by device type for the power preference, native backends before GL. Public for
/// the peers that must run on the adapter attnbench runs on (`peers/burn`).
#[cfg(not(target_arch = "wasm32"))]
pub fn select_adapter(choice: &AdapterChoice) -> Result<wgpu::Adapter> {
    let power = choice.power()?;
    let adapters = list_adapters(choice)?;
    if adapters.is_empty() {
        return Err(Error::NoAdapter {
            backends: format!("{:?}", choice.backends()?),
        });
    }
    let mut candidates: Vec<wgpu::Adapter> = match &choice.name {
        Some(wanted) => {
            let wanted_lower = wanted.to_lowercase();
            let names: Vec<String> = adapters
                .iter()
                .map(|a| {
                    let info = a.get_info();
                    format!("{} ({:?})", info.name, info.backend)
                })
                .collect();
            let matching: Vec<_> = adapters
                .into_iter()
                .filter(|a| a.get_info().name.to_lowercase().contains(&wanted_lower))
                .collect();
            if matching.is_empty() {
                return Err(Error::AdapterNotFound {
                    wanted: wanted.clone(),
                    available: names.join(", "),
                });
            }
            matching
        }
        None => adapters,
    };
    candidates.sort_by_key(|a| rank(&a.get_info(), power));
    Ok(candidates.swap_remove(0))
}

/// Lower is better.
#[cfg(not(target_arch = "wasm32"))]
fn rank(info: &wgpu::AdapterInfo, power: wgpu::PowerPreference) -> (u8, u8) {
    use wgpu::DeviceType::*;
    let device = match (power, info.device_type) {
        (wgpu::PowerPreference::LowPower, IntegratedGpu) => 0,
        (wgpu::PowerPreference::LowPower, DiscreteGpu) => 1,
        (_, DiscreteGpu) => 0,
        (_, IntegratedGpu) => 1,
        (_, VirtualGpu) => 2,
        (_, Cpu) => 3,
        (_, Other) => 4,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (device, backend)
}
