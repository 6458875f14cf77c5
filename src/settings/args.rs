//! The settings as command-line arguments, each with its environment variable (clap's
//! `env`): one parser for the CLI, the benches (which read only the variables) and the
//! reference in `docs/settings.md`. Values are taken as text here and parsed by the typed
//! parsers of the layers that own them, so that a flag and its variable give the same
//! error.

use super::parsed::Settings;
use crate::error::{Error, Result};
use crate::gpu::{AdapterChoice, DeviceOptions, PlanAs, parse_register_cap, parse_shader_checks};
use crate::kernels::KernelOverrides;
use crate::kernels::flash::{BackwardRows, ForcedBackward, TilesOverride};
use crate::sweep::SweepConfig;
use crate::targets::{BURN_PEER_BUILD, BURN_PEER_NAME, BurnPeer};
use std::path::PathBuf;
use std::time::Duration;

/// How the adapter is chosen and its device opened.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Adapter")]
pub struct DeviceArgs {
    /// Backends to search: vulkan, gl, metal, dx12 (comma separated).
    #[arg(long, global = true, env = "WGPU_BACKEND")]
    pub backend: Option<String>,
    /// Power preference: high (default), low or none.
    #[arg(long, global = true, env = "WGPU_POWER_PREF")]
    pub power: Option<String>,
    /// Use the adapter whose name contains this (case-insensitive; `suite` also takes
    /// `all`).
    #[arg(long, global = true, env = "WGPU_ADAPTER_NAME")]
    pub adapter: Option<String>,
    /// Bytes of buffers the device may hold at once, e.g. 2G (default: the backend's
    /// heap, else host memory).
    #[arg(long, global = true, env = "ATTNBENCH_MEMORY_BUDGET")]
    pub memory_budget: Option<String>,
    /// Most live floats per invocation a GPU plan may hold: 16..=4096, or off (default
    /// 128; CPU drivers are never capped). For experiments.
    #[arg(long, global = true, env = "ATTNBENCH_REGISTER_CAP")]
    pub register_cap: Option<String>,
    /// `on`: naga's runtime checks on every shader, also those audited in bounds (for
    /// debugging); `auto` (default): only where a kernel is not audited.
    #[arg(long, global = true, env = "ATTNBENCH_SHADER_CHECKS")]
    pub shader_checks: Option<String>,
    /// Print each pipeline's compile time.
    #[arg(long, global = true, env = "ATTNBENCH_LOG_COMPILES")]
    pub log_compiles: bool,
    /// Plan as: device (default) or gpu — every kernel chooses what it would on a discrete
    /// GPU with this adapter's limits (to verify the GPU code paths on a CPU driver).
    #[arg(long, global = true, env = "ATTNBENCH_PLAN_AS")]
    pub plan_as: Option<String>,
}

/// What the user fixes of the kernels' own choices (for experiments and tests).
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Kernel overrides")]
pub struct KernelArgs {
    /// flash's forward tiles: `tiles,BLOCK_Q,ROWS,BLOCK_KV[,LANES]`,
    /// `broadcast,BLOCK_Q,ROWS`, `texels,BLOCK_Q,ROWS`,
    /// `split,BLOCK_Q,ROWS,BLOCK_KV,KEY_LANES,LANES` or `split` (docs/flash-tiles.md).
    #[arg(long, global = true, env = "ATTNBENCH_FLASH_TILES")]
    pub flash_tiles: Option<String>,
    /// flash's backward layout: `broadcast`, `tiles` or `tiles,LANES` (docs/flash-tiles.md).
    #[arg(long, global = true, env = "ATTNBENCH_FLASH_BWD")]
    pub flash_bwd: Option<String>,
    /// The broadcast backward's rows: `DQ,DKDV[,BLOCK[,texels|buffers]]`
    /// (docs/flash-tiles.md).
    #[arg(long, global = true, env = "ATTNBENCH_FLASH_BWD_ROWS")]
    pub flash_bwd_rows: Option<String>,
}

/// The settings every command shares.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SettingsArgs {
    /// The adapter.
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The kernels' overrides.
    #[command(flatten)]
    pub kernels: KernelArgs,
    /// Where device folders go [default: results].
    #[arg(
        long,
        global = true,
        env = "ATTNBENCH_RESULTS_DIR",
        help_heading = "Output"
    )]
    pub results_dir: Option<PathBuf>,
}

