//! The kernel registry. Every attention kernel implements [`Kernel`] and is listed once in
//! [`KERNELS`]; the CLI, the tests, the benches and the reports iterate over that list.
//! Adding a kernel is one folder `shaders/<family>/`, one module here, and one line in
//! [`KERNELS`]. [`ladder`] lists the version ladder (textbook naive → naive → flash) that
//! `attnbench ladder` verifies and measures.
//!
//! | kernel | idea | memory |
//! |---|---|---|
//! | [`naive`] | S = scale·QKᵀ in global memory, row softmax, O = P·V; QKᵀ and P·V as register-blocked matrix products | O(B·H·n²) |
//! | `chunked` ([`naive::CHUNKED`]) | naive's products over blocks of 256 query rows | O(B·H·n·d + 256·n) |
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
//! | naive, chunked (`naive/backward.rs`) | autograd's: P and dP materialized (two n×n matrices), dS = P∘(dP − D), four matrix products | O(B·H·n²) (chunked: O(256·n)) |
//! | flash (`flash/backward.rs`) | FlashAttention-2: P recomputed from the forward's logsumexp, dK/dV per key block, dQ per query block | O(B·H·n·d) |

mod buffers;
pub mod decode;
mod dispatch;
pub mod flash;
pub mod flash_subgroup;
pub mod ladder;
pub mod naive;
mod phases;
mod plan;
mod traits;
mod words;

#[cfg(test)]
mod device_coverage;

pub use buffers::{AttentionBuffers, GradientBuffers, gradient_plan, io_plan, query_bytes};
pub(crate) use dispatch::{Dispatch, Dispatches, KeepAlive, PhasedDispatches, workgroup_count};
pub use phases::{Phase, Segment};
pub use plan::{
    DispatchResources, KernelOverrides, Plan, PlanContext, Prepared, PreparedKernel, RunBuffers,
    TunedChoices,
};
pub(crate) use plan::{ForwardPlan, buffers_mismatch};
pub use traits::{Backward, Kernel, no_backward};
pub use words::{Precision, Workload};

use crate::error::{Error, Result};

/// Every registered kernel, in the order reports list them.
pub static KERNELS: &[&dyn Kernel] = &[
    &naive::NAIVE,
    &naive::CHUNKED,
    &flash::FLASH,
    &flash::FLASH_F16,
    &flash_subgroup::FlashSubgroup,
    &decode::DECODE,
];

/// The two kernels the reports' argument sets side by side: naive, which materializes the
/// n×n scores, and flash, which never does. The sweep spends its budget on their headline
/// lines first (`sweep::Phase`); the device README's charts and key ratios are theirs.
pub const ARGUMENT_KERNELS: [&str; 2] = ["naive", "flash"];

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
