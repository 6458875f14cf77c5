//! The second hostile-input round, one test per class: nothing of the user's is deleted or
//! followed, no measurement is lost to a skip, a signal or a held lock, reads and plans are
//! bounded, bad inputs and destinations are refused before the work, with one line and
//! exit 2. Each of these failed before its fix (`ATTNBENCH_TEST_BIN` runs them against
//! another build of the binary).

mod common;

use attnbench::Shape;
use attnbench::files::FolderLock;
use attnbench::results::{DeviceFolder, DeviceHeader, ResultRow, ResultsFile, Status};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test: this build's, or `ATTNBENCH_TEST_BIN`.
fn bin() -> PathBuf {
    std::env::var_os("ATTNBENCH_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_attnbench")))
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs to the end, killed after `limit` (a FIFO read hangs forever).
fn run_within(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
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

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_within(args, env, Duration::from_secs(300))
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Exit 2 and one line on stderr containing every needle.
fn assert_refused(out: &Output, needles: &[&str]) {
    let lines = stderr_lines(out);
    assert_eq!(out.status.code(), Some(2), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{lines:?} lacks {needle:?}");
    }
}

fn header(name: &str) -> DeviceHeader {
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

/// A device folder with two measured points.
fn device_folder(dir: &Path, name: &str) -> DeviceFolder {
    let mut file = ResultsFile::new(header(name));
    let rows = [16u32, 32]
        .map(|n| {
            let mut row = ResultRow::new("prefill-d16", "flash", &Shape::new(n, 16));
            row.status = Status::Ok;
            row.median_ms = Some(f64::from(n));
            row.gflops = Some(1.0);
            row
        })
        .to_vec();
    file.merge(header(name), rows);
    let folder = DeviceFolder::at(dir);
    folder.save(&file).unwrap();
    folder
}

/// The folder this machine's adapter writes into under `root`.
fn this_device_folder(root: &Path) -> DeviceFolder {
    DeviceFolder::for_device(root, &DeviceHeader::for_gpu(common::gpu()))
}

const TINY_SWEEP: &[(&str, &str)] = &[
    ("ATTNBENCH_SEQ_LENS", "16,32"),
    ("ATTNBENCH_HEAD_DIMS", "16"),
    ("ATTNBENCH_HEAD_DIM_SWEEP", "none"),
    ("ATTNBENCH_CAUSAL", "false"),
    ("ATTNBENCH_WINDOW", "none"),
    ("ATTNBENCH_TRAINING", "none"),
    ("ATTNBENCH_KERNELS", "naive"),
    ("ATTNBENCH_TIME_BUDGET", "5"),
];

fn measured(folder: &DeviceFolder) -> usize {
    folder
        .load_existing()
        .unwrap()
        .rows
        .iter()
        .filter(|r| r.is_ok())
        .count()
}

/// `compare --out` into a folder of the user's files, and `plot` over a device folder
/// holding the user's pictures: nothing of theirs is deleted (before: both deleted every
/// `*.png` and `*.svg` they did not draw).
#[test]
fn only_charts_attnbench_drew_are_deleted() {
    let root = tempfile::tempdir().unwrap();
    let a = device_folder(&root.path().join("a"), "GPU A");
    let b = device_folder(&root.path().join("b"), "GPU B");
    let pics = root.path().join("pics");
    std::fs::create_dir(&pics).unwrap();
    for name in ["holiday.png", "logo.svg"] {
        std::fs::write(pics.join(name), b"mine").unwrap();
    }
    let (a_dir, b_dir) = (a.dir.to_str().unwrap(), b.dir.to_str().unwrap());
    let out = run(
        &["compare", a_dir, b_dir, "--out", pics.to_str().unwrap()],
        &[],
    );
    assert_refused(&out, &["pics", "did not write"]);
    for name in ["holiday.png", "logo.svg"] {
        assert_eq!(std::fs::read(pics.join(name)).unwrap(), b"mine", "{name}");
    }
    // A device folder: charts are redrawn, the user's files stay.
    for name in ["photo.png", "time-my-notes.png"] {
        std::fs::write(a.dir.join(name), b"mine").unwrap();
    }
    let out = run(&["plot", a_dir], &[]);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert!(a.dir.join("time-prefill-d16.png").is_file());
    for name in ["photo.png", "time-my-notes.png"] {
        assert_eq!(std::fs::read(a.dir.join(name)).unwrap(), b"mine", "{name}");
    }
    // A fresh --out is made and filled.
    let fresh = root.path().join("fresh");
    let out = run(
        &["compare", a_dir, b_dir, "--out", fresh.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert!(fresh.join("compare.md").is_file());
}

/// A re-run whose sweep budget runs out at once skips every point: the measured points
/// stay (before: 2 measured rows became 2 rows "skipped: time budget of the whole sweep").
#[test]
fn a_short_rerun_never_replaces_measurements_with_skips() {
    let root = tempfile::tempdir().unwrap();
    let root_str = root.path().to_str().unwrap();
    let env = [TINY_SWEEP, &[("ATTNBENCH_RESULTS_DIR", root_str)]].concat();
    let out = run(&["sweep", "--samples", "1"], &env);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let folder = this_device_folder(root.path());
    assert_eq!(measured(&folder), 2);
    let short = [env.as_slice(), &[("ATTNBENCH_SWEEP_BUDGET", "0.001")]].concat();
    let out = run(&["sweep", "--samples", "1"], &short);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert_eq!(
        measured(&folder),
        2,
        "{:?}",
        folder.load_existing().unwrap().rows
    );
}

/// A held lock: `--no-wait` fails at once naming the holder (this test's pid); without it
/// the run says who holds it, waits, and finishes once it is released (before: it waited
/// without a word, and `--no-wait` did not exist).
#[test]
fn a_held_lock_names_its_holder() {
    let root = tempfile::tempdir().unwrap();
    let folder = device_folder(&root.path().join("dev"), "GPU A");
    let dir = folder.dir.to_str().unwrap();
    let lock = FolderLock::acquire(&folder.dir).unwrap();
    let holder = format!("pid {}", std::process::id());
    let out = run(&["--no-wait", "plot", dir], &[]);
    assert_refused(&out, &[".attnbench.lock", &holder]);
    let mut child = command(&["plot", dir], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    let waiting = wait_for(&mut child, &lines, "waiting", Duration::from_secs(60));
    assert!(waiting.contains(&holder), "{waiting}");
    drop(lock);
    assert!(child.wait().unwrap().success());
}

/// stderr's lines, as they come.
fn lines_of(stderr: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
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
fn wait_for(
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

/// Ctrl-C after the points were measured, while the sweep waits for the folder's lock to
/// save them: it saves them once the lock is free and exits 130 (before: SIGINT killed it
/// and every point was lost). The held lock makes the moment certain, whatever the speed.
#[cfg(unix)]
#[test]
fn ctrl_c_keeps_what_was_measured() {
    let root = tempfile::tempdir().unwrap();
    let root_str = root.path().to_str().unwrap();
    let folder = this_device_folder(root.path());
    let lock = FolderLock::acquire(&folder.dir).unwrap();
    let env = [TINY_SWEEP, &[("ATTNBENCH_RESULTS_DIR", root_str)]].concat();
    let mut child = command(&["sweep", "--samples", "1"], &env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    wait_for(&mut child, &lines, "waiting", Duration::from_secs(240));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_for(&mut child, &lines, "interrupted", Duration::from_secs(60));
    drop(lock);
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.iter().collect();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("2 measured points saved")),
        "{rest:?}"
    );
    assert_eq!(measured(&folder), 2);
}

fn write_inputs(dir: &Path, poison: Option<(usize, f32)>) {
    let mut inputs = attnbench::tensors::AttentionInputs::random(Shape::new(8, 4), 1).unwrap();
    if let Some((i, x)) = poison {
        inputs.q[i] = x;
    }
    inputs.save_npy_dir(dir).unwrap();
}

/// A FIFO, a symlink to /dev/zero and a sparse tail past the header's shape are refused
/// before their data is read (before: the FIFO hung forever, /dev/zero read gigabytes).
#[cfg(unix)]
#[test]
fn npy_reads_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), None);
    let q = dir.path().join("q.npy");
    let args = [
        "run",
        "--kernel",
        "naive",
        "--load-tensors",
        dir.path().to_str().unwrap(),
    ];
    std::fs::remove_file(&q).unwrap();
    assert!(Command::new("mkfifo").arg(&q).status().unwrap().success());
    let out = run_within(&args, &[], Duration::from_secs(120));
    assert_refused(&out, &["q.npy", "not a regular file"]);
    std::fs::remove_file(&q).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &q).unwrap();
    let out = run_within(&args, &[], Duration::from_secs(120));
    assert_refused(&out, &["q.npy", "not a regular file"]);
    std::fs::remove_file(&q).unwrap();
    write_inputs(dir.path(), None);
    let file = std::fs::OpenOptions::new().write(true).open(&q).unwrap();
    file.set_len(4 << 30).unwrap();
    let out = run_within(&args, &[], Duration::from_secs(120));
    assert_refused(&out, &["q.npy", "trailing"]);
}

/// NaN in q.npy: refused with the file and the first index (before: exit 0 and NaN rows in
/// o.npy); `--allow-non-finite` runs it anyway.
#[test]
fn non_finite_inputs_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), Some((5, f32::NAN)));
    let args = [
        "run",
        "--kernel",
        "naive",
        "--samples",
        "1",
        "--load-tensors",
        dir.path().to_str().unwrap(),
    ];
    assert_refused(&run(&args, &[]), &["q.npy", "element 5", "NaN"]);
    let allowed = [args.as_slice(), &["--allow-non-finite"]].concat();
    let out = run(&allowed, &[]);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
}

