//! `decode`: one generated token against a KV cache of n keys, flash-decoding style, split
//! like llama.cpp's Vulkan flash attention (`shaders/decode/`). A decode step has a single
//! query row per (batch, head), so one workgroup per head would leave the device idle: the
//! keys are split into chunks, about twice the device's parallelism of them
//! ([`DecodePlan`], not growing with n), one workgroup each, whose key lanes each run the
//! online softmax over their keys alone and then merge, inside the workgroup, into one
//! partial softmax per query row (max, sum, d-vector); a second, small dispatch combines
//! the chunks' partials. It computes the last [`DECODE_QUERIES`] query rows of the
//! `[B, H, n, d]` problem (with the causal flag, that row sees every key, as a generated
//! token does), and holds only those rows of q and o on the device, `[B, H, 1, d]`, beside
//! n rows of K and V (`[B, HKV, n, d]`), as a KV-cache decode does; time grows linearly in
//! n, and a run's time is the time per generated token.
//!
//! Decode is bandwidth-bound: each step reads the whole KV cache (with a window, the last
//! W keys). A key lane serves four query heads of a KV head's group at once (grouped-query
//! attention), scoring them per K load and accumulating them per V load, so with
//! H / HKV ≤ 4 each KV element is read once per step (larger groups: once per four heads);
//! K and V are read as vec4s where the head dim allows. On CPU drivers a key lane is one
//! invocation holding whole rows, with no workgroup memory and no barrier in the key loop
//! (each is a coroutine switch on lavapipe); on GPUs its head dim is split across the
//! fewest lanes that keep it within the register cap. The combine reads a few KB (on an
//! H100 at 1×1×262 144×64: 256 records of 272 B, 70 KB, against K and V's 128 MiB).
//! Achieved GB/s are reported over K + V + the query and output rows
//! ([`Kernel::min_bytes`]); the measured ladder is in `docs/ladder.md`.

mod plan;
mod prepare;

use plan::queries;
pub use plan::{DECODE_QUERIES, DecodePlan, Merge};

use crate::error::{Error, Result};
use crate::gpu::{Bounds, DeviceFacts};
use crate::kernels::{
    DispatchResources, ForwardPlan, Kernel, Plan, PlanContext, Workload, io_plan, no_backward,
};
use crate::shape::{F32_BYTES, Shape};

/// The decode kernel.
#[derive(Debug)]
pub struct Decode {
    /// Lanes per key fixed (tests run the GPU split on CPU drivers); `None`: the plan
    /// chooses ([`DecodePlan::new`]).
    pub lanes: Option<u32>,
    /// About this many chunks per (batch, KV head) (tests combine many on CPU drivers);
    /// `None`: the plan chooses.
    pub chunks: Option<u32>,
}

impl Decode {
    /// The split for `shape` on a device with `facts`, with this kernel's fixed choices.
    pub fn split(&self, shape: &Shape, facts: &DeviceFacts) -> DecodePlan {
        let plan = DecodePlan::new(shape, facts, self.lanes);
        match self.chunks {
            Some(chunks) => plan.with_chunks(shape, chunks),
            None => plan,
        }
    }

    /// Refused past a driver's loop cap (the partial pass loops over its chunk's keys
    /// once per four query rows; the plan adds chunks to stay under it, up to one step of
    /// keys per lane), past the device's workgroup memory and, on GPUs, where even the
    /// widest split of the head dim keeps more live floats than the register cap.
    fn check_device(shape: &Shape, facts: &DeviceFacts, plan: &DecodePlan) -> Result<()> {
        facts.check_registers(
            "decode",
            &format!(
                "decode with {} rows per load and {} lanes per key at head_dim {}",
                plan.rows_per_load, plan.lanes, shape.head_dim
            ),
            plan.live_floats(shape.head_dim),
        )?;
        let unsupported = |reason: String| Error::Unsupported {
            kernel: "decode".into(),
            reason,
        };
        let bytes = plan.workgroup_bytes(shape.head_dim);
        let most = facts.limits.max_compute_workgroup_storage_size;
        if bytes > most {
            return Err(unsupported(format!(
                "its merge needs {bytes} bytes of workgroup memory at head_dim {}, {} has {most}",
                shape.head_dim, facts.name
            )));
        }
        if let Some(cap) = facts.loop_cap {
            let iterations = plan.iterations(shape);
            if iterations > cap * 9 / 10 {
                return Err(unsupported(format!(
                    "{} caps shader loops at {cap} iterations per invocation; {} chunks of {} keys need {iterations}",
                    facts.name, plan.chunks, plan.chunk_keys,
                )));
            }
        }
        Ok(())
    }
}

/// What each dispatch of `plan` asks of the device: the partial pass's workgroups, then the
/// combine's.
fn dispatches(shape: &Shape, plan: &DecodePlan) -> Vec<DispatchResources> {
    let kv_heads = u64::from(shape.batch) * u64::from(shape.kv_head_count());
    vec![
        DispatchResources {
            name: "partial",
            invocations: plan.workgroup,
            workgroups: kv_heads * u64::from(plan.chunks),
            live_floats: plan.live_floats(shape.head_dim),
            workgroup_bytes: plan.workgroup_bytes(shape.head_dim),
        },
        DispatchResources {
            name: "combine",
            invocations: plan::COMBINE_WG,
            workgroups: shape.batch_heads() * u64::from(queries(shape)),
            // m, l, the column's sum, its record's (m, l) and indices.
            live_floats: 16,
            // A vec4 column slot and a reduction float per invocation.
            workgroup_bytes: plan::COMBINE_WG * (16 + 4),
        },
    ]
}

/// `decode` as registered: the plan chooses.
pub static DECODE: Decode = Decode {
    lanes: None,
    chunks: None,
};

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

    /// The split ([`DecodePlan`]), checked against the device ([`Decode::check_device`]).
    fn plan(&self, shape: &Shape, ctx: &PlanContext<'_>) -> Result<Box<dyn Plan>> {
        if shape.pass.has_backward() {
            return Err(no_backward(self));
        }
        let plan = self.split(shape, ctx.facts);
        Decode::check_device(shape, ctx.facts, &plan)?;
        let params = std::mem::size_of::<prepare::Params>() as u64;
        let mut memory = io_plan(shape, self.query_rows(shape));
        memory.storage("partials", plan.partials_bytes(shape));
        memory.other("params[partial]", params);
        memory.other("params[combine]", params);
        Ok(Box::new(ForwardPlan {
            kernel: "decode",
            label: Some(plan.label()),
            live_floats: Some(plan.live_floats(shape.head_dim)),
            dispatches: dispatches(shape, &plan),
            decided: (*shape, plan),
            memory,
            build: prepare::build,
        }))
    }
}
