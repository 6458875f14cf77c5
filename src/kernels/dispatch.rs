//! The prepared form of every kernel here: dispatches recorded in order into one compute
//! pass, and the resources they bind kept alive.

use super::plan::PreparedKernel;
use crate::error::{Error, Result};
use crate::gpu::TrackedBuffer;
use crate::shape::Shape;

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
        limit: crate::error::Limit::WorkgroupsPerDispatch,
    })
}
