//! The headline of a device README: the charts that make the argument (time and memory of
//! naive against flash in prefill, with the seed's marks, and the training step), and a
//! short table of the ratios a report cites, naming the run they come from.

use super::family_charts::chart_name;
use super::labels::{human_bytes, short_reason};
#[cfg(feature = "native")]
use super::provenance::source;
use super::provenance::{across_runs, is_unstable};
use super::stops::line_end;
use crate::markdown::{Align, Cell, Table, text};
use crate::results::{ResultRow, ResultsFile};
use crate::sweep::{FamilyKind, MARK_SEQ_LEN};
use std::fmt::Write as _;

/// The headline families present in `file` ([`FamilyKind::is_headline`], as its rows
/// record them), in the argument's order (prefill, causal prefill, the training step), for
/// the first head dim that has any.
pub fn headline_families(file: &ResultsFile) -> Vec<FamilyKind> {
    let present: Vec<FamilyKind> = file.rows.iter().filter_map(|r| r.family_kind).collect();
    let mut dims: Vec<u32> = file.rows.iter().map(|r| r.head_dim).collect();
    dims.sort_unstable();
    dims.dedup();
    for head_dim in dims {
        let kinds = [
            FamilyKind::Prefill {
                head_dim,
                causal: false,
            },
            FamilyKind::Prefill {
                head_dim,
                causal: true,
            },
            FamilyKind::Training {
                head_dim,
                causal: false,
            },
        ];
        let found: Vec<FamilyKind> = kinds
            .into_iter()
            .filter(|k| k.is_headline() && present.contains(k))
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// The headline charts' file stems: time and memory of the first prefill family, and the
/// time of the training step.
pub fn headline_charts(families: &[FamilyKind]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(prefill) = families.iter().find(|f| f.is_prefill()) {
        out.push(chart_name("time", &prefill.name()));
        out.push(chart_name("memory", &prefill.name()));
    }
    if let Some(train) = families.iter().find(|f| f.is_training()) {
        out.push(chart_name("time", &train.name()));
    }
    out
}

/// The measured row of `kernel` at n in `family`.
fn at<'a>(file: &'a ResultsFile, family: &str, kernel: &str, n: u32) -> Option<&'a ResultRow> {
    file.rows
        .iter()
        .find(|r| r.family == family && r.kernel == kernel && r.seq_len == n)
}

/// naive's and flash's measured rows at the largest n both measured in `family`: a pair
/// from one run where there is one, else from two runs.
pub(super) fn common_point<'a>(
    file: &'a ResultsFile,
    family: &str,
) -> Option<(&'a ResultRow, &'a ResultRow)> {
    let ok = |r: &&ResultRow| r.family == family && r.is_ok();
    let pairs: Vec<(&ResultRow, &ResultRow)> = file
        .rows
        .iter()
        .filter(|r| ok(r) && r.kernel == "naive")
        .filter_map(|naive| {
            let flash = file
                .rows
                .iter()
                .find(|f| ok(f) && f.kernel == "flash" && f.seq_len == naive.seq_len)?;
            Some((naive, flash))
        })
        .collect();
    let best = |same_run: bool| {
        pairs
            .iter()
            .filter(|(n, f)| (n.run_id == f.run_id) == same_run)
            .max_by_key(|(naive, _)| naive.seq_len)
            .copied()
    };
    best(true).or_else(|| best(false))
}

/// flash's speedup over naive at the largest n both measured: "42.1× at n = 4096", with
/// the range the two rows' intervals allow where both have one. Pairs from one run come
/// first; a pair from two runs says so.
fn speedup_cell(file: &ResultsFile, family: &str) -> String {
    let Some((naive, flash)) = common_point(file, family) else {
        return "—".into();
    };
    let (Some(tn), Some(tf)) = (naive.median_ms, flash.median_ms) else {
        return "—".into();
    };
    if !(tn > 0.0 && tf > 0.0) {
        return "—".into();
    }
    let mut cell = format!("{:.1}× at n = {}", tn / tf, naive.seq_len);
    if let (Some(n), Some(f)) = (naive.interval(), flash.interval())
        && f.low > 0.0
    {
        let from = if n.is_confident() && f.is_confident() {
            ""
        } else {
            ", from ranges"
        };
        let _ = write!(
            cell,
            " ({:.1}–{:.1}×{from})",
            n.low / f.high,
            n.high / f.low
        );
    }
    if is_unstable(file, naive) || is_unstable(file, flash) {
        cell.push_str(" ⚠ unstable run");
    }
    cell + &across_runs(naive, flash)
}

/// Peak bytes of `kernel` at the seed's first mark, or what it would need and why not.
fn mark_bytes_cell(file: &ResultsFile, family: &str, kernel: &str) -> String {
    match at(file, family, kernel, MARK_SEQ_LEN) {
        Some(r) if r.is_ok() => r.peak_buffer_bytes.map(human_bytes).unwrap_or_default(),
        Some(r) if r.needed_bytes > 0 => format!(
            "{} needed; not run: {}",
            human_bytes(r.needed_bytes),
            text(&short_reason(r))
        ),
        _ => "—".into(),
    }
}

