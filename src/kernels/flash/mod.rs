//! `flash`: fused attention with the online softmax, in two shaders that differ only in how
//! K and V reach the invocations ([`KvSource`]):
//!
//! - `shaders/flash.wgsl` ([`KvSource::WorkgroupTiles`], the GPU kernel): each workgroup
//!   owns `block_q / lanes · rows` query rows of one (batch, head); each row is held by
//!   `lanes` lanes of a subgroup that split its head dim, with its query and accumulator
//!   slices in registers; K/V tiles of `block_kv` keys stream through workgroup memory.
//! - `shaders/flash_lanes.wgsl` ([`KvSource::SubgroupBroadcast`], for CPU drivers): no
//!   workgroup memory; the lanes of a subgroup load four keys cooperatively and share them
//!   with `subgroupBroadcast`; loops are unrolled (`src/gpu/unroll.rs`) so every register
//!   index and lane is a constant. [`KvSource::TexelBroadcast`] (the CPU-driver default)
//!   runs the same shader with K and V read as texels of `rgba32float` textures
//!   (`shaders/kv_quads_texels.wgsl`), which a first dispatch of each run fills from the
//!   buffers (`src/kernels/texel_pair.rs`).
//!
//! ## The GPU path (`shaders/flash.wgsl`) and what to expect of it
//!
//! Designed for subgroups of 32 (NVIDIA, Apple, Intel) or 64 (AMD), 32–48 KiB of workgroup
//! memory and wide memory buses; measured here only on lavapipe and GL (correctness) until
//! a GPU run (issue 11):
//! - Query blocks of 64–256 rows per workgroup (`block_q / lanes · rows`), the workgroup's
//!   `block_q` invocations being 2–8 subgroups.
//! - K/V tiles in workgroup memory loaded with coalesced vec4 loads (consecutive lanes,
//!   consecutive 16 bytes; `kv_quads_vec4.wgsl` where head_dim is a multiple of 4, scalar
//!   masked loads otherwise); no load selector anywhere in the loops.
//! - Scores (a vec4 per four keys and row) and the output accumulator in registers.
//! - `lanes` > 1: a row's head dim is split across that many lanes of one subgroup, and its
//!   partial dot products are summed with a `subgroupShuffleXor` butterfly
//!   (`lanes_subgroup.wgsl`); the softmax max and sum then need no reduction, since every
//!   lane of the row has the same scores. This cuts the registers per lane by `lanes`
//!   (d = 128: 64 vec4s per row and lane with 1 lane, 16 with 4), which is what limits
//!   occupancy at large head dims on GPUs. `lanes` = 1 uses no subgroup operation at all
//!   (`lanes_none.wgsl`): the fallback for adapters without subgroups (wgpu's GL backend).
//! - `flash_f16`: the same kernel with f16 K/V tiles and query registers (half the
//!   workgroup memory and LDS traffic); softmax state and accumulator stay f32.
//! - Expectation on an NVIDIA data-centre GPU: this is a scalar-FMA kernel, so its ceiling
//!   is the f32 FMA peak (67 TFLOP/s on an H100), not the tensor cores; each K element read
//!   from workgroup memory feeds `rows` FMAs per lane, so `rows` ≥ 2 should keep it
//!   compute-bound, and `attnbench tune`'s GPU grid ([`crate::tuning::search::gpu_grid`]:
//!   block_q 64/128/256 × (rows, lanes) from (1, 1) to (8, 4) × 32 or 64 keys per tile)
//!   finds the balance per device. On lavapipe, whose subgroup is one SIMD vector and whose
//!   workgroup-memory reads are loops over the lanes, this path is 10–20× slower than the
//!   broadcast kernel, which stays the CPU-driver default (ladder rung v6 below).
//!
//! Memory is Q, K, V, O and the parameters: O(B·H·n·d), never n×n. Causal runs skip the keys
//! past each block's last query. The configuration comes from
//! [`FlashConfig::default_for`]: an override, the device's tuned choice
//! (`attnbench tune`, `results/<device>/tuning.json`), or a default per driver type.
//!
//! Measured ladder: lavapipe (llvmpipe, LLVM 15, 2 cores), d = 64, GPU timestamps,
//! `attnbench run --kernel flash --seq-len N --head-dim 64 [--batch 2 --heads 4]`
//! (`ATTNBENCH_FLASH_TILES` pins a configuration); probed f32 FMA peak ~90–96 GFLOP/s:
//!
//! | version | idea | GFLOP/s |
//! |---|---|---:|
//! | v1 (commit 1eaec13) | one row per invocation, a private array of the tile's scores | 3.0 (n = 4096) |
//! | v2 | four keys per step, scores in one vec4, one rescale per four keys | 3.4 (n = 4096) |
//! | v3 (commit 690f74f) | register tiling: 8 rows per invocation, each tile read serves 8 rows | 12.5 (n = 4096; 12.5 at B·H = 8) |
//! | v4 | K/V shared by subgroupBroadcast from constant lanes, loops unrolled, scalar loads | 25.7 (n = 2048) |
//! | v5 (current CPU default) | the same with one vec4 load per four floats; 4 rows, 32 invocations | 32.6 (n = 2048); **47.0 at B·H = 8, n = 4096 (49% of peak)** |
//! | v6 (GPU path) | flash.wgsl reworked for GPUs: vec4 coalesced tile loads, no load selector, rows split across lanes with a subgroup butterfly | `attnbench ladder --seq-len 1024 --head-dim 64` on lavapipe, B·H = 4, on a slower day (v5 10.5 GFLOP/s): `tiles,64,8,32` 2.3 (the v3 code measured the same), `tiles,128,2,32,4` 0.7; built for GPUs, not measured on one yet |
//! | v7 (commit 5865c31; tuned on lavapipe at d = 64, 2026-11-26) | v5 with 8 rows per invocation: each K/V load, a lane loop on lavapipe, serves 64 query rows of a subgroup | on a slow day (probe 50–53 GFLOP/s): 17.6 at 1×4×2048 against 11.3 for v5 (`attnbench tune --head-dims 64`); **15.6 at B·H = 8, n = 4096 (30% of peak, v5 22% that morning)** |
//!
//! Why v4 pays (from the JIT's disassembly under `perf`): lavapipe turns every load from
//! workgroup or storage memory into a loop over the 8 SIMD lanes (mask test, bounds check,
//! one masked broadcast per component), so v3 paid that loop once per K/V element per
//! invocation. v4 pays it once per 8 elements and shares them with register shuffles.
//!
//! | v8 (`texels,32,R`) | v5/v7 with K and V read as texels (`textureLoad` from `rgba32float` textures, filled from the buffers by a dispatch at the start of each run, timed with it) | same slow day, 1×4×n: d = 64, n = 1024, 8 rows: 20.4 against 15.1 for v7 (1.35×); d = 128, n = 2048, 4 rows: 25.2 against 10.8 (2.3×) |
//!
//! Why v8 pays: lavapipe vectorizes texel fetches, where each storage load is a loop over
//! the lanes. `cargo run --release --example load_probe` times one vec4 load per invocation
//! in a loop: 14.2–14.7 ns per lane from a storage buffer, 1.8–2.5 ns from an `rgba32float`
//! texture with `textureLoad` (0.3 ns without a load; three runs, GPU timestamps,
//! 2026-11-26, slow day). The textures cost two texel arrays of K's size (their rows
//! rounded up to whole texture rows of 8192 texels) and an O(n·d) copy per run; shapes
//! whose K does not fit the device's 2D textures, or whose head dim is not a multiple of 4
//! (four floats per texel), keep the buffers (v5/v7). Figures: `ATTNBENCH_FLASH_TILES=texels,32,8
//! attnbench run --kernel flash --seq-len 1024 --head-dim 64 --heads 4`, and the same with
//! `broadcast,32,8`; at d = 128 `--seq-len 2048 --head-dim 128` with rows 4.
//!
//! What did not help: reading K in the broadcast kernel's score loop with loads whose
//! address is the same in every lane (a one-off edit of the score loop's `kc` to
//! `k_quad(base, (j·D + c) / 4, stop)[c % 4]`, not kept; v5 at 1×4×1024: 332 against
//! 113 ms; lavapipe 22.3
//! has no uniform-load path inside loops, so each is a lane loop too); in v3,
//! subgroupShuffle from per-lane registers indexed by loop variables (12.8: a private array
//! indexed by a variable is itself memory on lavapipe);
//! unrolling v3's column loops (1.1×); 8 rows per invocation in v5 on the fast day (~10%
//! faster at 4 heads, but lavapipe needs 42 s to compile it with a cold shader cache, 9 s for
//! 4 rows and 183 s for 4 rows at d = 256; hence `max_broadcast_registers` in `config.rs`).
//! On a slow day the same 8 rows paid 1.5× (v7), so the tuner tries them and the default
//! stays at 4. 16 rows per
//! invocation in v3 computed wrong results (probably its row loops, no longer unrolled,
//! then pass the loop cap below),
//! hence [`max_rows`].
//!
//! Causal: lavapipe splits a dispatch's workgroups into contiguous ranges per thread, so
//! causal blocks (whose work grows with their index) are handed out in pairs short/long;
//! causal then ran 1.61× faster than non-causal at n = 2048 in v3 (1.14× before).
//! f16 (`flash_f16`, workgroup tiles only): 10.9 GFLOP/s at n = 2048 on lavapipe, which
//! emulates f16 arithmetic.
//!
//! Lavapipe also stops every loop of an invocation after 65 535 iterations in all (gallivm's
//! loop limiter); past that a kernel silently returns wrong results (v3 did from
//! n ≈ 7 600 at d = 64). So on such drivers the keys are split into passes of
//! [`FlashConfig::keys_per_pass`] keys (tiles at d = 64: ~6 000; broadcast, whose key loop
//! is the only loop left: ~235 000), each row's running (m, l, accumulator) kept in a state
//! buffer between passes: still O(n·d) memory.

