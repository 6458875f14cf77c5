//! The Markdown tables of a device report: every measured point, the training families'
//! growth per doubling of n, and the skipped points with their reasons.

use super::labels::human_bytes;
use crate::markdown::{Align, Table};
use crate::results::{ResultRow, ResultsFile};
use std::fmt::Write as _;

/// The speedup of `r` over naive on the same device and shape, as `12.3×`.
fn speedup_over_naive(file: &ResultsFile, r: &ResultRow) -> String {
    let naive = file.rows.iter().find(|o| {
        o.kernel == "naive" && o.is_ok() && o.family == r.family && o.shape() == r.shape()
    });
    match (naive.and_then(|n| n.median_ms), r.median_ms) {
        (Some(n), Some(t)) if t > 0.0 && r.kernel != "naive" => format!("{:.2}×", n / t),
        _ => String::new(),
    }
}

/// Markdown table of the measured points of one device: time, GFLOP/s, share of the probed
/// peaks, peak bytes and the speedup over naive on the same shape.
pub fn summary_table(file: &ResultsFile) -> String {
    let mut table = Table::new([
        ("family", Align::Left),
        ("kernel", Align::Left),
        ("B·H", Align::Right),
        ("n", Align::Right),
        ("d", Align::Right),
        ("causal", Align::Left),
        ("median ms", Align::Right),
        ("GFLOP/s", Align::Right),
        ("% FMA peak", Align::Right),
        ("GB/s", Align::Right),
        ("% bandwidth", Align::Right),
        ("peak buffer bytes", Align::Right),
        ("× vs naive", Align::Right),
        ("timing", Align::Left),
        ("samples", Align::Right),
    ]);
    let fmt = |v: Option<f64>, digits: usize, unit: &str| {
        v.map(|v| format!("{v:.digits$}{unit}")).unwrap_or_default()
    };
    for r in file.rows.iter().filter(|r| r.is_ok()) {
        table.row([
            r.family.clone(),
            r.kernel.clone(),
            (u64::from(r.batch) * u64::from(r.heads)).to_string(),
            r.seq_len.to_string(),
            r.head_dim.to_string(),
            if r.causal { "yes" } else { "no" }.to_string(),
            fmt(r.median_ms, 3, ""),
            fmt(r.gflops, 2, ""),
            fmt(r.pct_of_fma_peak, 1, "%"),
            fmt(r.achieved_gbps, 2, ""),
            fmt(r.pct_of_bandwidth, 1, "%"),
            r.peak_buffer_bytes.map(human_bytes).unwrap_or_default(),
            speedup_over_naive(file, r),
            r.timing.map_or(String::new(), |t| t.to_string()),
            r.samples.to_string(),
        ]);
    }
    table.render()
}

/// Markdown table of how the time of each training family (fwd-bwd, bwd) and kernel grows
/// per doubling of n: every measured ratio t(2n)/t(n) and their geometric mean. Empty when
/// the file has no such pair.
pub fn training_growth(file: &ResultsFile) -> String {
    let mut table = Table::new([
        ("family", Align::Left),
        ("kernel", Align::Left),
        ("n", Align::Left),
        ("× per doubling", Align::Left),
        ("geometric mean", Align::Right),
    ]);
    for family in file.families() {
        let rows: Vec<&ResultRow> = file
            .rows
            .iter()
            .filter(|r| r.family == family && r.is_ok() && r.pass.has_backward())
            .collect();
        let mut kernels: Vec<&str> = rows.iter().map(|r| r.kernel.as_str()).collect();
        kernels.dedup();
        for kernel in kernels {
            let mut points: Vec<(u32, f64)> = rows
                .iter()
                .filter(|r| r.kernel == kernel)
                .filter_map(|r| Some((r.seq_len, r.median_ms?)))
                .collect();
            points.sort_by_key(|p| p.0);
            let ratios: Vec<f64> = points
                .windows(2)
                .filter(|w| w[1].0 == 2 * w[0].0 && w[0].1 > 0.0)
                .map(|w| w[1].1 / w[0].1)
                .collect();
            if ratios.is_empty() {
                continue;
            }
            let mean = ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64;
            table.row([
                family.clone(),
                kernel.to_string(),
                format!(
                    "{}–{}",
                    points.first().map_or(0, |p| p.0),
                    points.last().map_or(0, |p| p.0)
                ),
                ratios
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("**{:.2}×**", mean.exp()),
            ]);
        }
    }
    if table.is_empty() {
        String::new()
    } else {
        table.render()
    }
}

/// The skipped points, one line per family and kernel: where its sweep stopped (or the
/// first point it skipped), why, and how many later points that skipped.
pub fn skipped_list(file: &ResultsFile) -> String {
    let mut out = String::new();
    let mut groups: Vec<(&str, &str, Vec<&ResultRow>)> = Vec::new();
    for r in file.rows.iter().filter(|r| !r.is_ok()) {
        match groups
            .iter_mut()
            .find(|(f, k, _)| *f == r.family && *k == r.kernel)
        {
            Some((_, _, rows)) => rows.push(r),
            None => groups.push((&r.family, &r.kernel, vec![r])),
        }
    }
    for (family, kernel, rows) in groups {
        let first = rows[0];
        let at = match first.axis {
            crate::results::Axis::SeqLen => format!("n={}", first.seq_len),
            crate::results::Axis::HeadDim => format!("d={}", first.head_dim),
        };
        let later = rows.len() - 1;
        let _ = writeln!(
            out,
            "- `{family}` {kernel}: from {at}: {}{}",
            crate::markdown::escape(&first.reason),
            if later > 0 {
                format!(
                    " ({later} later point{} skipped)",
                    if later == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        );
    }
    out
}
