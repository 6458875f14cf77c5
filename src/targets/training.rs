//! The training targets, measured as ratios in one run on one adapter:
//! 1. flash's backward against naive's at n = 2048, d = 64, B = H = 1;
//! 2. flash's backward at B = 2, H = 4, n = 2048, d = 64 as a share of the probed f32 FMA
//!    peak (FlashAttention's FLOP model: 2.5 forwards), beside flash's forward at the same
//!    shape (FlashAttention-2's backward keeps ~80% of its forward's efficiency);
//! 3. peak bytes of the backward at n = 4096, d = 64: naive's two n×n matrices against
//!    flash's O(n·d) (allocations only: nothing is timed).

use super::options::{Ratio, TargetOptions, Timed, interleaved, or_skip, shape_text};
use super::peak::PeakFraction;
use crate::bench::Bench;
use crate::error::Result;
use crate::kernels::Kernel;
use crate::markdown::{Align, Table};
use crate::run::{KernelRun, gflops};
use crate::shape::Pass;
use crate::tensors::AttentionInputs;
use serde::Serialize;

/// flash's backward against naive's.
#[derive(Clone, Debug, Serialize)]
pub struct BackwardSpeedup {
    /// The shape.
    pub shape: String,
    /// naive's backward (interleaved with flash's).
    pub naive: Timed,
    /// flash's backward.
    pub flash: Timed,
    /// naive / flash.
    pub speedup: Ratio,
}

/// flash's backward and forward efficiency at one shape.
#[derive(Clone, Debug, Serialize)]
pub struct BackwardPeak {
    /// The backward against the peak (FLOPs: 10·B·H·n²·d).
    pub backward: PeakFraction,
    /// flash's forward at the same shape, GFLOP/s (4·B·H·n²·d), interleaved with the
    /// backward.
    pub forward_gflops: f64,
    /// The backward's share of the peak over the forward's.
    pub of_forward: f64,
}

/// Peak bytes of the backward.
#[derive(Clone, Debug, Serialize)]
pub struct BackwardMemory {
    /// The shape.
    pub shape: String,
    /// naive's peak buffer bytes (its forward and backward: Q, K, V, O, dO, the gradients,
    /// P and dP).
    pub naive_bytes: u64,
    /// flash's.
    pub flash_bytes: u64,
    /// Bytes of one B·H·n×n f32 matrix.
    pub matrix_bytes: u64,
}

/// Everything the training targets measured (each `None` when not measured; the report's
/// `skipped` says why).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Training {
    /// flash's backward against naive's.
    pub speedup: Option<BackwardSpeedup>,
    /// flash's backward against the FMA peak.
    pub peak: Option<BackwardPeak>,
    /// The backward's peak bytes.
    pub memory: Option<BackwardMemory>,
}

