//! `attnbench suite`: the whole job on one adapter in one command, within one time budget,
//! for a GPU box that has only the `attnbench` binary. In order:
//!
//! 1. the device report (`device.json`: identity, features, limits, cooperative matrices);
//! 2. `verify`: every kernel against the f64 reference; a wrong kernel stops the suite
//!    ([`SuiteOutcome::WrongKernel`]) before any number is published;
//! 3. `probe`: the device's ceilings;
//! 4. a short `tune` of flash at d = 64 (its share of the budget: [`TUNE_SHARE`]);
//! 5. the sweep over every family ([`SWEEP_SHARE`] of what is left), stopping where the
//!    budget ends; points it could not reach are recorded as skipped for lack of time;
//! 6. the targets, with the numpy and PyTorch peers;
//! 7. the charts and the per-device README, with `suite.md` saying what ran, how long it
//!    took and what was skipped for lack of time.
//!
//! Everything goes to `<out>/<device>/`. Verification, the probe and the report always run
//! whole; the budget is shared among the measuring steps, which stop at their deadlines.

use crate::error::Result;
use crate::files::save_json;
use crate::gpu::{Gpu, describe_adapter};
use crate::kernels::Kernel;
use crate::kernels::flash::Precision;
use crate::markdown::{Align, Table};
use crate::probe::run_probes;
use crate::report::{preflight, save_and_report, write_device_report};
use crate::results::{DeviceFolder, DeviceHeader};
use crate::run::MeasureOptions;
use crate::sweep::{LazyRun, Measurer, Point, SweepConfig, run_sweep};
use crate::targets::{TargetOptions, measure};
use crate::tuning::TuningFile;
use crate::tuning::search::{TuneOptions, tune};
use crate::verify::{check_kernel, fresh_seed, verify_shapes};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Identifies the schema of `suite.json`.
pub const SCHEMA: &str = "attnbench-suite/1";

/// The smallest budget a suite accepts per adapter, seconds: verification and the probe
/// always run whole (10–40 s on a CPU adapter), and the measuring steps need some left.
pub const MIN_BUDGET_S: f64 = 60.0;

/// Share of the measuring budget the tuner gets.
pub const TUNE_SHARE: f64 = 0.15;

/// Share of what is left after tuning that the sweep gets (the targets get the rest).
pub const SWEEP_SHARE: f64 = 0.7;

/// What to run.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// The whole command's budget.
    pub time_budget: Duration,
    /// The results root: the device folder goes under it.
    pub out: PathBuf,
    /// Kernels to verify and sweep (all registered ones when empty).
    pub kernels: Vec<&'static dyn Kernel>,
}

/// One step of a suite run.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// verify, probe, tune, sweep, targets, report.
    pub name: String,
    /// Seconds it took.
    pub seconds: f64,
    /// What it did, or what it skipped and why.
    pub outcome: String,
}

/// `suite.json`: what a suite run did.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The device.
    pub device: DeviceHeader,
    /// The budget, seconds.
    pub budget_seconds: f64,
    /// Seconds the whole run took.
    pub total_seconds: f64,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// How a suite run ended.
#[derive(Debug)]
pub enum SuiteOutcome {
    /// Everything ran (steps may have skipped work for lack of time; the report says).
    Done(Box<SuiteReport>),
    /// A kernel computed wrong results: nothing was measured or published.
    WrongKernel(String),
}

struct Sampler {
    options: MeasureOptions,
}

impl Measurer for Sampler {
    fn measure(
        &mut self,
        _point: &Point<'_>,
        run: &mut LazyRun<'_>,
    ) -> Result<Option<crate::run::Measurement>> {
        Ok(Some(run.get()?.measure(&self.options)?))
    }
}

