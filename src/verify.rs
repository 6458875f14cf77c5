//! Correctness: every registered kernel against the f64 reference on fresh random inputs
//! over a spread of shapes chosen to break attention kernels (n = 1, primes, lengths that
//! are not multiples of any tile, odd and large head dims, causal, many heads, grouped-query
//! attention and sliding windows).

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::reference::{Comparison, attention_backward_f64, attention_f64_last_rows};
use crate::run::run_training_async;
use crate::shape::{Pass, Shape};
use crate::tensors::AttentionInputs;
use serde::Serialize;

/// The shapes `attnbench verify` and the tests check: (B, H, n, d, causal).
pub const VERIFY_SHAPES: &[(u32, u32, u32, u32, bool)] = &[
    (1, 1, 1, 16, false),
    (1, 1, 1, 64, true),
    (1, 1, 2, 3, true),
    (1, 1, 67, 16, false),
    (1, 1, 67, 64, true),
    (1, 1, 67, 128, false),
    (2, 3, 100, 64, false),
    (2, 3, 100, 64, true),
    (1, 2, 129, 80, true),
    (1, 1, 256, 16, true),
    (1, 1, 256, 64, false),
    (1, 1, 256, 128, true),
    (1, 1, 33, 256, false),
    (4, 8, 17, 32, true),
    (1, 2, 1000, 64, true),
];

/// Grouped-query attention and sliding windows: (B, H, HKV, n, d, causal, W), W = 0 for
/// no window. MQA (HKV = 1), W = 1 (a row sees itself), W ≥ n, W not a multiple of any
/// tile, windows that start mid-block and cross blocks, odd and large head dims.
pub const VARIANT_SHAPES: &[(u32, u32, u32, u32, u32, bool, u32)] = &[
    (1, 4, 2, 67, 64, false, 0),
    (2, 6, 1, 100, 32, true, 0),
    (1, 8, 2, 33, 19, false, 0),
    (1, 2, 1, 1, 64, true, 1),
    (1, 1, 1, 130, 64, true, 1),
    (1, 2, 2, 67, 16, true, 200),
    (1, 4, 2, 300, 64, true, 37),
    (1, 1, 1, 1000, 64, true, 100),
    (2, 4, 2, 257, 128, true, 70),
    (1, 2, 1, 129, 80, true, 5),
    (1, 4, 4, 100, 256, true, 33),
];

/// The verification shapes as [`Shape`]s: [`VERIFY_SHAPES`], then [`VARIANT_SHAPES`].
pub fn verify_shapes() -> Vec<Shape> {
    let plain = VERIFY_SHAPES
        .iter()
        .map(|&(batch, heads, seq_len, head_dim, causal)| {
            Shape::new(seq_len, head_dim)
                .with_batch_heads(batch, heads)
                .with_causal(causal)
        });
    let variants = VARIANT_SHAPES.iter().map(
        |&(batch, heads, kv_heads, seq_len, head_dim, causal, window)| {
            Shape::new(seq_len, head_dim)
                .with_batch_heads(batch, heads)
                .with_causal(causal)
                .with_kv_heads(kv_heads)
                .with_window((window > 0).then_some(window))
        },
    );
    plain.chain(variants).collect()
}

/// Amplitude of the peaked inputs of the backward spread: Q is scaled by it, so scores
/// reach ±30 and each softmax row is dominated by a few keys.
pub const PEAKED_AMPLITUDE: f32 = 16.0;

/// The backward spread: every verification shape with `--pass bwd`, then a few with
/// peaked scores (Q times [`PEAKED_AMPLITUDE`]) and one training step (`fwd-bwd`, O and the
/// gradients checked together). Each case is (shape, amplitude of Q).
pub fn backward_cases() -> Vec<(Shape, f32)> {
    let mut cases: Vec<(Shape, f32)> = verify_shapes()
        .into_iter()
        .map(|s| (s.with_pass(Pass::Backward), 1.0))
        .collect();
    let peaked = [
        Shape::new(67, 64).with_causal(true),
        Shape::new(200, 32).with_batch_heads(1, 4).with_kv_heads(2),
        Shape::new(300, 64).with_window(Some(37)),
    ];
    cases.extend(
        peaked
            .into_iter()
            .map(|s| (s.with_pass(Pass::Backward), PEAKED_AMPLITUDE)),
    );
    cases.push((
        Shape::new(129, 80)
            .with_batch_heads(2, 2)
            .with_causal(true)
            .with_pass(Pass::ForwardBackward),
        1.0,
    ));
    cases
}

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