pub mod backward_rows;
mod config;
mod ladder;
mod pipelines;

pub(crate) use config::kv_texels;
pub use config::{FlashConfig, KvSource, fixed_subgroup_size, max_rows};
pub use ladder::{LADDER, Rung};

use super::texel_pair::{TexelPair, plan_pair};
use super::{
    AttentionBuffers, Dispatch, Dispatches, KeepAlive, Kernel, PreparedKernel, io_plan,
    params_buffer, workgroup_count,
};
use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, Gpu, MemoryPlan, Resource, TrackedBuffer, bind_resources, grid_for,
};
use crate::shape::Shape;
use pipelines::pipeline;
use std::sync::Arc;

/// The flash kernel, in one of two precisions.
#[derive(Debug)]
pub struct Flash {
    /// Element type of the K/V tiles, query registers and Q·Kᵀ arithmetic.
    pub precision: Precision,
    /// Fixed tiles (the tuner's candidates); `None`: [`FlashConfig::default_for`].
    pub config: Option<FlashConfig>,
    /// At most this many keys per pass, as if the driver capped loops harder (tests use it
    /// to cross pass boundaries at small n); `None`: only the driver's cap splits.
    pub max_pass_keys: Option<u32>,
}

impl Flash {
    /// Flash in `precision` with the tiles fixed to `config`.
    pub fn with_config(precision: Precision, config: FlashConfig) -> Flash {
        Flash {
            precision,
            config: Some(config),
            max_pass_keys: None,
        }
    }

