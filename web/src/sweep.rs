//! The browser's sweep: for each family (the forward over n, causal and not; decode when a
//! decode kernel is asked for) and kernel, n doubles until the kernel's line stops — at a
//! device limit or the memory budget (the wall, with the bytes), at a device failure, when
//! the FLOP model predicts a run past [`RUN_BUDGET`], or when the run's budget is spent
//! (each family and kernel gets an equal share of what is left when it starts). Every
//! point not measured is a row with its reason. The native sweep's rules (`sweep::run`),
//! awaited instead of blocked on; the families, shapes, rows and skips are the library's.

use crate::events::{Event, Events};
use attnbench::Error;
use attnbench::gpu::Gpu;
use attnbench::kernels::Kernel;
use attnbench::results::{ResultRow, Skip};
use attnbench::run::{KernelRun, MeasureOptions, memory_plan, plan_for};
use attnbench::shape::Shape;
use attnbench::sweep::{Family, FamilyKind, SweepConfig, doubling, families};
use attnbench::tensors::AttentionInputs;
use std::time::Duration;
use web_time::Instant;

/// Longest one run may take (measured or predicted) before a kernel's line stops.
pub const RUN_BUDGET: Duration = Duration::from_secs(5);

/// How each point is measured: a short warm-up, then up to 10 timed runs within a second
/// (at least 3).
const MEASURE: MeasureOptions = MeasureOptions {
    warmup: 2,
    samples: 10,
    time_budget: Some(Duration::from_secs(1)),
    min_samples: 3,
};

/// What to sweep.
pub struct SweepPlan {
    /// (family, kernel) in sweep order.
    groups: Vec<(Family, &'static dyn Kernel)>,
    /// Seed of the inputs.
    seed: u64,
    /// Past this instant nothing more is measured.
    deadline: Instant,
}

impl SweepPlan {
    /// n from `min_n` doubling to `max_n` at d = 64, B = H = 1 (the native sweep's default
    /// families, so that results compare with native folders), for `kernels`.
    pub fn new(
        kernels: &[&'static dyn Kernel],
        (min_n, max_n): (u32, u32),
        seed: u64,
        deadline: Instant,
    ) -> Self {
        let config = SweepConfig {
            seq_lens: doubling(min_n, max_n),
            head_dims: vec![64],
            causal: vec![false, true],
            window: None,
            training: false,
            head_dim_sweep: Vec::new(),
            kernels: kernels.to_vec(),
            seed,
            ..SweepConfig::default()
        };
        let groups = families(&config)
            .into_iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FamilyKind::Prefill { .. } | FamilyKind::Decode { .. }
                )
            })
            .flat_map(|family| {
                kernels
                    .iter()
                    .filter(|k| k.workload() == family.workload())
                    .map(|&k| (family.clone(), k))
                    .collect::<Vec<_>>()
            })
            .collect();
        SweepPlan {
            groups,
            seed,
            deadline,
        }
    }

    /// Points in all.
    pub fn points(&self) -> usize {
        self.groups.iter().map(|(f, _)| f.shapes.len()).sum()
    }
}

/// Runs `plan` on `gpu`; `unverified(kernel)` says why a kernel must not be measured.
/// Returns one row per point, measured or skipped.
pub async fn sweep(
    gpu: &Gpu,
    plan: &SweepPlan,
    unverified: &dyn Fn(&str) -> Option<String>,
    events: &Events,
) -> Result<Vec<ResultRow>, Error> {
    let total = plan.points();
    let mut rows = Vec::with_capacity(total);
    let mut groups_left = plan.groups.len() as u32;
    for (family, kernel) in &plan.groups {
        // An equal share of the time left, so that one family cannot use up the others'.
        let now = Instant::now();
        let share = plan.deadline.saturating_duration_since(now) / groups_left.max(1);
        groups_left -= 1;
        let mut line = Line {
            gpu,
            family,
            kernel: *kernel,
            seed: plan.seed,
            deadline: now + share,
            stopped: unverified(kernel.name()).map(|reason| Skip::Unsupported { reason }),
            last: None,
        };
        for &shape in &family.shapes {
            events.emit(&Event::PointStart {
                done: rows.len(),
                total,
                family: &family.name,
                kernel: kernel.name(),
                shape: shape.to_string(),
            });
            let row = line.point(shape).await?;
            rows.push(row);
            events.emit(&Event::Point {
                done: rows.len(),
                total,
                row: rows.last().expect("pushed above"),
            });
        }
    }
    Ok(rows)
}

