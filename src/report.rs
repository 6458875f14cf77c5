//! Reports generated from results files: the scaling charts of one device, the comparison
//! of several, and the Markdown tables and README that carry them into reports.

use crate::charts::{ChartSpec, Mark, Series, SeriesKind};
use crate::error::Result;
use crate::results::{ResultRow, ResultsFile};
use crate::sweep::{Axis, DECODE_FAMILY};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Score-matrix sizes marked on memory charts: (n, label).
pub const WALL_MARKS: [(u32, &str); 3] = [(4096, "67 MB"), (16384, "1.07 GB"), (100_000, "40 GB")];

fn ok_rows<'a>(file: &'a ResultsFile, family: &'a str) -> impl Iterator<Item = &'a ResultRow> + 'a {
    file.rows
        .iter()
        .filter(move |r| r.family == family && r.is_ok())
}

fn kernels_in(file: &ResultsFile, family: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in file.rows.iter().filter(|r| r.family == family) {
        if !out.contains(&r.kernel) {
            out.push(r.kernel.clone());
        }
    }
    out
}

fn series_of(
    file: &ResultsFile,
    family: &str,
    kernel: &str,
    label: String,
    y: impl Fn(&ResultRow) -> Option<f64>,
) -> Series {
    Series {
        label,
        points: ok_rows(file, family)
            .filter(|r| r.kernel == kernel)
            .filter_map(|r| Some((x_of(r), y(r)?)))
            .collect(),
        kind: SeriesKind::Measured,
    }
}

/// A reference law c·n^power through the last point of `anchor`, over the x range of `xs`.
fn law_through(anchor: &Series, xs: &[f64], power: i32, label: &str) -> Option<Series> {
    let &(ax, ay) = anchor.points.last()?;
    let c = ay / ax.powi(power);
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(0.0, f64::max);
    Some(Series {
        label: label.to_string(),
        points: vec![(lo, c * lo.powi(power)), (hi, c * hi.powi(power))],
        kind: SeriesKind::Reference,
    })
}

fn device_title(file: &ResultsFile) -> String {
    format!("{} ({})", file.device.adapter, file.device.backend)
}

/// The x value of a row: n, or d in head-dim families.
fn x_of(r: &ResultRow) -> f64 {
    match Axis::of_family(&r.family) {
        Axis::SeqLen => f64::from(r.seq_len),
        Axis::HeadDim => f64::from(r.head_dim),
    }
}

/// The x axis description of a family: what varies, and the shape's fixed sizes.
fn x_label(family: &str, rows: &[&ResultRow]) -> String {
    let Some(r) = rows.first() else {
        return "sequence length n".into();
    };
    let causal = if r.causal { " causal" } else { "" };
    match Axis::of_family(family) {
        Axis::SeqLen => format!(
            "sequence length n (B={} H={} d={}{causal})",
            r.batch, r.heads, r.head_dim
        ),
        Axis::HeadDim => format!(
            "head dim d (B={} H={} n={}{causal})",
            r.batch, r.heads, r.seq_len
        ),
    }
}