    /// Passes over the keys for `shape` with `config` on `gpu`.
    pub(crate) fn passes(&self, config: &FlashConfig, shape: &Shape, gpu: &Gpu) -> Result<u64> {
        let by_driver = config.passes(shape, gpu.shader_loop_cap(), self.precision)?;
        let by_request = self.max_pass_keys.map_or(1, |keys| {
            let keys = u64::from(keys).next_multiple_of(u64::from(config.block_kv));
            u64::from(shape.seq_len).div_ceil(keys)
        });
        Ok(by_driver.max(by_request))
    }

    /// Allocates the state buffer of `passes` passes for `shape`.
    pub(crate) fn state_buffer(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        tracker: &Arc<BufferTracker>,
        passes: u64,
    ) -> Result<TrackedBuffer> {
        gpu.buffer(
            tracker,
            "flash state",
            state_bytes(shape, passes),
            wgpu::BufferUsages::STORAGE,
        )
    }

    /// The texel pair a run of `shape` reads through ([`TexelPair`]): its texels and the
    /// pack dispatches that fill it, the forward's K/V with [`KvSource::TexelBroadcast`]
    /// and, for shapes with a backward pass whose layout reads texels, the backward's Q/dO
    /// and K/V (Q being the largest); `None` when nothing reads texels.
    pub(crate) fn texel_pair_use(&self, shape: &Shape, gpu: &Gpu) -> Result<Option<(u64, u64)>> {
        let forward = self.config_for(shape, gpu)?.kv == KvSource::TexelBroadcast;
        let backward = shape.pass.has_backward()
            && super::flash_backward::BackwardLayout::for_shape(shape, gpu)?.texels;
        let texels = |(used, texels, packs): (bool, u64, u64)| used.then_some((texels, packs));
        Ok([
            (forward, kv_texels(shape), 1),
            (backward, shape.tensor_bytes() / 16, 2),
        ]
        .into_iter()
        .filter_map(texels)
        .reduce(|(t1, p1), (t2, p2)| (t1.max(t2), p1 + p2)))
    }

