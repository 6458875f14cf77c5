//! flash's backward pass: FlashAttention-2's (Dao 2023, algorithm 2) in three kernels,
//! O(B·H·n·d) memory, no float atomics:
//!
//! 1. the forward ([`super::flash`], either shader) leaves each row's logsumexp L in its
//!    state buffer (one float per row beside the between-pass state);
//! 2. `shaders/flash_backward_stats.wgsl`: D = rowsum(dO ∘ O) per row, stored with L four
//!    rows per vec4;
//! 3. `shaders/flash_backward_dkdv.wgsl`: workgroups own key blocks of a KV head, hold K, V,
//!    dK and dV in registers and stream the query rows of its query heads, recomputing
//!    P = exp(scale·q·k − L);
//! 4. `shaders/flash_backward_dq.wgsl`: workgroups own query blocks, hold Q, dO and dQ in
//!    registers and stream the keys (Triton's fused-attention tutorial splits dQ off the
//!    same way; FlashAttention-2 instead adds dQ with atomics, which WGSL lacks for floats).
//!
//! Both main kernels share K/V (or Q/dO) rows across a subgroup with `subgroupBroadcast`
//! from constant lanes and unroll their column loops, as the forward's broadcast kernel
//! does (`shaders/flash_lanes.wgsl`), so the backward needs subgroups of a fixed size
//! (adapters without, such as wgpu's GL backend, skip it with the reason). Causal blocks
//! skip the blocks they cannot see; a window bounds both loops. Loop caps (lavapipe) split
//! each kernel into passes that add into the gradients.
//!
//! The FLOP model is FlashAttention's: the backward counts 2.5 forwards (10·B·H·n²·d,
//! halved when causal). These kernels do 3.5 forwards' worth (P is recomputed in both),
//! so their FMA efficiency is 1.4× what the reported GFLOP/s suggest.
//!
//! Measured ladder: lavapipe (llvmpipe, LLVM 15, 2 cores), d = 64, GPU timestamps,
//! `attnbench run --kernel flash --pass bwd --seq-len N --head-dim 64 [--batch 2 --heads 4]`:
//!
//! B·H = 8, n = 2048, on a slow day; each rung is reproduced with
//! `ATTNBENCH_FLASH_BWD_ROWS=DQ,DKDV,32,buffers attnbench run --kernel flash --pass bwd
//! --seq-len 2048 --head-dim 64 --batch 2 --heads 4` (flash's forward at the same shape:
//! 10.5–10.7 GFLOP/s, 21% of the 49–54 GFLOP/s probed, before texels):
//!
//! | version | idea | GFLOP/s (FA model) |
//! |---|---|---:|
//! | v1 (rows 1, 1) | dK/dV kernel over key blocks, dQ kernel over query blocks, one row of each register set per invocation, Q/dO and K/V rows shared by subgroup broadcast, loops unrolled | 4.1 |
//! | v2 (rows 2, 2) | two rows per invocation in each kernel: every broadcast row serves two | 7.5 |
//! | v3 (rows 4, 4) | four rows each | 9.8 |
//! | v4 (rows 8, 4 at d = 64) | eight query rows in the dQ kernel (1536 register floats), four keys in dK/dV; (4, 8) measured 11.3 but took 4 minutes to compile | 13.5 (11.1 in the targets bench: 103% of the forward's efficiency that day, with the forward at 4 rows; 66% of the 8-row forward's, `cargo bench --bench targets` that afternoon) |
//! | v5 (current on CPU drivers: v4 with `texels`) | the rows each kernel streams (Q and dO in dK/dV, K and V in dQ) read as texels of two `rgba32float` textures, packed by a dispatch before each kernel (`src/kernels/texel_pair.rs`), where lavapipe's storage loads are lane loops | B·H = 8, n = 1024, same slow day: 16.4 against 10.55 for v4 (`ATTNBENCH_FLASH_BWD_ROWS=8,4,32,texels` and `8,4,32,buffers`); n = 2048: **17.2 in the targets bench (34% of the 50.3 GFLOP/s probed; 59% of the forward's 29.2 with texels)** |
//!
//! Rows are chosen per head dim by [`BackwardLayout::for_shape`]. What did not help: 16
//! or 64 invocations per workgroup instead of 32 (within noise); on a slow day (forward
//! 16 GFLOP/s), 16 dQ rows (10.6 against 10.95 GFLOP/s for (8, 4), after an 11-minute
//! cold compile) and 8 dK/dV rows (11.65, within noise). Under `perf` the hottest JIT code
//! was lavapipe's per-lane loops for the Q/dO and K/V loads, as in the forward: v5 reads
//! them as texels instead. The texel pair is shared with the forward (one pair of Q's size
//! for a training step), so flash's backward at 1×1×4096×64 holds 11.1 MiB, 2 MiB more
//! than v4.

