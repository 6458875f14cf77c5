//! How attnbench's own sampler measures a sweep point, the same for `attnbench sweep`,
//! `suite` and the browser page ([`sweep_sampling`], [`point_options`]): one warm-up run,
//! then timed runs until the point's samples are taken or its time budget is spent; a
//! point predicted to be long (`long_run_samples`) takes exactly its own samples, without
//! warm-up.

use super::schedule::MIN_LONG_SAMPLES;
use crate::run::MeasureOptions;
use std::time::Duration;

/// The sampling of an ordinary point: one warm-up, up to `samples` timed runs within
/// twice the per-run budget `per_run` (at least three, or `samples` when fewer).
pub fn sweep_sampling(per_run: Duration, samples: u32) -> MeasureOptions {
    MeasureOptions {
        warmup: 1,
        samples,
        time_budget: Some(per_run.saturating_mul(2)),
        min_samples: MIN_LONG_SAMPLES.min(samples.max(1)),
    }
}

/// The options of a point sampled as `base` says, whose one run is predicted long when
/// `long_samples` is `Some(k)`: then no warm-up, exactly `k` runs, but no more than `base`
/// takes otherwise (and at least [`MIN_LONG_SAMPLES`]).
pub fn point_options(base: &MeasureOptions, long_samples: Option<u32>) -> MeasureOptions {
    match long_samples {
        Some(k) => long_options(k.min(base.samples.max(MIN_LONG_SAMPLES))),
        None => *base,
    }
}

/// The options of a long point: `samples` timed runs, no warm-up, no time budget.
pub(super) fn long_options(samples: u32) -> MeasureOptions {
    MeasureOptions {
        warmup: 0,
        samples,
        time_budget: None,
        min_samples: samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_points_take_their_samples_without_warm_up_and_no_more_than_usual() {
        let base = sweep_sampling(Duration::from_secs(5), 10);
        assert_eq!(base.time_budget, Some(Duration::from_secs(10)));
        assert_eq!((base.warmup, base.samples, base.min_samples), (1, 10, 3));
        let long = point_options(&base, Some(8));
        assert_eq!((long.warmup, long.samples, long.time_budget), (0, 8, None));
        let few = sweep_sampling(Duration::from_secs(5), 2);
        assert_eq!(point_options(&few, Some(8)).samples, MIN_LONG_SAMPLES);
        assert_eq!(few.min_samples, 2);
        assert_eq!(point_options(&base, None).samples, 10);
    }
}
