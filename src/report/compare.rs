//! `compare.md`: devices side by side, headline first. The speedup charts of the headline
//! families and a summary (per kernel, the geometric-mean speedup and each device's
//! largest n) on top; then, collapsed, one row per measured point (family, kernel, B·H, n,
//! d, causal), each device's median time and rate in its own columns, and each device's
//! speedup over the first; a point a device did not measure shows that device's reason.
//! Every cell that uses a row of a run whose machine did not hold still says so, and a
//! geometric mean over rows of several runs says which. Text from the files goes in through
//! [`crate::markdown::text`] (tables escape their text cells).

use super::family_charts::{chart_name, family_charts};
use super::headline::headline_families;
use super::labels::{device_title, short_device_labels};
use super::provenance::{is_unstable, source};
use crate::kernels::Precision;
use crate::kernels::Workload;
use crate::markdown::{Align, Table, code, text};
use crate::results::{Axis, ResultRow, ResultsFile, RunRecord};
use crate::shape::Shape;
use std::fmt::Write as _;

/// What identifies a point across devices: family, kernel, shape and dtype.
type PointKey = (String, String, Shape, Precision);

fn key(r: &ResultRow) -> PointKey {
    r.key()
}

/// The mark a cell of a row from an unstable run carries.
const UNSTABLE: &str = " ⚠ unstable run";

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

/// `1.23× (1.10–1.38)`: t(base)/t(other), with the bounds its two medians' intervals
/// allow (the worst cases of each), marked `from ranges` where either interval is a range
/// of too few samples for 95%.
fn ratio_with_interval(base: &ResultRow, other: &ResultRow) -> Option<String> {
    let (t0, t) = (base.median_ms?, other.median_ms?);
    if !(t > 0.0 && t0 > 0.0) {
        return None;
    }
    Some(match (base.interval(), other.interval()) {
        (Some(i0), Some(i)) if i.low > 0.0 => {
            let from = if i0.is_confident() && i.is_confident() {
                ""
            } else {
                ", from ranges"
            };
            format!(
                "{:.2}× ({:.2}–{:.2}{from})",
                t0 / t,
                i0.low / i.high,
                i0.high / i.low
            )
        }
        _ => format!("{:.2}×", t0 / t),
    })
}

