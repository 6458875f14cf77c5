//! The probes themselves, asynchronous so that the browser awaits what native code blocks
//! on: FMA chains of several shapes, a scale-copy for bandwidth, uploads and read-backs.
//! Every probe writes a value the host checks, so a probe optimized away fails.

use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, Gpu, ShaderSource, TrackedBuffer, grid_for, shader_params, time_passes_async,
};
use crate::gpu::{bind_buffers, params_buffer, pipeline_layout, storage_and_params_layout};
use std::sync::Arc;
use web_time::Instant;

const PARAMS_X: f32 = 0.999_97;
const PARAMS_Y: f32 = 0.000_12;
/// Timed runs per probe; the median counts.
const RUNS: u32 = 5;

shader_params! {
    pub(super) struct Params {
        iterations: u32,
        count: u32,
        x: f32,
        y: f32,
    }
}

pub(super) struct Probe<'g> {
    gpu: &'g Gpu,
    tracker: Arc<BufferTracker>,
    layout: wgpu::BindGroupLayout,
}

/// One way of keeping a device's FMA units busy: an entry point of the probe shader and
/// the independent chains it runs per invocation.
#[derive(Clone, Copy, Debug)]
pub(super) struct FmaShape {
    entry: &'static str,
    /// Independent dependency chains per invocation.
    chains: u32,
    /// Lanes per chain (1 for scalars, 4 for vec4).
    lanes: u32,
}

impl FmaShape {
    /// FLOPs per loop iteration of one invocation (an FMA counts two).
    fn flops_per_iteration(self) -> f64 {
        f64::from(self.chains * self.lanes * 2)
    }
}

/// The f32 chain shapes probed; the fastest is the ceiling. One shape alone under-reads
/// where it spills registers or leaves units idle, and a ceiling a kernel beats is none.
pub(super) const FMA_F32_SHAPES: [FmaShape; 4] = [
    FmaShape {
        entry: "fma_f32",
        chains: 8,
        lanes: 4,
    },
    FmaShape {
        entry: "fma_f32_vec4x4",
        chains: 4,
        lanes: 4,
    },
    FmaShape {
        entry: "fma_f32_scalar8",
        chains: 8,
        lanes: 1,
    },
    FmaShape {
        entry: "fma_f32_scalar4",
        chains: 4,
        lanes: 1,
    },
];

pub(super) const FMA_F16_SHAPE: FmaShape = FmaShape {
    entry: "fma_f16",
    chains: 8,
    lanes: 4,
};

/// What the FMA probe with `chains` chains must leave in `dst[id]` (all four lanes alike):
/// the same chains on the CPU with the same fused multiply-add. `f16` rounds like the
/// shader, loosely.
pub fn expected_fma(id: u32, iterations: u32, chains: u32) -> f32 {
    let seed = (id % 8) as f32;
    (0..chains)
        .map(|c| {
            let mut a = seed + c as f32;
            for _ in 0..iterations {
                a = a.mul_add(PARAMS_X, PARAMS_Y);
            }
            a
        })
        .sum()
}

impl<'g> Probe<'g> {
    pub(super) fn new(gpu: &'g Gpu) -> Self {
        Probe {
            gpu,
            tracker: BufferTracker::new(),
            layout: storage_and_params_layout(gpu, "probe", &[true, false]),
        }
    }

    fn storage(&self, label: &str, bytes: u64) -> Result<TrackedBuffer> {
        self.gpu.buffer(
            &self.tracker,
            label,
            bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        )
    }

