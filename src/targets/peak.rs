//! flash's share of the f32 FMA peak that `attnbench probe` measures on the same device.

use super::options::{TargetOptions, Timed, median_ms, shape_text};
use crate::bench::Bench;
use crate::error::Result;
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
    /// flash's median time and its interval.
    pub flash: Timed,
    /// flash's GFLOP/s (4·B·H·n²·d).
    pub flash_gflops: f64,
    /// f32 FMA peak probed on the device.
    pub fma_peak_gflops: f64,
    /// flash_gflops / fma_peak_gflops.
    pub fraction: f64,
}

impl PeakFraction {
    /// flash's `gflops` at `time` against the probed peak `fma_peak_gflops`.
    pub(super) fn new(
        shape: String,
        config: Option<String>,
        (time, gflops): (Timed, f64),
        fma_peak_gflops: f64,
    ) -> PeakFraction {
        PeakFraction {
            shape,
            config,
            flash: time,
            flash_gflops: gflops,
            fma_peak_gflops,
            fraction: gflops / fma_peak_gflops,
        }
    }

    /// The interval of the fraction, from the interval of the time.
    pub fn fraction_interval(&self) -> (f64, f64) {
        let (lo, hi) = self.flash.ends();
        let at = |ms: f64| self.fraction * self.flash.ms / ms.max(f64::MIN_POSITIVE);
        (at(hi), at(lo))
    }
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
            {
                let (lo, hi) = self.fraction_interval();
                let ceiling = if self.fraction > 1.0 {
                    " — above the probed peak: the probe is too low"
                } else {
                    ""
                };
                let method = self
                    .flash
                    .interval
                    .map_or("one sample".into(), |i| i.describe());
                format!(
                    "{:.1} / {:.1} GFLOP/s = **{:.0}%** ({:.0}–{:.0}%, {method}){ceiling}",
                    self.flash_gflops,
                    self.fma_peak_gflops,
                    100.0 * self.fraction,
                    100.0 * lo,
                    100.0 * hi
                )
            },
        ]
    }
}

/// flash at `options.peak_shape` against the probed peak `peak_gflops`.
pub(super) fn measure(
    bench: &Bench,
    flash: &dyn Kernel,
    options: &TargetOptions,
    peak_gflops: f64,
    log: &mut dyn FnMut(&str),
) -> Result<PeakFraction> {
    let shape = options.peak_shape;
    let (time, _) = median_ms(bench, flash, &AttentionInputs::random(shape, 1)?, options)?;
    let flash_gflops = gflops(flash.flops(&shape), time.ms);
    let p = PeakFraction::new(
        shape_text(&shape),
        crate::run::label_of(bench, flash, &shape),
        (time, flash_gflops),
        peak_gflops,
    );
    log(&format!(
        "flash {}: {}, {flash_gflops:.1} GFLOP/s = {:.0}% of {peak_gflops:.1}",
        p.shape,
        time.describe(),
        100.0 * p.fraction,
    ));
    Ok(p)
}
