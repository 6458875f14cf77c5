//! `cargo bench`: the sequence-length sweep (see `attnbench::sweep`) measured by criterion,
//! with GPU timestamps as the time criterion analyses. Ends by writing
//! `results/<device>/results.{json,csv}`, the charts and the device README, and printing a
//! summary table.
//!
//! - `cargo bench` — the sweep configured by the `ATTNBENCH_*` variables (README).
//! - `cargo bench -- flash` — criterion's filters; unmeasured points keep their old results.
//!   Points whose one run is predicted past a second (`attnbench::sweep::LONG_RUN`) are
//!   timed by attnbench's own sampler with fewer samples (`Point::samples`), criterion's
//!   filter applied to them as criterion would ([`Filter`]).
//! - `cargo bench -- --save-baseline X` / `--baseline X` — criterion's baselines.
//! - `cargo test` — runs this harness once in criterion's test mode on tiny sizes, writing
//!   into a temporary folder, and checks what it wrote.

use attnbench::gpu::{BatchReading, TimingSource};
use attnbench::probe::{ProbeReport, run_probes};
use attnbench::report::summary_table;
use attnbench::results::DeviceFolder;
use attnbench::results::RunKind;
use attnbench::run::Measurement;
use attnbench::session::Session;
use attnbench::settings::BenchArgs;
use attnbench::sweep::{LazyRun, Measurer, SweepConfig, SweepPoint, run_sweep};
use attnbench::{Bench, Result};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use std::time::Duration;

/// Samples criterion takes per point (its minimum).
const SAMPLES: usize = 10;

/// criterion's warm-up and measurement windows per point.
const WARM_UP: Duration = Duration::from_millis(500);
const MEASUREMENT: Duration = Duration::from_secs(2);

struct CriterionMeasurer<'c> {
    criterion: &'c mut Criterion,
    test_mode: bool,
    filter: Filter,
}

/// criterion's benchmark filter, read from the same arguments (criterion keeps its own
/// private): the first positional argument, a regex over `group/function/parameter`, or
/// the exact id with `--exact`; `--ignored` runs nothing. Applied to the long points, which
/// criterion does not time.
enum Filter {
    All,
    Regex(regex::Regex),
    Exact(String),
    Nothing,
}

impl Filter {
    /// criterion 0.8's options that take a value (so that it is not taken for the filter).
    const WITH_VALUE: [&str; 19] = [
        "--color",
        "-c",
        "--save-baseline",
        "-s",
        "--baseline",
        "-b",
        "--baseline-lenient",
        "--format",
        "--profile-time",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--plotting-backend",
        "--output-format",
    ];

    fn from_args(args: &[String]) -> Filter {
        let mut positional = None;
        let mut tokens = args.iter().skip(1);
        while let Some(token) = tokens.next() {
            if Self::WITH_VALUE.contains(&token.as_str()) {
                tokens.next();
            } else if !token.starts_with('-') && positional.is_none() {
                positional = Some(token.clone());
            }
        }
        let has = |flag: &str| args.iter().any(|a| a == flag);
        match positional {
            _ if has("--ignored") => Filter::Nothing,
            None => Filter::All,
            Some(text) if has("--exact") => Filter::Exact(text),
            Some(text) => regex::Regex::new(&text)
                .map(Filter::Regex)
                .unwrap_or_else(|e| fail(&format!("bad filter {text:?}: {e}"))),
        }
    }

    fn matches(&self, id: &str) -> bool {
        match self {
            Filter::All => true,
            Filter::Regex(r) => r.is_match(id),
            Filter::Exact(e) => e == id,
            Filter::Nothing => false,
        }
    }
}

