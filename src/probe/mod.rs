//! Device ceilings measured on the device itself (as vkpeak, clpeak and mixbench do), so
//! that every result can be reported as a fraction of what this device can do:
//! f32 (and f16) FMA throughput, device memory bandwidth, and host↔device transfer rates.
//! The probes (`measure.rs`) are asynchronous and platform-neutral: native code blocks on
//! them ([`run_probes`], [`quick`]), the browser awaits them ([`quick_ceilings_async`]);
//! `probe.json` is read and written here.

mod measure;

pub use measure::expected_fma;

use crate::error::Result;
#[cfg(feature = "native")]
use crate::files::{load_json, save_json};
use crate::gpu::Gpu;
use crate::results::{Ceilings, DeviceHeader};
use measure::{FMA_F16_SHAPE, FMA_F32_SHAPES, Probe};
use serde::{Deserialize, Serialize};
#[cfg(feature = "native")]
use std::path::Path;

/// Identifies the probe file schema.
pub const PROBE_SCHEMA: &str = "attnbench-probe/1";

/// The measured ceilings of one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Always [`PROBE_SCHEMA`].
    pub schema: String,
    /// The device.
    pub device: DeviceHeader,
    /// Peak f32 FMA throughput, GFLOP/s (best configuration).
    pub fma_f32_gflops: f64,
    /// Peak f16 FMA throughput, GFLOP/s, where the device has SHADER_F16.
    pub fma_f16_gflops: Option<f64>,
    /// Device memory bandwidth, GB/s (bytes read + written).
    pub bandwidth_gbps: f64,
    /// Host → device upload rate, GB/s (wall clock).
    pub upload_gbps: f64,
    /// Device → host readback rate, GB/s (wall clock).
    pub readback_gbps: f64,
    /// gpu-timestamps or wall-clock, for the FMA and bandwidth probes.
    pub timing: String,
    /// Configurations tried: (description, GFLOP/s or GB/s).
    pub tried: Vec<(String, f64)>,
}

/// Runs every probe on `gpu`.
pub async fn run_probes_async(gpu: &Gpu) -> Result<ProbeReport> {
    let probe = Probe::new(gpu);
    let mut tried = Vec::new();
    let (fma_f32_gflops, timing) = probe
        .fma(false, &FMA_F32_SHAPES, &[64, 256], &mut tried)
        .await?;
    let fma_f16_gflops = if gpu.features().contains(wgpu::Features::SHADER_F16) {
        let f16 = probe.fma(true, &[FMA_F16_SHAPE], &[64, 256], &mut tried);
        Some(f16.await?.0)
    } else {
        None
    };
    let bandwidth_gbps = probe.bandwidth(256 << 20, &mut tried).await?;
    let (upload_gbps, readback_gbps) = probe.transfers(64 << 20).await?;
    Ok(ProbeReport {
        schema: PROBE_SCHEMA.into(),
        device: DeviceHeader::for_gpu(gpu),
        fma_f32_gflops,
        fma_f16_gflops,
        bandwidth_gbps,
        upload_gbps,
        readback_gbps,
        timing,
        tried,
    })
}

/// Runs every probe on `gpu` ([`run_probes_async`], blocking).
#[cfg(not(target_arch = "wasm32"))]
pub fn run_probes(gpu: &Gpu) -> Result<ProbeReport> {
    pollster::block_on(run_probes_async(gpu))
}

/// The f32 FMA peak (GFLOP/s) and the device bandwidth (GB/s), probed in a second or two:
/// what a run measures at its start and its end to tell whether the machine held still.
pub async fn quick_async(gpu: &Gpu) -> Result<(f64, f64)> {
    let probe = Probe::new(gpu);
    let mut tried = Vec::new();
    let (fma, _) = probe
        .fma(false, &FMA_F32_SHAPES, &[256], &mut tried)
        .await?;
    let bandwidth = probe.bandwidth(64 << 20, &mut tried).await?;
    Ok((fma, bandwidth))
}

/// [`quick_async`], blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn quick(gpu: &Gpu) -> Result<(f64, f64)> {
    pollster::block_on(quick_async(gpu))
}

