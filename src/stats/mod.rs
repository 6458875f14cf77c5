//! The statistics of a measurement: the median of its samples and an interval of that
//! median that says how it was made and how often it covers the true median
//! ([`Interval`]). A benchmark takes 3 to 10 back-to-back samples per point; a 95% interval
//! needs at least 6 (the widest distribution-free interval, the range of n samples, covers
//! the median with probability 1 − 2^(1−n): 75% for 3, 93.75% for 5, 96.9% for 6), so with
//! fewer samples the interval is called what it is, their range, with its coverage.

mod interval;
mod measurement;

pub use interval::{CONFIDENCE, Interval, IntervalMethod, median, order_statistic_coverage};
pub use measurement::{Measurement, gflops, median_of};
