//! The sweep's stop rules, with a fake measurer (no timing involved): points past the memory
//! budget or predicted past the time budget are skipped with their reasons.

use attnbench::gpu::TimingSource;
use attnbench::results::Status;
use attnbench::run::Measurement;
use attnbench::sweep::{LazyRun, Measurer, Point, SweepConfig, run_sweep};
use attnbench::{AdapterChoice, Gpu, find_kernel};
use std::time::Duration;

/// Pretends one run takes n² / 1000 ms, without running anything.
struct Quadratic;

impl Measurer for Quadratic {
    fn measure(
        &mut self,
        point: &Point<'_>,
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
    let gpu = Gpu::new(AdapterChoice {
        memory_budget: Some("64M".into()),
        ..AdapterChoice::default()
    })
    .unwrap();
    let config = SweepConfig {
        seq_lens: vec![512, 1024, 2048, 4096, 8192, 16384],
        kernels: vec![find_kernel("naive").unwrap(), find_kernel("flash").unwrap()],
        time_budget: Duration::from_secs(5),
        causal: vec![false],
        head_dim_sweep: Vec::new(),
        window: None,
        training: false,
        ..SweepConfig::default()
    };
    let rows = run_sweep(&gpu, &config, &mut Quadratic).unwrap();
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

    // flash fits, but 2048²/1000 ms = 4.2 s and the n² law predicts 16.8 s at 4096 > 5 s.
    assert_eq!(row("flash", 2048).status, Status::Ok);
    let stopped = row("flash", 4096);
    assert_eq!(stopped.status, Status::Skipped);
    assert!(stopped.reason.contains("time budget"), "{}", stopped.reason);
    assert!(row("flash", 16384).reason.contains("time budget"));
}

/// Measures two points, then is interrupted (Ctrl-C): the sweep returns those two and
/// nothing for the points it did not reach, for the caller to save.
struct InterruptedAfterTwo(u32);

impl Measurer for InterruptedAfterTwo {
    fn measure(
        &mut self,
        _point: &Point<'_>,
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
    let gpu = Gpu::new(AdapterChoice::default()).unwrap();
    let config = SweepConfig {
        seq_lens: vec![16, 32, 64, 128],
        kernels: vec![find_kernel("naive").unwrap()],
        causal: vec![false],
        head_dim_sweep: Vec::new(),
        window: None,
        training: false,
        ..SweepConfig::default()
    };
    let rows = run_sweep(&gpu, &config, &mut InterruptedAfterTwo(0)).unwrap();
    let seq_lens: Vec<u32> = rows.iter().map(|r| r.seq_len).collect();
    assert_eq!(seq_lens, [16, 32]);
    assert!(rows.iter().all(|r| r.status == Status::Ok));
}
