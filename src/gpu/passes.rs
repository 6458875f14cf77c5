//! Submitting and timing compute passes: one pass per run, so that pass-boundary
//! timestamps time the whole of it.

use super::context::Gpu;
use super::timing::{PassTimer, TimingSource};
use crate::error::Result;
use std::time::Duration;
use web_time::Instant;

/// Records one run's dispatches into a pass.
pub type Encode<'a> = &'a dyn Fn(&mut wgpu::ComputePass<'_>);

/// Encodes `passes` runs, one compute pass each, into one submission; with a timer, pass
/// i writes timestamps into slot `first + i`.
pub fn submit_passes(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    timer: Option<(&PassTimer, u32)>,
    passes: u32,
) -> Result<()> {
    gpu.scoped(&format!("running {label}"), || {
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for i in 0..passes {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: timer.map(|(t, first)| t.writes(first + i)),
            });
            encode(&mut pass);
        }
        gpu.queue.submit([encoder.finish()]);
    })
}

/// Runs `encode` `count` times, each run its own compute pass, and returns each run's time
/// in ns: GPU timestamps at the pass boundaries where the device has them (passes are
/// submitted in batches, with a full wait after each batch), else the wall clock from
/// submit until a full device poll returned, one pass per submission. Stops early once
/// `budget` has passed (after at least `min_count` runs).
///
/// Timestamps that cannot be right fall back to the wall clock too: zero or wrapped
/// readings, and batches whose passes the wall clock saw take ≥ 1 ms each while their
/// timestamps account for under 80% of it (`timestamps_plausible`).
pub async fn time_passes_async(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    count: u32,
    min_count: u32,
    budget: Option<Duration>,
) -> Result<(Vec<f64>, TimingSource)> {
    /// Passes per submission when timestamps time each pass.
    const BATCH: u32 = 16;
    let count = count.max(1);
    let during = format!("timing {label}");
    let started = Instant::now();
    let over_budget =
        |done: u32| budget.is_some_and(|b| done >= min_count && started.elapsed() >= b);
    let Some(timer) = PassTimer::new(&gpu.device, &gpu.queue, count.min(BATCH * 64)) else {
        return wall_clock(gpu, label, encode, count, min_count, budget).await;
    };
    let mut gpu_ns = Vec::with_capacity(count as usize);
    while (gpu_ns.len() as u32) < count {
        // Fill the query set, then read it back.
        let mut used = 0;
        let mut wall_ns = 0.0;
        while used < timer.capacity() && (gpu_ns.len() as u32) + used < count {
            let passes = BATCH
                .min(timer.capacity() - used)
                .min(count - gpu_ns.len() as u32 - used);
            let t0 = Instant::now();
            submit_passes(gpu, label, encode, Some((&timer, used)), passes)?;
            gpu.wait_async(&during).await?;
            wall_ns += t0.elapsed().as_nanos() as f64;
            used += passes;
            if over_budget(gpu_ns.len() as u32 + used) {
                break;
            }
        }
        let times = timer.read(&gpu.device, &gpu.queue, used).await?;
        match times.into_iter().collect::<Option<Vec<f64>>>() {
            Some(valid) if timestamps_plausible(&valid, wall_ns) => gpu_ns.extend(valid),
            // A zero or wrapped reading (gfx-rs/wgpu#6406), or timestamps the wall clock
            // contradicts: fall back to the wall clock.
            _ => return wall_clock(gpu, label, encode, count, min_count, budget).await,
        }
        if over_budget(gpu_ns.len() as u32) {
            break;
        }
    }
    Ok((gpu_ns, TimingSource::GpuTimestamps))
}

/// [`time_passes_async`], blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn time_passes(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    count: u32,
    min_count: u32,
    budget: Option<Duration>,
) -> Result<(Vec<f64>, TimingSource)> {
    pollster::block_on(time_passes_async(
        gpu, label, encode, count, min_count, budget,
    ))
}

/// Whether GPU times `gpu_ns` of passes whose submissions and waits took `wall_ns` in all
/// can be right: they may be any share of it while the passes are short (submission and
/// wake-up costs dominate there), but once the wall clock saw ≥ 1 ms per pass, the
/// timestamps must account for at least 80% of it (on lavapipe and on GPUs alike they
/// account for over 95%; what is missing is submission and wake-up). lavapipe (Mesa 22.3) broke this once a render pass had run in
/// the process (wgpu zero-initializes a texture without COPY_DST with one): from then on
/// its timestamps were deferred to the next flush, and passes the wall clock saw take
/// 50 ms read 0.1 ms, or only their last dispatch (seen 2026-11-26 with a one-off program,
/// not kept, that ran a texel flash run and then a buffer one). `gpu::texels` avoids that render pass;
/// this check keeps any such driver state from turning into numbers.
pub(crate) fn timestamps_plausible(gpu_ns: &[f64], wall_ns: f64) -> bool {
    const SLOW_PASS_NS: f64 = 1e6;
    let passes = gpu_ns.len().max(1) as f64;
    let gpu_total: f64 = gpu_ns.iter().sum();
    wall_ns / passes < SLOW_PASS_NS || gpu_total >= 0.8 * wall_ns
}

/// `count` runs timed by the wall clock, one pass per submission and a full wait each.
async fn wall_clock(
    gpu: &Gpu,
    label: &str,
    encode: Encode<'_>,
    count: u32,
    min_count: u32,
    budget: Option<Duration>,
) -> Result<(Vec<f64>, TimingSource)> {
    let during = format!("timing {label}");
    let started = Instant::now();
    let mut wall_ns = Vec::with_capacity(count as usize);
    while (wall_ns.len() as u32) < count.max(1) {
        let t0 = Instant::now();
        submit_passes(gpu, label, encode, None, 1)?;
        gpu.wait_async(&during).await?;
        wall_ns.push(t0.elapsed().as_nanos() as f64);
        if budget.is_some_and(|b| wall_ns.len() as u32 >= min_count && started.elapsed() >= b) {
            break;
        }
    }
    Ok((wall_ns, TimingSource::WallClock))
}

#[cfg(test)]
mod tests {
    use super::timestamps_plausible;

    #[test]
    fn timestamps_the_wall_clock_contradicts_are_refused() {
        // 16 passes of 50 ms by the wall clock, 0.1 ms each by the timestamps.
        assert!(!timestamps_plausible(&[1e5; 16], 16.0 * 5e7));
        // Or only their last dispatch, a fifth of the work; or two thirds of it.
        assert!(!timestamps_plausible(&[1e7; 16], 16.0 * 5e7));
        assert!(!timestamps_plausible(&[3.3e7; 16], 16.0 * 5e7));
        // The same passes with timestamps of 45 ms each.
        assert!(timestamps_plausible(&[4.5e7; 16], 16.0 * 5e7));
        // Short passes: submission costs dominate the wall clock, any share is plausible.
        assert!(timestamps_plausible(&[2e3; 16], 16.0 * 5e5));
    }
}
