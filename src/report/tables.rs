//! The Markdown tables of a device report: every measured point (with its interval and
//! run), the runs the rows came from, the training families' growth per doubling of n, and
//! the skipped points with their reasons.

use super::labels::human_bytes;
use super::provenance::is_unstable;
use crate::markdown::{Align, Cell, Table, code, text};
use crate::results::{ResultRow, ResultsFile};
use std::fmt::Write as _;

/// The speedup of `r` over naive on the same device and shape, as `12.3×`: only between
/// rows of one run (a ratio of two runs would carry the machine's drift between them);
/// across runs the cell says so.
fn speedup_over_naive(file: &ResultsFile, r: &ResultRow) -> String {
    let naive = file.rows.iter().find(|o| {
        o.kernel == "naive" && o.is_ok() && o.family == r.family && o.shape() == r.shape()
    });
    let Some(naive) = naive.filter(|_| r.kernel != "naive") else {
        return String::new();
    };
    if naive.run_id != r.run_id {
        return "runs differ".into();
    }
    match (naive.median_ms, r.median_ms) {
        (Some(n), Some(t)) if t > 0.0 => format!("{:.2}×", n / t),
        _ => String::new(),
    }
}

/// `12.300 (12.100–12.600, 96% CI)`: the median and its interval, saying what the
/// interval is (`range of 3 (75% coverage)` where the samples cannot support 95%).
pub fn median_with_interval(r: &ResultRow) -> String {
    match (r.median_ms, r.interval()) {
        (Some(m), Some(i)) => format!("{m:.3} ({})", i.with_ends(3)),
        (Some(m), None) => format!("{m:.3}"),
        _ => String::new(),
    }
}

/// A share of a probed ceiling as a percentage, or, where the row beats the ceiling, that
/// the ceiling is wrong (a probe that did not reach what a kernel reaches).
fn share_of_ceiling(pct: Option<f64>) -> String {
    match pct {
        Some(p) if p > 100.0 => "above the probed ceiling (probe too low)".into(),
        Some(p) => format!("{p:.1}%"),
        None => String::new(),
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
        ("median ms (interval)", Align::Right),
        ("GFLOP/s", Align::Right),
        ("% FMA peak (of its dtype's)", Align::Right),
        ("GB/s", Align::Right),
        ("% bandwidth", Align::Right),
        ("peak buffer bytes", Align::Right),
        ("× vs naive", Align::Right),
        ("timing", Align::Left),
        ("samples", Align::Right),
        ("run", Align::Left),
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
            if is_unstable(file, r) {
                format!("{} ⚠ unstable run", median_with_interval(r))
            } else {
                median_with_interval(r)
            },
            fmt(r.gflops, 2, ""),
            match share_of_ceiling(r.pct_of_fma_peak) {
                share if share.ends_with('%') => format!("{share} of {}", r.dtype),
                other => other,
            },
            fmt(r.achieved_gbps, 2, ""),
            share_of_ceiling(r.pct_of_bandwidth),
            r.peak_buffer_bytes.map(human_bytes).unwrap_or_default(),
            speedup_over_naive(file, r),
            r.timing.map_or(String::new(), |t| t.to_string()),
            r.samples.to_string(),
            r.run_id.clone().unwrap_or_default(),
        ]);
    }
    table.render()
}

/// The runs the file's rows came from, as a Markdown section: id, kind, date, commit,
/// whether the sources were clean, the ceilings at the start and the end, and stability.
/// Empty when the file has no run records (older files).
pub fn runs_section(file: &ResultsFile) -> String {
    let live: Vec<&crate::results::RunRecord> = file
        .runs
        .iter()
        .filter(|run| {
            file.rows
                .iter()
                .any(|r| r.run_id.as_deref() == Some(&run.id))
        })
        .collect();
    if live.is_empty() {
        return String::new();
    }
    let mut table = Table::new([
        ("run", Align::Left),
        ("kind", Align::Left),
        ("started", Align::Left),
        ("commit", Align::Left),
        ("sources", Align::Left),
        ("FMA GFLOP/s start → end", Align::Right),
        ("GB/s start → end", Align::Right),
        ("machine", Align::Left),
        ("rows", Align::Right),
    ]);
    let pair = |a: Option<f64>, b: Option<f64>, digits: usize| match (a, b) {
        (Some(a), Some(b)) => format!("{a:.digits$} → {b:.digits$}"),
        (Some(a), None) => format!("{a:.digits$}"),
        _ => String::new(),
    };
    for run in &live {
        let (start, end) = (run.ceilings_start.as_ref(), run.ceilings_end.as_ref());
        table.row([
            Cell::from(&run.id),
            Cell::from(format!("{:?}", run.kind).to_lowercase()),
            Cell::from(&run.started),
            Cell::from(run.commit.clone().unwrap_or_else(|| "unknown".into())),
            Cell::from(&run.sources),
            Cell::from(pair(
                start.map(|c| c.fma_f32_gflops),
                end.map(|c| c.fma_f32_gflops),
                1,
            )),
            Cell::from(pair(
                start.map(|c| c.bandwidth_gbps),
                end.map(|c| c.bandwidth_gbps),
                2,
            )),
            match &run.stability {
                Some(s) if s.stable => Cell::from("steady"),
                Some(s) => Cell::md(format!("**unstable**: {}", text(&s.describe()))),
                None => Cell::from("not probed"),
            },
            Cell::from(
                file.rows
                    .iter()
                    .filter(|r| r.run_id.as_deref() == Some(&run.id))
                    .count()
                    .to_string(),
            ),
        ]);
    }
    let mut md = String::from(
        "\nThe rows below came from these runs (ratios are taken within one run only):\n\n",
    );
    md.push_str(&table.render());
    md
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
                Cell::from(&family),
                Cell::from(kernel),
                Cell::from(format!(
                    "{}–{}",
                    points.first().map_or(0, |p| p.0),
                    points.last().map_or(0, |p| p.0)
                )),
                Cell::from(
                    ratios
                        .iter()
                        .map(|r| format!("{r:.2}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Cell::md(format!("**{:.2}×**", mean.exp())),
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
            "- {} {}: from {at}: {}{}",
            code(family),
            text(kernel),
            text(&first.reason),
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