/// The largest n `kernel` measured, and why it went no further.
pub(super) fn largest_cell(file: &ResultsFile, family: &str, kernel: &str) -> String {
    let rows = file.rows.iter().filter(|r| r.family == family);
    let Some(end) = line_end(rows, kernel) else {
        return "—".into();
    };
    let next = file.rows.iter().find(|r| {
        r.family == family && r.kernel == kernel && !r.is_ok() && r.seq_len > end.last.seq_len
    });
    match next {
        Some(r) => format!("{} (next: {})", end.last.seq_len, text(&short_reason(r))),
        None => end.last.seq_len.to_string(),
    }
}

/// flash's best share of the probed f32 FMA peak, and where.
fn peak_cell(file: &ResultsFile, family: &str) -> String {
    file.rows
        .iter()
        .filter(|r| r.family == family && r.kernel == "flash" && r.is_ok())
        .filter_map(|r| Some((r.pct_of_fma_peak?, r.seq_len)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or("—".into(), |(pct, n)| format!("{pct:.0}% at n = {n}"))
}

/// Where naive's time went at the largest n it measured with a phase split: each phase's
/// median and share, e.g. "n = 4096: QKᵀ 12.1 ms (31%), softmax 9.4 ms (24%), …".
fn phase_cell(file: &ResultsFile, family: &str) -> String {
    let row = file
        .rows
        .iter()
        .filter(|r| r.family == family && r.kernel == "naive" && r.is_ok())
        .filter(|r| r.phases.is_some())
        .max_by_key(|r| r.seq_len);
    let Some((n, split)) = row.and_then(|r| Some((r.seq_len, r.phases.as_ref()?))) else {
        return "—".into();
    };
    let total = split.total_ms();
    let parts: Vec<String> = split
        .phases
        .iter()
        .map(|p| {
            let share = if total > 0.0 {
                100.0 * p.median_ms / total
            } else {
                0.0
            };
            format!("{} {:.1} ms ({share:.0}%)", text(&p.phase), p.median_ms)
        })
        .collect();
    format!("n = {n}: {}", parts.join(", "))
}

/// The key ratios of `families` as a Markdown table: one column per family, one row per
/// figure (flash vs naive at the largest common n, peak bytes at the seed's first mark,
/// the largest n per kernel, flash's share of the FMA peak, and where rows have it, naive's
/// time per phase at the largest n it ran). Its cells are Markdown whose text from the file
/// is escaped.
pub fn key_ratios(file: &ResultsFile, families: &[FamilyKind]) -> String {
    let names: Vec<String> = families.iter().map(FamilyKind::name).collect();
    let mut columns = vec![(String::new(), Align::Left)];
    columns.extend(names.iter().map(|f| (f.clone(), Align::Right)));
    let mut table = Table::new(columns);
    let row = |what: String, cell: &dyn Fn(&str) -> String| {
        let mut cells = vec![Cell::from(what)];
        cells.extend(names.iter().map(|f| Cell::md(cell(f))));
        cells
    };
    table.row(row(
        "flash vs naive (time), at the largest n both ran".into(),
        &|f| speedup_cell(file, f),
    ));
    for kernel in ["naive", "flash"] {
        table.row(row(
            format!("peak bytes at n = {MARK_SEQ_LEN}: {kernel}"),
            &|f| mark_bytes_cell(file, f, kernel),
        ));
    }
    for kernel in crate::kernels::kernel_names() {
        if file
            .rows
            .iter()
            .any(|r| r.kernel == kernel && names.contains(&r.family))
        {
            table.row(row(format!("largest n: {kernel}"), &|f| {
                largest_cell(file, f, kernel)
            }));
        }
    }
    table.row(row("flash: best % of f32 FMA peak".into(), &|f| {
        peak_cell(file, f)
    }));
    if file
        .rows
        .iter()
        .any(|r| r.kernel == "naive" && r.phases.is_some() && names.contains(&r.family))
    {
        table.row(row("naive: time per phase at its largest n".into(), &|f| {
            phase_cell(file, f)
        }));
    }
    table.render()
}

/// The headline section of a device README: the charts, then the key ratios naming their
/// source; empty when the file has no headline family.
#[cfg(feature = "native")]
pub(super) fn headline_section(file: &ResultsFile) -> String {
    let families = headline_families(file);
    if families.is_empty() {
        return String::new();
    }
    let mut md = String::from("## The quadratic wall: naive against flash\n\n");
    for chart in headline_charts(&families) {
        let _ = writeln!(md, "![{chart}]({chart}.png)\n");
    }
    let rows: Vec<&ResultRow> = file
        .rows
        .iter()
        .filter(|r| r.family_kind.is_some_and(|k| families.contains(&k)))
        .collect();
    let _ = writeln!(
        md,
        "### Key ratios\n\nFrom {}; times are medians per run.\n\n{}",
        source(file, &rows),
        key_ratios(file, &families)
    );
    md
}
