//! The third hostile round, files: results folders from other machines are untrusted
//! input. One validating loader refuses a file that states what no run measured — naming
//! the file, the row and the field — and `compare` and `plot` skip such a folder and go on;
//! no number can hang a chart; the committed folders still load and regenerate. Every
//! hostile folder is generated here, at run time.

mod common;
mod untrusted_fixtures;

use attnbench::charts::{ChartSpec, Series};
use attnbench::results::DeviceFolder;
use common::cli::{run_within, stderr_lines};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use untrusted_fixtures::{edit, save, valid};

/// A command over hostile files must finish within this.
const SECONDS: Duration = Duration::from_secs(60);

/// What the refusal must name, and the edit that makes a valid file hostile.
type Case = (&'static str, Box<dyn Fn(&mut Value)>);

/// Class 5: each edit of a valid file is refused by the loader, with the row and field.
#[test]
fn the_loader_refuses_numbers_no_run_measured() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Case> = vec![
        (
            "rows[0]",
            Box::new(|v| v["rows"][0]["median_ms"] = json!(-1.78)),
        ),
        (
            "median_ms",
            Box::new(|v| v["rows"][0]["median_ms"] = json!(0.0)),
        ),
        (
            "median_ms",
            Box::new(|v| v["rows"][0]["median_ms"] = json!(1e200)),
        ),
        (
            "median_ms",
            Box::new(|v| v["rows"][1]["median_ms"] = json!(1e308)),
        ),
        (
            "gflops",
            Box::new(|v| v["rows"][1]["gflops"] = json!(1e308)),
        ),
        (
            "median_ms: missing",
            Box::new(|v| v["rows"][0]["median_ms"] = Value::Null),
        ),
        (
            "interval_low_ms",
            Box::new(|v| {
                let row = &mut v["rows"][0];
                row["interval_low_ms"] = json!(13.13);
                row["interval_high_ms"] = json!(0.18);
            }),
        ),
        (
            "2 or more",
            Box::new(|v| {
                let row = &mut v["rows"][0];
                let m = row["median_ms"].clone();
                row["interval_low_ms"] = m.clone();
                row["interval_high_ms"] = m;
                row["samples"] = json!(1);
            }),
        ),
        (
            "the same point as rows[0]",
            Box::new(|v| {
                let mut copy = v["rows"][0].clone();
                for time in [
                    "median_ms",
                    "min_ms",
                    "max_ms",
                    "interval_low_ms",
                    "interval_high_ms",
                ] {
                    copy[time] = json!(100.0 * copy[time].as_f64().unwrap());
                }
                v["rows"].as_array_mut().unwrap().push(copy);
            }),
        ),
        (
            "run_id",
            Box::new(|v| v["rows"][0]["run_id"] = json!("nobody-ran-this")),
        ),
        ("run_id", Box::new(|v| v["runs"] = json!([]))),
        (
            "seq_len: 0",
            Box::new(|v| v["rows"][0]["seq_len"] = json!(0)),
        ),
        (
            "head_dim: 0",
            Box::new(|v| v["rows"][0]["head_dim"] = json!(0)),
        ),
        (
            "needed_bytes",
            Box::new(|v| v["rows"][0]["needed_bytes"] = json!(1e20)),
        ),
        ("samples", Box::new(|v| v["rows"][2]["samples"] = json!(-3))),
        (
            "head_dim: not a point of family prefill-d128",
            Box::new(|v| {
                v["rows"][0]["family"] = json!("prefill-d128");
                v["rows"][0].as_object_mut().unwrap().remove("family_kind");
            }),
        ),
        (
            "ceilings_start",
            Box::new(|v| v["runs"][0]["ceilings_start"]["fma_f32_gflops"] = json!(-1.0)),
        ),
        (
            "text longer",
            Box::new(|v| v["device"]["driver"] = json!("x".repeat(5000))),
        ),
    ];
    for (i, (needle, change)) in cases.iter().enumerate() {
        let folder = save(
            &dir.path().join(format!("case{i}")),
            &valid("GPU", 3.0, true),
        );
        edit(&folder.dir, change);
        let err = folder.load().expect_err(needle).to_string();
        assert!(
            err.contains("results.json") && err.contains(needle) && !err.contains('\n'),
            "case {i}: {err} lacks {needle:?}"
        );
    }
}

/// Files of the older schemas load: limits as text become typed, families get their kind
/// from their name (an unknown family keeps none, and stays data), bootstrap intervals
/// say they are one.
#[test]
fn older_files_load_typed() {
    let dir = tempfile::tempdir().unwrap();
    let folder = save(dir.path(), &valid("GPU", 3.0, true));
    edit(&folder.dir, |v| {
        v["schema"] = json!("attnbench-results/2");
        for row in v["rows"].as_array_mut().unwrap() {
            let row = row.as_object_mut().unwrap();
            row.remove("family_kind");
            row.remove("interval_method");
            row.remove("interval_coverage");
            for (old, new) in [
                ("ci95_low_ms", "interval_low_ms"),
                ("ci95_high_ms", "interval_high_ms"),
            ] {
                let value = row.remove(new).unwrap_or(Value::Null);
                row.insert(old.into(), value);
            }
            if let Some(skip) = row.get_mut("skip").filter(|s| !s.is_null()) {
                skip["limit"] = json!("memory budget from Vulkan device-local heap");
            }
        }
        v["rows"][1]["family"] = json!("prefill-d64-from-the-future");
    });
    let file = folder.load_existing().unwrap();
    let walled = file.rows.iter().find(|r| !r.is_ok()).unwrap();
    let (.., limit) = walled.skip.as_ref().unwrap().wall().unwrap();
    assert!(limit.is_budget(), "{limit:?}");
    assert!(file.rows.iter().any(|r| r.family_kind.is_none()));
    let known = file
        .rows
        .iter()
        .find(|r| r.family == "prefill-d64")
        .unwrap();
    assert!(known.family_kind.is_some_and(|k| k.is_prefill()));
    let interval = known.interval().unwrap();
    assert!(interval.describe().contains("bootstrap"), "{interval:?}");
}

