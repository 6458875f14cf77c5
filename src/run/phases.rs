//! Where a run's time goes ([`PhaseSplit`](crate::results::PhaseSplit)): for a kernel that names the phases of its
//! dispatches (naive: QKᵀ, softmax, P·V; its backward's five), a step apart from the main
//! timing loop records each segment of a run ([`crate::kernels::Segment`]: consecutive
//! dispatches of one phase) in a compute pass of its own with timestamps at its boundaries,
//! runs the whole sequence a few times, and takes each phase's median over the runs of its
//! summed segments. Passes end where segments end, so the split costs each boundary a pass
//! end; its sum is close to, not the same as, the run's time from the main loop. Without
//! timestamps each segment is its own submission timed by the wall clock to a full wait
//! (which adds a submission and a wake-up per segment), and the split says so.

use crate::error::Result;
use crate::gpu::{Gpu, PassTimer, TimingSource};
use crate::kernels::Segment;
use crate::results::{PhaseSplit, PhaseTime};
use crate::stats::{gflops, median_of};
use web_time::Instant;

/// The phase split of a run's `segments` over `repeats` runs (at least 1) on `gpu`, or
/// `None` when there are none (its kernel names no phases); `forward_flops` are one
/// forward's FLOPs of the run's shape, `label` names it in errors. The run's outputs are
/// recomputed, not changed.
pub(super) async fn split(
    gpu: &Gpu,
    label: &str,
    segments: &[Segment<'_>],
    forward_flops: f64,
    repeats: u32,
) -> Result<Option<PhaseSplit>> {
    if segments.is_empty() {
        return Ok(None);
    }
    let (label, segments) = (format!("{label} phases"), segments);
    let repeats = repeats.max(1);
    let (per_run, timing) = match segment_times(gpu, &label, segments, repeats).await? {
        Some(times) => (times, TimingSource::GpuTimestamps),
        None => (
            wall_clock_times(gpu, &label, segments, repeats).await?,
            TimingSource::WallClock,
        ),
    };
    let mut phases: Vec<PhaseTime> = Vec::new();
    for segment in segments {
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
        let ms = median_of(&sums)?;
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

/// Runs of the phase split a sweep makes after a point's samples: three, or one for runs
/// past a second.
pub fn sweep_repeats(median_ms: f64) -> u32 {
    if median_ms > 1000.0 { 1 } else { 3 }
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
                        timestamp_writes: timer.writes(i as u32, true, true),
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
            if !plausible(total, wall_ns) {
                return Ok(None);
            }
            times.extend(valid);
        }
        runs.push(times);
    }
    Ok(Some(runs))
}

/// Whether timestamps summing to `gpu_ns` fit a submission whose wall time was `wall_ns`:
/// not longer than it, and where it lasted a timed sample's minimum, covering it as a
/// timed sample's must ([`crate::gpu::covers`]; under that minimum, submission and wake-up
/// dominate the wall time).
fn plausible(gpu_ns: f64, wall_ns: f64) -> bool {
    gpu_ns <= wall_ns
        && (wall_ns < crate::gpu::MIN_SAMPLE_NS || crate::gpu::covers(gpu_ns, wall_ns))
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
