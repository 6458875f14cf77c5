//! Bad input and faults, one test per class: every case exits 2 with one line (or gives a
//! correct result), nothing is lost, and no other device's data is applied.

mod common;

use common::cli::{run as attnbench_env, stderr_lines};

use attnbench::results::{DeviceFolder, DeviceHeader, Status};
use attnbench::tuning::{TunedChoice, TuningFile};
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

const TINY_SWEEP: &[(&str, &str)] = &[
    ("ATTNBENCH_SEQ_LENS", "16,32"),
    ("ATTNBENCH_HEAD_DIMS", "16"),
    ("ATTNBENCH_HEAD_DIM_SWEEP", "none"),
    ("ATTNBENCH_CAUSAL", "false"),
    ("ATTNBENCH_WINDOW", "none"),
    ("ATTNBENCH_TRAINING", "none"),
    ("ATTNBENCH_TIME_BUDGET", "5"),
];

#[test]
fn host_memory_is_checked_before_host_tensors_are_built() {
    let shape = attnbench::Shape::new(64, 64).with_batch_heads(1, 1_000_000);
    let needed = attnbench::host::verify_bytes(&shape, 64);
    let available = attnbench::host::available_bytes().unwrap_or(u64::MAX);
    let start = Instant::now();
    let out = attnbench_env(
        &[
            "verify",
            "--kernel",
            "flash",
            "--seq-len",
            "64",
            "--head-dim",
            "64",
            "--heads",
            "1000000",
        ],
        &[],
    );
    let lines = stderr_lines(&out);
    if needed > available {
        assert_eq!(out.status.code(), Some(2), "{lines:?}");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("host memory") && lines[0].contains(&needed.to_string()),
            "{lines:?}"
        );
    }
    assert!(start.elapsed() < Duration::from_secs(60), "refused early");
}

#[test]
fn concurrent_sweeps_into_one_folder_keep_every_row() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_str().unwrap();
    let spawn = |kernels: &str| {
        common::cli::command(&["sweep", "--samples", "2"], TINY_SWEEP)
            .env("ATTNBENCH_RESULTS_DIR", dir)
            .env("ATTNBENCH_KERNELS", kernels)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn("flash");
    std::thread::sleep(Duration::from_millis(200));
    let second = spawn("decode");
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let folder = DeviceFolder::for_device(root.path(), &device());
    let file = folder.load_existing().unwrap();
    let count = |kernel: &str| {
        file.rows
            .iter()
            .filter(|r| r.kernel == kernel && r.status == Status::Ok)
            .count()
    };
    assert_eq!(count("flash"), 2, "{:?}", file.rows);
    assert_eq!(count("decode"), 2, "{:?}", file.rows);
    let readme = std::fs::read_to_string(folder.dir.join("README.md")).unwrap();
    assert!(readme.contains("| flash |") && readme.contains("| decode |"));
}

#[test]
fn settings_that_would_panic_are_refused_at_parse_time() {
    let run = [
        "run",
        "--kernel",
        "flash",
        "--seq-len",
        "128",
        "--head-dim",
        "64",
    ];
    assert_refused(
        &run,
        &[("ATTNBENCH_FLASH_TILES", "tiles,0,0,0")],
        "ATTNBENCH_FLASH_TILES",
    );
    assert_refused(
        &[&run[..], &["--time-budget", "1e300"]].concat(),
        &[],
        "--time-budget",
    );
    for budget in ["1e300", "1e19", "-3", "NaN"] {
        assert_refused(
            &["sweep"],
            &[("ATTNBENCH_TIME_BUDGET", budget)],
            "ATTNBENCH_TIME_BUDGET",
        );
    }
}

#[test]
fn configurations_that_compute_wrong_results_are_refused_from_env_and_file() {
    let run = [
        "run",
        "--kernel",
        "flash",
        "--seq-len",
        "64",
        "--head-dim",
        "64",
    ];
    for bad in [
        "tiles,64,8,3",
        "broadcast,8,0",
        "tiles,64,8",
        "tiles,2000,1,32",
    ] {
        assert_refused(
            &run,
            &[("ATTNBENCH_FLASH_TILES", bad)],
            "ATTNBENCH_FLASH_TILES",
        );
    }
    let root = tempfile::tempdir().unwrap();
    let folder = DeviceFolder::for_device(root.path(), &device());
    let choice = TunedChoice {
        kernel: "flash".into(),
        dtype: attnbench::kernels::Precision::F32,
        head_dim: 64,
        config: attnbench::kernels::flash::FlashConfig::parse("tiles,64,8,32").unwrap(),
        median_ms: 1.0,
        gflops: 1.0,
        untuned_config: attnbench::kernels::flash::FlashConfig::parse("tiles,64,1,32").unwrap(),
        untuned_ms: None,
        shape: "1×1×64×64".into(),
        trials: Vec::new(),
    };
    let lock = folder.lock().unwrap();
    TuningFile::merge_and_save(&folder.dir, &lock, device(), vec![choice]).unwrap();
    drop(lock);
    // A configuration edited by hand into one that is none.
    let path = TuningFile::path(&folder.dir);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("tiles,64,8,32", "tiles,64,8,3")).unwrap();
    assert_refused(
        &run,
        &[("ATTNBENCH_RESULTS_DIR", root.path().to_str().unwrap())],
        "tuning.json",
    );
}

