//! `compare.md`: devices side by side, headline first. The speedup charts of the headline
//! families and a summary (per kernel, the geometric-mean speedup and each device's
//! largest n) on top; then, collapsed, one row per measured point (family, kernel, B·H, n,
//! d, causal), each device's median time and rate in its own columns, and each device's
//! speedup over the first; a point a device did not measure shows that device's reason.

use super::family_charts::{chart_name, family_charts};
use super::headline::headline_families;
use super::labels::{device_title, short_device_labels};
use crate::kernels::Precision;
use crate::kernels::Workload;
use crate::markdown::{Align, Table, escape};
use crate::results::{Axis, ResultRow, ResultsFile, RunRecord};
use std::fmt::Write as _;

/// What identifies a point across devices.
type PointKey = (String, String, u64, u32, u32, bool, Precision);

fn key(r: &ResultRow) -> PointKey {
    (
        r.family.clone(),
        r.kernel.clone(),
        u64::from(r.batch) * u64::from(r.heads),
        r.seq_len,
        r.head_dim,
        r.causal,
        r.dtype,
    )
}

/// `12.3 GFLOP/s`, or `0.96 GB/s` for decode (bandwidth-bound).
fn rate(r: &ResultRow) -> String {
    match r.workload {
        Workload::Decode => r
            .achieved_gbps
            .map(|g| format!("{g:.2} GB/s"))
            .unwrap_or_default(),
        Workload::Prefill => r
            .gflops
            .map(|g| format!("{g:.2} GFLOP/s"))
            .unwrap_or_default(),
    }
}

fn geometric_mean(values: &[f64]) -> Option<f64> {
    let positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
    (!positive.is_empty())
        .then(|| (positive.iter().map(|v| v.ln()).sum::<f64>() / positive.len() as f64).exp())
}

/// The runs whose rows a file holds, oldest first.
fn live_runs(file: &ResultsFile) -> Vec<&RunRecord> {
    file.runs
        .iter()
        .filter(|run| {
            file.rows
                .iter()
                .any(|r| r.run_id.as_deref() == Some(&run.id))
        })
        .collect()
}

/// `1.23× (1.10–1.38)`: t(base)/t(other), with the interval its two medians' intervals
/// allow (the worst cases of each).
fn ratio_with_interval(base: &ResultRow, other: &ResultRow) -> Option<String> {
    let (t0, t) = (base.median_ms?, other.median_ms?);
    if t <= 0.0 {
        return None;
    }
    Some(
        match (
            base.ci95_low_ms,
            base.ci95_high_ms,
            other.ci95_low_ms,
            other.ci95_high_ms,
        ) {
            (Some(lo0), Some(hi0), Some(lo), Some(hi)) if lo > 0.0 => {
                format!("{:.2}× ({:.2}–{:.2})", t0 / t, lo0 / hi, hi0 / lo)
            }
            _ => format!("{:.2}×", t0 / t),
        },
    )
}

/// Kernels whose configuration differs between the devices (a ratio then compares two
/// configurations, not only two devices): one line each, with every device's labels.
fn configuration_differences(files: &[&ResultsFile], labels: &[String]) -> String {
    let mut kernels: Vec<&str> = Vec::new();
    for file in files {
        for r in file.rows.iter().filter(|r| r.config.is_some()) {
            if !kernels.contains(&r.kernel.as_str()) {
                kernels.push(&r.kernel);
            }
        }
    }
    let mut md = String::new();
    for kernel in kernels {
        let per_device: Vec<Vec<String>> = files
            .iter()
            .map(|f| {
                let mut configs: Vec<String> = f
                    .rows
                    .iter()
                    .filter(|r| r.kernel == kernel && r.is_ok())
                    .filter_map(|r| r.config.clone())
                    .collect();
                configs.sort();
                configs.dedup();
                configs
            })
            .collect();
        // Devices that did not run the kernel (a peer measured on one device) differ in
        // nothing.
        let present: Vec<&Vec<String>> = per_device.iter().filter(|c| !c.is_empty()).collect();
        if present.windows(2).all(|w| w[0] == w[1]) {
            continue;
        }
        let cells: Vec<String> = labels
            .iter()
            .zip(&per_device)
            .map(|(label, configs)| {
                let listed: Vec<String> = configs.iter().map(|c| format!("`{c}`")).collect();
                format!("{label} {}", listed.join(", "))
            })
            .collect();
        let _ = writeln!(
            md,
            "- **{kernel} runs different configurations**: {} — its ratios compare configurations as well as devices.",
            cells.join("; ")
        );
    }
    if !md.is_empty() {
        md.insert(0, '\n');
    }
    md
}

/// Points in the order they first appear in `files`.
fn points_of(files: &[&ResultsFile]) -> Vec<PointKey> {
    let mut points: Vec<PointKey> = Vec::new();
    for file in files {
        for r in &file.rows {
            let k = key(r);
            if !points.contains(&k) {
                points.push(k);
            }
        }
    }
    points
}

/// The row of point `k` on device `d`.
fn find<'a>(files: &[&'a ResultsFile], d: usize, k: &PointKey) -> Option<&'a ResultRow> {
    files[d].rows.iter().find(|r| key(r) == *k)
}

/// Device `d`'s speedup over the first at point `k`, where both measured it.
fn speedup(files: &[&ResultsFile], d: usize, k: &PointKey) -> Option<f64> {
    let t0 = find(files, 0, k).filter(|r| r.is_ok())?.median_ms?;
    let t = find(files, d, k).filter(|r| r.is_ok())?.median_ms?;
    (t > 0.0).then(|| t0 / t)
}

