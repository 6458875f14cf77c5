//! What a verification covered, per (kernel, pass, head dim) ([`Tally`]): the sweep and
//! the suite publish a kernel's pass only where a check of it passed, so a budget that
//! skips every backward check (or every check at one head dim) is a failure to verify,
//! never a quiet "0 failed".

use super::cases::Case;
use super::check::{Check, NotRun};
use crate::shape::Pass;

/// The checks of one (kernel, pass, head dim).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// Checks that ran and matched the reference.
    pub passed: usize,
    /// Checks that ran and did not.
    pub failed: usize,
    /// Checks that did not run.
    pub skipped: usize,
    /// Of those, checks the kernel cannot run on this device at all (a missing feature, no
    /// backward): what the sweep will not measure either.
    pub unsupported: usize,
    /// The first skip, `kernel at shape: reason`.
    pub first_skip: Option<String>,
}

impl Group {
    /// Whether it had checks, none passed, and some were skipped for a reason other than
    /// the kernel not supporting them (a budget, a device limit): the sweep may measure
    /// shapes of it that no check covered.
    pub fn is_unverified(&self) -> bool {
        self.passed == 0 && self.skipped > self.unsupported
    }
}

/// Checks counted per (kernel, pass, head dim), in the order they first came.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    groups: Vec<((&'static str, Pass, u32), Group)>,
}

/// A (kernel, pass) or (kernel, pass, head dim) that no passing check covers, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unverified {
    /// The kernel.
    pub kernel: &'static str,
    /// The pass.
    pub pass: Pass,
    /// The head dim, for a group of one head dim.
    pub head_dim: Option<u32>,
    /// The first of its skips.
    pub reason: String,
}

impl std::fmt::Display for Unverified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kernel, self.pass.name())?;
        if let Some(d) = self.head_dim {
            write!(f, " d={d}")?;
        }
        write!(f, " (every check skipped; first: {})", self.reason)
    }
}

impl Tally {
    /// Counts `check`, the outcome of `case`.
    pub fn add(&mut self, case: &Case, check: &Check) {
        let key = (case.kernel.name(), case.shape.pass, case.shape.head_dim);
        let at = match self.groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.groups.push((key, Group::default()));
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[at].1;
        if check.passed() {
            group.passed += 1;
        } else if check.failed() {
            group.failed += 1;
        } else {
            group.skipped += 1;
            if check.not_run == Some(NotRun::Unsupported) {
                group.unsupported += 1;
            }
            group.first_skip.get_or_insert_with(|| {
                let reason = check.skipped.as_deref().unwrap_or("not run");
                // A limit's reason names the kernel and shape already.
                if reason.starts_with(case.kernel.name()) {
                    reason.to_string()
                } else {
                    format!("{} at {}: {reason}", case.kernel.name(), case.shape)
                }
            });
        }
    }