use super::flash::backward_rows::BackwardRows;
use super::flash::{Flash, FlashConfig, Precision, fixed_subgroup_size, kv_texels, prepare_with};
use super::texel_pair::texel_shift;
use super::{
    AttentionBuffers, Backward, Dispatch, Dispatches, GradientBuffers, KeepAlive, Kernel,
    PreparedKernel, PreparedTraining, bind_buffers, gradient_plan, params_buffer, pipeline_layout,
    shader, storage_and_params_layout, workgroup_count,
};
use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, Gpu, MemoryPlan, Resource, Slot, bind_resources, grid_for,
    slots_and_params_layout, specialize, texel_array_bytes, texel_arrays_supported, texel_extent,
    unroll_marked_loops,
};
use crate::shape::Shape;
use std::sync::Arc;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale_log2: f32,
    scale: f32,
    blocks: u32,
    total_groups: u32,
    begin: u32,
    stop: u32,
    accumulate: u32,
    heads: u32,
    kv_heads: u32,
    window: u32,
    state_stride: u32,
    padded_rows: u32,
    _pad: u32,
}

/// How the backward's kernels are laid out on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackwardLayout {
    /// Invocations per workgroup (a multiple of the subgroup size).
    pub block: u32,
    /// Lanes sharing rows by broadcast: the adapter's fixed subgroup size.
    pub lanes: u32,
    /// Query rows per invocation of the dQ kernel.
    pub dq_rows: u32,
    /// Key rows per invocation of the dK/dV kernel.
    pub dkdv_rows: u32,
    /// Whether the rows each kernel streams (Q and dO in dK/dV, K and V in dQ) are read from
    /// a texel pair (`src/kernels/texel_pair.rs`) rather than from their buffers.
    pub texels: bool,
}

impl std::fmt::Display for BackwardLayout {
    /// `bwd DQ,DKDV,BLOCK[,texels]`: the rows per invocation of the dQ and dK/dV kernels,
    /// the invocations per workgroup and whether streamed rows come from texel arrays, in
    /// `ATTNBENCH_FLASH_BWD_ROWS`'s order.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bwd {},{},{}", self.dq_rows, self.dkdv_rows, self.block)?;
        if self.texels {
            f.write_str(",texels")?;
        }
        Ok(())
    }
}

/// Register budgets per invocation, in floats, for the row registers of the dQ kernel (3
/// per row and column: Q, dO, dQ) and the dK/dV kernel (4: K, V, dK, dV). Measured on
/// lavapipe at B2 H4 n2048 d64 (rows of dQ, dK/dV → FA-model GFLOP/s, one session):
/// (1, 1) 4.1, (2, 2) 7.5, (4, 4) 9.8, (2, 4) 8.6, (4, 8) 11.3 but 4 minutes to compile,
/// (8, 4) 13.5: more rows share each broadcast row, until compile time explodes.
const DQ_REGISTER_FLOATS: u32 = 1536;
const DKDV_REGISTER_FLOATS: u32 = 1024;

