//! Argument parsing and dispatch to the subcommands. Exit codes: 0 success, 1 a kernel
//! failed or the device failed, 2 bad input (arguments, shapes, sizes past the device, files).

mod device_info;
mod devices;
mod inspect;
mod plan;
mod report;
mod run;
mod suite;
mod tune;
mod verify;

use attnbench::{AdapterChoice, Error, Gpu, Pass, Shape};
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

/// GPU attention microbenchmarks: naive vs flash-style kernels on wgpu.
#[derive(Debug, Parser)]
#[command(name = "attnbench", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Fail at once, naming the holder, when another attnbench holds a results folder's
    /// lock (default: say who holds it and wait).
    #[arg(long, global = true)]
    no_wait: bool,
    #[command(subcommand)]
    command: Command,
}

/// How to choose the adapter (flags override the WGPU_* environment variables).
#[derive(Debug, Args)]
#[command(next_help_heading = "Adapter")]
pub struct AdapterArgs {
    /// Backends to search: vulkan, gl, metal, dx12 (comma separated) [env: WGPU_BACKEND]
    #[arg(long, global = true)]
    backend: Option<String>,
    /// Power preference: high (default), low or none [env: WGPU_POWER_PREF]
    #[arg(long, global = true)]
    power: Option<String>,
    /// Use the adapter whose name contains this (case-insensitive) [env: WGPU_ADAPTER_NAME]
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Bytes of buffers the device may hold at once, e.g. 2G [env: ATTNBENCH_MEMORY_BUDGET]
    #[arg(long, global = true)]
    memory_budget: Option<String>,
    /// Plan as: device (default) or gpu — every kernel chooses what it would on a discrete
    /// GPU with this adapter's limits (verifies the GPU code paths on a CPU driver)
    /// [env: ATTNBENCH_PLAN_AS]
    #[arg(long, global = true)]
    plan_as: Option<String>,
}

impl AdapterArgs {
    fn choice(&self) -> AdapterChoice {
        AdapterChoice {
            backends: self.backend.clone(),
            power: self.power.clone(),
            name: self.adapter.clone(),
            memory_budget: self.memory_budget.clone(),
            storage_binding_cap: None,
            plan_as: self.plan_as.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every adapter with its backend, type, driver, features and key limits.
    Devices(devices::DevicesArgs),
    /// Check every kernel on a spread of shapes against the f64 CPU reference.
    Verify(verify::VerifyArgs),
    /// Time one kernel on one shape.
    Run(run::RunArgs),
    /// The whole job in one command, for a GPU box with only this binary: device report,
    /// verify, probe, tune, sweep, targets, charts (--adapter all: every adapter, compared).
    Suite(suite::SuiteArgs),
    /// Run the `cargo bench` sweep (ATTNBENCH_* variables) without criterion, with a progress bar.
    Sweep(report::SweepArgs),
    /// Regenerate charts and device READMEs from results files, running nothing.
    Plot(report::PlotArgs),
    /// Compare devices: charts with a line per (device, kernel) and a Markdown table.
    Compare(report::CompareArgs),
    /// Measure the device's ceilings: FMA peak (f32, f16), memory bandwidth, transfer rates.
    Probe(device_info::ProbeArgs),
    /// Largest n each kernel can run, and the bytes it needs at n = 4096, 16384, 100000.
    Capacity(device_info::CapacityArgs),
    /// Each kernel's plan at the suite's shapes, on this adapter or a GPU profile
    /// (--adapter-limits h100): workgroups, live floats, workgroup memory, occupancy,
    /// roofline. Runs nothing.
    Plan(plan::PlanArgs),
    /// Autotune flash's tiles per head dim and dtype; writes results/<device>/tuning.json.
    Tune(tune::TuneArgs),
    /// Print the final WGSL a kernel runs (after includes, specialization and unrolling).
    Shader(inspect::ShaderArgs),
    /// Rerun flash's version ladder on this adapter: rung, idea, ms, GFLOP/s, % of peak.
    Ladder(inspect::LadderArgs),
}

/// The problem shape, shared by `run`, `verify` and `capacity` (each says which parts it
/// needs: [`ShapeArgs::require`]).
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Shape")]
pub struct ShapeArgs {
    /// Sequence length n.
    #[arg(long)]
    pub seq_len: Option<u32>,
    /// Head dimension d.
    #[arg(long)]
    pub head_dim: Option<u32>,
    /// Batch size B [default: 1].
    #[arg(long)]
    pub batch: Option<u32>,
    /// Heads H [default: 1].
    #[arg(long)]
    pub heads: Option<u32>,
    /// Causal mask (query i sees keys j ≤ i).
    #[arg(long)]
    pub causal: bool,
    /// Heads of K and V, HKV (grouped-query attention; 1: multi-query) [default: --heads].
    /// H must be a multiple of it; query head h reads KV head h / (H / HKV).
    #[arg(long)]
    pub kv_heads: Option<u32>,
    /// Causal sliding window W: query i sees keys j with i − W < j ≤ i (implies --causal).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: Option<u32>,
    /// Which passes to run and time: fwd (inference), bwd (dQ, dK, dV from dO; the forward
    /// runs untimed) or fwd-bwd (a training step) [default: fwd].
    #[arg(long, value_parser = parse_pass)]
    pub pass: Option<Pass>,
}

fn parse_pass(text: &str) -> Result<Pass, String> {
    Pass::parse(text).map_err(|e| e.to_string())
}

impl ShapeArgs {
    /// The shape asked for; sizes not given are 1 (B, H) or 0 (n, d: refused by
    /// [`Shape::validate`] unless [`ShapeArgs::require`] was satisfied).
    pub fn shape(&self) -> Shape {
        let heads = self.heads.unwrap_or(1);
        Shape::new(self.seq_len.unwrap_or(0), self.head_dim.unwrap_or(0))
            .with_batch_heads(self.batch.unwrap_or(1), heads)
            .with_causal(self.causal)
            .with_kv_heads(self.kv_heads.unwrap_or(heads))
            .with_window(self.window)
            .with_pass(self.pass.unwrap_or_default())
    }

    /// Whether any shape argument was given (`verify` then checks that shape alone).
    pub fn any_given(&self) -> bool {
        self.seq_len.is_some()
            || self.head_dim.is_some()
            || self.batch.is_some()
            || self.heads.is_some()
            || self.kv_heads.is_some()
            || self.window.is_some()
            || self.causal
    }

    /// Refuses a shape whose `--seq-len` or `--head-dim` is missing, naming what is.
    pub fn require(&self, seq_len: bool, head_dim: bool) -> Result<(), Error> {
        let missing: Vec<&str> = [
            (seq_len && self.seq_len.is_none(), "--seq-len <SEQ_LEN>"),
            (head_dim && self.head_dim.is_none(), "--head-dim <HEAD_DIM>"),
        ]
        .into_iter()
        .filter_map(|(m, name)| m.then_some(name))
        .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidSetting {
            what: "arguments".into(),
            value: missing.join(", "),
            expected: "the following required arguments were not provided".into(),
        })
    }
}

/// Opens the chosen adapter with the tuned configurations of `kernels` (all kernels when
/// empty) from `tuning.json` in its results folder, when `attnbench tune` has run on it.
pub fn open_tuned_gpu(choice: AdapterChoice, kernels: &[&str]) -> Result<Gpu, Error> {
    let gpu = Gpu::new(choice)?;
    attnbench::tuning::apply_for(&gpu, &attnbench::tuning::results_root(), |k| {
        kernels.is_empty() || kernels.contains(&k)
    })?;
    Ok(gpu)
}

/// A subcommand's failure: the message and the exit code.
pub struct Failure {
    message: String,
    code: u8,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            code: match &e {
                Error::Interrupted => attnbench::interrupt::EXIT_CODE,
                e if e.is_input_error() => 2,
                _ => 1,
            },
            message: e.to_string(),
        }
    }
}

