//! The sweep's stop rules and how it spends its budget, with fake measurers (nothing runs,
//! and the budget is spent on a simulated clock, so no assertion depends on speed): points
//! past the memory budget or predicted past the time budget are skipped with their reasons,
//! and a default budget on a slow CPU driver still measures naive up to n = 4096 in every
//! headline family.

use attnbench::gpu::TimingSource;
use attnbench::results::{ResultRow, Skip, Status};
use attnbench::run::Measurement;
use attnbench::sweep::{
    DEFAULT_SWEEP_BUDGET_S, LazyRun, MARK_SEQ_LEN, Measurer, SweepConfig, SweepPoint, run_sweep,
};
use attnbench::{AdapterChoice, Bench, Gpu, Pass, find_kernel};
use std::time::{Duration, Instant};

/// Pretends one run takes n² / 1000 ms, without running anything.
struct Quadratic;

impl Measurer for Quadratic {
    fn measure(
        &mut self,
        point: &SweepPoint<'_>,
        _run: &mut LazyRun<'_>,
    ) -> attnbench::Result<Option<Measurement>> {
        let ms = f64::from(point.shape.seq_len).powi(2) / 1000.0;
        Ok(Some(Measurement::from_samples(
            vec![ms],
            TimingSource::WallClock,
        )?))
    }
}

#[test]
fn sweeps_stop_at_the_memory_budget_and_the_time_budget() {
    let gpu = Bench::untuned(
        Gpu::new(&AdapterChoice {
            memory_budget: Some("64M".into()),
            ..AdapterChoice::default()
        })
        .unwrap(),
    );
    let results = tempfile::tempdir().unwrap();
    let config = SweepConfig {
        seq_lens: vec![512, 1024, 2048, 4096, 8192, 16384],
        kernels: vec![find_kernel("naive").unwrap(), find_kernel("flash").unwrap()],
        time_budget: Duration::from_secs(5),
        causal: vec![false],
        head_dim_sweep: Vec::new(),
        window: None,
        training: false,
        results_dir: results.path().to_path_buf(),
        ..SweepConfig::default()
    };
    let rows = run_sweep(&gpu, &config, &mut Quadratic, &|_, _| None).unwrap();
    assert_eq!(rows.len(), 12);
    let row = |kernel: &str, n: u32| {
        rows.iter()
            .find(|r| r.kernel == kernel && r.seq_len == n)
            .unwrap()
    };

    // naive at 4096 needs the 64 MiB n×n matrix plus Q, K, V, O: past the 64 MiB budget.
    for n in [512, 1024, 2048] {
        assert_eq!(row("naive", n).status, Status::Ok);
    }
    let wall = row("naive", 4096);
    assert_eq!(wall.status, Status::Skipped);
    assert!(
        wall.reason.contains("needs") && wall.reason.contains("device allows"),
        "{}",
        wall.reason
    );
    assert!(wall.needed_bytes > 64 << 20);
    assert!(
        row("naive", 8192)
            .reason
            .contains("sweep stopped at B1 H1 n4096")
    );

    // flash: 2048²/1000 ms = 4.2 s; the n² law predicts 16.8 s at 4096, past the 5 s
    // budget of a run, but points up to the seed's first mark (4096) may take 20 times
    // it. At 8192 (67 s predicted) the line stops.
    assert_eq!(row("flash", 4096).status, Status::Ok);
    let stopped = row("flash", 8192);
    assert_eq!(stopped.status, Status::Skipped);
    assert!(stopped.reason.contains("time budget"), "{}", stopped.reason);
    assert!(row("flash", 16384).reason.contains("time budget"));
}

/// Simulates lavapipe without running anything: one run costs the point's FLOPs at the
/// kernel's rate (naive at n = 4096: 19 s ÷ `speed`, its training step 3.5 times that), and
/// measuring a point spends simulated time as `cargo bench` does: criterion's windows
/// (3 s) and 11 runs, or a long point's samples.
struct Simulated {
    start: Instant,
    spent: Duration,
    speed: f64,
    /// (family, kernel, n, samples asked, simulated start)
    taken: Vec<(String, String, u32, Option<u32>, Duration)>,
}

impl Simulated {
    fn new(speed: f64) -> Self {
        Simulated {
            start: Instant::now(),
            spent: Duration::ZERO,
            speed,
            taken: Vec::new(),
        }
    }

    /// Seconds one run of `point` takes.
    fn run_s(&self, point: &SweepPoint<'_>) -> f64 {
        let gflops = match point.kernel.name() {
            "naive" | "chunked" => 0.226,
            "flash" => 27.0,
            "flash_f16" => 2.0,
            "flash_subgroup" => 0.65,
            _ => 0.2,
        };
        (point.flops / (gflops * self.speed * 1e9)).max(1e-4)
    }
}

