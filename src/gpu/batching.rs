//! The arithmetic of timed samples, apart from the device: how many runs a sample batches
//! so that it lasts at least [`MIN_SAMPLE_NS`] of wall time ([`next_batch`]), and how a
//! row's per-run times come out of its batches ([`per_run_times`]): the GPU's timestamps
//! of each batch divided by its runs, where they cover at least [`MIN_COVERAGE`] of the
//! batch's wall time, else the wall clock, saying why. A kernel of microseconds is timed
//! over a millisecond of back-to-back runs, so that the wall clock can check the
//! timestamps (under a millisecond, submission and wake-up dominate the wall time and say
//! nothing about them).

use super::timing::TimingSource;

/// Shortest wall time of one timed sample, ns: a batch runs enough dispatches back to back
/// to last this long.
pub const MIN_SAMPLE_NS: f64 = 1e6;

/// Most runs one sample batches (a kernel of under 0.25 µs would need more).
pub const MAX_BATCH: u32 = 4096;

/// Share of a batch's wall time its GPU timestamps must account for: on lavapipe and on
/// GPUs they account for over 90% of a millisecond's batch; what is missing is submission
/// and wake-up.
pub const MIN_COVERAGE: f64 = 0.8;

/// One timed sample: `runs` runs back to back in one submission.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchReading {
    /// Runs in the batch.
    pub runs: u32,
    /// Wall time from submit until the device was idle again, ns.
    pub wall_ns: f64,
    /// From the first run's start to the last run's end by the GPU's timestamps, ns;
    /// `None` without timestamps or for a zero or wrapped reading (gfx-rs/wgpu#6406).
    pub gpu_ns: Option<f64>,
}

/// The per-run times of a row: one per sample, its batch's time over its runs.
#[derive(Clone, Debug, PartialEq)]
pub struct RunTimes {
    /// ns per run, one per sample.
    pub ns: Vec<f64>,
    /// Which timer every one of them came from.
    pub source: TimingSource,
    /// Runs per sample (the calibrated batch).
    pub runs_per_sample: u32,
    /// Why the wall clock timed a row on a device that has timestamps.
    pub fallback: Option<String>,
    /// The batches the times came from.
    pub batches: Vec<BatchReading>,
}

/// The next batch size to try after a batch of `runs` took `wall_ns`, or `None` when it
/// lasted [`MIN_SAMPLE_NS`] (or is already [`MAX_BATCH`] runs): the runs scaled to 1.5×
/// the minimum by the time this batch took (at least doubled, since a short batch's wall
/// time is mostly fixed costs).
pub fn next_batch(runs: u32, wall_ns: f64) -> Option<u32> {
    let runs = runs.max(1);
    if wall_ns >= MIN_SAMPLE_NS || runs >= MAX_BATCH {
        return None;
    }
    let scale = if wall_ns > 0.0 {
        (1.5 * MIN_SAMPLE_NS / wall_ns).ceil()
    } else {
        f64::from(MAX_BATCH)
    };
    let next = (f64::from(runs) * scale.max(2.0)).min(f64::from(MAX_BATCH));
    Some(next as u32)
}

/// Whether GPU timestamps of `gpu_ns` account for enough of a submission's `wall_ns`
/// ([`MIN_COVERAGE`]) to be trusted over the wall clock.
pub fn covers(gpu_ns: f64, wall_ns: f64) -> bool {
    gpu_ns >= MIN_COVERAGE * wall_ns
}

