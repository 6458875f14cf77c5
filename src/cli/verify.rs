//! `attnbench verify`.

use super::Failure;
use attnbench::settings::Settings;
use attnbench::verify::{Case, Check, Coverage, InputKind, Tally, check_all, fresh_seed, plan};
use attnbench::{KERNELS, Kernel, find_kernel};

/// Options of `verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Seed of the inputs (default: a fresh one each run, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Only this kernel (repeatable).
    #[arg(long = "kernel")]
    kernels: Vec<String>,
    /// Every shape with every kind of input, at more head dims (CI's coverage); the
    /// default checks every code path of what this device runs, at head dims 19, 64, 128
    /// and 256.
    #[arg(long)]
    all: bool,
    /// Inputs of the one shape given with --seq-len and --head-dim: uniform, peaked,
    /// large, dominant-late-key or equal-keys [default: uniform].
    #[arg(long, value_parser = parse_inputs)]
    inputs: Option<InputKind>,
    /// One shape of your own (--seq-len with --head-dim) instead of the built-in spread;
    /// --pass alone checks the spread in that pass (default: the forward spread, then the
    /// backward's cases for every kernel with a backward).
    #[command(flatten)]
    shape: super::ShapeArgs,
}

fn parse_inputs(text: &str) -> Result<InputKind, String> {
    InputKind::ALL
        .into_iter()
        .find(|k| k.name() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = InputKind::ALL.iter().map(|k| k.name()).collect();
            format!("expected one of {}", names.join(", "))
        })
}

/// Checks every case and prints a table; fails if any check fails, if a kernel asked for
/// had no check run at all, and if a (kernel, pass, head dim) had checks but none passed
/// while some were skipped for a budget or a device limit (what the sweep would then
/// measure unchecked): a skip is not a pass.
pub fn verify(args: &VerifyArgs, settings: &Settings) -> Result<(), Failure> {
    let asked: Vec<&'static dyn Kernel> = args
        .kernels
        .iter()
        .map(|k| find_kernel(k))
        .collect::<Result<_, _>>()?;
    // Every argument checked before the device opens.
    cases(args, KERNELS)?;
    // Only the kernels checked have their tuned choices checked and applied.
    let names: Vec<&str> = asked.iter().map(|k| k.name()).collect();
    let gpu = super::open_tuned_bench(settings, &names)?;
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let s = gpu.summary();
    println!(
        "adapter: {} ({}, {}), seed {seed}",
        s.name, s.backend, s.device_type
    );
    // Every kernel asked for must run; by default, every kernel this adapter can run at
    // all (the others named, not counted as checked).
    let kernels: Vec<&'static dyn Kernel> = if asked.is_empty() {
        let (available, missing): (Vec<&'static dyn Kernel>, Vec<&'static dyn Kernel>) = KERNELS
            .iter()
            .copied()
            .partition(|k| gpu.features().contains(k.required_features()));
        for k in missing {
            println!(
                "{}: not available on this adapter (needs {:?})",
                k.name(),
                k.required_features() - gpu.features()
            );
        }
        available
    } else {
        asked
    };
    let cases = cases(args, &kernels)?;
    print_header();
    let mut tally = Tally::default();
    // One device per core (at most four): a cold CPU driver compiles each kernel on its
    // queue's thread, so the kernels of different devices compile at once.
    let extra: Vec<attnbench::Bench> = (1..attnbench::verify::verification_devices())
        .map(|_| super::open_tuned_bench(settings, &names))
        .collect::<Result<_, _>>()?;
    let benches: Vec<&attnbench::Bench> = std::iter::once(&gpu).chain(&extra).collect();
    check_all(&benches, &cases, seed, |case, check, seconds| {
        tally.add(case, &check);
        print_row(&check, seconds);
    })?;
    let (passed, failed, skipped) = tally.totals();
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        return Err(Failure::failed(format!(
            "{failed} kernel checks failed (seed {seed})"
        )));
    }
    let unchecked: Vec<String> = kernels
        .iter()
        .filter(|k| tally.passed(k.name()) == 0)
        .map(|k| {
            tally
                .first_skip(k.name())
                .map_or_else(|| k.name().to_string(), str::to_string)
        })
        .collect();
    if !unchecked.is_empty() {
        return Err(Failure::failed(format!(
            "nothing was verified for {}: every case was skipped, and a skip is not a pass",
            unchecked.join("; ")
        )));
    }
    let unverified = tally.unverified_head_dims();
    if !unverified.is_empty() {
        let groups: Vec<String> = unverified.iter().map(|u| u.to_string()).collect();
        return Err(Failure::failed(format!(
            "nothing was verified for {}: a budget or device limit skipped every check of \
             these, and a skip is not a pass (the sweep would measure them unchecked)",
            groups.join("; ")
        )));
    }
    Ok(())
}

