//! The kernel registry. Every attention kernel implements [`Kernel`] and is listed once in
//! [`KERNELS`]; the CLI, the tests, the benches and the reports iterate over that list.
//! Adding a kernel is one `.wgsl` file in `shaders/`, one module here, and one line in
//! [`KERNELS`].
//!
//! | kernel | idea | memory |
//! |---|---|---|
//! | [`naive`] | S = scale·QKᵀ in global memory, row softmax, O = P·V | O(B·H·n²) |
//! | `chunked` ([`naive::CHUNKED`]) | naive's dispatches over blocks of 256 query rows | O(B·H·n·d + 256·n) |
//! | [`flash`] | one fused dispatch, K/V tiles in workgroup memory (on CPU drivers: shared by subgroup broadcast, read from buffers or texel arrays), online softmax | O(B·H·n·d) |
//! | `flash_f16` ([`flash::FLASH_F16`]) | flash with f16 K/V tiles and Q·Kᵀ (SHADER_F16) | O(B·H·n·d) |
//! | [`flash_subgroup`] | a subgroup per query row, subgroupMax/Add softmax (SUBGROUP) | O(B·H·n·d) |
//! | [`decode`] | the last query row against n keys: split keys, combine partial softmaxes | O(B·H·n·d) |
//!
//! Kernels with a backward pass (training: dQ, dK, dV from dO) return it from
//! [`Kernel::backward`]:
//!
//! | backward | idea | memory |
//! |---|---|---|
//! | naive, chunked ([`naive_backward`]) | P and dP materialized (two n×n matrices), dS = P∘(dP − D), four products | O(B·H·n²) (chunked: O(256·n)) |
//! | flash ([`flash_backward`]) | FlashAttention-2: P recomputed from the forward's logsumexp, dK/dV per key block, dQ per query block | O(B·H·n·d) |

pub mod decode;
pub mod flash;
pub mod flash_backward;
pub mod flash_subgroup;
pub mod naive;
pub mod naive_backward;
mod texel_pair;

use crate::error::{Error, Result};
use crate::gpu::{BufferTracker, Gpu, MemoryPlan, TrackedBuffer};
use crate::shape::Shape;
use std::sync::Arc;

/// Every registered kernel, in the order reports list them.
pub static KERNELS: &[&dyn Kernel] = &[
    &naive::NAIVE,
    &naive::CHUNKED,
    &flash::FLASH,
    &flash::FLASH_F16,
    &flash_subgroup::FlashSubgroup,
    &decode::Decode,
];

/// The position of the registered kernel `name` in [`KERNELS`]: what assigns each kernel
/// its colour in every chart (`report::kernel_color`, the chart palette in registry order).
pub fn kernel_index(name: &str) -> Option<usize> {
    KERNELS.iter().position(|k| k.name() == name)
}

/// The registered kernel called `name`.
pub fn find_kernel(name: &str) -> Result<&'static dyn Kernel> {
    KERNELS
        .iter()
        .copied()
        .find(|k| k.name() == name)
        .ok_or_else(|| Error::UnknownKernel {
            name: name.to_string(),
            known: kernel_names().join(", "),
        })
}

/// Names of the registered kernels.
pub fn kernel_names() -> Vec<&'static str> {
    KERNELS.iter().map(|k| k.name()).collect()
}

/// What a kernel computes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Every query row: the prompt.
    #[default]
    Prefill,
    /// The last few query rows against the whole KV cache: generating tokens.
    Decode,
}

/// Q, K, V and O of one problem on the device, f32: Q and O `[B, H, rows, d]`
/// ([`Kernel::query_rows`]), K and V `[B, HKV, n, d]`.
#[derive(Debug)]
pub struct AttentionBuffers {
    /// Queries.
    pub q: TrackedBuffer,
    /// Keys.
    pub k: TrackedBuffer,
    /// Values.
    pub v: TrackedBuffer,
    /// Output.
    pub o: TrackedBuffer,
}

/// dO on the device and the gradients a backward pass writes, f32: dO and dQ
/// `[B, H, n, d]`, dK and dV `[B, HKV, n, d]` (summed over each KV head's query heads).
#[derive(Debug)]
pub struct GradientBuffers {
    /// Gradient of the loss with respect to O (input).
    pub d_o: TrackedBuffer,
    /// Gradient with respect to Q (output).
    pub dq: TrackedBuffer,
    /// Gradient with respect to K (output).
    pub dk: TrackedBuffer,
    /// Gradient with respect to V (output).
    pub dv: TrackedBuffer,
}

