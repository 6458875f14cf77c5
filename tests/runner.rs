//! The core sweep runner over a fake device (simulated facts, a fake clock, a fake timer:
//! nothing runs on a GPU): the native sweep and the browser page's sweep drive the same
//! runner, so for the same shapes they produce the same rows — the same walls, stop rules
//! and skip reasons — whatever else each sweeps.

use attnbench::bench::Planner;
use attnbench::gpu::{DeviceFacts, MemoryBudget, TimingSource};
use attnbench::kernels::PlanContext;
use attnbench::results::{ResultRow, Status};
use attnbench::run::Measurement;
use attnbench::sweep::{
    MeasureCost, PAGE_RUN_BUDGET, PointMeasured, SweepConfig, SweepPoint, SweepRunner, SweepStep,
    doubling, families,
};
use attnbench::{Error, Kernel, find_kernel};
use std::time::{Duration, Instant};

/// A GPU that is not here: 32-wide subgroups and a 256 MiB memory budget.
fn fake_device() -> (DeviceFacts, MemoryBudget) {
    let mut facts = DeviceFacts::simulated_gpu(Some((32, 32)));
    facts.memory_budget = Some(256 << 20);
    let budget = MemoryBudget {
        bytes: facts.memory_budget,
        source: "the test".into(),
    };
    (facts, budget)
}

/// One run of `point` on the fake device: n² / 1000 ms (naive 4× flash), and an
/// out-of-memory error for naive's causal prefill at n = 2048 (as a driver may report one
/// the plan did not foresee).
fn fake_run(point: &SweepPoint<'_>) -> attnbench::Result<f64> {
    let n = f64::from(point.shape.seq_len);
    let naive = point.kernel.name() == "naive";
    if naive && point.shape.causal && point.shape.seq_len == 2048 {
        return Err(Error::OutOfMemory {
            during: "measuring naive".into(),
            message: "the fake device ran out".into(),
        });
    }
    Ok(n * n / 1000.0 * if naive { 4.0 } else { 1.0 })
}

/// Drives `config`'s `families` to the end on the fake device, spending simulated time.
fn drive(config: &SweepConfig, families: &[attnbench::sweep::Family]) -> Vec<ResultRow> {
    let (facts, budget) = fake_device();
    let planner = Planner {
        ctx: PlanContext::untuned(&facts),
        budget: &budget,
        audited_unchecked: true,
    };
    let cost = MeasureCost {
        overhead: Duration::ZERO,
        runs_per_point: 12,
    };
    let start = config.deadline.expect("a deadline") - Duration::from_secs(6000);
    let mut spent = Duration::ZERO;
    let mut runner = SweepRunner::new(planner, config, families, cost, &|_, _| None);
    while let Some(step) = runner.next(start + spent).unwrap() {
        let SweepStep::Measure(point) = step else {
            continue;
        };
        let outcome = fake_run(&point).and_then(|ms| {
            let samples = point.samples.unwrap_or(10);
            spent += Duration::from_secs_f64(ms / 1e3 * f64::from(samples + 2));
            let m =
                Measurement::from_samples(vec![ms; samples as usize], TimingSource::GpuTimestamps)?;
            Ok(Some(PointMeasured {
                measurement: m,
                peak_buffer_bytes: 1,
                phases: None,
            }))
        });
        runner.record(point, outcome).unwrap();
    }
    runner.finish()
}

/// A point's (family, kernel, n) and its (status, reason).
type Verdict = ((String, String, u32), (Status, String));

/// The verdict on every point of `rows`, in point order.
fn verdicts(rows: &[ResultRow]) -> Vec<Verdict> {
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                (r.family.clone(), r.kernel.clone(), r.seq_len),
                (r.status, r.reason.clone()),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn the_native_and_the_page_sweep_agree_on_every_shared_point() {
    let kernels: Vec<&'static dyn Kernel> =
        vec![find_kernel("naive").unwrap(), find_kernel("flash").unwrap()];
    let deadline = Instant::now() + Duration::from_secs(6000);
    let page = SweepConfig::page(&kernels, (512, 65536), 0, deadline);
    let native = SweepConfig {
        seq_lens: doubling(512, 65536),
        head_dims: vec![64],
        head_dim_sweep: Vec::new(),
        kernels: kernels.clone(),
        time_budget: PAGE_RUN_BUDGET,
        deadline: Some(deadline),
        ..SweepConfig::default()
    };
    let page_rows = drive(&page, &page.page_families());
    let native_rows = drive(&native, &families(&native));
    assert!(
        native_rows.len() > page_rows.len(),
        "native sweeps more families"
    );
    let shared: Vec<ResultRow> = native_rows
        .into_iter()
        .filter(|r| page_rows.iter().any(|p| p.family == r.family))
        .collect();
    assert_eq!(verdicts(&shared), verdicts(&page_rows));

    // What the rows say: naive meets its memory wall with the bytes, a device failure
    // stops its causal line, flash runs until the run budget stops it.
    let row = |family: &str, kernel: &str, n: u32| {
        page_rows
            .iter()
            .find(|r| r.family == family && r.kernel == kernel && r.seq_len == n)
            .unwrap_or_else(|| panic!("no row {family} {kernel} {n}"))
    };
    assert_eq!(row("prefill-d64", "naive", 4096).status, Status::Ok);
    let wall = row("prefill-d64", "naive", 8192);
    assert!(
        wall.reason.contains("needs") && wall.needed_bytes > 256 << 20,
        "{wall:?}"
    );
    assert!(row("prefill-d64", "naive", 16384).reason.contains("n8192"));
    let failed = row("prefill-causal-d64", "naive", 2048);
    assert_eq!(failed.status, Status::Skipped);
    assert!(
        failed.reason.contains("the fake device ran out"),
        "{failed:?}"
    );
    assert!(
        row("prefill-causal-d64", "naive", 4096)
            .reason
            .contains("n2048")
    );
    assert!(
        page_rows
            .iter()
            .any(|r| r.kernel == "flash" && r.reason.contains("budget")),
        "flash's line stops at the run budget"
    );
}
