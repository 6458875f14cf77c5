//! One check: a kernel run on one case's inputs, against the f64 reference.

use super::inputs::InputKind;
use super::tolerance;
use crate::bench::Bench;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::reference::{Comparison, attention_backward_f64, attention_f64_last_rows};
use crate::run::{PointPlan, run_plan_async};
use crate::shape::Shape;
use crate::tensors::AttentionInputs;
use serde::Serialize;

/// One output of a run against its reference.
#[derive(Clone, Debug, Serialize)]
pub struct OutputCheck {
    /// `o`, `dq`, `dk` or `dv`.
    pub name: &'static str,
    /// How far it is from the f64 reference.
    pub comparison: Comparison,
    /// Largest ‖out − ref‖/‖ref‖ that counts as correct for it.
    pub tolerance: f64,
}

impl OutputCheck {
    /// True when it matches within its tolerance (NaN never does).
    pub fn passed(&self) -> bool {
        self.comparison.passes(self.tolerance)
    }
}

/// The outcome of one kernel on one shape and kind of inputs.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Kernel name.
    pub kernel: &'static str,
    /// Problem shape (its pass says which outputs were compared).
    pub shape: Shape,
    /// Seed of the inputs.
    pub seed: u64,
    /// What the inputs looked like.
    pub inputs: InputKind,
    /// The worst of the compared outputs (relative to its tolerance), when the kernel ran:
    /// O for the forward, the worst of dQ, dK, dV (and O for `fwd-bwd`) otherwise.
    pub comparison: Option<Comparison>,
    /// The tolerance of that output.
    pub tolerance: f64,
    /// Every compared output.
    pub outputs: Vec<OutputCheck>,
    /// Why it did not run, when it did not.
    pub skipped: Option<String>,
    /// What kind of reason that is, when it did not run.
    pub not_run: Option<NotRun>,
}

/// Why a check did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRun {
    /// The kernel cannot run the shape on this device (a missing feature, no backward):
    /// nothing will measure it here either.
    Unsupported,
    /// The shape is past the memory budget or a device limit: smaller shapes of the same
    /// kernel and pass may still be measured.
    PastLimits,
}

impl Check {
    /// True when the kernel ran and every output matched the reference. A skip is not a
    /// pass ([`Check::ran`] tells them apart).
    pub fn passed(&self) -> bool {
        self.ran() && !self.outputs.is_empty() && self.outputs.iter().all(OutputCheck::passed)
    }

    /// True when the kernel ran and was compared (passed or failed).
    pub fn ran(&self) -> bool {
        self.comparison.is_some()
    }

    /// True when it ran and some output did not match.
    pub fn failed(&self) -> bool {
        self.ran() && !self.passed()
    }

    /// The compared output that failed, or came closest to its tolerance.
    pub fn worst(&self) -> Option<&OutputCheck> {
        let badness = |o: &&OutputCheck| {
            let r = o.comparison.rel_l2_error / o.tolerance;
            if r.is_nan() { f64::INFINITY } else { r }
        };
        self.outputs
            .iter()
            .max_by(|a, b| badness(a).total_cmp(&badness(b)))
    }
}

/// Runs `kernel` on `shape` with uniform inputs from `seed` ([`check`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn check_kernel(bench: &Bench, kernel: &dyn Kernel, shape: Shape, seed: u64) -> Result<Check> {
    check(bench, kernel, shape, seed, InputKind::Uniform)
}

/// [`check_async`], blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn check(
    bench: &Bench,
    kernel: &dyn Kernel,
    shape: Shape,
    seed: u64,
    inputs: InputKind,
) -> Result<Check> {
    pollster::block_on(check_async(bench, kernel, shape, seed, inputs))
}

