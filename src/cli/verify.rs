//! `attnbench verify`.

use super::Failure;
use attnbench::verify::{backward_cases, check_kernel_scaled, fresh_seed, verify_shapes};
use attnbench::{AdapterChoice, KERNELS, Shape, find_kernel};

/// Options of `verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Seed of the random inputs (default: a fresh one each run, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Only this kernel (repeatable).
    #[arg(long = "kernel")]
    kernels: Vec<String>,
    /// One shape of your own (--seq-len with --head-dim) instead of the built-in spread;
    /// --pass alone checks the spread in that pass (default: the forward spread, then the
    /// backward's cases for every kernel with a backward).
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
    // (shape, amplitude of Q) per check; the default spread is the forward's shapes, then
    // the backward's cases for the kernels that have a backward.
    let cases: Vec<(Shape, f32)> = if args.shape.any_given() {
        args.shape.require(true, true)?;
        let shape = args.shape.shape();
        shape.validate()?;
        vec![(shape, 1.0)]
    } else if let Some(pass) = args.shape.pass {
        verify_shapes()
            .into_iter()
            .map(|s| (s.with_pass(pass), 1.0))
            .collect()
    } else {
        let mut all: Vec<(Shape, f32)> = verify_shapes().into_iter().map(|s| (s, 1.0)).collect();
        all.extend(backward_cases());
        all
    };
    // Only the kernels checked have their tuned choices checked and applied.
    let names: Vec<&str> = if args.kernels.is_empty() {
        Vec::new()
    } else {
        kernels.iter().map(|k| k.name()).collect()
    };
    let gpu = super::open_tuned_gpu(choice, &names)?;
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let s = gpu.summary();
    println!(
        "adapter: {} ({}, {}), seed {seed}",
        s.name, s.backend, s.device_type
    );
    println!(
        "{:<14} {:>7} {:>3} {:>3} {:>3} {:>6} {:>4} {:>6} {:>6}  {:>12} {:>12}  result",
        "kernel",
        "pass",
        "B",
        "H",
        "HKV",
        "n",
        "d",
        "causal",
        "window",
        "max_abs_err",
        "rel_l2_err"
    );
    let mut failures = 0;
    let mut passes = 0;
    let mut skips = 0;
    let mut first_skip: Option<String> = None;
    for kernel in kernels {
        for &(shape, amplitude) in &cases {
            // The default spread lists backward cases only for kernels that have one.
            if shape.pass.has_backward()
                && kernel.backward().is_none()
                && !args.shape.any_given()
                && args.shape.pass.is_none()
            {
                continue;
            }
            let check = check_kernel_scaled(&gpu, kernel, shape, seed, amplitude)?;
            let (max_abs, rel, verdict) = match (&check.comparison, &check.skipped) {
                (Some(c), _) => {
                    let ok = check.passed();
                    if ok {
                        passes += 1
                    } else {
                        failures += 1
                    }
                    // Which output the numbers are (the worst), and the amplitude of Q.
                    let worst = check.worst().map_or("", |w| w.name);
                    let detail = match (worst, amplitude) {
                        ("o", 1.0) => String::new(),
                        (w, 1.0) => format!(" (worst: {w})"),
                        (w, a) => format!(" (worst: {w}; q × {a})"),
                    };
                    (
                        format!("{:.3e}", c.max_abs_error),
                        format!("{:.3e}", c.rel_l2_error),
                        if ok {
                            format!("ok{detail}")
                        } else {
                            format!(
                                "FAIL{detail} (tolerance {:.0e}, {} non-finite)",
                                check.tolerance, c.non_finite
                            )
                        },
                    )
                }
                (None, Some(reason)) => {
                    skips += 1;
                    first_skip
                        .get_or_insert_with(|| format!("{} at {shape}: {reason}", check.kernel));
                    ("-".into(), "-".into(), format!("skipped: {reason}"))
                }
                (None, None) => ("-".into(), "-".into(), "no result".into()),
            };
            println!(
                "{:<14} {:>7} {:>3} {:>3} {:>3} {:>6} {:>4} {:>6} {:>6}  {:>12} {:>12}  {verdict}",
                check.kernel,
                shape.pass.name(),
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
    // A verify that checked nothing says so, as `run` refuses the same input.
    if passes + failures == 0 {
        return Err(Failure::input(format!(
            "nothing was verified: {skips} checks skipped ({})",
            first_skip
                .as_deref()
                .unwrap_or("no kernel and shape to check")
        )));
    }
    if failures > 0 {
        return Err(Failure::failed(format!(
            "{failures} kernel checks failed (seed {seed})"
        )));
    }
    Ok(())
}
