//! Results files for the report and chart tests: two kernels on a made-up device, and a
//! file where naive's line meets the memory budget and flash's stops for lack of time.
// Each test binary uses part of them.
#![allow(dead_code)]

use attnbench::Shape;
use attnbench::results::{Ceilings, DeviceHeader, ResultRow, ResultsFile, Skip, Status};
use attnbench::stats::{Interval, IntervalMethod};

/// A device header for `name`.
pub fn header(name: &str) -> DeviceHeader {
    DeviceHeader {
        adapter: name.into(),
        vendor: 0x10de,
        backend: "Vulkan".into(),
        device_type: "DiscreteGpu".into(),
        driver: "test".into(),
        wgpu_version: "30".into(),
        attnbench_version: "0.1.0".into(),
        git_commit: None,
        date: "2026-11-25T00:00:00Z".into(),
        os: "linux x86_64".into(),
        memory_budget_bytes: Some(8 << 30),
        max_storage_buffer_binding_size: 1 << 30,
    }
}

/// naive and flash at n = 256…2048 (flash 3× faster, with intervals), naive skipped at
/// 4096, on a device `speed` fast.
pub fn results(name: &str, speed: f64) -> ResultsFile {
    let mut file = ResultsFile::new(header(name));
    let mut rows = Vec::new();
    for kernel in ["naive", "flash"] {
        for n in [256u32, 512, 1024, 2048] {
            let shape = Shape::new(n, 64);
            let mut row = ResultRow::new("prefill-d64", kernel, &shape);
            let ms = f64::from(n).powi(2) / speed / if kernel == "flash" { 3.0 } else { 1.0 };
            row.status = Status::Ok;
            row.median_ms = Some(ms);
            row.samples = 10;
            row.gflops = Some(shape.flops() / (ms * 1e6));
            row.min_bytes = if kernel == "naive" {
                shape.min_io_bytes() + 4 * shape.score_matrix_bytes()
            } else {
                shape.min_io_bytes()
            };
            row.peak_buffer_bytes = Some(row.min_bytes);
            row.scores_transfer_ms =
                (kernel == "naive").then(|| shape.score_matrix_bytes() as f64 / 1e7);
            row.timing = Some(attnbench::gpu::TimingSource::GpuTimestamps);
            // flash's rows carry an interval, naive's (like older files) none.
            if kernel == "flash" {
                row.set_interval(Some(Interval {
                    low: ms * 0.95,
                    high: ms * 1.08,
                    method: IntervalMethod::OrderStatistic,
                    coverage: 0.978,
                    samples: 10,
                }));
            }
            rows.push(row);
        }
    }
    let mut skipped = ResultRow::new("prefill-d64", "naive", &Shape::new(4096, 64));
    skipped.reason = "time budget".into();
    rows.push(skipped);
    file.ceilings = Some(Ceilings {
        fma_f32_gflops: 100.0,
        fma_f16_gflops: None,
        bandwidth_gbps: 50.0,
        upload_gbps: 5.0,
        readback_gbps: 4.0,
    });
    file.merge(header(name), rows);
    file
}

/// A results file where naive's training line meets the 2 GiB budget at n = 16 384 and
/// flash's stops for lack of time at 16 384.
pub fn walled() -> ResultsFile {
    let mut file = results("GPU A", 1e5);
    let mut rows = Vec::new();
    for n in [2048u32, 4096, 8192, 16384] {
        for kernel in ["naive", "flash"] {
            let shape = Shape::new(n, 64);
            let mut row = ResultRow::new("prefill-d64", kernel, &shape);
            row.needed_bytes = shape.score_matrix_bytes() * 2;
            if n < 16384 {
                row.status = Status::Ok;
                row.median_ms = Some(f64::from(n));
                row.samples = 3;
                row.peak_buffer_bytes = Some(row.needed_bytes);
            } else if kernel == "naive" {
                row.set_skip(Skip::TooLarge {
                    what: format!("naive at {shape}"),
                    needed: 2_181_039_616,
                    allowed: 2 << 30,
                    limit: attnbench::error::Limit::MemoryBudget {
                        source: "the Vulkan heap".into(),
                    },
                });
            } else {
                row.set_skip(Skip::SweepBudget { left_s: 1.0 });
            }
            rows.push(row);
        }
    }
    file.merge(header("GPU A"), rows);
    file
}
