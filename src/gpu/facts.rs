//! [`DeviceFacts`]: what the kernels decide their configurations from — the adapter's
//! limits, features, subgroup sizes, kind, loop cap, register cap, texture support and
//! memory budget — as plain data. A [`crate::Gpu`] holds the facts of its adapter; tests
//! build them for adapters this machine does not have ([`DeviceFacts::simulated_gpu`]), so
//! that every kernel's choices can be checked for Metal's, AMD's or Intel's subgroup
//! ranges without one.

use crate::error::{Error, Result};

/// Most live floats (32-bit values held across a kernel's inner loop: private arrays,
/// vector temporaries, counters) one invocation may keep on a GPU. NVIDIA allows 255
/// registers per thread and Apple 128, and past the hardware's share everything spills to
/// local memory: correct, but 5–20× slower (llama.cpp's Vulkan flash attention went from
/// 5.1 to 0.9 TFLOP/s when it spilled). Compilers add 20–40 registers of their own, so 128
/// live floats is the hard cap and [`REGISTER_TARGET`] what the defaults aim for. CPU
/// drivers have no such file (their "registers" are stack memory) and are not capped.
/// `ATTNBENCH_REGISTER_CAP` overrides it, for experiments only.
pub const REGISTER_CAP: u32 = 128;

/// Live floats the GPU defaults aim for: room under [`REGISTER_CAP`] for the compiler's
/// own registers, and for two or three workgroups per core.
pub const REGISTER_TARGET: u32 = 96;

/// The texel format of a texel array.
pub const TEXEL_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba32Float;

/// Whether `adapter` offers [`TEXEL_FORMAT`] as a storage and a sampled texture.
pub(crate) fn texel_format_usable(adapter: &wgpu::Adapter) -> bool {
    let usages = adapter
        .get_texture_format_features(TEXEL_FORMAT)
        .allowed_usages;
    usages.contains(wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::TEXTURE_BINDING)
}

/// The facts of one adapter that the kernels' configuration choices depend on.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceFacts {
    /// The adapter's name (for messages).
    pub name: String,
    /// The device's limits.
    pub limits: wgpu::Limits,
    /// The features enabled on the device.
    pub features: wgpu::Features,
    /// Smallest subgroup size the adapter may use (0 without subgroups).
    pub subgroup_min: u32,
    /// Largest subgroup size (0 without subgroups).
    pub subgroup_max: u32,
    /// A CPU driver (lavapipe, llvmpipe, WARP): loads cost far more than arithmetic, and
    /// there is no register file to overflow.
    pub is_cpu: bool,
    /// Most loop iterations one invocation may run, where the driver caps it (lavapipe).
    pub loop_cap: Option<u64>,
    /// Most live floats per invocation ([`REGISTER_CAP`] on GPUs, none on CPU drivers).
    pub register_cap: Option<u32>,
    /// Whether `rgba32float` textures can be written and read from shaders (texel arrays).
    pub texel_arrays: bool,
    /// Bytes of buffers the device may hold at once, where known.
    pub memory_budget: Option<u64>,
    /// Compute units that run workgroups at once, where known: a CPU driver's threads (one
    /// workgroup each), a GPU profile's SMs or CUs ([`DeviceFacts::h100`]). wgpu does not
    /// report it for GPUs; planners that size a split by it assume [`ASSUMED_GPU_UNITS`].
    pub compute_units: Option<u32>,
}

/// Compute units a planner assumes on a GPU that does not say (wgpu reports no SM count):
/// a large one (an H100 has 132 SMs), since splitting a little too finely costs a GPU
/// less than leaving half of it idle.
pub const ASSUMED_GPU_UNITS: u32 = 128;

/// How the planners see the device: as it is, or as a discrete GPU with its limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlanAs {
    /// As the adapter is (a CPU driver plans for CPU drivers).
    #[default]
    Device,
    /// As a discrete GPU with this adapter's limits, features and subgroup sizes: every
    /// planner chooses its GPU layout (flash's tiles, the tile backward, decode's lane
    /// split) under the register cap, so that the GPU code paths run, and are verified, on
    /// a CPU driver (`--plan-as gpu`, `ATTNBENCH_PLAN_AS=gpu`).
    Gpu,
}

impl PlanAs {
    /// Parses `device` or `gpu` (the `--plan-as` flag, `ATTNBENCH_PLAN_AS`).
    pub fn parse(text: &str) -> Result<PlanAs> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "device" => Ok(PlanAs::Device),
            "gpu" => Ok(PlanAs::Gpu),
            _ => Err(Error::InvalidSetting {
                what: "plan as (--plan-as / ATTNBENCH_PLAN_AS)".into(),
                value: text.into(),
                expected: "device or gpu".into(),
            }),
        }
    }
}

