//! `attnbench probe` and `attnbench capacity` on the shared device.

mod common;

use attnbench::capacity::capacity;
use attnbench::probe::{expected_fma, run_probes};
use attnbench::{Shape, find_kernel};
use common::gpu;

#[test]
fn probes_report_checked_ceilings() {
    // run_probes reads back every probe's output and fails if it differs from the host's
    // computation, so an optimized-away probe cannot pass.
    let report = run_probes(gpu()).unwrap();
    assert!(report.fma_f32_gflops > 0.0 && report.fma_f32_gflops.is_finite());
    assert!(report.bandwidth_gbps > 0.0 && report.upload_gbps > 0.0 && report.readback_gbps > 0.0);
    assert_eq!(
        report.fma_f16_gflops.is_some(),
        gpu().features().contains(wgpu::Features::SHADER_F16)
    );
    assert!(!report.tried.is_empty());
    // The host's expectation depends on the work done, so a shortcut is visible.
    assert_ne!(expected_fma(0, 512, 8), expected_fma(0, 511, 8));
    assert_ne!(expected_fma(0, 512, 8), expected_fma(0, 512, 4));
}

#[test]
fn capacity_is_the_largest_n_whose_plan_fits() {
    let template = Shape::new(1, 64);
    let naive = find_kernel("naive").unwrap();
    let flash = find_kernel("flash").unwrap();
    let c = capacity(gpu(), naive, &template);
    let n = c.max_seq_len.expect("naive fits at n = 1");
    assert!(attnbench::run::PointPlan::checked(gpu(), naive, &Shape::new(n, 64)).is_ok());
    assert!(attnbench::run::PointPlan::checked(gpu(), naive, &Shape::new(n + 1, 64)).is_err());
    assert!(c.limited_by.contains("needs"), "{}", c.limited_by);
    // flash stops at its own limit (memory, or a driver's loop cap), also exactly.
    let f = capacity(gpu(), flash, &template).max_seq_len.unwrap();
    assert!(attnbench::run::PointPlan::checked(gpu(), flash, &Shape::new(f, 64)).is_ok());
    assert!(attnbench::run::PointPlan::checked(gpu(), flash, &Shape::new(f + 1, 64)).is_err());
    // n = 100 000 never fits naive's 40 GB score matrix on a machine like this one.
    let at_100k = c.needs.iter().find(|need| need.seq_len == 100_000).unwrap();
    assert!(at_100k.bytes.unwrap() >= 40_000_000_000);
}
