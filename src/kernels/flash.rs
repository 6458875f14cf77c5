//! `flash`: fused tiled attention with the online softmax (`shaders/flash.wgsl`).
//!
//! One dispatch; each workgroup owns `block_q` query rows of one (batch, head), one
//! invocation per row holding its query and accumulator in registers; K/V tiles of
//! `block_kv` keys stream through workgroup memory. Memory is Q, K, V, O and a uniform:
//! O(B·H·n·d), never n×n. Causal runs skip the tiles past each block's last query.
//! Tile sizes are WGSL `override` constants chosen by [`FlashConfig::for_shape`].
//!
//! Measured ladder: lavapipe (llvmpipe, LLVM 15, 2 cores), n = 4096, d = 64, B·H = 1,
//! GPU timestamps, `attnbench run --kernel flash --seq-len 4096 --head-dim 64`:
//!
//! | version | idea | GFLOP/s |
//! |---|---|---:|
//! | v1 (commit 1eaec13) | one row per invocation, a private array of the tile's scores | 3.0 |
//! | v2 | four keys per step, scores in one vec4, one rescale per four keys | 3.4 |
//! | v3 (commit 690f74f, current) | register tiling: 8 rows per invocation, each tile read serves 8 rows | 12.5 |
//!
//! Causal: lavapipe splits a dispatch's workgroups into contiguous ranges per thread, so
//! causal blocks (whose work grows with their index) are handed out in pairs short/long;
//! causal then runs 1.61× faster than non-causal at n = 2048 (1.14× before).
//! f16 (`flash_f16`): 10.9 GFLOP/s at n = 2048 on lavapipe, which emulates f16 arithmetic.
//!
//! What did not help: unrolling the column loops by hand (3.5), a uniform key-loop bound
//! (13.0 vs 12.6, noise). Replacing the tile reads by registers reached 43 GFLOP/s, so on
//! lavapipe each workgroup-memory read costs far more than an FMA: reuse per read is what
//! pays. 16 rows per invocation computed wrong results on lavapipe (2 × 256 vec4 of private
//! registers), hence [`max_rows`]. The probed f32 FMA peak there is ~95 GFLOP/s, so v3 is
//! ~13% of peak; numpy (BLAS) reaches ~35–43 GFLOP/s on the same CPU.
//!
//! Lavapipe also stops every loop of an invocation after 65 535 iterations in all (gallivm's
//! loop limiter); past that a kernel silently returns wrong results (flash v3 did from
//! n ≈ 7 600 at d = 64). Flash's loops grow with n/BLOCK_KV·d, so on such drivers the keys
//! are split into passes of [`FlashConfig::keys_per_pass`] keys (d = 64: ~6 000), each row's
//! running (m, l, accumulator) kept in a state buffer between passes: still O(n·d) memory.

use super::{
    AttentionBuffers, Dispatch, Dispatches, Kernel, PreparedKernel, bind_buffers, io_plan,
    pipeline_layout, shader, storage_and_uniform_layout, uniform_buffer, workgroup_count,
};
use crate::error::{Error, Result};
use crate::gpu::{BufferTracker, Gpu, MemoryPlan, grid_for, specialize};
use crate::shape::Shape;
use std::sync::Arc;

/// The flash kernel, in one of two precisions.
#[derive(Debug)]
pub struct Flash {
    /// Element type of the K/V tiles, query registers and Q·Kᵀ arithmetic.
    pub precision: Precision,
}

/// Element type of flash's tiles and score arithmetic (softmax state and the output
/// accumulator are always f32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout.
    F32,
    /// f16 tiles and Q·Kᵀ (needs SHADER_F16).
    F16,
}

/// `flash`: f32.
pub static FLASH: Flash = Flash {
    precision: Precision::F32,
};

/// `flash_f16`: f16 K/V tiles and Q·Kᵀ, f32 softmax and accumulation.
pub static FLASH_F16: Flash = Flash {
    precision: Precision::F16,
};

/// Most keys per tile the tuner tries.
const MAX_BLOCK_KV: u32 = 128;

/// Tile sizes of one flash pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlashConfig {
    /// Invocations per workgroup.
    pub block_q: u32,
    /// Query rows per invocation (register tiling), 1..=4.
    pub rows: u32,
    /// Keys per K/V tile in workgroup memory.
    pub block_kv: u32,
}

