//! `attnbench-burn-peer`: Burn's attention (`burn::tensor::module::attention` on the wgpu
//! backend: tracel-ai's cubek kernels, autotuned) on the adapter attnbench picks, through the
//! same wgpu, timed and checked the way attnbench times and checks its own kernels, printed
//! as one row of attnbench's results schema. attnbench's targets run it as a child process
//! (`--serve`: one sample per request, between flash's samples).
//!
//! ```text
//! cargo build --release -p attnbench-burn-peer
//! WGPU_BACKEND=vulkan target/release/attnbench-burn-peer --seq-len 2048 --head-dim 64 --json
//! ```

mod attention;
mod autotune;
mod device;
mod error;
mod row;

use crate::attention::BurnAttention;
use crate::error::PeerError;
use attnbench::kernels::Precision;
use attnbench::settings::DeviceArgs;
use attnbench::targets::{BurnRow, PeerCommand, PeerMessage};
use attnbench::tensors::{AttentionInputs, write_npy};
use attnbench::{Error, Shape};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// The precision Burn computes in.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Dtype {
    F32,
    F16,
}

/// Burn's attention on one problem, on the adapter attnbench would pick.
#[derive(Debug, clap::Parser)]
#[command(name = "attnbench-burn-peer", version)]
struct PeerArgs {
    /// Backends to search: vulkan, gl, metal, dx12 (comma separated), as attnbench's.
    #[arg(long, env = "WGPU_BACKEND", help_heading = "Adapter")]
    backend: Option<String>,
    /// Power preference: high (default), low or none, as attnbench's.
    #[arg(long, env = "WGPU_POWER_PREF", help_heading = "Adapter")]
    power: Option<String>,
    /// Use the adapter whose name contains this (case-insensitive), as attnbench's.
    #[arg(long, env = "WGPU_ADAPTER_NAME", help_heading = "Adapter")]
    adapter: Option<String>,
    /// Sequence length n.
    #[arg(long)]
    seq_len: Option<u32>,
    /// Head dimension d.
    #[arg(long)]
    head_dim: Option<u32>,
    /// Batch size B [default: 1].
    #[arg(long)]
    batch: Option<u32>,
    /// Heads H [default: 1].
    #[arg(long)]
    heads: Option<u32>,
    /// Heads of K and V, HKV (grouped-query attention), a divisor of H [default: --heads].
    #[arg(long)]
    kv_heads: Option<u32>,
    /// Causal mask (query i sees keys j ≤ i).
    #[arg(long)]
    causal: bool,
    /// The precision Burn computes in (the inputs are f32 either way).
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Seed of the random inputs (attnbench's generator: `attnbench run --seed`).
    #[arg(long, default_value_t = 0, help_heading = "Tensors")]
    seed: u64,
    /// Run on q.npy, k.npy, v.npy from this folder ([B, H, n, d] f32, as `attnbench run
    /// --save-tensors` writes them) instead of random inputs.
    #[arg(long, help_heading = "Tensors")]
    load_tensors: Option<PathBuf>,
    /// Write Burn's output as o.npy into this folder.
    #[arg(long, help_heading = "Tensors")]
    save_output: Option<PathBuf>,
    /// Timed samples, each of enough calls to last ≥ 10 ms and ending with a device sync.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    samples: u32,
    /// Print the row as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Take a sample per `sample` line on stdin and answer each with a JSON line; `finish`
    /// ends with the row (attnbench's targets drive the peer this way).
    #[arg(long)]
    serve: bool,
}

impl PeerArgs {
    /// The inputs: the files' (sizes given are checked against them), or random.
    fn inputs(&self) -> Result<AttentionInputs, PeerError> {
        let Some(dir) = &self.load_tensors else {
            let (Some(n), Some(d)) = (self.seq_len, self.head_dim) else {
                return Err(Error::InvalidShape(
                    "--seq-len and --head-dim are needed without --load-tensors".into(),
                )
                .into());
            };
            let heads = self.heads.unwrap_or(1);
            let shape = Shape::new(n, d)
                .with_batch_heads(self.batch.unwrap_or(1), heads)
                .with_kv_heads(self.kv_heads.unwrap_or(heads))
                .with_causal(self.causal);
            shape.validate()?;
            return Ok(AttentionInputs::random(shape, self.seed)?);
        };
        let inputs = AttentionInputs::load_npy_dir(dir, self.causal, None)?;
        inputs.check_finite(dir)?;
        let s = inputs.shape;
        let asked = [
            ("seq-len", self.seq_len, s.seq_len),
            ("head-dim", self.head_dim, s.head_dim),
            ("batch", self.batch, s.batch),
            ("heads", self.heads, s.heads),
            ("kv-heads", self.kv_heads, s.kv_head_count()),
        ];
        for (name, wanted, found) in asked {
            if let Some(w) = wanted.filter(|&w| w != found) {
                let why = format!("--{name} {w} differs from the loaded tensors' {found}");
                return Err(Error::InvalidShape(why).into());
            }
        }
        if inputs.query_rows() != s.seq_len {
            let why = "q.npy holds fewer rows than k.npy: the peer times prefill, every row";
            return Err(Error::InvalidShape(why.into()).into());
        }
        Ok(inputs)
    }

