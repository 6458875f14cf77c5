//! flash's share of the f32 FMA peak that `attnbench probe` measures on the same device.

use super::options::{TargetOptions, median_ms, shape_text};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::run::gflops;
use crate::tensors::AttentionInputs;
use serde::Serialize;

/// flash's share of the probed FMA peak.
#[derive(Clone, Debug, Serialize)]
pub struct PeakFraction {
    /// The shape (`B×H×n×d`).
    pub shape: String,
    /// flash's tile configuration.
    pub config: Option<String>,
    /// flash's median ms.
    pub flash_ms: f64,
    /// flash's GFLOP/s (4·B·H·n²·d).
    pub flash_gflops: f64,
    /// f32 FMA peak probed on the device.
    pub fma_peak_gflops: f64,
    /// flash_gflops / fma_peak_gflops.
    pub fraction: f64,
}

impl PeakFraction {
    /// The report's table row: flash's rate against the probed peak.
    pub fn table_row(&self) -> [String; 2] {
        [
            format!(
                "flash f32 {} ({}) vs probed f32 FMA peak",
                self.shape,
                self.config.as_deref().unwrap_or("-")
            ),
            format!(
                "{:.1} / {:.1} GFLOP/s = **{:.0}%**",
                self.flash_gflops,
                self.fma_peak_gflops,
                100.0 * self.fraction
            ),
        ]
    }
}

/// flash at `options.peak_shape` against the probed peak `peak_gflops`.
pub(super) fn measure(
    gpu: &Gpu,
    flash: &dyn Kernel,
    options: &TargetOptions,
    peak_gflops: f64,
    log: &mut dyn FnMut(&str),
) -> Result<PeakFraction> {
    let shape = options.peak_shape;
    let (flash_ms, _) = median_ms(gpu, flash, &AttentionInputs::random(shape, 1)?, options)?;
    let flash_gflops = gflops(flash.flops(&shape), flash_ms);
    let p = PeakFraction {
        shape: shape_text(&shape),
        config: flash.config_label(&shape, gpu),
        flash_ms,
        flash_gflops,
        fma_peak_gflops: peak_gflops,
        fraction: flash_gflops / peak_gflops,
    };
    log(&format!(
        "flash {}: {flash_ms:.1} ms, {flash_gflops:.1} GFLOP/s = {:.0}% of {peak_gflops:.1}",
        p.shape,
        100.0 * p.fraction,
    ));
    Ok(p)
}
