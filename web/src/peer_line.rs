//! The peer's line through one family: its points come up as the sweep reaches their n
//! (interleaved with attnbench's kernels at each n) and follow the same stop rules as a
//! kernel's line: a run past the page's run budget, or predicted past it by the FLOP
//! model, stops the line; a point that does not fit the time left is skipped alone; a
//! failure, or an output that is not attention, ends the line. Long points are sampled as
//! attnbench's are (`point_options`).

use crate::peer::{PeerPoint, measured_row, planned};
use attnbench::results::{ResultRow, Skip};
use attnbench::run::MeasureOptions;
use attnbench::sweep::{Family, long_run_samples, point_options};
use attnbench::{Shape, find_kernel};
use std::time::Duration;
use web_time::Instant;

/// Time a peer point costs besides its runs: a session, its programs compiled.
const SESSION_OVERHEAD: Duration = Duration::from_millis(500);

/// The peer's line through a family.
pub struct PeerLine {
    /// The family's name.
    pub family: String,
    shapes: Vec<Shape>,
    rows: Vec<Option<ResultRow>>,
    last: Option<(Shape, f64)>,
    stopped: Option<Skip>,
}

impl PeerLine {
    /// The line through `family`; `refused`: why none of its points can be measured.
    pub fn new(family: &Family, refused: Option<Skip>) -> Self {
        PeerLine {
            family: family.name.clone(),
            shapes: family.shapes.clone(),
            rows: vec![None; family.shapes.len()],
            last: None,
            stopped: refused,
        }
    }

    /// Points in all.
    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    /// The point at `seq_len` not handled yet, if there is one.
    pub fn pending(&self, seq_len: u32) -> Option<usize> {
        (0..self.shapes.len())
            .find(|&i| self.shapes[i].seq_len == seq_len && self.rows[i].is_none())
    }

    /// The shape of point `i`.
    pub fn shape(&self, i: usize) -> Shape {
        self.shapes[i]
    }

    /// ms one run at `shape` is predicted to take, from the last measured point.
    fn predicted_ms(&self, shape: &Shape) -> Option<f64> {
        let (last, ms) = self.last?;
        let flash = find_kernel("flash").ok()?;
        Some(ms * flash.flops(shape) / flash.flops(&last))
    }

    /// How point `i` is to be sampled (from `base`), or its row when it is skipped: the
    /// line stopped, a run is past `run_budget` (or predicted past it), or its cost does
    /// not fit what is left before `deadline` at `now`.
    pub fn plan(
        &mut self,
        i: usize,
        (now, deadline): (Instant, Instant),
        base: &MeasureOptions,
        run_budget: Duration,
    ) -> Result<MeasureOptions, Box<ResultRow>> {
        let shape = self.shapes[i];
        if let Some(stop) = &self.stopped {
            return Err(Box::new(self.skip(i, stop.clone())));
        }
        let budget_s = run_budget.as_secs_f64();
        if let Some((last, ms)) = self.last
            && ms > budget_s * 1e3
        {
            let skip = Skip::RunBudgetExceeded {
                at: last,
                took_s: ms / 1e3,
                budget_s,
            };
            self.stopped = Some(skip.clone());
            return Err(Box::new(self.skip(i, skip)));
        }
        let predicted = self.predicted_ms(&shape);
        if let (Some(ms), Some((last, last_ms))) = (predicted, self.last)
            && ms > budget_s * 1e3
        {
            let skip = Skip::PredictedPastRunBudget {
                predicted_s: ms / 1e3,
                from: last,
                from_s: last_ms / 1e3,
                budget_s,
            };
            self.stopped = Some(skip.clone());
            return Err(Box::new(self.skip(i, skip)));
        }
        let long = predicted.and_then(|ms| long_run_samples(Duration::from_secs_f64(ms / 1e3)));
        let options = point_options(base, long);
        let runs = options.warmup + options.samples;
        let cost = SESSION_OVERHEAD
            + Duration::from_secs_f64(predicted.unwrap_or(0.0) * f64::from(runs) / 1e3);
        let left = deadline.saturating_duration_since(now);
        if left.is_zero() || cost > left {
            let skip = Skip::SweepBudget {
                left_s: left.as_secs_f64(),
            };
            return Err(Box::new(self.skip(i, skip)));
        }
        Ok(options)
    }

    /// Point `i` skipped for `skip`: its row, kept.
    fn skip(&mut self, i: usize, skip: Skip) -> ResultRow {
        let mut row = planned(&self.family, &self.shapes[i]);
        row.set_skip(skip);
        self.rows[i] = Some(row.clone());
        row
    }

    /// Takes the outcome of measuring point `i`; returns its row: measured when its output
    /// matched the reference, else skipped, and the line stopped, with why.
    pub fn record(&mut self, i: usize, outcome: Result<&PeerPoint, String>) -> ResultRow {
        let shape = self.shapes[i];
        let stop = |cause: Skip| Skip::AfterWall {
            at: shape,
            cause: Box::new(cause),
        };
        match outcome {
            Ok(point) if point.check.passed => {
                let row = measured_row(&self.family, &shape, point);
                self.last = Some((shape, point.measurement.median_ms));
                self.rows[i] = Some(row.clone());
                row
            }
            Ok(point) => {
                let skip = Skip::Unsupported {
                    reason: format!(
                        "not verified: ONNX Runtime Web's output differs from the f64 reference \
                         (relative L2 error {:.3e}, tolerance {:.1e})",
                        point.check.rel_l2_error, point.check.tolerance
                    ),
                };
                self.stopped = Some(stop(skip.clone()));
                self.skip(i, skip)
            }
            Err(message) => {
                let skip = Skip::DeviceFailure {
                    message: format!("ONNX Runtime Web failed: {message}"),
                };
                self.stopped = Some(stop(skip.clone()));
                self.skip(i, skip)
            }
        }
    }

    /// Every row, in point order; a point the sweep never reached is skipped for the
    /// sweep's budget.
    pub fn finish(self) -> Vec<ResultRow> {
        let family = self.family;
        self.rows
            .into_iter()
            .zip(self.shapes)
            .map(|(row, shape)| {
                row.unwrap_or_else(|| {
                    let mut row = planned(&family, &shape);
                    row.set_skip(Skip::SweepBudget { left_s: 0.0 });
                    row
                })
            })
            .collect()
    }
}
