//! One kernel's line through one family ([`Line`]): its points in order, each next point
//! predicted from the last one measured. The line stops — every later point skipped with
//! the reason — at its wall (a device limit or the memory budget, or a device failure while
//! measuring), or when a run took, or the n² law predicts one would take, longer than its
//! phase's run budget; a point that does not fit the time left is skipped alone. No I/O:
//! the runner ([`super::SweepRunner`]) hands measurements in.

use super::config::SweepConfig;
use super::families::Family;
use super::schedule::{Phase, long_run_samples};
use crate::bench::Planner;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::results::{ResultRow, Skip};
use crate::run::{Measurement, PointPlan, measured, planned_row};
use crate::shape::Shape;
use std::time::Duration;
use web_time::Instant;

/// What measuring a point gave.
#[derive(Clone, Debug)]
pub struct PointMeasured {
    /// Its timed samples.
    pub measurement: Measurement,
    /// The peak bytes of the run's buffers.
    pub peak_buffer_bytes: u64,
    /// Where the time went, phase by phase, for kernels that name their phases.
    pub phases: Option<crate::results::PhaseSplit>,
}

/// What a driver's way of measuring costs besides the runs themselves, so that a deadline
/// can tell whether a point still fits.
#[derive(Clone, Copy, Debug, Default)]
pub struct MeasureCost {
    /// Time a point costs besides its runs (criterion's warm-up and measurement windows).
    pub overhead: Duration,
    /// Runs a point costs at the least (warm-up and samples) when it is not long.
    pub runs_per_point: u32,
}

/// One kernel's line through one family: where it stopped, and its last measured point
/// (the next one is predicted from it).
pub(super) struct Line<'a> {
    pub(super) family: &'a Family,
    pub(super) kernel: &'static dyn Kernel,
    /// Past this no point is started (the sweep's deadline, or the line's share of it).
    pub(super) deadline: Option<Instant>,
    stopped: Option<Skip>,
    last: Option<(Shape, f64)>,
}

impl<'a> Line<'a> {
    /// A line not started yet; `stopped` where every point is skipped for a reason known
    /// before it starts (e.g. the kernel failed its verification).
    pub(super) fn new(
        family: &'a Family,
        kernel: &'static dyn Kernel,
        deadline: Option<Instant>,
        stopped: Option<Skip>,
    ) -> Self {
        Line {
            family,
            kernel,
            deadline,
            stopped,
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

    /// The samples of a point at `shape` whose one run is predicted to be long.
    pub(super) fn samples(&self, shape: &Shape) -> Option<u32> {
        self.predicted_ms(shape)
            .and_then(|ms| long_run_samples(Duration::from_secs_f64(ms / 1e3)))
    }

    /// A row with the point's identity and models, and what `plan` says of it, nothing
    /// measured yet.
    pub(super) fn row(&self, shape: &Shape, plan: Option<&PointPlan<'_>>) -> ResultRow {
        let mut row = planned_row(&self.family.name, self.kernel, shape, plan);
        row.family_kind = Some(self.family.kind);
        row.axis = self.family.axis();
        row.workload = self.family.workload();
        row
    }

    /// The plan of the point at `shape`, or why it is not measured: the line stopped
    /// earlier, the shape is past a wall or unsupported, a run is past its phase's run
    /// budget, or the point does not fit the time left. The row carries what the plan says
    /// either way.
    pub(super) fn plan(
        &mut self,
        planner: &Planner<'_>,
        config: &SweepConfig,
        shape: &Shape,
        (now, cost): (Instant, MeasureCost),
    ) -> Result<std::result::Result<PointPlan<'static>, ResultRow>> {
        let skipped = |row: ResultRow, skip: Skip| {
            let mut row = row;
            row.set_skip(skip);
            Ok(Err(row))
        };
        if let Some(stopped) = &self.stopped {
            return skipped(self.row(shape, None), stopped.clone());
        }
        // A (kernel, pass) no check covered is not measured: no number of an unverified
        // kernel is published.
        let name = self.kernel.name();
        let mut unverified = config.unverified.iter();
        if let Some((.., why)) = unverified.find(|(k, pass, _)| *k == name && *pass == shape.pass) {
            let reason = why.clone();
            return skipped(self.row(shape, None), Skip::Unverified { reason });
        }
        let plan = match PointPlan::on(planner, self.kernel, shape) {
            Ok(plan) => plan,
            Err(e @ Error::InvalidShape(_)) => return self.wall(shape, self.row(shape, None), &e),
            Err(e @ (Error::Unsupported { .. } | Error::TooLarge { .. })) => {
                let row = self.row(shape, None);
                return match e {
                    Error::TooLarge { .. } => self.wall(shape, row, &e),
                    _ => skipped(row, Skip::from_error(&e).expect("a refusal is a skip")),
                };
            }
            Err(e) => return Err(e),
        };
        let row = self.row(shape, Some(&plan));
        if let Err(e) = plan.check_on(planner) {
            return match e {
                Error::TooLarge { .. } => self.wall(shape, row, &e),
                other => Err(other),
            };
        }
        let phase = self.phase(shape);
        if let Some(skip) = self.past_run_budget(shape, phase, config.time_budget) {
            self.stopped = Some(skip.clone());
            return skipped(row, skip);
        }
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(now);
            if !phase.fits(left, self.cost(shape, cost)) {
                return skipped(
                    row,
                    Skip::SweepBudget {
                        left_s: left.as_secs_f64(),
                    },
                );
            }
        }
        Ok(Ok(plan))
    }

