//! The peer binary as attnbench runs it: its JSON row parses into attnbench's type, its
//! output is close to attnbench's f64 reference (checked here, from the o.npy it wrote, not
//! only from what it says), it ran on the adapter attnbench picks with the same settings,
//! it serves samples on request, the targets' comparison runs it end to end, and bad input
//! is refused with exit 2. Small shapes: each run compiles and autotunes Burn's kernels on
//! the adapter (lavapipe here: seconds).

use attnbench::Shape;
use attnbench::gpu::{backend_name, select_adapter};
use attnbench::reference::{Comparison, attention_f64};
use attnbench::settings::Settings;
use attnbench::targets::{BurnPeer, BurnRow, PeerMessage, TargetOptions, compare_with_burn};
use attnbench::tensors::{AttentionInputs, read_npy};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

const PEER: &str = env!("CARGO_BIN_EXE_attnbench-burn-peer");

fn run(args: &[&str]) -> Output {
    Command::new(PEER)
        .args(args)
        .output()
        .expect("the peer starts")
}

/// The adapter attnbench picks under this process's settings (the same variables the
/// peer reads): its name and backend.
fn attnbench_adapter() -> (String, String) {
    let settings = Settings::from_env().expect("settings");
    let info = select_adapter(&settings.adapter)
        .expect("an adapter")
        .get_info();
    (info.name, backend_name(info.backend))
}

/// A grouped-query, causal problem whose sizes are not multiples of the usual tiles.
fn shape() -> Shape {
    Shape::new(200, 40)
        .with_batch_heads(2, 4)
        .with_kv_heads(2)
        .with_causal(true)
}

#[test]
fn the_row_is_checked_against_the_reference_on_attnbenchs_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = AttentionInputs::random(shape(), 7).unwrap();
    inputs.save_npy_dir(dir.path()).unwrap();
    let folder = dir.path().to_str().unwrap();
    let out = run(&[
        "--load-tensors",
        folder,
        "--save-output",
        folder,
        "--causal",
        "--samples",
        "3",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row: BurnRow = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    // The row: attnbench's schema, the problem loaded, a time.
    let r = &row.row;
    assert_eq!(r.kernel, "burn");
    assert_eq!(r.family, "prefill-causal-d40");
    assert_eq!(r.shape(), shape());
    assert_eq!(r.samples, 3);
    assert_eq!(row.samples_ms.len(), 3);
    assert!(r.median_ms.is_some_and(|ms| ms > 0.0));
    let interval = r.interval().unwrap();
    assert!(interval.low <= r.median_ms.unwrap() && r.median_ms.unwrap() <= interval.high);
    assert_eq!(r.timing, Some(attnbench::gpu::TimingSource::WallClock));
    assert!(row.calls_per_sample >= 1);
    // Its own check, and ours on the output it wrote: every row of every head.
    assert!(row.verified, "{row:?}");
    let (dims, o) = read_npy(&dir.path().join("o.npy")).unwrap();
    assert_eq!(dims, [2, 4, 200, 40]);
    let reference = attention_f64(&shape(), &inputs.q, &inputs.k, &inputs.v);
    let ours = Comparison::new(&o, &reference);
    assert!(ours.passes(1e-4), "{ours:?}");
    // The adapter attnbench picks under the same settings.
    assert_eq!(
        (row.adapter.clone(), row.backend.clone()),
        attnbench_adapter()
    );
}

#[test]
fn it_serves_samples_on_request() {
    let mut child = Command::new(PEER)
        .args([
            "--seq-len",
            "128",
            "--head-dim",
            "32",
            "--heads",
            "2",
            "--serve",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next =
        || -> PeerMessage { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    let PeerMessage::Ready {
        adapter,
        calls_per_sample,
        ..
    } = next()
    else {
        panic!("not ready");
    };
    assert_eq!(adapter, attnbench_adapter().0);
    assert!(calls_per_sample >= 1);
    for _ in 0..2 {
        writeln!(stdin, "sample").unwrap();
        assert!(matches!(next(), PeerMessage::Sample { ms } if ms > 0.0));
    }
    writeln!(stdin, "finish").unwrap();
    let PeerMessage::Row { row } = next() else {
        panic!("no row");
    };
    assert_eq!(row.samples_ms.len(), 2);
    assert!(row.verified, "{row:?}");
    assert!(child.wait().unwrap().success());
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let out = run(&[
        "--seq-len",
        "64",
        "--head-dim",
        "16",
        "--heads",
        "4",
        "--kv-heads",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = run(&[
        "--seq-len",
        "64",
        "--head-dim",
        "16",
        "--adapter",
        "no such adapter",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such adapter"));
}

/// The targets' step with the real peer: flash and Burn timed in turn, both outputs
/// checked, the ratio and its interval.
#[test]
fn the_targets_compare_flash_with_it() {
    let bench = Settings::from_env().and_then(|s| s.open_bench()).unwrap();
    let shape = Shape::new(256, 32).with_batch_heads(1, 2).with_kv_heads(1);
    let options = TargetOptions {
        burn_shapes: vec![shape],
        burn_peer: BurnPeer::At(PEER.into()),
        samples: 3,
        ..TargetOptions::default()
    };
    let mut skipped = Vec::new();
    let mut log = |line: &str| eprintln!("{line}");
    let comparisons = compare_with_burn(&bench, &options, &mut skipped, &mut log).unwrap();
    let c = &comparisons[0];
    assert!(c.skipped.is_none(), "{:?}", c.skipped);
    let (flash, burn, ratio) = (c.flash.unwrap(), c.burn.unwrap(), c.ratio.unwrap());
    assert!(flash.samples >= 3 && burn.samples == flash.samples);
    assert!(ratio.bounds.0 <= ratio.value && ratio.value <= ratio.bounds.1);
    assert!(c.flash_rel_l2_err.is_some_and(|e| e < 1e-4), "{c:?}");
    assert!(c.burn_rel_l2_err.is_some_and(|e| e < 1e-4), "{c:?}");
    let peer = c.peer.as_deref().unwrap();
    assert!(peer.contains(&bench.summary().name), "{peer}");
}