/// The outcome of one kernel on one shape.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Kernel name.
    pub kernel: &'static str,
    /// Problem shape (its pass says which outputs were compared).
    pub shape: Shape,
    /// Seed of the random inputs.
    pub seed: u64,
    /// Q was scaled by this (1: uniform inputs in [-1, 1)).
    pub amplitude: f32,
    /// The worst of the compared outputs (relative to its tolerance), when the kernel ran:
    /// O for the forward, the worst of dQ, dK, dV (and O for `fwd-bwd`) otherwise.
    pub comparison: Option<Comparison>,
    /// The tolerance of that output.
    pub tolerance: f64,
    /// Every compared output.
    pub outputs: Vec<OutputCheck>,
    /// Why it did not run, when it did not.
    pub skipped: Option<String>,
}

impl Check {
    /// True when the kernel ran and every output matched the reference; skips are not
    /// failures.
    pub fn passed(&self) -> bool {
        if self.comparison.is_some() {
            !self.outputs.is_empty() && self.outputs.iter().all(OutputCheck::passed)
        } else {
            self.skipped.is_some()
        }
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

/// Runs `kernel` on `shape` with random inputs from `seed` (outputs poisoned first) and
/// compares with the reference: O for the forward, dQ, dK and dV for the backward, all
/// four for a training step. A kernel that does not support the shape (or has no
/// backward), or a shape past the device's limits or memory budget, is a skip with the
/// reason; a shape whose host tensors and reference do not fit the host's memory is an
/// error ([`Error::TooLarge`]), raised before anything is allocated; any other error is
/// returned.
#[cfg(not(target_arch = "wasm32"))]
pub fn check_kernel(gpu: &Gpu, kernel: &dyn Kernel, shape: Shape, seed: u64) -> Result<Check> {
    check_kernel_scaled(gpu, kernel, shape, seed, 1.0)
}

/// [`check_kernel`] with Q scaled by `amplitude` (peaked scores when large).
#[cfg(not(target_arch = "wasm32"))]
pub fn check_kernel_scaled(
    gpu: &Gpu,
    kernel: &dyn Kernel,
    shape: Shape,
    seed: u64,
    amplitude: f32,
) -> Result<Check> {
    pollster::block_on(check_kernel_async(gpu, kernel, shape, seed, amplitude))
}

/// [`check_kernel_scaled`], awaited: the browser's form.
pub async fn check_kernel_async(
    gpu: &Gpu,
    kernel: &dyn Kernel,
    shape: Shape,
    seed: u64,
    amplitude: f32,
) -> Result<Check> {
    let backward_tolerance = kernel.backward().map_or(0.0, |b| b.tolerance());
    let mut check = Check {
        kernel: kernel.name(),
        shape,
        seed,
        amplitude,
        comparison: None,
        tolerance: kernel.tolerance(),
        outputs: Vec::new(),
        skipped: None,
    };
    match crate::run::check_support(kernel, &shape, gpu) {
        Err(Error::Unsupported { reason, .. }) => {
            check.skipped = Some(reason);
            return Ok(check);
        }
        Err(other) => return Err(other),
        Ok(()) => {}
    }
    crate::host::check(
        &format!(
            "verifying {} at {shape} (inputs, output and f64 reference)",
            kernel.name()
        ),
        crate::host::verify_bytes(&shape, kernel.query_rows(&shape)),
    )?;
    match crate::run::plan_for(kernel, &shape, gpu) {
        Err(e @ Error::TooLarge { .. }) => {
            check.skipped = Some(e.to_string());
            return Ok(check);
        }
        Err(Error::Unsupported { reason, .. }) => {
            check.skipped = Some(reason);
            return Ok(check);
        }
        Err(other) => return Err(other),
        Ok(_) => {}
    }
    let mut inputs = AttentionInputs::random(shape, seed)?;
    if amplitude != 1.0 {
        inputs.q.iter_mut().for_each(|x| *x *= amplitude);
    }
    let (out, grads) = run_training_async(gpu, kernel, &inputs).await?;
    if shape.pass.times_forward() {
        check.outputs.push(OutputCheck {
            name: "o",
            comparison: compare_output(kernel, &inputs, &out),
            tolerance: kernel.tolerance(),
        });
    }
    if let Some(grads) = grads {
        let d_o = inputs.d_o.as_deref().unwrap_or_default();
        let (dq, dk, dv) =
            attention_backward_f64(&shape.forward(), &inputs.q, &inputs.k, &inputs.v, d_o);
        for ((name, got), reference) in grads.named().into_iter().zip([dq, dk, dv]) {
            check.outputs.push(OutputCheck {
                name,
                comparison: Comparison::new(got, &reference),
                tolerance: backward_tolerance,
            });
        }
    }
    if let Some((comparison, tolerance)) = check.worst().map(|w| (w.comparison, w.tolerance)) {
        check.comparison = Some(comparison);
        check.tolerance = tolerance;
    }
    Ok(check)
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