/// Per kernel: each device's largest n, and each device's geometric-mean speedup.
fn summary(files: &[&ResultsFile], labels: &[String], points: &[PointKey]) -> String {
    let mut kernels: Vec<String> = Vec::new();
    for k in points {
        if !kernels.contains(&k.1) {
            kernels.push(k.1.clone());
        }
    }
    let mut columns = vec![("kernel".to_string(), Align::Left)];
    for label in labels {
        columns.push((format!("{label}: largest n"), Align::Right));
    }
    for label in &labels[1..] {
        columns.push((
            format!("{label} × vs {} (geo-mean)", labels[0]),
            Align::Right,
        ));
    }
    let mut summary = Table::new(columns);
    for kernel in &kernels {
        let mut cells = vec![kernel.clone()];
        for file in files {
            let largest = file
                .rows
                .iter()
                .filter(|r| r.kernel == *kernel && r.is_ok() && r.axis == Axis::SeqLen)
                .map(|r| r.seq_len)
                .max();
            cells.push(largest.map(|n| n.to_string()).unwrap_or_else(|| "—".into()));
        }
        for d in 1..files.len() {
            let ratios: Vec<f64> = points
                .iter()
                .filter(|k| k.1 == *kernel)
                .filter_map(|k| speedup(files, d, k))
                .collect();
            cells.push(
                geometric_mean(&ratios)
                    .map(|g| format!("{g:.2}× ({} points)", ratios.len()))
                    .unwrap_or_else(|| "—".into()),
            );
        }
        summary.row(cells);
    }
    summary.render()
}

/// One row per point: each device's time and rate (or its reason), and speedups.
fn every_point(files: &[&ResultsFile], labels: &[String], points: &[PointKey]) -> String {
    let mut columns: Vec<(String, Align)> = [
        ("family", Align::Left),
        ("kernel", Align::Left),
        ("B·H", Align::Right),
        ("n", Align::Right),
        ("d", Align::Right),
        ("causal", Align::Left),
    ]
    .into_iter()
    .map(|(t, a)| (t.to_string(), a))
    .collect();
    for label in labels {
        columns.push((format!("{label} ms"), Align::Right));
        columns.push((format!("{label} rate"), Align::Right));
    }
    for label in &labels[1..] {
        columns.push((format!("{label} × vs {}", labels[0]), Align::Right));
    }
    let mut table = Table::new(columns);
    for k in points {
        let mut cells = vec![
            k.0.clone(),
            k.1.clone(),
            k.2.to_string(),
            k.3.to_string(),
            k.4.to_string(),
            if k.5 { "yes" } else { "no" }.to_string(),
        ];
        for d in 0..files.len() {
            let (time, rate) = match find(files, d, k) {
                Some(r) if r.is_ok() => (
                    r.median_ms.map(|t| format!("{t:.3}")).unwrap_or_default(),
                    rate(r),
                ),
                Some(r) => (format!("skipped: {}", escape(&r.reason)), String::new()),
                None => ("not run".into(), String::new()),
            };
            cells.extend([time, rate]);
        }
        for d in 1..files.len() {
            let ratio = (|| {
                let base = find(files, 0, k).filter(|r| r.is_ok())?;
                let other = find(files, d, k).filter(|r| r.is_ok())?;
                ratio_with_interval(base, other)
            })();
            cells.push(ratio.unwrap_or_default());
        }
        table.row(cells);
    }
    table.render()
}

/// The comparison of `files` as Markdown: title and devices, the headline families'
/// speedup charts, the summary, then every point (collapsed).
pub fn comparison_markdown(files: &[&ResultsFile]) -> String {
    let labels = short_device_labels(files);
    let mut md = String::new();
    let titles: Vec<String> = files.iter().map(|f| device_title(f)).collect();
    let _ = writeln!(md, "# attnbench comparison: {}\n", titles.join(" vs "));
    for ((label, title), file) in labels.iter().zip(&titles).zip(files) {
        let _ = writeln!(md, "- **{label}**: {title}");
        if let Some(note) = super::peers::software_adapter_note(&file.device) {
            let _ = writeln!(md, "  - **{note}**");
        }
        for run in live_runs(file) {
            let _ = writeln!(md, "  - run {}", run.describe());
        }
    }
    md.push_str(&configuration_differences(files, &labels));
    md.push('\n');
    // The speedup charts of the argument's families, where both devices measured them.
    let mut headline: Vec<String> = Vec::new();
    for file in files {
        for family in headline_families(file) {
            if !headline.contains(&family) {
                headline.push(family);
            }
        }
    }
    for family in &headline {
        let chart = chart_name("speedup", family);
        if family_charts(files, family)
            .iter()
            .any(|(n, _)| *n == chart)
        {
            let _ = writeln!(md, "![{chart}]({chart}.png)\n");
        }
    }
    let _ = writeln!(
        md,
        "Times are medians per run. \"× vs {0}\" is {0}'s time ÷ the device's time at the same \
         point: above 1, the device is faster.\n",
        labels[0]
    );
    let points = points_of(files);
    let _ = writeln!(md, "## Summary\n\n{}", summary(files, &labels, &points));
    md.push_str(&super::peers::peer_section(files, &labels));
    let _ = writeln!(
        md,
        "## Every point\n\n{}",
        crate::markdown::details(
            &format!("{} points side by side", points.len()),
            &every_point(files, &labels, &points)
        )
    );
    md
}