/// `Some(text)` unless the text is empty or blank (an unset variable).
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|t| !t.trim().is_empty())
}

/// Renames the setting an [`Error::InvalidSetting`] names to `what`.
fn named(what: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::InvalidSetting {
            value, expected, ..
        } => Error::InvalidSetting {
            what: what.into(),
            value,
            expected,
        },
        other => other,
    }
}

impl DeviceArgs {
    /// The adapter choice these arguments make, every value parsed and checked (also what
    /// the peers parse, so that they pick the adapter attnbench picks).
    pub fn choice(&self) -> Result<AdapterChoice> {
        let d = self;
        let options = DeviceOptions {
            register_cap: match given(&d.register_cap) {
                Some(text) => parse_register_cap(text)?,
                None => DeviceOptions::default().register_cap,
            },
            shader_checks: given(&d.shader_checks)
                .map(parse_shader_checks)
                .transpose()?
                .unwrap_or(false),
            log_compiles: d.log_compiles,
            plan_as: given(&d.plan_as)
                .map(PlanAs::parse)
                .transpose()?
                .unwrap_or_default(),
        };
        if let Some(text) = given(&d.memory_budget) {
            crate::gpu::MemoryBudget::parse_bytes(text)?;
        }
        let adapter = AdapterChoice {
            backends: given(&d.backend).map(str::to_string),
            power: given(&d.power).map(str::to_string),
            name: given(&d.adapter).map(str::to_string),
            memory_budget: given(&d.memory_budget).map(str::to_string),
            storage_binding_cap: None,
            options,
        };
        adapter.backends()?;
        adapter.power()?;
        Ok(adapter)
    }
}

impl SettingsArgs {
    /// The settings, every value parsed and checked; conflicting values refused.
    pub fn settings(&self) -> Result<Settings> {
        Ok(Settings {
            adapter: self.device.choice()?,
            kernels: self.kernels.overrides()?,
            results_dir: self
                .results_dir
                .clone()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or_else(|| PathBuf::from("results")),
            given: self.given(),
        })
    }

    /// The settings given, by variable name, as given (what a run records).
    fn given(&self) -> Vec<(String, String)> {
        let (d, k) = (&self.device, &self.kernels);
        let mut out: Vec<(String, String)> = [
            ("WGPU_BACKEND", &d.backend),
            ("WGPU_POWER_PREF", &d.power),
            ("WGPU_ADAPTER_NAME", &d.adapter),
            ("ATTNBENCH_MEMORY_BUDGET", &d.memory_budget),
            ("ATTNBENCH_REGISTER_CAP", &d.register_cap),
            ("ATTNBENCH_SHADER_CHECKS", &d.shader_checks),
            ("ATTNBENCH_PLAN_AS", &d.plan_as),
            ("ATTNBENCH_FLASH_TILES", &k.flash_tiles),
            ("ATTNBENCH_FLASH_BWD", &k.flash_bwd),
            ("ATTNBENCH_FLASH_BWD_ROWS", &k.flash_bwd_rows),
        ]
        .into_iter()
        .filter_map(|(name, value)| given(value).map(|v| (name.to_string(), v.to_string())))
        .collect();
        if let Some(dir) = &self.results_dir {
            out.push((
                "ATTNBENCH_RESULTS_DIR".into(),
                dir.to_string_lossy().into_owned(),
            ));
        }
        out.sort();
        out
    }
}

impl KernelArgs {
    /// The overrides, parsed; the broadcast backward's rows refused beside a forced tile
    /// layout (which has no such rows).
    pub fn overrides(&self) -> Result<KernelOverrides> {
        let flash_tiles = given(&self.flash_tiles)
            .map(|t| TilesOverride::parse(t).map_err(named("ATTNBENCH_FLASH_TILES")))
            .transpose()?;
        let flash_backward = given(&self.flash_bwd)
            .map(ForcedBackward::parse)
            .transpose()?;
        let flash_backward_rows = given(&self.flash_bwd_rows)
            .map(BackwardRows::parse)
            .transpose()?;
        if let (Some(ForcedBackward::Tiles(_)), Some(_)) = (flash_backward, flash_backward_rows) {
            return Err(Error::InvalidSetting {
                what: "ATTNBENCH_FLASH_BWD_ROWS".into(),
                value: self.flash_bwd_rows.clone().unwrap_or_default(),
                expected: "no rows with ATTNBENCH_FLASH_BWD=tiles: the rows are the broadcast backward's, the tile layout has its own".into(),
            });
        }
        Ok(KernelOverrides {
            flash_tiles,
            flash_backward,
            flash_backward_rows,
        })
    }
}

