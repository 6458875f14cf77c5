//! How to take a measurement ([`MeasureOptions`]); what one is ([`Measurement`]) lives in
//! [`crate::stats`], below the results that record it.

use std::time::Duration;

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