#[test]
fn invalid_settings_are_refused_not_ignored() {
    let root = tempfile::tempdir().unwrap();
    let root_str = root.path().to_str().unwrap();
    for (key, value) in [
        ("ATTNBENCH_HEAD_DIMS", "300"),
        ("ATTNBENCH_BATCH", "0"),
        ("ATTNBENCH_HEADS", "0"),
        ("ATTNBENCH_SEQ_LENS", "0,16"),
        ("ATTNBENCH_HEAD_DIM_SWEEP", "512"),
    ] {
        assert_refused(
            &["sweep"],
            &[(key, value), ("ATTNBENCH_RESULTS_DIR", root_str)],
            key,
        );
    }
    assert!(std::fs::read_dir(root.path()).unwrap().next().is_none());
    assert_refused(
        &["devices"],
        &[("WGPU_BACKEND", "vulkan,garbage")],
        "garbage",
    );
    let run = [
        "run",
        "--kernel",
        "flash",
        "--seq-len",
        "16",
        "--head-dim",
        "16",
    ];
    assert_refused(&[&run[..], &["--samples", "0"]].concat(), &[], "--samples");
    assert_refused(&["sweep", "--samples", "0"], &[], "--samples");

    // --batch/--heads are checked against loaded tensors.
    let tensors = root.path().join("t");
    let inputs =
        attnbench::tensors::AttentionInputs::random(attnbench::Shape::new(8, 4), 1).unwrap();
    inputs.save_npy_dir(&tensors).unwrap();
    let t = tensors.to_str().unwrap();
    assert_refused(
        &[
            "run",
            "--kernel",
            "flash",
            "--load-tensors",
            t,
            "--heads",
            "2",
        ],
        &[],
        "--heads",
    );
    assert_refused(
        &[
            "run",
            "--kernel",
            "flash",
            "--load-tensors",
            t,
            "--batch",
            "3",
        ],
        &[],
        "--batch",
    );

    // A huge warm-up count ends with the time budget.
    let start = Instant::now();
    let out = attnbench_env(
        &[
            &run[..],
            &[
                "--warmup",
                "4294967295",
                "--time-budget",
                "1",
                "--samples",
                "3",
            ],
        ]
        .concat(),
        &[],
    );
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn missing_arguments_are_named() {
    assert_refused(&["verify", "--seq-len", "3"], &[], "--head-dim");
    assert_refused(
        &["run", "--seq-len", "3", "--head-dim", "8"],
        &[],
        "--kernel",
    );
}

#[test]
fn verify_records_shapes_past_the_memory_budget_goes_on_and_fails_the_skipped_kernel() {
    let out = attnbench_env(
        &[
            "--memory-budget",
            "1M",
            "verify",
            "--seq-len",
            "1000",
            "--head-dim",
            "64",
            "--kernel",
            "naive",
            "--kernel",
            "flash",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // naive was asked for and nothing of it was verified: a skip is not a
    // pass, so the run fails, but only after flash was checked and the
    // skip recorded with its bytes.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout} {:?}",
        stderr_lines(&out)
    );
    assert!(
        stderr_lines(&out)
            .iter()
            .any(|l| l.contains("nothing was verified for naive")),
        "{:?}",
        stderr_lines(&out)
    );
    let line = |k: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{k} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("naive").contains("skipped") && line("naive").contains("needs"),
        "{stdout}"
    );
    assert!(line("flash").ends_with("ok"), "{stdout}");
}

#[test]
fn decode_prints_its_own_flop_model() {
    let out = attnbench_env(
        &[
            "run",
            "--kernel",
            "decode",
            "--seq-len",
            "64",
            "--head-dim",
            "16",
            "--samples",
            "3",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert!(
        stdout.contains("4·B·H·q·n·d") && !stdout.contains("n²"),
        "{stdout}"
    );
}