/// The row's per-run times from its `batches` (at least one): GPU timestamps when every
/// batch has a reading covering at least [`MIN_COVERAGE`] of its wall time, else the wall
/// clock of every batch — with the reason when `timestamps_offered` (the device has them)
/// — each divided by its runs.
pub fn per_run_times(batches: &[BatchReading], timestamps_offered: bool) -> RunTimes {
    let runs_per_sample = batches.first().map_or(1, |b| b.runs.max(1));
    let mut fallback = None;
    if timestamps_offered {
        for b in batches {
            match b.gpu_ns {
                None => {
                    fallback = Some("a zero or wrapped GPU timestamp reading".to_string());
                    break;
                }
                Some(gpu) if !covers(gpu, b.wall_ns) => {
                    fallback = Some(format!(
                        "GPU timestamps covered {:.0}% of a batch's {:.3} ms of wall time (at least {:.0}% needed)",
                        100.0 * gpu / b.wall_ns,
                        b.wall_ns / 1e6,
                        100.0 * MIN_COVERAGE
                    ));
                    break;
                }
                Some(_) => {}
            }
        }
    }
    let gpu = timestamps_offered && fallback.is_none();
    let ns = batches
        .iter()
        .map(|b| {
            let total = if gpu {
                b.gpu_ns.unwrap_or(b.wall_ns)
            } else {
                b.wall_ns
            };
            total / f64::from(b.runs.max(1))
        })
        .collect();
    RunTimes {
        ns,
        source: if gpu {
            TimingSource::GpuTimestamps
        } else {
            TimingSource::WallClock
        },
        runs_per_sample,
        fallback,
        batches: batches.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(runs: u32, wall_ms: f64, gpu_ms: Option<f64>) -> BatchReading {
        BatchReading {
            runs,
            wall_ns: wall_ms * 1e6,
            gpu_ns: gpu_ms.map(|ms| ms * 1e6),
        }
    }

    #[test]
    fn batches_grow_until_a_sample_lasts_a_millisecond() {
        // A 2 µs kernel behind 60 µs of submission: 1 run → 25 → ~5×… until ≥ 1 ms.
        let (kernel, fixed) = (2e3, 6e4);
        let mut runs = 1;
        let mut steps = 0;
        while let Some(next) = next_batch(runs, fixed + f64::from(runs) * kernel) {
            assert!(next >= 2 * runs && next <= MAX_BATCH, "{runs} → {next}");
            runs = next;
            steps += 1;
        }
        assert!(fixed + f64::from(runs) * kernel >= MIN_SAMPLE_NS, "{runs}");
        assert!(steps <= 3 && runs <= 1000, "{steps} steps to {runs}");
        // A kernel of a millisecond or more is one run a sample.
        assert_eq!(next_batch(1, 1.2e6), None);
        assert_eq!(next_batch(1, 4e7), None);
        // Never past the cap, and a zero reading jumps to it.
        assert_eq!(next_batch(4000, 10.0), Some(MAX_BATCH));
        assert_eq!(next_batch(MAX_BATCH, 10.0), None);
        assert_eq!(next_batch(1, 0.0), Some(MAX_BATCH));
    }

    #[test]
    fn per_run_time_is_the_batch_time_over_its_runs() {
        let times = per_run_times(
            &[batch(100, 1.2, Some(1.0)), batch(100, 1.3, Some(1.1))],
            true,
        );
        assert_eq!(times.source, TimingSource::GpuTimestamps);
        assert_eq!(times.runs_per_sample, 100);
        assert!((times.ns[0] - 1e4).abs() < 1e-6 && (times.ns[1] - 1.1e4).abs() < 1e-6);
        assert_eq!(times.fallback, None);
    }

    #[test]
    fn timestamps_that_do_not_cover_a_batch_fall_back_to_the_wall_clock_and_say_so() {
        // lavapipe's deferred timestamps: 0.1 ms read for 50 ms of work.
        let times = per_run_times(
            &[batch(1, 50.0, Some(50.0)), batch(1, 50.0, Some(0.1))],
            true,
        );
        assert_eq!(times.source, TimingSource::WallClock);
        assert_eq!(times.ns, vec![5e7, 5e7]);
        let why = times.fallback.unwrap();
        assert!(why.contains("0%") && why.contains("50.000 ms"), "{why}");
        // 79% is not enough, 80% is.
        let short = per_run_times(&[batch(10, 1.0, Some(0.79))], true);
        assert_eq!(short.source, TimingSource::WallClock);
        assert_eq!(short.ns, vec![1e5]);
        let enough = per_run_times(&[batch(10, 1.0, Some(0.8))], true);
        assert_eq!(enough.source, TimingSource::GpuTimestamps);
        // A zero or wrapped reading.
        let wrapped = per_run_times(&[batch(4, 2.0, None)], true);
        assert!(wrapped.fallback.unwrap().contains("wrapped"));
        assert_eq!(wrapped.ns, vec![5e5]);
        // Without timestamps the wall clock is the timer, no fallback to report.
        let none = per_run_times(&[batch(2, 3.0, None)], false);
        assert_eq!(
            (none.source, none.fallback),
            (TimingSource::WallClock, None)
        );
    }
}
