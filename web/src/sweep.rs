//! The browser's driver of the core sweep ([`SweepRunner`] on [`SweepConfig::page`]): the
//! same points, phases, stop rules and skip reasons as `cargo bench` and `attnbench sweep`, awaited
//! instead of blocked on. Each point the runner yields is measured here with warm-up and
//! timed runs ([`MEASURE`], or a long point's own samples), its run's buffers freed before
//! the next; every point not measured is a row with its reason.

use crate::events::{Event, Events};
use attnbench::results::{ResultRow, Skip};
use attnbench::run::{KernelRun, MeasureOptions, Measurement};
use attnbench::sweep::{Family, MeasureCost, SweepConfig, SweepPoint, SweepRunner, SweepStep};
use attnbench::tensors::AttentionInputs;
use attnbench::{Bench, Error, Kernel};
use std::time::Duration;
use web_time::Instant;

/// How each point is measured: a short warm-up, then up to 10 timed runs within a second
/// (at least 3).
const MEASURE: MeasureOptions = MeasureOptions {
    warmup: 2,
    samples: 10,
    time_budget: Some(Duration::from_secs(1)),
    min_samples: 3,
};

/// What to sweep: the core's page sweep ([`SweepConfig::page`]) and its families.
pub struct SweepPlan {
    config: SweepConfig,
    families: Vec<Family>,
}

impl SweepPlan {
    /// n from `min_n` doubling to `max_n` for `kernels`, inputs from `seed`, nothing started
    /// past `deadline`.
    pub fn new(
        kernels: &[&'static dyn Kernel],
        (min_n, max_n): (u32, u32),
        seed: u64,
        deadline: Instant,
    ) -> Self {
        let config = SweepConfig::page(kernels, (min_n, max_n), seed, deadline);
        let families = config.page_families();
        SweepPlan { config, families }
    }

    /// Points in all.
    pub fn points(&self) -> usize {
        let kernels = &self.config.kernels;
        self.families
            .iter()
            .map(|f| {
                let lines = kernels
                    .iter()
                    .filter(|k| k.workload() == f.workload())
                    .count();
                lines * f.shapes.len()
            })
            .sum()
    }
}

/// What measuring a point costs besides its runs: the warm-up and samples of [`MEASURE`].
fn cost() -> MeasureCost {
    MeasureCost {
        overhead: Duration::ZERO,
        runs_per_point: MEASURE.warmup + MEASURE.samples,
    }
}

/// Runs `plan` on `bench`; `unverified(kernel)` says why a kernel must not be measured.
/// Returns one row per point, measured or skipped. Only a lost device, or an error that is
/// not the device's, ends the sweep early.
pub async fn sweep(
    bench: &Bench,
    plan: &SweepPlan,
    unverified: &dyn Fn(&str) -> Option<String>,
    events: &Events,
) -> Result<Vec<ResultRow>, Error> {
    let excluded = |kernel: &dyn Kernel, _: &Family| {
        unverified(kernel.name()).map(|reason| Skip::Unsupported { reason })
    };
    let mut runner = SweepRunner::new(
        bench.planner(),
        &plan.config,
        &plan.families,
        cost(),
        &excluded,
    );
    while let Some(step) = runner.next(Instant::now())? {
        let (done, total) = runner.progress();
        match step {
            SweepStep::Skipped(row) => events.emit(&Event::Point {
                done,
                total,
                row: &row,
            }),
            SweepStep::Measure(point) => {
                events.emit(&Event::PointStart {
                    done: done - 1,
                    total,
                    family: point.family,
                    kernel: point.kernel.name(),
                    shape: point.shape.to_string(),
                });
                let outcome = measure(bench, &point, plan.config.seed).await;
                if let Err(e @ Error::DeviceLost(_)) = outcome {
                    return Err(e);
                }
                if let Some(row) = runner.record(point, outcome.map(Some))? {
                    events.emit(&Event::Point {
                        done,
                        total,
                        row: &row,
                    });
                }
            }
        }
    }
    Ok(runner.finish())
}

/// Allocates, uploads and measures `point`; returns the measurement and the peak bytes of
/// the run's buffers. The run's buffers are freed when it returns.
async fn measure(
    bench: &Bench,
    point: &SweepPoint<'_>,
    seed: u64,
) -> Result<(Measurement, u64), Error> {
    let inputs = AttentionInputs::random(point.shape, seed)?;
    let run = KernelRun::new_async(bench, &point.plan, &inputs).await?;
    let options = match point.samples {
        // A long point: no warm-up, exactly its samples.
        Some(k) => MeasureOptions {
            warmup: 0,
            samples: k,
            time_budget: None,
            min_samples: k,
        },
        None => MEASURE,
    };
    let m = run.measure_async(&options).await?;
    bench.check_health(&format!("measuring {}", point.kernel.name()))?;
    Ok((m, run.peak_buffer_bytes()))
}