/// Catches Ctrl-C and SIGTERM for a command that saves what it measured when stopped
/// ([`attnbench::interrupt`]): the first signal asks its loops to stop after the current
/// step, a second one exits at once.
pub fn catch_interrupts() {
    let installed = ctrlc::set_handler(|| {
        if attnbench::interrupt::request() {
            std::process::exit(i32::from(attnbench::interrupt::EXIT_CODE));
        }
        eprintln!(
            "interrupted: stopping after the current step and saving what was measured (again: stop at once)"
        );
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will not save partial results: {e}");
    }
}

/// A failure for work stopped by a signal after `saved` was saved (exit 130).
pub fn interrupted(saved: &str) -> Failure {
    Failure {
        message: format!("interrupted; {saved}"),
        code: attnbench::interrupt::EXIT_CODE,
    }
}

impl Failure {
    /// A failure with exit code 1 (a check failed).
    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

/// clap's error as one line: its message and every line that belongs to it (e.g. the names
/// of missing arguments, which clap prints on the lines after the first), without the
/// usage and help hints.
fn one_line_clap_error(text: &str) -> String {
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    if parts.is_empty() {
        "error: invalid arguments".into()
    } else {
        parts.join(" ")
    }
}

/// Parses the arguments and runs the subcommand.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind::*;
            if matches!(
                e.kind(),
                DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(if e.kind() == DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                });
            }
            eprintln!("{}", one_line_clap_error(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let choice = cli.adapter.choice();
    attnbench::files::set_lock_wait(if cli.no_wait {
        attnbench::files::LockWait::Fail
    } else {
        attnbench::files::LockWait::Wait(|notice| eprintln!("{notice}"))
    });
    // Settings read from the environment deep inside a run are checked up front.
    let settings = [
        attnbench::kernels::flash::FlashConfig::from_env().err(),
        attnbench::kernels::flash::backward_rows::BackwardRows::from_env().err(),
        attnbench::gpu::register_cap_setting().err(),
        attnbench::gpu::shader_checks_forced().err(),
        attnbench::kernels::flash::ForcedBackward::from_env().err(),
    ];
    if let Some(e) = settings.into_iter().flatten().next() {
        eprintln!("error: {}", e.to_string().replace('\n', " "));
        return ExitCode::from(2);
    }
    let result = match &cli.command {
        Command::Devices(args) => devices::devices(args, choice),
        Command::Verify(args) => verify::verify(args, choice),
        Command::Run(args) => run::run(args, choice),
        Command::Suite(args) => suite::suite(args, choice),
        Command::Sweep(args) => report::sweep(args, choice),
        Command::Plot(args) => report::plot(args),
        Command::Compare(args) => report::compare(args),
        Command::Probe(args) => device_info::probe(args, choice),
        Command::Capacity(args) => device_info::capacity_cmd(args, choice),
        Command::Plan(args) => plan::plan(args, choice),
        Command::Tune(args) => tune::tune_cmd(args, choice),
        Command::Shader(args) => inspect::shader(args, choice),
        Command::Ladder(args) => inspect::ladder(args, choice),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message.replace('\n', " "));
            ExitCode::from(f.code)
        }
    }
}