    /// The adapter choice, parsed by attnbench's own parser.
    fn choice(&self) -> Result<attnbench::AdapterChoice, PeerError> {
        let device = DeviceArgs {
            backend: self.backend.clone(),
            power: self.power.clone(),
            adapter: self.adapter.clone(),
            ..DeviceArgs::default()
        };
        Ok(device.choice()?)
    }
}

/// Burn's attention on the problem, warmed up (autotune included) and calibrated.
struct Prepared {
    inputs: AttentionInputs,
    precision: Precision,
    attention: BurnAttention,
    calls: u64,
    one_call_ms: f64,
    autotune: Option<(String, Vec<attnbench::targets::AutotuneCandidate>)>,
    adapter: (String, String),
    /// CubeCL's decision log lives here.
    _logs: tempfile::TempDir,
}

fn prepare(args: &PeerArgs) -> Result<Prepared, PeerError> {
    let logs = tempfile::tempdir()
        .map_err(|e| PeerError::Device(format!("creating a temporary folder: {e}")))?;
    let decisions = logs.path().join("autotune-decisions.jsonl");
    device::configure_cubecl(&decisions)?;
    let choice = args.choice()?;
    let inputs = args.inputs()?;
    let opened = device::open(&choice)?;
    let (precision, dtype) = match args.dtype {
        Dtype::F32 => (Precision::F32, burn::tensor::DType::F32),
        Dtype::F16 if opened.shader_f16 => (Precision::F16, burn::tensor::DType::F16),
        Dtype::F16 => {
            let why = format!("{} has no f16 in shaders", opened.adapter);
            return Err(PeerError::Device(why));
        }
    };
    let attention = BurnAttention::new(&inputs, &opened.device, dtype);
    // Warm-up: the first call autotunes (every candidate compiled and timed), the second
    // runs the choice.
    for _ in 0..2 {
        drop(attention.call());
        attention.sync()?;
    }
    let autotune = autotune::attention_decision(&decisions);
    let one_call_ms = attention.sample(1)?;
    Ok(Prepared {
        inputs,
        precision,
        attention,
        calls: BurnAttention::calls_per_sample(one_call_ms),
        one_call_ms,
        autotune,
        adapter: (opened.adapter, opened.backend),
        _logs: logs,
    })
}

impl Prepared {
    /// The row of `samples_ms`, the output written where asked.
    fn row(self, args: &PeerArgs, samples_ms: Vec<f64>) -> Result<BurnRow, PeerError> {
        let reserved_bytes = self.attention.reserved_bytes()?;
        let output = self.attention.output()?;
        if let Some(dir) = &args.save_output {
            let s = self.inputs.shape;
            write_npy(
                &dir.join("o.npy"),
                [s.batch, s.heads, s.seq_len, s.head_dim],
                &output,
            )?;
        }
        row::Measured {
            inputs: &self.inputs,
            precision: self.precision,
            samples_ms,
            calls_per_sample: self.calls,
            output: &output,
            autotune: self.autotune,
            reserved_bytes,
            adapter: self.adapter,
        }
        .row()
    }
}

/// Measures on its own: `--samples` samples, then the row.
fn measure(args: &PeerArgs) -> Result<BurnRow, PeerError> {
    let prepared = prepare(args)?;
    let samples = (0..args.samples)
        .map(|_| prepared.attention.sample(prepared.calls))
        .collect::<Result<Vec<_>, _>>()?;
    prepared.row(args, samples)
}

/// Serves attnbench: ready, then a sample per `sample`, the row at `finish`.
fn serve(args: &PeerArgs) -> Result<(), PeerError> {
    let prepared = prepare(args)?;
    say(&PeerMessage::Ready {
        adapter: prepared.adapter.0.clone(),
        backend: prepared.adapter.1.clone(),
        calls_per_sample: prepared.calls,
        sample_ms: prepared.one_call_ms * prepared.calls as f64,
        strategy: prepared.autotune.as_ref().map(|(s, _)| s.clone()),
    });
    let mut samples = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| PeerError::Device(format!("reading stdin: {e}")))?;
        match PeerCommand::parse(&line) {
            Some(PeerCommand::Sample) => {
                let ms = prepared.attention.sample(prepared.calls)?;
                samples.push(ms);
                say(&PeerMessage::Sample { ms });
            }
            Some(PeerCommand::Finish) => {
                let row = prepared.row(args, samples)?;
                say(&PeerMessage::Row { row: Box::new(row) });
                return Ok(());
            }
            None => {
                let why = format!("unknown command {line:?} (sample, finish)");
                return Err(PeerError::Device(why));
            }
        }
    }
    Ok(())
}

