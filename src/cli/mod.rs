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

use attnbench::settings::{Settings, SettingsArgs};
use attnbench::{Bench, Error, Pass, Shape};
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

/// GPU attention microbenchmarks: naive vs flash-style kernels on wgpu.
#[derive(Debug, Parser)]
#[command(name = "attnbench", version, about, long_about = None)]
pub struct Cli {
    /// The settings every command shares (adapter, kernel overrides, results folder),
    /// each a flag and a variable.
    #[command(flatten)]
    settings: SettingsArgs,
    /// Fail at once, naming the holder, when another attnbench holds a results folder's
    /// lock (default: say who holds it and wait).
    #[arg(long, global = true)]
    no_wait: bool,
    #[command(subcommand)]
    command: Command,
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
    /// Run the `cargo bench` sweep without criterion, with a progress bar (its flags or
    /// the same ATTNBENCH_* variables `cargo bench` reads).
    Sweep(report::SweepCommandArgs),
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
    /// Rerun the version ladder (textbook naive → naive → flash) on this adapter, each rung
    /// verified first: rung, idea, ms, GFLOP/s, % of peak.
    Ladder(inspect::LadderArgs),
    /// Print the reference of every setting (flag, variable, meaning) as Markdown
    /// (docs/settings.md).
    Settings,
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

/// Opens the chosen adapter as a bench with the tuned configurations of `kernels` (all
/// kernels when empty) from `tuning.json` in its results folder, when `attnbench tune` has
/// run on it.
pub fn open_tuned_bench(settings: &Settings, kernels: &[&str]) -> Result<Bench, Error> {
    settings.open_tuned_bench(|k| kernels.is_empty() || kernels.contains(&k))
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

/// `attnbench sweep --samples 2`: this process's command line (lossy where an argument is
/// not UTF-8), as the locks it holds name it.
fn command_line() -> String {
    std::env::args_os()
        .enumerate()
        .map(|(i, a)| match i {
            0 => std::path::Path::new(&a)
                .file_name()
                .map_or_else(|| a.to_string_lossy(), |f| f.to_string_lossy())
                .into_owned(),
            _ => a.to_string_lossy().into_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses the arguments and runs the subcommand.
pub fn main() -> ExitCode {
    // An attnbench variable that is not text is refused before anything reads it.
    if let Err(e) = attnbench::settings::check_environment() {
        eprintln!("error: {}", e.to_string().replace('\n', " "));
        return ExitCode::from(2);
    }
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
    let wait = if cli.no_wait {
        attnbench::files::LockWait::Fail
    } else {
        attnbench::files::LockWait::Wait(|notice| eprintln!("{notice}"))
    };
    attnbench::files::set_lock_wait(wait, &command_line());
    // Every setting parsed and checked once, before any work.
    let settings = match cli.settings.settings() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {}", e.to_string().replace('\n', " "));
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::Devices(args) => devices::devices(args, &settings),
        Command::Verify(args) => verify::verify(args, &settings),
        Command::Run(args) => run::run(args, &settings),
        Command::Suite(args) => suite::suite(args, &settings),
        Command::Sweep(args) => report::sweep(args, &settings),
        Command::Plot(args) => report::plot(args, &settings),
        Command::Compare(args) => report::compare(args, &settings),
        Command::Probe(args) => device_info::probe(args, &settings),
        Command::Capacity(args) => device_info::capacity_cmd(args, &settings),
        Command::Plan(args) => plan::plan(args, &settings),
        Command::Tune(args) => tune::tune_cmd(args, &settings),
        Command::Shader(args) => inspect::shader(args, &settings),
        Command::Ladder(args) => inspect::ladder(args, &settings),
        Command::Settings => {
            print!("{}", attnbench::settings::reference_markdown());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message.replace('\n', " "));
            ExitCode::from(f.code)
        }
    }
}
