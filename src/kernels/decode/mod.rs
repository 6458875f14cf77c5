//! `decode`: one generated token against a KV cache of n keys, flash-decoding style
//! (`shaders/decode/decode.wgsl`). A decode step has a single query row per (batch, head), so
//! one workgroup per head would leave the device idle: the keys are split into chunks, one
//! workgroup each, whose key lanes each run the online softmax over their keys alone and
//! write a partial softmax; a second dispatch combines the partials with workgroup
//! reductions. The number of partials is sized to the device ([`DecodePlan`]: about twice
//! the workgroups it runs at once, llama.cpp's split-k), not to n. It computes the last
//! [`DECODE_QUERIES`] query rows of the `[B, H, n, d]` problem (with the causal flag, that
//! row sees every key, as a generated token does), and holds only those rows of q and o on
//! the device, `[B, H, 1, d]`, beside n rows of K and V (`[B, HKV, n, d]`), as a KV-cache
//! decode does; time grows linearly in n, and a run's time is the time per generated token.
//!
//! Decode is bandwidth-bound: each step reads the whole KV cache (with a window, the last
//! W keys). A key lane serves four query heads of a KV head's group at once (grouped-query
//! attention), scoring them per K load and accumulating them per V load, so with
//! H / HKV ≤ 4 each KV element is read once per step (larger groups: once per four heads);
//! K and V are read as vec4s where the head dim allows. On CPU drivers a key lane is one
//! invocation holding whole rows, with no workgroup memory and no barrier in the key loop
//! (each is a coroutine switch on lavapipe); on GPUs its head dim is split across the
//! fewest lanes that keep it within the register cap. Achieved GB/s are reported over
//! K + V + the query and output rows ([`Kernel::min_bytes`]); the measured ladder is in
//! `docs/ladder.md`.

use crate::error::{Error, Result};
use crate::gpu::{
    Bounds, BufferTracker, DeviceFacts, Gpu, MemoryPlan, REGISTER_TARGET, bind_buffers, grid_for,
    params_buffer, pipeline_layout, shader, specialize, storage_and_params_layout,
    unroll_marked_loops,
};
use crate::kernels::flash::{LaneSum, lane_sum_wgsl};
use crate::kernels::{
    AttentionBuffers, Dispatch, Dispatches, Kernel, PreparedKernel, Workload, io_plan,
    workgroup_count,
};
use crate::shape::{F32_BYTES, Shape};
use std::sync::Arc;

/// The decode kernel.
#[derive(Debug)]
pub struct Decode {
    /// Lanes per key fixed (tests run the GPU split on CPU drivers); `None`: the plan
    /// chooses ([`DecodePlan::new`]).
    pub lanes: Option<u32>,
}

/// `decode` as registered: the plan chooses.
pub static DECODE: Decode = Decode { lanes: None };

/// Query rows per (batch, head) a decode step computes: one generated token.
pub const DECODE_QUERIES: u32 = 1;

/// Invocations per workgroup of the partial pass.
const WG: u32 = 64;

/// Invocations of the combine pass (`REDUCE_WG` in the shader).
const COMBINE_WG: u32 = 256;

/// Workgroups a device runs at once, as decode sizes its split: CPU drivers run one per
/// core (16 covers the CPUs this runs on); GPUs many per core (1024 ≈ 8 per SM of a
/// 132-SM GPU, enough loads in flight for a bandwidth-bound kernel).
fn parallel_workgroups(facts: &DeviceFacts) -> u32 {
    if facts.is_cpu { 8 } else { 512 }
}

/// Fewest keys each key lane of a chunk takes: fewer would spend more on partials than on
/// keys.
const MIN_KEYS_PER_LANE: u32 = 8;

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

/// How decode splits one shape on one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodePlan {
    /// Query rows a key lane serves per K/V load: 4, or 1 when the group has a single row
    /// (multi-head attention with one query), where four would waste arithmetic.
    pub rows_per_load: u32,
    /// Lanes splitting each key's head dim (1 on CPU drivers).
    pub lanes: u32,
    /// Workgroups of the partial pass per (batch, KV head).
    pub chunks: u32,
    /// Keys per chunk (a multiple of the key lanes per workgroup).
    pub chunk_keys: u32,
    /// How the lanes of a key sum their partial dots.
    pub lane_sum: LaneSum,
}

