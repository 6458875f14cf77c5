//! Charts and the comparison written to files: every family's charts of some results, and
//! a comparison folder (charts and `compare.md`).

use super::compare::comparison_markdown;
use super::family_charts::family_charts;
use super::manifest;
use crate::error::Result;
use crate::results::ResultsFile;
use std::path::{Path, PathBuf};

/// The families of `files`, in order of first appearance.
fn all_families(files: &[&ResultsFile]) -> Vec<String> {
    let mut families: Vec<String> = Vec::new();
    for f in files {
        for fam in f.families() {
            if !families.contains(&fam) {
                families.push(fam);
            }
        }
    }
    families
}

/// Renders every family's charts into `dir`; returns the paths written (PNG and SVG).
/// Their names are added to the folder's chart list ([`manifest::claim`]) before the
/// first is drawn, so that no run of it leaves a chart the list does not name. Only
/// families this attnbench knows are drawn (a family of a file from elsewhere that it does
/// not know is listed in the tables, never charted).
pub fn render_charts(files: &[&ResultsFile], dir: &Path) -> Result<Vec<PathBuf>> {
    let charts: Vec<(String, crate::charts::ChartSpec)> = all_families(files)
        .iter()
        .filter(|family| is_known(files, family))
        .flat_map(|family| family_charts(files, family))
        .collect();
    let names: Vec<String> = charts
        .iter()
        .flat_map(|(name, _)| ["png", "svg"].map(|ext| format!("{name}.{ext}")))
        .collect();
    manifest::claim(dir, &names)?;
    let mut written = Vec::new();
    for (name, spec) in charts {
        written.extend(spec.render(&dir.join(&name))?);
    }
    Ok(written)
}

/// Whether every row of `family` in `files` has a family kind (a family this attnbench
/// knows).
pub(super) fn is_known(files: &[&ResultsFile], family: &str) -> bool {
    files
        .iter()
        .flat_map(|f| f.rows.iter())
        .filter(|r| r.family == family)
        .all(|r| r.family_kind.is_some())
}

/// Writes comparison charts and `compare.md` (the devices side by side, see
/// [`comparison_markdown`]) for several devices into `out`: a new or empty folder, or one
/// of an earlier comparison (a folder of other files is refused, untouched). Charts of an
/// earlier comparison that this one no longer draws are removed (only those its
/// [`manifest`] lists).
pub fn write_comparison(files: &[&ResultsFile], out: &Path) -> Result<Vec<PathBuf>> {
    use std::fmt::Write as _;
    manifest::check_ours_or_empty(out, "compare.md")?;
    let mut written = render_charts(files, out)?;
    let mut md = comparison_markdown(files);
    for family in all_families(files) {
        let _ = writeln!(md, "\n## {}\n", crate::markdown::text(&family));
        if !is_known(files, &family) {
            let _ = writeln!(md, "A family this attnbench does not know: not charted.\n");
            continue;
        }
        for (name, _) in family_charts(files, &family) {
            let _ = writeln!(md, "![{name}]({name}.png)\n");
        }
    }
    let path = out.join("compare.md");
    crate::files::write_atomic(&path, md.as_bytes())?;
    written.push(path);
    manifest::replace_charts(out, &written)?;
    Ok(written)
}
