//! A GPU that is not here, as far as planning for it goes ([`GpuProfile`]): the facts its
//! kernels plan from, its streaming multiprocessors' limits (what bounds occupancy) and its
//! peaks (what bounds a roofline). `attnbench plan --adapter-limits h100` prints every
//! kernel's plan on one, with the occupancy and the roofline figure to expect.

use super::facts::DeviceFacts;
use crate::error::{Error, Result};

/// What bounds the workgroups resident on one SM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmLimits {
    /// 32-bit registers per SM.
    pub registers: u32,
    /// Resident threads per SM.
    pub threads: u32,
    /// Resident workgroups per SM.
    pub workgroups: u32,
    /// Shared (workgroup) memory per SM, bytes.
    pub shared_bytes: u32,
    /// Shared memory the driver reserves per workgroup, bytes.
    pub shared_reserved: u32,
    /// Lanes of a warp.
    pub warp: u32,
    /// Registers a compiler adds to a kernel's live floats (addresses, indices, loop
    /// counters): `REGISTER_CAP`'s 20–40, taken at 32.
    pub compiler_registers: u32,
}

/// Peak rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peaks {
    /// f32 FMA peak without tensor cores, GFLOP/s.
    pub f32_gflops: f64,
    /// f16 FMA peak without tensor cores, GFLOP/s.
    pub f16_gflops: f64,
    /// Device memory bandwidth, GB/s.
    pub bandwidth_gbps: f64,
}

/// A GPU to plan for.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuProfile {
    /// What its kernels plan from.
    pub facts: DeviceFacts,
    /// Its SMs.
    pub sm: SmLimits,
    /// Its peaks.
    pub peaks: Peaks,
}

/// How many workgroups of a dispatch one SM holds at once, and why no more.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Occupancy {
    /// Registers per thread the model assumes.
    pub registers: u32,
    /// Workgroups resident per SM.
    pub workgroups_per_sm: u32,
    /// Resident warps as a share of the SM's.
    pub fraction: f64,
    /// What limits it: `registers`, `threads`, `shared memory` or `workgroups`.
    pub limited_by: &'static str,
    /// The dispatch's workgroups as a share of what the SMs hold at once (1: a full wave
    /// or more).
    pub fill: f64,
}

impl GpuProfile {
    /// An NVIDIA H100 SXM (80 GB HBM3): the facts of [`DeviceFacts::h100`]; per SM 64 K
    /// registers, 2048 threads, 32 workgroups, 228 KiB of shared memory (1 KiB reserved per
    /// workgroup); FP32 67 TFLOP/s and FP16 134 TFLOP/s without tensor cores, 3.35 TB/s
    /// (`/work/shared/PLATFORM.md`, "Real GPUs"; NVIDIA's H100 datasheet and CUDA
    /// occupancy tables).
    pub fn h100() -> GpuProfile {
        GpuProfile {
            facts: DeviceFacts::h100(),
            sm: SmLimits {
                registers: 65_536,
                threads: 2048,
                workgroups: 32,
                shared_bytes: 228 << 10,
                shared_reserved: 1 << 10,
                warp: 32,
                compiler_registers: 32,
            },
            peaks: Peaks {
                f32_gflops: 67_000.0,
                f16_gflops: 134_000.0,
                bandwidth_gbps: 3350.0,
            },
        }
    }

    /// The profile called `name` (`h100`), or an error listing the known ones.
    pub fn named(name: &str) -> Result<GpuProfile> {
        match name.trim().to_ascii_lowercase().as_str() {
            "h100" => Ok(GpuProfile::h100()),
            _ => Err(Error::InvalidSetting {
                what: "--adapter-limits".into(),
                value: name.into(),
                expected: "a built-in GPU profile: h100".into(),
            }),
        }
    }

    /// Occupancy of a dispatch of `workgroups` workgroups of `invocations` invocations,
    /// each keeping `live_floats` live floats and `workgroup_bytes` of workgroup memory:
    /// registers per thread the live floats plus the compiler's own, rounded up to 8.
    pub fn occupancy(
        &self,
        invocations: u32,
        workgroups: u64,
        live_floats: u32,
        workgroup_bytes: u32,
    ) -> Occupancy {
        let sm = &self.sm;
        let registers = (live_floats + sm.compiler_registers)
            .next_multiple_of(8)
            .min(255);
        let warps = invocations.div_ceil(sm.warp).max(1);
        let threads = warps * sm.warp;
        let limits = [
            (sm.registers / (registers * threads), "registers"),
            (sm.threads / threads, "threads"),
            (
                if workgroup_bytes == 0 {
                    u32::MAX
                } else {
                    sm.shared_bytes / (workgroup_bytes + sm.shared_reserved)
                },
                "shared memory",
            ),
            (sm.workgroups, "workgroups"),
        ];
        let (per_sm, limited_by) = limits
            .into_iter()
            .min_by_key(|&(count, _)| count)
            .unwrap_or((0, "registers"));
        let resident = u64::from(per_sm) * u64::from(self.facts.parallelism());
        Occupancy {
            registers,
            workgroups_per_sm: per_sm,
            fraction: f64::from(per_sm * threads) / f64::from(sm.threads),
            limited_by,
            fill: if resident == 0 {
                0.0
            } else {
                (workgroups as f64 / resident as f64).min(1.0)
            },
        }
    }

    /// The roofline of `flops` FLOPs moving at least `bytes` bytes at `peak_gflops`: the
    /// least time in µs and whether compute or memory bounds it.
    pub fn roofline(&self, flops: f64, bytes: u64, peak_gflops: f64) -> (f64, &'static str) {
        let compute_us = flops / (peak_gflops * 1e3);
        let memory_us = bytes as f64 / (self.peaks.bandwidth_gbps * 1e3);
        if compute_us >= memory_us {
            (compute_us, "compute")
        } else {
            (memory_us, "memory")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_follows_registers_threads_shared_memory_and_the_grid() {
        let h100 = GpuProfile::h100();
        // 64 invocations at 96 live floats: 128 registers a thread, 8 workgroups by
        // registers (65 536 / (128 · 64)), a quarter of the SM's warps.
        let o = h100.occupancy(64, 10_000, 96, 16 << 10);
        assert_eq!(
            (o.registers, o.workgroups_per_sm, o.limited_by),
            (128, 8, "registers")
        );
        assert!((o.fraction - 0.25).abs() < 1e-9 && o.fill == 1.0);
        // 48 KiB of shared memory a workgroup: 4 by shared memory.
        let o = h100.occupancy(64, 10_000, 40, 48 << 10);
        assert_eq!((o.workgroups_per_sm, o.limited_by), (4, "shared memory"));
        // 16 workgroups on 132 SMs holding 8 each: 1.5% of a wave.
        let o = h100.occupancy(64, 16, 96, 0);
        assert!((o.fill - 16.0 / 1056.0).abs() < 1e-9);
        // Decode at 1×1×262 144×64: 128 MiB at 3.35 TB/s, memory-bound, ~40 µs.
        let (us, bound) = h100.roofline(6.7e7, 128 << 20, h100.peaks.f32_gflops);
        assert_eq!(bound, "memory");
        assert!((us - 40.06).abs() < 0.1, "{us}");
        assert!(GpuProfile::named("h200").is_err());
    }
}
