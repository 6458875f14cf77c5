//! Where a run's time goes ([`PhaseSplit`]): for a kernel that names the phases of its
//! dispatches (naive: QKᵀ, softmax, P·V; its backward's five), a step apart from the main
//! timing loop records each segment of a run ([`crate::kernels::Segment`]: consecutive
//! dispatches of one phase) in a compute pass of its own with timestamps at its boundaries,
//! runs the whole sequence a few times, and takes each phase's median over the runs of its
//! summed segments. Passes end where segments end, so the split costs each boundary a pass
//! end; its sum is close to, not the same as, the run's time from the main loop. Without
//! timestamps each segment is its own submission timed by the wall clock to a full wait
//! (which adds a submission and a wake-up per segment), and the split says so.

use crate::error::Result;
use crate::gpu::{Gpu, PassTimer, TimingSource, median};
use crate::kernels::Segment;
use crate::run::{KernelRun, gflops};
use serde::{Deserialize, Serialize};
use web_time::Instant;

/// The time of one phase of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseTime {
    /// The phase, e.g. `QKᵀ`, `softmax`, `P·V`, `texels` (packing B as texels).
    pub phase: String,
    /// Median over the repeats of the phase's time in one run, ms.
    pub median_ms: f64,
    /// GFLOP/s of the phase's matrix product at that median (2·n²·d per (batch, head),
    /// halved when causal), for phases with one.
    pub gflops: Option<f64>,
}

/// A run's time split by phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseSplit {
    /// Where the times came from.
    pub timing: TimingSource,
    /// Runs of the whole sequence of segments the medians are over.
    pub repeats: u32,
    /// Each phase, in the order it first runs.
    pub phases: Vec<PhaseTime>,
}

impl PhaseSplit {
    /// The phase called `name`.
    pub fn phase(&self, name: &str) -> Option<&PhaseTime> {
        self.phases.iter().find(|p| p.phase == name)
    }

    /// The sum of the phases' medians, ms.
    pub fn total_ms(&self) -> f64 {
        self.phases.iter().map(|p| p.median_ms).sum()
    }
}

/// The phase split of `run` over `repeats` runs (at least 1), or `None` when its kernel does
/// not name phases. The run's outputs are recomputed, not changed.
pub async fn phase_split_async(run: &KernelRun<'_>, repeats: u32) -> Result<Option<PhaseSplit>> {
    let segments = run.segments();
    if segments.is_empty() {
        return Ok(None);
    }
    let gpu = run.gpu();
    let label = format!("{} phases", run.kernel().name());
    let repeats = repeats.max(1);
    let (per_run, timing) = match segment_times(gpu, &label, &segments, repeats).await? {
        Some(times) => (times, TimingSource::GpuTimestamps),
        None => (
            wall_clock_times(gpu, &label, &segments, repeats).await?,
            TimingSource::WallClock,
        ),
    };
    let forward_flops = run.shape().forward_flops();
    let mut phases: Vec<PhaseTime> = Vec::new();
    for segment in &segments {
        let name = segment.phase.name;
        if phases.iter().any(|p| p.phase == name) {
            continue;
        }
        let sums: Vec<f64> = per_run
            .iter()
            .map(|times| {
                segments
                    .iter()
                    .zip(times)
                    .filter(|(s, _)| s.phase.name == name)
                    .map(|(_, ns)| ns / 1e6)
                    .sum()
            })
            .collect();
        let ms = median(&sums)?;
        let share = segment.phase.forward_share;
        phases.push(PhaseTime {
            phase: name.to_string(),
            median_ms: ms,
            gflops: (share > 0.0).then(|| gflops(share * forward_flops, ms)),
        });
    }
    Ok(Some(PhaseSplit {
        timing,
        repeats,
        phases,
    }))
}

/// [`phase_split_async`], blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn phase_split(run: &KernelRun<'_>, repeats: u32) -> Result<Option<PhaseSplit>> {
    pollster::block_on(phase_split_async(run, repeats))
}

/// Each repeat's time of every segment in ns from timestamps at its pass's boundaries, in
/// submissions of as many passes as the timer holds; `None` without timestamps, or where
/// a reading is zero or wrapped, or the wall clock contradicts the timestamps.
async fn segment_times(
    gpu: &Gpu,
    label: &str,
    segments: &[Segment<'_>],
    repeats: u32,
) -> Result<Option<Vec<Vec<f64>>>> {
    let count = segments.len() as u32;
    let Some(timer) = PassTimer::new(&gpu.device, &gpu.queue, count) else {
        return Ok(None);
    };
    let during = format!("timing {label}");
    let mut runs = Vec::new();
    for _ in 0..repeats {
        let mut times = Vec::with_capacity(segments.len());
        for batch in segments.chunks(timer.capacity() as usize) {
            let started = Instant::now();
            gpu.scoped(&during, || {
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                for (i, segment) in batch.iter().enumerate() {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some(segment.phase.name),
                        timestamp_writes: Some(timer.writes(i as u32)),
                    });
                    segment.encode(&mut pass);
                }
                gpu.queue.submit([encoder.finish()]);
            })?;
            gpu.wait_async(&during).await?;
            let wall_ns = started.elapsed().as_nanos() as f64;
            let read = timer
                .read(&gpu.device, &gpu.queue, batch.len() as u32)
                .await?;
            let Some(valid) = read.into_iter().collect::<Option<Vec<f64>>>() else {
                return Ok(None);
            };
            let total: f64 = valid.iter().sum();
            if !crate::gpu::timestamps_plausible(&[total], wall_ns) {
                return Ok(None);
            }
            times.extend(valid);
        }
        runs.push(times);
    }
    Ok(Some(runs))
}

/// Each repeat's time of every segment in ns by the wall clock: one submission per segment
/// and a full wait after each.
async fn wall_clock_times(
    gpu: &Gpu,
    label: &str,
    segments: &[Segment<'_>],
    repeats: u32,
) -> Result<Vec<Vec<f64>>> {
    let during = format!("timing {label}");
    let mut runs = Vec::new();
    for _ in 0..repeats {
        let mut times = Vec::with_capacity(segments.len());
        for segment in segments {
            let started = Instant::now();
            gpu.scoped(&during, || {
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some(segment.phase.name),
                        timestamp_writes: None,
                    });
                    segment.encode(&mut pass);
                }
                gpu.queue.submit([encoder.finish()]);
            })?;
            gpu.wait_async(&during).await?;
            times.push(started.elapsed().as_nanos() as f64);
        }
        runs.push(times);
    }
    Ok(runs)
}
