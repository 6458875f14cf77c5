//! Running a sweep: every (family, kernel) is a [`KernelLine`] through the family's points,
//! and the points are taken in the order [`super::schedule`] gives the budget: the
//! argument's lines up to the seed's first mark (smallest n first across all of them; among
//! equal n the cheapest kernel first, each kernel's lines in family order), then past it,
//! then every other line with an equal share of what is left. How a point is timed is the
//! [`Measurer`]'s business (criterion in `cargo bench`, [`super::Sampler`] elsewhere).

use super::config::SweepConfig;
use super::families::{Family, families};
use super::line::KernelLine;
use super::measure::Measurer;
use super::schedule::{Phase, Shares};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::results::ResultRow;
use std::collections::VecDeque;

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

/// The lines' rows as they are measured, and the progress count.
struct Tally {
    /// Rows per line, in the line's point order.
    rows: Vec<Vec<ResultRow>>,
    done: usize,
    total: usize,
}

impl Tally {
    /// Measures or skips point `index` of line `i`; `false` when a stop was asked for
    /// (Ctrl-C: the points finished so far are returned, to be saved).
    fn step(
        &mut self,
        lines: &mut [KernelLine<'_>],
        i: usize,
        index: usize,
        measurer: &mut dyn Measurer,
    ) -> Result<bool> {
        if crate::interrupt::requested() {
            return Ok(false);
        }
        let line = &mut lines[i];
        let point = line.point(line.family.shapes[index]);
        measurer.progress(&point, self.done, self.total);
        self.done += 1;
        match line.measure(&point, measurer) {
            Ok(Some(row)) => self.rows[i].push(row),
            Ok(None) => {}
            Err(Error::Interrupted) => return Ok(false),
            Err(e) => return Err(e),
        }
        Ok(true)
    }

    /// The rows, line by line.
    fn into_rows(self) -> Vec<ResultRow> {
        self.rows.into_iter().flatten().collect()
    }
}

/// The next point of the argument's lines: the smallest n any line has pending; among
/// equal n the kernel predicted cheapest first (so that flash's points are not left behind
/// naive's dear ones when time runs out), and a kernel's points in family order (prefill,
/// whose chart leads every report, before causal prefill and the training step: on a slow
/// day the budget may end among naive's). Returns (line, point index) and takes it from
/// `pending`.
fn next_point(
    lines: &[KernelLine<'_>],
    pending: &mut [(usize, VecDeque<usize>)],
) -> Option<(usize, usize)> {
    // (pending entry, line, n, predicted ms) of every line with a point pending.
    let heads: Vec<(usize, usize, u32, f64)> = pending
        .iter()
        .enumerate()
        .filter_map(|(p, (i, points))| {
            let line = &lines[*i];
            let shape = &line.family.shapes[*points.front()?];
            Some((
                p,
                *i,
                shape.seq_len,
                line.predicted_ms(shape).unwrap_or(0.0),
            ))
        })
        .collect();
    let n = heads.iter().map(|h| h.2).min()?;
    let at_n = || heads.iter().filter(move |h| h.2 == n);
    let kernel_of = |h: &(usize, usize, u32, f64)| lines[h.1].kernel.name();
    let cheapest = at_n().min_by(|a, b| a.3.total_cmp(&b.3)).map(kernel_of)?;
    // Lines are in family order: the cheapest kernel's first line.
    let best = at_n().find(|h| kernel_of(h) == cheapest)?.0;
    let (i, points) = &mut pending[best];
    Some((*i, points.pop_front()?))
}

/// Runs the sweep on `gpu`; returns one row per point (measured or skipped), line by line.
/// Interrupted ([`crate::interrupt`]), it returns the rows of the points finished so far.
pub fn run_sweep(
    gpu: &Gpu,
    config: &SweepConfig,
    measurer: &mut dyn Measurer,
) -> Result<Vec<ResultRow>> {
    // Measure the kernels as tuned for this device (`attnbench tune`), when it was.
    #[cfg(feature = "native")]
    crate::tuning::apply(gpu, &config.results_dir)?;
    let families = families(config);
    let mut lines: Vec<KernelLine> = families
        .iter()
        .flat_map(|f| kernels_of(config, f).into_iter().map(move |k| (f, k)))
        .map(|(family, kernel)| KernelLine::new(gpu, config, family, kernel))
        .collect();
    let mut progress = Tally {
        rows: vec![Vec::new(); lines.len()],
        done: 0,
        total: lines.iter().map(|l| l.family.shapes.len()).sum(),
    };

    // 1 and 2: the argument up to the mark, then past it, against the sweep's own deadline.
    for phase in [Phase::Mark, Phase::Argument] {
        let mut pending: Vec<(usize, VecDeque<usize>)> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let points = (0..line.family.shapes.len())
                    .filter(|&j| line.phase(&line.family.shapes[j]) == phase)
                    .collect();
                (i, points)
            })
            .collect();
        while let Some((i, index)) = next_point(&lines, &mut pending) {
            if !progress.step(&mut lines, i, index, measurer)? {
                return Ok(progress.into_rows());
            }
        }
    }

    // 3: every other line, each with an equal share of what is left.
    let rest: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let line = &lines[i];
            line.family
                .shapes
                .iter()
                .any(|s| line.phase(s) == Phase::Rest)
        })
        .collect();
    let mut shares = Shares::new(config.deadline, rest.len());
    for i in rest {
        lines[i].deadline = shares.next(measurer.now());
        for index in 0..lines[i].family.shapes.len() {
            if lines[i].phase(&lines[i].family.shapes[index]) == Phase::Rest
                && !progress.step(&mut lines, i, index, measurer)?
            {
                return Ok(progress.into_rows());
            }
        }
    }
    Ok(progress.into_rows())
}