    /// The row of a point past the line's wall (`error`): skipped, and every later point
    /// with it.
    fn wall(
        &mut self,
        shape: &Shape,
        mut row: ResultRow,
        error: &Error,
    ) -> Result<std::result::Result<PointPlan<'static>, ResultRow>> {
        let skip = Skip::from_error(error).expect("a wall is a skip");
        self.stop_at(*shape, skip.clone());
        row.set_skip(skip);
        Ok(Err(row))
    }

    /// The row of a point measured (`Ok(Some)`), not measured this time (`Ok(None)`, e.g.
    /// filtered out: `None`), or failed: a device error is the line's wall (the row skipped
    /// with the message), any other error ends the sweep.
    pub(super) fn record(
        &mut self,
        plan: &PointPlan<'_>,
        outcome: Result<Option<PointMeasured>>,
    ) -> Result<Option<ResultRow>> {
        let shape = *plan.shape();
        let mut row = self.row(&shape, Some(plan));
        match outcome {
            Ok(None) => Ok(None),
            Ok(Some(point)) => {
                let m = &point.measurement;
                self.last = Some((shape, m.median_ms));
                let mut row = measured(row, m, point.peak_buffer_bytes);
                row.phases = point.phases;
                Ok(Some(row))
            }
            Err(e @ (Error::OutOfMemory { .. } | Error::TooLarge { .. } | Error::Gpu { .. })) => {
                let skip = Skip::from_error(&e).expect("a device error is a skip");
                self.stop_at(shape, skip.clone());
                row.set_skip(skip);
                Ok(Some(row))
            }
            Err(e) => Err(e),
        }
    }

    /// The stop of a line whose last run took, or whose next run is predicted to take,
    /// longer than `phase`'s run budget.
    fn past_run_budget(&self, shape: &Shape, phase: Phase, per_run: Duration) -> Option<Skip> {
        let (last_shape, last_ms) = self.last?;
        let budget_s = phase.run_budget(per_run).as_secs_f64();
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

    /// What measuring the point at `shape` is predicted to cost: its samples of a long
    /// point, else the driver's overhead and runs.
    fn cost(&self, shape: &Shape, cost: MeasureCost) -> Duration {
        let run_ms = self.predicted_ms(shape).unwrap_or(0.0);
        let ms = match self.samples(shape) {
            Some(k) => f64::from(k) * run_ms,
            None => cost.overhead.as_secs_f64() * 1e3 + f64::from(cost.runs_per_point) * run_ms,
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
