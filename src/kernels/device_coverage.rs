//! What the kernels choose on GPUs this machine does not have: simulated adapters
//! ([`DeviceFacts::simulated_gpu`]) with the subgroup ranges wgpu reports on Metal (4..64),
//! AMD (32..64), Intel (8..32), NVIDIA (32..32) and none. Every configuration a GPU may run
//! (flash's forward grid and default, its backward layout, decode's split, naive's matrix
//! products) stays within the register cap, and every kernel has one.

use crate::gpu::{DeviceFacts, REGISTER_CAP, REGISTER_TARGET};
use crate::kernels::decode::DecodePlan;
use crate::kernels::flash::{BackwardLayout, FlashConfig, gpu_grid, untuned_config_on};
use crate::kernels::naive::{CHUNKED, NAIVE, Products};
use crate::kernels::{KERNELS, PlanContext, Precision};
use crate::shape::{Pass, Shape};

/// The subgroup ranges (min, max) of the simulated adapters; `None`: no SUBGROUP.
const RANGES: &[Option<(u32, u32)>] = &[
    Some((4, 64)),
    Some((32, 64)),
    Some((8, 32)),
    Some((32, 32)),
    Some((4, 128)),
    None,
];

fn adapters() -> impl Iterator<Item = DeviceFacts> {
    RANGES
        .iter()
        .map(|&range| DeviceFacts::simulated_gpu(range))
}

fn within_cap(facts: &DeviceFacts, config: &FlashConfig, head_dim: u32) -> bool {
    config.live_floats(head_dim, facts.subgroup_min) <= REGISTER_CAP
}

#[test]
fn no_gpu_configuration_passes_the_register_cap_at_any_head_dim() {
    for facts in adapters() {
        for head_dim in 1..=256 {
            let shape = Shape::new(256, head_dim);
            for precision in [Precision::F32, Precision::F16] {
                let grid = gpu_grid(&facts, head_dim, precision);
                assert!(!grid.is_empty(), "{}: no grid at d{head_dim}", facts.name);
                for config in &grid {
                    assert!(
                        within_cap(&facts, config, head_dim),
                        "{}: {config} at d{head_dim}",
                        facts.name
                    );
                }
                if precision == Precision::F32 {
                    let split = FlashConfig::split_for_shape(&shape, &facts, precision)
                        .unwrap_or_else(|e| panic!("{}: split at d{head_dim}: {e}", facts.name));
                    assert!(within_cap(&facts, &split, head_dim), "{split} d{head_dim}");
                }
                let default = untuned_config_on(&shape, &facts, precision).unwrap();
                assert!(
                    within_cap(&facts, &default, head_dim)
                        && default.validate_on(&shape, &facts, precision).is_ok(),
                    "{}: default {default} at d{head_dim}",
                    facts.name
                );
            }
            for kv_heads in [8, 2] {
                let gqa = Shape::new(4096, head_dim)
                    .with_batch_heads(1, 8)
                    .with_kv_heads(kv_heads);
                let decode = DecodePlan::new(&gqa, &facts, None);
                assert!(
                    decode.live_floats(head_dim) <= REGISTER_CAP,
                    "{}: decode {decode:?} at d{head_dim}",
                    facts.name
                );
            }
            let layout =
                BackwardLayout::for_shape(&shape.with_pass(Pass::Backward), &facts, None, None)
                    .unwrap_or_else(|e| panic!("{}: d{head_dim}: {e}", facts.name));
            assert!(
                layout.live_floats(head_dim, facts.subgroup_min) <= REGISTER_CAP,
                "{}: {layout} at d{head_dim}",
                facts.name
            );
        }
    }
}

#[test]
fn every_kernel_has_a_configuration_on_every_subgroup_range() {
    for facts in adapters() {
        for head_dim in [16, 19, 64, 128] {
            let shape = Shape::new(300, head_dim).with_causal(true);
            for &kernel in KERNELS {
                let ctx = PlanContext::untuned(&facts);
                let forward = kernel.plan(&shape, &ctx).map(|_| ());
                // A kernel built on subgroup operations needs SUBGROUP: its only refusal.
                if !facts.has_subgroups() && kernel.name() == "flash_subgroup" {
                    assert!(format!("{forward:?}").contains("SUBGROUP"), "{forward:?}");
                    continue;
                }
                assert!(
                    forward.is_ok(),
                    "{} d{head_dim} {}: {forward:?}",
                    facts.name,
                    kernel.name()
                );
                if kernel.backward().is_some() {
                    let result = kernel
                        .plan(&shape.with_pass(Pass::Backward), &ctx)
                        .map(|_| ());
                    assert!(
                        result.is_ok(),
                        "{} d{head_dim} {} backward: {result:?}",
                        facts.name,
                        kernel.name()
                    );
                }
            }
        }
    }
}

#[test]
fn the_register_cap_refuses_what_would_spill_and_spares_cpu_drivers() {
    let gpu = DeviceFacts::simulated_gpu(Some((32, 32)));
    let shape = Shape::new(256, 128);
    let fat = FlashConfig::parse("tiles,64,4,32").unwrap();
    let err = fat.validate_on(&shape, &gpu, Precision::F32).unwrap_err();
    assert!(err.to_string().contains("register cap"), "{err}");
    let cpu = DeviceFacts {
        is_cpu: true,
        register_cap: None,
        ..gpu
    };
    assert!(fat.validate_on(&shape, &cpu, Precision::F32).is_ok());
}

/// naive's matrix products on GPUs: workgroup tiles (no subgroup operation, so any
/// subgroup size or none), within the register target (hence the cap), the device's
/// workgroup memory and invocations, at every head dim, forward and backward; the row
/// passes reduce through workgroup memory.
#[test]
fn naive_products_fit_every_subgroup_range_and_the_register_cap() {
    for facts in adapters() {
        for head_dim in 1..=256 {
            for pass in [Pass::Forward, Pass::Backward] {
                let shape = Shape::new(300, head_dim).with_causal(true).with_pass(pass);
                for kernel in [&NAIVE, &CHUNKED] {
                    let plan = kernel
                        .plan_on(&shape, &facts)
                        .unwrap_or_else(|e| panic!("{}: d{head_dim}: {e}", facts.name));
                    assert!(
                        matches!(plan.products, Products::Tiles { .. }),
                        "{}: {}",
                        facts.name,
                        plan.label()
                    );
                    assert!(!plan.row_pass.subgroup && plan.texels.is_none());
                    assert!(
                        plan.live_floats(head_dim) <= REGISTER_TARGET.min(REGISTER_CAP),
                        "{}: {} at d{head_dim}",
                        facts.name,
                        plan.label()
                    );
                    let limits = &facts.limits;
                    assert!(plan.workgroup_bytes() <= limits.max_compute_workgroup_storage_size);
                    assert!(plan.invocations() <= limits.max_compute_invocations_per_workgroup);
                }
            }
        }
    }
}