/// The three scaling charts of one family on one or more devices.
pub fn family_charts(files: &[&ResultsFile], family: &str) -> Vec<(String, ChartSpec)> {
    let multi = files.len() > 1;
    let who = if multi {
        files
            .iter()
            .map(|f| device_title(f))
            .collect::<Vec<_>>()
            .join(" vs ")
    } else {
        files.first().map(|f| device_title(f)).unwrap_or_default()
    };
    let label = |file: &ResultsFile, kernel: &str| {
        if multi {
            format!("{} — {kernel}", device_title(file))
        } else {
            kernel.to_string()
        }
    };
    let rows: Vec<&ResultRow> = files.iter().flat_map(|f| ok_rows(f, family)).collect();
    let axis = Axis::of_family(family);
    let decode = family.starts_with(DECODE_FAMILY);
    let x_desc = x_label(family, &rows);
    let xs: Vec<f64> = rows.iter().map(|r| x_of(r)).collect();

    let mut time = ChartSpec {
        title: format!("{family}: time — {who}"),
        x_label: x_desc.clone(),
        y_label: if decode {
            "ms per generated token (median)".into()
        } else {
            "median time per run (ms)".into()
        },
        ..Default::default()
    };
    let mut memory = ChartSpec {
        title: format!("{family}: peak buffer bytes — {who}"),
        x_label: x_desc.clone(),
        y_label: "peak bytes of all buffers".into(),
        ..Default::default()
    };
    let mut throughput = ChartSpec {
        title: format!("{family}: throughput — {who}"),
        x_label: x_desc.clone(),
        y_label: "GFLOP/s (4·B·H·n²·d, halved if causal)".into(),
        ..Default::default()
    };
    for file in files {
        for kernel in kernels_in(file, family) {
            let t = series_of(file, family, &kernel, label(file, &kernel), |r| r.median_ms);
            // The growth law each family is about: n² for prefill, n for decode.
            let law = match (decode, axis, kernel.as_str()) {
                (true, _, _) => law_through(&t, &xs, 1, &format!("linear law through {}", t.label)),
                (false, Axis::SeqLen, "naive") => {
                    law_through(&t, &xs, 2, &format!("n² law through {}", t.label))
                }
                _ => None,
            };
            time.series.extend(law);
            time.series.push(t);
            memory.series.push(series_of(
                file,
                family,
                &kernel,
                label(file, &kernel),
                |r| r.peak_buffer_bytes.map(|b| b as f64),
            ));
            throughput.series.push(series_of(
                file,
                family,
                &kernel,
                label(file, &kernel),
                |r| r.gflops,
            ));
        }
    }
    // Memory laws: the exact score-matrix size (n²) and Q, K, V, O (n), for the family's shape.
    if let Some(r) = rows.first().filter(|_| axis == Axis::SeqLen && !decode) {
        let bh = f64::from(r.batch) * f64::from(r.heads);
        let d = f64::from(r.head_dim);
        let hi = xs.iter().copied().fold(0.0, f64::max).max(100_000.0);
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        memory.series.push(Series {
            label: "n² law: B·H·n×n f32 scores".into(),
            points: vec![(lo, bh * lo * lo * 4.0), (hi, bh * hi * hi * 4.0)],
            kind: SeriesKind::Reference,
        });
        memory.series.push(Series {
            label: "n law: Q, K, V, O in f32".into(),
            points: vec![(lo, 16.0 * bh * lo * d), (hi, 16.0 * bh * hi * d)],
            kind: SeriesKind::Reference,
        });
        for (n, text) in WALL_MARKS {
            let n = f64::from(n);
            memory.marks.push(Mark {
                label: format!(" n={}: n×n = {text}", n as u64),
                at: (n, n * n * 4.0),
            });
        }
    }
    for file in files {
        let prefix = if multi {
            format!("{}: ", device_title(file))
        } else {
            String::new()
        };
        if let Some(budget) = file.device.memory_budget_bytes {
            memory.limits.push((
                format!("{prefix}memory budget {}", human_bytes(budget)),
                budget as f64,
            ));
        }
        if file.device.max_storage_buffer_binding_size > 0 {
            let b = file.device.max_storage_buffer_binding_size;
            memory.limits.push((
                format!("{prefix}max storage binding {}", human_bytes(b)),
                b as f64,
            ));
        }
    }
    let mut roofline = ChartSpec {
        title: format!("{family}: roofline — {who}"),
        x_label: "arithmetic intensity (FLOPs per minimum byte moved)".into(),
        y_label: "GFLOP/s".into(),
        ..Default::default()
    };
    let mut transfer = ChartSpec {
        title: format!("{family}: n×n scores, compute vs readback to host — {who}"),
        x_label: x_desc.clone(),
        y_label: "ms".into(),
        ..Default::default()
    };
    for file in files {
        let prefix = if multi {
            format!("{}: ", device_title(file))
        } else {
            String::new()
        };
        for kernel in kernels_in(file, family) {
            let mut points: Vec<(f64, f64)> = ok_rows(file, family)
                .filter(|r| r.kernel == kernel && r.min_bytes > 0)
                .filter_map(|r| Some((r.flops / r.min_bytes as f64, r.gflops?)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            roofline.series.push(Series {
                label: label(file, &kernel),
                points,
                kind: SeriesKind::Measured,
            });
            let materialized: Vec<&ResultRow> = ok_rows(file, family)
                .filter(|r| r.kernel == kernel && r.scores_transfer_ms.is_some())
                .collect();
            if !materialized.is_empty() {
                let mut compute = series_of(
                    file,
                    family,
                    &kernel,
                    format!("{} compute (median)", label(file, &kernel)),
                    |r| r.median_ms,
                );
                compute
                    .points
                    .retain(|p| materialized.iter().any(|r| f64::from(r.seq_len) == p.0));
                transfer.series.push(compute);
                transfer.series.push(series_of(
                    file,
                    family,
                    &kernel,
                    format!("{} n×n scores read back to host", label(file, &kernel)),
                    |r| r.scores_transfer_ms,
                ));
            }
        }
        if let Some(c) = &file.ceilings {
            throughput.limits.push((
                format!(
                    "{prefix}f32 FMA peak (probed) {:.1} GFLOP/s",
                    c.fma_f32_gflops
                ),
                c.fma_f32_gflops,
            ));
            roofline.limits.push((
                format!("{prefix}f32 FMA peak {:.1} GFLOP/s", c.fma_f32_gflops),
                c.fma_f32_gflops,
            ));
            let ai: Vec<f64> = roofline
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0))
                .collect();
            let lo = ai.iter().copied().fold(f64::INFINITY, f64::min).min(0.1);
            let hi = ai.iter().copied().fold(0.0, f64::max).max(1.0) * 2.0;
            roofline.series.push(Series {
                label: format!(
                    "{prefix}bandwidth ceiling {:.1} GB/s × intensity",
                    c.bandwidth_gbps
                ),
                points: vec![(lo, c.bandwidth_gbps * lo), (hi, c.bandwidth_gbps * hi)],
                kind: SeriesKind::Reference,
            });
        }
    }
    let slug = sanitize(family);
    let mut charts = vec![
        (format!("time-{slug}"), time),
        (format!("memory-{slug}"), memory),
        (format!("throughput-{slug}"), throughput),
        (format!("roofline-{slug}"), roofline),
    ];
    if !transfer.series.is_empty() {
        charts.push((format!("transfer-{slug}"), transfer));
    }
    charts
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Renders every family's charts into `dir`; returns the PNG paths (relative names).
pub fn render_charts(files: &[&ResultsFile], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut families: Vec<String> = Vec::new();
    for f in files {
        for fam in f.families() {
            if !families.contains(&fam) {
                families.push(fam);
            }
        }
    }
    let mut written = Vec::new();
    for family in families {
        for (name, spec) in family_charts(files, &family) {
            written.extend(spec.render(&dir.join(&name))?);
        }
    }
    Ok(written)
}

/// `1234567` → `1.18 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// Markdown table of the points of `files`: time, GFLOP/s, peak bytes, and the speedup over
/// naive on the same device and shape; skipped points with their reasons.
pub fn summary_table(files: &[&ResultsFile]) -> String {
    let multi = files.len() > 1;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| {}family | kernel | B·H | n | d | causal | median ms | GFLOP/s | % FMA peak | GB/s | % bandwidth | peak buffer bytes | × vs naive | timing |",
        if multi { "device | " } else { "" }
    );
    let _ = writeln!(
        out,
        "|{}---|---|---:|---:|---:|---|---:|---:|---:|---:|---|",
        if multi { "---|" } else { "" }
    );
    for file in files {
        for r in file.rows.iter().filter(|r| r.is_ok()) {
            let naive = file.rows.iter().find(|o| {
                o.kernel == "naive"
                    && o.is_ok()
                    && o.family == r.family
                    && o.seq_len == r.seq_len
                    && o.head_dim == r.head_dim
                    && o.batch == r.batch
                    && o.heads == r.heads
                    && o.causal == r.causal
            });
            let speedup = match (naive.and_then(|n| n.median_ms), r.median_ms) {
                (Some(n), Some(t)) if t > 0.0 && r.kernel != "naive" => format!("{:.2}×", n / t),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                if multi {
                    format!("{} ({}) | ", file.device.adapter, file.device.backend)
                } else {
                    String::new()
                },
                r.family,
                r.kernel,
                u64::from(r.batch) * u64::from(r.heads),
                r.seq_len,
                r.head_dim,
                if r.causal { "yes" } else { "no" },
                r.median_ms.map(|v| format!("{v:.3}")).unwrap_or_default(),
                r.gflops.map(|v| format!("{v:.2}")).unwrap_or_default(),
                r.pct_of_fma_peak
                    .map(|v| format!("{v:.1}%"))
                    .unwrap_or_default(),
                r.achieved_gbps
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_default(),
                r.pct_of_bandwidth
                    .map(|v| format!("{v:.1}%"))
                    .unwrap_or_default(),
                r.peak_buffer_bytes.map(human_bytes).unwrap_or_default(),
                speedup,
                r.timing
            );
        }
    }
    out
}

