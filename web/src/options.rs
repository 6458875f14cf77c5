//! What the page asks for: the settings of its form, or of the URL in automated runs
//! (`?auto&budget=S&kernels=…&max_n=…`), as text, checked here with the native settings
//! parsers (the same ranges and messages as the command line). Seeds are text both ways:
//! a u64 above 2^53 loses digits as a JavaScript number.

use attnbench::Kernel;
use attnbench::kernels::find_kernel;
use attnbench::parse::{number, seconds};
use serde::Deserialize;
use std::time::Duration;

/// The page's settings as text; missing ones take the defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageOptions {
    /// Comma-separated registry names; default `naive,flash`.
    #[serde(default)]
    pub kernels: Option<String>,
    /// Seconds the whole run (verification and sweep) may take; default 120.
    #[serde(default)]
    pub budget: Option<String>,
    /// Smallest n of the sweep; default 128.
    #[serde(default)]
    pub min_n: Option<String>,
    /// Largest n of the sweep; default 16384.
    #[serde(default)]
    pub max_n: Option<String>,
    /// Seed of the sweep's inputs; default 0.
    #[serde(default)]
    pub seed: Option<String>,
    /// Seed of verification's inputs; default a fresh one (a published seed reproduces a
    /// run's checks).
    #[serde(default)]
    pub verify_seed: Option<String>,
    /// Peers measured beside the kernels: `ort` (ONNX Runtime Web, the default) or `none`.
    #[serde(default)]
    pub peers: Option<String>,
}

/// The kernels the page runs unless told otherwise: the two sides of the quadratic wall.
pub const DEFAULT_KERNELS: &str = "naive,flash";

/// The default budget of a whole run, seconds.
pub const DEFAULT_BUDGET_S: u64 = 120;

/// The settings, checked.
pub struct Settings {
    /// The kernels verified and swept, in the order given.
    pub kernels: Vec<&'static dyn Kernel>,
    /// The whole run's budget.
    pub budget: Duration,
    /// Smallest and largest n.
    pub min_n: u32,
    /// Largest n.
    pub max_n: u32,
    /// Seed of the sweep's inputs.
    pub seed: u64,
    /// Seed of verification's inputs, when given.
    pub verify_seed: Option<u64>,
    /// Whether ONNX Runtime Web is measured beside the kernels.
    pub ort_peer: bool,
    /// Every setting as (name, value): the run record's settings.
    pub recorded: Vec<(String, String)>,
}

impl PageOptions {
    /// Checks every setting; the first bad one is the error.
    pub fn settings(&self) -> Result<Settings, String> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        let err = |e: attnbench::Error| e.to_string();
        let kernel_list = text(&self.kernels).unwrap_or_else(|| DEFAULT_KERNELS.into());
        let mut kernels: Vec<&'static dyn Kernel> = Vec::new();
        for name in kernel_list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let kernel = find_kernel(name).map_err(err)?;
            if !kernels.iter().any(|k| k.name() == kernel.name()) {
                kernels.push(kernel);
            }
        }
        if kernels.is_empty() {
            return Err(format!("kernels: no kernel named in {kernel_list:?}"));
        }
        let budget = match text(&self.budget) {
            Some(t) => seconds("budget", &t).map_err(err)?,
            None => Duration::from_secs(DEFAULT_BUDGET_S),
        };
        let n = |v: &Option<String>, what: &str, default: u32| -> Result<u32, String> {
            let n = match text(v) {
                Some(t) => number::<u32>(what, &t).map_err(err)?,
                None => default,
            };
            if n == 0 {
                return Err(format!("{what}: must be at least 1"));
            }
            Ok(n)
        };
        let min_n = n(&self.min_n, "min_n", 128)?;
        let max_n = n(&self.max_n, "max_n", 16384)?;
        if min_n > max_n {
            return Err(format!("min_n {min_n} is above max_n {max_n}"));
        }
        let seed = match text(&self.seed) {
            Some(t) => number::<u64>("seed", &t).map_err(err)?,
            None => 0,
        };
        let verify_seed = text(&self.verify_seed)
            .map(|t| number::<u64>("verify_seed", &t).map_err(err))
            .transpose()?;
        let ort_peer = match text(&self.peers).as_deref() {
            None | Some("ort") => true,
            Some("none") => false,
            Some(other) => return Err(format!("peers: {other:?} is neither ort nor none")),
        };
        let names: Vec<&str> = kernels.iter().map(|k| k.name()).collect();
        let recorded = vec![
            ("kernels".to_string(), names.join(",")),
            ("budget_s".to_string(), budget.as_secs_f64().to_string()),
            ("min_n".to_string(), min_n.to_string()),
            ("max_n".to_string(), max_n.to_string()),
            ("seed".to_string(), seed.to_string()),
            (
                "peers".to_string(),
                if ort_peer { "ort" } else { "none" }.to_string(),
            ),
        ];
        Ok(Settings {
            kernels,
            budget,
            min_n,
            max_n,
            seed,
            verify_seed,
            ort_peer,
            recorded,
        })
    }
}
