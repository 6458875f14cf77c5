//! How a sweep spends its time budget: on the argument first.
//!
//! Reports make one argument — naive materializes the n×n scores and meets the quadratic
//! wall, flash does not — and make it on the headline families
//! ([`FamilyKind::is_headline`]: prefill, causal prefill, the training step). An equal share
//! per (family, kernel) cut naive, the slowest, first: on lavapipe it stopped at n = 512,
//! far from the seed's first mark. So every point of a sweep belongs to a [`Phase`]:
//!
//! 1. [`Phase::Mark`]: the argument's kernels ([`ARGUMENT_KERNELS`]) in the headline
//!    families, every n up to the seed's first mark ([`MARK_SEQ_LEN`], 4096: 67 MB of
//!    scores). Measured first, all of them in order of increasing n (the cheap points of
//!    every line before the dear ones; among equal n, the kernel predicted cheapest first,
//!    each kernel's points in family order, prefill first), exempt from the per-run time budget up to
//!    [`MARK_RUN_FACTOR`] times it, and taken whenever the sweep's budget is not yet spent
//!    when they come up (one may end past it). Only a wall stops them.
//! 2. [`Phase::Argument`]: the same lines past the mark, to each kernel's wall or the
//!    per-run budget, while a point's predicted cost fits in what is left of the budget.
//! 3. [`Phase::Rest`]: every other (family, kernel) gets an equal share of what is left
//!    when it starts ([`Shares`]).
//!
//! A point whose one run is predicted past [`LONG_RUN`] is timed with fewer samples
//! ([`long_run_samples`]): as many as fit in [`LONG_POINT_SAMPLING`], at least
//! [`MIN_LONG_SAMPLES`], no warm-up (its pipelines were compiled for the line's earlier
//! points, and the median of three absorbs one slow first run). Rows record their sample
//! count.

use crate::kernels::{ARGUMENT_KERNELS, Kernel};
use crate::results::FamilyKind;
use crate::shape::Shape;
use std::time::Duration;
use web_time::Instant;

/// The seed's first mark: n = 4096, where one head's n×n f32 scores take 67 MB.
pub const MARK_SEQ_LEN: u32 = 4096;

/// A mark point may take this many times the per-run time budget (6 s by default: 120 s
/// a run) before its line stops: naive's training step at n = 4096 takes 17–70 s a run on
/// lavapipe.
pub const MARK_RUN_FACTOR: u32 = 20;

/// A point whose one run is predicted past this is timed by [`long_run_samples`] instead
/// of the measurer's own sampling (criterion takes at least 11 runs a point).
pub const LONG_RUN: Duration = Duration::from_secs(1);

/// The sampling time a long point aims at.
pub const LONG_POINT_SAMPLING: Duration = Duration::from_secs(10);

/// The fewest samples of a long point: a median and an interval need three.
pub const MIN_LONG_SAMPLES: u32 = 3;

/// The most samples of a long point: criterion's sample count.
pub const MAX_LONG_SAMPLES: u32 = 10;

/// Which part of the budget a point is measured in (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The argument's kernels in a headline family, up to the seed's first mark.
    Mark,
    /// The same lines past the mark.
    Argument,
    /// Every other family and kernel.
    Rest,
}

impl Phase {
    /// The phase of `kernel`'s point `shape` in a family of `kind`.
    pub fn of(kind: &FamilyKind, kernel: &dyn Kernel, shape: &Shape) -> Phase {
        if !kind.is_headline() || !ARGUMENT_KERNELS.contains(&kernel.name()) {
            Phase::Rest
        } else if shape.seq_len <= MARK_SEQ_LEN {
            Phase::Mark
        } else {
            Phase::Argument
        }
    }

    /// The longest one run of this phase's points may take: the per-run `budget`, or
    /// [`MARK_RUN_FACTOR`] times it for marks.
    pub fn run_budget(self, budget: Duration) -> Duration {
        match self {
            Phase::Mark => budget.saturating_mul(MARK_RUN_FACTOR),
            _ => budget,
        }
    }

