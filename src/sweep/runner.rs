//! [`SweepRunner`]: the sweep as a state machine with no I/O, driven the same way by
//! `cargo bench`, `attnbench sweep`, `suite` and the browser page. Every (family, kernel)
//! is a [`Line`] through the family's points, taken in the order [`super::schedule`] gives
//! the budget: the argument's lines up to the seed's first mark (smallest n first across
//! all of them; among equal n the cheapest kernel first, each kernel's lines in family
//! order), then past it, then every other line with an equal share of what is left. Each
//! call of [`SweepRunner::next`] yields a point to measure (with its plan, made once) or a
//! skipped row; the driver measures and hands the outcome back ([`SweepRunner::record`]).

use super::config::SweepConfig;
use super::families::Family;
use super::line::{Line, MeasureCost, PointMeasured};
use super::schedule::{Phase, Shares};
use crate::bench::Planner;
use crate::error::Result;
use crate::kernels::Kernel;
use crate::results::{ResultRow, Skip};
use crate::run::PointPlan;
use crate::shape::Shape;
use std::collections::VecDeque;
use web_time::Instant;

/// A point the driver is to measure, with its plan.
pub struct SweepPoint<'a> {
    line: usize,
    /// Family name.
    pub family: &'a str,
    /// The kernel.
    pub kernel: &'static dyn Kernel,
    /// The problem.
    pub shape: Shape,
    /// FLOP model of the problem.
    pub flops: f64,
    /// `Some(k)`: one run is predicted to be long (`schedule::long_run_samples`): time
    /// exactly `k` runs, without warm-up. `None`: sample as the driver does.
    pub samples: Option<u32>,
    /// The kernel's plan for the shape, checked against the device.
    pub plan: PointPlan<'static>,
}

/// What the runner yields next.
pub enum SweepStep<'a> {
    /// Measure this point, then hand the outcome to [`SweepRunner::record`].
    Measure(SweepPoint<'a>),
    /// This point is not measured; its row says why (the runner keeps it too).
    Skipped(Box<ResultRow>),
}

/// Where the runner is in its budget's phases.
enum Stage {
    /// [`Phase::Mark`] or [`Phase::Argument`]: per line, the indices of its pending points.
    Argument(Phase, Vec<VecDeque<usize>>),
    /// [`Phase::Rest`]: the lines left (the first one current, from point `next`).
    Rest {
        lines: VecDeque<usize>,
        next: usize,
        started: bool,
        shares: Shares,
    },
}

/// The sweep of `config` on a bench, as a state machine.
pub struct SweepRunner<'a> {
    planner: Planner<'a>,
    config: &'a SweepConfig,
    cost: MeasureCost,
    lines: Vec<Line<'a>>,
    /// Rows per line, in the line's point order.
    rows: Vec<Vec<ResultRow>>,
    stage: Option<Stage>,
    done: usize,
    total: usize,
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

impl<'a> SweepRunner<'a> {
    /// The sweep of `families` (of `config`) planned by `planner`, measured by a driver that costs
    /// `cost` per point; `excluded(kernel, family)` says why a line must not be measured at
    /// all (e.g. its kernel failed verification), every point of it then skipped with that
    /// reason.
    pub fn new(
        planner: Planner<'a>,
        config: &'a SweepConfig,
        families: &'a [Family],
        cost: MeasureCost,
        excluded: &dyn Fn(&dyn Kernel, &Family) -> Option<Skip>,
    ) -> Self {
        let lines: Vec<Line> = families
            .iter()
            .flat_map(|f| kernels_of(config, f).into_iter().map(move |k| (f, k)))
            .map(|(family, kernel)| {
                Line::new(family, kernel, config.deadline, excluded(kernel, family))
            })
            .collect();
        let total = lines.iter().map(|l| l.family.shapes.len()).sum();
        let mut runner = SweepRunner {
            planner,
            config,
            cost,
            rows: vec![Vec::new(); lines.len()],
            lines,
            stage: None,
            done: 0,
            total,
        };
        runner.stage = Some(runner.argument(Phase::Mark));
        runner
    }