/// Kernels whose configuration differs between the devices that ran them (a ratio then
/// compares two configurations, not only two devices): one line each, naming every device
/// that ran the kernel with its configurations; devices that never ran it are left out.
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
        let per_device: Vec<(&String, Vec<String>)> = labels
            .iter()
            .zip(files)
            .map(|(label, f)| {
                let mut configs: Vec<String> = f
                    .rows
                    .iter()
                    .filter(|r| r.kernel == kernel && r.is_ok())
                    .filter_map(|r| r.config.clone())
                    .collect();
                configs.sort();
                configs.dedup();
                (label, configs)
            })
            .filter(|(_, configs)| !configs.is_empty())
            .collect();
        // Devices that did not run the kernel (a peer measured on one device) differ in
        // nothing: they were filtered out above.
        if per_device.len() < 2 || per_device.windows(2).all(|w| w[0].1 == w[1].1) {
            continue;
        }
        let cells: Vec<String> = per_device
            .iter()
            .map(|(label, configs)| {
                let listed: Vec<String> = configs.iter().map(|c| code(c)).collect();
                format!("{} {}", text(label), listed.join(", "))
            })
            .collect();
        let _ = writeln!(
            md,
            "- **{} runs different configurations**: {} — its ratios compare configurations as well as devices.",
            text(kernel),
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

/// The measured rows of point `k` on the first device and on device `d`, where both
/// measured it.
fn pair<'a>(
    files: &[&'a ResultsFile],
    d: usize,
    k: &PointKey,
) -> Option<(&'a ResultRow, &'a ResultRow)> {
    let base = find(files, 0, k).filter(|r| r.is_ok())?;
    let other = find(files, d, k).filter(|r| r.is_ok())?;
    Some((base, other))
}

/// Device `d`'s speedup over the first at point `k`, where both measured it.
fn speedup(files: &[&ResultsFile], d: usize, k: &PointKey) -> Option<f64> {
    let (base, other) = pair(files, d, k)?;
    let (t0, t) = (base.median_ms?, other.median_ms?);
    (t > 0.0 && t0 > 0.0).then(|| t0 / t)
}

/// The runs the rows behind a geometric mean came from, when they are more than one per
/// device, and whether any was unstable: ` — mixes runs: GPU A a, b; GPU B c` and
/// ` ⚠ includes an unstable run`.
fn runs_note(files: &[&ResultsFile], labels: &[String], used: &[(usize, &ResultRow)]) -> String {
    let mut note = String::new();
    let mut mixed: Vec<String> = Vec::new();
    for (device, label) in labels.iter().enumerate() {
        let mut ids: Vec<&str> = used
            .iter()
            .filter(|(d, _)| *d == device)
            .map(|(_, r)| r.run_id.as_deref().unwrap_or("unrecorded"))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() > 1 {
            mixed.push(format!("{label}: {}", ids.join(", ")));
        }
    }
    if !mixed.is_empty() {
        let _ = write!(note, "; mixes runs ({})", mixed.join("; "));
    }
    if used.iter().any(|(d, r)| is_unstable(files[*d], r)) {
        note.push_str(" ⚠ includes an unstable run");
    }
    note
}

/// Per kernel: each device's largest n, and each device's geometric-mean speedup (saying
/// when its points come from several runs of a device, or from an unstable one).
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
            let mut ratios = Vec::new();
            let mut used = Vec::new();
            for k in points.iter().filter(|k| k.1 == *kernel) {
                if let (Some(ratio), Some((base, other))) =
                    (speedup(files, d, k), pair(files, d, k))
                {
                    ratios.push(ratio);
                    used.extend([(0, base), (d, other)]);
                }
            }
            cells.push(
                geometric_mean(&ratios)
                    .map(|g| {
                        format!(
                            "{g:.2}× ({} points{})",
                            ratios.len(),
                            runs_note(files, labels, &used)
                        )
                    })
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
        let shape = &k.2;
        let mut cells = vec![
            k.0.clone(),
            k.1.clone(),
            (u64::from(shape.batch) * u64::from(shape.heads)).to_string(),
            shape.seq_len.to_string(),
            shape.head_dim.to_string(),
            if shape.causal { "yes" } else { "no" }.to_string(),
        ];
        for d in 0..files.len() {
            let (time, rate) = match find(files, d, k) {
                Some(r) if r.is_ok() => {
                    let mark = if is_unstable(files[d], r) {
                        UNSTABLE
                    } else {
                        ""
                    };
                    (
                        r.median_ms
                            .map(|t| format!("{t:.3}{mark}"))
                            .unwrap_or_default(),
                        rate(r),
                    )
                }
                Some(r) => (format!("skipped: {}", r.reason), String::new()),
                None => ("not run".into(), String::new()),
            };
            cells.extend([time, rate]);
        }
        for d in 1..files.len() {
            let ratio = pair(files, d, k).and_then(|(base, other)| {
                let unstable = is_unstable(files[0], base) || is_unstable(files[d], other);
                let mark = if unstable { UNSTABLE } else { "" };
                Some(format!("{}{mark}", ratio_with_interval(base, other)?))
            });
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
    let escaped: Vec<String> = titles.iter().map(|t| text(t)).collect();
    let _ = writeln!(md, "# attnbench comparison: {}\n", escaped.join(" vs "));
    for ((label, title), file) in labels.iter().zip(&escaped).zip(files) {
        let _ = writeln!(md, "- **{}**: {title}", text(label));
        if let Some(note) = super::peers::software_adapter_note(&file.device) {
            let _ = writeln!(md, "  - **{note}**");
        }
        for run in live_runs(file) {
            let mark = if run.is_unstable() {
                " — **⚠ UNSTABLE**: its cells below are marked"
            } else {
                ""
            };
            let _ = writeln!(md, "  - run {}{mark}", text(&run.describe()));
        }
        if file.rows.iter().any(|r| r.is_ok() && r.run_id.is_none()) {
            let unrecorded: Vec<&ResultRow> =
                file.rows.iter().filter(|r| r.run_id.is_none()).collect();
            let _ = writeln!(
                md,
                "  - rows of no recorded run: {}",
                source(file, &unrecorded)
            );
        }
    }
    md.push_str(&configuration_differences(files, &labels));
    md.push('\n');
    // The speedup charts of the argument's families, where both devices measured them.
    let mut headline: Vec<String> = Vec::new();
    for file in files {
        for family in headline_families(file) {
            if !headline.contains(&family.name()) {
                headline.push(family.name());
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
         point: above 1, the device is faster; its bounds are the worst cases of the two \
         medians' intervals (\"from ranges\" where a side had too few samples for a 95% \
         interval). \"{UNSTABLE}\" marks a cell that uses a run whose machine did not hold still.\n",
        text(&labels[0])
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
