//! naive against the materializing peers on the same silicon and inputs: numpy's BLAS
//! attention (`q @ k.T`, softmax, `@ v`, `benches/numpy_attention.py`) and PyTorch's
//! `SDPBackend.MATH` (`benches/torch_attention.py --backends math`, on the torch device that
//! is the adapter: the CPU for a CPU driver). All three write the n×n matrix; what differs is
//! how well each phase runs, so these ratios say whether naive is an honest baseline. The
//! three are timed in interleaved rounds (naive's samples, numpy's, torch's, again), so that
//! a machine that changes speed moves all alike; each side's samples are pooled.

use super::options::{Ratio, TargetOptions, Timed, shape_text};
use super::peers::{run_python, samples_of, timed_from_samples};
use crate::bench::Bench;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::markdown::{Cell, text};
use crate::reference::{Comparison, attention_f64_last_rows, last_rows};
use crate::results::PhaseSplit;
use crate::run::{KernelRun, PointPlan};
use crate::tensors::{AttentionInputs, read_npy};
use serde::Serialize;
use std::path::Path;

/// naive, numpy and torch's math backend at one shape.
#[derive(Clone, Debug, Serialize)]
pub struct MaterializingPeers {
    /// The shape (`B×H×n×d`).
    pub shape: String,
    /// Interleaved rounds the samples were pooled over.
    pub rounds: u32,
    /// naive's time (GPU timestamps where the adapter has them).
    pub naive: Option<Timed>,
    /// Where naive's time went, phase by phase.
    pub naive_phases: Option<PhaseSplit>,
    /// naive's error against the f64 reference (last rows of each head).
    pub naive_rel_l2_err: Option<f64>,
    /// numpy's time (wall clock per call).
    pub numpy: Option<Timed>,
    /// numpy and its BLAS.
    pub numpy_version: Option<String>,
    /// numpy's error against the f64 reference.
    pub numpy_rel_l2_err: Option<f64>,
    /// Why numpy did not run.
    pub numpy_skipped: Option<String>,
    /// torch's math backend (float32), time per call.
    pub torch_math: Option<Timed>,
    /// `torch <version> on <device>`.
    pub torch_version: Option<String>,
    /// torch's error against the f64 reference.
    pub torch_rel_l2_err: Option<f64>,
    /// Why torch did not run.
    pub torch_skipped: Option<String>,
    /// naive ÷ numpy (above 1: numpy is faster).
    pub naive_vs_numpy: Option<Ratio>,
    /// naive ÷ torch math (above 1: torch is faster).
    pub naive_vs_torch_math: Option<Ratio>,
    /// Why nothing was measured.
    pub skipped: Option<String>,
}

impl MaterializingPeers {
    /// Nothing measured at `shape`, for `reason`.
    pub(super) fn skipped(shape: &crate::shape::Shape, reason: String) -> Self {
        MaterializingPeers {
            shape: shape_text(shape),
            rounds: 0,
            naive: None,
            naive_phases: None,
            naive_rel_l2_err: None,
            numpy: None,
            numpy_version: None,
            numpy_rel_l2_err: None,
            numpy_skipped: None,
            torch_math: None,
            torch_version: None,
            torch_rel_l2_err: None,
            torch_skipped: None,
            naive_vs_numpy: None,
            naive_vs_torch_math: None,
            skipped: Some(reason),
        }
    }
}

/// One peer's samples over the rounds, its version and its last output, or why it stopped.
#[derive(Default)]
struct PeerSamples {
    samples: Vec<f64>,
    version: Option<String>,
    output: Option<Vec<f32>>,
    skipped: Option<String>,
}

/// Runs one round of a peer's script and adds its samples (once it failed, it is not run
/// again).
fn peer_round(
    peer: &mut PeerSamples,
    options: &TargetOptions,
    dir: &Path,
    (name, script, args): (&str, &str, &[String]),
    read: impl Fn(&serde_json::Value) -> std::result::Result<(Vec<f64>, String, String), String>,
) -> Result<()> {
    if peer.skipped.is_some() {
        return Ok(());
    }
    let outcome = run_python(options, dir, name, script, args)?.and_then(|v| read(&v));
    match outcome {
        Ok((samples, version, output)) => {
            peer.samples.extend(samples);
            peer.version = Some(version);
            peer.output = Some(read_npy(&dir.join(output))?.1);
        }
        Err(reason) => peer.skipped = Some(reason),
    }
    Ok(())
}

