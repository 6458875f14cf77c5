//! Results files, charts and reports, with no GPU and no system fonts: plotters is built
//! without its `ttf` feature, so these charts can only render with the embedded font.

mod report_fixtures;

use attnbench::report::{readme_results, write_comparison, write_device_report};
use attnbench::results::DeviceFolder;
use report_fixtures::{results, walled};
use std::process::Command;

#[test]
fn every_chart_renders_with_the_embedded_font() {
    let dir = tempfile::tempdir().unwrap();
    let file = results("Test GPU", 1e5);
    let written = write_device_report(&file, dir.path()).unwrap();
    for chart in ["time", "memory", "throughput", "roofline", "transfer"] {
        for ext in ["png", "svg"] {
            let path = dir.path().join(format!("{chart}-prefill-d64.{ext}"));
            assert!(written.contains(&path), "{path:?} not written");
            assert!(
                std::fs::metadata(&path).unwrap().len() > 1000,
                "{path:?} is empty"
            );
        }
    }
    let svg = std::fs::read_to_string(dir.path().join("time-prefill-d64.svg")).unwrap();
    assert!(
        svg.contains("Test GPU") && svg.contains("n² law"),
        "title and law in the chart"
    );
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(
        readme.contains("| prefill-d64 | flash | 1 | 2048 | 64 | no |"),
        "{readme}"
    );
    assert!(
        readme.contains("3.00×"),
        "flash-over-naive speedup: {readme}"
    );
    assert!(
        readme.contains("- `prefill-d64` naive: from n=4096: time budget"),
        "skips listed, one line per family and kernel: {readme}"
    );
}

#[test]
fn comparison_draws_one_line_per_device_and_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let a = results("GPU A", 1e5);
    let b = results("GPU B", 4e5);
    write_comparison(&[&a, &b], dir.path()).unwrap();
    let md = std::fs::read_to_string(dir.path().join("compare.md")).unwrap();
    assert!(md.contains("GPU A (Vulkan)") && md.contains("GPU B (Vulkan)"));
    let svg = std::fs::read_to_string(dir.path().join("time-prefill-d64.svg")).unwrap();
    for label in [
        "naive — GPU A Vulkan",
        "flash — GPU A Vulkan",
        "naive — GPU B Vulkan",
        "flash — GPU B Vulkan",
    ] {
        assert!(svg.contains(label), "missing {label}");
    }
    assert!(dir.path().join("speedup-prefill-d64.png").is_file());
}

