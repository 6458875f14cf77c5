//! Verification before measuring: every kernel the page runs, on the forward cases of the
//! native `verify` (small shapes chosen to break attention kernels, uniform and hostile
//! inputs), against the f64 reference, on fresh inputs (or a given seed's). The cases run
//! smallest first, so that when the run's budget leaves verification too little time for
//! all of them, each kernel has had its cheapest checks; the rest are reported as not run.
//! A failed check stops the page from publishing numbers; a skipped or unrun check is
//! reported with its reason and never counts as a pass; a kernel none of whose checks
//! passed is not measured.

use crate::checks::{CheckReport, KernelTally, VerifySummary};
use crate::events::{Event, Events};
use attnbench::shape::Pass;
use attnbench::verify::{Case, Coverage, check_async, plan};
use attnbench::{Bench, Kernel, Shape};
use web_time::Instant;

/// The outcome of a check the budget left no time for.
pub const NOT_RUN: &str = "not run";

/// Multiply-adds of a forward case: what orders the cases, cheapest first.
fn cost(shape: &Shape) -> u64 {
    shape.batch_heads() * u64::from(shape.seq_len).pow(2) * u64::from(shape.head_dim)
}

/// The forward cases of the native default coverage for `kernels`, cheapest first (kernels
/// interleaved, each kernel's own order kept among equal costs).
fn cases(kernels: &[&'static dyn Kernel]) -> Vec<Case> {
    let mut cases = plan(kernels, Coverage::Device, Some(Pass::Forward));
    cases.sort_by_key(|c| cost(&c.shape));
    cases
}

/// Checks `kernels` on inputs from `seed`; no check starts past `deadline`.
pub async fn verify(
    gpu: &Bench,
    kernels: &[&'static dyn Kernel],
    seed: u64,
    deadline: Instant,
    events: &Events,
) -> Result<VerifySummary, String> {
    let started = Instant::now();
    let cases = cases(kernels);
    events.emit(&Event::VerifyStart {
        total: cases.len(),
        kernels: kernels.iter().map(|k| k.name()).collect(),
        seed: seed.to_string(),
        budget_s: deadline.saturating_duration_since(started).as_secs_f64(),
    });
    let mut summary = VerifySummary {
        seed: seed.to_string(),
        total: cases.len(),
        passed: 0,
        failed: 0,
        skipped: 0,
        cut_by_budget: 0,
        kernels: kernels
            .iter()
            .map(|k| KernelTally {
                kernel: k.name(),
                ..KernelTally::default()
            })
            .collect(),
        failures: Vec::new(),
        seconds: 0.0,
    };
    for (i, case) in cases.iter().enumerate() {
        if Instant::now() >= deadline {
            let report = not_run(case, started.elapsed().as_secs_f64());
            summary.skipped += 1;
            summary.cut_by_budget += 1;
            let tally = summary
                .kernels
                .iter_mut()
                .find(|t| t.kernel == report.kernel)
                .expect("every case's kernel is tallied");
            tally.skipped += 1;
            tally
                .first_skip
                .get_or_insert_with(|| report.detail.clone());
            events.emit(&Event::Check {
                done: i + 1,
                total: cases.len(),
                check: &report,
            });
            continue;
        }
        let mut outcome = check_async(gpu, case.kernel, case.shape, seed, case.inputs).await;
        // The browser reports errors asynchronously: one that arrives after the check's
        // last wait is still this check's.
        if outcome.is_ok()
            && let Err(e) = gpu.check_health(&format!("verifying {}", case.kernel.name()))
        {
            outcome = Err(e);
        }
        if let Err(e @ attnbench::Error::DeviceLost(_)) = &outcome {
            return Err(format!("verification: {e}"));
        }
        let report = report(case.kernel, &case.shape, case.inputs.name(), outcome);
        let tally = summary
            .kernels
            .iter_mut()
            .find(|t| t.kernel == report.kernel)
            .expect("every case's kernel is tallied");
        match report.outcome {
            "passed" => {
                summary.passed += 1;
                tally.passed += 1;
            }
            "skipped" => {
                summary.skipped += 1;
                tally.skipped += 1;
                tally
                    .first_skip
                    .get_or_insert_with(|| report.detail.clone());
            }
            _ => {
                summary.failed += 1;
                tally.failed += 1;
                summary.failures.push(report.clone());
            }
        }
        events.emit(&Event::Check {
            done: i + 1,
            total: cases.len(),
            check: &report,
        });
    }
    summary.seconds = started.elapsed().as_secs_f64();
    events.emit(&Event::VerifyDone { summary: &summary });
    Ok(summary)
}

/// The report of a check the budget left no time for.
fn not_run(case: &Case, spent_s: f64) -> CheckReport {
    CheckReport {
        kernel: case.kernel.name(),
        shape: case.shape.to_string(),
        inputs: case.inputs.name(),
        outcome: NOT_RUN,
        rel_l2_error: None,
        tolerance: case.kernel.tolerance(),
        detail: format!(
            "not run: verification's share of the run's budget was spent ({spent_s:.1} s)"
        ),
    }
}

/// The page's view of one check's outcome.
fn report(
    kernel: &'static dyn Kernel,
    shape: &attnbench::Shape,
    inputs: &'static str,
    outcome: attnbench::Result<attnbench::verify::Check>,
) -> CheckReport {
    let mut report = CheckReport {
        kernel: kernel.name(),
        shape: shape.to_string(),
        inputs,
        outcome: "failed",
        rel_l2_error: None,
        tolerance: kernel.tolerance(),
        detail: String::new(),
    };
    match outcome {
        Ok(check) => {
            report.tolerance = check.tolerance;
            report.rel_l2_error = check.comparison.map(|c| c.rel_l2_error);
            if let Some(reason) = &check.skipped {
                report.outcome = "skipped";
                report.detail = reason.clone();
            } else if check.passed() {
                report.outcome = "passed";
            } else {
                report.detail = match check.worst() {
                    Some(w) => format!(
                        "{}: relative L2 error {:.3e} over tolerance {:.1e}",
                        w.name, w.comparison.rel_l2_error, w.tolerance
                    ),
                    None => "no output compared".into(),
                };
            }
        }
        Err(e) => report.detail = e.to_string(),
    }
    report
}
