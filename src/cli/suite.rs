//! `attnbench suite`: the whole job for a headless GPU box (see `attnbench::suite`).

use super::Failure;
use attnbench::gpu::AdapterChoice;
use attnbench::gpu::{describe_adapter, list_adapters};
use attnbench::results::{DeviceFolder, DeviceHeader, ResultsFile};
use attnbench::settings::{Settings, SweepArgs, TargetsArgs};
use attnbench::suite::{SuiteOptions, SuiteOutcome, run_suite};
use attnbench::{Bench, Error, Gpu};
use std::path::PathBuf;
use std::time::Instant;

/// Options of `suite`.
#[derive(Debug, clap::Args)]
pub struct SuiteArgs {
    /// Seconds for the whole command (split across adapters and steps).
    #[arg(long, default_value_t = 600.0)]
    time_budget: f64,
    /// Results root: each adapter's results go to DIR/<device>/ [default: results, or
    /// ATTNBENCH_RESULTS_DIR].
    #[arg(long)]
    out: Option<PathBuf>,
    /// What the sweep measures (its kernels are the suite's: verified, swept, targeted).
    #[command(flatten)]
    sweep: SweepArgs,
    /// The targets' peers.
    #[command(flatten)]
    targets: TargetsArgs,
}

/// Runs the suite on the chosen adapter, or on every adapter with `--adapter all` (then
/// also their comparison).
pub fn suite(args: &SuiteArgs, settings: &Settings) -> Result<(), Failure> {
    let budget = attnbench::parse::seconds_from_f64("--time-budget", args.time_budget)?;
    let sweep = args.sweep.config(settings)?;
    super::catch_interrupts();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| settings.results_dir.clone());
    let kernels = sweep.kernels.clone();
    let choice = settings.adapter.clone();
    let all = choice
        .name
        .as_deref()
        .is_some_and(|n| n.eq_ignore_ascii_case("all"));
    let choices: Vec<AdapterChoice> = if all {
        let base = AdapterChoice {
            name: None,
            ..choice.clone()
        };
        let adapters = list_adapters(&base)?;
        if adapters.is_empty() {
            return Err(Error::NoAdapter {
                backends: format!("{:?}", base.backends()?),
            }
            .into());
        }
        adapters
            .iter()
            .map(describe_adapter)
            .map(|s| AdapterChoice {
                name: Some(s.name.clone()),
                backends: Some(s.backend.to_ascii_lowercase()),
                ..base.clone()
            })
            .collect()
    } else {
        vec![choice]
    };
    let minimum = attnbench::suite::MIN_BUDGET_S * choices.len() as f64;
    if budget.as_secs_f64() < minimum {
        return Err(Error::InvalidSetting {
            what: "--time-budget".into(),
            value: format!("{:?}", args.time_budget),
            expected: format!(
                "at least {minimum} s ({} s per adapter: verification and the probe always run whole)",
                attnbench::suite::MIN_BUDGET_S
            ),
        }
        .into());
    }
    let start = Instant::now();
    let mut folders = Vec::new();
    for (i, choice) in choices.iter().enumerate() {
        // Each adapter gets an equal share of what is left.
        let left = budget.saturating_sub(start.elapsed());
        let share = left.div_f64((choices.len() - i) as f64);
        let open = || -> Result<Bench, Error> {
            let mut bench = Bench::new(Gpu::new(choice)?, settings.kernels);
            bench.set_given(settings.given.clone());
            Ok(bench)
        };
        let mut gpu = open()?;
        let s = gpu.summary().clone();
        eprintln!(
            "suite on {} ({}, {}): {:.0} s",
            s.name,
            s.backend,
            s.device_type,
            share.as_secs_f64()
        );
        let options = SuiteOptions {
            time_budget: share,
            out: out.clone(),
            kernels: kernels.clone(),
            sweep: sweep.clone(),
            python: args.targets.python(),
        };
        // Verification compiles on one core per device: helper devices, as `verify` has.
        let mut helpers = (1..attnbench::verify::verification_devices())
            .map(|_| open())
            .collect::<Result<Vec<_>, _>>()?;
        let outcome = match run_suite(&mut gpu, &mut helpers, &options, &mut |line| {
            eprintln!("  {line}")
        }) {
            Err(Error::Interrupted) => {
                let device = DeviceHeader::for_gpu(&gpu);
                return Err(super::interrupted(&format!(
                    "the steps finished are saved in {}",
                    DeviceFolder::for_device(&out, &device).dir.display()
                )));
            }
            other => other?,
        };
        match outcome {
            SuiteOutcome::Done(_) => {
                let device = DeviceHeader::for_gpu(&gpu);
                folders.push(DeviceFolder::for_device(&out, &device).dir);
            }
            SuiteOutcome::WrongKernel(why) => return Err(Failure::failed(why)),
        }
    }
    if folders.len() > 1 {
        let files = folders
            .iter()
            .map(|d| DeviceFolder::at(d).load_existing())
            .collect::<Result<Vec<ResultsFile>, _>>()?;
        let refs: Vec<&ResultsFile> = files.iter().collect();
        let dir = out.join("compare");
        attnbench::report::write_comparison(&refs, &dir)?;
        eprintln!("comparison: {}", dir.join("compare.md").display());
    }
    for dir in &folders {
        println!("{}", dir.display());
    }
    Ok(())
}