    /// Every group, in the order their first checks came.
    pub fn groups(&self) -> impl Iterator<Item = ((&'static str, Pass, u32), &Group)> {
        self.groups.iter().map(|(k, g)| (*k, g))
    }

    /// Checks that passed, failed and were skipped, in all.
    pub fn totals(&self) -> (usize, usize, usize) {
        self.groups.iter().fold((0, 0, 0), |(p, f, s), (_, g)| {
            (p + g.passed, f + g.failed, s + g.skipped)
        })
    }

    /// Passing checks of `kernel`, every pass and head dim.
    pub fn passed(&self, kernel: &str) -> usize {
        self.groups
            .iter()
            .filter(|((k, _, _), _)| *k == kernel)
            .map(|(_, g)| g.passed)
            .sum()
    }

    /// The first skip of `kernel`, if any.
    pub fn first_skip(&self, kernel: &str) -> Option<&str> {
        self.groups
            .iter()
            .filter(|((k, _, _), _)| *k == kernel)
            .find_map(|(_, g)| g.first_skip.as_deref())
    }

    /// The (kernel, pass, head dim) groups no passing check covers ([`Group::is_unverified`]).
    pub fn unverified_head_dims(&self) -> Vec<Unverified> {
        self.groups
            .iter()
            .filter(|(_, g)| g.is_unverified())
            .map(|((kernel, pass, d), g)| Unverified {
                kernel,
                pass: *pass,
                head_dim: Some(*d),
                reason: g.first_skip.clone().unwrap_or_default(),
            })
            .collect()
    }

    /// The (kernel, pass) pairs no passing check covers at any head dim, where some check
    /// was skipped for a reason other than the kernel not supporting it: what the sweep
    /// must not publish.
    pub fn unverified_passes(&self) -> Vec<Unverified> {
        let mut out: Vec<Unverified> = Vec::new();
        for ((kernel, pass, _), _) in &self.groups {
            if out.iter().any(|u| u.kernel == *kernel && u.pass == *pass) {
                continue;
            }
            let groups: Vec<&Group> = self
                .groups
                .iter()
                .filter(|((k, p, _), _)| k == kernel && p == pass)
                .map(|(_, g)| g)
                .collect();
            let passed: usize = groups.iter().map(|g| g.passed).sum();
            let limited = groups.iter().any(|g| g.skipped > g.unsupported);
            if passed == 0 && limited {
                out.push(Unverified {
                    kernel,
                    pass: *pass,
                    head_dim: None,
                    reason: groups
                        .iter()
                        .find_map(|g| g.first_skip.clone())
                        .unwrap_or_default(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::find_kernel;
    use crate::reference::Comparison;
    use crate::shape::Shape;
    use crate::verify::{InputKind, OutputCheck};

    fn case(pass: Pass, head_dim: u32) -> Case {
        Case {
            kernel: find_kernel("flash").unwrap(),
            shape: Shape::new(64, head_dim).with_pass(pass),
            inputs: InputKind::Uniform,
        }
    }

    fn check(case: &Case, outcome: Option<NotRun>) -> Check {
        let comparison = Comparison::new(&[1.0], &[1.0]);
        let ran = outcome.is_none();
        Check {
            kernel: case.kernel.name(),
            shape: case.shape,
            seed: 1,
            inputs: case.inputs,
            comparison: ran.then_some(comparison),
            tolerance: 1e-3,
            outputs: if ran {
                vec![OutputCheck {
                    name: "o",
                    comparison,
                    tolerance: 1e-3,
                }]
            } else {
                Vec::new()
            },
            skipped: outcome.map(|_| "flash at somewhere needs 1 bytes".into()),
            not_run: outcome,
        }
    }

    /// A pass whose every check a budget skipped is unverified, per head dim and as a
    /// pass; one the kernel cannot run at all is not (nothing will measure it).
    #[test]
    fn skipped_passes_are_unverified_unless_unsupported() {
        let mut tally = Tally::default();
        for (pass, d, outcome) in [
            (Pass::Forward, 64, None),
            (Pass::Forward, 128, Some(NotRun::PastLimits)),
            (Pass::Backward, 19, None),
            (Pass::Backward, 64, Some(NotRun::PastLimits)),
            (Pass::ForwardBackward, 19, Some(NotRun::PastLimits)),
            (Pass::ForwardBackward, 19, Some(NotRun::Unsupported)),
        ] {
            let c = case(pass, d);
            tally.add(&c, &check(&c, outcome));
        }
        let groups: Vec<String> = tally
            .unverified_head_dims()
            .iter()
            .map(|u| format!("{} {} {:?}", u.kernel, u.pass.name(), u.head_dim))
            .collect();
        assert_eq!(
            groups,
            [
                "flash fwd Some(128)",
                "flash bwd Some(64)",
                "flash fwd-bwd Some(19)"
            ]
        );
        let passes = tally.unverified_passes();
        assert_eq!(passes.len(), 1);
        assert_eq!(passes[0].pass, Pass::ForwardBackward);
        assert!(passes[0].to_string().contains("needs 1 bytes"));
        let mut unsupported = Tally::default();
        let c = case(Pass::Backward, 64);
        unsupported.add(&c, &check(&c, Some(NotRun::Unsupported)));
        assert!(unsupported.unverified_passes().is_empty());
        assert!(unsupported.unverified_head_dims().is_empty());
        assert_eq!(tally.totals(), (2, 0, 4));
    }
}