impl FlashConfig {
    /// Bytes of workgroup memory the K and V tiles take for `head_dim`.
    pub fn workgroup_bytes(&self, head_dim: u32) -> u32 {
        2 * self.block_kv * head_dim.div_ceil(4) * 16
    }

    /// The default tiles for `shape` on `gpu`: 64 invocations per workgroup, up to 32 keys
    /// per tile (fewer where workgroup memory is too small), and one row per invocation on
    /// GPUs but several on CPU drivers, where each workgroup-memory read costs many FMAs
    /// (lavapipe: 3.4 GFLOP/s at 1 row, 13 at 8, n = 4096, d = 64).
    pub fn default_for(shape: &Shape, gpu: &Gpu) -> Result<FlashConfig> {
        let mut config = Self::for_shape(shape, &gpu.limits())?;
        if gpu.summary().device_type == "Cpu" {
            config.rows = max_rows(shape.head_dim).min(8);
        }
        if let Ok(text) = std::env::var("ATTNBENCH_FLASH_TILES") {
            config = Self::parse(&text)?;
        }
        Ok(config)
    }

    /// Parses `block_q,rows,block_kv`, e.g. `64,8,32` (the `ATTNBENCH_FLASH_TILES` override).
    pub fn parse(text: &str) -> Result<FlashConfig> {
        let values: Vec<u32> = text
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        match values[..] {
            [block_q, rows, block_kv] => Ok(FlashConfig {
                block_q,
                rows,
                block_kv,
            }),
            _ => Err(Error::InvalidSetting {
                what: "ATTNBENCH_FLASH_TILES".into(),
                value: text.into(),
                expected: "block_q,rows,block_kv, e.g. 64,8,32".into(),
            }),
        }
    }

    /// Tiles that fit `limits`, one row per invocation.
    pub fn for_shape(shape: &Shape, limits: &wgpu::Limits) -> Result<FlashConfig> {
        let block_q = 64.min(limits.max_compute_invocations_per_workgroup);
        let per_key = FlashConfig {
            block_q,
            rows: 1,
            block_kv: 1,
        }
        .workgroup_bytes(shape.head_dim);
        // A multiple of 4: the shader consumes keys four at a time.
        let block_kv = (limits.max_compute_workgroup_storage_size / per_key).min(32) / 4 * 4;
        if block_kv == 0 {
            return Err(Error::Unsupported {
                kernel: "flash".into(),
                reason: format!(
                    "head_dim {} needs {} bytes of workgroup memory for 4 keys, device has {}",
                    shape.head_dim,
                    4 * per_key,
                    limits.max_compute_workgroup_storage_size
                ),
            });
        }
        Ok(FlashConfig {
            block_q,
            rows: 1,
            block_kv,
        })
    }

    /// Loop iterations one invocation runs per K/V tile (fitted on lavapipe: the key loop
    /// in steps of 4 around two column loops, plus the tile load), used against
    /// [`Gpu::shader_loop_cap`].
    pub fn loop_iterations_per_tile(&self, head_dim: u32) -> u64 {
        let d4 = u64::from(head_dim.div_ceil(4));
        let kv = u64::from(self.block_kv);
        (kv / 4) * (2 * d4 + 4) + (kv * d4).div_ceil(u64::from(self.block_q)) + 8
    }

    /// Keys one pass may cover so that an invocation stays under a driver's loop cap (90% of
    /// it, less the loops that load and store each row's state), a multiple of `block_kv`;
    /// `None` when even one tile does not fit.
    pub fn keys_per_pass(&self, head_dim: u32, cap: Option<u64>) -> Option<u64> {
        let Some(cap) = cap else {
            return Some(u64::MAX);
        };
        let d4 = u64::from(head_dim.div_ceil(4));
        let overhead = u64::from(self.rows) * (d4 + 1) * 8 + 64;
        let tiles = (cap * 9 / 10).checked_sub(overhead)? / self.loop_iterations_per_tile(head_dim);
        (tiles > 0).then(|| tiles * u64::from(self.block_kv))
    }

