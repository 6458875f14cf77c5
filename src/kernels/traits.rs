//! The traits every kernel implements ([`Kernel`], [`Backward`], [`PreparedKernel`]) and
//! the words they speak: what a kernel computes ([`Workload`]), in which element type
//! ([`Precision`]), and the refusal of a missing backward.

use super::buffers::{AttentionBuffers, GradientBuffers};
use crate::error::{Error, Result};
use crate::gpu::{Bounds, BufferTracker, DeviceFacts, Gpu, MemoryPlan};
use crate::shape::Shape;
use std::sync::Arc;

/// Element type of a kernel's tiles and score arithmetic, as results record it (`f32`,
/// `f16`); softmax state and accumulators are f32 in every kernel.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 throughout.
    #[default]
    F32,
    /// f16 tiles and Q·Kᵀ (needs SHADER_F16).
    F16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        })
    }
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

/// One dispatch of a run as it asks the device, planned from the device's facts alone
/// ([`Kernel::resources`]): what `attnbench plan` prints and models occupancy from.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DispatchResources {
    /// Which dispatch (`forward`, `dq`, `dkdv`, `partial`, `combine`).
    pub name: &'static str,
    /// Invocations per workgroup.
    pub invocations: u32,
    /// Workgroups of one dispatch (per pass over the keys, where the keys are split).
    pub workgroups: u64,
    /// Live floats per invocation, as the kernel's model counts them from its shader.
    pub live_floats: u32,
    /// Bytes of workgroup memory per workgroup.
    pub workgroup_bytes: u32,
}

/// What one run of a kernel asks of a device: its configuration's label and the dispatches
/// that do the work.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Resources {
    /// The configuration, as results name it.
    pub label: String,
    /// The dispatches that do the work, in order.
    pub dispatches: Vec<DispatchResources>,
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

    /// Refuses shapes the backward cannot handle on a device with `facts`
    /// ([`Error::Unsupported`]), from the device's facts alone: tests ask it for adapters
    /// that are not here.
    fn check_device(&self, shape: &Shape, facts: &DeviceFacts) -> Result<()>;

    /// Refuses shapes or devices the backward cannot handle: [`Backward::check_device`] on
    /// the device's facts (kernels with tuned choices also check those).
    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()> {
        self.check_device(shape, gpu.facts())
    }

    /// Every buffer a training run creates on `gpu`: the forward's, dO and the gradients
    /// ([`gradient_plan`](crate::kernels::gradient_plan)) and the backward's own scratch. Nothing is allocated.
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

    /// Element type of its arithmetic, as recorded in results.
    fn precision(&self) -> Precision {
        Precision::F32
    }

    /// Largest ‖out − ref‖/‖ref‖ against the f64 reference that counts as correct.
    fn tolerance(&self) -> f64 {
        1e-4
    }

    /// Device features without which the kernel cannot run at all (every shape is refused
    /// with the reason): verify and the reports then list it as not available here rather
    /// than unchecked.
    fn required_features(&self) -> wgpu::Features {
        wgpu::Features::empty()
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

    /// Whether every shader of the kernel is in bounds by construction, so that they
    /// compile without naga's runtime checks ([`Bounds`]).
    fn bounds(&self) -> Bounds {
        Bounds::Checked
    }

    /// The tile configuration the kernel uses for `shape` on `gpu`, for kernels that have
    /// one.
    fn tile_label(&self, _shape: &Shape, _gpu: &Gpu) -> Option<String> {
        None
    }

    /// The configuration recorded beside each result, so that numbers name what ran:
    /// [`Kernel::tile_label`], followed by `checks off` where the kernel's shaders ran
    /// without naga's runtime checks (e.g. `texels,32,4; checks off`).
    fn config_label(&self, shape: &Shape, gpu: &Gpu) -> Option<String> {
        let tiles = self.tile_label(shape, gpu);
        if !gpu.runtime_checks_off(self.bounds()) {
            return tiles;
        }
        Some(match tiles {
            Some(tiles) => format!("{tiles}; checks off"),
            None => "checks off".into(),
        })
    }

    /// What a run at `shape` asks of a device with `facts` — its plan's label and each
    /// working dispatch's workgroup, workgroups, live floats and workgroup memory — decided
    /// from the facts alone (no tuned choices), for planning a device that is not here
    /// (`attnbench plan --adapter-limits h100`). `None` for kernels that do not model it;
    /// an [`Error::Unsupported`] where the kernel refuses the shape there.
    fn resources(&self, _shape: &Shape, _facts: &DeviceFacts) -> Option<Result<Resources>> {
        None
    }

    /// Whether the kernel materializes the n×n score matrix (the bytes a transfer to the
    /// host would have to move).
    fn materializes_scores(&self) -> bool {
        false
    }

    /// Refuses shapes the kernel cannot handle on a device with `facts`
    /// ([`Error::Unsupported`]): what its configuration and limits decide from the device's
    /// facts alone (no tuned choices), so that tests can ask it for adapters that are not
    /// here ([`DeviceFacts::simulated_gpu`]).
    fn check_device(&self, shape: &Shape, facts: &DeviceFacts) -> Result<()>;

    /// Refuses shapes or devices the kernel cannot handle: [`Kernel::check_device`] on the
    /// device's facts (kernels with tuned choices also check those).
    fn check_support(&self, shape: &Shape, gpu: &Gpu) -> Result<()> {
        self.check_device(shape, gpu.facts())
    }

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

impl std::fmt::Debug for dyn Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
