//! Running a kernel: [`KernelRun`] uploads the inputs once, dispatches as often as asked
//! and times each dispatch; [`run_attention`] is the one-shot host API (Q, K, V in, O out).

use crate::error::Result;
use crate::gpu::{
    BufferTracker, Gpu, MemoryPlan, RunTimes, TimingSource, calibrate_async, submit_passes,
    time_batch_async, time_samples_async,
};
use crate::kernels::{
    AttentionBuffers, Backward, GradientBuffers, Kernel, PreparedKernel, PreparedTraining,
};
use crate::shape::Shape;
use crate::tensors::{AttentionInputs, Gradients};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// The bytes a kernel needs for `shape` on `gpu`, checked against the device limits and
/// memory budget without allocating anything.
pub fn plan_for(kernel: &dyn Kernel, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
    shape.validate()?;
    // Memory first: it is the wall the suite is about, and its error gives the bytes.
    let plan = memory_plan(kernel, shape, gpu)?;
    plan.check(
        &format!("{} at {shape}", kernel.name()),
        &gpu.limits(),
        gpu.memory_budget(),
    )?;
    check_support(kernel, shape, gpu)?;
    Ok(plan)
}

/// `kernel`'s backward pass, or the refusal of a kernel without one.
fn backward_of(kernel: &dyn Kernel) -> Result<&dyn Backward> {
    kernel
        .backward()
        .ok_or_else(|| crate::kernels::no_backward(kernel))
}

/// The buffers `kernel` creates for `shape` on `gpu` (its backward's plan for shapes with
/// a backward pass), unchecked against the device.
pub fn memory_plan(kernel: &dyn Kernel, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
    if shape.pass.has_backward() {
        backward_of(kernel)?.memory_plan(shape, gpu)
    } else {
        kernel.memory_plan(shape, gpu)
    }
}

/// Whether `kernel` can run `shape` on `gpu` as far as the kernel itself is concerned
/// (its forward, and its backward for shapes with one): [`Kernel::check_support`], and a
/// refusal for a missing backward. Device limits and memory are [`plan_for`]'s.
pub fn check_support(kernel: &dyn Kernel, shape: &Shape, gpu: &Gpu) -> Result<()> {
    kernel.check_support(shape, gpu)?;
    if shape.pass.has_backward() {
        backward_of(kernel)?.check_support(shape, gpu)?;
    }
    Ok(())
}

/// What a run has prepared: the forward alone, or forward and backward.
enum Prepared {
    Forward(Box<dyn PreparedKernel>),
    Training(PreparedTraining),
}

/// One kernel on one problem, resident on the device.
pub struct KernelRun<'g> {
    gpu: &'g Gpu,
    kernel: &'g dyn Kernel,
    shape: Shape,
    tracker: Arc<BufferTracker>,
    io: AttentionBuffers,
    grads: Option<GradientBuffers>,
    prepared: Prepared,
}

/// Times of repeated dispatches.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// Median time in ms.
    pub median_ms: f64,
    /// Fastest in ms.
    pub min_ms: f64,
    /// Slowest in ms.
    pub max_ms: f64,
    /// Every sample in ms.
    pub samples_ms: Vec<f64>,
    /// Where the times came from.
    pub timing: TimingSource,
    /// 95% confidence interval of the median, ms ([`median_ci95`]).
    pub ci95_ms: (f64, f64),
    /// Runs back to back per sample: each sample is its batch's time over this.
    pub runs_per_sample: u32,
    /// Why the wall clock timed it on a device that has timestamps.
    pub timing_fallback: Option<String>,
}

impl Measurement {
    /// Summarizes samples in ms (at least one), one run each.
    pub fn from_samples(samples_ms: Vec<f64>, timing: TimingSource) -> Result<Self> {
        Ok(Measurement {
            median_ms: crate::gpu::median(&samples_ms)?,
            min_ms: samples_ms.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: samples_ms.iter().copied().fold(0.0, f64::max),
            ci95_ms: median_ci95(&samples_ms),
            samples_ms,
            timing,
            runs_per_sample: 1,
            timing_fallback: None,
        })
    }

