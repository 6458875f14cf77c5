//! The second hostile-input round, folders: nothing of the user's is deleted or followed,
//! no measurement is lost to a skip, a signal or a held lock, and no other device's files
//! are used. Each of these failed before its fix (`ATTNBENCH_TEST_BIN` runs them against
//! another build of the binary).

mod common;

use attnbench::files::FolderLock;
use attnbench::results::DeviceHeader;
use common::cli::{
    TINY_SWEEP, assert_refused, command, device_folder, header, lines_of, measured_rows, run,
    stderr_lines, this_device_folder, wait_for,
};
use std::process::{Command, Stdio};
use std::time::Duration;

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
    assert_eq!(measured_rows(&folder), 2);
    let short = [env.as_slice(), &[("ATTNBENCH_SWEEP_BUDGET", "0.001")]].concat();
    let out = run(&["sweep", "--samples", "1"], &short);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert_eq!(
        measured_rows(&folder),
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
    assert_eq!(measured_rows(&folder), 2);
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
        config: attnbench::kernels::flash::FlashConfig::parse("texels,32,4").unwrap(),
        median_ms: 1.0,
        gflops: 1.0,
        untuned_config: attnbench::kernels::flash::FlashConfig::parse("texels,32,4").unwrap(),
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