impl DeviceFacts {
    /// Whether subgroup operations are enabled.
    pub fn has_subgroups(&self) -> bool {
        self.features.contains(wgpu::Features::SUBGROUP) && self.subgroup_min > 0
    }

    /// The subgroup size when the adapter reports one fixed size (lavapipe, NVIDIA);
    /// `None` without subgroups or where the size varies (Metal 4..64, AMD 32..64, Intel
    /// 8..32).
    pub fn fixed_subgroup_size(&self) -> Option<u32> {
        (self.has_subgroups() && self.subgroup_min == self.subgroup_max)
            .then_some(self.subgroup_min)
    }

    /// Whether `lanes` consecutive lane indices (aligned to `lanes`) of a workgroup of
    /// `workgroup` invocations always lie in one subgroup, so that a subgroup butterfly
    /// over them is exact whatever size the driver picks. Shaders number their lanes
    /// `subgroup_id · subgroup_size + subgroup_invocation_id` (`lane_index` in
    /// `shaders/flash/lane_sum_subgroup.wgsl`), never by an assumed mapping from the
    /// local invocation index, which Vulkan does not promise: that numbering is a
    /// permutation of the workgroup's invocations when every subgroup is full (the
    /// workgroup a whole number of the largest size), and `lanes` (a power of two) aligned
    /// lanes share a subgroup when `lanes` ≤ the smallest size.
    pub fn subgroup_spans(&self, lanes: u32, workgroup: u32) -> bool {
        self.has_subgroups()
            && lanes <= self.subgroup_min
            && workgroup.is_multiple_of(self.subgroup_max.max(1))
    }

    /// These facts as the planners see them under `plan_as`: unchanged for
    /// [`PlanAs::Device`]; for [`PlanAs::Gpu`] the same limits, features, subgroup sizes,
    /// loop cap (a driver's real limit), texture support, budget and compute units, but
    /// not a CPU driver, and capped at `gpu_register_cap` (the cap GPUs get,
    /// [`crate::gpu::DeviceOptions::register_cap`]). The name says so, so that refusals name what planned.
    pub fn planned_as(self, plan_as: PlanAs, gpu_register_cap: Option<u32>) -> DeviceFacts {
        match plan_as {
            PlanAs::Device => self,
            PlanAs::Gpu if !self.is_cpu => self,
            PlanAs::Gpu => DeviceFacts {
                name: format!("{}, planned as a GPU", self.name),
                is_cpu: false,
                register_cap: gpu_register_cap,
                ..self
            },
        }
    }

    /// The device's parallelism as planners that split work to fill it count it: compute
    /// units that each run at least one workgroup at a time — a CPU driver's threads, a
    /// GPU's SMs or CUs ([`ASSUMED_GPU_UNITS`] where unknown). llama.cpp's split-k aims
    /// at twice this many workgroups.
    pub fn parallelism(&self) -> u32 {
        match (self.is_cpu, self.compute_units) {
            (_, Some(units)) => units.max(1),
            (true, None) => 2,
            (false, None) => ASSUMED_GPU_UNITS,
        }
    }

    /// The facts of a GPU that is not here: WebGPU's default limits raised to what desktop
    /// GPUs offer (32 KiB of workgroup memory, 1024 invocations), timestamps and f16, and
    /// subgroups of `subgroups` = (min, max) sizes (`None`: no SUBGROUP). Capped at
    /// [`REGISTER_CAP`]; no loop cap, no memory budget.
    pub fn simulated_gpu(subgroups: Option<(u32, u32)>) -> DeviceFacts {
        let mut features = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SHADER_F16;
        if subgroups.is_some() {
            features |= wgpu::Features::SUBGROUP;
        }
        let (subgroup_min, subgroup_max) = subgroups.unwrap_or((0, 0));
        DeviceFacts {
            name: format!("simulated GPU, subgroups {subgroup_min}..={subgroup_max}"),
            limits: wgpu::Limits {
                max_compute_workgroup_storage_size: 32 << 10,
                max_compute_invocations_per_workgroup: 1024,
                max_compute_workgroup_size_x: 1024,
                max_storage_buffer_binding_size: 1 << 30,
                max_buffer_size: 1 << 31,
                ..wgpu::Limits::default()
            },
            features,
            subgroup_min,
            subgroup_max,
            is_cpu: false,
            loop_cap: None,
            register_cap: Some(REGISTER_CAP),
            texel_arrays: true,
            memory_budget: None,
            compute_units: None,
        }
    }