    /// Summarizes batched samples ([`RunTimes`]: each its batch's time over its runs).
    pub fn from_run_times(times: RunTimes) -> Result<Self> {
        let mut m = Self::from_samples(times.ns.iter().map(|t| t / 1e6).collect(), times.source)?;
        m.runs_per_sample = times.runs_per_sample;
        m.timing_fallback = times.fallback;
        Ok(m)
    }

    /// Half the interval's width as a fraction of the median: ±0.05 is ±5%.
    pub fn relative_spread(&self) -> f64 {
        if self.median_ms > 0.0 {
            (self.ci95_ms.1 - self.ci95_ms.0) / 2.0 / self.median_ms
        } else {
            0.0
        }
    }
}

/// The 95% confidence interval of the median of `samples` (at least one): the 2.5th and
/// 97.5th percentiles of the medians of 2 000 bootstrap resamples, with a fixed seed so the
/// same samples always give the same interval. With few samples it widens towards their
/// range, as it should.
pub fn median_ci95(samples: &[f64]) -> (f64, f64) {
    const RESAMPLES: usize = 2000;
    if samples.len() < 2 {
        let x = samples.first().copied().unwrap_or(0.0);
        return (x, x);
    }
    let mut rng = fastrand::Rng::with_seed(0x0c19_5eed);
    let mut resample = vec![0.0; samples.len()];
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for x in resample.iter_mut() {
                *x = samples[rng.usize(..samples.len())];
            }
            crate::gpu::median(&resample).unwrap_or(0.0)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((q * RESAMPLES as f64) as usize).min(RESAMPLES - 1)];
    (at(0.025), at(0.975))
}

/// How to measure.
#[derive(Clone, Copy, Debug)]
pub struct MeasureOptions {
    /// Untimed runs first (shader JIT, caches); they stop early once `time_budget` is spent.
    pub warmup: u32,
    /// Timed runs wanted.
    pub samples: u32,
    /// Stop sampling once this much wall time has been spent on samples (at least
    /// `min_samples` are taken).
    pub time_budget: Option<Duration>,
    /// Fewest timed runs, whatever the budget.
    pub min_samples: u32,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions {
            warmup: 2,
            samples: 10,
            time_budget: Some(Duration::from_secs(10)),
            min_samples: 3,
        }
    }
}