impl Measurer for CriterionMeasurer<'_> {
    /// criterion spends its warm-up and measurement windows (and its analysis, about half
    /// a second) on every point, however short the runs.
    fn overhead(&self) -> Duration {
        if self.test_mode {
            Duration::ZERO
        } else {
            WARM_UP + MEASUREMENT + Duration::from_millis(500)
        }
    }

    /// Warm-up and `SAMPLES` samples of at least one run each.
    fn runs_per_point(&self) -> u32 {
        SAMPLES as u32 + 1
    }

    fn measure(
        &mut self,
        point: &SweepPoint<'_>,
        run: &mut LazyRun<'_>,
    ) -> Result<Option<Measurement>> {
        if let Some(samples) = point.samples {
            return self.measure_long(point, run, samples);
        }
        let mut group = self.criterion.benchmark_group(point.family);
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(SAMPLES)
            .warm_up_time(WARM_UP)
            .measurement_time(MEASUREMENT)
            // criterion has no FLOP unit: its "elements/s" here are FLOP/s.
            .throughput(Throughput::Elements(point.flops as u64));
        let mut calls: Vec<BatchReading> = Vec::new();
        let mut warm = false;
        let mut timestamps = false;
        let mut error = None;
        let id = BenchmarkId::new(point.kernel.name(), point.shape.seq_len);
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                if error.is_some() {
                    return Duration::from_nanos(iters);
                }
                let iters = u32::try_from(iters).unwrap_or(u32::MAX);
                // One untimed run first: a driver that compiles at the first dispatch does
                // so outside every sample (test mode makes a single call). Then `iters`
                // runs back to back, one batch, its timestamps checked by its wall time.
                let batch = run.get().and_then(|r| {
                    if !warm {
                        r.run_once()?;
                        warm = true;
                    }
                    r.timed_samples(iters, 1, 1, None)
                });
                match batch {
                    Ok(times) => {
                        timestamps =
                            times.source == TimingSource::GpuTimestamps || times.fallback.is_some();
                        let total = times.ns.iter().sum::<f64>() * f64::from(iters);
                        calls.extend(times.batches);
                        Duration::from_nanos(total as u64)
                    }
                    Err(e) => {
                        error = Some(e);
                        Duration::from_nanos(u64::from(iters))
                    }
                }
            })
        });
        group.finish();
        if let Some(e) = error {
            return Err(e);
        }
        // criterion calls the routine for warm-up first, then once per sample: the last
        // SAMPLES calls are the measurement (test mode makes a single call).
        let keep = if self.test_mode {
            calls.len()
        } else {
            SAMPLES.min(calls.len())
        };
        let measured = &calls[calls.len() - keep..];
        if measured.is_empty() {
            return Ok(None); // filtered out by criterion
        }
        // The row's timer, decided over all its batches (`gpu::per_run_times`).
        let times = attnbench::gpu::per_run_times(measured, timestamps);
        Ok(Some(Measurement::from_run_times(times)?))
    }
}

impl CriterionMeasurer<'_> {
    /// A long point: `samples` runs by attnbench's sampler, where criterion's filter
    /// would let it run (criterion's minimum of 11 runs would cost minutes).
    fn measure_long(
        &mut self,
        point: &SweepPoint<'_>,
        run: &mut LazyRun<'_>,
        samples: u32,
    ) -> Result<Option<Measurement>> {
        let id = format!(
            "{}/{}/{}",
            point.family,
            point.kernel.name(),
            point.shape.seq_len
        );
        if !self.filter.matches(&id) {
            return Ok(None);
        }
        eprintln!("{id}: long runs, {samples} samples by attnbench's sampler (no warm-up)");
        let m = run.measure_long(samples)?;
        eprintln!(
            "{id}: median {:.1} ms (min {:.1}, max {:.1}, {})",
            m.median_ms, m.min_ms, m.max_ms, m.timing
        );
        Ok(Some(m))
    }
}

