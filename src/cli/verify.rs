//! `attnbench verify`.

use super::Failure;
use attnbench::verify::{check_kernel, fresh_seed, verify_shapes};
use attnbench::{AdapterChoice, KERNELS, find_kernel};

/// Options of `verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Seed of the random inputs (default: a fresh one each run, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Only this kernel (repeatable).
    #[arg(long = "kernel")]
    kernels: Vec<String>,
    /// One shape of your own (--seq-len with --head-dim) instead of the built-in spread.
    #[command(flatten)]
    shape: super::ShapeArgs,
}

/// Checks every kernel × shape and prints a table; fails if any check fails.
pub fn verify(args: &VerifyArgs, choice: AdapterChoice) -> Result<(), Failure> {
    let kernels = if args.kernels.is_empty() {
        KERNELS.to_vec()
    } else {
        args.kernels
            .iter()
            .map(|k| find_kernel(k))
            .collect::<Result<Vec<_>, _>>()?
    };
    let shapes = if args.shape.any_given() {
        args.shape.require(true, true)?;
        let shape = args.shape.shape();
        shape.validate()?;
        vec![shape]
    } else {
        verify_shapes()
    };
    let gpu = super::open_tuned_gpu(choice)?;
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let s = gpu.summary();
    println!(
        "adapter: {} ({}, {}), seed {seed}",
        s.name, s.backend, s.device_type
    );
    println!(
        "{:<14} {:>3} {:>3} {:>3} {:>6} {:>4} {:>6} {:>6}  {:>12} {:>12}  result",
        "kernel", "B", "H", "HKV", "n", "d", "causal", "window", "max_abs_err", "rel_l2_err"
    );
    let mut failures = 0;
    let mut passes = 0;
    let mut skips = 0;
    for kernel in kernels {
        for &shape in &shapes {
            let check = check_kernel(&gpu, kernel, shape, seed)?;
            let (max_abs, rel, verdict) = match (&check.comparison, &check.skipped) {
                (Some(c), _) => {
                    let ok = check.passed();
                    if ok {
                        passes += 1
                    } else {
                        failures += 1
                    }
                    (
                        format!("{:.3e}", c.max_abs_error),
                        format!("{:.3e}", c.rel_l2_error),
                        if ok {
                            "ok".to_string()
                        } else {
                            format!(
                                "FAIL (tolerance {:.0e}, {} non-finite)",
                                check.tolerance, c.non_finite
                            )
                        },
                    )
                }
                (None, Some(reason)) => {
                    skips += 1;
                    ("-".into(), "-".into(), format!("skipped: {reason}"))
                }
                (None, None) => ("-".into(), "-".into(), "no result".into()),
            };
            println!(
                "{:<14} {:>3} {:>3} {:>3} {:>6} {:>4} {:>6} {:>6}  {:>12} {:>12}  {verdict}",
                check.kernel,
                shape.batch,
                shape.heads,
                shape.kv_head_count(),
                shape.seq_len,
                shape.head_dim,
                shape.causal,
                shape.window.map_or("-".to_string(), |w| w.to_string()),
                max_abs,
                rel
            );
        }
    }
    println!("{passes} passed, {failures} failed, {skips} skipped");
    if failures > 0 {
        return Err(Failure::failed(format!(
            "{failures} kernel checks failed (seed {seed})"
        )));
    }
    Ok(())
}