    /// Allocates the texel pair of [`Flash::texel_pair_use`], if any.
    pub(crate) fn texel_pair(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Option<Arc<TexelPair>>> {
        self.texel_pair_use(shape, gpu)?
            .map(|(texels, _)| TexelPair::new(gpu, tracker, texels))
            .transpose()
    }

    /// The tiles this kernel uses for `shape` on `gpu`.
    pub fn config_for(&self, shape: &Shape, gpu: &Gpu) -> Result<FlashConfig> {
        match self.config {
            Some(config) => Ok(config),
            None => FlashConfig::default_for(shape, gpu, self.precision),
        }
    }
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
    config: None,
    max_pass_keys: None,
};

/// `flash_f16`: f16 K/V tiles and Q·Kᵀ, f32 softmax and accumulation.
pub static FLASH_F16: Flash = Flash {
    precision: Precision::F16,
    config: None,
    max_pass_keys: None,
};

/// The kernel name of flash in `precision` (its tuned choices are filed under it).
fn kernel_name(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "flash",
        Precision::F16 => "flash_f16",
    }
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
    heads: u32,
    kv_heads: u32,
    window: u32,
}

/// Prepares flash with `config` in `precision` in `passes` passes over the keys, with
/// `state` (of [`state_bytes`]) between passes, and with [`KvSource::TexelBroadcast`] K and
/// V packed into `texels` first ([`Flash::texel_pair`]). For shapes with a backward pass
/// the last pass also writes each row's logsumexp into `state`.
pub(super) fn prepare_with(
    gpu: &Gpu,
    shape: &Shape,
    io: &AttentionBuffers,
    tracker: &Arc<BufferTracker>,
    (config, precision, passes): (FlashConfig, Precision, u64),
    (state, texels): (&TrackedBuffer, Option<&Arc<TexelPair>>),
) -> Result<Box<dyn PreparedKernel>> {
    let limits = gpu.limits();
    config.validate(shape, gpu, precision)?;
    let p = pipeline(gpu, config, shape.head_dim, precision)?;
    // Rows per workgroup: lane groups × rows per group.
    let q_blocks = shape
        .seq_len
        .div_ceil(config.block_q / config.lanes * config.rows);
    let total_groups = shape.batch_heads() * u64::from(q_blocks);
    let total_groups_u32 = workgroup_count("flash", shape, total_groups)?;
    let grid = grid_for(total_groups, limits.max_compute_workgroups_per_dimension)?;
    let per_pass = u64::from(shape.seq_len)
        .div_ceil(passes)
        .next_multiple_of(u64::from(config.block_kv));
    let mut steps = Vec::new();
    let mut buffers = Vec::new();
    let texels = match (config.kv, texels) {
        (KvSource::TexelBroadcast, Some(pair)) => {
            let (pack, params) = pair.pack(gpu, tracker, (&io.k, &io.v), kv_texels(shape))?;
            steps.push(pack);
            buffers.push(params);
            Some(pair)
        }
        (KvSource::TexelBroadcast, None) => {
            return Err(Error::Gpu {
                during: format!("preparing flash {config} at {shape}"),
                message: "texel broadcast needs a texel pair (Flash::texel_pair)".into(),
            });
        }
        _ => None,
    };
    let (k, v) = match texels {
        Some(pair) => (Resource::View(&pair.a.view), Resource::View(&pair.b.view)),
        None => (Resource::Buffer(&io.k), Resource::Buffer(&io.v)),
    };
    for pass in 0..passes {
        let params = params_buffer(
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
                pass_flags: u32::from(pass == 0)
                    | (u32::from(pass + 1 == passes) << 1)
                    | (u32::from(shape.pass.has_backward()) << 2),
                heads: shape.heads,
                kv_heads: shape.kv_head_count(),
                window: shape.window.unwrap_or(0),
            },
        )?;
        let bind_group = bind_resources(
            gpu,
            "flash",
            &p.layout,
            &[
                Resource::Buffer(&io.q),
                k,
                v,
                Resource::Buffer(&io.o),
                Resource::Buffer(state),
                Resource::Buffer(&params),
            ],
        );
        steps.push(Dispatch {
            pipeline: p.pipeline.clone(),
            bind_group,
            grid,
        });
        buffers.push(params);
    }
    let dispatches = Box::new(Dispatches {
        steps,
        _buffers: buffers,
    });
    Ok(match texels {
        Some(pair) => Box::new(KeepAlive {
            inner: dispatches,
            _held: pair.clone(),
        }),
        None => dispatches,
    })
}