/// Class 1: `median_ms` or `gflops` of 1e308 made plot and compare spin forever in the
/// charts' log axes, and plot left charts with no charts.json. Now such a folder is
/// skipped and named (or alone, refused, exit 2), every command ends in seconds, and a
/// chart of values a log axis cannot show says why it is empty.
#[test]
fn huge_numbers_never_hang_and_their_folder_is_skipped() {
    let root = tempfile::tempdir().unwrap();
    let p = |name: &str| root.path().join(name);
    save(&p("a"), &valid("GPU A", 3.0, true));
    save(&p("c"), &valid("GPU C", 5.0, true));
    let bad = save(&p("b"), &valid("GPU B", 4.0, true));
    edit(&bad.dir, |v| {
        v["rows"][0]["median_ms"] = json!(1e308);
        v["rows"][1]["gflops"] = json!(1e308);
    });
    let s = |name: &str| p(name).to_str().unwrap().to_string();
    let out_dir = s("cmp");
    let compare = ["compare", &s("a"), &s("b"), &s("c"), "--out", &out_dir];
    let out = run_within(&compare, &[], SECONDS);
    let lines = stderr_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("skipped") && lines[0].contains("median_ms"),
        "{lines:?}"
    );
    assert!(
        lines[0].contains(&format!("{}/results.json", s("b"))),
        "{lines:?}"
    );
    let md = std::fs::read_to_string(p("cmp/compare.md")).unwrap();
    assert!(md.contains("GPU A") && md.contains("GPU C") && !md.contains("GPU B"));
    // Two folders, one bad: nothing left to compare.
    let out = run_within(&["compare", &s("a"), &s("b")], &[], SECONDS);
    assert_eq!(out.status.code(), Some(2), "{:?}", stderr_lines(&out));
    let out = run_within(&["plot", &s("a"), &s("b")], &[], SECONDS);
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));
    assert!(
        !p("b/README.md").exists(),
        "the skipped folder is left alone"
    );
    let out = run_within(&["plot", &s("b")], &[], SECONDS);
    assert_eq!(out.status.code(), Some(2), "{:?}", stderr_lines(&out));
    // Every chart plot drew is in charts.json.
    let listed = std::fs::read_to_string(p("a/charts.json")).unwrap();
    for entry in std::fs::read_dir(p("a")).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        if name.ends_with(".png") || name.ends_with(".svg") {
            assert!(listed.contains(&format!("\"{name}\"")), "{name} not listed");
        }
    }
    // The charts themselves: values past any axis are dropped, and an empty chart says why.
    let started = Instant::now();
    let chart = |points: Vec<(f64, f64)>| ChartSpec {
        title: "hostile".into(),
        series: vec![Series::measured("x", points)],
        limits: vec![("limit".into(), f64::INFINITY)],
        ..Default::default()
    };
    let svg = chart(vec![(128.0, 1e308), (256.0, f64::NAN), (512.0, 1e-300)])
        .svg()
        .unwrap();
    assert!(svg.contains("nothing to plot"), "{svg}");
    let svg = chart(vec![(128.0, 1e308), (256.0, 2.0), (f64::INFINITY, 3.0)])
        .svg()
        .unwrap();
    assert!(svg.contains("hostile") && !svg.contains("nothing to plot"));
    assert!(started.elapsed() < SECONDS);
}

/// Files past what a data file may be are refused before they are read: a FIFO (which
/// would block the read forever) and a file of more than 64 MiB.
#[cfg(unix)]
#[test]
fn results_reads_are_bounded() {
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("fifo");
    std::fs::create_dir(&fifo).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(fifo.join("results.json"))
        .status()
        .unwrap();
    assert!(status.success());
    let err = DeviceFolder::at(&fifo).load().unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
    let big = root.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let file = std::fs::File::create(big.join("results.json")).unwrap();
    file.set_len(65 << 20).unwrap();
    let err = DeviceFolder::at(&big).load().unwrap_err().to_string();
    assert!(err.contains("bytes, more than"), "{err}");
}

/// The committed results folders load through the validating loader and regenerate:
/// `plot` over a copy of results/ draws every folder and skips none.
#[test]
fn the_committed_results_load_and_regenerate() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let copy = tempfile::tempdir().unwrap();
    let mut folders = 0;
    for entry in std::fs::read_dir(&committed).unwrap().flatten() {
        let dir = entry.path();
        if !dir.join("results.json").is_file() {
            continue;
        }
        let file = DeviceFolder::at(&dir)
            .load_existing()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!file.rows.is_empty());
        let target = copy.path().join(entry.file_name());
        std::fs::create_dir(&target).unwrap();
        std::fs::copy(dir.join("results.json"), target.join("results.json")).unwrap();
        folders += 1;
    }
    assert!(folders >= 3);
    let root = copy.path().to_str().unwrap();
    let out = run_within(&["plot"], &[("ATTNBENCH_RESULTS_DIR", root)], SECONDS * 5);
    let lines = stderr_lines(&out);
    assert!(out.status.success(), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("skipped")), "{lines:?}");
    let drawn = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(drawn, folders);
}