#[test]
fn compare_puts_devices_side_by_side_with_ratios_and_reasons() {
    let a = results("GPU A", 1e5);
    let b = results("GPU B", 4e5);
    let md = attnbench::report::comparison_markdown(&[&a, &b]);
    // One row per point: both devices' times, and B's speedup over A.
    let row = md
        .lines()
        .find(|l| l.starts_with("| prefill-d64 | naive | 1 | 1024 | 64 | no |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert_eq!(row.matches("ms").count(), 0, "{row}");
    assert!(row.ends_with("| 4.00× |"), "{row}");
    assert!(row.contains("GFLOP/s"), "{row}");
    // The summary: geometric-mean speedup per kernel and the largest n per device.
    assert!(
        md.contains("| naive | 2048 | 2048 | 4.00× (4 points) |"),
        "{md}"
    );
    // A point neither measured shows why.
    assert!(md.contains("skipped: time budget"), "{md}");
}

#[test]
fn every_generated_table_is_valid_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let a = results("GPU A", 1e5);
    let b = results("GPU B", 4e5);
    write_device_report(&a, &dir.path().join("a")).unwrap();
    write_comparison(&[&a, &b], &dir.path().join("cmp")).unwrap();
    for path in [
        dir.path().join("a/README.md"),
        dir.path().join("cmp/compare.md"),
    ] {
        let md = std::fs::read_to_string(&path).unwrap();
        assert!(md.contains("|---"), "{path:?} has tables");
        let errors = attnbench::markdown::table_errors(&md);
        assert!(errors.is_empty(), "{path:?}: {errors:?}");
        let html = attnbench::markdown::html_block_errors(&md);
        assert!(
            html.is_empty(),
            "{path:?}: Markdown swallowed after HTML at {html:?}"
        );
    }
    // The committed reports too.
    let results_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    for entry in std::fs::read_dir(results_dir).unwrap().flatten() {
        for name in ["README.md", "compare.md", "targets.md"] {
            let path = entry.path().join(name);
            if let Ok(md) = std::fs::read_to_string(&path) {
                let errors = attnbench::markdown::table_errors(&md);
                assert!(errors.is_empty(), "{path:?}: {errors:?}");
                let html = attnbench::markdown::html_block_errors(&md);
                assert!(html.is_empty(), "{path:?}: {html:?}");
            }
        }
    }
}

#[test]
fn plot_and_compare_commands_work_and_refuse_bad_files_untouched() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    let file_a = results("GPU A", 1e5);
    DeviceFolder::at(&a).save(&file_a).unwrap();
    DeviceFolder::at(&b).save(&results("GPU B", 4e5)).unwrap();
    let bin = env!("CARGO_BIN_EXE_attnbench");
    let plot = Command::new(bin)
        .arg("plot")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        plot.status.success(),
        "{}",
        String::from_utf8_lossy(&plot.stderr)
    );
    assert!(a.join("time-prefill-d64.png").is_file() && b.join("README.md").is_file());
    let out = root.path().join("cmp");
    let compare = Command::new(bin)
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        compare.status.success(),
        "{}",
        String::from_utf8_lossy(&compare.stderr)
    );
    assert!(out.join("compare.md").is_file());

    // A malformed results file: plot skips that folder, naming it and the reason on one
    // line, leaves it untouched and draws the others; alone, it is refused (exit 2).
    std::fs::write(
        b.join("results.json"),
        "{\"schema\": \"attnbench-results/1\", \"rows\": 3}",
    )
    .unwrap();
    let b_readme = std::fs::read(b.join("README.md")).unwrap();
    std::fs::remove_file(a.join("time-prefill-d64.png")).unwrap();
    let plot = Command::new(bin)
        .arg("plot")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&plot.stderr);
    assert_eq!(plot.status.code(), Some(0), "{err}");
    assert!(
        err.contains("skipped") && err.contains("results.json") && err.lines().count() == 1,
        "{err}"
    );
    assert!(
        a.join("time-prefill-d64.png").exists(),
        "the good folder drawn"
    );
    assert_eq!(std::fs::read(b.join("README.md")).unwrap(), b_readme);
    let plot = Command::new(bin).arg("plot").arg(&b).output().unwrap();
    let err = String::from_utf8_lossy(&plot.stderr);
    assert_eq!(plot.status.code(), Some(2), "{err}");
    assert!(
        err.contains("results.json") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(std::fs::read(b.join("README.md")).unwrap(), b_readme);
}

