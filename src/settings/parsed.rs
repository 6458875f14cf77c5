//! [`Settings`]: the settings every command shares, parsed and checked, and how a bench is
//! opened from them.

use crate::bench::Bench;
use crate::error::Result;
use crate::gpu::{AdapterChoice, Gpu};
use crate::kernels::KernelOverrides;
use std::path::PathBuf;

/// The settings every command shares, parsed and checked.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How to choose the adapter and open its device.
    pub adapter: AdapterChoice,
    /// What the user fixed of the kernels' choices.
    pub kernels: KernelOverrides,
    /// Where device folders go.
    pub results_dir: PathBuf,
    /// The settings given, by variable name, as given: recorded with every run.
    pub given: Vec<(String, String)>,
}

impl Settings {
    /// Opens the chosen adapter as a bench with these overrides, nothing tuned.
    pub fn open_bench(&self) -> Result<Bench> {
        let gpu = Gpu::new(&self.adapter)?;
        let mut bench = Bench::new(gpu, self.kernels);
        bench.set_given(self.given.clone());
        Ok(bench)
    }

    /// Opens the chosen adapter as a bench with the tuned choices of the kernels `wanted`
    /// accepts, from `tuning.json` in its device folder, when `attnbench tune` has run.
    pub fn open_tuned_bench(&self, wanted: impl Fn(&str) -> bool) -> Result<Bench> {
        let mut bench = self.open_bench()?;
        crate::tuning::apply_for(&mut bench, &self.results_dir, wanted)?;
        Ok(bench)
    }
}