/// Measures the training targets against the probed `peak_gflops`. A step the device cannot
/// hold is recorded in `skipped` with the reason; the others still run.
pub(super) fn measure(
    bench: &Bench,
    options: &TargetOptions,
    peak_gflops: f64,
    skipped: &mut Vec<String>,
    log: &mut dyn FnMut(&str),
) -> Result<Training> {
    let shapes = &options.training;
    let flash: &dyn Kernel = &crate::kernels::flash::FLASH;
    let naive: &dyn Kernel = &crate::kernels::naive::NAIVE;
    let mut out = Training::default();

    let what = "flash's backward against naive's";
    let shape = shapes.speedup;
    if options.time_for(what, skipped) {
        out.speedup = or_skip(what, skipped, || {
            let inputs = AttentionInputs::random(shape, 12)?;
            let (flash_time, naive_time) =
                interleaved(bench, (flash, &inputs), (naive, &inputs), options)?;
            log(&format!(
                "backward {}: flash {}, naive {}",
                shape_text(&shape),
                flash_time.describe(),
                naive_time.describe()
            ));
            Ok(BackwardSpeedup {
                shape: shape_text(&shape),
                naive: naive_time,
                flash: flash_time,
                speedup: naive_time.ratio(&flash_time),
            })
        })?;
    }

    let what = "flash's backward against the FMA peak";
    let shape = shapes.peak;
    if options.time_for_flash(what, &shape, skipped) {
        out.peak = or_skip(what, skipped, || {
            let inputs = AttentionInputs::random(shape, 13)?;
            let forward = shape.forward();
            let (time, fwd_time) = interleaved(
                bench,
                (flash, &inputs),
                (flash, &inputs.clone().for_pass(Pass::Forward, 13)),
                options,
            )?;
            let g = gflops(flash.flops(&shape), time.ms);
            let forward_gflops = gflops(flash.flops(&forward), fwd_time.ms);
            log(&format!(
                "flash backward {}: {}, {g:.1} GFLOP/s of {peak_gflops:.1} (forward {forward_gflops:.1})",
                shape_text(&shape),
                time.describe()
            ));
            Ok(BackwardPeak {
                backward: PeakFraction::new(
                    format!("{} bwd", shape_text(&shape)),
                    crate::run::label_of(bench, flash, &shape),
                    (time, g),
                    peak_gflops,
                ),
                forward_gflops,
                of_forward: g / forward_gflops,
            })
        })?;
    }

    let what = "the backward's peak bytes";
    let shape = shapes.memory;
    if options.time_for(what, skipped) {
        out.memory = or_skip(what, skipped, || {
            let inputs = AttentionInputs::random(shape, 14)?;
            // Allocation (and the backward's untimed forward) is all it takes.
            let peak = |kernel: &dyn Kernel| -> Result<u64> {
                Ok(KernelRun::plan_new(bench, kernel, &inputs)?.peak_buffer_bytes())
            };
            let naive_bytes = peak(naive)?;
            let flash_bytes = peak(flash)?;
            log(&format!(
                "backward peak bytes {}: naive {naive_bytes}, flash {flash_bytes}",
                shape_text(&shape)
            ));
            Ok(BackwardMemory {
                shape: shape_text(&shape),
                naive_bytes,
                flash_bytes,
                matrix_bytes: shape.score_matrix_bytes(),
            })
        })?;
    }
    Ok(out)
}

impl Training {
    /// The section of `targets.md`.
    pub fn markdown(&self) -> String {
        let mut table =
            Table::of_markdown([("training target", Align::Left), ("measured", Align::Left)]);
        if let Some(s) = &self.speedup {
            table.row([
                format!("flash bwd vs naive bwd, {} (goal ≥ 5×)", s.shape),
                format!(
                    "{} vs {} (interleaved) = {}",
                    s.flash.describe(),
                    s.naive.describe(),
                    s.speedup.describe()
                ),
            ]);
        }
        if let Some(p) = &self.peak {
            let [what, measured] = p.backward.table_row();
            table.row([
                format!("{what} (goal ≥ 25%; FLOPs 10·B·H·n²·d)"),
                format!(
                    "{measured}; forward at the same shape {:.1} GFLOP/s, so the backward keeps {:.0}% of its efficiency",
                    p.forward_gflops,
                    100.0 * p.of_forward
                ),
            ]);
        }
        if let Some(m) = &self.memory {
            let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
            table.row([
                format!(
                    "peak bytes of the backward, {} (goal: naive ≥ 2 × {:.0} MB, flash ≤ 12 MiB)",
                    m.shape,
                    m.matrix_bytes as f64 / 1e6
                ),
                format!(
                    "naive **{:.1} MiB** ({:.2} × the n×n matrix), flash **{:.1} MiB**",
                    mib(m.naive_bytes),
                    m.naive_bytes as f64 / m.matrix_bytes as f64,
                    mib(m.flash_bytes)
                ),
            ]);
        }
        if table.is_empty() {
            return String::new();
        }
        format!(
            "\n### Training (the backward pass)\n\nTimes are the backward alone (its forward runs untimed), medians.\n\n{}",
            table.render()
        )
    }
}
