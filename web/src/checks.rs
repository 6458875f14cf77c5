//! What verification found, as the page shows it and the events carry it: one check
//! ([`CheckReport`]), one kernel's tally ([`KernelTally`]) and the whole
//! ([`VerifySummary`]), with the verdict on whether numbers may be published.

use serde::Serialize;

/// One check as the page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// Kernel name.
    pub kernel: &'static str,
    /// The shape, as attnbench prints it.
    pub shape: String,
    /// What the inputs looked like.
    pub inputs: &'static str,
    /// `passed`, `failed` (wrong output, or an error such as a shader the browser's
    /// compiler rejected) or `skipped`.
    pub outcome: &'static str,
    /// ‖out − ref‖/‖ref‖ of the worst output, when it ran.
    pub rel_l2_error: Option<f64>,
    /// The tolerance it was held to.
    pub tolerance: f64,
    /// Why it failed or was skipped.
    pub detail: String,
}

/// Counts of one kernel's checks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct KernelTally {
    /// Kernel name.
    pub kernel: &'static str,
    /// Checks that ran and matched.
    pub passed: usize,
    /// Checks that ran and did not match, or failed to run.
    pub failed: usize,
    /// Checks not run, each with its reason.
    pub skipped: usize,
    /// The first skip's reason.
    pub first_skip: Option<String>,
}

/// What verification found.
#[derive(Clone, Debug, Serialize)]
pub struct VerifySummary {
    /// Seed of the inputs, as text (a u64 above 2^53 loses digits as a JavaScript number).
    pub seed: String,
    /// Checks planned.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped (those the budget left no time for among them).
    pub skipped: usize,
    /// Checks not run because the run's budget left verification no more time.
    pub cut_by_budget: usize,
    /// Per kernel.
    pub kernels: Vec<KernelTally>,
    /// The failed checks.
    pub failures: Vec<CheckReport>,
    /// Seconds it took.
    pub seconds: f64,
}

impl VerifySummary {
    /// `Ok` when no check failed; else why no number may be published.
    pub fn verdict(&self) -> Result<(), String> {
        if let Some(first) = self.failures.first() {
            return Err(format!(
                "verification: {} of {} checks failed (first: {} at {} with {} inputs: {})",
                self.failed,
                self.passed + self.failed,
                first.kernel,
                first.shape,
                first.inputs,
                first.detail
            ));
        }
        Ok(())
    }

    /// Why no kernel may be measured, when none may: no check of any kernel passed.
    pub fn nothing_verified(&self) -> Option<String> {
        (self.passed == 0).then(|| {
            if self.cut_by_budget > 0 {
                format!(
                    "no kernel was verified within the budget ({} of {} checks ran in {:.1} s,                      none passed; {} were cut for time)",
                    self.total - self.skipped,
                    self.total,
                    self.seconds,
                    self.cut_by_budget
                )
            } else {
                format!(
                    "no kernel was verified: none of {} checks ran (every one was skipped)",
                    self.total
                )
            }
        })
    }

    /// Why `kernel` must not be measured, if it must not: none of its checks ran.
    pub fn unverified(&self, kernel: &str) -> Option<String> {
        let tally = self.kernels.iter().find(|t| t.kernel == kernel)?;
        (tally.passed == 0).then(|| {
            format!(
                "not verified on this device: none of its {} checks ran ({})",
                tally.skipped,
                tally.first_skip.as_deref().unwrap_or("no reason given")
            )
        })
    }
}