impl DecodePlan {
    /// The plan for `shape` on a device with `facts`: rows per load as the group allows;
    /// on devices with a register cap the fewest lanes per key that keep its live floats
    /// within [`REGISTER_TARGET`]; chunks per KV head so that all of them together make
    /// about twice [`parallel_workgroups`], each key lane taking at least
    /// [`MIN_KEYS_PER_LANE`] keys.
    pub fn new(shape: &Shape, facts: &DeviceFacts, lanes: Option<u32>) -> DecodePlan {
        let rows_per_load = if shape.group_size() * queries(shape) > 1 {
            4
        } else {
            1
        };
        let d4 = shape.head_dim.div_ceil(4);
        let mut plan = DecodePlan {
            rows_per_load,
            lanes: 1,
            chunks: 1,
            chunk_keys: 1,
            lane_sum: LaneSum::Whole,
        };
        match (lanes, facts.register_cap) {
            (Some(lanes), _) => plan.lanes = lanes.clamp(1, WG),
            (None, Some(cap)) => {
                while plan.live_floats(shape.head_dim) > cap.min(REGISTER_TARGET) && plan.lanes < d4
                {
                    plan.lanes *= 2;
                }
            }
            (None, None) => {}
        }
        plan.lane_sum = if plan.lanes == 1 {
            LaneSum::Whole
        } else if facts.subgroup_spans(plan.lanes, WG) {
            LaneSum::Subgroup
        } else {
            LaneSum::Workgroup
        };
        let key_lanes = plan.key_lanes();
        let kv_heads = u64::from(shape.batch) * u64::from(shape.kv_head_count());
        let wanted = u64::from(2 * parallel_workgroups(facts)).div_ceil(kv_heads);
        let most = shape.seq_len.div_ceil(key_lanes * MIN_KEYS_PER_LANE);
        let chunks = (wanted.min(u64::from(most)) as u32).max(1);
        plan.chunk_keys = shape.seq_len.div_ceil(chunks).next_multiple_of(key_lanes);
        plan.chunks = shape.seq_len.div_ceil(plan.chunk_keys);
        plan
    }

    /// Key lanes per workgroup of the partial pass.
    pub fn key_lanes(&self) -> u32 {
        WG / self.lanes
    }

    /// Partials per (batch, head, query row): one per key lane of every chunk.
    pub fn splits(&self) -> u32 {
        self.chunks * self.key_lanes()
    }

    /// Live floats per invocation of the partial pass at `head_dim`, counted from the
    /// shader: the query and accumulator columns of its rows (8·QR·DL, DL = ⌈d/4 / lanes⌉),
    /// m, l, the rows' bounds, heads and query indices (six vec4s), the scores, α, p and the
    /// new max (four vec4s) and a K or V vec4 (4): 8·QR·DL + 44.
    pub fn live_floats(&self, head_dim: u32) -> u32 {
        let dl = head_dim.div_ceil(4).div_ceil(self.lanes);
        8 * self.rows_per_load * dl + 44
    }

    /// Loop iterations one invocation of the partial pass runs (its key loop once per
    /// QR query rows, the lanes' sum per key), for a driver's loop cap.
    fn partial_iterations(&self, shape: &Shape) -> u64 {
        let steps = u64::from((shape.group_size() * queries(shape)).div_ceil(self.rows_per_load));
        let per_key = 1 + match self.lane_sum {
            LaneSum::Whole => 0,
            LaneSum::Subgroup => u64::from(self.lanes.trailing_zeros()),
            LaneSum::Workgroup => u64::from(self.lanes),
        };
        steps * (u64::from(self.chunk_keys / self.key_lanes()) * per_key + 8)
    }

    /// Loop iterations of one invocation of the combine pass.
    fn combine_iterations(&self, shape: &Shape) -> u64 {
        let splits = u64::from(self.splits());
        let slices = u64::from((COMBINE_WG / shape.head_dim.div_ceil(4)).max(1));
        2 * splits.div_ceil(u64::from(COMBINE_WG)) + splits.div_ceil(slices) + slices + 32
    }
}

fn partials_bytes(shape: &Shape, plan: &DecodePlan) -> u64 {
    shape.batch_heads()
        * u64::from(plan.splits())
        * u64::from(queries(shape))
        * (u64::from(shape.head_dim.div_ceil(4)) + 1)
        * 16
}

#[derive(Clone)]
struct Pipelines {
    layout: wgpu::BindGroupLayout,
    partial: wgpu::ComputePipeline,
    combine: wgpu::ComputePipeline,
}