/// The skipped points and why, as a Markdown list.
pub fn skipped_list(file: &ResultsFile) -> String {
    let mut out = String::new();
    for r in file.rows.iter().filter(|r| !r.is_ok()) {
        let _ = writeln!(
            out,
            "- `{}` {} n={} d={}: {}",
            r.family, r.kernel, r.seq_len, r.head_dim, r.reason
        );
    }
    out
}

/// Merges `rows` measured on `device` into `folder` and rewrites its charts and README, all
/// under the folder's lock, so that concurrent writers into one folder lose no rows and
/// the README always matches `results.json`.
pub fn save_and_report(
    folder: &crate::results::DeviceFolder,
    device: crate::results::DeviceHeader,
    rows: Vec<ResultRow>,
) -> Result<(ResultsFile, Vec<PathBuf>)> {
    let lock = folder.lock()?;
    let file = folder.merge_and_save(&lock, device, rows)?;
    let written = write_device_report(&file, &folder.dir)?;
    Ok((file, written))
}

/// Writes the charts and a README.md (header, table, charts, skips) into the device folder,
/// and removes charts of an earlier run that this one no longer draws (so a folder never
/// shows a chart its results do not back). Callers hold the folder's lock.
pub fn write_device_report(file: &ResultsFile, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = render_charts(&[file], dir)?;
    let d = &file.device;
    let mut md = String::new();
    let _ = writeln!(md, "# attnbench results: {} ({})\n", d.adapter, d.backend);
    let _ = writeln!(
        md,
        "Generated by `attnbench plot` from `results.json`; do not edit.\n"
    );
    let _ = writeln!(md, "| | |\n|---|---|");
    let header = [
        ("adapter", d.adapter.clone()),
        ("backend", d.backend.clone()),
        ("device type", d.device_type.clone()),
        ("vendor id", format!("{:#06x}", d.vendor)),
        ("driver", d.driver.clone()),
        (
            "memory budget",
            d.memory_budget_bytes
                .map(human_bytes)
                .unwrap_or_else(|| "unknown".into()),
        ),
        (
            "max storage binding",
            human_bytes(d.max_storage_buffer_binding_size),
        ),
        (
            "wgpu / attnbench",
            format!("{} / {}", d.wgpu_version, d.attnbench_version),
        ),
        (
            "commit",
            d.git_commit.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("date", d.date.clone()),
        ("os", d.os.clone()),
    ];
    for (k, v) in header {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    if let Some(c) = &file.ceilings {
        let _ = writeln!(
            md,
            "| probed ceilings | f32 FMA {:.1} GFLOP/s, bandwidth {:.1} GB/s, upload {:.2} GB/s, readback {:.2} GB/s (`attnbench probe`) |",
            c.fma_f32_gflops, c.bandwidth_gbps, c.upload_gbps, c.readback_gbps
        );
    }
    let _ = writeln!(
        md,
        "\nTimes are medians per run; FLOPs = 4·B·H·n²·d (halved when causal); peak buffer bytes \
         are the high-water mark of every buffer the run created.\n"
    );
    md.push_str(&summary_table(&[file]));
    for family in file.families() {
        let _ = writeln!(md, "\n## {family}\n");
        for (name, _) in family_charts(&[file], &family) {
            let _ = writeln!(md, "![{name}]({name}.png)\n");
        }
    }
    let skipped = skipped_list(file);
    if !skipped.is_empty() {
        let _ = writeln!(md, "\n## Skipped points\n\n{skipped}");
    }
    let readme = dir.join("README.md");
    crate::results::write_atomic(&readme, md.as_bytes())?;
    written.push(readme);
    remove_stale_charts(dir, &written);
    Ok(written)
}

/// Deletes the PNG and SVG files in `dir` that are not in `keep`.
fn remove_stale_charts(dir: &Path, keep: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        let chart = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("png" | "svg")
        );
        if chart && !keep.iter().any(|k| k == &path) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Writes comparison charts and `compare.md` for several devices into `out`.
pub fn write_comparison(files: &[&ResultsFile], out: &Path) -> Result<Vec<PathBuf>> {
    let mut written = render_charts(files, out)?;
    let mut md = String::new();
    let names: Vec<String> = files.iter().map(|f| device_title(f)).collect();
    let _ = writeln!(md, "# attnbench comparison: {}\n", names.join(" vs "));
    md.push_str(&summary_table(files));
    let mut families: Vec<String> = Vec::new();
    for f in files {
        for fam in f.families() {
            if !families.contains(&fam) {
                families.push(fam);
            }
        }
    }
    for family in families {
        let _ = writeln!(md, "\n## {family}\n");
        for (name, _) in family_charts(files, &family) {
            let _ = writeln!(md, "![{name}]({name}.png)\n");
        }
    }
    let path = out.join("compare.md");
    crate::results::write_atomic(&path, md.as_bytes())?;
    written.push(path);
    Ok(written)
}