/// The quick probe ([`quick_async`]) and the transfer rates over `transfer_bytes`: every
/// ceiling a results file carries, where no `probe.json` is at hand (the browser).
pub async fn quick_ceilings_async(gpu: &Gpu, transfer_bytes: u64) -> Result<Ceilings> {
    let (fma_f32_gflops, bandwidth_gbps) = quick_async(gpu).await?;
    let (upload_gbps, readback_gbps) = Probe::new(gpu).transfers(transfer_bytes).await?;
    Ok(Ceilings {
        fma_f32_gflops,
        fma_f16_gflops: None,
        bandwidth_gbps,
        upload_gbps,
        readback_gbps,
    })
}

impl ProbeReport {
    /// `probe.json` in a device folder.
    #[cfg(feature = "native")]
    pub fn path(dir: &Path) -> std::path::PathBuf {
        dir.join("probe.json")
    }

    /// Reads `probe.json` from `dir`; `Ok(None)` when absent. A file whose ceilings are not
    /// rates ([`ProbeReport::check`]) is an error naming the file and the field.
    #[cfg(feature = "native")]
    pub fn load(dir: &Path) -> Result<Option<ProbeReport>> {
        let path = Self::path(dir);
        let report: Option<ProbeReport> = load_json(&path, "probe file", PROBE_SCHEMA)?;
        if let Some(r) = &report {
            r.check().map_err(|message| crate::error::Error::DataFile {
                path: path.clone(),
                message: format!("malformed probe file: {message}"),
            })?;
        }
        Ok(report)
    }

    /// Checks what a file from elsewhere could get wrong: the device named, every ceiling
    /// a rate (transfer rates may be 0: not probed), every configuration's figure finite.
    pub fn check(&self) -> std::result::Result<(), String> {
        crate::results::check_header(&self.device)?;
        crate::results::check_ceilings("", &self.ceilings())
            .map_err(|e| e.trim_start_matches('.').to_string())?;
        if let Some(f16) = self.fma_f16_gflops {
            crate::results::check_rate("fma_f16_gflops", f16)?;
        }
        for (i, (what, value)) in self.tried.iter().enumerate() {
            if !(value.is_finite() && *value >= 0.0) {
                return Err(format!("tried[{i}] ({what:?}): {value} is not finite"));
            }
        }
        Ok(())
    }

    /// The ceilings results rows are measured against.
    pub fn ceilings(&self) -> Ceilings {
        Ceilings {
            fma_f32_gflops: self.fma_f32_gflops,
            fma_f16_gflops: self.fma_f16_gflops,
            bandwidth_gbps: self.bandwidth_gbps,
            upload_gbps: self.upload_gbps,
            readback_gbps: self.readback_gbps,
        }
    }

    /// Reads `probe.json` from `dir` when it was measured on `device`; `Ok(None)` when
    /// absent. Another device's probe is an error: its ceilings are never applied here.
    #[cfg(feature = "native")]
    pub fn load_for(dir: &Path, device: &DeviceHeader) -> Result<Option<ProbeReport>> {
        let Some(report) = Self::load(dir)? else {
            return Ok(None);
        };
        crate::results::refuse_foreign(&Self::path(dir), &report.device, device, "probe")?;
        Ok(Some(report))
    }

    /// Writes `probe.json` into `dir` atomically, under the folder's lock.
    #[cfg(feature = "native")]
    pub fn save(&self, _lock: &crate::files::FolderLock, dir: &Path) -> Result<()> {
        save_json(&Self::path(dir), self)
    }
}

#[cfg(test)]
mod tests {
    use super::measure::Params;

    #[test]
    fn params_match_the_shader() {
        let wgsl = crate::gpu::shader!("probe/probe.wgsl").wgsl;
        assert_eq!(
            crate::gpu::wgsl_mismatch::<Params>(wgsl),
            None,
            "probe/probe.wgsl"
        );
        let wgsl = crate::gpu::shader!("probe/probe_f16.wgsl").wgsl;
        assert_eq!(
            crate::gpu::wgsl_mismatch::<Params>(wgsl),
            None,
            "probe/probe_f16.wgsl"
        );
    }
}
