//! `decode`: one generated token against a KV cache of n keys, flash-decoding style
//! (`shaders/decode.wgsl`). A decode step has a single query row per (batch, head), so
//! one workgroup per head would leave the device idle: the keys are split between the
//! invocations of many workgroups ([`keys_per_invocation`] keys each, strided so that
//! neighbouring invocations read neighbouring rows), each runs the online softmax over its
//! keys alone and writes a partial softmax, and a second dispatch combines the partials.
//! It computes the last [`DECODE_QUERIES`] query rows of the `[B, H, n, d]` problem (with the
//! causal flag, that row sees every key, as a generated token does), and holds only those
//! rows of q and o on the device, `[B, H, 1, d]`, beside n rows of K and V
//! (`[B, HKV, n, d]`), as a KV-cache decode does; time grows linearly in n, and a run's time
//! is the time per generated token.
//!
//! Decode is bandwidth-bound: each step reads the whole KV cache (with a window, the last
//! W keys). An invocation serves four query heads of a KV head's group at once
//! (grouped-query attention), scoring them per K load and accumulating them per V load, so
//! with H / HKV ≤ 4 each KV element is read once per step (larger groups: once per four
//! heads); K and V are read as vec4s where the head dim allows; no workgroup memory and no
//! barrier (each is a coroutine switch on lavapipe). Achieved GB/s are reported over K + V
//! + the query and output rows ([`Kernel::min_bytes`]).
//!
//! On lavapipe (`attnbench run --kernel decode --seq-len 262144 --head-dim 64 --causal`,
//! against `attnbench probe`'s bandwidth in the same session): the previous design
//! (workgroups splitting 256-key chunks with barrier reductions, commit e21638b) moved
//! 0.35 GB/s, 28% of the probed 1.27 GB/s; this one moves 0.80 GB/s (63%). The targets
//! bench (`cargo bench --bench targets`) measures it again in each run.

use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, Gpu, MemoryPlan, bind_buffers, grid_for, params_buffer, pipeline_layout, shader,
    specialize, storage_and_params_layout, unroll_marked_loops,
};
use crate::kernels::{
    AttentionBuffers, Dispatch, Dispatches, Kernel, PreparedKernel, Workload, io_plan,
    workgroup_count,
};
use crate::shape::{F32_BYTES, Shape};
use std::sync::Arc;

/// The decode kernel.
#[derive(Debug)]
pub struct Decode;

/// Query rows per (batch, head) a decode step computes: one generated token.
pub const DECODE_QUERIES: u32 = 1;

/// Invocations per workgroup of both passes.
const WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    scale_log2: f32,
    queries: u32,
    splits: u32,
    total_groups: u32,
    heads: u32,
    kv_heads: u32,
    window: u32,
    keys: u32,
    chunks: u32,
}

fn queries(shape: &Shape) -> u32 {
    DECODE_QUERIES.min(shape.seq_len)
}

/// Keys per invocation of the partial pass, a power of two: about 16 workgroups in all on
/// CPU drivers (enough to fill every core; up to 256 keys each) and about a thousand on GPUs
/// (for occupancy; up to 64 keys each), and at least 8 per query row an invocation serves,
/// so that the partials (head_dim + 2 floats per invocation and query row) stay under a
/// tenth of K + V.
pub fn keys_per_invocation(shape: &Shape, gpu: &Gpu) -> u32 {
    let (workgroups, most) = if gpu.is_cpu() { (16, 256) } else { (1024, 64) };
    let kv_heads = u64::from(shape.batch) * u64::from(shape.kv_head_count());
    let per_head = (workgroups / kv_heads).max(1) as u32;
    let floor = (8 * shape.group_size() * queries(shape))
        .next_power_of_two()
        .max(4);
    shape
        .seq_len
        .div_ceil(WG * per_head)
        .next_power_of_two()
        .max(floor)
        .min(most.max(floor))
}

/// Workgroups of the partial pass per (batch, KV head).
fn chunks(shape: &Shape, gpu: &Gpu) -> u32 {
    shape.seq_len.div_ceil(WG * keys_per_invocation(shape, gpu))
}

/// Partials per (batch, head, query row): one per invocation of the partial pass that has
/// keys (n when a single chunk holds them all, so tiny n does not pay for WG partials).
fn splits(shape: &Shape, gpu: &Gpu) -> u32 {
    match chunks(shape, gpu) {
        1 => shape.seq_len.min(WG),
        chunks => chunks * WG,
    }
}

fn partials_bytes(shape: &Shape, gpu: &Gpu) -> u64 {
    shape.batch_heads()
        * u64::from(splits(shape, gpu))
        * u64::from(queries(shape))
        * (u64::from(shape.head_dim) + 2)
        * F32_BYTES
}

#[derive(Clone)]
struct Pipelines {
    layout: wgpu::BindGroupLayout,
    partial: wgpu::ComputePipeline,
    combine: wgpu::ComputePipeline,
}

/// Query rows a workgroup of the partial pass serves per K/V load: 4, or 1 when the group
/// has a single row (multi-head attention with one query), where four would waste arithmetic.
fn rows_per_load(shape: &Shape) -> u32 {
    if shape.group_size() * queries(shape) > 1 {
        4
    } else {
        1
    }
}

