//! `.ci/gpu-suite`, the one shot on a lent GPU, keeps to its TOTAL in the worst case and
//! never loses its archive: run here with a fake `attnbench` (`ATTNBENCH_BIN`) and small
//! `GPU_SUITE_*` times, the same arithmetic as the real call at a tenth of the scale.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A fake `attnbench`: the smoke commands succeed (`verify` after `FAKE_VERIFY_S`
/// seconds); `suite` logs a step a second the way the real one does, writes a file per
/// step into its `--out`, and ignores SIGINT (the worst case) unless `FAKE_SUITE_STOPS`.
const FAKE: &str = r#"#!/usr/bin/env bash
case "$1" in
    --version) echo "attnbench (fake)";;
    devices) echo "fake adapter";;
    run) echo "flash: median 1.0 ms";;
    verify) sleep "${FAKE_VERIFY_S:-0}"; echo "48 passed, 0 failed";;
    suite)
        out=""
        while [ $# -gt 0 ]; do
            [ "$1" = "--out" ] && out=$2
            shift
        done
        if [ -n "${FAKE_SUITE_STOPS:-}" ]; then
            trap 'echo "interrupted"; exit 130' INT
        else
            trap '' INT
        fi
        [ -n "${FAKE_PID_FILE:-}" ] && echo $$ > "$FAKE_PID_FILE"
        mkdir -p "$out/fake-device"
        i=0
        while true; do
            i=$((i + 1))
            echo "step $i" > "$out/fake-device/step$i.txt"
            echo "  step: number $i done (1.0 s)" >&2
            sleep 1
        done;;
esac
"#;

struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let dir =
            std::env::temp_dir().join(format!("attnbench-gpu-suite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let fake = dir.join("attnbench");
        std::fs::write(&fake, FAKE).unwrap();
        let status = Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
        assert!(status.success());
        Sandbox { dir }
    }

    /// The script at `total` seconds with the smoke step's allowance 6 s, SIGINT 8 s
    /// before the end and KILL 3 s after it.
    fn command(&self, total: u32) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/gpu-suite"))
            .arg(total.to_string())
            .current_dir(&self.dir)
            .env("ATTNBENCH_BIN", self.dir.join("attnbench"))
            .env("OUT", self.dir.join("out"))
            .env("GPU_SUITE_SMOKE_S", "6")
            .env("GPU_SUITE_STOP_BEFORE_S", "8")
            .env("GPU_SUITE_KILL_GRACE_S", "3")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn archive(&self) -> PathBuf {
        self.dir.join("out/attnbench-gpu-run.tar.gz")
    }

    /// The archive's listing, and the text of one member.
    fn listing(&self) -> String {
        let out = Command::new("tar")
            .arg("-tzf")
            .arg(self.archive())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn member(&self, name: &str) -> String {
        let out = Command::new("tar")
            .arg("-xzOf")
            .arg(self.archive())
            .arg(name)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A smoke step that takes 5 of its 6 s and a suite that ignores SIGINT: the script ends
/// before TOTAL (24 s) all the same — SIGINT at 16 s, KILL at 19 s — with the archive
/// holding the suite's steps and the logs.
#[test]
fn the_worst_case_ends_before_total_with_the_archive() {
    let sandbox = Sandbox::new("worst");
    let started = Instant::now();
    let out = sandbox
        .command(24)
        .env("FAKE_VERIFY_S", "5")
        .output()
        .unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(took < Duration::from_secs(24), "took {took:?}: {stdout}");
    // The suite ran from about 5 s to its KILL at 19 s: at least 12 steps.
    assert!(took > Duration::from_secs(18), "took {took:?}: {stdout}");
    assert!(stdout.contains("smoke passed"), "{stdout}");
    let listing = sandbox.listing();
    for member in [
        "results/suite.log",
        "results/gpu-suite.log",
        "results/smoke.log",
    ] {
        assert!(listing.contains(member), "{member} not in {listing}");
    }
    assert!(
        listing.contains("results/fake-device/step12.txt"),
        "{listing}"
    );
    let suite_log = sandbox.member("results/suite.log");
    assert!(suite_log.contains("number 12 done"), "{suite_log}");
    // Killed, not stopped: timeout's KILL status.
    let log = sandbox.member("results/gpu-suite.log");
    assert!(log.contains("suite exited 137"), "{log}");
    assert!(
        !sandbox
            .dir
            .join("out/attnbench-gpu-run.tar.gz.part")
            .exists()
    );
}

/// A suite that stops at SIGINT ends the script at once, with its exit status.
#[test]
fn a_suite_that_stops_at_sigint_is_not_killed() {
    let sandbox = Sandbox::new("sigint");
    let started = Instant::now();
    let out = sandbox
        .command(20)
        .env("FAKE_SUITE_STOPS", "1")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(12) && took < Duration::from_secs(16),
        "took {took:?}"
    );
    let log = sandbox.member("results/gpu-suite.log");
    assert!(log.contains("suite exited 130"), "{log}: {out:?}");
    assert!(sandbox.member("results/suite.log").contains("interrupted"));
}

/// A kill from outside (the lent machine's own limit) skips every trap: the archive
/// refreshed after the suite's last logged step is there.
#[test]
fn an_outside_kill_finds_the_last_archive() {
    let sandbox = Sandbox::new("kill");
    let pid_file = sandbox.dir.join("suite.pid");
    let mut child = sandbox
        .command(60)
        .env("FAKE_PID_FILE", &pid_file)
        .process_group(0)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(7));
    // The script's process group, as a machine that goes away would; then the fake suite,
    // which `timeout` keeps in a group of its own.
    let kill = |target: String| {
        Command::new("kill")
            .args(["-KILL", "--", &target])
            .status()
            .unwrap()
    };
    assert!(kill(format!("-{}", child.id())).success());
    let _ = child.wait();
    if let Ok(pid) = std::fs::read_to_string(&pid_file) {
        kill(pid.trim().to_string());
    }
    let listing = sandbox.listing();
    assert!(listing.contains("results/suite.log"), "{listing}");
    let suite_log = sandbox.member("results/suite.log");
    assert!(suite_log.contains("number 3 done"), "{suite_log}");
}

/// The schedule of the real call: TOTAL 280 with the defaults ends by 255 s, inside
/// timeout_s = 300; a TOTAL that leaves the suite no time is refused.
#[test]
fn the_real_schedule_ends_inside_the_calls_limit() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/gpu-suite");
    let out = Command::new("bash")
        .arg(&script)
        .args(["--plan", "280"])
        .env_remove("GPU_SUITE_STOP_BEFORE_S")
        .env_remove("GPU_SUITE_KILL_GRACE_S")
        .env_remove("GPU_SUITE_SMOKE_S")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        "total 280 s: smoke by 60 s, suite SIGINT at 235 s, KILL at 250 s, last archive by 255 s"
    );
    let header = std::fs::read_to_string(&script).unwrap();
    assert!(header.contains(r#"run(command="bash .ci/gpu-suite 280""#));
    assert!(header.contains("timeout_s=300)"));
    let refused = Command::new("bash")
        .arg(&script)
        .arg("90")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
}
