//! [`FlashRun`]: a flash run planned for one shape ([`FlashPlan`]) with the buffers it
//! creates, the [`Plan`] every caller reads.

use super::backward::{prepare_training, training_memory};
use super::config::subgroup_size_of;
use super::forward::{RunResources, forward_memory, prepare_forward};
use super::plan::FlashPlan;
use crate::error::Result;
use crate::gpu::{BufferTracker, DeviceFacts, Gpu, MemoryPlan};
use crate::kernels::{
    DispatchResources, KeepAlive, Plan, Precision, Prepared, RunBuffers, buffers_mismatch,
};
use crate::shape::Shape;
use std::sync::Arc;

/// flash's plan for one shape, with its memory.
#[derive(Clone, Debug)]
pub(super) struct FlashRun {
    plan: FlashPlan,
    precision: Precision,
    shape: Shape,
    memory: MemoryPlan,
    live_floats: u32,
    dispatches: Vec<DispatchResources>,
}

impl FlashRun {
    /// The run of `plan` for `shape` on a device with `facts`.
    pub(super) fn new(
        plan: FlashPlan,
        precision: Precision,
        shape: &Shape,
        facts: &DeviceFacts,
    ) -> Result<FlashRun> {
        let memory = match &plan.backward {
            Some(backward) => training_memory(&plan, backward, shape, facts),
            None => forward_memory(&plan, shape, facts),
        };
        let subgroup = subgroup_size_of(facts).unwrap_or(1);
        Ok(FlashRun {
            plan,
            precision,
            shape: *shape,
            memory,
            live_floats: plan.config.live_floats(shape.head_dim, subgroup),
            dispatches: super::resources::dispatches(&plan, shape, facts),
        })
    }

    /// Bytes of every buffer the run creates.
    pub(super) fn total_bytes(&self) -> u64 {
        self.memory.total_bytes()
    }
}

impl Plan for FlashRun {
    fn memory(&self) -> &MemoryPlan {
        &self.memory
    }

    /// The forward's tiles, with a backward pass also its layout, e.g.
    /// `texels,32,8; bwd 8,4,32,texels`.
    fn label(&self) -> Option<String> {
        Some(self.plan.label())
    }

    fn live_floats(&self) -> Option<u32> {
        Some(self.live_floats)
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
        let shape = &self.shape;
        match (self.plan.backward, buffers.grads) {
            (Some(backward), Some(grads)) => prepare_training(
                gpu,
                shape,
                (&self.plan, backward),
                (buffers.io, grads),
                tracker,
            ),
            (None, None) => {
                let resources = RunResources::allocate(&self.plan, shape, gpu, tracker)?;
                let prepared = prepare_forward(
                    gpu,
                    shape,
                    buffers.io,
                    tracker,
                    (&self.plan, self.precision),
                    &resources,
                )?;
                Ok(Prepared::Forward(Box::new(KeepAlive {
                    inner: prepared,
                    _held: vec![resources.state],
                })))
            }
            (training, _) => Err(buffers_mismatch("flash", training.is_some())),
        }
    }
}
