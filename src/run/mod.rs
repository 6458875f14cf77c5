//! Running a kernel: [`KernelRun`] uploads the inputs once, dispatches as often as asked
//! and times each dispatch; [`run_attention`] is the one-shot host API (Q, K, V in, O out).

mod measurement;
mod phases;
mod plan;
mod row;

pub use crate::stats::{Measurement, gflops};
pub use measurement::MeasureOptions;
pub use phases::sweep_repeats;
pub use plan::{PointPlan, label_of};
pub use row::{measured, planned_row};

use crate::bench::Bench;
use crate::error::Result;
use crate::gpu::{
    BufferTracker, Gpu, RunTimes, calibrate_async, submit_passes, time_batch_async,
    time_samples_async,
};
use crate::kernels::{
    AttentionBuffers, GradientBuffers, Kernel, Prepared, PreparedKernel, RunBuffers, Segment,
};
use crate::results::PhaseSplit;
use crate::shape::Shape;
use crate::tensors::{AttentionInputs, Gradients};
use std::sync::Arc;
use std::time::Duration;

/// What a run has prepared: the forward alone, or forward and backward.
enum Stages {
    Forward(Box<dyn crate::kernels::PreparedKernel>),
    Training {
        forward: Box<dyn crate::kernels::PreparedKernel>,
        backward: Box<dyn crate::kernels::PreparedKernel>,
    },
}

/// One kernel on one problem, resident on the device.
pub struct KernelRun<'g> {
    gpu: &'g Gpu,
    kernel: &'g dyn Kernel,
    shape: Shape,
    label: Option<String>,
    tracker: Arc<BufferTracker>,
    io: AttentionBuffers,
    grads: Option<GradientBuffers>,
    stages: Stages,
}

impl<'g> KernelRun<'g> {
    /// Allocates, uploads and prepares `plan` ([`KernelRun::new_async`], blocking).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(gpu: &'g Gpu, plan: &PointPlan<'g>, inputs: &AttentionInputs) -> Result<Self> {
        pollster::block_on(Self::new_async(gpu, plan, inputs))
    }

    /// Allocates, uploads and prepares `plan` (which must be for the inputs' shape):
    /// afterwards only dispatches remain. For a backward pass timed alone, the forward it
    /// reads runs once here, untimed.
    pub async fn new_async(
        gpu: &'g Gpu,
        plan: &PointPlan<'g>,
        inputs: &AttentionInputs,
    ) -> Result<Self> {
        let (kernel, shape) = (plan.kernel(), inputs.shape);
        if *plan.shape() != shape {
            return Err(crate::error::Error::InvalidShape(format!(
                "{} was planned for {}, its inputs are {shape}",
                kernel.name(),
                plan.shape()
            )));
        }
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
        let grads = if shape.pass.has_backward() {
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
            Some(grads)
        } else {
            None
        };
        let buffers = RunBuffers {
            io: &io,
            grads: grads.as_ref(),
        };
        let stages = match plan.prepare(gpu, buffers, &tracker)? {
            Prepared::Forward(forward) => Stages::Forward(forward),
            Prepared::Training { forward, backward } => Stages::Training { forward, backward },
        };
        let run = KernelRun {
            gpu,
            kernel,
            shape,
            label: plan.label().map(str::to_string),
            tracker,
            io,
            grads,
            stages,
        };
        // The backward alone is timed: the forward that produces O (and what the backward
        // reads besides) runs once here, untimed.
        if let Stages::Training { forward, .. } = &run.stages
            && !shape.pass.times_forward()
        {
            submit_passes(gpu, kernel.name(), &|pass| forward.encode(pass), None, 1)?;
            gpu.wait_async(&format!("running {}'s forward", kernel.name()))
                .await?;
        }
        Ok(run)
    }

    /// Plans `kernel` for the inputs' shape on `bench` (checked against the device), then
    /// allocates, uploads and prepares it: one plan, for a one-off run.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn plan_new(
        bench: &'g Bench,
        kernel: &'g dyn Kernel,
        inputs: &AttentionInputs,
    ) -> Result<Self> {
        let plan = PointPlan::checked(bench, kernel, &inputs.shape)?;
        Self::new(bench, &plan, inputs)
    }

    /// The configuration its plan recorded ([`PointPlan::label`]).
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Records what a run times: the forward, the backward, or both in order.
    fn encode_timed(&self, pass: &mut wgpu::ComputePass<'_>) {
        match &self.stages {
            Stages::Forward(f) => f.encode(pass),
            Stages::Training { forward, backward } => {
                if self.shape.pass.times_forward() {
                    forward.encode(pass);
                }
                backward.encode(pass);
            }
        }
    }

    /// The problem shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The device it runs on.
    pub fn gpu(&self) -> &'g Gpu {
        self.gpu
    }

    /// What a run times as segments of named phases ([`PreparedKernel::segments`]), where
    /// every part of it names them (`crate::run::phase_split`); empty otherwise.
    pub fn segments(&self) -> Vec<Segment<'_>> {
        let parts: Vec<&dyn PreparedKernel> = match &self.stages {
            Stages::Forward(f) => vec![f.as_ref()],
            Stages::Training { forward, backward } if self.shape.pass.times_forward() => {
                vec![forward.as_ref(), backward.as_ref()]
            }
            Stages::Training { backward, .. } => vec![backward.as_ref()],
        };
        let segments: Vec<Vec<Segment<'_>>> = parts.iter().map(|p| p.segments()).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Vec::new();
        }
        segments.into_iter().flatten().collect()
    }

    /// Where a run's time goes, for kernels that name their phases: each phase timed in
    /// a pass of its own over `repeats` runs (`phases.rs`); `None` for other kernels.
    pub async fn phase_split_async(&self, repeats: u32) -> Result<Option<PhaseSplit>> {
        let label = self.kernel.name();
        let flops = self.shape.forward_flops();
        phases::split(self.gpu, label, &self.segments(), flops, repeats).await
    }

    /// [`KernelRun::phase_split_async`], blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn phase_split(&self, repeats: u32) -> Result<Option<PhaseSplit>> {
        pollster::block_on(self.phase_split_async(repeats))
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

/// Plans `kernel` for the inputs' shape on `bench`, runs it once and returns O and, with a
/// backward pass, dQ, dK and dV. Every output is poisoned with NaN first.
pub async fn run_training_async(
    bench: &Bench,
    kernel: &dyn Kernel,
    inputs: &AttentionInputs,
) -> Result<(Vec<f32>, Option<Gradients>)> {
    let plan = PointPlan::checked(bench, kernel, &inputs.shape)?;
    run_plan_async(bench, &plan, inputs).await
}

/// Runs `plan` once on host inputs (outputs poisoned with NaN first) and returns O and,
/// with a backward pass, dQ, dK and dV.
pub async fn run_plan_async(
    gpu: &Gpu,
    plan: &PointPlan<'_>,
    inputs: &AttentionInputs,
) -> Result<(Vec<f32>, Option<Gradients>)> {
    let run = KernelRun::new_async(gpu, plan, inputs).await?;
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
    bench: &Bench,
    kernel: &dyn Kernel,
    inputs: &AttentionInputs,
) -> Result<(Vec<f32>, Option<Gradients>)> {
    pollster::block_on(run_training_async(bench, kernel, inputs))
}

/// Runs `kernel` once on host inputs and returns O (`[B, H, n, d]`). The output buffer is
/// poisoned with NaN first.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_attention(
    bench: &Bench,
    kernel: &dyn Kernel,
    inputs: &AttentionInputs,
) -> Result<Vec<f32>> {
    run_training(bench, kernel, inputs).map(|(out, _)| out)
}