/// A kernel's forward and backward, prepared together: the backward may read what this
/// forward leaves besides O (flash: each row's logsumexp).
pub struct PreparedTraining {
    /// The forward pass, writing O (and what the backward needs).
    pub forward: Box<dyn PreparedKernel>,
    /// The backward pass, writing dQ, dK and dV.
    pub backward: Box<dyn PreparedKernel>,
}

/// The backward pass of a kernel: dQ, dK and dV of `O = softmax(scale·QKᵀ [mask])·V` for a
/// given dO. The FLOP model is FlashAttention's ([`crate::shape::Pass::flop_factor`]).
pub trait Backward: Send + Sync + 'static {
    /// One line on how it computes the gradients.
    fn summary(&self) -> &'static str;

    /// Largest relative L2 error per gradient against the f64 reference that counts as
    /// correct.
    fn tolerance(&self) -> f64 {
        2e-4
    }

    /// Refuses shapes or devices the backward cannot handle ([`Error::Unsupported`]).
    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()>;

    /// Every buffer a training run creates on `gpu`: the forward's, dO and the gradients
    /// ([`gradient_plan`]) and the backward's own scratch. Nothing is allocated.
    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan>;

    /// Builds the forward and the backward on one set of buffers.
    fn prepare(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        grads: &GradientBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<PreparedTraining>;
}

/// The plan entries for dO and the three gradients.
pub fn gradient_plan(shape: &Shape) -> MemoryPlan {
    let mut plan = MemoryPlan::default();
    plan.storage("do", shape.tensor_bytes())
        .storage("dq", shape.tensor_bytes())
        .storage("dk", shape.kv_tensor_bytes())
        .storage("dv", shape.kv_tensor_bytes());
    plan
}

/// The refusal of a kernel without a backward pass.
pub fn no_backward(kernel: &dyn Kernel) -> Error {
    Error::Unsupported {
        kernel: kernel.name().into(),
        reason: format!("{} has no backward pass", kernel.name()),
    }
}

/// An attention kernel.
pub trait Kernel: Send + Sync + 'static {
    /// Registry name, used on the command line and in results.
    fn name(&self) -> &'static str;

    /// One line on what it does.
    fn summary(&self) -> &'static str;

    /// Element type of its arithmetic, as recorded in results (`f32`, `f16`).
    fn dtype(&self) -> &'static str {
        "f32"
    }

    /// Largest ‖out − ref‖/‖ref‖ against the f64 reference that counts as correct.
    fn tolerance(&self) -> f64 {
        1e-4
    }

    /// What the kernel computes: a whole prefill, or the last few query rows (decode).
    fn workload(&self) -> Workload {
        Workload::Prefill
    }

    /// Query rows per (batch, head) the kernel computes, the last ones of the sequence:
    /// all n for prefill kernels. Q and O hold only these rows on the device (a decode step
    /// holds one row of q and o against n rows of K and V), and verification compares them.
    fn query_rows(&self, shape: &Shape) -> u32 {
        shape.seq_len
    }

    /// FLOPs of one run: [`Shape::flops`] (4·B·H·n²·d, halved when causal; 2.5× for the
    /// backward, 3.5× for a training step) for prefill.
    fn flops(&self, shape: &Shape) -> f64 {
        shape.flops()
    }

    /// The FLOP model of [`Kernel::flops`] as printed beside a result, e.g.
    /// `4·B·H·n²·d/2, causal` ([`Shape::flop_model`] for prefill).
    fn flop_model(&self, shape: &Shape) -> String {
        shape.flop_model()
    }

    /// The fewest bytes the kernel must move through device memory for `shape`: by default
    /// Q, K, V read once and O written once. Achieved GB/s is reported over this.
    fn min_bytes(&self, shape: &Shape) -> u64 {
        shape.min_io_bytes()
    }

    /// The tile configuration the kernel uses for `shape` on `gpu`, for kernels that have
    /// one (recorded beside each result so that numbers name what ran).
    fn config_label(&self, _shape: &Shape, _gpu: &Gpu) -> Option<String> {
        None
    }

    /// Whether the kernel materializes the n×n score matrix (the bytes a transfer to the
    /// host would have to move).
    fn materializes_scores(&self) -> bool {
        false
    }

    /// Refuses shapes or devices the kernel cannot handle ([`Error::Unsupported`]).
    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()>;

    /// Every buffer a run of this kernel creates on `gpu`, Q/K/V/O included. Nothing is
    /// allocated.
    fn memory_plan(&self, shape: &Shape, gpu: &Gpu) -> Result<MemoryPlan>;

    /// The kernel's backward pass, when it has one (`--pass bwd` and `fwd-bwd`).
    fn backward(&self) -> Option<&dyn Backward> {
        None
    }

    /// Builds pipelines, scratch buffers (allocated through `tracker`) and bind groups.
    fn prepare(
        &self,
        gpu: &Gpu,
        shape: &Shape,
        io: &AttentionBuffers,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Box<dyn PreparedKernel>>;
}

