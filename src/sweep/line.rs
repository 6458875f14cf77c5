//! One kernel's line through one family ([`KernelLine`]): measures or skips its points in
//! order, each next point predicted from the last one measured. The line stops — every
//! later point skipped with the reason — at its wall (a device limit or the memory budget),
//! or when a run took, or the n² law predicts one would take, longer than its phase's run
//! budget; a point that does not fit the time left is skipped alone.

use super::config::SweepConfig;
use super::families::Family;
use super::measure::{LazyRun, Measurer, Point};
use super::schedule::{Phase, long_run_samples};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::results::{ResultRow, Skip, Status};
use crate::run::{gflops, plan_for};
use crate::shape::Shape;
use std::time::Duration;
use web_time::Instant;

/// One kernel's line through one family: where it stopped, and its last measured point
/// (the next one is predicted from it).
pub(super) struct KernelLine<'a> {
    pub(super) gpu: &'a Gpu,
    pub(super) config: &'a SweepConfig,
    pub(super) family: &'a Family,
    pub(super) kernel: &'static dyn Kernel,
    /// Past this no point is started (the sweep's deadline, or the line's share of it).
    pub(super) deadline: Option<Instant>,
    pub(super) stopped: Option<Skip>,
    pub(super) last: Option<(Shape, f64)>,
}

impl<'a> KernelLine<'a> {
    /// A line not started yet.
    pub(super) fn new(
        gpu: &'a Gpu,
        config: &'a SweepConfig,
        family: &'a Family,
        kernel: &'static dyn Kernel,
    ) -> Self {
        KernelLine {
            gpu,
            config,
            family,
            kernel,
            deadline: config.deadline,
            stopped: None,
            last: None,
        }
    }

    /// The phase of its point `shape`.
    pub(super) fn phase(&self, shape: &Shape) -> Phase {
        Phase::of(&self.family.kind, self.kernel, shape)
    }

    /// ms one run at `shape` is predicted to take, from the last measured point.
    pub(super) fn predicted_ms(&self, shape: &Shape) -> Option<f64> {
        self.last
            .map(|(last, ms)| ms * growth(self.kernel, &last, shape))
    }