/// With `attnbench-xdg-runtime-<uid>` a symlink to someone's folder and XDG_RUNTIME_DIR
/// unset, that folder keeps its mode (before: chmod 0700 through the symlink).
#[cfg(unix)]
#[test]
fn the_runtime_folder_is_never_followed() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let link = tmp.path().join(format!("attnbench-xdg-runtime-{uid}"));
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = command(&["devices"], &[("TMPDIR", tmp.path().to_str().unwrap())])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
}

/// Destinations and arguments are checked before the work (before: each of these measured,
/// tuned or printed first, then failed).
#[test]
fn late_errors_come_first() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let out = run(
        &[
            "run",
            "--kernel",
            "naive",
            "--seq-len",
            "16",
            "--head-dim",
            "16",
            "--save-tensors",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_refused(&out, &["file", "not a folder"]);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(&["tune", "--head-dims", "32,300", "--dry-run"], &[]);
    assert_refused(&out, &["300"]);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Results under a file: capacity refuses before it prints its table.
    let out = run(
        &["capacity", "--head-dim", "256"],
        &[("ATTNBENCH_RESULTS_DIR", file.to_str().unwrap())],
    );
    assert_refused(&out, &["file"]);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Another device's capacity.json is never overwritten, and a what-if memory budget never
/// replaces the device's own (before: both were overwritten).
#[test]
fn capacity_files_are_the_devices_own() {
    let root = tempfile::tempdir().unwrap();
    let root_str = root.path().to_str().unwrap();
    let folder = this_device_folder(root.path());
    std::fs::create_dir_all(&folder.dir).unwrap();
    let path = folder.dir.join("capacity.json");
    let foreign = serde_json::json!({ "device": header("Some Other GPU"), "kernels": [] });
    std::fs::write(&path, foreign.to_string()).unwrap();
    let env = [("ATTNBENCH_RESULTS_DIR", root_str)];
    let out = run(&["capacity", "--head-dim", "16"], &env);
    assert_refused(&out, &["capacity.json", "Some Other GPU"]);
    std::fs::remove_file(&path).unwrap();
    let out = run(&["capacity", "--head-dim", "16"], &env);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let saved = std::fs::read(&path).unwrap();
    let out = run(
        &["--memory-budget", "1M", "capacity", "--head-dim", "16"],
        &env,
    );
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert_eq!(std::fs::read(&path).unwrap(), saved);
}

/// A tuned choice that does not fit the memory budget gives way to the default, and a
/// command about another kernel does not even look at it (before: `verify --kernel naive`
/// exited 2 on flash's choice).
#[test]
fn tuned_choices_past_the_budget_fall_back() {
    let root = tempfile::tempdir().unwrap();
    let folder = this_device_folder(root.path());
    let lock = folder.lock().unwrap();
    let choice = attnbench::tuning::TunedChoice {
        kernel: "flash".into(),
        dtype: attnbench::kernels::Precision::F32,
        head_dim: 32,
        config: "texels,32,4".into(),
        median_ms: 1.0,
        gflops: 1.0,
        untuned_config: "texels,32,4".into(),
        untuned_ms: None,
        shape: "1×4×2048×32".into(),
        trials: Vec::new(),
    };
    let device = DeviceHeader::for_gpu(common::gpu());
    attnbench::tuning::TuningFile::merge_and_save(&folder.dir, &lock, device, vec![choice])
        .unwrap();
    drop(lock);
    let env = [("ATTNBENCH_RESULTS_DIR", root.path().to_str().unwrap())];
    for kernel in ["naive", "flash"] {
        let out = run(
            &[
                "--memory-budget",
                "100K",
                "verify",
                "--kernel",
                kernel,
                "--seq-len",
                "64",
                "--head-dim",
                "32",
            ],
            &env,
        );
        assert!(out.status.success(), "{kernel}: {:?}", stderr_lines(&out));
    }
}

/// A verify whose every check was skipped exits 2, as `run` does for the same input
/// (before: "0 passed, 0 failed, 1 skipped" and exit 0).
#[test]
fn a_verify_that_verified_nothing_fails() {
    let out = run(
        &[
            "--memory-budget",
            "1K",
            "verify",
            "--kernel",
            "naive",
            "--seq-len",
            "64",
            "--head-dim",
            "16",
        ],
        &[],
    );
    // A skip is not a pass: a verify that checked nothing fails (exit 1, as a failed check).
    assert_eq!(out.status.code(), Some(1), "{:?}", stderr_lines(&out));
    assert!(
        stderr_lines(&out)
            .last()
            .is_some_and(|l| l.contains("nothing was verified")),
        "{:?}",
        stderr_lines(&out)
    );
}

/// Arguments, environment, and what the one line of the refusal must contain.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);

/// Each message the round found confusing: one line, exit 2, naming what is wrong.
#[test]
fn messages_name_what_is_wrong() {
    let cases: &[Case] = &[
        (
            &["capacity", "--seq-len", "64"],
            &[],
            &["--seq-len: \"64\""],
        ),
        (
            &["sweep"],
            &[
                ("ATTNBENCH_MIN_SEQ_LEN", "4096"),
                ("ATTNBENCH_MAX_SEQ_LEN", "1024"),
            ],
            &["ATTNBENCH_MIN_SEQ_LEN", "1024"],
        ),
        (
            &["run", "--kernel", "naive", "--window", "0"],
            &[],
            &["--window", "1.."],
        ),
        (&["devices", "--adapter", "nosuch"], &[], &["nosuch"]),
        (
            &["run", "--kernel", "naive", "--time-budget", "1e300"],
            &[],
            &["\"1e300\""],
        ),
        (
            &["suite", "--time-budget", "1"],
            &[],
            &["--time-budget", "60"],
        ),
        (
            &["devices"],
            &[("ATTNBENCH_FLASH_BWD_ROWS", "8,4,32,TEXELS")],
            &["ATTNBENCH_FLASH_BWD_ROWS", "TEXELS"],
        ),
        (
            &["devices"],
            &[("ATTNBENCH_FLASH_BWD_ROWS", "1000000,4,32")],
            &["ATTNBENCH_FLASH_BWD_ROWS"],
        ),
        (
            &[
                "run",
                "--kernel",
                "naive",
                "--seq-len",
                "16",
                "--head-dim",
                "16",
                "--heads",
                "4",
                "--kv-heads",
                "3",
            ],
            &[],
            &["3"],
        ),
    ];
    for (args, env, needles) in cases {
        let out = run_within(args, env, Duration::from_secs(120));
        let lines = stderr_lines(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?} {env:?}: {lines:?}");
        for needle in *needles {
            assert!(
                lines[0].contains(needle),
                "{args:?}: {lines:?} lacks {needle:?}"
            );
        }
    }
    // A results file of a newer schema names both.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("results.json"),
        r#"{"schema": "attnbench-results/3"}"#,
    )
    .unwrap();
    let out = run(&["plot", dir.path().to_str().unwrap()], &[]);
    assert_refused(
        &out,
        &[
            "attnbench-results/3",
            "attnbench-results/2",
            "attnbench-results/1",
            "this attnbench reads",
        ],
    );
}

/// One device's results from two folders: the comparison's columns are told apart.
#[test]
fn two_folders_of_one_device_get_distinct_labels() {
    let root = tempfile::tempdir().unwrap();
    let a = device_folder(&root.path().join("a"), "GPU A");
    let b = device_folder(&root.path().join("b"), "GPU A");
    let files = [a.load_existing().unwrap(), b.load_existing().unwrap()];
    let labels = attnbench::report::short_device_labels(&[&files[0], &files[1]]);
    assert_ne!(labels[0], labels[1], "{labels:?}");
}
