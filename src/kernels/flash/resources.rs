//! flash's [`Resources`] from a device's facts alone (`attnbench plan`): the forward's
//! tiles and, for shapes with a backward pass, its dQ and dK/dV kernels, as
//! [`FlashPlan::resolve_on`] decides them without tuned choices.

use super::plan::FlashPlan;
use super::tuned::TunedConfigs;
use super::variant::Flash;
use crate::error::Result;
use crate::gpu::DeviceFacts;
use crate::kernels::{DispatchResources, Resources};
use crate::shape::Shape;

/// What a run of `flash` at `shape` asks of a device with `facts`.
pub(super) fn resources(flash: &Flash, shape: &Shape, facts: &DeviceFacts) -> Result<Resources> {
    let plan = FlashPlan::resolve_on(flash, shape, facts, &TunedConfigs::default())?;
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
    let mut label = plan.label();
    if plan.passes > 1 {
        label += &format!("; {} passes", plan.passes);
    }
    Ok(Resources { label, dispatches })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::flash::{FLASH, FLASH_F16};
    use crate::shape::Pass;

    #[test]
    fn an_h100_runs_tiles_and_the_tile_backward_within_the_cap() {
        let h100 = DeviceFacts::h100();
        let shape = Shape::new(4096, 64).with_pass(Pass::ForwardBackward);
        let r = resources(&FLASH, &shape, &h100).unwrap();
        assert!(
            r.label.starts_with("tiles,64,1,32,2; bwd tiles"),
            "{}",
            r.label
        );
        assert_eq!(r.dispatches.len(), 3);
        // 64 invocations, 2 lanes a row: 32 rows a workgroup, 128 workgroups.
        assert_eq!(
            (r.dispatches[0].invocations, r.dispatches[0].workgroups),
            (64, 128)
        );
        for dispatch in &r.dispatches {
            assert!(dispatch.live_floats <= 96, "{dispatch:?}");
            assert!(dispatch.workgroup_bytes <= 48 << 10, "{dispatch:?}");
        }
        let f16 = resources(&FLASH_F16, &Shape::new(4096, 128), &h100).unwrap();
        assert_eq!(f16.dispatches.len(), 1);
    }
}
