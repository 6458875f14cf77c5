//! Results files, charts and reports, with no GPU and no system fonts: plotters is built
//! without its `ttf` feature, so these charts can only render with the embedded font.

use attnbench::Shape;
use attnbench::report::{write_comparison, write_device_report};
use attnbench::results::{Ceilings, DeviceFolder, DeviceHeader, ResultRow, ResultsFile, Status};
use std::process::Command;

fn header(name: &str) -> DeviceHeader {
    DeviceHeader {
        adapter: name.into(),
        vendor: 0x10de,
        backend: "Vulkan".into(),
        device_type: "DiscreteGpu".into(),
        driver: "test".into(),
        wgpu_version: "30".into(),
        attnbench_version: "0.1.0".into(),
        git_commit: None,
        date: "2026-11-25T00:00:00Z".into(),
        os: "linux x86_64".into(),
        memory_budget_bytes: Some(8 << 30),
        max_storage_buffer_binding_size: 1 << 30,
    }
}

fn results(name: &str, speed: f64) -> ResultsFile {
    let mut file = ResultsFile::new(header(name));
    let mut rows = Vec::new();
    for kernel in ["naive", "flash"] {
        for n in [256u32, 512, 1024, 2048] {
            let shape = Shape::new(n, 64);
            let mut row = ResultRow::new("prefill-d64", kernel, &shape);
            let ms = f64::from(n).powi(2) / speed / if kernel == "flash" { 3.0 } else { 1.0 };
            row.status = Status::Ok;
            row.median_ms = Some(ms);
            row.gflops = Some(shape.flops() / (ms * 1e6));
            row.min_bytes = if kernel == "naive" {
                shape.min_io_bytes() + 4 * shape.score_matrix_bytes()
            } else {
                shape.min_io_bytes()
            };
            row.peak_buffer_bytes = Some(row.min_bytes);
            row.scores_transfer_ms =
                (kernel == "naive").then(|| shape.score_matrix_bytes() as f64 / 1e7);
            row.timing = Some(attnbench::gpu::TimingSource::GpuTimestamps);
            rows.push(row);
        }
    }
    let mut skipped = ResultRow::new("prefill-d64", "naive", &Shape::new(4096, 64));
    skipped.reason = "time budget".into();
    rows.push(skipped);
    file.ceilings = Some(Ceilings {
        fma_f32_gflops: 100.0,
        bandwidth_gbps: 50.0,
        upload_gbps: 5.0,
        readback_gbps: 4.0,
    });
    file.merge(header(name), rows);
    file
}

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
    }
    // The committed reports too.
    let results_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    for entry in std::fs::read_dir(results_dir).unwrap().flatten() {
        for name in ["README.md", "compare.md", "targets.md"] {
            let path = entry.path().join(name);
            if let Ok(md) = std::fs::read_to_string(&path) {
                let errors = attnbench::markdown::table_errors(&md);
                assert!(errors.is_empty(), "{path:?}: {errors:?}");
            }
        }
    }
}

#[test]
fn no_two_series_of_a_chart_look_alike_and_kernels_keep_their_colour() {
    let a = results("GPU A", 1e5);
    let b = results("GPU B", 4e5);
    for files in [vec![&a], vec![&a, &b]] {
        for (name, chart) in attnbench::report::family_charts(&files, "prefill-d64") {
            let styles = chart.styles();
            for (i, x) in styles.iter().enumerate() {
                for y in &styles[i + 1..] {
                    assert_ne!(x, y, "{name}: two series drawn alike");
                }
            }
            let limits = chart.limit_colors();
            for (i, c) in limits.iter().enumerate() {
                assert!(
                    !styles.iter().any(|s| s.0 == *c),
                    "{name}: limit colour of a series"
                );
                assert!(!limits[i + 1..].contains(c), "{name}: two limits alike");
            }
            // A kernel has its registry colour in every chart.
            for (series, style) in chart.series.iter().zip(&styles) {
                if series.label.starts_with("flash") && !series.label.contains("read back") {
                    assert_eq!(
                        Some(style.0),
                        attnbench::report::kernel_color("flash"),
                        "{name}"
                    );
                }
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

    // A malformed results file: a one-line error naming it, exit 2, nothing rewritten.
    std::fs::write(
        b.join("results.json"),
        "{\"schema\": \"attnbench-results/1\", \"rows\": 3}",
    )
    .unwrap();
    let before = std::fs::read(a.join("README.md")).unwrap();
    std::fs::remove_file(a.join("time-prefill-d64.png")).unwrap();
    let plot = Command::new(bin)
        .arg("plot")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&plot.stderr);
    assert_eq!(plot.status.code(), Some(2), "{err}");
    assert!(
        err.contains("results.json") && err.lines().count() == 1,
        "{err}"
    );
    assert!(
        !a.join("time-prefill-d64.png").exists(),
        "nothing drawn for a partial input"
    );
    assert_eq!(std::fs::read(a.join("README.md")).unwrap(), before);
}

/// A sliding-window family's time chart draws each kernel's full causal line beside its
/// window line (the device's `prefill-causal-d64` rows), and flash's n² and linear laws,
/// every series distinct.
#[test]
fn window_charts_draw_full_causal_attention_beside_the_window() {
    let mut file = ResultsFile::new(header("GPU A"));
    let mut rows = Vec::new();
    for kernel in ["naive", "flash"] {
        for n in [512u32, 1024, 2048, 4096] {
            for (family, window) in [("prefill-causal-d64", None), ("window-d64", Some(1024))] {
                let shape = Shape::new(n, 64).with_window(window).with_causal(true);
                let mut row = ResultRow::new(family, kernel, &shape);
                row.status = Status::Ok;
                row.median_ms = Some(shape.flops() / 1e7);
                row.gflops = Some(10.0);
                row.peak_buffer_bytes = Some(shape.min_io_bytes());
                rows.push(row);
            }
        }
    }
    file.merge(header("GPU A"), rows);
    let charts = attnbench::report::family_charts(&[&file], "window-d64");
    let (_, time) = charts
        .iter()
        .find(|(name, _)| name.contains("time"))
        .expect("a time chart");
    let labels: Vec<&str> = time.series.iter().map(|s| s.label.as_str()).collect();
    for wanted in [
        "flash, full causal",
        "naive, full causal",
        "n² law through flash's first point",
        "linear law through flash's last point",
    ] {
        assert!(labels.contains(&wanted), "{wanted} missing from {labels:?}");
    }
    let styles = time.styles();
    for (i, x) in styles.iter().enumerate() {
        assert!(!styles[i + 1..].contains(x), "two series alike: {labels:?}");
    }
    assert!(time.x_label.contains("W=1024"), "{}", time.x_label);
}
