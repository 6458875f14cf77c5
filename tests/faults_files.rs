//! Bad files and faults, one test per class: another device's files are refused before
//! anything is measured, plot and compare follow the results root and exit 2 on what they
//! cannot read, and charts of rows no longer there are removed.

mod common;

use common::cli::{run as attnbench_env, stderr_lines};

use attnbench::probe::{PROBE_SCHEMA, ProbeReport};
use attnbench::results::{DeviceFolder, DeviceHeader};
use attnbench::tuning::TuningFile;
use common::cli::measured;
use std::path::Path;
use std::time::{Duration, Instant};

/// Exit 2, exactly one line on stderr, containing `needle`.
fn assert_refused(args: &[&str], env: &[(&str, &str)], needle: &str) {
    let out = attnbench_env(args, env);
    let lines = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {lines:?}");
    assert_eq!(lines.len(), 1, "{args:?} {env:?}: {lines:?}");
    assert!(
        lines[0].contains(needle),
        "{args:?} {env:?}: {lines:?} lacks {needle:?}"
    );
}

/// This test binary's device, as its results folder knows it.
fn device() -> DeviceHeader {
    DeviceHeader::for_gpu(common::gpu())
}

fn other_device() -> DeviceHeader {
    DeviceHeader {
        adapter: "Some Other GPU".into(),
        ..device()
    }
}

fn probe_of(device: DeviceHeader) -> ProbeReport {
    ProbeReport {
        schema: PROBE_SCHEMA.into(),
        device,
        fma_f32_gflops: 82_000.0,
        fma_f16_gflops: None,
        bandwidth_gbps: 3000.0,
        upload_gbps: 20.0,
        readback_gbps: 20.0,
        timing: "gpu-timestamps".into(),
        tried: Vec::new(),
    }
}

const TINY_SWEEP: &[(&str, &str)] = &[
    ("ATTNBENCH_SEQ_LENS", "16,32"),
    ("ATTNBENCH_HEAD_DIMS", "16"),
    ("ATTNBENCH_HEAD_DIM_SWEEP", "none"),
    ("ATTNBENCH_CAUSAL", "false"),
    ("ATTNBENCH_WINDOW", "none"),
    ("ATTNBENCH_TRAINING", "none"),
    ("ATTNBENCH_TIME_BUDGET", "5"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    [TINY_SWEEP, extra].concat()
}

#[test]
fn another_devices_files_are_refused_before_anything_is_measured() {
    let root = tempfile::tempdir().unwrap();
    let root_str = root.path().to_str().unwrap();
    let folder = DeviceFolder::for_device(root.path(), &device());
    let env = with(&[("ATTNBENCH_KERNELS", "flash")]);
    let mut env: Vec<(&str, &str)> = env;
    env.push(("ATTNBENCH_RESULTS_DIR", root_str));

    // Another adapter's probe.json: its ceilings are never applied.
    let lock = folder.lock().unwrap();
    probe_of(other_device()).save(&lock, &folder.dir).unwrap();
    drop(lock);
    let start = Instant::now();
    assert_refused(&["sweep"], &env, "probe.json");
    assert!(!folder.json_path().exists(), "nothing written");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "refused before measuring"
    );
    std::fs::remove_file(ProbeReport::path(&folder.dir)).unwrap();

    // Another adapter's results.json.
    let mut foreign = attnbench::results::ResultsFile::new(other_device());
    let row = measured(
        "prefill-d16",
        "flash",
        &attnbench::Shape::new(16, 16),
        &[1.0],
    );
    foreign.merge(other_device(), vec![row]);
    folder.save(&foreign).unwrap();
    let before = std::fs::read(folder.json_path()).unwrap();
    assert_refused(&["sweep"], &env, "results.json");
    assert_refused(
        &["probe"],
        &[("ATTNBENCH_RESULTS_DIR", root_str)],
        "results.json",
    );
    assert_eq!(std::fs::read(folder.json_path()).unwrap(), before);

    // A corrupt results.json: probe refuses before replacing probe.json.
    std::fs::write(folder.json_path(), "{ corrupt").unwrap();
    let lock = folder.lock().unwrap();
    probe_of(device()).save(&lock, &folder.dir).unwrap();
    drop(lock);
    let probe_before = std::fs::read(ProbeReport::path(&folder.dir)).unwrap();
    assert_refused(
        &["probe"],
        &[("ATTNBENCH_RESULTS_DIR", root_str)],
        "results.json",
    );
    assert_eq!(
        std::fs::read(ProbeReport::path(&folder.dir)).unwrap(),
        probe_before
    );
    std::fs::remove_file(folder.json_path()).unwrap();

    // Another adapter's tuning.json: tune refuses before tuning.
    std::fs::remove_file(ProbeReport::path(&folder.dir)).unwrap();
    let lock = folder.lock().unwrap();
    TuningFile::merge_and_save(&folder.dir, &lock, other_device(), Vec::new()).unwrap();
    drop(lock);
    assert_refused(
        &["tune", "--head-dims", "16", "--seq-len", "64"],
        &[("ATTNBENCH_RESULTS_DIR", root_str)],
        "tuning.json",
    );

    // A results root that cannot be created (a file stands in its place).
    let blocked = root.path().join("a-file");
    std::fs::write(&blocked, b"x").unwrap();
    let mut env = with(&[("ATTNBENCH_KERNELS", "flash")]);
    env.push(("ATTNBENCH_RESULTS_DIR", blocked.to_str().unwrap()));
    assert_refused(&["sweep"], &env, "a-file");
}