/// naive, numpy and torch's math backend on the same inputs at the options' shape,
/// interleaved over `materializing_rounds` rounds, every output checked against the f64
/// reference.
pub(super) fn measure(
    bench: &Bench,
    naive: &dyn Kernel,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<MaterializingPeers> {
    let shape = options.materializing_shape;
    let plan = match PointPlan::checked(bench, naive, &shape) {
        Ok(plan) => plan,
        Err(e) => return Ok(MaterializingPeers::skipped(&shape, e.to_string())),
    };
    let inputs = AttentionInputs::random(shape, 5)?;
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    inputs.save_npy_dir(dir.path())?;
    let rows = super::PEER_REFERENCE_ROWS.min(shape.seq_len);
    let reference = attention_f64_last_rows(&shape, &inputs.q, &inputs.k, &inputs.v, rows);
    let error_of =
        |out: &[f32]| Comparison::new(&last_rows(&shape, out, rows), &reference).rel_l2_error;

    let run = KernelRun::new(bench, &plan, &inputs)?;
    run.poison_output()?;
    run.run_once()?;
    let naive_err = error_of(&run.read_output()?);
    let samples = options.samples.max(1);
    let path = dir.path().display().to_string();
    let numpy_args = [path.clone(), samples.to_string()];
    let mut torch_args = vec![
        path,
        samples.to_string(),
        "--adapter".into(),
        bench.summary().name.clone(),
        "--backends".into(),
        "math".into(),
    ];
    if bench.is_cpu() {
        torch_args.push("--cpu-adapter".into());
    }
    let (mut naive_ms, mut timing) = (Vec::new(), None);
    let (mut numpy, mut torch) = (PeerSamples::default(), PeerSamples::default());
    let rounds = options.materializing_rounds.max(1);
    // Samples batch enough runs to last a millisecond (one at these sizes).
    let runs = run.calibrate(true)?;
    for round in 0..rounds {
        crate::interrupt::check()?;
        let times = run.timed_samples(runs, samples, samples, None)?;
        naive_ms.extend(times.ns.iter().map(|t| t / 1e6));
        timing = Some(times.source);
        peer_round(
            &mut numpy,
            options,
            dir.path(),
            ("numpy_attention.py", super::NUMPY_SCRIPT, &numpy_args),
            |v| {
                let version = format!(
                    "numpy {} ({})",
                    v["numpy"].as_str().unwrap_or("?"),
                    v["blas"].as_str().unwrap_or("?")
                );
                Ok((samples_of(v), version, "o_numpy.npy".into()))
            },
        )?;
        peer_round(
            &mut torch,
            options,
            dir.path(),
            ("torch_attention.py", super::TORCH_SCRIPT, &torch_args),
            torch_math_of,
        )?;
        log(&format!(
            "{} round {}/{rounds}: naive, numpy{}, torch math{}",
            shape_text(&shape),
            round + 1,
            if numpy.skipped.is_some() {
                " (skipped)"
            } else {
                ""
            },
            if torch.skipped.is_some() {
                " (skipped)"
            } else {
                ""
            },
        ));
    }
    let naive_time = crate::stats::Measurement::from_samples(
        naive_ms,
        timing.unwrap_or(crate::gpu::TimingSource::WallClock),
    )
    .map(|m| Timed::of(&m, false))?;
    let numpy_time = timed_from_samples(&numpy.samples);
    let torch_time = timed_from_samples(&torch.samples);
    let naive_phases = run.phase_split(3)?;
    Ok(MaterializingPeers {
        shape: shape_text(&shape),
        rounds,
        naive: Some(naive_time),
        naive_phases,
        naive_rel_l2_err: Some(naive_err),
        numpy: numpy_time,
        numpy_version: numpy.version,
        numpy_rel_l2_err: numpy.output.as_deref().map(error_of),
        numpy_skipped: numpy
            .skipped
            .map(|r| format!("{r}; `pip install numpy` if it is missing")),
        torch_math: torch_time,
        torch_version: torch.version,
        torch_rel_l2_err: torch.output.as_deref().map(error_of),
        torch_skipped: torch.skipped,
        naive_vs_numpy: numpy_time.map(|t| naive_time.ratio(&t)),
        naive_vs_torch_math: torch_time.map(|t| naive_time.ratio(&t)),
        skipped: None,
    })
}

/// The math backend's samples, the peer's name and its output file from the torch script's
/// JSON, or why it did not run.
fn torch_math_of(v: &serde_json::Value) -> std::result::Result<(Vec<f64>, String, String), String> {
    if let Some(reason) = v["skipped"].as_str() {
        return Err(reason.to_string());
    }
    let math = v["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["backend"] == "math" && r["dtype"] == "float32")
        .ok_or("no float32 math run in torch_attention.py's output")?;
    if let Some(reason) = math["skipped"].as_str() {
        return Err(reason.to_string());
    }
    let device = v["device"].as_str().unwrap_or("?");
    let name = format!(
        "torch {} on {}{}",
        v["torch"].as_str().unwrap_or("?"),
        v["device_name"].as_str().unwrap_or(device),
        if device == "cpu" {
            " (a CPU peer, on the CPU the adapter runs on)"
        } else {
            ""
        }
    );
    let output = math["output"]
        .as_str()
        .and_then(|p| Path::new(p).file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or("the math run wrote no output")?;
    Ok((samples_of(math), name, output))
}

/// The Markdown section of the comparison.
pub(super) fn markdown(m: &MaterializingPeers) -> String {
    let mut md = format!(
        "\nnaive against the materializing peers on the same silicon and inputs at {} (each writes \
         the n×n matrix; {} interleaved rounds, samples pooled; errors against the f64 reference \
         on the last rows of each head; \"naive ÷ peer\" above 1: the peer is faster):\n\n",
        m.shape, m.rounds
    );
    if let Some(reason) = &m.skipped {
        return md + &format!("not measured: {reason}\n");
    }
    let mut table = crate::markdown::Table::new([
        ("kernel", crate::markdown::Align::Left),
        ("time", crate::markdown::Align::Right),
        ("rel. error", crate::markdown::Align::Right),
        ("naive ÷ peer", crate::markdown::Align::Right),
    ]);
    let err = |e: Option<f64>| e.map_or(String::new(), |e| format!("{e:.1e}"));
    let time = |t: Option<Timed>| t.map_or("-".into(), |t| t.describe());
    // Times and ratios are attnbench's own Markdown; peer names and reasons are text.
    table.row([
        Cell::from("attnbench naive"),
        Cell::md(time(m.naive)),
        Cell::from(err(m.naive_rel_l2_err)),
        Cell::from("1.00×"),
    ]);
    let peers = [
        (
            m.numpy_version.clone(),
            "numpy",
            m.numpy,
            m.numpy_rel_l2_err,
            m.naive_vs_numpy,
            &m.numpy_skipped,
        ),
        (
            m.torch_version
                .clone()
                .map(|v| format!("{v}, SDPBackend.MATH")),
            "torch SDPBackend.MATH",
            m.torch_math,
            m.torch_rel_l2_err,
            m.naive_vs_torch_math,
            &m.torch_skipped,
        ),
    ];
    for (version, name, t, e, ratio, skipped) in peers {
        match (t, skipped) {
            (Some(t), _) => table.row([
                Cell::from(version.unwrap_or_else(|| name.into())),
                Cell::md(t.describe()),
                Cell::from(err(e)),
                Cell::md(ratio.map_or(String::new(), |r| r.describe())),
            ]),
            (None, reason) => table.row([
                Cell::from(name),
                Cell::from(format!(
                    "not measured: {}",
                    reason.as_deref().unwrap_or("?")
                )),
                Cell::from(""),
                Cell::from(""),
            ]),
        };
    }
    md += &table.render();
    if let Some(split) = &m.naive_phases {
        let parts: Vec<String> = split
            .phases
            .iter()
            .map(|p| match p.gflops {
                Some(g) => format!("{} {:.2} ms ({g:.1} GFLOP/s)", text(&p.phase), p.median_ms),
                None => format!("{} {:.2} ms", text(&p.phase), p.median_ms),
            })
            .collect();
        md += &format!(
            "\nnaive's phases (each its own pass, median of {}, {}): {}\n",
            split.repeats,
            split.timing,
            parts.join(", ")
        );
    }
    md
}