impl<'g> KernelRun<'g> {
    /// Validates, plans, allocates and uploads: afterwards only dispatches remain
    /// ([`KernelRun::new_async`], blocking).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(gpu: &'g Gpu, kernel: &'g dyn Kernel, inputs: &AttentionInputs) -> Result<Self> {
        pollster::block_on(Self::new_async(gpu, kernel, inputs))
    }

    /// Validates, plans, allocates and uploads: afterwards only dispatches remain. For a
    /// backward pass timed alone, the forward it reads runs once here, untimed.
    pub async fn new_async(
        gpu: &'g Gpu,
        kernel: &'g dyn Kernel,
        inputs: &AttentionInputs,
    ) -> Result<Self> {
        let shape = inputs.shape;
        plan_for(kernel, &shape, gpu)?;
        let rows = kernel.query_rows(&shape);
        let held = inputs.query_rows();
        if held < rows {
            return Err(crate::error::Error::InvalidShape(format!(
                "q holds the last {held} query row(s) of each head; {} at {shape} computes {rows}",
                kernel.name()
            )));
        }
        let tracker = BufferTracker::new();
        let bytes = shape.kv_tensor_bytes();
        let rows_bytes = crate::kernels::query_bytes(&shape, rows);
        let input_usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let io = AttentionBuffers {
            q: gpu.buffer(&tracker, "q", rows_bytes, input_usage)?,
            k: gpu.buffer(&tracker, "k", bytes, input_usage)?,
            v: gpu.buffer(&tracker, "v", bytes, input_usage)?,
            o: gpu.buffer(
                &tracker,
                "o",
                rows_bytes,
                input_usage | wgpu::BufferUsages::COPY_SRC,
            )?,
        };
        // Q holds only the rows the kernel computes (all of them for prefill).
        let q_rows = if held == rows {
            std::borrow::Cow::Borrowed(&inputs.q[..])
        } else {
            let held_shape = Shape {
                seq_len: held,
                ..shape
            };
            std::borrow::Cow::Owned(crate::reference::last_rows(&held_shape, &inputs.q, rows))
        };
        gpu.scoped("uploading inputs", || {
            gpu.queue
                .write_buffer(&io.q, 0, bytemuck::cast_slice(&q_rows));
            gpu.queue
                .write_buffer(&io.k, 0, bytemuck::cast_slice(&inputs.k));
            gpu.queue
                .write_buffer(&io.v, 0, bytemuck::cast_slice(&inputs.v));
        })?;
        let (grads, prepared) = if shape.pass.has_backward() {
            let d_o = inputs.d_o.as_deref().ok_or_else(|| {
                crate::error::Error::InvalidShape(format!(
                    "the {} pass needs dO: inputs without one",
                    shape.pass
                ))
            })?;
            if held != shape.seq_len || d_o.len() != inputs.q.len() {
                return Err(crate::error::Error::InvalidShape(format!(
                    "the backward pass needs all {} query rows of q and dO",
                    shape.seq_len
                )));
            }
            let grad_usage = wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST;
            let grads = GradientBuffers {
                d_o: gpu.buffer(&tracker, "do", shape.tensor_bytes(), input_usage)?,
                dq: gpu.buffer(&tracker, "dq", shape.tensor_bytes(), grad_usage)?,
                dk: gpu.buffer(&tracker, "dk", bytes, grad_usage)?,
                dv: gpu.buffer(&tracker, "dv", bytes, grad_usage)?,
            };
            gpu.scoped("uploading dO", || {
                gpu.queue
                    .write_buffer(&grads.d_o, 0, bytemuck::cast_slice(d_o));
            })?;
            let training = backward_of(kernel)?.prepare(gpu, &shape, &io, &grads, &tracker)?;
            (Some(grads), Prepared::Training(training))
        } else {
            (
                None,
                Prepared::Forward(kernel.prepare(gpu, &shape, &io, &tracker)?),
            )
        };
        let run = KernelRun {
            gpu,
            kernel,
            shape,
            tracker,
            io,
            grads,
            prepared,
        };
        // The backward alone is timed: the forward that produces O (and what the backward
        // reads besides) runs once here, untimed.
        if let Prepared::Training(t) = &run.prepared
            && !shape.pass.times_forward()
        {
            submit_passes(gpu, kernel.name(), &|pass| t.forward.encode(pass), None, 1)?;
            gpu.wait_async(&format!("running {}'s forward", kernel.name()))
                .await?;
        }
        Ok(run)
    }

    /// Records what a run times: the forward, the backward, or both in order.
    fn encode_timed(&self, pass: &mut wgpu::ComputePass<'_>) {
        match &self.prepared {
            Prepared::Forward(f) => f.encode(pass),
            Prepared::Training(t) => {
                if self.shape.pass.times_forward() {
                    t.forward.encode(pass);
                }
                t.backward.encode(pass);
            }
        }
    }

    /// The problem shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The kernel.
    pub fn kernel(&self) -> &'g dyn Kernel {
        self.kernel
    }

    /// High-water mark of the bytes of every buffer this run created.
    pub fn peak_buffer_bytes(&self) -> u64 {
        self.tracker.peak_bytes()
    }

    /// Fills what a run writes with NaN so that elements a kernel fails to write show up in
    /// the comparison: O when the forward is timed, dQ, dK and dV when there is a backward
    /// (for `bwd`, O stays the untimed forward's: the backward reads it).
    pub fn poison_output(&self) -> Result<()> {
        self.gpu.scoped("poisoning the outputs", || {
            let poison = |buffer: &wgpu::Buffer, elements: u64| {
                let nan = vec![f32::NAN; elements as usize];
                self.gpu
                    .queue
                    .write_buffer(buffer, 0, bytemuck::cast_slice(&nan));
            };
            if self.shape.pass.times_forward() {
                poison(&self.io.o, self.output_elements() as u64);
            }
            if let Some(g) = &self.grads {
                poison(&g.dq, self.shape.tensor_elements());
                poison(&g.dk, self.shape.kv_tensor_elements());
                poison(&g.dv, self.shape.kv_tensor_elements());
            }
        })
    }

    /// Copies dQ, dK and dV back to the host (runs with a backward pass; `None` otherwise).
    pub async fn read_gradients_async(&self) -> Result<Option<Gradients>> {
        let Some(g) = &self.grads else {
            return Ok(None);
        };
        let read = async |buffer: &wgpu::Buffer, elements: u64| -> Result<Vec<f32>> {
            let bytes = self.gpu.read_buffer_async(buffer, elements * 4).await?;
            Ok(bytemuck::pod_collect_to_vec(&bytes))
        };
        Ok(Some(Gradients {
            dq: read(&g.dq, self.shape.tensor_elements()).await?,
            dk: read(&g.dk, self.shape.kv_tensor_elements()).await?,
            dv: read(&g.dv, self.shape.kv_tensor_elements()).await?,
        }))
    }

    /// [`KernelRun::read_gradients_async`], blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_gradients(&self) -> Result<Option<Gradients>> {
        pollster::block_on(self.read_gradients_async())
    }

    /// Runs the kernel once and waits for it.
    pub async fn run_once_async(&self) -> Result<()> {
        submit_passes(
            self.gpu,
            self.kernel.name(),
            &|pass| self.encode_timed(pass),
            None,
            1,
        )?;
        self.gpu
            .wait_async(&format!("running {}", self.kernel.name()))
            .await
    }

    /// [`KernelRun::run_once_async`], blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_once(&self) -> Result<()> {
        pollster::block_on(self.run_once_async())
    }

    /// Elements of O: `[B, H, rows, d]` with the kernel's [`Kernel::query_rows`] rows.
    pub fn output_elements(&self) -> usize {
        (crate::kernels::query_bytes(&self.shape, self.kernel.query_rows(&self.shape)) / 4) as usize
    }

    /// Copies O back to the host: `[B, H, rows, d]`, the rows the kernel computes (all n
    /// for prefill kernels, the last one for decode).
    pub async fn read_output_async(&self) -> Result<Vec<f32>> {
        let bytes = self
            .gpu
            .read_buffer_async(&self.io.o, self.output_elements() as u64 * 4)
            .await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// [`KernelRun::read_output_async`], blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_output(&self) -> Result<Vec<f32>> {
        pollster::block_on(self.read_output_async())
    }

    /// The runs one timed sample batches ([`calibrate_async`]); `warm`: the kernel has run
    /// since it was prepared (else one untimed run comes first: a driver that compiles at
    /// the first dispatch compiles then, outside every sample).
    pub async fn calibrate_async(&self, warm: bool) -> Result<u32> {
        let encode = |pass: &mut wgpu::ComputePass<'_>| self.encode_timed(pass);
        calibrate_async(self.gpu, self.kernel.name(), &encode, warm, None).await
    }

    /// [`KernelRun::calibrate_async`], blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn calibrate(&self, warm: bool) -> Result<u32> {
        pollster::block_on(self.calibrate_async(warm))
    }

    /// Times `samples` samples of `runs` runs back to back each (fewer once `budget` has
    /// passed, at least `min_samples`): per-run times, GPU timestamps where they cover each
    /// batch's wall time, else the wall clock with the reason ([`time_samples_async`]).
    pub async fn timed_samples_async(
        &self,
        runs: u32,
        samples: u32,
        min_samples: u32,
        budget: Option<Duration>,
    ) -> Result<RunTimes> {
        let encode = |pass: &mut wgpu::ComputePass<'_>| self.encode_timed(pass);
        time_samples_async(
            self.gpu,
            self.kernel.name(),
            &encode,
            runs,
            samples,
            min_samples,
            budget,
        )
        .await
    }

    /// [`KernelRun::timed_samples_async`], blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn timed_samples(
        &self,
        runs: u32,
        samples: u32,
        min_samples: u32,
        budget: Option<Duration>,
    ) -> Result<RunTimes> {
        pollster::block_on(self.timed_samples_async(runs, samples, min_samples, budget))
    }

    /// Warms up (at most `options.warmup` runs, fewer once the time budget is spent, at
    /// least one when any was asked), calibrates the runs per sample so that a sample
    /// lasts a millisecond (from the last warm-up's wall time where there were two; with
    /// no warm-up, after one untimed run, so that no sample includes a first dispatch's
    /// compilation), then times the samples and summarizes them.
    pub async fn measure_async(&self, options: &MeasureOptions) -> Result<Measurement> {
        let start = web_time::Instant::now();
        let encode = |pass: &mut wgpu::ComputePass<'_>| self.encode_timed(pass);
        let name = self.kernel.name();
        let mut warm_wall_ns = None;
        for i in 0..options.warmup {
            crate::interrupt::check()?;
            let wall_ns = time_batch_async(self.gpu, name, &encode, 1, None).await?;
            // The first run may have compiled: only a later one says what a run takes.
            warm_wall_ns = (i > 0).then_some(wall_ns);
            if options.time_budget.is_some_and(|b| start.elapsed() > b) {
                break;
            }
        }
        crate::interrupt::check()?;
        let warm = options.warmup > 0;
        let runs = calibrate_async(self.gpu, name, &encode, warm, warm_wall_ns).await?;
        let times = self
            .timed_samples_async(
                runs,
                options.samples.max(1),
                options.min_samples,
                options.time_budget,
            )
            .await?;
        Measurement::from_run_times(times)
    }

    /// [`KernelRun::measure_async`], blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn measure(&self, options: &MeasureOptions) -> Result<Measurement> {
        pollster::block_on(self.measure_async(options))
    }
}