impl BackwardLayout {
    /// The layout for `shape` on `gpu`: rows per invocation as the register budgets allow
    /// for its head dim (at most 8 for dQ, 4 for dK/dV; d = 64: 8 and 4), 32 invocations
    /// per workgroup on CPU drivers and 64 elsewhere, and on CPU drivers streamed rows from
    /// texel arrays where they can hold Q (head_dim a multiple of 4, within the texture
    /// limits). `ATTNBENCH_FLASH_BWD_ROWS=dq,dkdv[,block[,texels|buffers]]` overrides it
    /// (for experiments; texels only where they can be held). Refused without a fixed
    /// subgroup size.
    pub fn for_shape(shape: &Shape, gpu: &Gpu) -> Result<BackwardLayout> {
        let lanes = fixed_subgroup_size(gpu)?;
        let head_dim = shape.head_dim;
        let base = if gpu.is_cpu() { 32 } else { 64 };
        // Checked at start-up and, against the head dim, by `check_support`.
        let rows = BackwardRows::from_env()?;
        let q_texels = shape.tensor_bytes() / 16;
        // Q, K, V, O, dO and the gradients, and the texel pair of Q's size: within the
        // memory budget, or the streamed rows come from the buffers.
        let with_texels = crate::kernels::io_plan(shape, shape.seq_len).total_bytes()
            + gradient_plan(shape).total_bytes()
            + 2 * texel_array_bytes(q_texels, &gpu.limits());
        let texels_fit = head_dim.is_multiple_of(4)
            && texel_arrays_supported(gpu)
            && texel_extent("flash backward", q_texels, &gpu.limits()).is_ok()
            && gpu.memory_budget().bytes.is_none_or(|b| with_texels <= b);
        let texels = match rows.and_then(|r| r.texels) {
            Some(true) => texels_fit,
            Some(false) => false,
            None => gpu.is_cpu() && texels_fit,
        };
        Ok(BackwardLayout {
            block: rows
                .and_then(|r| r.block)
                .unwrap_or(base)
                .max(lanes)
                .next_multiple_of(lanes),
            lanes,
            dq_rows: rows.map_or((DQ_REGISTER_FLOATS / (3 * head_dim)).clamp(1, 8), |r| {
                r.dq_rows
            }),
            dkdv_rows: rows.map_or((DKDV_REGISTER_FLOATS / (4 * head_dim)).clamp(1, 4), |r| {
                r.dkdv_rows
            }),
            texels,
        })
    }
}

/// Passes of the backward's two main kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Passes {
    /// Keys per pass of the dQ kernel (a multiple of 4).
    dq_keys: u64,
    /// Query rows per pass of the dK/dV kernel (a multiple of 4).
    dkdv_rows: u64,
}

impl Passes {
    /// Within the driver's loop cap (each step of either kernel is one iteration of its only
    /// loop besides the query heads of a group), and at most `max_keys` per pass when set.
    fn for_shape(shape: &Shape, cap: Option<u64>, max_keys: Option<u32>) -> Result<Passes> {
        let n = u64::from(shape.seq_len).next_multiple_of(4);
        let group = u64::from(shape.group_size());
        let (mut dq_keys, mut dkdv_rows) = (n, n);
        if let Some(cap) = cap {
            let steps = (cap * 8 / 10).saturating_sub(64);
            dq_keys = dq_keys.min(steps * 4);
            dkdv_rows = dkdv_rows.min((steps / group).saturating_sub(1) * 4);
        }
        if let Some(keys) = max_keys {
            let keys = u64::from(keys).next_multiple_of(4);
            dq_keys = dq_keys.min(keys);
            dkdv_rows = dkdv_rows.min(keys);
        }
        if dq_keys == 0 || dkdv_rows == 0 {
            return Err(Error::Unsupported {
                kernel: "flash".into(),
                reason: format!(
                    "the driver's loop cap of {} iterations per invocation leaves no room for the backward's steps at {} query heads per KV head",
                    cap.unwrap_or(0),
                    group
                ),
            });
        }
        Ok(Passes { dq_keys, dkdv_rows })
    }

