//! Which runs a report's figures come from. Every table or ratio a report states names its
//! source through here, so that provenance lives in one place: the runs its rows name
//! (`run_id`, described from the file's `runs`), or for rows written before runs were
//! recorded, the file's header (its commit and date). A ratio of rows from two runs says
//! so ([`across_runs`]).

use crate::markdown::text;
use crate::results::{ResultRow, ResultsFile};

/// Whether `row` of `file` comes from a run whose machine did not hold still.
pub(super) fn is_unstable(file: &ResultsFile, row: &ResultRow) -> bool {
    row.run_id
        .as_deref()
        .and_then(|id| file.run(id))
        .is_some_and(|run| run.is_unstable())
}

/// The source of `rows` of `file`, as a fragment of Markdown (its text escaped): "run
/// 20261201T234512Z-3f9a (2026-12-01T23:45:12Z, commit abc123, sources clean)", the runs
/// when several (each saying whether it was stable), or the file's header for rows that name no run.
pub(super) fn source(file: &ResultsFile, rows: &[&ResultRow]) -> String {
    let mut ids: Vec<&str> = rows
        .iter()
        .filter(|r| r.is_ok())
        .filter_map(|r| r.run_id.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let runs: Vec<String> = file
        .runs
        .iter()
        .filter(|run| ids.contains(&run.id.as_str()))
        .map(|run| text(&run.describe()))
        .collect();
    let unnamed = rows.iter().any(|r| r.is_ok() && r.run_id.is_none());
    let header = || {
        let d = &file.device;
        format!(
            "`results.json` of {}, commit {} (rows from before runs were recorded)",
            text(&d.date),
            text(d.git_commit.as_deref().unwrap_or("unknown"))
        )
    };
    match (runs.len(), unnamed) {
        (0, _) => header(),
        (1, false) => format!("run {}", runs[0]),
        (_, false) => format!("runs {}", runs.join("; ")),
        (_, true) => format!("runs {}; and {}", runs.join("; "), header()),
    }
}

/// Where `a` and `b` come from different runs: " (across runs A and B)", to follow a ratio
/// of the two (Markdown, its ids escaped); empty within one run.
pub(super) fn across_runs(a: &ResultRow, b: &ResultRow) -> String {
    if a.run_id == b.run_id {
        return String::new();
    }
    let id = |r: &ResultRow| text(r.run_id.as_deref().unwrap_or("unnamed"));
    format!(" (across runs {} and {})", id(a), id(b))
}
