//! Running a sweep: for each family and kernel, n doubles through the family's points. A
//! kernel's line stops — every later point recorded as skipped with the reason — at its
//! wall (a device limit or the memory budget), when the n² law predicts one run past the
//! time budget of a run, or when one run took longer. With a deadline, each (family,
//! kernel) gets a share of the time left ([`Schedule`]); points past it are skipped for lack
//! of time. How a point is timed is the [`Measurer`]'s business (criterion in `cargo bench`,
//! [`Sampler`] elsewhere).

use super::config::SweepConfig;
use super::families::{Family, families};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::results::{ResultRow, Skip, Status};
use crate::run::{KernelRun, MeasureOptions, Measurement, gflops, plan_for};
use crate::shape::Shape;
use crate::tensors::AttentionInputs;
use std::time::Duration;
use web_time::Instant;

/// One point of the sweep, handed to the measurer.
pub struct Point<'a> {
    /// Family name.
    pub family: &'a str,
    /// The kernel.
    pub kernel: &'static dyn Kernel,
    /// The problem.
    pub shape: Shape,
    /// FLOP model of the problem.
    pub flops: f64,
}

/// The device-resident run of a point, created on first use so that points a measurer
/// filters out (e.g. criterion's name filters) allocate nothing.
pub struct LazyRun<'g> {
    gpu: &'g Gpu,
    kernel: &'static dyn Kernel,
    shape: Shape,
    seed: u64,
    run: Option<KernelRun<'g>>,
}

impl<'g> LazyRun<'g> {
    /// The run, allocating and uploading on the first call.
    pub fn get(&mut self) -> Result<&KernelRun<'g>> {
        if self.run.is_none() {
            let inputs = AttentionInputs::random(self.shape, self.seed)?;
            self.run = Some(KernelRun::new(self.gpu, self.kernel, &inputs)?);
        }
        Ok(self.run.as_ref().expect("set above"))
    }

    /// Peak buffer bytes, when the run was created.
    pub fn peak_buffer_bytes(&self) -> Option<u64> {
        self.run.as_ref().map(|r| r.peak_buffer_bytes())
    }
}

/// How a point is measured: `Ok(None)` means "not measured this time" (filtered out), and
/// the existing result, if any, is kept.
pub trait Measurer {
    /// Measures one point.
    fn measure(&mut self, point: &Point<'_>, run: &mut LazyRun<'_>) -> Result<Option<Measurement>>;
    /// Called before each point (progress display).
    fn progress(&mut self, _point: &Point<'_>, _done: usize, _total: usize) {}
    /// Time a point costs besides its runs (criterion's warm-up and measurement windows),
    /// counted when a deadline decides whether a point still fits.
    fn overhead(&self) -> Duration {
        Duration::ZERO
    }
}

/// A progress callback: the point about to be measured, the points done, the total.
pub type Progress<'p> = Box<dyn FnMut(&Point<'_>, usize, usize) + 'p>;

/// The measurer of `attnbench sweep` and `suite`: warm-up and timed runs as `options`
/// say, with an optional progress callback.
pub struct Sampler<'p> {
    /// How to measure each point.
    pub options: MeasureOptions,
    /// Called before each point.
    pub on_progress: Option<Progress<'p>>,
}

impl Measurer for Sampler<'_> {
    fn measure(
        &mut self,
        _point: &Point<'_>,
        run: &mut LazyRun<'_>,
    ) -> Result<Option<Measurement>> {
        Ok(Some(run.get()?.measure(&self.options)?))
    }

    fn progress(&mut self, point: &Point<'_>, done: usize, total: usize) {
        if let Some(f) = self.on_progress.as_mut() {
            f(point, done, total);
        }
    }
}

/// How a deadline is shared: each (family, kernel) gets an equal share of the time left
/// when it starts, so that one family cannot use up the budget of the others.
struct Schedule {
    deadline: Option<Instant>,
    groups_left: u32,
}

impl Schedule {
    /// The deadline of the next group.
    fn next_group(&mut self) -> Option<Instant> {
        let share = self.deadline.map(|d| {
            let now = Instant::now();
            now + d.saturating_duration_since(now) / self.groups_left.max(1)
        });
        self.groups_left = self.groups_left.saturating_sub(1);
        share
    }
}