    fn ranges(per_pass: u64, n: u64) -> Vec<(u32, u32)> {
        let padded = n.next_multiple_of(4);
        (0..padded.div_ceil(per_pass))
            .map(|p| {
                (
                    (p * per_pass) as u32,
                    ((p + 1) * per_pass).min(padded) as u32,
                )
            })
            .collect()
    }
}

/// Loads of the tensors `(name, binding, from_texels)` for the backward shaders: a binding
/// each and `NAME_quad(base, i4, stop)` (floats base + 4·i4 …, zero at or past `stop`) and
/// `NAME_at(f)`; a texel array read with `textureLoad` where `from_texels` (`texels.wgsl`),
/// else a read-only storage buffer, of vec4s where the head dim is a multiple of 4.
fn tensor_loads(tensors: &[(&str, u32, bool)], vec4: bool) -> String {
    let mut out = String::new();
    for &(name, binding, from_texels) in tensors {
        if from_texels {
            out.push_str(&format!(
                "@group(0) @binding({binding}) var {name}_texels: texture_2d<f32>;\n\
                 fn {name}_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {{\n\
                 \x20   let f = base + 4u * i4;\n\
                 \x20   return select(vec4<f32>(0.0), textureLoad({name}_texels, texel_at(f / 4u), 0), f < stop);\n\
                 }}\n\
                 fn {name}_at(f: u32) -> f32 {{ return textureLoad({name}_texels, texel_at(f / 4u), 0)[f % 4u]; }}\n"
            ));
        } else if vec4 {
            out.push_str(&format!(
                "@group(0) @binding({binding}) var<storage, read> {name}: array<vec4<f32>>;\n\
                 fn {name}_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {{\n\
                 \x20   let f = base + 4u * i4;\n\
                 \x20   return select(vec4<f32>(0.0), {name}[f / 4u], f < stop);\n\
                 }}\n\
                 fn {name}_at(f: u32) -> f32 {{ return {name}[f / 4u][f % 4u]; }}\n"
            ));
        } else {
            out.push_str(&format!(
                "@group(0) @binding({binding}) var<storage, read> {name}: array<f32>;\n\
                 fn {name}_quad(base: u32, i4: u32, stop: u32) -> vec4<f32> {{\n\
                 \x20   var r = vec4<f32>(0.0);\n\
                 \x20   for (var t = 0u; t < 4u; t++) {{\n\
                 \x20       let f = base + 4u * i4 + t;\n\
                 \x20       if (f < stop) {{ r[t] = {name}[f]; }}\n\
                 \x20   }}\n\
                 \x20   return r;\n\
                 }}\n\
                 fn {name}_at(f: u32) -> f32 {{ return {name}[f]; }}\n"
            ));
        }
    }
    out
}

#[derive(Clone)]
struct Pipeline {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

/// Which of the two main kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Main {
    Dq,
    DkDv,
}

