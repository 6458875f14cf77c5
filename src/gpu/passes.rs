//! Submitting and timing compute passes. A run is one compute pass; a timed sample is a
//! batch of runs back to back in one submission, long enough to be checked by the wall
//! clock (`batching.rs`), its GPU time read from a timestamp at the start of its first
//! pass and one at the end of its last.

use super::batching::{BatchReading, MAX_BATCH, RunTimes, next_batch, per_run_times};
use super::context::Gpu;
use super::timing::PassTimer;
use crate::error::Result;
use std::time::Duration;
use web_time::Instant;

/// Records one run's dispatches into a pass.
pub type Encode<'a> = &'a dyn Fn(&mut wgpu::ComputePass<'_>);

/// Encodes `passes` runs, one compute pass each, into one submission; with a timer, the
/// first pass writes the beginning timestamp of slot `slot` and the last its end.
pub fn submit_passes(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    timer: Option<(&PassTimer, u32)>,
    passes: u32,
) -> Result<()> {
    submit_chunk(gpu, label, encode, timer, passes, (true, true))
}

/// [`submit_passes`] for one chunk of a batch: `ends` says whether its first pass begins
/// the batch and its last ends it (where the timestamps go).
fn submit_chunk(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    timer: Option<(&PassTimer, u32)>,
    passes: u32,
    ends: (bool, bool),
) -> Result<()> {
    let passes = passes.max(1);
    gpu.scoped(&format!("running {label}"), || {
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for i in 0..passes {
            let (first, last) = (ends.0 && i == 0, ends.1 && i + 1 == passes);
            let writes = timer.and_then(|(t, slot)| t.writes(slot, first, last));
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: writes,
            });
            encode(&mut pass);
        }
        gpu.queue.submit([encoder.finish()]);
    })
}

/// Runs a batch of `runs` runs back to back (in submissions of at most [`MAX_BATCH`]
/// passes, with no wait between them) and waits for the device: its wall time in ns (with
/// a timer, slot `slot` holds its GPU time, read later).
pub async fn time_batch_async(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    runs: u32,
    timer: Option<(&PassTimer, u32)>,
) -> Result<f64> {
    let runs = runs.max(1);
    let t0 = Instant::now();
    let mut done = 0;
    while done < runs {
        let chunk = (runs - done).min(MAX_BATCH);
        submit_chunk(
            gpu,
            label,
            encode,
            timer,
            chunk,
            (done == 0, done + chunk == runs),
        )?;
        done += chunk;
    }
    gpu.wait_async(&format!("timing {label}")).await?;
    Ok(t0.elapsed().as_nanos() as f64)
}

/// The runs a timed sample batches ([`next_batch`]): batches of 1, then more, timed by
/// the wall clock until one lasts a millisecond. `warm`: a run took place since the
/// pipelines were created (a driver that compiles at the first dispatch, as lavapipe does,
/// has compiled); otherwise one untimed run comes first, so that no sample, nor the
/// calibration, includes compilation. `known`: the wall time of one warm run, when the
/// caller has it (a warm-up), which saves the first batch.
pub async fn calibrate_async(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    warm: bool,
    known: Option<f64>,
) -> Result<u32> {
    if !warm {
        submit_passes(gpu, label, encode, None, 1)?;
        gpu.wait_async(&format!("running {label}")).await?;
    }
    let mut runs = 1;
    let mut wall_ns = match known.filter(|_| warm) {
        Some(ns) => ns,
        None => time_batch_async(gpu, label, encode, 1, None).await?,
    };
    while let Some(next) = next_batch(runs, wall_ns) {
        crate::interrupt::check()?;
        runs = next;
        wall_ns = time_batch_async(gpu, label, encode, runs, None).await?;
    }
    Ok(runs)
}

/// Times `samples` batches of `runs` runs (fewer once `budget` has passed, at least
/// `min_samples`) and returns each sample's per-run time ([`per_run_times`]): GPU
/// timestamps where the device has them and they cover each batch's wall time, else the
/// wall clock, saying why. lavapipe (Mesa 22.3) once deferred its timestamps to the next
/// flush after a render pass had run in the process (wgpu zero-initializes a texture
/// without COPY_DST with one): passes the wall clock saw take 50 ms read 0.1 ms
/// (`gpu::texels` avoids that render pass); the coverage check keeps any such driver state
/// from turning into numbers.
pub async fn time_samples_async(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    runs: u32,
    samples: u32,
    min_samples: u32,
    budget: Option<Duration>,
) -> Result<RunTimes> {
    let samples = samples.max(1);
    let started = Instant::now();
    let over_budget =
        |done: u32| budget.is_some_and(|b| done >= min_samples && started.elapsed() >= b);
    let timer = PassTimer::new(&gpu.device, &gpu.queue, samples);
    let mut batches: Vec<BatchReading> = Vec::with_capacity(samples as usize);
    while (batches.len() as u32) < samples {
        // Fill the timer's slots, then read them back.
        let mut walls = Vec::new();
        let capacity = timer.as_ref().map_or(samples, PassTimer::capacity);
        while (walls.len() as u32) < capacity && (batches.len() + walls.len()) < samples as usize {
            crate::interrupt::check()?;
            let slot = timer.as_ref().map(|t| (t, walls.len() as u32));
            walls.push(time_batch_async(gpu, label, encode, runs, slot).await?);
            if over_budget((batches.len() + walls.len()) as u32) {
                break;
            }
        }
        let gpu_ns = match &timer {
            Some(t) => t.read(&gpu.device, &gpu.queue, walls.len() as u32).await?,
            None => vec![None; walls.len()],
        };
        batches.extend(
            walls
                .into_iter()
                .zip(gpu_ns)
                .map(|(wall_ns, gpu_ns)| BatchReading {
                    runs,
                    wall_ns,
                    gpu_ns,
                }),
        );
        if over_budget(batches.len() as u32) {
            break;
        }
    }
    Ok(per_run_times(&batches, timer.is_some()))
}

/// Calibrates ([`calibrate_async`], from cold) and times `samples` samples
/// ([`time_samples_async`]): what the probes and one-off timings use.
pub async fn time_passes_async(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    samples: u32,
    min_samples: u32,
    budget: Option<Duration>,
) -> Result<RunTimes> {
    let runs = calibrate_async(gpu, label, encode, false, None).await?;
    time_samples_async(gpu, label, encode, runs, samples, min_samples, budget).await
}

/// [`time_passes_async`], blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn time_passes(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    samples: u32,
    min_samples: u32,
    budget: Option<Duration>,
) -> Result<RunTimes> {
    pollster::block_on(time_passes_async(
        gpu,
        label,
        encode,
        samples,
        min_samples,
        budget,
    ))
}
