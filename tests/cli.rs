//! The `attnbench` binary: exit codes, one-line errors, JSON output, tensor files.

use std::process::{Command, Output};

fn attnbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attnbench"))
        .args(args)
        .output()
        .expect("run attnbench")
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn assert_input_error(args: &[&str], needle: &str) {
    let out = attnbench(args);
    let lines = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {lines:?}");
    assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
    assert!(lines[0].contains(needle), "{args:?}: {lines:?}");
}

#[test]
fn garbage_arguments_give_one_line_and_exit_2() {
    let run = ["run", "--kernel", "flash", "--head-dim", "64", "--seq-len"];
    assert_input_error(&[&run[..], &["0"]].concat(), "seq_len");
    assert_input_error(&[&run[..], &["abc"]].concat(), "abc");
    assert_input_error(
        &[
            "run",
            "--kernel",
            "flash",
            "--seq-len",
            "8",
            "--head-dim",
            "100000",
        ],
        "head_dim",
    );
    assert_input_error(
        &[
            "run",
            "--kernel",
            "nope",
            "--seq-len",
            "8",
            "--head-dim",
            "8",
        ],
        "unknown kernel",
    );
    assert_input_error(
        &[
            "--adapter",
            "no-such-gpu-xyz",
            "run",
            "--kernel",
            "flash",
            "--seq-len",
            "8",
            "--head-dim",
            "8",
        ],
        "no-such-gpu-xyz",
    );
    assert_input_error(&["--backend", "floppy", "devices"], "backend");
}

#[test]
fn oversized_naive_is_refused_with_the_bytes() {
    let out = attnbench(&[
        "run",
        "--kernel",
        "naive",
        "--seq-len",
        "100000",
        "--head-dim",
        "64",
    ]);
    let lines = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(2), "{lines:?}");
    assert!(
        lines[0].contains("needs") && lines[0].contains("device allows"),
        "{lines:?}"
    );
}

