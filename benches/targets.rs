//! `cargo bench --bench targets` (also part of plain `cargo bench`): flash's performance
//! targets as ratios measured in one run on one adapter — share of the probed FMA peak,
//! speedup over naive, time against numpy's BLAS attention (see `attnbench::targets`).
//! Writes `results/<device>/targets.{json,md}` and prints the Markdown table.
//!
//! Uses the device's `tuning.json` when `attnbench tune` has written one. Needs `python3`
//! with numpy for the BLAS comparison (`pip install numpy`); without it that row records
//! why it was skipped. `ATTNBENCH_RESULTS_DIR` moves the output.

use attnbench::probe::run_probes;
use attnbench::results::RunKind;
use attnbench::session::Session;
use attnbench::settings::BenchArgs;
use attnbench::targets::{TargetOptions, measure};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Like criterion: without --bench (a `cargo test` run) there is nothing to do.
    if !args.iter().any(|a| a == "--bench") {
        println!("targets bench: run with `cargo bench --bench targets`");
        return;
    }
    // Every setting from the variables, through the CLI's own parser.
    let bench_args = BenchArgs::from_env().unwrap_or_else(|e| fail(&e.to_string()));
    let settings = bench_args
        .settings
        .settings()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let budget = bench_args
        .targets
        .budget()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let root = settings.results_dir.clone();
    // The kernels as tuned for this device (`attnbench tune`), when it was.
    let gpu = settings
        .open_tuned_bench(|_| true)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let mut session =
        Session::open(&gpu, &root, RunKind::Targets).unwrap_or_else(|e| fail(&e.to_string()));
    eprintln!(
        "flash targets on {} ({})",
        gpu.summary().name,
        gpu.summary().backend
    );
    // The whole bench has a time budget (ATTNBENCH_TARGETS_BUDGET, default 360 s): steps
    // that no longer fit are recorded as skipped, so `cargo bench` ends in bounded time on
    // slow adapters.
    let deadline = budget.map(|b| std::time::Instant::now() + b);
    // The ceilings the ratios are taken against, probed at the run's start; probed again
    // at its end, they tell whether the machine held still.
    eprintln!("probing the f32 FMA peak and the bandwidth");
    let probe = run_probes(&gpu).unwrap_or_else(|e| fail(&e.to_string()));
    session.run.ceilings_start = Some(probe.ceilings());
    let options = TargetOptions {
        deadline,
        fma_peak_gflops: Some(probe.fma_f32_gflops),
        bandwidth_gbps: Some(probe.bandwidth_gbps),
        python: bench_args.targets.python(),
        ..TargetOptions::default()
    };
    let mut report = measure(&gpu, &options, &mut |line| eprintln!("  {line}"))
        .unwrap_or_else(|e| fail(&e.to_string()));
    report.run = Some(
        session
            .finish(&gpu)
            .unwrap_or_else(|e| fail(&e.to_string()))
            .clone(),
    );
    let written = session
        .lock()
        .and_then(|_lock| report.save(session.dir()))
        .unwrap_or_else(|e| fail(&e.to_string()));
    println!("\n{}", report.markdown());
    if written {
        println!(
            "written: {}/targets.json and targets.md",
            session.dir().display()
        );
    } else {
        println!(
            "kept {}/targets.json and targets.md: they skipped fewer steps for lack of time",
            session.dir().display()
        );
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}