fn pipelines(gpu: &Gpu, shape: &Shape, plan: &DecodePlan) -> Result<Pipelines> {
    let vec4 = shape.head_dim.is_multiple_of(4);
    let qr = plan.rows_per_load;
    let d4 = shape.head_dim.div_ceil(4);
    let key = format!("decode vec4 {vec4} qr {qr} d4 {d4} {plan:?}");
    gpu.cached(&key, || {
        let layout = storage_and_params_layout(gpu, "decode", &[true, true, true, false, false]);
        let pipeline_layout = pipeline_layout(gpu, &layout);
        let source = if vec4 {
            shader!("decode/decode.wgsl", "common/kv_quads_vec4.wgsl", "common/workgroup_reduce.wgsl")
        } else {
            shader!(
                "decode/decode.wgsl",
                "common/kv_quads_scalar.wgsl",
                "common/workgroup_reduce.wgsl"
            )
        };
        let consts = [
            ("QR", qr),
            ("D4", d4),
            ("LANES", plan.lanes),
            ("DL", d4.div_ceil(plan.lanes)),
            ("REDUCE_WG", COMBINE_WG),
        ];
        let mut wgsl = unroll_marked_loops(&specialize(source, &consts)?, &consts)?;
        wgsl.push_str(lane_sum_wgsl(plan.lane_sum));
        let compile = |entry| {
            gpu.compile_text(
                Bounds::InBounds,
                source.name,
                wgsl.clone(),
                entry,
                Some(&pipeline_layout),
                &[("BLOCK_Q", f64::from(WG))],
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
    /// Audited: every index in bounds by construction (rows past n clamped, loads
    /// guarded), so its shaders compile without naga's runtime checks.
    fn bounds(&self) -> Bounds {
        Bounds::InBounds
    }

    fn name(&self) -> &'static str {
        "decode"
    }

    fn summary(&self) -> &'static str {
        "one generated token against n cached keys: split keys, combine partial softmaxes (2 dispatches)"
    }

    /// `split C×K, rows R[, lanes L]`: chunks per KV head × key lanes per chunk (the
    /// partials per row), rows per load and lanes per key.
    fn tile_label(&self, shape: &Shape, gpu: &Gpu) -> Option<String> {
        let plan = DecodePlan::new(shape, gpu.facts(), self.lanes);
        let lanes = if plan.lanes > 1 {
            format!(", lanes {}", plan.lanes)
        } else {
            String::new()
        };
        Some(format!(
            "split {}×{}, rows {}{lanes}",
            plan.chunks,
            plan.key_lanes(),
            plan.rows_per_load
        ))
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

    /// Refused past a driver's loop cap (the partial pass loops over its chunk's keys
    /// once per four query rows) and, on GPUs, where even the widest split of the head
    /// dim keeps more live floats than the register cap.
    fn check_device(&self, shape: &Shape, facts: &DeviceFacts) -> Result<()> {
        let plan = DecodePlan::new(shape, facts, self.lanes);
        facts.check_registers(
            "decode",
            &format!(
                "decode with {} rows per load and {} lanes per key at head_dim {}",
                plan.rows_per_load, plan.lanes, shape.head_dim
            ),
            plan.live_floats(shape.head_dim),
        )?;
        if let Some(cap) = facts.loop_cap {
            let iterations = plan
                .partial_iterations(shape)
                .max(plan.combine_iterations(shape));
            if iterations > cap * 9 / 10 {
                return Err(Error::Unsupported {
                    kernel: "decode".into(),
                    reason: format!(
                        "{} caps shader loops at {cap} iterations per invocation; {} chunks of {} keys need {iterations}",
                        facts.name, plan.chunks, plan.chunk_keys,
                    ),
                });
            }
        }
        Ok(())
    }

    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan> {
        let split = DecodePlan::new(shape, gpu.facts(), self.lanes);
        let mut plan = io_plan(shape, self.query_rows(shape));
        plan.storage("partials", partials_bytes(shape, &split));
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
        self.check_device(shape, gpu.facts())?;
        let plan = DecodePlan::new(shape, gpu.facts(), self.lanes);
        let p = pipelines(gpu, shape, &plan)?;
        let max_dim = gpu.limits().max_compute_workgroups_per_dimension;
        let partials = gpu.buffer(
            tracker,
            "decode partials",
            partials_bytes(shape, &plan),
            wgpu::BufferUsages::STORAGE,
        )?;
        let mut steps = Vec::new();
        let mut buffers = Vec::new();
        let kv_heads = u64::from(shape.batch) * u64::from(shape.kv_head_count());
        for (label, pipeline, groups) in [
            // One workgroup per (batch, KV head, chunk), then per (batch, head, query row).
            ("partial", &p.partial, kv_heads * u64::from(plan.chunks)),
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
                    splits: plan.splits(),
                    total_groups,
                    heads: shape.heads,
                    kv_heads: shape.kv_head_count(),
                    window: shape.window.unwrap_or(0),
                    keys: plan.chunk_keys,
                    chunks: plan.chunks,
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
