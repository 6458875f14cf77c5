//! Charts with no GPU: kernels stay distinguishable where their lines coincide, walls and
//! time stops are drawn, intervals become error bars, and the transfer chart sets both
//! kernels' compute against the host links.

mod report_fixtures;

use attnbench::Shape;
use attnbench::charts::MarkKind;
use attnbench::results::{ResultRow, ResultsFile, Status};
use report_fixtures::{header, results, walled};

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

/// naive and chunked at exactly the same times: their lines coincide, so they must differ
/// in more than colour (line style or marker), and the legend says which lies on which.
#[test]
fn two_identical_series_stay_distinguishable() {
    let mut file = results("GPU A", 1e5);
    let copies: Vec<ResultRow> = file
        .rows
        .iter()
        .filter(|r| r.kernel == "naive")
        .map(|r| ResultRow {
            kernel: "chunked".into(),
            ..r.clone()
        })
        .collect();
    file.merge(header("GPU A"), copies);
    for (name, chart) in attnbench::report::family_charts(&[&file], "prefill-d64") {
        let index = |label: &str| chart.series.iter().position(|s| s.label == label);
        let (Some(naive), Some(chunked)) = (index("naive"), index("chunked")) else {
            continue;
        };
        let styles = chart.styles();
        let (a, b) = (styles[naive], styles[chunked]);
        assert!(
            a.1 != b.1 && a.2 != b.2,
            "{name}: naive {a:?} and chunked {b:?} differ only in colour"
        );
        if name.starts_with("time") {
            let legend = chart.legend_labels();
            assert!(
                legend[chunked].contains("on naive's line"),
                "{name}: {legend:?}"
            );
            let dir = tempfile::tempdir().unwrap();
            chart.render(&dir.path().join("time")).unwrap();
            let svg = std::fs::read_to_string(dir.path().join("time.svg")).unwrap();
            assert!(
                svg.contains("chunked (on naive&apos;s line)")
                    || svg.contains("chunked (on naive's line)")
            );
        }
    }
}

#[test]
fn a_wall_ends_its_line_in_a_mark_labelled_with_its_bytes() {
    let file = walled();
    let charts = attnbench::report::family_charts(&[&file], "prefill-d64");
    let chart = |what: &str| {
        &charts
            .iter()
            .find(|(name, _)| name.starts_with(what))
            .unwrap()
            .1
    };
    let label = "naive: 2.03 GiB needed at n = 16384, budget 2.00 GiB";
    let memory = chart("memory");
    let wall = memory
        .marks
        .iter()
        .find(|m| matches!(m.kind, MarkKind::Wall(_)))
        .expect("a wall mark");
    assert_eq!(wall.label, label);
    assert_eq!(wall.at, (16384.0, 2_181_039_616.0));
    // flash stopped for time: a quieter mark, no label, where the skipped point would be.
    let stop = memory
        .marks
        .iter()
        .find(|m| matches!(m.kind, MarkKind::Stop(_)))
        .expect("a time-budget mark");
    assert!(stop.label.is_empty() && stop.at.0 == 16384.0);
    // The time chart ends naive's line at its last point in the same wall mark.
    let time = chart("time");
    let end = time
        .marks
        .iter()
        .find(|m| matches!(m.kind, MarkKind::Wall(_)))
        .expect("a wall mark on the time chart");
    assert_eq!((end.label.as_str(), end.at), (label, (8192.0, 8192.0)));
    let dir = tempfile::tempdir().unwrap();
    memory.render(&dir.path().join("memory")).unwrap();
    let svg = std::fs::read_to_string(dir.path().join("memory.svg")).unwrap();
    assert!(svg.contains("2.03 GiB needed at n = 16384"), "label drawn");
}

#[test]
fn error_bars_come_from_rows_that_have_intervals() {
    let file = results("GPU A", 1e5);
    let charts = attnbench::report::family_charts(&[&file], "prefill-d64");
    let time = &charts
        .iter()
        .find(|(n, _)| n.starts_with("time"))
        .unwrap()
        .1;
    let series = |label: &str| time.series.iter().find(|s| s.label == label).unwrap();
    assert_eq!(series("flash").intervals.len(), 4);
    assert!(series("naive").intervals.is_empty());
    let (x, lo, hi) = series("flash").intervals[0];
    let y = series("flash").points[0].1;
    assert!(x == 256.0 && lo < y && y < hi);
}

#[test]
fn the_transfer_chart_sets_both_computes_against_the_host_links() {
    let file = results("GPU A", 1e5);
    let charts = attnbench::report::family_charts(&[&file], "prefill-d64");
    let transfer = &charts
        .iter()
        .find(|(n, _)| n.starts_with("transfer"))
        .unwrap()
        .1;
    let labels: Vec<&str> = transfer.series.iter().map(|s| s.label.as_str()).collect();
    for wanted in [
        "naive compute (median)",
        "flash compute (median)",
        "n×n f32 read back at the probed 4.00 GB/s (this host link)",
        "n×n f32 over PCIe 5.0 at 80 GB/s (the seed: 100 GB in 1.25 s)",
    ] {
        assert!(labels.contains(&wanted), "{wanted} missing from {labels:?}");
    }
    // The seed's point: 100 GB of scores (n ≈ 158 114) in 1.25 s.
    let pcie = transfer
        .series
        .iter()
        .find(|s| s.label.contains("PCIe"))
        .unwrap();
    let (n, ms) = *pcie.points.last().unwrap();
    let at_seed = ms * (158_113.9 / n).powi(2);
    assert!((at_seed - 1250.0).abs() < 1.0, "{at_seed}");
}
