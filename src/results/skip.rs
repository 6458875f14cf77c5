//! Why a point was not measured ([`Skip`]), as data: results rows carry it beside its
//! rendered text, so that reports and merges ask what kind of skip it is instead of
//! matching words.

use crate::error::{Error, Limit, limit_or_text};
use crate::shape::Shape;
use serde::{Deserialize, Serialize};

/// Why a point of a sweep was not measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Skip {
    /// The kernel cannot run this shape on this device (a missing feature, a
    /// configuration that does not fit).
    Unsupported {
        /// The kernel's reason.
        reason: String,
    },
    /// The shape does not fit a device limit or the memory budget: refused before
    /// anything was allocated (the memory wall).
    TooLarge {
        /// What was to be allocated.
        what: String,
        /// Bytes needed.
        needed: u64,
        /// Bytes allowed.
        allowed: u64,
        /// Which limit (files written before limits were typed: its text, read back).
        #[serde(deserialize_with = "limit_or_text")]
        limit: Limit,
    },
    /// A shape this kernel cannot take (e.g. past a loop or workgroup cap).
    InvalidShape {
        /// Why.
        reason: String,
    },
    /// The device failed the run (out of memory although the plan fitted, a device error).
    DeviceFailure {
        /// The device's message.
        message: String,
    },
    /// An earlier point of the same kernel hit a wall; every later point is skipped.
    AfterWall {
        /// Where the kernel stopped.
        at: Shape,
        /// Why it stopped there.
        cause: Box<Skip>,
    },
    /// The FLOP model predicts one run past the time budget of a run.
    PredictedPastRunBudget {
        /// Seconds predicted for one run.
        predicted_s: f64,
        /// The last measured point the prediction starts from.
        from: Shape,
        /// Its seconds per run.
        from_s: f64,
        /// The budget of one run, seconds.
        budget_s: f64,
    },
    /// One run took longer than the time budget of a run.
    RunBudgetExceeded {
        /// The point that took too long.
        at: Shape,
        /// Seconds it took.
        took_s: f64,
        /// The budget of one run, seconds.
        budget_s: f64,
    },
    /// The time budget of the whole sweep (or of a suite's share of it) ran out.
    SweepBudget {
        /// Seconds left of this kernel's share when the point came up.
        left_s: f64,
    },
    /// No check of this kernel's pass passed in the verification before the sweep (every
    /// one was skipped): a number no check covers is not published.
    Unverified {
        /// Why: what the checks of that pass skipped for.
        reason: String,
    },
}

impl Skip {
    /// The skip for an error a kernel or the device raised at a point, when it is one a
    /// sweep records rather than stops for.
    pub fn from_error(error: &Error) -> Option<Skip> {
        Some(match error {
            Error::Unsupported { reason, .. } => Skip::Unsupported {
                reason: reason.clone(),
            },
            Error::TooLarge {
                what,
                needed,
                allowed,
                limit,
            } => Skip::TooLarge {
                what: what.clone(),
                needed: *needed,
                allowed: *allowed,
                limit: limit.clone(),
            },
            Error::InvalidShape(reason) => Skip::InvalidShape {
                reason: reason.clone(),
            },
            Error::OutOfMemory { .. } | Error::Gpu { .. } => Skip::DeviceFailure {
                message: error.to_string(),
            },
            _ => return None,
        })
    }

    /// Whether the point was skipped only for lack of time: a later run with more time
    /// may measure it, and such a skip never replaces a measurement.
    pub fn is_lack_of_time(&self) -> bool {
        match self {
            Skip::PredictedPastRunBudget { .. }
            | Skip::RunBudgetExceeded { .. }
            | Skip::SweepBudget { .. } => true,
            Skip::AfterWall { cause, .. } => cause.is_lack_of_time(),
            _ => false,
        }
    }

    /// The memory or device-limit wall behind this skip, if that is what it is: (what,
    /// bytes needed, bytes allowed, which limit).
    pub fn wall(&self) -> Option<(&str, u64, u64, &Limit)> {
        match self {
            Skip::TooLarge {
                what,
                needed,
                allowed,
                limit,
            } => Some((what, *needed, *allowed, limit)),
            Skip::AfterWall { cause, .. } => cause.wall(),
            _ => None,
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Unsupported { reason } => write!(f, "unsupported: {reason}"),
            Skip::TooLarge {
                what,
                needed,
                allowed,
                limit,
            } => write!(
                f,
                "{what} needs {needed} bytes, device allows {allowed} ({limit})"
            ),
            Skip::InvalidShape { reason } => write!(f, "invalid shape: {reason}"),
            Skip::DeviceFailure { message } => f.write_str(message),
            Skip::AfterWall { at, cause } => write!(f, "sweep stopped at {at}: {cause}"),
            Skip::PredictedPastRunBudget {
                predicted_s,
                from,
                from_s,
                budget_s,
            } => write!(
                f,
                "time budget: the FLOP model predicts {predicted_s:.1} s per run (from {from_s:.2} s at {from}), budget {budget_s:.1} s"
            ),
            Skip::RunBudgetExceeded {
                at,
                took_s,
                budget_s,
            } => write!(
                f,
                "time budget: one run at {at} took {took_s:.1} s, budget {budget_s:.1} s"
            ),
            Skip::Unverified { reason } => write!(f, "not verified: {reason}"),
            Skip::SweepBudget { left_s } => write!(
                f,
                "time budget of the whole sweep: {left_s:.1} s left of this kernel's share, not enough to measure this point"
            ),
        }
    }
}
