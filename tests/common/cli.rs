//! Running the binary from tests: to the end within a limit, its stderr's lines, refusals,
//! and the device folders the commands read.

use attnbench::Shape;
use attnbench::gpu::TimingSource;
use attnbench::results::{DeviceFolder, DeviceHeader, ResultRow, ResultsFile};
use attnbench::run::Measurement;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test: this build's, or `ATTNBENCH_TEST_BIN`.
pub fn bin() -> PathBuf {
    std::env::var_os("ATTNBENCH_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_attnbench")))
}

/// The binary with `args` and `env`.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs to the end, killed after `limit` (a FIFO read hangs forever).
pub fn run_within(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let child = command(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run attnbench");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = done.send(());
        out
    });
    if finished.recv_timeout(limit).is_err() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        let out = waiter.join().unwrap().unwrap();
        panic!(
            "{args:?} still ran after {limit:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    waiter.join().unwrap().expect("wait for attnbench")
}

/// Runs to the end (within five minutes).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_within(args, env, Duration::from_secs(300))
}

/// The non-empty lines of its stderr.
pub fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Exit 2 and one line on stderr containing every needle.
pub fn assert_refused(out: &Output, needles: &[&str]) {
    let lines = stderr_lines(out);
    assert_eq!(out.status.code(), Some(2), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{lines:?} lacks {needle:?}");
    }
}

/// A made-up device.
pub fn header(name: &str) -> DeviceHeader {
    DeviceHeader {
        adapter: name.into(),
        vendor: 0,
        backend: "Vulkan".into(),
        device_type: "Cpu".into(),
        driver: "test".into(),
        wgpu_version: "30".into(),
        attnbench_version: "0.1.0".into(),
        git_commit: None,
        date: "2026-11-25T00:00:00Z".into(),
        os: "linux".into(),
        memory_budget_bytes: Some(1 << 30),
        max_storage_buffer_binding_size: 1 << 27,
    }
}

/// A measured row of `family` and `kernel` at `shape`, from `samples` (ms).
pub fn measured(family: &str, kernel: &str, shape: &Shape, samples: &[f64]) -> ResultRow {
    let mut row = ResultRow::new(family, kernel, shape);
    let m = Measurement::from_samples(samples.to_vec(), TimingSource::GpuTimestamps).unwrap();
    row.record(&m);
    row
}

/// A device folder with two measured points of flash.
pub fn device_folder(dir: &Path, name: &str) -> DeviceFolder {
    let mut file = ResultsFile::new(header(name));
    let rows = [16u32, 32]
        .map(|n| measured("prefill-d16", "flash", &Shape::new(n, 16), &[f64::from(n)]))
        .to_vec();
    file.merge(header(name), rows);
    let folder = DeviceFolder::at(dir);
    folder.save(&file).unwrap();
    folder
}

/// The folder this machine's adapter writes into under `root`.
pub fn this_device_folder(root: &Path) -> DeviceFolder {
    DeviceFolder::for_device(root, &DeviceHeader::for_gpu(super::gpu()))
}

/// A sweep of two points of naive, quickly.
pub const TINY_SWEEP: &[(&str, &str)] = &[
    ("ATTNBENCH_SEQ_LENS", "16,32"),
    ("ATTNBENCH_HEAD_DIMS", "16"),
    ("ATTNBENCH_HEAD_DIM_SWEEP", "none"),
    ("ATTNBENCH_CAUSAL", "false"),
    ("ATTNBENCH_WINDOW", "none"),
    ("ATTNBENCH_TRAINING", "none"),
    ("ATTNBENCH_KERNELS", "naive"),
    ("ATTNBENCH_TIME_BUDGET", "5"),
];

/// The measured rows of `folder`.
pub fn measured_rows(folder: &DeviceFolder) -> usize {
    folder
        .load_existing()
        .unwrap()
        .rows
        .iter()
        .filter(|r| r.is_ok())
        .count()
}

/// stderr's lines, as they come.
pub fn lines_of(stderr: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// The first line containing `needle`, within `limit`; else `child` is killed.
pub fn wait_for(
    child: &mut std::process::Child,
    lines: &mpsc::Receiver<String>,
    needle: &str,
    limit: Duration,
) -> String {
    let deadline = std::time::Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("no line with {needle:?} within {limit:?}: {seen:?}");
            }
        }
    }
}