/// One kernel's line through one family.
struct Line<'a> {
    gpu: &'a Gpu,
    family: &'a Family,
    kernel: &'static dyn Kernel,
    seed: u64,
    deadline: Instant,
    /// Why every further point is skipped, once the line stopped.
    stopped: Option<Skip>,
    /// The last measured point and its median ms (the next is predicted from it).
    last: Option<(Shape, f64)>,
}

impl Line<'_> {
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
        if let Ok(plan) = memory_plan(kernel, shape, gpu) {
            row.needed_bytes = plan.total_bytes();
        }
        row
    }

    /// Measures or skips the point at `shape`. Only a lost device is an error.
    async fn point(&mut self, shape: Shape) -> Result<ResultRow, Error> {
        let mut row = self.row(&shape);
        if let Some(skip) = self.skip_before(&shape)? {
            row.set_skip(skip);
            return Ok(row);
        }
        match self.measure(shape).await {
            Ok((m, peak)) => {
                row.record(&m);
                row.peak_buffer_bytes = Some(peak);
                self.last = Some((shape, m.median_ms));
                let budget_s = RUN_BUDGET.as_secs_f64();
                if m.median_ms > budget_s * 1e3 {
                    self.stopped = Some(Skip::RunBudgetExceeded {
                        at: shape,
                        took_s: m.median_ms / 1e3,
                        budget_s,
                    });
                }
            }
            Err(e @ Error::DeviceLost(_)) => return Err(e),
            Err(e) => {
                // A device failure (out of memory although the plan fitted, an error the
                // browser reported): this kernel's line ends here, with the message.
                let skip = Skip::from_error(&e).unwrap_or(Skip::DeviceFailure {
                    message: e.to_string(),
                });
                self.stopped = Some(Skip::AfterWall {
                    at: shape,
                    cause: Box::new(skip.clone()),
                });
                row.set_skip(skip);
            }
        }
        Ok(row)
    }

    /// Allocates, uploads and measures; returns the measurement and the peak bytes of the
    /// run's buffers. The run's buffers are freed when it returns.
    async fn measure(&self, shape: Shape) -> Result<(attnbench::run::Measurement, u64), Error> {
        let inputs = AttentionInputs::random(shape, self.seed)?;
        let run = KernelRun::new_async(self.gpu, self.kernel, &inputs).await?;
        let m = run.measure_async(&MEASURE).await?;
        self.gpu
            .check_health(&format!("measuring {}", self.kernel.name()))?;
        Ok((m, run.peak_buffer_bytes()))
    }

    /// Why `shape` is not measured, if it is not: the line stopped, the shape is past a
    /// wall or unsupported, or it does not fit the time left or the run budget.
    fn skip_before(&mut self, shape: &Shape) -> Result<Option<Skip>, Error> {
        if let Some(stopped) = &self.stopped {
            return Ok(Some(stopped.clone()));
        }
        match plan_for(self.kernel, shape, self.gpu) {
            Ok(_) => {}
            Err(e @ (Error::TooLarge { .. } | Error::InvalidShape(_))) => {
                let skip = Skip::from_error(&e).expect("a wall is a skip");
                self.stopped = Some(Skip::AfterWall {
                    at: *shape,
                    cause: Box::new(skip.clone()),
                });
                return Ok(Some(skip));
            }
            Err(e @ Error::Unsupported { .. }) => return Ok(Skip::from_error(&e)),
            Err(e) => return Err(e),
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        let growth = |last: &Shape| growth(self.kernel, last, shape);
        // A warm-up and a few samples: about four runs.
        let predicted_ms = self.last.map_or(0.0, |(s, ms)| 4.0 * ms * growth(&s));
        if left.is_zero() || predicted_ms > left.as_secs_f64() * 1e3 {
            return Ok(Some(Skip::SweepBudget {
                left_s: left.as_secs_f64(),
            }));
        }
        if let Some((last_shape, last_ms)) = self.last {
            let predicted_ms = last_ms * growth(&last_shape);
            let budget_s = RUN_BUDGET.as_secs_f64();
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
}

/// How much longer a run of `kernel` at `next` should take than at `last`: the ratio of
/// the FLOPs, or of the n×n matrix for kernels that materialize it (as the native sweep
/// predicts).
fn growth(kernel: &dyn Kernel, last: &Shape, next: &Shape) -> f64 {
    let flops = kernel.flops(next) / kernel.flops(last);
    if kernel.materializes_scores() {
        flops.max(next.score_matrix_bytes() as f64 / last.score_matrix_bytes() as f64)
    } else {
        flops
    }
}