/// A kernel ready to run on one set of buffers.
pub trait PreparedKernel: Send + Sync {
    /// Records the kernel's dispatches into `pass` (one pass per run, so that pass-boundary
    /// timestamps time the whole kernel).
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>);
}

/// One dispatch: a pipeline, its bind group and a folded grid.
pub(crate) struct Dispatch {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group: wgpu::BindGroup,
    pub grid: [u32; 3],
}

/// The prepared form of every kernel here: dispatches recorded in order (wgpu orders
/// storage writes between dispatches of a pass), and the buffers they need kept alive.
pub(crate) struct Dispatches {
    pub steps: Vec<Dispatch>,
    /// Held only to keep the buffers alive while the dispatches exist.
    pub _buffers: Vec<TrackedBuffer>,
}

impl PreparedKernel for Dispatches {
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        for step in &self.steps {
            pass.set_pipeline(&step.pipeline);
            pass.set_bind_group(0, &step.bind_group, &[]);
            let [x, y, z] = step.grid;
            pass.dispatch_workgroups(x, y, z);
        }
    }
}

/// A prepared kernel and resources it binds that it does not own: buffers, or a texel
/// pair shared with another prepared kernel.
pub(crate) struct KeepAlive<T: Send + Sync = Vec<TrackedBuffer>> {
    pub inner: Box<dyn PreparedKernel>,
    /// Held only to keep the resources alive while the dispatches exist.
    pub _held: T,
}

impl<T: Send + Sync> PreparedKernel for KeepAlive<T> {
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.inner.encode(pass);
    }
}

/// `total` workgroups as the u32 the shaders compare their linear id with.
pub(crate) fn workgroup_count(kernel: &str, shape: &Shape, total: u64) -> Result<u32> {
    u32::try_from(total).map_err(|_| Error::TooLarge {
        what: format!("{kernel} at {shape}: workgroups"),
        needed: total,
        allowed: u64::from(u32::MAX),
        limit: "workgroups per dispatch".into(),
    })
}

/// The plan entries for Q, K, V and O, Q and O holding `query_rows` rows per (batch, head)
/// ([`Kernel::query_rows`]), K and V the KV heads ([`Shape::kv_tensor_bytes`]).
pub fn io_plan(shape: &Shape, query_rows: u32) -> MemoryPlan {
    let rows_bytes = query_bytes(shape, query_rows);
    let mut plan = MemoryPlan::default();
    plan.storage("q", rows_bytes)
        .storage("k", shape.kv_tensor_bytes())
        .storage("v", shape.kv_tensor_bytes())
        .storage("o", rows_bytes);
    plan
}

/// Bytes of Q or O holding `query_rows` rows of each (batch, head), f32.
pub fn query_bytes(shape: &Shape, query_rows: u32) -> u64 {
    shape.batch_heads() * u64::from(query_rows.min(shape.seq_len)) * u64::from(shape.head_dim) * 4
}

// The shader and pipeline helpers every kernel uses live in the device layer (the probes
// use them too).
pub(crate) use crate::gpu::{
    bind_buffers, params_buffer, pipeline_layout, shader, storage_and_params_layout,
};

impl std::fmt::Debug for dyn Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