/// One message on stdout.
fn say(message: &PeerMessage) {
    println!("{}", message.line());
}

/// Ends the process at the first panic on any thread, after the default report (on
/// stderr) and, when serving, a `failed` message. CubeCL polls the device on a watcher
/// thread: when that thread panics (wgpu-core 30.0.2's race in `Device::maintain`,
/// gfx-rs/wgpu#9958) the main thread waits for the device forever, so a panic anywhere is
/// the end of the measurement, and attnbench must see it as a crash, not a hang.
fn end_at_any_panic(serving: bool) {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        if serving {
            say(&PeerMessage::Failed {
                reason: format!("Burn panicked: {info}"),
                input_error: false,
            });
        }
        std::process::abort();
    }));
}

fn main() -> ExitCode {
    let args = <PeerArgs as clap::Parser>::parse();
    end_at_any_panic(args.serve);
    let result = if args.serve {
        serve(&args).map(|()| true)
    } else {
        measure(&args).map(|row| {
            print_row(&row, args.json);
            row.verified
        })
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        // The row is printed; a wrong output is still a failure.
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            if args.serve {
                say(&PeerMessage::Failed {
                    reason: e.to_string(),
                    input_error: e.is_input_error(),
                });
            }
            eprintln!("error: {e}");
            ExitCode::from(if e.is_input_error() { 2 } else { 1 })
        }
    }
}

/// The row as JSON or as a line of text; a row that failed its check is said so on stderr.
fn print_row(row: &BurnRow, json: bool) {
    let r = &row.row;
    if json {
        println!("{}", serde_json::to_string(row).unwrap_or_default());
    } else {
        println!(
            "burn {} on {} ({}), {}: {:.3} ms ({}), {:.1} GFLOP/s, strategy {}, rel. L2 error {:.1e}",
            row.burn_version,
            row.adapter,
            row.backend,
            r.shape(),
            r.median_ms.unwrap_or(f64::NAN),
            r.interval().map_or("one sample".into(), |i| i.with_ends(3)),
            r.gflops.unwrap_or(f64::NAN),
            r.config.as_deref().unwrap_or("?"),
            row.rel_l2_error.unwrap_or(f64::NAN),
        );
    }
    if !row.verified {
        eprintln!(
            "Burn's output failed the check: rel. L2 error {:?} (tolerance {:.0e}), {} non-finite",
            row.rel_l2_error, row.tolerance, row.non_finite
        );
    }
}