/// The kernels of `config` that run `family`: its workload, and a backward where it times
/// one.
fn kernels_of(config: &SweepConfig, family: &Family) -> Vec<&'static dyn Kernel> {
    config
        .kernels
        .iter()
        .copied()
        .filter(|k| k.workload() == family.workload())
        .filter(|k| !family.kind.pass().has_backward() || k.backward().is_some())
        .collect()
}

/// Runs the sweep on `gpu`; returns one row per point (measured or skipped). Interrupted
/// ([`crate::interrupt`]), it returns the rows of the points finished so far.
pub fn run_sweep(
    gpu: &Gpu,
    config: &SweepConfig,
    measurer: &mut dyn Measurer,
) -> Result<Vec<ResultRow>> {
    // Measure the kernels as tuned for this device (`attnbench tune`), when it was.
    #[cfg(feature = "native")]
    crate::tuning::apply(gpu, &config.results_dir)?;
    let families = families(config);
    let groups: Vec<(&Family, &'static dyn Kernel)> = families
        .iter()
        .flat_map(|f| kernels_of(config, f).into_iter().map(move |k| (f, k)))
        .collect();
    let total = groups.iter().map(|(f, _)| f.shapes.len()).sum();
    let mut schedule = Schedule {
        deadline: config.deadline,
        groups_left: groups.len() as u32,
    };
    let mut rows = Vec::new();
    let mut done = 0;
    for (family, kernel) in groups {
        let mut line = KernelLine {
            gpu,
            config,
            family,
            kernel,
            deadline: schedule.next_group(),
            stopped: None,
            last: None,
        };
        for &shape in &family.shapes {
            // Ctrl-C: the points measured so far are returned, to be saved.
            if crate::interrupt::requested() {
                return Ok(rows);
            }
            let point = Point {
                family: &family.name,
                kernel,
                shape,
                flops: kernel.flops(&shape),
            };
            measurer.progress(&point, done, total);
            done += 1;
            match line.point(&point, measurer) {
                Ok(Some(row)) => rows.push(row),
                Ok(None) => {}
                Err(Error::Interrupted) => return Ok(rows),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(rows)
}

/// One kernel's line through one family: where it stopped, and its last measured point
/// (the next one is predicted from it).
struct KernelLine<'a> {
    gpu: &'a Gpu,
    config: &'a SweepConfig,
    family: &'a Family,
    kernel: &'static dyn Kernel,
    deadline: Option<Instant>,
    stopped: Option<Skip>,
    last: Option<(Shape, f64)>,
}

impl KernelLine<'_> {
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
    fn point(
        &mut self,
        point: &Point<'_>,
        measurer: &mut dyn Measurer,
    ) -> Result<Option<ResultRow>> {
        let shape = point.shape;
        let mut row = self.row(&shape);
        if let Some(skip) = self.skip_before(&shape, measurer)? {
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
        self.last = Some((shape, m.median_ms));
        let budget_s = self.config.time_budget.as_secs_f64();
        if m.median_ms > budget_s * 1e3 {
            self.stopped = Some(Skip::RunBudgetExceeded {
                at: shape,
                took_s: m.median_ms / 1e3,
                budget_s,
            });
        }
        Ok(Some(row))
    }

    /// Why `shape` is not measured, if it is not: the line stopped earlier, the shape is
    /// past a wall or unsupported, or it does not fit the time left or the run budget.
    fn skip_before(&mut self, shape: &Shape, measurer: &dyn Measurer) -> Result<Option<Skip>> {
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
        let growth = |last: &Shape| growth(self.kernel, last, shape);
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            // The next run is predicted from the last (the FLOP model); a run needs a
            // warm-up and a few samples.
            let predicted = measurer.overhead().as_secs_f64() * 1e3
                + self.last.map_or(0.0, |(s, ms)| 4.0 * ms * growth(&s));
            if left.is_zero() || predicted > left.as_secs_f64() * 1e3 {
                return Ok(Some(Skip::SweepBudget {
                    left_s: left.as_secs_f64(),
                }));
            }
        }
        if let Some((last_shape, last_ms)) = self.last {
            let predicted_ms = last_ms * growth(&last_shape);
            let budget_s = self.config.time_budget.as_secs_f64();
            if predicted_ms > budget_s * 1e3 {
                let skip = Skip::PredictedPastRunBudget {
                    predicted_s: predicted_ms / 1e3,
                    from: last_shape,
                    from_s: last_ms / 1e3,
                    budget_s,
                };
                self.stopped = Some(skip.clone());
                return Ok(Some(skip));
            }
        }
        Ok(None)
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