fn main() {
    attnbench::charts::register_fonts();
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    // criterion's rule: without --bench (cargo test) or with --test, it only tests.
    let test_mode = !has("--bench") || has("--test");
    let scratch = tempfile::tempdir().expect("temporary folder");
    // Every setting from the variables, through the CLI's own parser.
    let bench_args = BenchArgs::from_env().unwrap_or_else(|e| fail(&e.to_string()));
    let settings = bench_args
        .settings
        .settings()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let config = if test_mode {
        SweepConfig {
            seq_lens: vec![16, 33],
            head_dims: vec![16],
            head_dim_sweep: vec![8, 24],
            head_dim_sweep_seq_len: 33,
            results_dir: scratch.path().to_path_buf(),
            ..SweepConfig::default()
        }
    } else {
        bench_args
            .sweep
            .config(&settings)
            .unwrap_or_else(|e| fail(&e.to_string()))
    };
    let mut criterion = Criterion::default().configure_from_args();
    if !test_mode {
        // Ctrl-C or SIGTERM: stop after the current point and save what was measured.
        let _ = ctrlc::set_handler(|| {
            if attnbench::interrupt::request() {
                std::process::exit(i32::from(attnbench::interrupt::EXIT_CODE));
            }
            eprintln!("interrupted: saving what was measured (again: stop at once)");
        });
    }
    // The kernels as tuned for this device (`attnbench tune`), when it was.
    let gpu: Bench = settings
        .open_tuned_bench(|_| true)
        .unwrap_or_else(|e| fail(&e.to_string()));
    // Before measuring: a destination that cannot take the results fails now.
    let mut session = Session::open(&gpu, &config.results_dir, RunKind::Bench)
        .unwrap_or_else(|e| fail(&e.to_string()));
    if !test_mode {
        session
            .probe_start(&gpu)
            .unwrap_or_else(|e| fail(&e.to_string()));
    }
    let folder = session.folder.clone();
    eprintln!(
        "attnbench sweep on {} ({}): n {:?}, d {:?}, B={} H={}, kernels {:?}, time budget {:?} per run",
        gpu.summary().name,
        gpu.summary().backend,
        config.seq_lens,
        config.head_dims,
        config.batch,
        config.heads,
        config.kernels,
        config.time_budget
    );
    let rows = {
        let mut measurer = CriterionMeasurer {
            criterion: &mut criterion,
            test_mode,
            filter: Filter::from_args(&args),
        };
        run_sweep(&gpu, &config, &mut measurer, &|_, _| None)
            .unwrap_or_else(|e| fail(&e.to_string()))
    };
    // The device's ceilings, probed once per device, turn every point into a % of them.
    let interrupted = attnbench::interrupt::requested();
    if !test_mode && !interrupted && ProbeReport::load(&folder.dir).ok().flatten().is_none() {
        eprintln!("probing the device's ceilings once (attnbench probe)");
        let probe = run_probes(&gpu).unwrap_or_else(|e| fail(&e.to_string()));
        folder
            .lock()
            .and_then(|lock| probe.save(&lock, &folder.dir))
            .unwrap_or_else(|e| fail(&e.to_string()));
    }
    let (_, written) = session
        .save_rows(rows)
        .unwrap_or_else(|e| fail(&e.to_string()));
    if interrupted {
        eprintln!(
            "interrupted; the points measured are saved in {}",
            folder.dir.display()
        );
        std::process::exit(i32::from(attnbench::interrupt::EXIT_CODE));
    }
    criterion.final_summary();
    if !test_mode {
        let run = session
            .finish(&gpu)
            .unwrap_or_else(|e| fail(&e.to_string()));
        println!("run {}", run.describe());
    }
    let file = folder
        .load_existing()
        .unwrap_or_else(|e| fail(&e.to_string()));
    println!("\n{}", summary_table(&file));
    if test_mode {
        check_test_output(&folder, &written);
        println!("bench harness test: 1 passed, 0 failed");
    } else {
        println!(
            "results: {} and {}",
            folder.json_path().display(),
            folder.csv_path().display()
        );
        println!("charts and report: {}/README.md", folder.dir.display());
    }
}

/// In test mode: the files exist, the results parse back, and every point was measured.
fn check_test_output(folder: &DeviceFolder, written: &[std::path::PathBuf]) {
    let file = folder
        .load_existing()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let ok = file.rows.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        ok,
        file.rows.len(),
        "every tiny point runs: {:?}",
        file.rows
    );
    assert!(ok >= 4, "every kernel at two lengths: {ok}");
    assert!(file.families().iter().any(|f| f.starts_with("headdim")));
    assert!(folder.csv_path().is_file());
    for path in written {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} is empty", path.display());
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}
