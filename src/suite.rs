//! `attnbench suite`: the whole job on one adapter in one command, within one time budget,
//! for a GPU box that has only the `attnbench` binary. In order:
//!
//! 1. the device report (`device.json`: identity, features, limits, cooperative matrices);
//! 2. a short `tune` of flash at d = 64 (its share of the budget: [`TUNE_SHARE`]), which
//!    checks every candidate against the reference before timing it;
//! 3. `verify`: every kernel, pass and variant the suite will measure, as tuned, against
//!    the f64 reference on uniform and hostile inputs; a wrong kernel stops the suite
//!    ([`SuiteOutcome::WrongKernel`]) before any sweep or target is measured;
//! 4. `probe`: the device's ceilings;
//! 5. the sweep over every family ([`SWEEP_SHARE`] of what is left), stopping where the
//!    budget ends; points it could not reach are recorded as skipped for lack of time;
//! 6. the targets, with the numpy and PyTorch peers;
//! 7. the charts and the per-device README, with `suite.md` saying what ran, how long it
//!    took and what was skipped for lack of time.
//!
//! Everything goes to `<out>/<device>/`. Verification, the probe and the report always run
//! whole; the budget is shared among the measuring steps, which stop at their deadlines.

use crate::bench::Bench;
use crate::error::Result;
use crate::files::save_json;
use crate::gpu::describe_adapter;
use crate::kernels::{Kernel, Precision};
use crate::markdown::{Align, Table};
use crate::probe::{ProbeReport, run_probes};
use crate::report::write_device_report;
use crate::results::{DeviceHeader, RunKind, RunRecord, Skip};
use crate::session::Session;
use crate::sweep::{Sampler, SweepConfig, sweep_sampling};
use crate::targets::{TargetOptions, measure};
use crate::tuning::TuningFile;
use crate::tuning::search::{TuneOptions, tune};
use crate::verify::{Coverage, Tally, Unverified, check_all, fresh_seed, plan};
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
    /// The sweep (its kernels, results folder and deadline are the suite's).
    pub sweep: SweepConfig,
    /// The Python interpreter of the targets' peers.
    pub python: String,
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
    /// The run: its id, code, and whether the machine held still.
    pub run: RunRecord,
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

/// One suite run in progress: the device, its folder, the clock and the steps so far.
struct SuiteRun<'a> {
    bench: &'a mut Bench,
    helpers: &'a mut [Bench],
    options: &'a SuiteOptions,
    session: Session,
    kernels: Vec<&'static dyn Kernel>,
    start: Instant,
    steps: Vec<Step>,
    /// The (kernel, pass) pairs verification did not cover: the sweep skips them.
    unverified: Vec<Unverified>,
    log: &'a mut dyn FnMut(&str),
}

/// Runs the suite on `bench`; `log` gets a line per step. `helpers` are further devices on
/// the same adapter, with the same settings, that verification spreads its kernels over (a
/// cold driver compiles a device's pipelines on one core); they measure nothing.
pub fn run_suite(
    bench: &mut Bench,
    helpers: &mut [Bench],
    options: &SuiteOptions,
    log: &mut dyn FnMut(&str),
) -> Result<SuiteOutcome> {
    let start = Instant::now();
    let session = Session::open(bench, &options.out, RunKind::Suite)?;
    let kernels = if options.kernels.is_empty() {
        crate::kernels::KERNELS.to_vec()
    } else {
        options.kernels.clone()
    };
    let mut run = SuiteRun {
        bench,
        helpers,
        options,
        session,
        kernels,
        start,
        steps: Vec::new(),
        unverified: Vec::new(),
        log,
    };
    run.device_report()?;
    // Tuning checks each candidate before timing it; verify then checks what the sweep
    // will measure, tuned.
    run.tune()?;
    if let Some(why) = run.verify()? {
        return Ok(SuiteOutcome::WrongKernel(why));
    }
    let probe = run.probe()?;
    let flash_gflops = run.sweep()?;
    run.targets(&probe, flash_gflops)?;
    run.report().map(|r| SuiteOutcome::Done(Box::new(r)))
}