fn main_pipeline(
    gpu: &Gpu,
    which: Main,
    layout: BackwardLayout,
    head_dim: u32,
) -> Result<Pipeline> {
    let vec4 = head_dim.is_multiple_of(4);
    let (source, rows, outputs) = match which {
        Main::Dq => (
            shader!(
                "flash_backward_dq.wgsl",
                "flash_backward_params.wgsl",
                "texels.wgsl"
            ),
            layout.dq_rows,
            1,
        ),
        Main::DkDv => (
            shader!(
                "flash_backward_dkdv.wgsl",
                "flash_backward_params.wgsl",
                "texels.wgsl"
            ),
            layout.dkdv_rows,
            2,
        ),
    };
    // The rows each kernel streams, from texels where the layout says so.
    let streamed = |name: &str| {
        layout.texels
            && match which {
                Main::Dq => name == "k" || name == "v",
                Main::DkDv => name == "q" || name == "d_o",
            }
    };
    let tensors = [("q", 0), ("k", 1), ("v", 2), ("d_o", 3)]
        .map(|(name, binding)| (name, binding, streamed(name)));
    let key = format!("flash backward {which:?} {layout:?} d{head_dim} vec4 {vec4}");
    gpu.cached(&key, || {
        let mut slots: Vec<Slot> = tensors
            .iter()
            .map(|&(_, _, from_texels)| {
                if from_texels {
                    Slot::Texels
                } else {
                    Slot::Storage { read_only: true }
                }
            })
            .collect();
        slots.push(Slot::Storage { read_only: true });
        slots.extend(std::iter::repeat_n(
            Slot::Storage { read_only: false },
            outputs,
        ));
        let bind_layout = slots_and_params_layout(gpu, "flash backward", &slots);
        let consts = [
            ("ROWS", rows),
            ("D", head_dim),
            ("SG", layout.lanes),
            ("SLOTS", head_dim.div_ceil(layout.lanes)),
        ];
        let mut specialized = consts[..3].to_vec();
        specialized.push(("TEXEL_SHIFT", texel_shift(gpu)));
        let mut wgsl = specialize(source, &specialized)?;
        wgsl.push_str(&tensor_loads(&tensors, vec4));
        let wgsl = unroll_marked_loops(&wgsl, &consts)?;
        let pipeline = gpu.compile_text(
            source.name,
            wgsl,
            "main",
            Some(&pipeline_layout(gpu, &bind_layout)),
            &[("BLOCK", f64::from(layout.block))],
        )?;
        Ok(Pipeline {
            layout: bind_layout,
            pipeline,
        })
    })
}

fn stats_pipeline(gpu: &Gpu) -> Result<Pipeline> {
    gpu.cached("flash backward stats", || {
        let layout = storage_and_params_layout(gpu, "flash stats", &[true, true, true, false]);
        let source = shader!("flash_backward_stats.wgsl", "flash_backward_params.wgsl");
        let pipeline = gpu.compile(source, "main", Some(&pipeline_layout(gpu, &layout)), &[])?;
        Ok(Pipeline { layout, pipeline })
    })
}

/// Bytes of the stats buffer: L and D of every row, rows padded to a multiple of 4 per head.
fn stats_bytes(shape: &Shape) -> u64 {
    shape.batch_heads() * u64::from(shape.seq_len).next_multiple_of(4) * 2 * 4
}

/// Invocations per workgroup of the stats kernel.
const STATS_THREADS: u64 = 256;

impl Flash {
    fn backward_passes(&self, shape: &Shape, gpu: &Gpu) -> Result<Passes> {
        Passes::for_shape(shape, gpu.shader_loop_cap(), self.max_pass_keys)
    }

    fn forward_config(&self, shape: &Shape, gpu: &Gpu) -> Result<(FlashConfig, u64)> {
        let config = self.config_for(shape, gpu)?;
        config.validate(shape, gpu, self.precision)?;
        let passes = self.passes(&config, shape, gpu)?;
        Ok((config, passes))
    }
}