/// Runs the suite on `gpu`; `log` gets a line per step.
pub fn run_suite(
    gpu: &Gpu,
    options: &SuiteOptions,
    log: &mut dyn FnMut(&str),
) -> Result<SuiteOutcome> {
    let start = Instant::now();
    let end = start + options.time_budget;
    let device = DeviceHeader::for_gpu(gpu);
    let folder = DeviceFolder::for_device(&options.out, &device);
    preflight(&folder, &device)?;
    let mut steps: Vec<Step> = Vec::new();
    let mut step = |name: &str, began: Instant, outcome: String, log: &mut dyn FnMut(&str)| {
        let seconds = began.elapsed().as_secs_f64();
        log(&format!("{name}: {outcome} ({seconds:.1} s)"));
        steps.push(Step {
            name: name.into(),
            seconds,
            outcome,
        });
    };
    let kernels: Vec<&'static dyn Kernel> = if options.kernels.is_empty() {
        crate::kernels::KERNELS.to_vec()
    } else {
        options.kernels.clone()
    };

    // 1. The device report.
    let began = Instant::now();
    let mut summary =
        serde_json::to_value(describe_adapter(gpu.adapter())).unwrap_or(serde_json::Value::Null);
    summary["memory_budget"] = serde_json::to_value(gpu.memory_budget()).unwrap_or_default();
    save_json(
        &folder.dir.join("device.json"),
        &serde_json::json!({ "schema": "attnbench-device/1", "device": device, "adapter": summary }),
    )?;
    step("device", began, "device.json written".into(), log);

    // 2. Correctness first: no number of a wrong kernel is ever published.
    let began = Instant::now();
    let seed = fresh_seed();
    let (mut passed, mut skipped) = (0, 0);
    for &kernel in &kernels {
        for shape in verify_shapes() {
            crate::interrupt::check()?;
            let check = check_kernel(gpu, kernel, shape, seed)?;
            if check.skipped.is_some() {
                skipped += 1;
            } else if check.passed() {
                passed += 1;
            } else {
                let why = format!(
                    "{} is wrong at {shape} (seed {seed}): rel_l2_err {:?}, tolerance {:e}; nothing measured",
                    kernel.name(),
                    check.comparison.map(|c| c.rel_l2_error),
                    check.tolerance
                );
                step("verify", began, why.clone(), log);
                return Ok(SuiteOutcome::WrongKernel(why));
            }
        }
    }
    step(
        "verify",
        began,
        format!("{passed} checks passed, {skipped} skipped (seed {seed})"),
        log,
    );

    // 3. Ceilings.
    crate::interrupt::check()?;
    let began = Instant::now();
    let probe = run_probes(gpu)?;
    {
        let lock = folder.lock()?;
        probe.save(&lock, &folder.dir)?;
    }
    step(
        "probe",
        began,
        format!(
            "f32 FMA {:.1} GFLOP/s, bandwidth {:.1} GB/s",
            probe.fma_f32_gflops, probe.bandwidth_gbps
        ),
        log,
    );

    // The measuring steps share what is left, less a reserve for the charts.
    let reserve = Duration::from_secs_f64((options.time_budget.as_secs_f64() * 0.05).max(3.0));
    let left = |now: Instant| end.saturating_duration_since(now).saturating_sub(reserve);

    // 4. A short tune of flash at d = 64.
    let began = Instant::now();
    let tune_deadline = began + left(began).mul_f64(TUNE_SHARE);
    let tune_options = TuneOptions {
        head_dims: vec![64],
        seq_len: 1024,
        batch: 1,
        heads: 4,
        samples: 2,
        deadline: Some(tune_deadline),
        ..TuneOptions::default()
    };
    let outcome = match tune(gpu, Precision::F32, 64, &tune_options, &mut |_| {})? {
        Some(choice) => {
            let text = format!(
                "flash d64: {} ({:.2} ms; untuned {} {})",
                choice.config,
                choice.median_ms,
                choice.untuned_config,
                choice
                    .untuned_ms
                    .map_or("not timed".into(), |ms| format!("{ms:.2} ms"))
            );
            let untried = choice
                .trials
                .iter()
                .filter(|t| {
                    t.rejected
                        .as_deref()
                        .is_some_and(|r| r.contains("time budget"))
                })
                .count();
            let lock = folder.lock()?;
            TuningFile::merge_and_save(&folder.dir, &lock, device.clone(), vec![choice])?;
            drop(lock);
            crate::tuning::apply(gpu, &options.out)?;
            if untried > 0 {
                format!("{text}; {untried} configurations not tried for lack of time")
            } else {
                text
            }
        }
        None => "no configuration ran correctly in time; flash keeps its default".into(),
    };
    step("tune", began, outcome, log);

    // 5. The sweep.
    let began = Instant::now();
    let mut config = SweepConfig::from_env()?;
    config.results_dir = options.out.clone();
    config.kernels = kernels.clone();
    config.deadline = Some(began + left(began).mul_f64(SWEEP_SHARE));
    let mut sampler = Sampler {
        options: MeasureOptions {
            warmup: 1,
            samples: 5,
            time_budget: Some(config.time_budget.saturating_mul(2)),
            min_samples: 3,
        },
    };
    let rows = run_sweep(gpu, &config, &mut sampler)?;
    let measured = rows.iter().filter(|r| r.is_ok()).count();
    // flash's best swept rate, to predict what the targets can still measure.
    let flash_gflops = rows
        .iter()
        .filter(|r| r.kernel == "flash" && r.is_ok())
        .filter_map(|r| r.gflops)
        .fold(None, |best: Option<f64>, g| {
            Some(best.map_or(g, |b| b.max(g)))
        });
    let for_time = rows
        .iter()
        .filter(|r| r.reason.starts_with(crate::sweep::SWEEP_BUDGET_REASON))
        .count();
    save_and_report(&folder, device.clone(), rows)?;
    step(
        "sweep",
        began,
        format!("{measured} points measured, {for_time} skipped for lack of time"),
        log,
    );
    // Ctrl-C: the sweep's points are saved; the targets and the report are not started.
    crate::interrupt::check()?;

    // 6. The targets and the peers.
    let began = Instant::now();
    let target_options = TargetOptions {
        speedup_head_dims: vec![64],
        speedup_seq_lens: vec![512, 1024],
        samples: 3,
        fma_peak_gflops: Some(probe.fma_f32_gflops),
        bandwidth_gbps: Some(probe.bandwidth_gbps),
        deadline: Some(began + left(began)),
        flash_gflops_hint: flash_gflops,
        ..TargetOptions::default()
    };
    let report = measure(gpu, &target_options, &mut |line| log(&format!("  {line}")))?;
    let written = {
        let _lock = folder.lock()?;
        report.save(&folder.dir)?
    };
    let mut outcome = if report.skipped.is_empty() {
        "all measured".to_string()
    } else {
        format!("{} steps skipped for lack of time", report.skipped.len())
    };
    if !written {
        outcome += "; targets.md kept: the one there skipped fewer steps";
    }
    step("targets", began, outcome, log);

    // 7. The report: suite.md first, so that the README carries it.
    let began = Instant::now();
    let mut suite = SuiteReport {
        schema: SCHEMA.into(),
        device: device.clone(),
        budget_seconds: options.time_budget.as_secs_f64(),
        total_seconds: start.elapsed().as_secs_f64(),
        steps: steps.clone(),
    };
    let lock = folder.lock()?;
    let file = folder.load_existing()?;
    suite.steps.push(Step {
        name: "report".into(),
        seconds: 0.0,
        outcome: "charts and README".into(),
    });
    crate::files::write_atomic(&folder.dir.join("suite.md"), suite.markdown().as_bytes())?;
    write_device_report(&file, &folder.dir)?;
    drop(lock);
    if let Some(last) = suite.steps.last_mut() {
        last.seconds = began.elapsed().as_secs_f64();
    }
    suite.total_seconds = start.elapsed().as_secs_f64();
    save_json(&folder.dir.join("suite.json"), &suite)?;
    log(&format!(
        "suite done in {:.0} s (budget {:.0} s): {}",
        suite.total_seconds,
        suite.budget_seconds,
        folder.dir.display()
    ));
    Ok(SuiteOutcome::Done(Box::new(suite)))
}

impl SuiteReport {
    /// The steps as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "`attnbench suite` with a budget of {:.0} s ({:.0} s before the report).\n\n",
            self.budget_seconds, self.total_seconds
        );
        let mut table = Table::new([
            ("step", Align::Left),
            ("seconds", Align::Right),
            ("outcome", Align::Left),
        ]);
        for s in &self.steps {
            table.row([
                s.name.clone(),
                format!("{:.1}", s.seconds),
                s.outcome.clone(),
            ]);
        }
        md += &table.render();
        md
    }
}