impl Measurer for Simulated {
    fn measure(
        &mut self,
        point: &SweepPoint<'_>,
        _run: &mut LazyRun<'_>,
    ) -> attnbench::Result<Option<Measurement>> {
        let run = self.run_s(point);
        self.taken.push((
            point.family.to_string(),
            point.kernel.name().to_string(),
            point.shape.seq_len,
            point.samples,
            self.spent,
        ));
        let (samples, cost) = match point.samples {
            Some(k) => (k, f64::from(k) * run),
            None => (10, 3.0 + 11.0 * run),
        };
        self.spent += Duration::from_secs_f64(cost);
        Ok(Some(Measurement::from_samples(
            vec![run * 1e3; samples as usize],
            TimingSource::GpuTimestamps,
        )?))
    }

    fn overhead(&self) -> Duration {
        Duration::from_secs(3)
    }

    fn runs_per_point(&self) -> u32 {
        11
    }

    fn now(&self) -> Instant {
        self.start + self.spent
    }
}

/// The default sweep with a default budget, measured by `sim` on lavapipe's 2 GiB.
fn default_sweep(sim: &mut Simulated) -> Vec<ResultRow> {
    let gpu = Bench::untuned(
        Gpu::new(&AdapterChoice {
            memory_budget: Some("2G".into()),
            ..AdapterChoice::default()
        })
        .unwrap(),
    );
    let results = tempfile::tempdir().unwrap();
    let config = SweepConfig {
        deadline: Some(sim.start + Duration::from_secs(DEFAULT_SWEEP_BUDGET_S)),
        results_dir: results.path().to_path_buf(),
        ..SweepConfig::default()
    };
    run_sweep(&gpu, &config, sim, &|_, _| None).unwrap()
}

fn find<'a>(rows: &'a [ResultRow], family: &str, kernel: &str, n: u32) -> &'a ResultRow {
    rows.iter()
        .find(|r| r.family == family && r.kernel == kernel && r.seq_len == n)
        .unwrap_or_else(|| panic!("no row {family} {kernel} {n}"))
}

/// Every point started before the deadline, and the sweep ended within one point of it.
fn check_the_deadline(sim: &Simulated) {
    let budget = Duration::from_secs(DEFAULT_SWEEP_BUDGET_S);
    for (family, kernel, n, _, start) in &sim.taken {
        assert!(
            *start < budget,
            "{family} {kernel} {n} started at {start:?}"
        );
    }
    // The dearest point: naive's training step at n = 4096, 3 runs of 66 s.
    assert!(
        sim.spent < budget + Duration::from_secs(200),
        "{:?}",
        sim.spent
    );
}

#[test]
fn a_slow_day_still_measures_naive_to_the_first_mark_in_every_headline_family() {
    let mut sim = Simulated::new(1.0);
    let rows = default_sweep(&mut sim);
    for family in ["prefill-d64", "prefill-causal-d64", "train-d64"] {
        for kernel in ["naive", "flash"] {
            let r = find(&rows, family, kernel, MARK_SEQ_LEN);
            assert_eq!(r.status, Status::Ok, "{family} {kernel}: {}", r.reason);
        }
        // One naive run at 4096 takes 9.5–66 s here: three samples by the long-run rule.
        assert_eq!(find(&rows, family, "naive", MARK_SEQ_LEN).samples, 3);
        // Past the mark, the run budget of 6 s stops naive again.
        let next = find(&rows, family, "naive", 2 * MARK_SEQ_LEN);
        assert!(
            next.skip.as_ref().is_some_and(Skip::is_lack_of_time),
            "{family}: {}",
            next.reason
        );
    }
    check_the_deadline(&sim);
}

/// Slower still (this machine on a bad day, with compiles and probes eating the budget):
/// the budget ends among the dear mark points, and prefill, whose chart leads every
/// report, gets naive's mark before causal prefill and the training step do.
#[test]
fn a_slower_day_measures_naive_to_the_mark_in_prefill_first() {
    let mut sim = Simulated::new(0.3);
    let rows = default_sweep(&mut sim);
    for kernel in ["naive", "flash"] {
        let r = find(&rows, "prefill-d64", kernel, MARK_SEQ_LEN);
        assert_eq!(r.status, Status::Ok, "prefill-d64 {kernel}: {}", r.reason);
    }
    let train = find(&rows, "train-d64", "naive", MARK_SEQ_LEN);
    assert!(
        train.skip.as_ref().is_some_and(Skip::is_lack_of_time),
        "the budget should end before naive's training step at the mark: {}",
        train.reason
    );
    // flash's cheap mark points come before naive's dear ones.
    for family in ["prefill-causal-d64", "train-d64"] {
        let r = find(&rows, family, "flash", MARK_SEQ_LEN);
        assert_eq!(r.status, Status::Ok, "{family} flash: {}", r.reason);
    }
}

