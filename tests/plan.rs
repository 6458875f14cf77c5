//! `attnbench plan`: every kernel's plan on a GPU that is not here, from its profile alone.

use std::process::Command;

fn plan(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_attnbench"))
        .arg("plan")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// On an H100's profile: decode splits 1×1×262 144×64 into 256 chunks of 64 key lanes
/// with 4 lanes a key (its roofline 3350 GB/s, 40 µs), flash runs 2-lane tiles within the
/// register target, and the tile backward 8 lanes; the table has a column for the measured
/// figure. No adapter is opened.
#[test]
fn an_h100_profile_plans_every_modelled_kernel_without_a_device() {
    let (code, out, err) = plan(&["--adapter-limits", "h100"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Plans on NVIDIA H100"), "{out}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {out}"))
            .to_string()
    };
    let decode = line("| target: decode bandwidth | decode |");
    assert!(decode.contains("split 256×64, rows 1, lanes 4"), "{decode}");
    assert!(decode.contains("40.1 µs (memory): 3350 GB/s"), "{decode}");
    let flash = line("| prefill-d64 | flash | B1 H1 n65536 d64 |");
    assert!(
        flash.contains("tiles,64,1,32,2") && flash.contains("| 93 |"),
        "{flash}"
    );
    assert!(line("| train-d64 | flash |").contains("bwd tiles,1,1,64,8,32"));
    assert!(out.lines().nth(2).unwrap().ends_with("| measured |"));
}

#[test]
fn an_unknown_profile_is_an_input_error() {
    let (code, _, err) = plan(&["--adapter-limits", "h200"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("h100"), "{err}");
}

/// `--plan-as gpu` and `ATTNBENCH_PLAN_AS=gpu` are one setting: this adapter planned as a
/// GPU (named so) gets decode's GPU split (workgroups of 256, lanes within the register
/// target) and flash's tiles; any other value than device or gpu is refused, one line,
/// exit 2, naming the setting.
#[test]
fn plan_as_gpu_is_a_setting_of_flag_and_variable() {
    let args = [
        "--kernel",
        "decode",
        "--seq-len",
        "4096",
        "--head-dim",
        "64",
    ];
    let by_flag = plan(&[&args[..], &["--plan-as", "gpu"]].concat());
    let by_env = Command::new(env!("CARGO_BIN_EXE_attnbench"))
        .arg("plan")
        .args(args)
        .env("ATTNBENCH_PLAN_AS", "gpu")
        .output()
        .unwrap();
    assert_eq!(by_flag.0, Some(0), "{}", by_flag.2);
    assert_eq!(by_flag.1, String::from_utf8_lossy(&by_env.stdout));
    let out = by_flag.1;
    assert!(out.contains("planned as a GPU"), "{out}");
    let partial = out
        .lines()
        .find(|l| l.contains("| partial |"))
        .unwrap_or_else(|| panic!("no partial dispatch: {out}"));
    assert!(
        partial.contains("| 256 |") && partial.contains("lanes"),
        "{partial}"
    );
    let (code, _, err) = plan(&[&args[..], &["--plan-as", "cpu"]].concat());
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("ATTNBENCH_PLAN_AS"), "{err}");
}