#[test]
fn plot_and_compare_follow_the_results_root_and_exit_2() {
    let root = tempfile::tempdir().unwrap();
    let root_str = root.path().to_str().unwrap();
    assert_refused(&["plot"], &[("ATTNBENCH_RESULTS_DIR", root_str)], root_str);
    let missing = root.path().join("missing");
    assert_refused(
        &["plot"],
        &[("ATTNBENCH_RESULTS_DIR", missing.to_str().unwrap())],
        "missing",
    );
    let a = root.path().join("a");
    let mut file = attnbench::results::ResultsFile::new(device());
    let row = measured(
        "prefill-d16",
        "flash",
        &attnbench::Shape::new(16, 16),
        &[1.0],
    );
    file.merge(device(), vec![row]);
    DeviceFolder::at(&a).save(&file).unwrap();
    assert_refused(
        &["compare", a.to_str().unwrap(), a.to_str().unwrap()],
        &[("ATTNBENCH_RESULTS_DIR", root_str)],
        "compared with itself",
    );
    let b = root.path().join("b");
    let mut other = file.clone();
    other.device = other_device();
    DeviceFolder::at(&b).save(&other).unwrap();
    assert_refused(
        &[
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            b.to_str().unwrap(),
        ],
        &[],
        "--out",
    );
    let out = attnbench_env(
        &["compare", a.to_str().unwrap(), b.to_str().unwrap()],
        &[("ATTNBENCH_RESULTS_DIR", root_str)],
    );
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert!(root.path().join("compare/compare.md").is_file());
}

#[test]
fn plot_with_no_rows_left_removes_old_charts() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = attnbench::results::ResultsFile::new(device());
    let row = measured(
        "prefill-d16",
        "flash",
        &attnbench::Shape::new(16, 16),
        &[1.0],
    );
    file.merge(device(), vec![row]);
    let written = attnbench::report::write_device_report(&file, dir.path()).unwrap();
    assert!(
        written
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "png"))
    );
    let empty = attnbench::results::ResultsFile::new(device());
    attnbench::report::write_device_report(&empty, dir.path()).unwrap();
    let charts: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            Path::new(&e.file_name())
                .extension()
                .is_some_and(|x| x == "png")
        })
        .collect();
    assert!(charts.is_empty(), "{charts:?}");
}