fn pipelines(gpu: &Gpu, shape: &Shape) -> Result<Pipelines> {
    let vec4 = shape.head_dim.is_multiple_of(4);
    let qr = rows_per_load(shape);
    let d4 = shape.head_dim.div_ceil(4);
    gpu.cached(&format!("decode vec4 {vec4} qr {qr} d4 {d4}"), || {
        let layout = storage_and_params_layout(gpu, "decode", &[true, true, true, false, false]);
        let pipeline_layout = pipeline_layout(gpu, &layout);
        let source = if vec4 {
            shader!("decode.wgsl", "kv_quads_vec4.wgsl")
        } else {
            shader!("decode.wgsl", "kv_quads_scalar.wgsl")
        };
        let consts = [("QR", qr), ("D4", d4)];
        let wgsl = unroll_marked_loops(&specialize(source, &consts)?, &consts)?;
        let compile = |entry| {
            gpu.compile_text(
                source.name,
                wgsl.clone(),
                entry,
                Some(&pipeline_layout),
                &[("WG", f64::from(WG))],
            )
        };
        Ok(Pipelines {
            partial: compile("partial")?,
            combine: compile("combine")?,
            layout,
        })
    })
}

impl Kernel for Decode {
    fn name(&self) -> &'static str {
        "decode"
    }

    fn summary(&self) -> &'static str {
        "one generated token against n cached keys: split keys, combine partial softmaxes (2 dispatches)"
    }

    fn workload(&self) -> Workload {
        Workload::Decode
    }

    fn query_rows(&self, shape: &Shape) -> u32 {
        queries(shape)
    }

    /// 4·B·H·q·n·d for q query rows (each sees all n keys, causal or not, up to q − 1);
    /// with a window W, the keys each row sees (min(n, W) for the last row).
    fn flops(&self, shape: &Shape) -> f64 {
        let n = shape.seq_len;
        let pairs: u64 = (n - queries(shape)..n)
            .map(|i| u64::from(shape.visible_keys(i).len() as u32))
            .sum();
        4.0 * shape.batch_heads() as f64 * pairs as f64 * f64::from(shape.head_dim)
    }

    fn flop_model(&self, shape: &Shape) -> String {
        match shape.window {
            Some(w) => format!(
                "4·B·H·q·min(n, W)·d, q = {} query row(s), W = {w}",
                queries(shape)
            ),
            None => format!("4·B·H·q·n·d, q = {} query row(s)", queries(shape)),
        }
    }

    /// K and V (HKV heads) read once — only the keys a window leaves visible — the query
    /// rows read and the output rows written.
    fn min_bytes(&self, shape: &Shape) -> u64 {
        let row = u64::from(shape.head_dim) * F32_BYTES * shape.batch_heads();
        let keys = u64::from(shape.seq_len - shape.first_key(shape.seq_len - queries(shape)));
        let kv = shape.kv_tensor_bytes() / u64::from(shape.seq_len) * keys;
        2 * kv + 2 * row * u64::from(queries(shape))
    }

    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()> {
        // combine loops over every partial, three times plus once per column group; an
        // invocation of partial loops over its keys once per four query rows.
        if let Some(cap) = gpu.shader_loop_cap() {
            let splits = splits(shape, gpu);
            let combine = u64::from(splits) * (3 + u64::from(shape.head_dim.div_ceil(WG)));
            let steps = u64::from((shape.group_size() * queries(shape)).div_ceil(4));
            let partial = steps * (u64::from(keys_per_invocation(shape, gpu)) + 8);
            let iterations = combine.max(partial);
            if iterations > cap * 9 / 10 {
                return Err(Error::Unsupported {
                    kernel: "decode".into(),
                    reason: format!(
                        "{} caps shader loops at {cap} iterations per invocation; combining {splits} partials needs {iterations}",
                        gpu.summary().name,
                    ),
                });
            }
        }
        Ok(())
    }

    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
        let mut plan = io_plan(shape, self.query_rows(shape));
        plan.storage("partials", partials_bytes(shape, gpu));
        plan.other("params[partial]", std::mem::size_of::<Params>() as u64);
        plan.other("params[combine]", std::mem::size_of::<Params>() as u64);
        Ok(plan)
    }

    fn prepare(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Box<dyn PreparedKernel>> {
        let p = pipelines(gpu, shape)?;
        let max_dim = gpu.limits().max_compute_workgroups_per_dimension;
        let partials = gpu.buffer(
            tracker,
            "decode partials",
            partials_bytes(shape, gpu),
            wgpu::BufferUsages::STORAGE,
        )?;
        let mut steps = Vec::new();
        let mut buffers = Vec::new();
        let kv_heads = u64::from(shape.batch) * u64::from(shape.kv_head_count());
        for (label, pipeline, groups) in [
            // One workgroup per (batch, KV head, chunk), then per (batch, head, query row).
            (
                "partial",
                &p.partial,
                kv_heads * u64::from(chunks(shape, gpu)),
            ),
            (
                "combine",
                &p.combine,
                shape.batch_heads() * u64::from(queries(shape)),
            ),
        ] {
            let total_groups = workgroup_count("decode", shape, groups)?;
            let params = params_buffer(
                gpu,
                tracker,
                &format!("decode params[{label}]"),
                &Params {
                    seq_len: shape.seq_len,
                    head_dim: shape.head_dim,
                    causal: u32::from(shape.causal),
                    scale_log2: shape.scale() * std::f32::consts::LOG2_E,
                    queries: queries(shape),
                    splits: splits(shape, gpu),
                    total_groups,
                    heads: shape.heads,
                    kv_heads: shape.kv_head_count(),
                    window: shape.window.unwrap_or(0),
                    keys: keys_per_invocation(shape, gpu),
                    chunks: chunks(shape, gpu),
                },
            )?;
            let bind_group = bind_buffers(
                gpu,
                "decode",
                &p.layout,
                &[&io.q, &io.k, &io.v, &io.o, &partials, &params],
            );
            steps.push(Dispatch {
                pipeline: pipeline.clone(),
                bind_group,
                grid: grid_for(u64::from(total_groups), max_dim)?,
            });
            buffers.push(params);
        }
        buffers.push(partials);
        Ok(Box::new(Dispatches {
            steps,
            _buffers: buffers,
        }))
    }
}
