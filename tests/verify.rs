//! Every registered kernel the adapter can run, forward and backward, against the f64
//! reference on the verification plan: uniform and hostile inputs, the shapes that
//! exercise each code path (`ATTNBENCH_EXHAUSTIVE=1`, off lavapipe: every shape with every
//! input kind, more head dims). The test counts what ran: a skip is not a pass.

mod common;

use attnbench::kernels::{KERNELS, Precision};
use attnbench::verify::{Case, Coverage, check_all, fresh_seed, plan};
use attnbench::{Kernel, Pass};
use common::{exhaustive, gpu, gpu2};
use std::collections::BTreeMap;

/// The kernels the shared adapter can run at all.
fn available() -> Vec<&'static dyn Kernel> {
    KERNELS
        .iter()
        .copied()
        .filter(|k| gpu().features().contains(k.required_features()))
        .collect()
}

#[test]
fn every_kernel_passes_the_verification_plan() {
    // The exhaustive plan runs where shaders compile in seconds; lavapipe's LLVM takes
    // minutes for each unrolled backward variant, so on Vulkan this test keeps the device
    // plan and CI runs `attnbench verify --all` through GL (.ci/run).
    let lavapipe = gpu().is_cpu() && gpu().adapter().get_info().backend == wgpu::Backend::Vulkan;
    let compiles_fast = !lavapipe;
    let coverage = if exhaustive() && compiles_fast {
        Coverage::Exhaustive
    } else {
        Coverage::Device
    };
    let kernels = available();
    let cases: Vec<Case> = plan(&kernels, coverage, None);
    let seed = fresh_seed();
    let subgroups = gpu().features().contains(wgpu::Features::SUBGROUP);
    let mut ran: BTreeMap<(&str, bool), usize> = BTreeMap::new();
    check_all(&[gpu(), gpu2()], &cases, seed, |case, c, _| {
        assert!(
            !c.failed(),
            "{} at {} with {} inputs (seed {seed}): {:?}",
            case.kernel.name(),
            case.shape,
            case.inputs,
            c.outputs
        );
        if c.ran() {
            *ran.entry((case.kernel.name(), case.shape.pass.has_backward()))
                .or_default() += 1;
        } else {
            // Only flash's backward may be refused, and only where the device has no
            // subgroups; the f32 kernels run every forward case.
            let reason = c.skipped.unwrap_or_default();
            assert!(
                (case.shape.pass.has_backward() && !subgroups)
                    || case.kernel.precision() != Precision::F32,
                "{} skipped {}: {reason}",
                case.kernel.name(),
                case.shape
            );
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    for kernel in &kernels {
        let forward = ran.get(&(kernel.name(), false)).copied().unwrap_or(0);
        let planned = cases
            .iter()
            .filter(|c| c.kernel.name() == kernel.name() && c.shape.pass == Pass::Forward)
            .count();
        assert!(
            forward * 10 >= planned * 9,
            "{}: {forward} of {planned} forward cases ran",
            kernel.name()
        );
    }
    // Every kernel with a backward runs its backward checks (flash's where the device has
    // subgroups): a skip is not a pass.
    let mut backwards = vec!["naive", "chunked"];
    if subgroups {
        backwards.push("flash");
    }
    for name in backwards {
        assert!(ran.get(&(name, true)).copied().unwrap_or(0) >= 10, "{name}");
    }
}
