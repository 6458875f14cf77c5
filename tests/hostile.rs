//! The second hostile-input round, inputs and messages: reads and plans are bounded, bad
//! inputs and destinations are refused before the work, with one line and exit 2. Each of
//! these failed before its fix (`ATTNBENCH_TEST_BIN` runs them against another build of
//! the binary).

mod common;

use attnbench::Shape;
use common::cli::{assert_refused, command, run, run_within, stderr_lines};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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

/// Class 8: a budget that skips every check of a pass, or of a head dim, while others pass
/// is a verification that failed (before: "26 passed, 0 failed, 22 skipped", exit 0, with
/// every fwd-bwd and every d = 128 check skipped). Each such (kernel, pass, head dim) is
/// named.
#[test]
fn a_verify_that_skipped_a_whole_pass_fails() {
    let out = run(
        &[
            "--memory-budget",
            "60K",
            "verify",
            "--kernel",
            "naive",
            "--seed",
            "1",
        ],
        &[],
    );
    let lines = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(1), "{lines:?}");
    let last = lines.last().cloned().unwrap_or_default();
    for group in [
        "naive fwd d=128",
        "naive fwd-bwd d=19",
        "a skip is not a pass",
    ] {
        assert!(last.contains(group), "{last} lacks {group:?}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(" ok"),
        "other checks ran and passed: {stdout}"
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
        r#"{"schema": "attnbench-results/4"}"#,
    )
    .unwrap();
    let out = run(&["plot", dir.path().to_str().unwrap()], &[]);
    assert_refused(
        &out,
        &[
            "attnbench-results/4",
            "attnbench-results/3",
            "attnbench-results/2",
            "attnbench-results/1",
            "this attnbench reads",
        ],
    );
}