/// Runs `kernel` once on host inputs for their shape's pass and returns O and, with a
/// backward pass, dQ, dK and dV. Every output is poisoned with NaN first.
pub async fn run_training_async(
    gpu: &Gpu,
    kernel: &dyn Kernel,
    inputs: &AttentionInputs,
) -> Result<(Vec<f32>, Option<Gradients>)> {
    let run = KernelRun::new_async(gpu, kernel, inputs).await?;
    run.poison_output()?;
    run.run_once_async().await?;
    Ok((
        run.read_output_async().await?,
        run.read_gradients_async().await?,
    ))
}

/// [`run_training_async`], blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_training(
    gpu: &Gpu,
    kernel: &dyn Kernel,
    inputs: &AttentionInputs,
) -> Result<(Vec<f32>, Option<Gradients>)> {
    pollster::block_on(run_training_async(gpu, kernel, inputs))
}

/// Runs `kernel` once on host inputs and returns O (`[B, H, n, d]`). The output buffer is
/// poisoned with NaN first.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_attention(gpu: &Gpu, kernel: &dyn Kernel, inputs: &AttentionInputs) -> Result<Vec<f32>> {
    run_training(gpu, kernel, inputs).map(|(out, _)| out)
}

/// GFLOP/s of `flops` FLOPs (see [`Kernel::flops`]) done in `ms` milliseconds.
pub fn gflops(flops: f64, ms: f64) -> f64 {
    if ms > 0.0 { flops / (ms * 1e6) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::median_ci95;

    #[test]
    fn the_median_interval_holds_the_median_and_narrows_with_agreement() {
        let tight = [10.0, 10.1, 9.9, 10.05, 9.95, 10.0, 10.02, 9.98, 10.01, 9.99];
        let (lo, hi) = median_ci95(&tight);
        assert!(lo <= 10.0 && 10.0 <= hi && hi - lo < 0.2, "{lo} {hi}");
        let loose = [10.0, 14.0, 7.0, 12.0, 9.0, 16.0, 8.0, 11.0, 13.0, 6.0];
        let (lo2, hi2) = median_ci95(&loose);
        assert!(hi2 - lo2 > 10.0 * (hi - lo));
        assert_eq!(median_ci95(&[3.0]), (3.0, 3.0));
        assert_eq!(median_ci95(&loose), (lo2, hi2), "deterministic");
    }
}