    /// Points handled so far, and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.done, self.total)
    }

    /// The argument's stage of `phase`: every line's points of that phase.
    fn argument(&self, phase: Phase) -> Stage {
        let pending = self
            .lines
            .iter()
            .map(|line| {
                (0..line.family.shapes.len())
                    .filter(|&j| line.phase(&line.family.shapes[j]) == phase)
                    .collect()
            })
            .collect();
        Stage::Argument(phase, pending)
    }

    /// The stage of the lines with [`Phase::Rest`] points.
    fn rest(&self) -> Stage {
        let lines: VecDeque<usize> = (0..self.lines.len())
            .filter(|&i| {
                let line = &self.lines[i];
                line.family
                    .shapes
                    .iter()
                    .any(|s| line.phase(s) == Phase::Rest)
            })
            .collect();
        Stage::Rest {
            shares: Shares::new(self.config.deadline, lines.len()),
            lines,
            next: 0,
            started: false,
        }
    }

    /// The next point (line, index) in budget order, the stage advanced past it; `None`
    /// when every point was handed out.
    fn next_index(&mut self, now: Instant) -> Option<(usize, usize)> {
        loop {
            match self.stage.as_mut()? {
                Stage::Argument(phase, pending) => {
                    if let Some(found) = next_argument_point(&self.lines, pending) {
                        return Some(found);
                    }
                    let phase = *phase;
                    self.stage = Some(match phase {
                        Phase::Mark => self.argument(Phase::Argument),
                        _ => self.rest(),
                    });
                }
                Stage::Rest {
                    lines,
                    next,
                    started,
                    shares,
                } => {
                    let &i = lines.front()?;
                    if !*started {
                        // Each line gets an equal share of what is left when it starts.
                        self.lines[i].deadline = shares.next(now);
                        *started = true;
                    }
                    let line = &self.lines[i];
                    let found = (*next..line.family.shapes.len())
                        .find(|&j| line.phase(&line.family.shapes[j]) == Phase::Rest);
                    match found {
                        Some(j) => {
                            *next = j + 1;
                            return Some((i, j));
                        }
                        None => {
                            lines.pop_front();
                            (*next, *started) = (0, false);
                        }
                    }
                }
            }
        }
    }

    /// The next point: to measure, or skipped (with its row). `now` is the driver's clock
    /// (the wall clock, or a test's simulated one). `None`: the sweep is done.
    pub fn next(&mut self, now: Instant) -> Result<Option<SweepStep<'a>>> {
        let Some((i, j)) = self.next_index(now) else {
            return Ok(None);
        };
        self.done += 1;
        let line = &mut self.lines[i];
        let shape = line.family.shapes[j];
        let planned = line.plan(&self.planner, self.config, &shape, (now, self.cost))?;
        Ok(Some(match planned {
            Err(row) => {
                self.rows[i].push(row.clone());
                SweepStep::Skipped(Box::new(row))
            }
            Ok(plan) => SweepStep::Measure(SweepPoint {
                line: i,
                family: family_name(line.family),
                kernel: line.kernel,
                shape,
                flops: line.kernel.flops(&shape),
                samples: line.samples(&shape),
                plan,
            }),
        }))
    }

    /// Takes the outcome of measuring `point` (its measurement, peak buffer bytes and
    /// phases), `None` when the driver left it unmeasured (e.g. criterion's filter; no row),
    /// or an error (a device error skips the point and stops its line; any other ends the
    /// sweep). Returns the point's row, if it has one.
    pub fn record(
        &mut self,
        point: SweepPoint<'a>,
        outcome: Result<Option<PointMeasured>>,
    ) -> Result<Option<ResultRow>> {
        let row = self.lines[point.line].record(&point.plan, outcome)?;
        if let Some(row) = &row {
            self.rows[point.line].push(row.clone());
        }
        Ok(row)
    }

    /// Every row so far, line by line in point order.
    pub fn finish(self) -> Vec<ResultRow> {
        self.rows.into_iter().flatten().collect()
    }
}

/// A family's name, for as long as the family lives.
fn family_name(family: &Family) -> &str {
    &family.name
}

/// The next point of the argument's lines: the smallest n any line has pending; among
/// equal n the kernel predicted cheapest first (so that flash's points are not left behind
/// naive's dear ones when time runs out), and a kernel's points in family order (prefill,
/// whose chart leads every report, before causal prefill and the training step: on a slow
/// day the budget may end among naive's). Returns (line, point index) and takes it from
/// `pending`.
fn next_argument_point(
    lines: &[Line<'_>],
    pending: &mut [VecDeque<usize>],
) -> Option<(usize, usize)> {
    // (line, n, predicted ms) of every line with a point pending.
    let heads: Vec<(usize, u32, f64)> = pending
        .iter()
        .enumerate()
        .filter_map(|(i, points)| {
            let line = &lines[i];
            let shape = &line.family.shapes[*points.front()?];
            Some((i, shape.seq_len, line.predicted_ms(shape).unwrap_or(0.0)))
        })
        .collect();
    let n = heads.iter().map(|h| h.1).min()?;
    let at_n = || heads.iter().filter(move |h| h.1 == n);
    let kernel_of = |h: &(usize, u32, f64)| lines[h.0].kernel.name();
    let cheapest = at_n().min_by(|a, b| a.2.total_cmp(&b.2)).map(kernel_of)?;
    // Lines are in family order: the cheapest kernel's first line.
    let best = at_n().find(|h| kernel_of(h) == cheapest)?.0;
    Some((best, pending[best].pop_front()?))
}
