//! The Burn peer's faults, with stand-in peers (shell scripts): an absent peer, one that
//! crashes, one that hangs, one on another adapter, and a shape Burn cannot run each give a
//! skipped row with the reason, in bounded time, never a hung or failed attnbench. The real
//! peer is tested by its own crate (`cargo test --release -p attnbench-burn-peer`).

mod common;

use attnbench::Shape;
use attnbench::targets::{BURN_PEER_BUILD, BurnComparison, BurnPeer, TargetOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A stand-in peer: `script` as an executable shell script in `dir`.
fn fake_peer(dir: &Path, script: &str) -> PathBuf {
    let path = dir.join("attnbench-burn-peer");
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

/// The comparisons at one small shape with `peer`, and the steps skipped for time.
fn compare(peer: BurnPeer, shape: Shape, deadline: Option<Instant>) -> Vec<BurnComparison> {
    let options = TargetOptions {
        burn_shapes: vec![shape],
        burn_peer: peer,
        deadline,
        ..TargetOptions::default()
    };
    let mut skipped = Vec::new();
    attnbench::targets::compare_with_burn(common::gpu(), &options, &mut skipped, &mut |_| {})
        .unwrap()
}

fn reason(comparisons: &[BurnComparison]) -> String {
    assert_eq!(comparisons.len(), 1);
    assert!(comparisons[0].burn.is_none() && comparisons[0].ratio.is_none());
    comparisons[0].skipped.clone().expect("a reason")
}

fn small() -> Shape {
    Shape::new(64, 16)
}

#[test]
fn an_absent_peer_says_how_to_build_it() {
    let looked = vec![PathBuf::from("/nowhere/attnbench-burn-peer")];
    let why = reason(&compare(BurnPeer::Absent { looked }, small(), None));
    assert!(why.contains(BURN_PEER_BUILD), "{why}");
    assert!(why.contains("/nowhere/attnbench-burn-peer"), "{why}");
}

#[cfg(unix)]
#[test]
fn a_crashing_peer_is_a_skipped_row_with_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let peer = fake_peer(dir.path(), "echo 'the device was lost' >&2; exit 101");
    let why = reason(&compare(BurnPeer::At(peer), small(), None));
    assert!(why.contains("exit status: 101"), "{why}");
    assert!(why.contains("the device was lost"), "{why}");
    assert!(why.contains("3 times"), "{why}");
}

/// A peer that crashes while warming up is started once more (a fresh process survives
/// wgpu-core's race): here the second start answers, from another adapter.
#[cfg(unix)]
#[test]
fn a_peer_that_crashed_at_start_is_tried_once_more() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("crashed-once");
    let ready = r#"{"message":"ready","adapter":"second try","backend":"Vulkan","calls_per_sample":1,"sample_ms":1.0,"strategy":null}"#;
    let script = format!(
        "if [ -e '{m}' ]; then echo '{ready}'; exec sleep 600; fi\ntouch '{m}'; exit 134",
        m = marker.display()
    );
    let peer = fake_peer(dir.path(), &script);
    let why = reason(&compare(BurnPeer::At(peer), small(), None));
    assert!(why.contains("not the same adapter"), "{why}");
    assert!(why.contains("second try"), "{why}");
}

#[cfg(unix)]
#[test]
fn a_hung_peer_is_killed_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let peer = fake_peer(dir.path(), "exec sleep 600");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(3);
    let why = reason(&compare(BurnPeer::At(peer), small(), Some(deadline)));
    assert!(started.elapsed() < Duration::from_secs(30), "{why}");
    assert!(why.contains("time budget ran out"), "{why}");
    assert!(why.contains("killed"), "{why}");
}

#[cfg(unix)]
#[test]
fn a_peer_on_another_adapter_is_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let ready = r#"{"message":"ready","adapter":"another GPU","backend":"Vulkan","calls_per_sample":1,"sample_ms":1.0,"strategy":null}"#;
    let peer = fake_peer(dir.path(), &format!("echo '{ready}'; exec sleep 600"));
    let why = reason(&compare(BurnPeer::At(peer), small(), None));
    assert!(why.contains("not the same adapter"), "{why}");
    assert!(why.contains("another GPU"), "{why}");
}

#[cfg(unix)]
#[test]
fn a_peer_that_refuses_gives_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let failed = r#"{"message":"failed","reason":"no f16 here","input_error":true}"#;
    let peer = fake_peer(dir.path(), &format!("echo '{failed}'; exit 2"));
    let why = reason(&compare(BurnPeer::At(peer), small(), None));
    assert!(why.contains("no f16 here"), "{why}");
}

#[test]
fn a_sliding_window_is_not_asked_of_burn() {
    let shape = small().with_window(Some(16));
    let why = reason(&compare(BurnPeer::At("/bin/false".into()), shape, None));
    assert!(why.contains("sliding window"), "{why}");
}