    /// Passes over the keys for `shape` on a device with loop cap `cap`.
    pub fn passes(&self, shape: &Shape, cap: Option<u64>) -> Result<u64> {
        let per_pass = self.keys_per_pass(shape.head_dim, cap).ok_or_else(|| Error::Unsupported {
            kernel: "flash".into(),
            reason: format!(
                "one tile of head_dim {} exceeds the driver's cap of {} loop iterations per invocation",
                shape.head_dim,
                cap.unwrap_or(0)
            ),
        })?;
        Ok(u64::from(shape.seq_len).div_ceil(per_pass).max(1))
    }

    fn validate(&self, shape: &Shape, limits: &wgpu::Limits) -> Result<()> {
        let unsupported = |reason: String| Error::Unsupported {
            kernel: "flash".into(),
            reason,
        };
        if self.block_kv == 0 || self.block_kv > MAX_BLOCK_KV {
            return Err(unsupported(format!(
                "block_kv {} not in 1..={MAX_BLOCK_KV}",
                self.block_kv
            )));
        }
        if !(1..=max_rows(shape.head_dim)).contains(&self.rows) {
            return Err(unsupported(format!(
                "rows {} not in 1..={} for head_dim {}",
                self.rows,
                max_rows(shape.head_dim),
                shape.head_dim
            )));
        }
        if self.block_q == 0 || self.block_q > limits.max_compute_invocations_per_workgroup {
            return Err(unsupported(format!(
                "block_q {} exceeds the device",
                self.block_q
            )));
        }
        if self.workgroup_bytes(shape.head_dim) > limits.max_compute_workgroup_storage_size {
            return Err(unsupported(format!(
                "tiles need {} bytes of workgroup memory, device has {}",
                self.workgroup_bytes(shape.head_dim),
                limits.max_compute_workgroup_storage_size
            )));
        }
        Ok(())
    }
}

/// Most rows per invocation for `head_dim`: query and accumulator registers stay within
/// 2 × 128 vec4 per invocation (lavapipe computed wrong results with 2 × 256).
pub fn max_rows(head_dim: u32) -> u32 {
    (128 / head_dim.div_ceil(4)).clamp(1, 16)
}

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale_log2: f32,
    q_blocks: u32,
    total_groups: u32,
    kv_begin: u32,
    kv_stop: u32,
    pass_flags: u32,
    _pad: [u32; 3],
}

