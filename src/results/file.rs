//! A device's results file ([`ResultsFile`]): header, ceilings, runs and rows, merged as
//! re-runs come in. Every file read goes through the validating loader
//! ([`super::validate`]).

use super::header::DeviceHeader;
use super::run::{Ceilings, RunRecord};
use super::schema::{ResultRow, SCHEMA};
use super::validate::StoredResultsFile;
use serde::{Deserialize, Serialize};

/// A device's results file. Every file read is checked (`results/validate.rs`): a file
/// that parses but states what no run measured (a time that is not one, an interval that
/// misses its median, two rows for one point, a row of no recorded run) is refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredResultsFile")]
pub struct ResultsFile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The device and software.
    pub device: DeviceHeader,
    /// The device's probed ceilings, when `attnbench probe` (or `cargo bench`) measured them.
    #[serde(default)]
    pub ceilings: Option<Ceilings>,
    /// Every run whose rows the file holds or held, oldest first.
    #[serde(default)]
    pub runs: Vec<RunRecord>,
    /// The points, sorted by family, kernel and n.
    pub rows: Vec<ResultRow>,
}

impl ResultsFile {
    /// An empty file for `device`.
    pub fn new(device: DeviceHeader) -> Self {
        ResultsFile {
            schema: SCHEMA.to_string(),
            device,
            ceilings: None,
            runs: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Replaces the rows with the same keys as `rows`, keeps the others, adds the new ones,
    /// and takes the newer header. A skipped row never replaces a measured one (a short,
    /// interrupted or what-if re-run skips for its own reasons): a measurement is only
    /// replaced by a newer measurement, and the older run stays listed.
    pub fn merge(&mut self, device: DeviceHeader, rows: Vec<ResultRow>) {
        self.device = device;
        for row in rows {
            match self.rows.iter_mut().find(|r| r.key() == row.key()) {
                Some(existing) if existing.is_ok() && !row.is_ok() => {}
                Some(existing) => *existing = row,
                None => self.rows.push(row),
            }
        }
        self.sort();
    }

    /// Adds `run` to the runs, replacing an earlier record of the same run (a run saves
    /// more than once: rows as they are measured, its end at the end).
    pub fn record_run(&mut self, run: RunRecord) {
        match self.runs.iter_mut().find(|r| r.id == run.id) {
            Some(existing) => *existing = run,
            None => self.runs.push(run),
        }
    }

    /// The record of the run `id`, if the file has it.
    pub fn run(&self, id: &str) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.id == id)
    }

    /// Recomputes every row's derived columns (% of peak, GB/s) from the ceilings of the
    /// run that measured it, where that run probed them, else from the device's probe.
    pub fn apply_ceilings(&mut self) {
        let runs = self.runs.clone();
        let device = self.ceilings.clone();
        for row in &mut self.rows {
            let of_run = row
                .run_id
                .as_deref()
                .and_then(|id| runs.iter().find(|r| r.id == id))
                .and_then(|r| r.ceilings_start.clone());
            let mut ceilings = of_run.or_else(|| device.clone());
            // Transfer rates come from the full probe only.
            if let (Some(c), Some(d)) = (ceilings.as_mut(), &device)
                && c.readback_gbps <= 0.0
            {
                c.readback_gbps = d.readback_gbps;
                c.upload_gbps = d.upload_gbps;
            }
            if let Some(c) = ceilings {
                row.apply_ceilings(&c);
            }
        }
    }

    /// Sorts by family, then kernel in registry order, then shape.
    pub fn sort(&mut self) {
        let order = |k: &str| {
            crate::kernels::kernel_names()
                .iter()
                .position(|n| *n == k)
                .unwrap_or(usize::MAX)
        };
        self.rows.sort_by(|a, b| {
            (
                &a.family,
                order(&a.kernel),
                &a.kernel,
                a.batch,
                a.heads,
                a.head_dim,
                a.causal,
                a.seq_len,
            )
                .cmp(&(
                    &b.family,
                    order(&b.kernel),
                    &b.kernel,
                    b.batch,
                    b.heads,
                    b.head_dim,
                    b.causal,
                    b.seq_len,
                ))
        });
    }

    /// The families present, in order.
    pub fn families(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.family) {
                out.push(r.family.clone());
            }
        }
        out
    }
}

impl TryFrom<StoredResultsFile> for ResultsFile {
    type Error = String;

    fn try_from(stored: StoredResultsFile) -> Result<Self, String> {
        let (schema, device, ceilings, runs, rows) = stored.checked()?;
        Ok(ResultsFile {
            schema,
            device,
            ceilings,
            runs,
            rows,
        })
    }
}
