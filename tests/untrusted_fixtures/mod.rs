//! Device folders as another machine might send them, generated at run time: a valid one
//! (one recorded run, naive and flash measured with 10 samples each, a point past the
//! budget), and edits of its JSON that make it hostile. Nothing here is committed.
#![allow(dead_code)]

use attnbench::Shape;
use attnbench::error::Limit;
use attnbench::gpu::TimingSource;
use attnbench::results::{
    Ceilings, DeviceFolder, DeviceHeader, ResultRow, ResultsFile, RunKind, RunRecord, Skip,
    Stability,
};
use attnbench::run::Measurement;
use serde_json::Value;
use std::path::Path;

/// A made-up device.
pub fn header(name: &str) -> DeviceHeader {
    DeviceHeader {
        adapter: name.into(),
        vendor: 0x10de,
        backend: "Vulkan".into(),
        device_type: "DiscreteGpu".into(),
        driver: "test 1.0".into(),
        wgpu_version: "30".into(),
        attnbench_version: "0.1.0".into(),
        git_commit: Some("abc123".into()),
        date: "2026-11-25T00:00:00Z".into(),
        os: "linux x86_64".into(),
        memory_budget_bytes: Some(8 << 30),
        max_storage_buffer_binding_size: 1 << 30,
    }
}

/// The run `id` on `name`, stable or not.
pub fn run(id: &str, name: &str, stable: bool) -> RunRecord {
    let ceilings = |fma: f64| Ceilings {
        fma_f32_gflops: fma,
        fma_f16_gflops: None,
        bandwidth_gbps: 100.0,
        upload_gbps: 10.0,
        readback_gbps: 10.0,
    };
    let start = ceilings(1000.0);
    let end = ceilings(if stable { 1010.0 } else { 600.0 });
    RunRecord {
        id: id.into(),
        kind: RunKind::Sweep,
        started: "2026-11-25T00:00:00Z".into(),
        finished: Some("2026-11-25T00:10:00Z".into()),
        commit: Some("abc123".into()),
        sources: "clean".into(),
        attnbench_version: "0.1.0".into(),
        wgpu_version: "30".into(),
        adapter: name.into(),
        backend: "Vulkan".into(),
        driver: "test 1.0".into(),
        inputs: "uniform".into(),
        settings: vec![("ATTNBENCH_SEQ_LENS".into(), "128,256".into())],
        stability: Some(Stability::between(&start, &end)),
        ceilings_start: Some(start),
        ceilings_end: Some(end),
    }
}

/// A measured row of `kernel` at n (d = 64, prefill) in run `run_id`: ten samples around
/// `ms`.
pub fn measured(kernel: &str, n: u32, ms: f64, run_id: &str) -> ResultRow {
    let shape = Shape::new(n, 64);
    let mut row = ResultRow::new("prefill-d64", kernel, &shape);
    let samples: Vec<f64> = (0..10).map(|i| ms * (1.0 + 0.01 * f64::from(i))).collect();
    let m = Measurement::from_samples(samples, TimingSource::GpuTimestamps).unwrap();
    row.record(&m);
    row.config = (kernel == "flash").then(|| "texels,32,4".to_string());
    row.peak_buffer_bytes = Some(shape.min_io_bytes());
    row.run_id = Some(run_id.into());
    row
}

/// A valid results file of device `name`: naive and flash at n = 128 and 256 (flash
/// `speed`× faster) from one run, naive at 512 past the budget.
pub fn valid(name: &str, speed: f64, stable: bool) -> ResultsFile {
    let id = format!("run-{}", name.replace(' ', "-"));
    let mut file = ResultsFile::new(header(name));
    file.record_run(run(&id, name, stable));
    let mut rows = Vec::new();
    for n in [128u32, 256] {
        let naive = f64::from(n * n) / 1e3;
        rows.push(measured("naive", n, naive, &id));
        rows.push(measured("flash", n, naive / speed, &id));
    }
    let shape = Shape::new(512, 64);
    let mut walled = ResultRow::new("prefill-d64", "naive", &shape);
    walled.needed_bytes = 3 << 20;
    walled.set_skip(Skip::TooLarge {
        what: format!("naive at {shape}"),
        needed: 3 << 20,
        allowed: 2 << 20,
        limit: Limit::MemoryBudget {
            source: "--memory-budget".into(),
        },
    });
    walled.run_id = Some(id);
    rows.push(walled);
    file.merge(header(name), rows);
    file
}

/// Saves `file` as the device folder `dir`.
pub fn save(dir: &Path, file: &ResultsFile) -> DeviceFolder {
    let folder = DeviceFolder::at(dir);
    folder.save(file).unwrap();
    folder
}

/// Edits the folder's `results.json` as JSON.
pub fn edit(dir: &Path, change: impl FnOnce(&mut Value)) {
    let path = dir.join("results.json");
    let mut value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    change(&mut value);
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

/// Whether `needle` occurs in `md` without a backslash before it (as Markdown reads it).
pub fn unescaped(md: &str, needle: &str) -> bool {
    md.match_indices(needle)
        .any(|(i, _)| !md[..i].ends_with('\\'))
}
