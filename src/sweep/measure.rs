//! How a native driver measures a sweep point: the point's device-resident run created on
//! first use ([`LazyRun`]), and the [`Measurer`] interface with attnbench's own sampler
//! ([`Sampler`]); criterion's lives in `benches/attention.rs`.

use super::runner::SweepPoint;
use super::sampling::{long_options, point_options};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::run::{KernelRun, MeasureOptions, Measurement, PointPlan};
use crate::tensors::AttentionInputs;
use std::time::Duration;
use web_time::Instant;

/// The device-resident run of a point, created on first use so that points a measurer
/// filters out (e.g. criterion's name filters) allocate nothing.
pub struct LazyRun<'g> {
    gpu: &'g Gpu,
    plan: &'g PointPlan<'static>,
    seed: u64,
    run: Option<KernelRun<'g>>,
}

impl<'g> LazyRun<'g> {
    /// The run of `plan` on `gpu`, on inputs from `seed`, not created yet.
    pub fn new(gpu: &'g Gpu, plan: &'g PointPlan<'static>, seed: u64) -> Self {
        LazyRun {
            gpu,
            plan,
            seed,
            run: None,
        }
    }

    /// The run, allocating and uploading on the first call.
    pub fn get(&mut self) -> Result<&KernelRun<'g>> {
        if self.run.is_none() {
            let inputs = AttentionInputs::random(*self.plan.shape(), self.seed)?;
            self.run = Some(KernelRun::new(self.gpu, self.plan, &inputs)?);
        }
        Ok(self.run.as_ref().expect("set above"))
    }

    /// Peak buffer bytes, when the run was created.
    pub fn peak_buffer_bytes(&self) -> Option<u64> {
        self.run.as_ref().map(|r| r.peak_buffer_bytes())
    }

    /// Where a measured run's time goes, for kernels that name their phases
    /// ([`crate::run::phase_split`]): three more runs, one past a second a run; `None` when nothing
    /// ran or the kernel names none.
    pub fn phase_split(&self, median_ms: f64) -> Result<Option<crate::results::PhaseSplit>> {
        match &self.run {
            Some(run) => run.phase_split(crate::run::sweep_repeats(median_ms)),
            None => Ok(None),
        }
    }

    /// Measures a long point: exactly `samples` timed runs, no warm-up.
    pub fn measure_long(&mut self, samples: u32) -> Result<Measurement> {
        self.get()?.measure(&long_options(samples))
    }
}

/// How a native driver measures a point: `Ok(None)` means "not measured this time"
/// (filtered out), and the existing result, if any, is kept.
pub trait Measurer {
    /// Measures one point (honouring [`SweepPoint::samples`]).
    fn measure(
        &mut self,
        point: &SweepPoint<'_>,
        run: &mut LazyRun<'_>,
    ) -> Result<Option<Measurement>>;
    /// Called before each point to measure (progress display): the points handled so
    /// far and in all.
    fn progress(&mut self, _point: &SweepPoint<'_>, _done: usize, _total: usize) {}
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
pub type Progress<'p> = Box<dyn FnMut(&SweepPoint<'_>, usize, usize) + 'p>;

/// The measurer of `attnbench sweep` and `suite`: warm-up and timed runs as `options`
/// say, with an optional progress callback.
pub struct Sampler<'p> {
    /// How to measure each point.
    pub options: MeasureOptions,
    /// Called before each point.
    pub on_progress: Option<Progress<'p>>,
}

impl Sampler<'_> {
    /// The options of `point`: a long point gets no warm-up, and no more samples than
    /// asked for otherwise.
    pub fn options_for(&self, point: &SweepPoint<'_>) -> MeasureOptions {
        point_options(&self.options, point.samples)
    }
}

impl Measurer for Sampler<'_> {
    fn measure(
        &mut self,
        point: &SweepPoint<'_>,
        run: &mut LazyRun<'_>,
    ) -> Result<Option<Measurement>> {
        let options = self.options_for(point);
        Ok(Some(run.get()?.measure(&options)?))
    }

    fn progress(&mut self, point: &SweepPoint<'_>, done: usize, total: usize) {
        if let Some(f) = self.on_progress.as_mut() {
            f(point, done, total);
        }
    }

    fn runs_per_point(&self) -> u32 {
        self.options.warmup + self.options.samples.max(1)
    }
}
