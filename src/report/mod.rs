//! Reports generated from results files: the charts of one device or of several compared,
//! and the Markdown that carries them into reports, headline first.
//!
//! | module | job |
//! |---|---|
//! | `family` | one family's rows, labels and kernel styles, for every chart of it |
//! | `scaling_charts` | time, memory, throughput and roofline charts |
//! | `transfer` | compute against moving the n×n scores to the host |
//! | `stops` | where lines end: wall and time-budget marks |
//! | `family_charts` | the charts of a family, by file name; the speedup chart |
//! | `headline` | the argument's charts and key ratios, for the README's top |
//! | `tables` | every point, training growth, skipped points |
//! | `device_readme` | a device folder's README.md |
//! | `compare` | `compare.md` |
//! | `readme_results` | the project README's results section, from the committed folders |
//! | `provenance` | which run a figure comes from |
//! | `labels` | names, colours, styles, bytes and walls as text |
//! | [`manifest`] | which charts in a folder are attnbench's |

mod compare;
#[cfg(feature = "native")]
mod device_readme;
mod family;
mod family_charts;
mod headline;
mod labels;
#[cfg(feature = "native")]
pub mod manifest;
mod provenance;
#[cfg(feature = "native")]
mod readme_results;
mod scaling_charts;
mod stops;
mod tables;
mod transfer;

pub use compare::comparison_markdown;
#[cfg(feature = "native")]
pub use device_readme::{device_readme, write_device_report};
pub use family_charts::{chart_name, family_charts};
pub use headline::{headline_charts, headline_families, key_ratios};
pub use labels::{
    WALL_MARKS, device_title, human_bytes, kernel_color, kernel_style, short_device_labels,
    wall_label,
};
#[cfg(feature = "native")]
pub use readme_results::{
    README_BEGIN, README_END, current_section, readme_results, readme_section, replace_section,
};
pub use tables::{
    median_with_interval, runs_section, skipped_list, summary_table, training_growth,
};
pub use transfer::PCIE5_GBPS;

#[cfg(feature = "native")]
use crate::error::Result;
#[cfg(feature = "native")]
use crate::results::ResultsFile;
#[cfg(feature = "native")]
use std::path::{Path, PathBuf};

/// The families of `files`, in order of first appearance.
#[cfg(feature = "native")]
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
#[cfg(feature = "native")]
pub fn render_charts(files: &[&ResultsFile], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for family in all_families(files) {
        for (name, spec) in family_charts(files, &family) {
            written.extend(spec.render(&dir.join(&name))?);
        }
    }
    Ok(written)
}

/// Writes comparison charts and `compare.md` (the devices side by side, see
/// [`comparison_markdown`]) for several devices into `out`: a new or empty folder, or one
/// of an earlier comparison (a folder of other files is refused, untouched). Charts of an
/// earlier comparison that this one no longer draws are removed (only those its
/// [`manifest`] lists).
#[cfg(feature = "native")]
pub fn write_comparison(files: &[&ResultsFile], out: &Path) -> Result<Vec<PathBuf>> {
    use std::fmt::Write as _;
    manifest::check_ours_or_empty(out, "compare.md")?;
    let mut written = render_charts(files, out)?;
    let mut md = comparison_markdown(files);
    for family in all_families(files) {
        let _ = writeln!(md, "\n## {family}\n");
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
