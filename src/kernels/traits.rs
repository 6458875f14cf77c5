//! The traits every kernel implements ([`Kernel`], [`Backward`]) and the refusal of a
//! missing backward.

use super::plan::{Plan, PlanContext};
use super::words::{Precision, Workload};
use crate::error::{Error, Result};
use crate::gpu::Bounds;
#[cfg(doc)]
use crate::gpu::DeviceFacts;
use crate::shape::Shape;

/// The backward pass of a kernel: dQ, dK and dV of `O = softmax(scale·QKᵀ [mask])·V` for a
/// given dO. The FLOP model is FlashAttention's ([`crate::shape::Pass::flop_factor`]). The
/// kernel's [`Kernel::plan`] plans it for shapes with a backward pass.
pub trait Backward: Send + Sync + 'static {
    /// One line on how it computes the gradients.
    fn summary(&self) -> &'static str;

    /// Largest relative L2 error per gradient against the f64 reference that counts as
    /// correct.
    fn tolerance(&self) -> f64 {
        2e-4
    }
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

    /// Whether the kernel materializes the n×n score matrix (the bytes a transfer to the
    /// host would have to move).
    fn materializes_scores(&self) -> bool {
        false
    }

    /// The kernel's backward pass, when it has one (`--pass bwd` and `fwd-bwd`).
    fn backward(&self) -> Option<&dyn Backward> {
        None
    }

    /// Plans a run of `shape` (its forward, and its backward for a shape with one) on the
    /// device `ctx` describes: every choice made once, the buffers it will create stated
    /// ([`Plan::memory`], checked against the device by the caller), nothing allocated. A
    /// shape or device the kernel cannot handle is refused ([`Error::Unsupported`], or
    /// [`Error::TooLarge`] past a limit of its own), from `ctx` alone: tests plan for
    /// adapters that are not here ([`DeviceFacts::simulated_gpu`]).
    fn plan(&self, shape: &Shape, ctx: &PlanContext<'_>) -> Result<Box<dyn Plan>>;
}

impl std::fmt::Debug for dyn Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