    /// The point at `shape`, with its samples where a run is predicted to be long.
    pub(super) fn point(&self, shape: Shape) -> Point<'a> {
        let samples = self
            .predicted_ms(&shape)
            .and_then(|ms| long_run_samples(Duration::from_secs_f64(ms / 1e3)));
        Point {
            family: &self.family.name,
            kernel: self.kernel,
            shape,
            flops: self.kernel.flops(&shape),
            samples,
        }
    }

    /// A row with the point's identity and models, nothing measured yet.
    fn row(&self, shape: &Shape) -> ResultRow {
        let (gpu, kernel) = (self.gpu, self.kernel);
        let mut row = ResultRow::new(&self.family.name, kernel.name(), shape);
        row.axis = self.family.axis();
        row.workload = self.family.workload();
        row.min_bytes = kernel.min_bytes(shape);
        row.flops = kernel.flops(shape);
        row.dtype = kernel.precision();
        row.config = kernel.config_label(shape, gpu);
        if let Ok(plan) = crate::run::memory_plan(kernel, shape, gpu) {
            row.needed_bytes = plan.total_bytes();
        }
        row
    }

    /// Measures or skips `point`; `None` when the measurer left it unmeasured.
    pub(super) fn measure(
        &mut self,
        point: &Point<'_>,
        measurer: &mut dyn Measurer,
    ) -> Result<Option<ResultRow>> {
        let shape = point.shape;
        let mut row = self.row(&shape);
        if let Some(skip) = self.skip_before(point, measurer)? {
            row.set_skip(skip);
            return Ok(Some(row));
        }
        let mut lazy = LazyRun {
            gpu: self.gpu,
            kernel: self.kernel,
            shape,
            seed: self.config.seed,
            run: None,
        };
        let measured = match measurer.measure(point, &mut lazy) {
            Ok(m) => m,
            Err(e @ (Error::OutOfMemory { .. } | Error::TooLarge { .. } | Error::Gpu { .. })) => {
                let skip = Skip::from_error(&e).expect("a device error is a skip");
                self.stop_at(shape, skip.clone());
                row.set_skip(skip);
                return Ok(Some(row));
            }
            Err(e) => return Err(e),
        };
        let Some(m) = measured else { return Ok(None) };
        row.status = Status::Ok;
        row.median_ms = Some(m.median_ms);
        row.min_ms = Some(m.min_ms);
        row.max_ms = Some(m.max_ms);
        row.samples = m.samples_ms.len() as u32;
        row.ci95_low_ms = Some(m.ci95_ms.0);
        row.ci95_high_ms = Some(m.ci95_ms.1);
        row.timing = Some(m.timing);
        row.gflops = Some(gflops(row.flops, m.median_ms));
        row.peak_buffer_bytes = lazy.peak_buffer_bytes();
        row.phases = lazy.phase_split(m.median_ms)?;
        self.last = Some((shape, m.median_ms));
        Ok(Some(row))
    }

    /// Why `point` is not measured, if it is not: the line stopped earlier, the shape is
    /// past a wall or unsupported, a run is past its phase's run budget, or the point does
    /// not fit the time left.
    fn skip_before(&mut self, point: &Point<'_>, measurer: &dyn Measurer) -> Result<Option<Skip>> {
        let shape = &point.shape;
        if let Some(stopped) = &self.stopped {
            return Ok(Some(stopped.clone()));
        }
        match plan_for(self.kernel, shape, self.gpu) {
            Ok(_) => {}
            Err(e @ (Error::TooLarge { .. } | Error::InvalidShape(_))) => {
                let skip = Skip::from_error(&e).expect("a wall is a skip");
                self.stop_at(*shape, skip.clone());
                return Ok(Some(skip));
            }
            Err(e @ Error::Unsupported { .. }) => return Ok(Skip::from_error(&e)),
            Err(e) => return Err(e),
        }
        let phase = self.phase(shape);
        if let Some(skip) = self.past_run_budget(shape, phase) {
            self.stopped = Some(skip.clone());
            return Ok(Some(skip));
        }
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(measurer.now());
            if !phase.fits(left, self.cost(point, measurer)) {
                return Ok(Some(Skip::SweepBudget {
                    left_s: left.as_secs_f64(),
                }));
            }
        }
        Ok(None)
    }

    /// The stop of a line whose last run took, or whose next run is predicted to take,
    /// longer than `phase`'s run budget.
    fn past_run_budget(&self, shape: &Shape, phase: Phase) -> Option<Skip> {
        let (last_shape, last_ms) = self.last?;
        let budget_s = phase.run_budget(self.config.time_budget).as_secs_f64();
        if last_ms > budget_s * 1e3 {
            return Some(Skip::RunBudgetExceeded {
                at: last_shape,
                took_s: last_ms / 1e3,
                budget_s,
            });
        }
        let predicted_ms = self.predicted_ms(shape)?;
        (predicted_ms > budget_s * 1e3).then(|| Skip::PredictedPastRunBudget {
            predicted_s: predicted_ms / 1e3,
            from: last_shape,
            from_s: last_ms / 1e3,
            budget_s,
        })
    }

    /// What measuring `point` is predicted to cost: its samples of a long point, else the
    /// measurer's overhead and runs.
    fn cost(&self, point: &Point<'_>, measurer: &dyn Measurer) -> Duration {
        let run_ms = self.predicted_ms(&point.shape).unwrap_or(0.0);
        let ms = match point.samples {
            Some(k) => f64::from(k) * run_ms,
            None => {
                measurer.overhead().as_secs_f64() * 1e3
                    + f64::from(measurer.runs_per_point()) * run_ms
            }
        };
        Duration::from_secs_f64(ms.max(0.0) / 1e3)
    }

    /// Every later point of the line is skipped: it hit a wall at `shape`.
    fn stop_at(&mut self, shape: Shape, cause: Skip) {
        self.stopped = Some(Skip::AfterWall {
            at: shape,
            cause: Box::new(cause),
        });
    }
}

/// How much longer a run of `kernel` at `next` should take than at `last`: the ratio of
/// the kernel's FLOPs, or of the n×n matrix for kernels that materialize it (a windowed
/// naive still writes all of it).
fn growth(kernel: &dyn Kernel, last: &Shape, next: &Shape) -> f64 {
    let flops = kernel.flops(next) / kernel.flops(last);
    if kernel.materializes_scores() {
        flops.max(next.score_matrix_bytes() as f64 / last.score_matrix_bytes() as f64)
    } else {
        flops
    }
}
