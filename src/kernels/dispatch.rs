//! The prepared form of every kernel here: dispatches recorded in order into one compute
//! pass, and the resources they bind kept alive.

use super::phases::{Phase, Segment};
use super::plan::PreparedKernel;
use crate::error::{Error, Result};
use crate::gpu::TrackedBuffer;
use crate::shape::Shape;

/// One dispatch: a pipeline, its bind group and a folded grid.
#[derive(Clone)]
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

impl Dispatch {
    /// Records the dispatch into `pass`.
    pub(crate) fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.grid;
        pass.dispatch_workgroups(x, y, z);
    }
}

impl PreparedKernel for Dispatches {
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        for step in &self.steps {
            step.record(pass);
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

    fn segments(&self) -> Vec<Segment<'_>> {
        self.inner.segments()
    }
}

/// Dispatches recorded in order, each labelled with its phase, and the resources they bind
/// kept alive.
pub(crate) struct PhasedDispatches<T: Send + Sync> {
    steps: Vec<Dispatch>,
    phases: Vec<Phase>,
    /// Held only to keep the resources alive while the dispatches exist.
    _held: T,
}

impl<T: Send + Sync> PhasedDispatches<T> {
    /// `steps` with their phases, keeping `held` alive.
    pub(crate) fn new(steps: Vec<(Phase, Dispatch)>, held: T) -> Self {
        let (phases, steps) = steps.into_iter().unzip();
        PhasedDispatches {
            steps,
            phases,
            _held: held,
        }
    }
}

impl<T: Send + Sync> PreparedKernel for PhasedDispatches<T> {
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        for step in &self.steps {
            step.record(pass);
        }
    }

    fn segments(&self) -> Vec<Segment<'_>> {
        let mut out = Vec::new();
        let mut start = 0;
        for end in 1..=self.steps.len() {
            if end == self.steps.len() || self.phases[end] != self.phases[start] {
                let steps = &self.steps[start..end];
                out.push(Segment::new(self.phases[start], move |pass| {
                    for step in steps {
                        step.record(pass);
                    }
                }));
                start = end;
            }
        }
        out
    }
}

/// `total` workgroups as the u32 the shaders compare their linear id with.
pub(crate) fn workgroup_count(kernel: &str, shape: &Shape, total: u64) -> Result<u32> {
    u32::try_from(total).map_err(|_| Error::TooLarge {
        what: format!("{kernel} at {shape}: workgroups"),
        needed: total,
        allowed: u64::from(u32::MAX),
        limit: crate::error::Limit::WorkgroupsPerDispatch,
    })
}