    /// Whether a point of this phase whose measurement is predicted to cost `cost` is
    /// taken with `left` of its budget: marks whenever any is left, others when they fit.
    pub fn fits(self, left: Duration, cost: Duration) -> bool {
        match self {
            Phase::Mark => !left.is_zero(),
            _ => !left.is_zero() && cost <= left,
        }
    }
}

/// The samples of a point whose one run is predicted to take `run`: `None` for runs up to
/// [`LONG_RUN`] (the measurer samples as it does), else as many as fit in
/// [`LONG_POINT_SAMPLING`], within [`MIN_LONG_SAMPLES`]..=[`MAX_LONG_SAMPLES`].
pub fn long_run_samples(run: Duration) -> Option<u32> {
    if run <= LONG_RUN {
        return None;
    }
    let fit = (LONG_POINT_SAMPLING.as_secs_f64() / run.as_secs_f64()).floor() as u32;
    Some(fit.clamp(MIN_LONG_SAMPLES, MAX_LONG_SAMPLES))
}

/// Equal shares of a deadline for the [`Phase::Rest`] lines: each gets an equal share of
/// the time left when it starts, so that one family cannot use up the others' budget.
pub(super) struct Shares {
    deadline: Option<Instant>,
    groups_left: u32,
}

impl Shares {
    /// Shares of `deadline` among `groups` lines.
    pub(super) fn new(deadline: Option<Instant>, groups: usize) -> Self {
        Shares {
            deadline,
            groups_left: u32::try_from(groups).unwrap_or(u32::MAX),
        }
    }

    /// The deadline of the next line, starting at `now`.
    pub(super) fn next(&mut self, now: Instant) -> Option<Instant> {
        let share = self
            .deadline
            .map(|d| now + d.saturating_duration_since(now) / self.groups_left.max(1));
        self.groups_left = self.groups_left.saturating_sub(1);
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::find_kernel;

    #[test]
    fn the_argument_up_to_the_mark_comes_first() {
        let prefill = FamilyKind::Prefill {
            head_dim: 64,
            causal: true,
        };
        let train = FamilyKind::Training {
            head_dim: 64,
            causal: false,
        };
        let window = FamilyKind::Window {
            head_dim: 64,
            window: 1024,
        };
        let (naive, flash) = (find_kernel("naive").unwrap(), find_kernel("flash").unwrap());
        let chunked = find_kernel("chunked").unwrap();
        let at = |n| Shape::new(n, 64);
        assert_eq!(Phase::of(&prefill, naive, &at(4096)), Phase::Mark);
        assert_eq!(Phase::of(&train, flash, &at(128)), Phase::Mark);
        assert_eq!(Phase::of(&prefill, naive, &at(8192)), Phase::Argument);
        assert_eq!(Phase::of(&prefill, chunked, &at(128)), Phase::Rest);
        assert_eq!(Phase::of(&window, naive, &at(128)), Phase::Rest);
        let six = Duration::from_secs(6);
        assert_eq!(Phase::Mark.run_budget(six), Duration::from_secs(120));
        assert_eq!(Phase::Rest.run_budget(six), six);
        // Marks start whenever time is left; others only when they fit.
        let (left, cost) = (Duration::from_secs(5), Duration::from_secs(60));
        assert!(Phase::Mark.fits(left, cost) && !Phase::Argument.fits(left, cost));
        assert!(!Phase::Mark.fits(Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn long_runs_take_what_fits_in_ten_seconds_but_at_least_three() {
        let s = Duration::from_secs_f64;
        assert_eq!(long_run_samples(s(0.5)), None);
        assert_eq!(long_run_samples(s(1.2)), Some(8));
        assert_eq!(long_run_samples(s(4.7)), Some(3));
        assert_eq!(long_run_samples(s(66.0)), Some(3));
    }

    #[test]
    fn rest_lines_share_what_is_left_equally() {
        let now = Instant::now();
        let mut shares = Shares::new(Some(now + Duration::from_secs(90)), 3);
        assert_eq!(shares.next(now), Some(now + Duration::from_secs(30)));
        let later = now + Duration::from_secs(50);
        assert_eq!(shares.next(later), Some(later + Duration::from_secs(20)));
        assert_eq!(Shares::new(None, 2).next(now), None);
    }
}