#[derive(Clone)]
struct Pipeline {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

fn pipeline(
    gpu: &Gpu,
    config: FlashConfig,
    head_dim: u32,
    precision: Precision,
) -> Result<Pipeline> {
    let d4 = head_dim.div_ceil(4);
    let key = format!(
        "flash {precision:?} q{} r{} kv{} d4 {d4}",
        config.block_q, config.rows, config.block_kv
    );
    gpu.cached(&key, || {
        let layout = storage_and_uniform_layout(gpu, "flash", &[true, true, true, false, false]);
        let constants = [
            ("BLOCK_Q", f64::from(config.block_q)),
            ("BLOCK_KV", f64::from(config.block_kv)),
        ];
        let source = shader!("flash.wgsl", "qkv_rows.wgsl");
        let mut wgsl = specialize(source, &[("ROWS", config.rows), ("D4", d4)])?;
        if precision == Precision::F16 {
            const F32_ALIAS: &str = "alias kv4 = vec4<f32>;";
            if !wgsl.contains(F32_ALIAS) {
                return Err(Error::Gpu {
                    during: "specializing flash.wgsl for f16".into(),
                    message: format!("expected the line `{F32_ALIAS}`"),
                });
            }
            wgsl = format!(
                "enable f16;\n{}",
                wgsl.replace(F32_ALIAS, "alias kv4 = vec4<f16>;")
            );
        }
        let pipeline = gpu.compile_text(
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &constants,
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}

/// Prepares flash with explicit tile sizes (the tuner and tests use this).
pub fn prepare_with(
    gpu: &Gpu,
    shape: &Shape,
    io: &AttentionBuffers,
    tracker: &Arc<BufferTracker>,
    config: FlashConfig,
    precision: Precision,
) -> Result<Box<dyn PreparedKernel>> {
    let limits = gpu.limits();
    config.validate(shape, &limits)?;
    let passes = config.passes(shape, gpu.shader_loop_cap())?;
    let p = pipeline(gpu, config, shape.head_dim, precision)?;
    let q_blocks = shape.seq_len.div_ceil(config.block_q * config.rows);
    let total_groups = shape.batch_heads() * u64::from(q_blocks);
    let total_groups_u32 = workgroup_count("flash", shape, total_groups)?;
    let grid = grid_for(total_groups, limits.max_compute_workgroups_per_dimension)?;
    let state = gpu.buffer(
        tracker,
        "flash state",
        state_bytes(shape, passes),
        wgpu::BufferUsages::STORAGE,
    )?;
    let per_pass = u64::from(shape.seq_len)
        .div_ceil(passes)
        .next_multiple_of(u64::from(config.block_kv));
    let mut steps = Vec::new();
    let mut buffers = Vec::new();
    for pass in 0..passes {
        let params = uniform_buffer(
            gpu,
            tracker,
            &format!("flash params[{pass}]"),
            &Params {
                seq_len: shape.seq_len,
                head_dim: shape.head_dim,
                causal: u32::from(shape.causal),
                scale_log2: shape.scale() * std::f32::consts::LOG2_E,
                q_blocks,
                total_groups: total_groups_u32,
                kv_begin: (pass * per_pass).min(u64::from(shape.seq_len)) as u32,
                kv_stop: ((pass + 1) * per_pass).min(u64::from(shape.seq_len)) as u32,
                pass_flags: u32::from(pass == 0) | (u32::from(pass + 1 == passes) << 1),
                _pad: [0; 3],
            },
        )?;
        let bind_group = bind_buffers(
            gpu,
            "flash",
            &p.layout,
            &[&io.q, &io.k, &io.v, &io.o, &state, &params],
        );
        steps.push(Dispatch {
            pipeline: p.pipeline.clone(),
            bind_group,
            grid,
        });
        buffers.push(params);
    }
    buffers.push(state);
    Ok(Box::new(Dispatches {
        steps,
        _buffers: buffers,
    }))
}

/// Bytes of the running state between passes (a 16-byte placeholder for one pass).
fn state_bytes(shape: &Shape, passes: u64) -> u64 {
    if passes <= 1 {
        16
    } else {
        shape.rows() * (u64::from(shape.head_dim.div_ceil(4)) + 1) * 16
    }
}

impl Kernel for Flash {
    fn name(&self) -> &'static str {
        match self.precision {
            Precision::F32 => "flash",
            Precision::F16 => "flash_f16",
        }
    }

    fn summary(&self) -> &'static str {
        match self.precision {
            Precision::F32 => {
                "fused tiled kernel with online softmax; never materializes n×n (1 dispatch per pass over the keys)"
            }
            Precision::F16 => "flash with f16 K/V tiles and Q·Kᵀ, f32 softmax and accumulation",
        }
    }

    fn dtype(&self) -> &'static str {
        match self.precision {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }

    /// f16 keeps ~3 decimal digits in Q·Kᵀ.
    fn tolerance(&self) -> f64 {
        match self.precision {
            Precision::F32 => 1e-4,
            Precision::F16 => 1e-2,
        }
    }

    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()> {
        if self.precision == Precision::F16 && !gpu.features().contains(wgpu::Features::SHADER_F16)
        {
            return Err(Error::Unsupported {
                kernel: self.name().into(),
                reason: format!("{} has no SHADER_F16", gpu.summary().name),
            });
        }
        let config = FlashConfig::default_for(shape, gpu)?;
        config.validate(shape, &gpu.limits())?;
        config.passes(shape, gpu.shader_loop_cap()).map(|_| ())
    }

    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
        let mut plan = io_plan(shape);
        let config = FlashConfig::default_for(shape, gpu)?;
        let passes = config.passes(shape, gpu.shader_loop_cap())?;
        plan.storage("state", state_bytes(shape, passes));
        for pass in 0..passes {
            plan.other(
                format!("params[{pass}]"),
                std::mem::size_of::<Params>() as u64,
            );
        }
        Ok(plan)
    }

    fn prepare(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Box<dyn PreparedKernel>> {
        self.check_support(shape, gpu)?;
        let config = FlashConfig::default_for(shape, gpu)?;
        prepare_with(gpu, shape, io, tracker, config, self.precision)
    }
}
