//! Which run a report's figures come from. Every table or ratio a report states names its
//! source through [`source`], so that provenance lives in one place: today a results file
//! has one header (its commit and date), although merging re-runs can mix runs in it; once
//! rows name their run (`run_id`, issue 22) this is where each figure names its runs, and
//! where a ratio of rows from two runs says so.

use crate::results::{ResultRow, ResultsFile};

/// The source of `rows` of `file`, as a sentence fragment: "`results.json` of
/// 2026-11-26T17:31:08Z, commit c48051127a1f".
pub(super) fn source(file: &ResultsFile, _rows: &[&ResultRow]) -> String {
    let d = &file.device;
    format!(
        "`results.json` of {}, commit {} (a file can merge several runs; its rows do not name theirs yet)",
        d.date,
        d.git_commit.as_deref().unwrap_or("unknown")
    )
}