    /// An NVIDIA H100 SXM as wgpu's Vulkan backend reports it (`/work/shared/PLATFORM.md`,
    /// "Real GPUs"): subgroups of 32, 48 KiB of workgroup memory (`maxComputeSharedMemorySize`),
    /// 1024 invocations, f16, subgroups and timestamps, 132 SMs, 80 GB. For planning on a
    /// machine without one (`attnbench plan --adapter-limits h100`).
    pub fn h100() -> DeviceFacts {
        let mut facts = DeviceFacts::simulated_gpu(Some((32, 32)));
        facts.name = "NVIDIA H100 80GB HBM3 (profile)".into();
        facts.limits.max_compute_workgroup_storage_size = 48 << 10;
        facts.limits.max_storage_buffer_binding_size = (4 << 30) - 4;
        facts.limits.max_buffer_size = 80 << 30;
        facts.memory_budget = Some(80_000_000_000);
        facts.compute_units = Some(132);
        facts
    }

    /// The refusal of a configuration that keeps `live` floats per invocation where the
    /// device caps them, naming what and how to lift the cap for an experiment.
    pub fn check_registers(&self, kernel: &str, what: &str, live: u32) -> Result<()> {
        match self.register_cap {
            Some(cap) if live > cap => Err(Error::Unsupported {
                kernel: kernel.into(),
                reason: format!(
                    "{what} keeps {live} live floats per invocation, over the register cap of {cap} on GPUs (past it the compiler spills to memory; ATTNBENCH_REGISTER_CAP overrides it for experiments)"
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// Parses a register cap: a number of floats in 16..=4096, or `off`.
pub fn parse_register_cap(text: &str) -> Result<Option<u32>> {
    match text.trim() {
        "" => Ok(Some(REGISTER_CAP)),
        "off" => Ok(None),
        number => crate::parse::u32_in("ATTNBENCH_REGISTER_CAP", number, 16..=4096)
            .map(Some)
            .map_err(|e| match e {
                Error::InvalidSetting { what, value, .. } => Error::InvalidSetting {
                    what,
                    value,
                    expected: "a number of floats in 16..=4096, or off".into(),
                },
                other => other,
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_caps_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_register_cap("off").unwrap(), None);
        assert_eq!(parse_register_cap(" 96 ").unwrap(), Some(96));
        for bad in ["0", "8", "5000", "x", "-1"] {
            assert!(parse_register_cap(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subgroup_ranges_span_only_what_every_size_holds() {
        let metal = DeviceFacts::simulated_gpu(Some((4, 64)));
        assert_eq!(metal.fixed_subgroup_size(), None);
        assert!(metal.subgroup_spans(4, 64) && !metal.subgroup_spans(8, 64));
        assert!(!metal.subgroup_spans(4, 32));
        let nvidia = DeviceFacts::simulated_gpu(Some((32, 32)));
        assert_eq!(nvidia.fixed_subgroup_size(), Some(32));
        let none = DeviceFacts::simulated_gpu(None);
        assert!(!none.has_subgroups() && !none.subgroup_spans(1, 64));
    }

    #[test]
    fn planning_as_a_gpu_keeps_the_limits_and_drops_the_cpu_defaults() {
        let cpu = DeviceFacts {
            name: "llvmpipe (Vulkan)".into(),
            is_cpu: true,
            register_cap: None,
            loop_cap: Some(65_535),
            compute_units: Some(2),
            ..DeviceFacts::simulated_gpu(Some((8, 8)))
        };
        assert_eq!(cpu.clone().planned_as(PlanAs::Device, Some(128)), cpu);
        let gpu = cpu.clone().planned_as(PlanAs::Gpu, Some(REGISTER_CAP));
        assert!(!gpu.is_cpu && gpu.register_cap == Some(REGISTER_CAP));
        assert!(gpu.name.contains("planned as a GPU"));
        assert_eq!(
            (
                gpu.limits.clone(),
                gpu.features,
                gpu.subgroup_min,
                gpu.loop_cap
            ),
            (cpu.limits.clone(), cpu.features, 8, Some(65_535))
        );
        // A GPU planned as a GPU is itself.
        let real = DeviceFacts::simulated_gpu(Some((32, 32)));
        assert_eq!(real.clone().planned_as(PlanAs::Gpu, None), real);
        assert_eq!(PlanAs::parse(" GPU ").unwrap(), PlanAs::Gpu);
        assert_eq!(PlanAs::parse("device").unwrap(), PlanAs::Device);
        assert!(PlanAs::parse("cpu").is_err());
    }

    #[test]
    fn parallelism_counts_cpu_threads_and_gpu_units() {
        let mut cpu = DeviceFacts::simulated_gpu(Some((8, 8)));
        cpu.is_cpu = true;
        cpu.compute_units = Some(2);
        assert_eq!(cpu.parallelism(), 2);
        assert_eq!(DeviceFacts::h100().parallelism(), 132);
        let unknown = DeviceFacts::simulated_gpu(Some((32, 32)));
        assert_eq!(unknown.parallelism(), ASSUMED_GPU_UNITS);
    }
}