#[test]
fn the_readme_starts_with_the_charts_and_the_key_ratios() {
    use attnbench::results::{PhaseSplit, PhaseTime};
    let dir = tempfile::tempdir().unwrap();
    let mut file = walled();
    // naive's rows carry their phase split: the key ratios give the largest n's.
    for r in file
        .rows
        .iter_mut()
        .filter(|r| r.kernel == "naive" && r.is_ok())
    {
        let ms = r.median_ms.unwrap();
        r.phases = Some(PhaseSplit {
            timing: attnbench::gpu::TimingSource::GpuTimestamps,
            repeats: 3,
            phases: [("QKᵀ", 0.4), ("softmax", 0.2), ("P·V", 0.4)]
                .into_iter()
                .map(|(phase, share)| PhaseTime {
                    phase: phase.into(),
                    median_ms: share * ms,
                    gflops: None,
                })
                .collect(),
        });
    }
    write_device_report(&file, dir.path()).unwrap();
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    let pos = |text: &str| {
        readme
            .find(text)
            .unwrap_or_else(|| panic!("{text} missing: {readme}"))
    };
    // Title, one line, then the headline: charts, key ratios, and only then the rest.
    let first_section = readme.lines().find(|l| l.starts_with("## ")).unwrap();
    assert_eq!(first_section, "## The quadratic wall: naive against flash");
    assert!(pos("![time-prefill-d64](time-prefill-d64.png)") < pos("### Key ratios"));
    assert!(pos("![memory-prefill-d64](memory-prefill-d64.png)") < pos("### Key ratios"));
    assert!(pos("### Key ratios") < pos("## Device"));
    assert!(pos("## Device") < pos("<details>"));
    assert!(pos("<details>") < pos("| family | kernel | B·H |"));
    // The key ratios name their source and the figures a report cites.
    for wanted in [
        "From `results.json` of 2026-11-25T00:00:00Z",
        "| flash vs naive (time), at the largest n both ran | 1.0× at n = 8192 |",
        "| peak bytes at n = 4096: naive | 128.00 MiB |",
        "| largest n: naive | 8192 (next: 2.03 GiB needed at n = 16384, budget 2.00 GiB) |",
        "| largest n: flash | 8192 (next: time budget) |",
        "| flash: best % of f32 FMA peak |",
        "| naive: time per phase at its largest n | n = 8192: QKᵀ ",
        "(40%), softmax ",
    ] {
        assert!(readme.contains(wanted), "{wanted} missing: {readme}");
    }
}

#[test]
fn compare_puts_the_speedup_chart_and_summary_first() {
    let dir = tempfile::tempdir().unwrap();
    let a = results("GPU A", 1e5);
    let b = results("GPU B", 4e5);
    write_comparison(&[&a, &b], dir.path()).unwrap();
    let md = std::fs::read_to_string(dir.path().join("compare.md")).unwrap();
    let pos = |text: &str| md.find(text).unwrap_or_else(|| panic!("{text}: {md}"));
    assert!(pos("![speedup-prefill-d64](speedup-prefill-d64.png)") < pos("## Summary"));
    assert!(pos("## Summary") < pos("## Every point"));
    assert!(pos("## Every point") < pos("<details>"));
    assert!(
        md.find("## ").unwrap() == pos("## Summary"),
        "no section before the summary"
    );
}

#[test]
fn the_project_readme_section_is_short_and_sets_time_beside_bytes_at_one_n() {
    let a = walled();
    let b = results("GPU B", 4e5);
    let section = readme_results(
        &[("results/a".into(), &a), ("results/b".into(), &b)],
        Some("results/compare"),
    );
    // The charts of one device (the one with the most headline points), one table for
    // every device, links for the rest: a few lines however many devices there are.
    assert!(section.lines().count() <= 20, "{section}");
    let charts = section.matches("![").count();
    assert_eq!(charts, 2, "{section}");
    assert!(section.contains("![time-prefill-d64](results/a/time-prefill-d64.png)"));
    assert!(section.contains("![memory-prefill-d64](results/a/memory-prefill-d64.png)"));
    assert!(section.contains("[The devices side by side](results/compare/compare.md)"));
    // naive and flash at the largest n both measured, time and peak bytes each, and how
    // far each line went: naive to its memory wall, flash to the time budget.
    for wanted in [
        "| [GPU A Vulkan](results/a/README.md) | prefill-d64 | 8192 | 8.19 s · 512.00 MiB \
         | 8.19 s · 512.00 MiB | 8192 (next: 2.03 GiB needed at n = 16384, budget 2.00 GiB) \
         | 8192 (next: time budget) | results.json of 2026-11-25T00:00:00Z |",
        "| [GPU B Vulkan](results/b/README.md) | prefill-d64 | 2048 | 10.5 ms · ",
    ] {
        assert!(section.contains(wanted), "{wanted} missing: {section}");
    }
}