/// Bytes of the running state between passes, which also keeps each row's logsumexp for a
/// backward pass (a 16-byte placeholder for one pass of the forward alone).
pub(super) fn state_bytes(shape: &Shape, passes: u64) -> u64 {
    if passes <= 1 && !shape.pass.has_backward() {
        16
    } else {
        shape.rows() * (u64::from(shape.head_dim.div_ceil(4)) + 1) * 16
    }
}

impl Kernel for Flash {
    fn name(&self) -> &'static str {
        kernel_name(self.precision)
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

    /// The forward's tiles; with a backward pass also its layout, e.g.
    /// `broadcast,32,4; bwd 8,4,32`.
    fn config_label(&self, shape: &Shape, gpu: &Gpu) -> Option<String> {
        let forward = self.config_for(shape, gpu).ok()?.to_string();
        if !shape.pass.has_backward() {
            return Some(forward);
        }
        match super::flash_backward::BackwardLayout::for_shape(shape, gpu) {
            Ok(layout) => Some(format!("{forward}; {layout}")),
            Err(_) => Some(forward),
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
        let config = self.config_for(shape, gpu)?;
        config.validate(shape, gpu, self.precision)?;
        self.passes(&config, shape, gpu).map(|_| ())
    }

    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
        let mut plan = io_plan(shape, self.query_rows(shape));
        let config = self.config_for(shape, gpu)?;
        let passes = self.passes(&config, shape, gpu)?;
        plan.storage("state", state_bytes(shape, passes));
        if let Some((texels, packs)) = self.texel_pair_use(shape, gpu)? {
            plan_pair(&mut plan, texels, packs, gpu);
        }
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
        let config = self.config_for(shape, gpu)?;
        let passes = self.passes(&config, shape, gpu)?;
        let state = self.state_buffer(gpu, shape, tracker, passes)?;
        let texels = self.texel_pair(gpu, shape, tracker)?;
        let prepared = prepare_with(
            gpu,
            shape,
            io,
            tracker,
            (config, self.precision, passes),
            (&state, texels.as_ref()),
        )?;
        Ok(Box::new(KeepAlive {
            inner: prepared,
            _held: vec![state],
        }))
    }

    fn backward(&self) -> Option<&dyn crate::kernels::Backward> {
        (self.precision == Precision::F32).then_some(self as &dyn crate::kernels::Backward)
    }
}
