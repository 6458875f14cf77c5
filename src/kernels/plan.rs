//! Planning a run once ([`Kernel::plan`](super::Kernel::plan), cubecl's prepare/execute
//! split): what a plan is made from ([`PlanContext`]: the device's facts, its tuned
//! choices, the user's overrides), and what it decided ([`Plan`]: every buffer the run will
//! create, the configuration that names it, and how to build it on a set of buffers). A
//! point of a sweep, a check of `verify` or a `run` makes one plan and carries it: memory
//! checks, labels and the run all read the same value.

use super::buffers::{AttentionBuffers, GradientBuffers};
use super::flash::{BackwardRows, ForcedBackward, TilesOverride, TunedConfigs};
use super::phases::Segment;
use crate::error::Result;
use crate::gpu::{BufferTracker, DeviceFacts, Gpu, MemoryPlan};
use std::sync::Arc;

/// The configurations `attnbench tune` chose for one device, per kernel family that has
/// any: typed, checked against the device when they were loaded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TunedChoices {
    /// flash's and flash_f16's tiles per head dim.
    pub flash: TunedConfigs,
}

/// What the user fixed for experiments and tests (`--flash-tiles`, `ATTNBENCH_FLASH_TILES`
/// and the like, parsed once at the edge): each overrides the planner's own choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOverrides {
    /// flash's forward tiles, or the key-split family.
    pub flash_tiles: Option<TilesOverride>,
    /// flash's backward layout kind.
    pub flash_backward: Option<ForcedBackward>,
    /// The rows per invocation of flash's broadcast backward.
    pub flash_backward_rows: Option<BackwardRows>,
}

/// Everything a plan is made from; nothing else (no environment, no hidden state).
#[derive(Clone, Copy, Debug)]
pub struct PlanContext<'a> {
    /// The device's limits, features, subgroup sizes, kind and memory budget.
    pub facts: &'a DeviceFacts,
    /// The device's tuned choices.
    pub tuned: &'a TunedChoices,
    /// The user's overrides.
    pub overrides: &'a KernelOverrides,
}

/// No tuned choices.
static UNTUNED: std::sync::LazyLock<TunedChoices> = std::sync::LazyLock::new(Default::default);

/// No overrides.
static NO_OVERRIDES: KernelOverrides = KernelOverrides {
    flash_tiles: None,
    flash_backward: None,
    flash_backward_rows: None,
};

impl<'a> PlanContext<'a> {
    /// The context of a device with `facts`, nothing tuned and nothing overridden: what the
    /// kernels choose by themselves (tests plan for adapters that are not here).
    pub fn untuned(facts: &'a DeviceFacts) -> PlanContext<'a> {
        PlanContext {
            facts,
            tuned: &UNTUNED,
            overrides: &NO_OVERRIDES,
        }
    }
}

/// One dispatch of a run as it asks the device, decided by its plan
/// ([`Plan::dispatches`]): what `attnbench plan` prints and models occupancy from.
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

/// A kernel ready to run on one set of buffers.
pub trait PreparedKernel: Send + Sync {
    /// Records the kernel's dispatches into `pass` (one pass per run, so that pass-boundary
    /// timestamps time the whole kernel).
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>);

    /// The same dispatches as consecutive segments, each of one named phase, where the
    /// kernel names them (naive: QKᵀ, softmax, P·V); empty otherwise. Recording every
    /// segment in order records the run.
    fn segments(&self) -> Vec<Segment<'_>> {
        Vec::new()
    }
}

/// The device buffers a plan is prepared on: Q, K, V, O, and for a pass with a backward dO
/// and the gradients.
#[derive(Clone, Copy, Debug)]
pub struct RunBuffers<'a> {
    /// Q, K, V and O.
    pub io: &'a AttentionBuffers,
    /// dO, dQ, dK and dV, for a shape with a backward pass.
    pub grads: Option<&'a GradientBuffers>,
}

/// A plan built on its buffers: the forward alone, or a forward and the backward that reads
/// what it leaves (flash: each row's logsumexp).
pub enum Prepared {
    /// A forward pass, writing O.
    Forward(Box<dyn PreparedKernel>),
    /// A training step's two halves.
    Training {
        /// The forward, writing O (and what the backward needs).
        forward: Box<dyn PreparedKernel>,
        /// The backward, writing dQ, dK and dV.
        backward: Box<dyn PreparedKernel>,
    },
}

/// What a kernel decided for one shape on one device, decided once.
pub trait Plan: Send + Sync {
    /// Every buffer (and texel array) the run creates, Q/K/V/O and the gradients included.
    fn memory(&self) -> &MemoryPlan;

    /// The configuration as results name it (e.g. `texels,32,4`), for kernels that have
    /// one.
    fn label(&self) -> Option<String> {
        None
    }

    /// Most live floats one invocation of its main kernel holds, where the kernel models
    /// them (checked against the register cap when the plan was made).
    fn live_floats(&self) -> Option<u32> {
        None
    }

    /// Each working dispatch's workgroup, workgroups, live floats and workgroup memory,
    /// where the kernel models them (empty otherwise): what `attnbench plan` prints for a
    /// device that is not here (`--adapter-limits h100`).
    fn dispatches(&self) -> &[DispatchResources] {
        &[]
    }

    /// Builds its pipelines, scratch buffers (allocated through `tracker`) and bind groups
    /// on `buffers`.
    fn prepare(
        &self,
        gpu: &Gpu,
        buffers: RunBuffers<'_>,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Prepared>;
}

/// The refusal of a prepared training plan without the gradients it writes (or of a
/// forward plan given them): a caller's mistake, reported rather than run.
pub(crate) fn buffers_mismatch(kernel: &str, training: bool) -> crate::Error {
    crate::Error::Gpu {
        during: format!("preparing {kernel}"),
        message: if training {
            "a training plan needs dO and the gradient buffers".into()
        } else {
            "a forward plan was given gradient buffers".into()
        },
    }
}

/// The plan of a kernel with a forward pass only: what it decided (`decided`), its
/// buffers, its label, and the function that builds it.
pub(crate) struct ForwardPlan<T> {
    /// The kernel's name (for messages).
    pub kernel: &'static str,
    /// What the kernel decided for the shape.
    pub decided: T,
    /// Its buffers.
    pub memory: MemoryPlan,
    /// Its configuration as results name it.
    pub label: Option<String>,
    /// Its live floats per invocation, where modelled.
    pub live_floats: Option<u32>,
    /// Its working dispatches' resources, where modelled.
    pub dispatches: Vec<DispatchResources>,
    /// Builds the dispatches of `decided` on Q, K, V and O.
    #[allow(clippy::type_complexity)]
    pub build:
        fn(&T, &Gpu, &AttentionBuffers, &Arc<BufferTracker>) -> Result<Box<dyn PreparedKernel>>,
}

impl<T: Send + Sync> Plan for ForwardPlan<T> {
    fn memory(&self) -> &MemoryPlan {
        &self.memory
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn live_floats(&self) -> Option<u32> {
        self.live_floats
    }

    fn dispatches(&self) -> &[DispatchResources] {
        &self.dispatches
    }

    fn prepare(
        &self,
        gpu: &Gpu,
        buffers: RunBuffers<'_>,
        tracker: &Arc<BufferTracker>,
    ) -> Result<Prepared> {
        if buffers.grads.is_some() {
            return Err(buffers_mismatch(self.kernel, false));
        }
        (self.build)(&self.decided, gpu, buffers.io, tracker).map(Prepared::Forward)
    }
}