    /// Median ns of RUNS runs of `entry` over `grid`, plus the source of the times.
    async fn time(
        &self,
        source: ShaderSource,
        entry: &str,
        workgroup: u32,
        buffers: (&TrackedBuffer, &TrackedBuffer),
        params: Params,
        grid: [u32; 3],
    ) -> Result<(f64, String)> {
        let pipeline = self.gpu.compile(
            source,
            entry,
            Some(&pipeline_layout(self.gpu, &self.layout)),
            &[
                ("WG", f64::from(workgroup)),
                ("ITERATIONS", f64::from(params.iterations)),
            ],
        )?;
        let params_buf = params_buffer(self.gpu, &self.tracker, "probe params", &params)?;
        let bind = bind_buffers(
            self.gpu,
            "probe",
            &self.layout,
            &[buffers.0, buffers.1, &params_buf],
        );
        let encode = |pass: &mut wgpu::ComputePass<'_>| {
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
        };
        // Calibrated from cold (the first run, which compiles, is not timed).
        let times = time_passes_async(self.gpu, entry, &encode, RUNS, RUNS, None).await?;
        Ok((
            crate::stats::median_of(&times.ns)?,
            times.source.as_str().to_string(),
        ))
    }

    /// Best FMA GFLOP/s over `shapes` × `workgroups`, growing the work until a run takes
    /// at least 20 ms; the result of every run is checked.
    pub(super) async fn fma(
        &self,
        f16: bool,
        shapes: &[FmaShape],
        workgroups: &[u32],
        tried: &mut Vec<(String, f64)>,
    ) -> Result<(f64, String)> {
        let mut best = (0.0f64, String::new());
        for &shape in shapes {
            for &workgroup in workgroups {
                let (gflops, timing) = self.fma_shape(f16, shape, workgroup, tried).await?;
                if gflops > best.0 {
                    best = (gflops, timing);
                }
            }
        }
        Ok(best)
    }

    /// GFLOP/s of one chain shape at one workgroup size.
    async fn fma_shape(
        &self,
        f16: bool,
        shape: FmaShape,
        workgroup: u32,
        tried: &mut Vec<(String, f64)>,
    ) -> Result<(f64, String)> {
        let source = if f16 {
            ShaderSource {
                name: "probe/probe_f16.wgsl",
                wgsl: include_str!("../../shaders/probe/probe_f16.wgsl"),
            }
        } else {
            crate::gpu::shader!("probe/probe.wgsl")
        };
        let entry = shape.entry;
        let iterations = 512u32;
        let max_dim = self.gpu.limits().max_compute_workgroups_per_dimension;
        let mut count = 4096u32;
        loop {
            let bytes = u64::from(count) * 16;
            let src = self.storage("probe src", 16)?;
            let dst = self.storage("probe dst", bytes)?;
            let groups = u64::from(count.div_ceil(workgroup));
            let grid = if f16 {
                [groups.min(u64::from(max_dim)) as u32, 1, 1]
            } else {
                grid_for(groups, max_dim)?
            };
            let params = Params {
                iterations,
                count,
                x: PARAMS_X,
                y: PARAMS_Y,
            };
            let (ns, timing) = self
                .time(source, entry, workgroup, (&src, &dst), params, grid)
                .await?;
            self.check_fma(&dst, count, iterations, shape.chains, f16)
                .await?;
            let gflops =
                f64::from(count) * f64::from(iterations) * shape.flops_per_iteration() / ns;
            let big_enough =
                ns >= 20e6 || count >= 1 << 22 || (f16 && groups >= u64::from(max_dim) / 2);
            if big_enough {
                tried.push((format!("{entry} workgroup {workgroup}, {count} invocations × {iterations} iterations"), gflops));
                return Ok((gflops, timing));
            }
            count *= 2;
        }
    }

    async fn check_fma(
        &self,
        dst: &TrackedBuffer,
        count: u32,
        iterations: u32,
        chains: u32,
        f16: bool,
    ) -> Result<()> {
        let sample = count.min(64);
        let bytes = self
            .gpu
            .read_buffer_async(dst, u64::from(sample) * 16)
            .await?;
        let data: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
        for id in 0..sample {
            let want = expected_fma(id, iterations, chains);
            let tolerance = if f16 {
                0.05 * want.abs().max(1.0)
            } else {
                1e-3 * want.abs().max(1.0)
            };
            for lane in 0..4 {
                let got = data[(id * 4 + lane) as usize];
                if got.is_nan() || (got - want).abs() > tolerance {
                    return Err(Error::Gpu {
                        during: "checking the FMA probe".into(),
                        message: format!("invocation {id} computed {got}, expected {want}"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Device memory bandwidth from a scale-copy of the largest buffer pair that fits, up
    /// to `most` bytes each.
    pub(super) async fn bandwidth(&self, most: u64, tried: &mut Vec<(String, f64)>) -> Result<f64> {
        let limits = self.gpu.limits();
        let budget = self.gpu.memory_budget().bytes.unwrap_or(u64::MAX);
        let bytes = most
            .min(limits.max_storage_buffer_binding_size)
            .min(limits.max_buffer_size)
            .min(budget / 4)
            / 16
            * 16;
        let count = u32::try_from(bytes / 16).unwrap_or(u32::MAX);
        let src = self.storage("probe src", bytes)?;
        let dst = self.storage("probe dst", bytes)?;
        let ramp: Vec<f32> = (0..count * 4).map(|i| (i % 1000) as f32).collect();
        self.gpu
            .queue
            .write_buffer(&src, 0, bytemuck::cast_slice(&ramp));
        let workgroup = 256;
        let groups = u64::from(count.div_ceil(workgroup)).min(4096);
        let grid = grid_for(groups, limits.max_compute_workgroups_per_dimension)?;
        let params = Params {
            iterations: 0,
            count,
            x: 0.5,
            y: 0.0,
        };
        let (ns, _) = self
            .time(
                crate::gpu::shader!("probe/probe.wgsl"),
                "scale_copy",
                workgroup,
                (&src, &dst),
                params,
                grid,
            )
            .await?;
        let out: Vec<f32> =
            bytemuck::pod_collect_to_vec(&self.gpu.read_buffer_async(&dst, bytes).await?);
        for i in [0usize, 1, 999, out.len() / 2, out.len() - 1] {
            let want = ramp[i] * 0.5;
            if out[i] != want {
                return Err(Error::Gpu {
                    during: "checking the bandwidth probe".into(),
                    message: format!("element {i} is {}, expected {want}", out[i]),
                });
            }
        }
        let gbps = 2.0 * bytes as f64 / ns;
        tried.push((
            format!("scale_copy {} MiB read + written", bytes >> 20),
            gbps,
        ));
        Ok(gbps)
    }

    /// Host→device and device→host rates over a buffer of up to `most` bytes, wall
    /// clock, median of RUNS.
    pub(super) async fn transfers(&self, most: u64) -> Result<(f64, f64)> {
        let limits = self.gpu.limits();
        let bytes = most.min(limits.max_buffer_size) / 16 * 16;
        let buffer = self.storage("probe transfer", bytes)?;
        let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
        let mut up = Vec::new();
        let mut down = Vec::new();
        for run in 0..=RUNS {
            let t0 = Instant::now();
            self.gpu.queue.write_buffer(&buffer, 0, &data);
            self.gpu.queue.submit([]);
            self.gpu.wait_async("uploading").await?;
            let t_up = t0.elapsed().as_nanos() as f64;
            let t1 = Instant::now();
            let back = self.gpu.read_buffer_async(&buffer, bytes).await?;
            let t_down = t1.elapsed().as_nanos() as f64;
            if back != data {
                return Err(Error::Gpu {
                    during: "checking the transfer probe".into(),
                    message: "data read back differs from data uploaded".into(),
                });
            }
            if run > 0 {
                up.push(t_up);
                down.push(t_down);
            }
        }
        Ok((
            bytes as f64 / crate::stats::median_of(&up)?,
            bytes as f64 / crate::stats::median_of(&down)?,
        ))
    }
}