impl Backward for Flash {
    fn summary(&self) -> &'static str {
        "FlashAttention-2: logsumexp saved by the forward, D = rowsum(dO∘O), dK/dV over key blocks and dQ over query blocks recomputing P"
    }

    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()> {
        if self.precision != Precision::F32 {
            return Err(super::no_backward(self));
        }
        Kernel::check_support(self, shape, gpu)?;
        if let Some(rows) = BackwardRows::from_env()? {
            let lanes = fixed_subgroup_size(gpu).unwrap_or(0);
            let budgets = [(3, DQ_REGISTER_FLOATS), (4, DKDV_REGISTER_FLOATS)];
            rows.check(shape.head_dim, lanes, budgets)?;
        }
        // The backward shares rows across a subgroup by broadcast (wgpu's GL backend has no
        // subgroups: there the backward is naive's and chunked's).
        BackwardLayout::for_shape(shape, gpu).map_err(|e| match e {
            Error::Unsupported { reason, .. } => Error::Unsupported {
                kernel: "flash".into(),
                reason: format!("flash's backward needs subgroups of a fixed size: {reason}"),
            },
            other => other,
        })?;
        self.backward_passes(shape, gpu).map(|_| ())
    }

    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
        let mut plan = Kernel::memory_plan(self, shape, gpu)?;
        plan.buffers.extend(gradient_plan(shape).buffers);
        plan.storage("stats", stats_bytes(shape));
        let passes = self.backward_passes(shape, gpu)?;
        let n = u64::from(shape.seq_len);
        let count =
            1 + Passes::ranges(passes.dq_keys, n).len() + Passes::ranges(passes.dkdv_rows, n).len();
        plan.other(
            "backward params",
            (count * std::mem::size_of::<Params>()) as u64,
        );
        Ok(plan)
    }

    fn prepare(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        grads: &GradientBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<PreparedTraining> {
        Backward::check_support(self, shape, gpu)?;
        let (config, forward_passes) = self.forward_config(shape, gpu)?;
        let state = self.state_buffer(gpu, shape, tracker, forward_passes)?;
        // One texel pair for the forward's K/V and the backward's streamed rows.
        let texels = self.texel_pair(gpu, shape, tracker)?;
        let forward = prepare_with(
            gpu,
            shape,
            io,
            tracker,
            (config, self.precision, forward_passes),
            (&state, texels.as_ref()),
        )?;
        let layout = BackwardLayout::for_shape(shape, gpu)?;
        let pair = match (layout.texels, &texels) {
            (false, _) => None,
            (true, Some(pair)) => Some(pair),
            (true, None) => {
                return Err(Error::Gpu {
                    during: format!("preparing flash's backward at {shape}"),
                    message: "its layout reads texels but no texel pair was planned".into(),
                });
            }
        };
        let passes = self.backward_passes(shape, gpu)?;
        let limits = gpu.limits();
        let max_dim = limits.max_compute_workgroups_per_dimension;
        let stats = gpu.buffer(
            tracker,
            "flash stats",
            stats_bytes(shape),
            wgpu::BufferUsages::STORAGE,
        )?;
        let n = shape.seq_len;
        let padded_rows = n.next_multiple_of(4);
        let template = Params {
            seq_len: n,
            head_dim: shape.head_dim,
            causal: u32::from(shape.causal),
            scale_log2: shape.scale() * std::f32::consts::LOG2_E,
            scale: shape.scale(),
            blocks: 0,
            total_groups: 0,
            begin: 0,
            stop: padded_rows,
            accumulate: 0,
            heads: shape.heads,
            kv_heads: shape.kv_head_count(),
            window: shape.window.unwrap_or(0),
            state_stride: (shape.head_dim.div_ceil(4) + 1) * 4,
            padded_rows,
            _pad: 0,
        };
        let mut steps = Vec::new();
        let mut buffers = Vec::new();

        // D and L, four rows per vec4.
        let stats_p = stats_pipeline(gpu)?;
        let heads = workgroup_count("flash backward", shape, shape.batch_heads())?;
        let stats_params = params_buffer(
            gpu,
            tracker,
            "flash stats params",
            &Params {
                total_groups: heads,
                ..template
            },
        )?;
        steps.push(Dispatch {
            pipeline: stats_p.pipeline.clone(),
            bind_group: bind_buffers(
                gpu,
                "flash stats",
                &stats_p.layout,
                &[&io.o, &grads.d_o, &state, &stats, &stats_params],
            ),
            grid: grid_for(
                (shape.batch_heads() * u64::from(padded_rows)).div_ceil(STATS_THREADS),
                max_dim,
            )?,
        });
        buffers.push(stats_params);

        // dK, dV over key blocks of each KV head, then dQ over query blocks of each head.
        let kernels = [
            (Main::DkDv, layout.dkdv_rows, passes.dkdv_rows),
            (Main::Dq, layout.dq_rows, passes.dq_keys),
        ];
        for (which, rows, per_pass) in kernels {
            let p = main_pipeline(gpu, which, layout, shape.head_dim)?;
            // The rows this kernel streams, packed into the texel pair first.
            if let Some(pair) = pair {
                let (streamed, texels) = match which {
                    Main::Dq => ((&*io.k, &*io.v), kv_texels(shape)),
                    Main::DkDv => ((&*io.q, &*grads.d_o), shape.tensor_bytes() / 16),
                };
                let (pack, params) = pair.pack(gpu, tracker, streamed, texels)?;
                steps.push(pack);
                buffers.push(params);
            }
            // Q, K, V, dO: the streamed pair from the texels where the layout says so.
            let inputs = match (which, pair) {
                (Main::DkDv, Some(pair)) => [
                    Resource::View(&pair.a.view),
                    Resource::Buffer(&io.k),
                    Resource::Buffer(&io.v),
                    Resource::View(&pair.b.view),
                ],
                (Main::Dq, Some(pair)) => [
                    Resource::Buffer(&io.q),
                    Resource::View(&pair.a.view),
                    Resource::View(&pair.b.view),
                    Resource::Buffer(&grads.d_o),
                ],
                (_, None) => [
                    Resource::Buffer(&io.q),
                    Resource::Buffer(&io.k),
                    Resource::Buffer(&io.v),
                    Resource::Buffer(&grads.d_o),
                ],
            };
            let blocks = n.div_ceil(layout.block * rows);
            let heads = match which {
                Main::Dq => shape.batch_heads(),
                Main::DkDv => u64::from(shape.batch) * u64::from(shape.kv_head_count()),
            };
            let total = heads * u64::from(blocks);
            let total_groups = workgroup_count("flash backward", shape, total)?;
            let grid = grid_for(total, max_dim)?;
            for (pass, (begin, stop)) in Passes::ranges(per_pass, u64::from(n))
                .into_iter()
                .enumerate()
            {
                let params = params_buffer(
                    gpu,
                    tracker,
                    &format!("flash backward {which:?} params[{pass}]"),
                    &Params {
                        blocks,
                        total_groups,
                        begin,
                        stop,
                        accumulate: u32::from(pass > 0),
                        ..template
                    },
                )?;
                let mut bound = inputs.to_vec();
                bound.push(Resource::Buffer(&stats));
                match which {
                    Main::Dq => bound.push(Resource::Buffer(&grads.dq)),
                    Main::DkDv => {
                        bound.extend([Resource::Buffer(&grads.dk), Resource::Buffer(&grads.dv)])
                    }
                }
                bound.push(Resource::Buffer(&params));
                steps.push(Dispatch {
                    pipeline: p.pipeline.clone(),
                    bind_group: bind_resources(gpu, "flash backward", &p.layout, &bound),
                    grid,
                });
                buffers.push(params);
            }
        }
        buffers.extend([stats, state]);
        let backward: Box<dyn PreparedKernel> = Box::new(Dispatches {
            steps,
            _buffers: buffers,
        });
        Ok(PreparedTraining {
            forward,
            backward: match texels {
                Some(pair) => Box::new(KeepAlive {
                    inner: backward,
                    _held: pair,
                }),
                None => backward,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_stay_under_the_loop_cap_and_cover_every_row() {
        let shape = Shape::new(100_000, 64)
            .with_batch_heads(1, 8)
            .with_kv_heads(2);
        let passes = Passes::for_shape(&shape, Some(65_535), None).unwrap();
        // 4 query heads per KV head: each dK/dV step is 4 loop iterations.
        assert!(passes.dkdv_rows / 4 * 4 <= 65_535 * 8 / 10);
        assert!(passes.dq_keys / 4 <= 65_535 * 8 / 10);
        let ranges = Passes::ranges(passes.dkdv_rows, 100_000);
        assert_eq!(ranges.first().unwrap().0, 0);
        assert_eq!(ranges.last().unwrap().1, 100_000);
        assert!(
            ranges
                .windows(2)
                .all(|w| w[0].1 == w[1].0 && w[0].1 % 4 == 0)
        );
        // A forced small pass is rounded to whole steps of four.
        let small = Passes::for_shape(&Shape::new(37, 16), None, Some(10)).unwrap();
        assert_eq!(small.dq_keys, 12);
        assert_eq!(Passes::ranges(12, 37).len(), 4);
    }
}
