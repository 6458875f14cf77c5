//! Flash's performance targets, measured as ratios in one run on one adapter (the
//! `targets` bench, `cargo bench --bench targets`, and a step of `attnbench suite`):
//! - flash f32 at B·H = 8, n = 4096, d = 64 as a fraction of the f32 FMA peak that
//!   `attnbench probe` measures on the same device;
//! - flash's speedup over naive at n = 512 … 4096, d = 64 and 128 (B = H = 1);
//! - naive against the materializing peers on the same silicon, interleaved: numpy's BLAS
//!   attention and PyTorch's `SDPBackend.MATH` at n = 2048, d = 64 (`materializing`), with
//!   naive's time per phase;
//! - flash against a BLAS-backed CPU attention (numpy, `benches/numpy_attention.py`) at
//!   n = 2048, d = 64, one head, on the same inputs; numpy's output is also compared with
//!   flash's, so the ratio is between two correct results;
//! - the same-GPU peer: PyTorch's `scaled_dot_product_attention`, each backend (flash,
//!   efficient, cuDNN, math) in f32 and, on a GPU, f16 and bf16
//!   (`benches/torch_attention.py`), against flash on the same inputs, both outputs
//!   checked against the f64 reference. Torch on the CPU is a valid peer too, labelled so;
//! - the native peer on the same adapter: Burn's `attention` (cubek's kernels, autotuned,
//!   through the same wgpu), run by `attnbench-burn-peer` (`peers/burn`) as a child process
//!   and timed in turn with flash on the same inputs (`burn`);
//! - the long-context targets of `long_context`: decode's bandwidth, grouped-query
//!   decode, sliding windows, flash at d = 128, and the seed's inference claim;
//! - the training targets of `training`: flash's backward against naive's and against
//!   the FMA peak, and the backward's peak bytes.
//!
//! The Python scripts are embedded in the binary and written to a temporary folder when
//! they run, so a copied `attnbench` binary needs no source tree. Times are medians; GPU
//! timestamps where the adapter has them (see `timing`), numpy's wall clock, torch's CUDA
//! events. Nothing here asserts a time: the report states the ratios. With a deadline
//! (`attnbench suite`), steps that no longer fit are recorded as skipped.

mod burn;
mod burn_peer;
mod child;
mod long_context;
mod materializing;
mod options;
mod peak;
mod peers;
mod report;
mod speedup;
mod training;

pub use burn::{BurnComparison, compare_with_burn};
pub use burn_peer::{
    AutotuneCandidate, BURN_KERNEL, BURN_PEER_BUILD, BURN_PEER_NAME, BurnPeer, BurnRow,
    PeerCommand, PeerMessage,
};
pub use long_context::LongContext;
pub use materializing::MaterializingPeers;
pub use options::{LongContextShapes, TargetOptions, TrainingShapes};
pub use peak::PeakFraction;
pub use peers::{
    BlasComparison, NUMPY_SCRIPT, PEER_REFERENCE_ROWS, PeerComparison, PeerRun, TORCH_SCRIPT,
};
pub use report::{SCHEMA, TargetsReport};
pub use speedup::Speedup;
pub use training::Training;

use crate::bench::Bench;
use crate::error::Result;
use crate::kernels::Kernel;
use crate::results::DeviceHeader;
use options::shape_text;
use peers::{compare_with_numpy, compare_with_torch};
use report::gpu_timing;

/// Measures the targets on `bench`; `log` gets a line per step.
pub fn measure(
    bench: &Bench,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<TargetsReport> {
    let flash: &dyn Kernel = &crate::kernels::flash::FLASH;
    let naive: &dyn Kernel = &crate::kernels::naive::NAIVE;
    let mut skipped = Vec::new();

    // The ceilings the ratios are taken against, probed in this run unless given.
    let (peak, bandwidth) = match (options.fma_peak_gflops, options.bandwidth_gbps) {
        (Some(p), Some(b)) => (p, b),
        _ => {
            log("probing the f32 FMA peak and the bandwidth");
            let probe = crate::probe::run_probes(bench)?;
            (
                options.fma_peak_gflops.unwrap_or(probe.fma_f32_gflops),
                options.bandwidth_gbps.unwrap_or(probe.bandwidth_gbps),
            )
        }
    };
    let mut peak_fraction = None;
    if options.time_for_flash(
        "flash's share of the FMA peak",
        &options.peak_shape,
        &mut skipped,
    ) {
        peak_fraction = Some(peak::measure(bench, flash, options, peak, log)?);
    }
    // Later flash steps are predicted from the rate just measured when no hint was given,
    // else from half the probed peak (the inference prefill alone takes half a minute on
    // lavapipe).
    let measured_hint = TargetOptions {
        flash_gflops_hint: options
            .flash_gflops_hint
            .or(peak_fraction.as_ref().map(|p| p.flash_gflops))
            .or(Some(peak / 2.0)),
        ..options.clone()
    };
    let options = &measured_hint;

    let blas = if options.time_for_flash("flash against numpy", &options.blas_shape, &mut skipped) {
        compare_with_numpy(bench, flash, options, log)?
    } else {
        BlasComparison {
            shape: shape_text(&options.blas_shape),
            flash: None,
            numpy: None,
            ratio: None,
            numpy_version: None,
            rel_l2_vs_numpy: None,
            skipped: Some("the time budget ran out".into()),
        }
    };

    let materializing = if options.time_for(
        "naive against numpy and PyTorch's math backend",
        &mut skipped,
    ) {
        materializing::measure(bench, naive, options, log)?
    } else {
        MaterializingPeers::skipped(
            &options.materializing_shape,
            "the time budget ran out".into(),
        )
    };

    let mut peers = Vec::new();
    for &shape in &options.peer_shapes {
        let comparison = if options.time_for_flash(
            &format!("flash against PyTorch SDPA at {}", shape_text(&shape)),
            &shape,
            &mut skipped,
        ) {
            compare_with_torch(bench, flash, shape, options, log)?
        } else {
            PeerComparison::skipped(shape, "the time budget ran out".into())
        };
        peers.push(comparison);
    }
    let burn = compare_with_burn(bench, options, &mut skipped, log)?;
    let training = training::measure(bench, options, peak, &mut skipped, log)?;
    let long_context = long_context::measure(bench, options, (peak, bandwidth), &mut skipped, log)?;
    let speedups = speedup::measure(bench, (flash, naive), options, &mut skipped, log)?;
    Ok(TargetsReport {
        schema: SCHEMA.into(),
        device: DeviceHeader::for_gpu(bench),
        run: None,
        timing: gpu_timing(bench),
        peak_fraction,
        speedups,
        blas,
        materializing,
        peers,
        burn,
        long_context,
        training,
        skipped,
    })
}
