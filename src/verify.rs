//! Correctness: every registered kernel against the f64 reference on fresh random inputs
//! over a spread of shapes chosen to break attention kernels (n = 1, primes, lengths that
//! are not multiples of any tile, odd and large head dims, causal, many heads, grouped-query
//! attention and sliding windows).

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::reference::{Comparison, attention_f64_last_rows};
use crate::run::run_attention;
use crate::shape::Shape;
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

/// The outcome of one kernel on one shape.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Kernel name.
    pub kernel: &'static str,
    /// Problem shape.
    pub shape: Shape,
    /// Seed of the random inputs.
    pub seed: u64,
    /// The comparison, when the kernel ran.
    pub comparison: Option<Comparison>,
    /// The kernel's tolerance on ‖out−ref‖/‖ref‖.
    pub tolerance: f64,
    /// Why it did not run, when it did not.
    pub skipped: Option<String>,
}

impl Check {
    /// True when the kernel ran and matched the reference; skips are not failures.
    pub fn passed(&self) -> bool {
        match &self.comparison {
            Some(c) => c.passes(self.tolerance),
            None => self.skipped.is_some(),
        }
    }
}

/// Runs `kernel` on `shape` with random inputs from `seed` (output poisoned first) and
/// compares with the reference. A kernel that does not support the shape, or a shape past
/// the device's limits or memory budget, is a skip with the reason; a shape whose host
/// tensors and reference do not fit the host's memory is an error ([`Error::TooLarge`]),
/// raised before anything is allocated; any other error is returned.
pub fn check_kernel(gpu: &Gpu, kernel: &dyn Kernel, shape: Shape, seed: u64) -> Result<Check> {
    let mut check = Check {
        kernel: kernel.name(),
        shape,
        seed,
        comparison: None,
        tolerance: kernel.tolerance(),
        skipped: None,
    };
    match kernel.check_support(&shape, gpu) {
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
    let inputs = AttentionInputs::random(shape, seed)?;
    let out = run_attention(gpu, kernel, &inputs)?;
    check.comparison = Some(compare_output(kernel, &inputs, &out));
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
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed)
}