#[test]
fn run_json_reports_the_fields_and_tensors_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("t");
    let save_str = save.to_str().unwrap();
    let base = ["run", "--samples", "3", "--warmup", "1", "--json"];
    let out = attnbench(
        &[
            &base[..],
            &[
                "--kernel",
                "flash",
                "--seq-len",
                "40",
                "--head-dim",
                "16",
                "--heads",
                "2",
                "--causal",
                "--save-tensors",
                save_str,
            ],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "kernel",
        "batch",
        "heads",
        "seq_len",
        "head_dim",
        "causal",
        "median_ms",
        "gflops",
        "peak_buffer_bytes",
        "timing",
        "runs_per_sample",
    ] {
        assert!(record.get(field).is_some(), "missing {field}: {record}");
    }
    // A sample batches enough runs back to back to last a millisecond.
    assert!(record["runs_per_sample"].as_u64().unwrap() >= 1);
    assert_eq!(record["heads"], 2);
    assert_eq!(record["causal"], true);
    assert!(record["median_ms"].as_f64().unwrap() > 0.0);
    // flash names no phases; naive does (below).
    assert!(record["phases"].is_null(), "{record}");

    // The saved output matches the reference on the saved inputs.
    let inputs = attnbench::tensors::AttentionInputs::load_npy_dir(&save, true, None).unwrap();
    let (_, o) = attnbench::tensors::read_npy(&save.join("o.npy")).unwrap();
    let reference =
        attnbench::reference::attention_f64(&inputs.shape, &inputs.q, &inputs.k, &inputs.v);
    assert!(attnbench::reference::Comparison::new(&o, &reference).passes(1e-4));

    // And the files run again through --load-tensors.
    let out = attnbench(
        &[
            &base[..],
            &["--kernel", "naive", "--causal", "--load-tensors", save_str],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["seq_len"], 40);
    // naive's time split by phase, each timed in its own pass: the matrix products with
    // their GFLOP/s, the softmax without.
    let phases = record["phases"]["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().filter_map(|p| p["phase"].as_str()).collect();
    for name in ["QKᵀ", "softmax", "P·V"] {
        assert!(names.contains(&name), "{record}");
    }
    for p in phases {
        assert!(p["median_ms"].as_f64().unwrap() > 0.0, "{p}");
        assert_eq!(
            p["gflops"].is_null(),
            p["phase"] != "QKᵀ" && p["phase"] != "P·V"
        );
    }

    // A truncated file is a one-line error naming it.
    let q = save.join("q.npy");
    let bytes = std::fs::read(&q).unwrap();
    std::fs::write(&q, &bytes[..bytes.len() / 2]).unwrap();
    assert_input_error(
        &["run", "--kernel", "flash", "--load-tensors", save_str],
        "q.npy",
    );
    std::fs::remove_file(&q).unwrap();
    assert_input_error(
        &["run", "--kernel", "flash", "--load-tensors", save_str],
        "q.npy",
    );
}

/// `tune --dry-run` lists the candidates and checks or times none of them (it used to run
/// every timed trial): no median, no choice, no tuning.json.
#[test]
fn tune_dry_run_lists_candidates_and_runs_none() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_attnbench"))
        .args(["tune", "--head-dims", "64", "--f32-only", "--dry-run"])
        .env("ATTNBENCH_RESULTS_DIR", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("dry run: none checked or timed"), "{text}");
    assert!(
        text.lines().filter(|l| l.starts_with("  ")).count() >= 2,
        "{text}"
    );
    assert!(!text.contains(" ms") && !text.contains('→'), "{text}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn devices_lists_the_adapter() {
    let out = attnbench(&["devices", "--json"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!list.as_array().unwrap().is_empty());
    assert!(list[0].get("max_storage_buffer_binding_size").is_some());
}

#[test]
fn shader_prints_the_wgsl_and_ladder_prints_the_rungs() {
    let out = attnbench(&["shader", "flash", "--head-dim", "64"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("@compute") && text.contains("fn main"),
        "{text}"
    );
    let out = attnbench(&["shader", "naive", "--config", "tiles,64,8,32"]);
    assert_eq!(out.status.code(), Some(2));

    let out = attnbench(&[
        "ladder",
        "--seq-len",
        "128",
        "--head-dim",
        "16",
        "--heads",
        "1",
        "--samples",
        "1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rungs = text
        .lines()
        .filter(|l| l.starts_with("| v") || l.starts_with("| default"))
        .count();
    assert!(rungs >= 4, "{text}");
    assert!(text.contains("not runnable (commit"), "{text}");
    // The first rungs, textbook naive then GEMM-grade naive, checked against the f64
    // reference before they are timed.
    for rung in ["| naive-textbook |", "| naive |"] {
        let line = text.lines().find(|l| l.starts_with(rung));
        assert!(line.is_some_and(|l| l.contains("| ok (")), "{rung}: {text}");
    }
}

/// The copied-binary flow: `suite` from an empty folder (no source tree, no results), within
/// its budget, writes every file of the device folder; the PyTorch peer is measured or
/// skipped with the reason.
#[test]
fn suite_runs_from_an_empty_folder_within_its_budget() {
    let cwd = tempfile::tempdir().unwrap();
    let out = cwd.path().join("out");
    let start = std::time::Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_attnbench"))
        .current_dir(cwd.path())
        .env_remove("ATTNBENCH_RESULTS_DIR")
        .args([
            "suite",
            "--time-budget",
            "60",
            "--kernel",
            "flash",
            "--out",
            "out",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // Verification is never cut short, so allow it beyond the budget on slow test builds.
    assert!(start.elapsed().as_secs() < 240, "{stderr}");
    let device = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for file in [
        "device.json",
        "probe.json",
        "results.json",
        "results.csv",
        "targets.json",
        "targets.md",
        "suite.json",
        "suite.md",
        "README.md",
    ] {
        assert!(device.join(file).is_file(), "{file} missing: {stderr}");
    }
    let targets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(device.join("targets.json")).unwrap())
            .unwrap();
    let peers = targets["peers"].as_array().unwrap();
    assert!(!peers.is_empty());
    for p in peers {
        assert!(
            p["skipped"].is_string() || !p["runs"].as_array().unwrap().is_empty(),
            "{p}"
        );
    }
    let readme = std::fs::read_to_string(device.join("README.md")).unwrap();
    assert!(
        readme.contains("## Suite run") && readme.contains("| verify |"),
        "{readme}"
    );
}

/// `--pass bwd` saves dO and the gradients; reloading the folder (with its do.npy) gives
/// the same gradients, which match the f64 reference; a bad pass is a one-line error.
#[test]
fn backward_runs_save_and_reload_their_gradients() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("t");
    let save_str = save.to_str().unwrap();
    let base = [
        "run",
        "--samples",
        "1",
        "--warmup",
        "0",
        "--json",
        "--pass",
        "bwd",
        "--causal",
    ];
    let first = [
        "--kernel",
        "naive",
        "--seq-len",
        "37",
        "--head-dim",
        "8",
        "--heads",
        "2",
        "--seed",
        "4",
        "--save-tensors",
        save_str,
    ];
    let out = attnbench(&[&base[..], &first[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["pass"], "bwd");
    assert!(record["flop_model"].as_str().unwrap().starts_with("2.5 × "));
    for name in ["q", "k", "v", "o", "do", "dq", "dk", "dv"] {
        assert!(save.join(format!("{name}.npy")).exists(), "{name}.npy");
    }
    let inputs = attnbench::tensors::AttentionInputs::load_npy_dir(&save, true, None).unwrap();
    let (dq, dk, dv) = attnbench::reference::attention_backward_f64(
        &inputs.shape,
        &inputs.q,
        &inputs.k,
        &inputs.v,
        inputs.d_o.as_deref().expect("do.npy"),
    );
    let read = |name: &str| attnbench::tensors::read_npy(&save.join(name)).unwrap().1;
    for (file, reference) in [("dq.npy", &dq), ("dk.npy", &dk), ("dv.npy", &dv)] {
        let c = attnbench::reference::Comparison::new(&read(file), reference);
        assert!(c.passes(2e-4), "{file}: {c:?}");
    }
    // Reloaded with another kernel and another seed: do.npy wins over the seed.
    let again = dir.path().join("again");
    let second = [
        "--kernel",
        "chunked",
        "--seed",
        "99",
        "--load-tensors",
        save_str,
        "--save-tensors",
        again.to_str().unwrap(),
    ];
    let out = attnbench(&[&base[..], &second[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read("do.npy"),
        attnbench::tensors::read_npy(&again.join("do.npy"))
            .unwrap()
            .1
    );
    let c = attnbench::reference::Comparison::new(
        &attnbench::tensors::read_npy(&again.join("dk.npy"))
            .unwrap()
            .1,
        &dk,
    );
    assert!(c.passes(2e-4), "{c:?}");

    assert_input_error(
        &[
            "run",
            "--kernel",
            "flash",
            "--seq-len",
            "8",
            "--head-dim",
            "8",
            "--pass",
            "sideways",
        ],
        "unknown pass",
    );
    assert_input_error(
        &[
            "run",
            "--kernel",
            "decode",
            "--seq-len",
            "8",
            "--head-dim",
            "8",
            "--pass",
            "bwd",
        ],
        "no backward",
    );
}
