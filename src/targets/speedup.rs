//! flash's speedup over naive at n = 512 … 4096, d = 64 and 128 (B = H = 1): the
//! quadratic wall as a ratio.

use super::options::{Ratio, TargetOptions, Timed, interleaved, median_ms};
use crate::bench::Bench;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::shape::Shape;
use crate::tensors::AttentionInputs;
use serde::Serialize;
use std::time::Instant;

/// flash against naive at one shape.
#[derive(Clone, Debug, Serialize)]
pub struct Speedup {
    /// Head dim d.
    pub head_dim: u32,
    /// Sequence length n.
    pub seq_len: u32,
    /// naive's time (None when naive could not run; `note` says why), interleaved with
    /// flash's.
    pub naive: Option<Timed>,
    /// flash's time.
    pub flash: Timed,
    /// naive / flash.
    pub speedup: Option<Ratio>,
    /// Why naive did not run, when it did not.
    pub note: Option<String>,
}

/// flash and naive at every (head dim, n) of `options`, n ascending; naive is skipped with
/// the reason where it cannot run or where the n² law predicts it would pass the deadline.
pub(super) fn measure(
    bench: &Bench,
    (flash, naive): (&dyn Kernel, &dyn Kernel),
    options: &TargetOptions,
    skipped: &mut Vec<String>,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<Speedup>> {
    let mut speedups = Vec::new();
    let mut last_naive: Option<(u32, u32, f64)> = None;
    for &head_dim in &options.speedup_head_dims {
        for &seq_len in &options.speedup_seq_lens {
            if !options.time_for_flash(
                &format!("flash over naive at d {head_dim} n {seq_len}"),
                &Shape::new(seq_len, head_dim),
                skipped,
            ) {
                continue;
            }
            let shape = Shape::new(seq_len, head_dim);
            let inputs = AttentionInputs::random(shape, 2)?;
            // With a deadline, naive is predicted from its last point by the n² law (a
            // warm-up and a few timed runs): one naive run at n = 4096 takes seconds to half
            // a minute on lavapipe.
            let naive_predicted_s = last_naive
                .filter(|&(d, _, _)| d == head_dim)
                .map(|(_, n, ms)| 4.0 * ms * (f64::from(seq_len) / f64::from(n)).powi(2) / 1e3);
            let left_s = options
                .deadline
                .map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64());
            let naive_fits = match (naive_predicted_s, left_s) {
                (Some(p), Some(left)) if p > left => Err(format!(
                    "naive not measured: predicted {p:.0} s by the n² law, {left:.0} s of the time budget left"
                )),
                _ => crate::run::PointPlan::checked(bench, naive, &shape)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            // Both kernels interleaved, so that their ratio holds whatever the machine does.
            let (flash_time, naive_time, note) = match naive_fits {
                Ok(()) => match interleaved(bench, (flash, &inputs), (naive, &inputs), options) {
                    Ok((f, n)) => (f, Some(n), None),
                    Err(e) if e.is_input_error() || matches!(e, Error::Unsupported { .. }) => (
                        median_ms(bench, flash, &inputs, options)?.0,
                        None,
                        Some(e.to_string()),
                    ),
                    Err(e) => return Err(e),
                },
                Err(reason) => (
                    median_ms(bench, flash, &inputs, options)?.0,
                    None,
                    Some(reason),
                ),
            };
            if let Some(n) = naive_time {
                last_naive = Some((head_dim, seq_len, n.ms));
            }
            log(&format!(
                "d {head_dim} n {seq_len}: naive {}, flash {}",
                naive_time.map_or("-".into(), |t| t.describe()),
                flash_time.describe()
            ));
            speedups.push(Speedup {
                head_dim,
                seq_len,
                naive: naive_time,
                flash: flash_time,
                speedup: naive_time.map(|n| n.ratio(&flash_time)),
                note,
            });
        }
    }

    Ok(speedups)
}