/// What a sweep measures and its budgets (`attnbench sweep`, `suite`, `cargo bench`).
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Sweep")]
pub struct SweepArgs {
    /// Sequence lengths, e.g. 256,1024,4096 [default: doubling from --min-seq-len to
    /// --max-seq-len].
    #[arg(long, env = "ATTNBENCH_SEQ_LENS")]
    pub seq_lens: Option<String>,
    /// Smallest n of the doubling [default: 128].
    #[arg(long, env = "ATTNBENCH_MIN_SEQ_LEN")]
    pub min_seq_len: Option<String>,
    /// Largest n of the doubling [default: 1048576].
    #[arg(long, env = "ATTNBENCH_MAX_SEQ_LEN")]
    pub max_seq_len: Option<String>,
    /// Head dims, one family each [default: 64].
    #[arg(long, env = "ATTNBENCH_HEAD_DIMS")]
    pub head_dims: Option<String>,
    /// Batch B [default: 1].
    #[arg(long, env = "ATTNBENCH_BATCH")]
    pub batch: Option<String>,
    /// Heads H [default: 1].
    #[arg(long, env = "ATTNBENCH_HEADS")]
    pub heads: Option<String>,
    /// Heads of K and V (grouped-query attention; a divisor of H) [default: H].
    #[arg(long, env = "ATTNBENCH_KV_HEADS")]
    pub kv_heads: Option<String>,
    /// W of the sliding-window family, or none [default: 1024].
    #[arg(long, env = "ATTNBENCH_WINDOW")]
    pub window: Option<String>,
    /// Causal families: false, true or both [default: both].
    #[arg(long, env = "ATTNBENCH_CAUSAL")]
    pub causal: Option<String>,
    /// Training families (fwd-bwd, bwd): all or none [default: all].
    #[arg(long, env = "ATTNBENCH_TRAINING")]
    pub training: Option<String>,
    /// Head dims of the head-dim family, or none [default: 32,64,128,256].
    #[arg(long, env = "ATTNBENCH_HEAD_DIM_SWEEP")]
    pub head_dim_sweep: Option<String>,
    /// n of the head-dim family [default: 1024].
    #[arg(long, env = "ATTNBENCH_HEAD_DIM_SWEEP_N")]
    pub head_dim_sweep_n: Option<String>,
    /// Kernels, comma separated or repeated [default: all registered].
    #[arg(
        long,
        visible_alias = "kernel",
        env = "ATTNBENCH_KERNELS",
        value_delimiter = ','
    )]
    pub kernels: Vec<String>,
    /// Seconds one run may take before its kernel's line stops [default: 6].
    #[arg(long, env = "ATTNBENCH_TIME_BUDGET")]
    pub run_budget: Option<String>,
    /// Seconds the whole sweep may take, spent on the argument first, or none [default:
    /// 480].
    #[arg(long, env = "ATTNBENCH_SWEEP_BUDGET")]
    pub sweep_budget: Option<String>,
    /// Seed of the random inputs [default: 0].
    #[arg(long, env = "ATTNBENCH_SEED")]
    pub seed: Option<String>,
}

impl SweepArgs {
    /// The value given for the setting whose variable is `key`.
    fn lookup(&self, key: &str) -> Option<String> {
        if key == "ATTNBENCH_KERNELS" {
            return (!self.kernels.is_empty()).then(|| self.kernels.join(","));
        }
        let value = match key {
            "ATTNBENCH_SEQ_LENS" => &self.seq_lens,
            "ATTNBENCH_MIN_SEQ_LEN" => &self.min_seq_len,
            "ATTNBENCH_MAX_SEQ_LEN" => &self.max_seq_len,
            "ATTNBENCH_HEAD_DIMS" => &self.head_dims,
            "ATTNBENCH_BATCH" => &self.batch,
            "ATTNBENCH_HEADS" => &self.heads,
            "ATTNBENCH_KV_HEADS" => &self.kv_heads,
            "ATTNBENCH_WINDOW" => &self.window,
            "ATTNBENCH_CAUSAL" => &self.causal,
            "ATTNBENCH_TRAINING" => &self.training,
            "ATTNBENCH_HEAD_DIM_SWEEP" => &self.head_dim_sweep,
            "ATTNBENCH_HEAD_DIM_SWEEP_N" => &self.head_dim_sweep_n,
            "ATTNBENCH_TIME_BUDGET" => &self.run_budget,
            "ATTNBENCH_SWEEP_BUDGET" => &self.sweep_budget,
            "ATTNBENCH_SEED" => &self.seed,
            _ => return None,
        };
        given(value).map(str::to_string)
    }

