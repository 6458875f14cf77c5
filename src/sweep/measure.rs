//! How a sweep point is measured: the [`Point`] handed over, its device-resident run
//! created on first use ([`LazyRun`]), and the [`Measurer`] interface with attnbench's own
//! sampler ([`Sampler`]); criterion's lives in `benches/attention.rs`.

use super::schedule::MIN_LONG_SAMPLES;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::run::{KernelRun, MeasureOptions, Measurement};
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
    /// `Some(k)`: one run is predicted to be long (`schedule::long_run_samples`): time
    /// exactly `k` runs, without warm-up, with attnbench's own sampler. `None`: sample as
    /// the measurer does.
    pub samples: Option<u32>,
}

/// The device-resident run of a point, created on first use so that points a measurer
/// filters out (e.g. criterion's name filters) allocate nothing.
pub struct LazyRun<'g> {
    pub(super) gpu: &'g Gpu,
    pub(super) kernel: &'static dyn Kernel,
    pub(super) shape: Shape,
    pub(super) seed: u64,
    pub(super) run: Option<KernelRun<'g>>,
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

    /// Where a measured run's time goes, for kernels that name their phases
    /// ([`crate::phases`]): three more runs, one past a second a run; `None` when nothing
    /// ran or the kernel names none.
    pub fn phase_split(&self, median_ms: f64) -> Result<Option<crate::phases::PhaseSplit>> {
        match &self.run {
            Some(run) => crate::phases::phase_split(run, if median_ms > 1000.0 { 1 } else { 3 }),
            None => Ok(None),
        }
    }

    /// Measures a long point: exactly `samples` timed runs, no warm-up.
    pub fn measure_long(&mut self, samples: u32) -> Result<Measurement> {
        self.get()?.measure(&long_options(samples))
    }
}

/// The options of a long point: `samples` timed runs, no warm-up, no time budget.
fn long_options(samples: u32) -> MeasureOptions {
    MeasureOptions {
        warmup: 0,
        samples,
        time_budget: None,
        min_samples: samples,
    }
}

/// How a point is measured: `Ok(None)` means "not measured this time" (filtered out), and
/// the existing result, if any, is kept.
pub trait Measurer {
    /// Measures one point (honouring [`Point::samples`]).
    fn measure(&mut self, point: &Point<'_>, run: &mut LazyRun<'_>) -> Result<Option<Measurement>>;
    /// Called before each point (progress display).
    fn progress(&mut self, _point: &Point<'_>, _done: usize, _total: usize) {}
    /// Time a point costs besides its runs (criterion's warm-up and measurement windows),
    /// counted when a deadline decides whether a point still fits.
    fn overhead(&self) -> Duration {
        Duration::ZERO
    }
    /// Runs a point costs at the least (warm-up and samples) when it is not long.
    fn runs_per_point(&self) -> u32 {
        4
    }
    /// The clock deadlines are read on: the wall clock; a test's fake measurer spends
    /// simulated time instead.
    fn now(&self) -> Instant {
        Instant::now()
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
    fn measure(&mut self, point: &Point<'_>, run: &mut LazyRun<'_>) -> Result<Option<Measurement>> {
        let options = match point.samples {
            // A long point: no warm-up, and no more samples than asked for otherwise.
            Some(k) => long_options(k.min(self.options.samples.max(MIN_LONG_SAMPLES))),
            None => self.options,
        };
        Ok(Some(run.get()?.measure(&options)?))
    }

    fn progress(&mut self, point: &Point<'_>, done: usize, total: usize) {
        if let Some(f) = self.on_progress.as_mut() {
            f(point, done, total);
        }
    }

    fn runs_per_point(&self) -> u32 {
        self.options.warmup + self.options.samples.max(1)
    }
}