impl SuiteRun<'_> {
    /// Records a step that began at `began` with its outcome.
    fn step(&mut self, name: &str, began: Instant, outcome: String) {
        let seconds = began.elapsed().as_secs_f64();
        (self.log)(&format!("{name}: {outcome} ({seconds:.1} s)"));
        self.steps.push(Step {
            name: name.into(),
            seconds,
            outcome,
        });
    }

    /// Time the measuring steps may still use, less a reserve for the report.
    fn left(&self, now: Instant) -> Duration {
        let budget = self.options.time_budget;
        let reserve = Duration::from_secs_f64((budget.as_secs_f64() * 0.05).max(3.0));
        (self.start + budget)
            .saturating_duration_since(now)
            .saturating_sub(reserve)
    }

    /// 1. `device.json`: identity, features, limits, memory budget.
    fn device_report(&mut self) -> Result<()> {
        let began = Instant::now();
        let gpu: &Bench = self.bench;
        let mut summary = serde_json::to_value(describe_adapter(gpu.adapter()))
            .unwrap_or(serde_json::Value::Null);
        summary["memory_budget"] = serde_json::to_value(gpu.memory_budget()).unwrap_or_default();
        save_json(
            &self.session.dir().join("device.json"),
            &serde_json::json!({
                "schema": "attnbench-device/1",
                "device": self.session.device,
                "adapter": summary,
            }),
        )?;
        self.step("device", began, "device.json written".into());
        Ok(())
    }

    /// 2. Correctness first: no number of a wrong kernel is ever published. Every pass
    ///    and variant the sweep and the targets will measure (forward, backward and
    ///    training step, GQA, windows, decode; hostile inputs), in the configuration they
    ///    will measure (after tuning). The reason when a kernel is wrong.
    ///    A (kernel, pass) no check covered — every check of it skipped for the budget or
    ///    a device limit — is not measured by the sweep: its rows say why.
    fn verify(&mut self) -> Result<Option<String>> {
        let began = Instant::now();
        let seed = fresh_seed();
        let mut tally = Tally::default();
        let mut wrong: Option<String> = None;
        let cases = plan(&self.kernels, Coverage::Device, None);
        let benches: Vec<&Bench> = std::iter::once(&*self.bench)
            .chain(self.helpers.iter())
            .collect();
        check_all(&benches, &cases, seed, |case, check, _| {
            tally.add(case, &check);
            if check.failed() {
                wrong.get_or_insert_with(|| {
                    format!(
                        "{} is wrong at {} with {} inputs (seed {seed}): rel_l2_err {:?}, tolerance {:e}; nothing measured",
                        case.kernel.name(),
                        case.shape,
                        case.inputs,
                        check.comparison.map(|c| c.rel_l2_error),
                        check.tolerance
                    )
                });
            }
        })?;
        if let Some(why) = wrong {
            self.step("verify", began, why.clone());
            return Ok(Some(why));
        }
        let (passed, _, skipped) = tally.totals();
        let mut outcome = format!("{passed} checks passed, {skipped} skipped (seed {seed})");
        self.unverified = tally.unverified_passes();
        for u in &self.unverified {
            outcome += &format!("; not measured: {u}");
        }
        self.step("verify", began, outcome);
        Ok(None)
    }

    /// 3. The device's ceilings, saved as `probe.json`.
    fn probe(&mut self) -> Result<ProbeReport> {
        crate::interrupt::check()?;
        let began = Instant::now();
        let probe = run_probes(self.bench)?;
        {
            let lock = self.session.lock()?;
            probe.save(&lock, self.session.dir())?;
        }
        // The run's starting ceilings: its stability is measured against them at the end.
        self.session.run.ceilings_start = Some(probe.ceilings());
        let outcome = format!(
            "f32 FMA {:.1} GFLOP/s, bandwidth {:.1} GB/s",
            probe.fma_f32_gflops, probe.bandwidth_gbps
        );
        self.step("probe", began, outcome);
        Ok(probe)
    }

    /// 4. A short tune of flash at d = 64, saved and applied.
    fn tune(&mut self) -> Result<()> {
        let began = Instant::now();
        // GPUs tune at a shape that fills them; CPU drivers at a small one (seconds per
        // candidate on lavapipe).
        let device = TuneOptions::for_device(self.bench.facts());
        let (seq_len, batch, heads) = if self.bench.is_cpu() {
            (1024, 1, 4)
        } else {
            (device.seq_len, device.batch, device.heads)
        };
        let options = TuneOptions {
            head_dims: vec![64],
            seq_len,
            batch,
            heads,
            samples: 2,
            deadline: Some(began + self.left(began).mul_f64(TUNE_SHARE)),
            ..TuneOptions::default()
        };
        let outcome = match tune(self.bench, Precision::F32, 64, &options, &mut |_| {})? {
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
                let lock = self.session.lock()?;
                let device = self.session.device.clone();
                TuningFile::merge_and_save(self.session.dir(), &lock, device, vec![choice])?;
                drop(lock);
                crate::tuning::apply(self.bench, &self.options.out)?;
                for helper in self.helpers.iter_mut() {
                    crate::tuning::apply(helper, &self.options.out)?;
                }
                if untried > 0 {
                    format!("{text}; {untried} configurations not tried for lack of time")
                } else {
                    text
                }
            }
            None => "no configuration ran correctly in time; flash keeps its default".into(),
        };
        self.step("tune", began, outcome);
        Ok(())
    }

    /// 5. The sweep over every family, within its share; returns flash's best swept rate.
    fn sweep(&mut self) -> Result<Option<f64>> {
        let began = Instant::now();
        let mut config = self.options.sweep.clone();
        config.results_dir = self.options.out.clone();
        config.kernels = self.kernels.clone();
        config.unverified = self
            .unverified
            .iter()
            .map(|u| (u.kernel, u.pass, u.to_string()))
            .collect();
        config.deadline = Some(began + self.left(began).mul_f64(SWEEP_SHARE));
        let mut sampler = Sampler {
            options: sweep_sampling(config.time_budget, 5),
            on_progress: None,
        };
        let swept = self
            .session
            .sweep(self.bench, &config, &mut sampler, &|_, _| None)?;
        let rows = &swept.rows;
        let measured = rows.iter().filter(|r| r.is_ok()).count();
        let flash_gflops = rows
            .iter()
            .filter(|r| r.kernel == "flash" && r.is_ok())
            .filter_map(|r| r.gflops)
            .reduce(f64::max);
        let for_time = rows
            .iter()
            .filter(|r| matches!(r.skip, Some(Skip::SweepBudget { .. })))
            .count();
        let outcome = format!("{measured} points measured, {for_time} skipped for lack of time");
        self.step("sweep", began, outcome);
        // Ctrl-C: the sweep's points are saved; the targets and the report are not started.
        crate::interrupt::check()?;
        Ok(flash_gflops)
    }

    /// 6. The targets and the peers, within what is left.
    fn targets(&mut self, probe: &ProbeReport, flash_gflops: Option<f64>) -> Result<()> {
        let began = Instant::now();
        let options = TargetOptions {
            speedup_head_dims: vec![64],
            speedup_seq_lens: vec![512, 1024],
            samples: 3,
            fma_peak_gflops: Some(probe.fma_f32_gflops),
            bandwidth_gbps: Some(probe.bandwidth_gbps),
            deadline: Some(began + self.left(began)),
            flash_gflops_hint: flash_gflops,
            python: self.options.python.clone(),
            ..TargetOptions::default()
        };
        let log = &mut *self.log;
        let mut report = measure(self.bench, &options, &mut |line| log(&format!("  {line}")))?;
        report.run = Some(self.session.run.clone());
        let written = {
            let _lock = self.session.lock()?;
            report.save(self.session.dir())?
        };
        let mut outcome = if report.skipped.is_empty() {
            "all measured".to_string()
        } else {
            format!("{} steps skipped for lack of time", report.skipped.len())
        };
        if !written {
            outcome += "; targets.md kept: the one there skipped fewer steps";
        }
        self.step("targets", began, outcome);
        Ok(())
    }

    /// 7. The report: the run's end (its ceilings again: was the machine steady?), then
    ///    `suite.md`, so that the README carries it, then `suite.json`.
    fn report(mut self) -> Result<SuiteReport> {
        let began = Instant::now();
        let run = self.session.finish(self.bench)?.clone();
        if let Some(s) = &run.stability {
            let outcome = s.describe();
            self.step("stability", began, outcome);
        }
        let dir = self.session.dir().to_path_buf();
        self.steps.push(Step {
            name: "report".into(),
            seconds: 0.0,
            outcome: "charts and README".into(),
        });
        let mut suite = SuiteReport {
            schema: SCHEMA.into(),
            run,
            device: self.session.device.clone(),
            budget_seconds: self.options.time_budget.as_secs_f64(),
            total_seconds: self.start.elapsed().as_secs_f64(),
            steps: self.steps,
        };
        let lock = self.session.lock()?;
        let file = self.session.folder.load_existing()?;
        crate::files::write_atomic(&dir.join("suite.md"), suite.markdown().as_bytes())?;
        write_device_report(&file, &dir)?;
        drop(lock);
        if let Some(last) = suite.steps.last_mut() {
            last.seconds = began.elapsed().as_secs_f64();
        }
        suite.total_seconds = self.start.elapsed().as_secs_f64();
        save_json(&dir.join("suite.json"), &suite)?;
        (self.log)(&format!(
            "suite done in {:.0} s (budget {:.0} s): {}",
            suite.total_seconds,
            suite.budget_seconds,
            dir.display()
        ));
        Ok(suite)
    }
}

impl SuiteReport {
    /// The steps as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "`attnbench suite` with a budget of {:.0} s ({:.0} s before the report); run {}.\n\n",
            self.budget_seconds,
            self.total_seconds,
            crate::markdown::text(&self.run.describe())
        );
        if self.run.is_unstable() {
            md +=
                "**The machine did not hold still during this run: its numbers move with it.**\n\n";
        }
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
