//! What each working dispatch of a flash run asks of the device ([`DispatchResources`],
//! read by `attnbench plan`): the forward's tiles and, for shapes with a backward pass,
//! its dQ and dK/dV kernels, as the plan decided them.

use super::plan::FlashPlan;
use crate::gpu::DeviceFacts;
use crate::kernels::DispatchResources;
use crate::shape::Shape;

/// The dispatches of a run of `plan` at `shape` on a device with `facts`.
pub(super) fn dispatches(
    plan: &FlashPlan,
    shape: &Shape,
    facts: &DeviceFacts,
) -> Vec<DispatchResources> {
    let config = plan.config;
    let d = shape.head_dim;
    let n = u64::from(shape.seq_len);
    let mut dispatches = vec![DispatchResources {
        name: "forward",
        invocations: config.block_q,
        workgroups: shape.batch_heads() * n.div_ceil(u64::from(config.rows_per_workgroup())),
        live_floats: config.live_floats(d, facts.subgroup_min),
        workgroup_bytes: config.workgroup_bytes(d, config.lane_sum(facts)),
    }];
    if let Some(backward) = plan.backward {
        let layout = backward.layout;
        let kv_heads = u64::from(shape.batch) * u64::from(shape.kv_head_count());
        for (name, dq, heads) in [("dq", true, shape.batch_heads()), ("dkdv", false, kv_heads)] {
            dispatches.push(DispatchResources {
                name,
                invocations: layout.block,
                workgroups: heads * n.div_ceil(u64::from(layout.rows_per_workgroup(dq))),
                live_floats: layout.live_floats(d, facts.subgroup_min),
                workgroup_bytes: layout.workgroup_bytes(d, facts),
            });
        }
    }
    dispatches
}

#[cfg(test)]
mod tests {
    use crate::gpu::DeviceFacts;
    use crate::kernels::flash::{FLASH, FLASH_F16};
    use crate::kernels::{Kernel, PlanContext};
    use crate::shape::{Pass, Shape};

    #[test]
    fn an_h100_runs_tiles_and_the_tile_backward_within_the_cap() {
        let h100 = DeviceFacts::h100();
        let ctx = PlanContext::untuned(&h100);
        let shape = Shape::new(4096, 64).with_pass(Pass::ForwardBackward);
        let plan = FLASH.plan(&shape, &ctx).unwrap();
        let label = plan.label().unwrap();
        assert!(label.starts_with("tiles,64,1,32,2; bwd tiles"), "{label}");
        let dispatches = plan.dispatches();
        assert_eq!(dispatches.len(), 3);
        // 64 invocations, 2 lanes a row: 32 rows a workgroup, 128 workgroups.
        assert_eq!(
            (dispatches[0].invocations, dispatches[0].workgroups),
            (64, 128)
        );
        for dispatch in dispatches {
            assert!(dispatch.live_floats <= 96, "{dispatch:?}");
            assert!(dispatch.workgroup_bytes <= 48 << 10, "{dispatch:?}");
        }
        let f16 = FLASH_F16.plan(&Shape::new(4096, 128), &ctx).unwrap();
        assert_eq!(f16.dispatches().len(), 1);
    }
}
