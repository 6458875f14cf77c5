//! A measurement: its samples summarized ([`Measurement`]: median, range, the interval of
//! the median with its method, and the timer that took them), and GFLOP/s from a time.

use super::interval::Interval;
use crate::error::Result;
use crate::gpu::{RunTimes, TimingSource};
use serde::Serialize;

/// Times of repeated dispatches.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// Median time in ms.
    pub median_ms: f64,
    /// Fastest in ms.
    pub min_ms: f64,
    /// Slowest in ms.
    pub max_ms: f64,
    /// Every sample in ms.
    pub samples_ms: Vec<f64>,
    /// Where the times came from.
    pub timing: TimingSource,
    /// The interval of the median, ms, with its method and coverage
    /// ([`Interval::of_median`]); none from a single sample.
    pub interval: Option<Interval>,
    /// Runs back to back per sample: each sample is its batch's time over this.
    pub runs_per_sample: u32,
    /// Why the wall clock timed it on a device that has timestamps.
    pub timing_fallback: Option<String>,
}

impl Measurement {
    /// Summarizes samples in ms (at least one), one run each.
    pub fn from_samples(samples_ms: Vec<f64>, timing: TimingSource) -> Result<Self> {
        Ok(Measurement {
            median_ms: median_of(&samples_ms)?,
            min_ms: samples_ms.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: samples_ms.iter().copied().fold(0.0, f64::max),
            interval: Interval::of_median(&samples_ms),
            samples_ms,
            timing,
            runs_per_sample: 1,
            timing_fallback: None,
        })
    }

    /// Summarizes batched samples ([`RunTimes`]: each its batch's time over its runs).
    pub fn from_run_times(times: RunTimes) -> Result<Self> {
        let mut m = Self::from_samples(times.ns.iter().map(|t| t / 1e6).collect(), times.source)?;
        m.runs_per_sample = times.runs_per_sample;
        m.timing_fallback = times.fallback;
        Ok(m)
    }

    /// Half the interval's width as a fraction of the median: ±0.05 is ±5% (0 without one).
    pub fn relative_spread(&self) -> f64 {
        self.interval
            .map_or(0.0, |i| i.relative_spread(self.median_ms))
    }
}

/// GFLOP/s of `flops` FLOPs (see [`Kernel::flops`]) done in `ms` milliseconds.
pub fn gflops(flops: f64, ms: f64) -> f64 {
    if ms > 0.0 { flops / (ms * 1e6) } else { 0.0 }
}

/// The median of a non-empty slice of times; an error for none.
pub fn median_of(values: &[f64]) -> Result<f64> {
    super::interval::median(values).ok_or_else(|| crate::error::Error::Gpu {
        during: "timing".into(),
        message: "no valid samples".into(),
    })
}