/// The cases the arguments ask for: one shape, the spread in one pass, or the plan.
fn cases(args: &VerifyArgs, kernels: &[&'static dyn Kernel]) -> Result<Vec<Case>, Failure> {
    let coverage = if args.all {
        Coverage::Exhaustive
    } else {
        Coverage::Device
    };
    if args.shape.any_given() {
        args.shape.require(true, true)?;
        let shape = args.shape.shape();
        shape.validate()?;
        let inputs = args.inputs.unwrap_or_default();
        return Ok(kernels
            .iter()
            .map(|&kernel| Case {
                kernel,
                shape,
                inputs,
            })
            .collect());
    }
    if args.inputs.is_some() {
        return Err(attnbench::Error::InvalidSetting {
            what: "--inputs".into(),
            value: format!("{:?}", args.inputs),
            expected: "a shape of your own (--seq-len and --head-dim) to apply to".into(),
        }
        .into());
    }
    Ok(plan(kernels, coverage, args.shape.pass))
}

/// The header of the table `print_row` fills.
fn print_header() {
    println!(
        "{:<14} {:>7} {:>3} {:>3} {:>3} {:>6} {:>4} {:>6} {:>6} {:>17}  {:>10} {:>10} {:>9} {:>6}  result",
        "kernel",
        "pass",
        "B",
        "H",
        "HKV",
        "n",
        "d",
        "causal",
        "window",
        "inputs",
        "max_abs",
        "rel_l2",
        "tolerance",
        "secs"
    );
}

fn print_row(check: &Check, seconds: f64) {
    let shape = check.shape;
    let (max_abs, rel, tolerance, verdict) = match (&check.comparison, &check.skipped) {
        (Some(c), _) => {
            let worst = check.worst().map_or("", |w| w.name);
            let detail = match worst {
                "o" | "" => String::new(),
                w => format!(" (worst: {w})"),
            };
            let verdict = if check.passed() {
                format!("ok{detail}")
            } else {
                format!("FAIL{detail} ({} non-finite)", c.non_finite)
            };
            (
                format!("{:.3e}", c.max_abs_error),
                format!("{:.3e}", c.rel_l2_error),
                format!("{:.2e}", check.tolerance),
                verdict,
            )
        }
        (None, Some(reason)) => (
            "-".into(),
            "-".into(),
            "-".into(),
            format!("skipped: {reason}"),
        ),
        (None, None) => ("-".into(), "-".into(), "-".into(), "no result".into()),
    };
    println!(
        "{:<14} {:>7} {:>3} {:>3} {:>3} {:>6} {:>4} {:>6} {:>6} {:>17}  {:>10} {:>10} {:>9} {:>6.1}  {verdict}",
        check.kernel,
        shape.pass.name(),
        shape.batch,
        shape.heads,
        shape.kv_head_count(),
        shape.seq_len,
        shape.head_dim,
        shape.causal,
        shape.window.map_or("-".to_string(), |w| w.to_string()),
        check.inputs.name(),
        max_abs,
        rel,
        tolerance,
        seconds
    );
}
