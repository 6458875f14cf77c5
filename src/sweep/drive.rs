//! The native driver of the sweep: [`run_sweep`] steps the [`SweepRunner`] and measures
//! each point it yields with a [`Measurer`] (criterion in `cargo bench`, [`super::Sampler`]
//! elsewhere), blocking on the device.

use super::config::SweepConfig;
use super::families::{Family, families};
use super::line::MeasureCost;
use super::line::PointMeasured;
use super::measure::{LazyRun, Measurer};
use super::runner::{SweepRunner, SweepStep};
use crate::bench::Bench;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::results::{ResultRow, Skip};

/// Runs the sweep of `config` on `bench`; returns one row per point (measured or skipped),
/// line by line. `excluded` says why a (kernel, family) line must not be measured at all.
/// Interrupted ([`crate::interrupt`]), it returns the rows of the points finished so far.
pub fn run_sweep(
    bench: &Bench,
    config: &SweepConfig,
    measurer: &mut dyn Measurer,
    excluded: &dyn Fn(&dyn Kernel, &Family) -> Option<Skip>,
) -> Result<Vec<ResultRow>> {
    let families = families(config);
    let cost = MeasureCost {
        overhead: measurer.overhead(),
        runs_per_point: measurer.runs_per_point(),
    };
    let mut runner = SweepRunner::new(bench.planner(), config, &families, cost, excluded);
    loop {
        if crate::interrupt::requested() {
            break;
        }
        let Some(step) = runner.next(measurer.now())? else {
            break;
        };
        let SweepStep::Measure(point) = step else {
            continue;
        };
        let (done, total) = runner.progress();
        measurer.progress(&point, done.saturating_sub(1), total);
        let outcome = {
            let mut lazy = LazyRun::new(bench, &point.plan, config.seed);
            match measurer.measure(&point, &mut lazy) {
                Ok(Some(measurement)) => lazy.phase_split(measurement.median_ms).map(|phases| {
                    Some(PointMeasured {
                        peak_buffer_bytes: lazy.peak_buffer_bytes().unwrap_or(0),
                        measurement,
                        phases,
                    })
                }),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        };
        match runner.record(point, outcome) {
            Ok(_) => {}
            Err(Error::Interrupted) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(runner.finish())
}