    /// The sweep these arguments describe, its results going under `settings`' folder.
    pub fn config(&self, settings: &Settings) -> Result<SweepConfig> {
        let mut config = SweepConfig::from_lookup(|key| self.lookup(key))?;
        config.results_dir = settings.results_dir.clone();
        Ok(config)
    }
}

/// The targets bench's own settings.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Targets")]
pub struct TargetsArgs {
    /// Seconds the targets may take, or none [default: 360].
    #[arg(long, env = "ATTNBENCH_TARGETS_BUDGET")]
    pub targets_budget: Option<String>,
    /// The Python interpreter of the numpy and PyTorch peers [default: python3].
    #[arg(long, env = "ATTNBENCH_PYTHON")]
    pub python: Option<String>,
    /// The Burn peer, an `attnbench-burn-peer` executable [default: the one beside
    /// attnbench's, if any; `cargo build --release -p attnbench-burn-peer` builds it there].
    #[arg(long, env = "ATTNBENCH_BURN_PEER")]
    pub burn_peer: Option<PathBuf>,
}

/// Seconds the targets may take unless told otherwise.
pub const DEFAULT_TARGETS_BUDGET_S: u64 = 360;

impl TargetsArgs {
    /// The targets' time budget (`None`: unbounded).
    pub fn budget(&self) -> Result<Option<Duration>> {
        match given(&self.targets_budget) {
            Some(text) if text.trim() == "none" => Ok(None),
            Some(text) => crate::parse::seconds("ATTNBENCH_TARGETS_BUDGET", text).map(Some),
            None => Ok(Some(Duration::from_secs(DEFAULT_TARGETS_BUDGET_S))),
        }
    }

    /// The Python interpreter.
    pub fn python(&self) -> String {
        given(&self.python).unwrap_or("python3").to_string()
    }

    /// The Burn peer: the one named, which must be a file, else the one beside the running
    /// executable (a bench harness: beside cargo's `deps/` folder), when there is one.
    pub fn burn_peer(&self) -> Result<BurnPeer> {
        let named = self.burn_peer.clone().filter(|p| !p.as_os_str().is_empty());
        match named {
            Some(path) if path.is_file() => Ok(BurnPeer::At(path)),
            Some(path) => Err(Error::InvalidSetting {
                what: "Burn peer (ATTNBENCH_BURN_PEER / --burn-peer)".into(),
                value: path.display().to_string(),
                expected: format!(
                    "an {BURN_PEER_NAME} executable (`{BURN_PEER_BUILD}` builds one beside attnbench)"
                ),
            }),
            None => Ok(BurnPeer::beside(std::env::current_exe().ok().as_deref())),
        }
    }
}

/// Every setting a bench harness reads: it takes no flags of its own (criterion owns the
/// command line), so only the variables count.
#[derive(Clone, Debug, Default, clap::Parser)]
#[command(name = "attnbench-bench", no_binary_name = true)]
pub struct BenchArgs {
    /// The shared settings.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// The sweep.
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// The targets.
    #[command(flatten)]
    pub targets: TargetsArgs,
}

impl BenchArgs {
    /// The settings from the environment alone (after [`super::check_environment`]).
    pub fn from_env() -> Result<BenchArgs> {
        super::env::check_environment()?;
        <BenchArgs as clap::Parser>::try_parse_from(std::iter::empty::<String>()).map_err(|e| {
            Error::InvalidSetting {
                what: "environment".into(),
                value: String::new(),
                expected: e.to_string().lines().next().unwrap_or_default().to_string(),
            }
        })
    }
}

impl Settings {
    /// The settings of the variables alone (a bench harness, a test), through the same
    /// parser as the flags.
    pub fn from_env() -> Result<Settings> {
        BenchArgs::from_env()?.settings.settings()
    }
}
