//! The charts the page shows: each family's time chart (with the n² law), memory chart
//! (with the 67 MB / 1.07 GB / 40 GB marks of the score matrix) and, where the run probed
//! the device's ceilings, roofline chart, drawn by the report code the native `attnbench
//! plot` uses, as SVG (plotters measures text through the page's DOM, so this runs on the
//! main thread).

use attnbench::report::family_charts;
use attnbench::results::ResultsFile;
use serde::Serialize;

/// One chart.
#[derive(Serialize)]
pub struct Chart {
    /// Its file stem, e.g. `time-prefill-d64`.
    pub name: String,
    /// The SVG text.
    pub svg: String,
}

/// The time, memory and roofline charts of every family in `file`.
pub fn charts(file: &ResultsFile) -> Result<Vec<Chart>, String> {
    let mut out = Vec::new();
    for family in file.families() {
        for (name, spec) in family_charts(&[file], &family) {
            if ["time-", "memory-", "roofline-"]
                .iter()
                .any(|kind| name.starts_with(kind))
            {
                let svg = spec.svg().map_err(|e| format!("chart {name}: {e}"))?;
                out.push(Chart { name, svg });
            }
        }
    }
    Ok(out)
}