/// Runs `kernel` on `shape` with `inputs` from `seed` (outputs poisoned first) and
/// compares with the reference: O for the forward, dQ, dK and dV for the backward, all
/// four for a training step. A kernel that does not support the shape (or has no
/// backward), or a shape past the device's limits or memory budget, is a skip with the
/// reason; a shape whose host tensors and reference do not fit the host's memory is an
/// error ([`Error::TooLarge`]), raised before anything is allocated; any other error is
/// returned.
pub async fn check_async(
    bench: &Bench,
    kernel: &dyn Kernel,
    shape: Shape,
    seed: u64,
    inputs: InputKind,
) -> Result<Check> {
    let mut check = Check {
        kernel: kernel.name(),
        shape,
        seed,
        inputs,
        comparison: None,
        tolerance: kernel.tolerance(),
        outputs: Vec::new(),
        skipped: None,
        not_run: None,
    };
    let plan = match plan_check(bench, kernel, &shape)? {
        Ok(plan) => plan,
        Err((kind, reason)) => {
            check.skipped = Some(reason);
            check.not_run = Some(kind);
            return Ok(check);
        }
    };
    let tensors = inputs.inputs(shape, seed)?;
    let (out, grads) = run_plan_async(bench, &plan, &tensors).await?;
    if shape.pass.times_forward() {
        check.outputs.push(OutputCheck {
            name: "o",
            comparison: compare_output(kernel, &tensors, &out),
            tolerance: tolerance::forward(kernel, &tensors),
        });
    }
    if let Some(grads) = grads {
        let tolerance = kernel.backward().map_or(0.0, |b| b.tolerance());
        let d_o = tensors.d_o.as_deref().unwrap_or_default();
        let (dq, dk, dv) =
            attention_backward_f64(&shape.forward(), &tensors.q, &tensors.k, &tensors.v, d_o);
        let floor = gradient_floor(&[&dq, &dk, &dv]);
        for ((name, got), reference) in grads.named().into_iter().zip([dq, dk, dv]) {
            let floor_norm = floor * (reference.len() as f64).sqrt();
            check.outputs.push(OutputCheck {
                name,
                comparison: Comparison::with_floor(got, &reference, floor_norm),
                tolerance,
            });
        }
    }
    if let Some((comparison, tolerance)) = check.worst().map(|w| (w.comparison, w.tolerance)) {
        check.comparison = Some(comparison);
        check.tolerance = tolerance;
    }
    Ok(check)
}

/// `kernel`'s plan for `shape` here, or why it cannot be checked and of which kind: it does
/// not support the shape (or has no backward), or the shape is past the device's limits or
/// memory budget.
/// A shape whose host tensors and reference do not fit the host's memory is an error.
fn plan_check<'k>(
    bench: &Bench,
    kernel: &'k dyn Kernel,
    shape: &Shape,
) -> Result<std::result::Result<PointPlan<'k>, (NotRun, String)>> {
    let plan = match PointPlan::new(bench, kernel, shape) {
        Ok(plan) => plan,
        Err(e @ Error::TooLarge { .. }) => return Ok(Err((NotRun::PastLimits, e.to_string()))),
        // Past the budget, a kernel may refuse what it would run with more memory.
        Err(Error::Unsupported { reason, .. }) => {
            let planner = bench.planner();
            let unbudgeted = crate::gpu::DeviceFacts {
                memory_budget: None,
                ..planner.ctx.facts.clone()
            };
            let ctx = crate::kernels::PlanContext {
                facts: &unbudgeted,
                ..planner.ctx
            };
            let kind = if kernel.plan(shape, &ctx).is_ok() {
                NotRun::PastLimits
            } else {
                NotRun::Unsupported
            };
            return Ok(Err((kind, reason)));
        }
        Err(other) => return Err(other),
    };
    crate::host::check(
        &format!(
            "verifying {} at {shape} (inputs, output and f64 reference)",
            kernel.name()
        ),
        crate::host::verify_bytes(shape, kernel.query_rows(shape)),
    )?;
    match plan.check(bench) {
        Err(e @ Error::TooLarge { .. }) => Ok(Err((NotRun::PastLimits, e.to_string()))),
        Err(other) => Err(other),
        Ok(()) => Ok(Ok(plan)),
    }
}

/// The smallest RMS a gradient's error is judged against: a tenth of the RMS of all three
/// gradients together. A gradient far smaller than its companions (dQ where the softmax is
/// one-hot and its terms cancel) is then checked at the scale of the problem, not of its
/// own rounding noise; gradients of ordinary size keep their own norm.
fn gradient_floor(references: &[&Vec<f64>]) -> f64 {
    let (sum2, count) = references.iter().fold((0.0, 0usize), |(s, c), r| {
        (s + r.iter().map(|x| x * x).sum::<f64>(), c + r.len())
    });
    0.1 * (sum2 / count.max(1) as f64).sqrt()
}

/// Compares a kernel's output `[B, H, rows, d]` (as [`crate::run::KernelRun::read_output`]
/// returns it: the rows the kernel computes, [`Kernel::query_rows`], all of them or the last
/// ones for decode) with the f64 reference on those rows.
pub fn compare_output(kernel: &dyn Kernel, inputs: &AttentionInputs, out: &[f32]) -> Comparison {
    let shape = inputs.shape;
    let rows = kernel.query_rows(&shape);
    let reference = attention_f64_last_rows(&shape, &inputs.q, &inputs.k, &inputs.v, rows);
    Comparison::new(out, &reference)
}

/// A seed that differs from run to run (time based), so every verification sees fresh inputs.
pub fn fresh_seed() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed)
}
