//! What a measurement is: its samples summarized ([`Measurement`]: median, range,
//! interval, timer) and how to take one ([`MeasureOptions`]); GFLOP/s from a time.

use crate::error::Result;
use crate::gpu::TimingSource;
use serde::Serialize;
use std::time::Duration;

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
    /// 95% confidence interval of the median, ms ([`median_ci95`]).
    pub ci95_ms: (f64, f64),
}

impl Measurement {
    /// Summarizes samples in ms (at least one).
    pub fn from_samples(samples_ms: Vec<f64>, timing: TimingSource) -> Result<Self> {
        Ok(Measurement {
            median_ms: crate::gpu::median(&samples_ms)?,
            min_ms: samples_ms.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: samples_ms.iter().copied().fold(0.0, f64::max),
            ci95_ms: median_ci95(&samples_ms),
            samples_ms,
            timing,
        })
    }

    /// Half the interval's width as a fraction of the median: ±0.05 is ±5%.
    pub fn relative_spread(&self) -> f64 {
        if self.median_ms > 0.0 {
            (self.ci95_ms.1 - self.ci95_ms.0) / 2.0 / self.median_ms
        } else {
            0.0
        }
    }
}

/// The 95% confidence interval of the median of `samples` (at least one): the 2.5th and
/// 97.5th percentiles of the medians of 2 000 bootstrap resamples, with a fixed seed so the
/// same samples always give the same interval. With few samples it widens towards their
/// range, as it should.
pub fn median_ci95(samples: &[f64]) -> (f64, f64) {
    const RESAMPLES: usize = 2000;
    if samples.len() < 2 {
        let x = samples.first().copied().unwrap_or(0.0);
        return (x, x);
    }
    let mut rng = fastrand::Rng::with_seed(0x0c19_5eed);
    let mut resample = vec![0.0; samples.len()];
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for x in resample.iter_mut() {
                *x = samples[rng.usize(..samples.len())];
            }
            crate::gpu::median(&resample).unwrap_or(0.0)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((q * RESAMPLES as f64) as usize).min(RESAMPLES - 1)];
    (at(0.025), at(0.975))
}

/// How to measure.
#[derive(Clone, Copy, Debug)]
pub struct MeasureOptions {
    /// Untimed runs first (shader JIT, caches); they stop early once `time_budget` is spent.
    pub warmup: u32,
    /// Timed runs wanted.
    pub samples: u32,
    /// Stop sampling once this much wall time has been spent on samples (at least
    /// `min_samples` are taken).
    pub time_budget: Option<Duration>,
    /// Fewest timed runs, whatever the budget.
    pub min_samples: u32,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions {
            warmup: 2,
            samples: 10,
            time_budget: Some(Duration::from_secs(10)),
            min_samples: 3,
        }
    }
}

/// GFLOP/s of `flops` FLOPs (see [`Kernel::flops`]) done in `ms` milliseconds.
pub fn gflops(flops: f64, ms: f64) -> f64 {
    if ms > 0.0 { flops / (ms * 1e6) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::median_ci95;

    #[test]
    fn the_median_interval_holds_the_median_and_narrows_with_agreement() {
        let tight = [10.0, 10.1, 9.9, 10.05, 9.95, 10.0, 10.02, 9.98, 10.01, 9.99];
        let (lo, hi) = median_ci95(&tight);
        assert!(lo <= 10.0 && 10.0 <= hi && hi - lo < 0.2, "{lo} {hi}");
        let loose = [10.0, 14.0, 7.0, 12.0, 9.0, 16.0, 8.0, 11.0, 13.0, 6.0];
        let (lo2, hi2) = median_ci95(&loose);
        assert!(hi2 - lo2 > 10.0 * (hi - lo));
        assert_eq!(median_ci95(&[3.0]), (3.0, 3.0));
        assert_eq!(median_ci95(&loose), (lo2, hi2), "deterministic");
    }
}