#[test]
fn a_typical_day_takes_flash_past_the_mark_and_leaves_time_for_the_rest() {
    let mut sim = Simulated::new(4.0);
    let rows = default_sweep(&mut sim);
    // naive to the mark, flash past it towards its run budget (here 0.6 s a run at
    // n = 16 384, 2.5 s at 32 768, 10 s predicted at 65 536: past 6 s).
    assert_eq!(
        find(&rows, "train-d64", "naive", MARK_SEQ_LEN).status,
        Status::Ok
    );
    assert_eq!(
        find(&rows, "prefill-d64", "flash", 16384).status,
        Status::Ok
    );
    // The other families and kernels share what is left: each measures its first points.
    for (family, kernel) in [
        ("prefill-d64", "chunked"),
        ("window-d64", "flash"),
        ("backward-d64", "naive"),
        ("decode-d64", "decode"),
    ] {
        assert_eq!(
            find(&rows, family, kernel, 128).status,
            Status::Ok,
            "{family} {kernel}"
        );
    }
    check_the_deadline(&sim);
}

/// Measures two points, then is interrupted (Ctrl-C): the sweep returns those two and
/// nothing for the points it did not reach, for the caller to save.
struct InterruptedAfterTwo(u32);

impl Measurer for InterruptedAfterTwo {
    fn measure(
        &mut self,
        _point: &SweepPoint<'_>,
        _run: &mut LazyRun<'_>,
    ) -> attnbench::Result<Option<Measurement>> {
        self.0 += 1;
        if self.0 > 2 {
            return Err(attnbench::Error::Interrupted);
        }
        Ok(Some(Measurement::from_samples(
            vec![1.0],
            TimingSource::WallClock,
        )?))
    }
}

#[test]
fn an_interrupted_sweep_returns_the_points_it_measured() {
    let gpu = Bench::untuned(Gpu::new(&AdapterChoice::default()).unwrap());
    let config = SweepConfig {
        seq_lens: vec![16, 32, 64, 128],
        kernels: vec![find_kernel("naive").unwrap()],
        causal: vec![false],
        head_dim_sweep: Vec::new(),
        window: None,
        training: false,
        ..SweepConfig::default()
    };
    let rows = run_sweep(&gpu, &config, &mut InterruptedAfterTwo(0), &|_, _| None).unwrap();
    let seq_lens: Vec<u32> = rows.iter().map(|r| r.seq_len).collect();
    assert_eq!(seq_lens, [16, 32]);
    assert!(rows.iter().all(|r| r.status == Status::Ok));
}

/// A (kernel, pass) that verification did not cover (`suite`: every check of it skipped
/// for the budget) is never measured: its points are skipped, and say why.
#[test]
fn unverified_passes_are_skipped_with_the_reason() {
    let gpu = Bench::untuned(Gpu::new(&AdapterChoice::default()).unwrap());
    let results = tempfile::tempdir().unwrap();
    let why = "flash fwd-bwd (every check skipped; first: needs 367728 bytes)";
    let config = SweepConfig {
        seq_lens: vec![16, 32],
        head_dims: vec![16],
        causal: vec![false],
        window: None,
        head_dim_sweep: Vec::new(),
        kernels: vec![find_kernel("naive").unwrap(), find_kernel("flash").unwrap()],
        results_dir: results.path().to_path_buf(),
        unverified: vec![("flash", Pass::ForwardBackward, why.into())],
        ..SweepConfig::default()
    };
    let rows = run_sweep(&gpu, &config, &mut Quadratic, &|_, _| None).unwrap();
    let of = |family: &str, kernel: &str| -> Vec<&ResultRow> {
        rows.iter()
            .filter(|r| r.family == family && r.kernel == kernel)
            .collect()
    };
    for row in of("train-d16", "flash") {
        assert!(!row.is_ok(), "{row:?}");
        assert!(matches!(row.skip, Some(Skip::Unverified { .. })), "{row:?}");
        assert!(row.reason.contains(why), "{}", row.reason);
    }
    assert!(of("train-d16", "naive").iter().all(|r| r.is_ok()));
    assert!(of("prefill-d16", "flash").iter().all(|r| r.is_ok()));
    // Its other passes are not held back.
    let backward = of("backward-d16", "flash");
    assert!(!backward.is_empty());
    assert!(
        backward
            .iter()
            .all(|r| !matches!(r.skip, Some(Skip::Unverified { .. })))
    );
}
