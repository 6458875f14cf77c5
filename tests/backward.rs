//! The backward pass (training): dQ, dK, dV of every kernel that has one against the f64
//! reference gradients, across flash's passes and naive's chunks, and its memory laws.

mod common;

use attnbench::kernels::KERNELS;
use attnbench::reference::{Comparison, attention_backward_f64};
use attnbench::run::{KernelRun, run_training};
use attnbench::tensors::AttentionInputs;
use attnbench::verify::{InputKind, check, check_kernel, fresh_seed};
use attnbench::{AdapterChoice, Bench, Error, Gpu, Kernel, Pass, Shape, find_kernel};
use common::gpu;

fn with_backward() -> Vec<&'static dyn Kernel> {
    KERNELS
        .iter()
        .copied()
        .filter(|k| k.backward().is_some())
        .collect()
}

fn assert_passes(gpu: &Bench, kernel: &dyn Kernel, shape: Shape, inputs: InputKind) {
    let seed = fresh_seed();
    let check = check(gpu, kernel, shape, seed, inputs)
        .unwrap_or_else(|e| panic!("{} at {shape}: {e}", kernel.name()));
    // flash's backward needs subgroups: only flash may skip, naming why, and only where
    // the device has none (where it has them, every backward check runs).
    if let Some(reason) = &check.skipped {
        let subgroups = gpu.features().contains(wgpu::Features::SUBGROUP);
        assert!(
            kernel.name() == "flash" && reason.contains("subgroup") && !subgroups,
            "{} skipped {shape}: {reason}",
            kernel.name()
        );
        return;
    }
    assert!(
        check.passed(),
        "{} at {shape} (seed {seed}, {inputs} inputs): {:?}",
        kernel.name(),
        check.outputs
    );
    let names: Vec<&str> = check.outputs.iter().map(|o| o.name).collect();
    let expected: &[&str] = if shape.pass.times_forward() {
        &["o", "dq", "dk", "dv"]
    } else {
        &["dq", "dk", "dv"]
    };
    assert_eq!(names, expected, "{}", kernel.name());
}

// Head dims 19 (scalar loads) and 64 (vec4 loads and texels) throughout: the ones the
// verification plan compiles too, so a cold driver compiles each backward variant once
// (Mesa's shader cache keeps it for the other test binaries).

#[test]
fn the_backward_of_one_row_and_peaked_rows_is_exact_enough() {
    // n = 1: P = 1, so dQ = dK = 0 and dV = dO. Peaked rows: one key takes almost all of P.
    for kernel in with_backward() {
        assert_passes(
            gpu(),
            kernel,
            Shape::new(1, 19).with_pass(Pass::Backward),
            InputKind::Uniform,
        );
        assert_passes(
            gpu(),
            kernel,
            Shape::new(130, 19)
                .with_batch_heads(1, 2)
                .with_causal(true)
                .with_pass(Pass::ForwardBackward),
            InputKind::Peaked,
        );
    }
}

/// flash's backward split into passes (keys for dQ, query rows for dK and dV) as a loop cap
/// would split it, with windows and GQA whose blocks start or end inside a pass.
#[test]
fn flash_backward_crosses_pass_boundaries() {
    use attnbench::kernels::flash::{FLASH, Flash};
    let flash = Flash {
        max_pass_keys: Some(24),
        ..FLASH
    };
    for shape in [
        Shape::new(101, 19).with_causal(true),
        Shape::new(150, 64)
            .with_batch_heads(1, 4)
            .with_kv_heads(2)
            .with_window(Some(19)),
        Shape::new(77, 19).with_batch_heads(2, 2).with_kv_heads(1),
    ] {
        assert_passes(
            gpu(),
            &flash,
            shape.with_pass(Pass::Backward),
            InputKind::Uniform,
        );
        assert_passes(
            gpu(),
            &flash,
            shape.with_pass(Pass::ForwardBackward),
            InputKind::Uniform,
        );
    }
}

/// flash's tile backward (the layout GPUs run, at any subgroup size or none) on this
/// adapter, across key passes: its default lanes per row (summed by subgroup where the
/// smallest subgroup holds them) and 16 lanes at d = 64 (through workgroup memory on
/// subgroups of 8 or fewer). CI runs every backward case of the default verify spread with
/// the tile backward, the plan a GPU makes, at lavapipe's subgroups of 4, 8 and 16 and on
/// GL: `ATTNBENCH_PLAN_AS=gpu attnbench verify --kernel flash` (`.ci/run`).
#[test]
fn flash_tile_backward_matches_the_reference() {
    use attnbench::kernels::flash::{FLASH, Flash, ForcedBackward};
    let gqa = Shape::new(101, 64)
        .with_batch_heads(1, 4)
        .with_kv_heads(2)
        .with_causal(true);
    for (lanes, shape) in [
        (None, gqa),
        (None, Shape::new(77, 19).with_window(Some(20))),
        (Some(16), gqa),
    ] {
        let flash = Flash {
            backward: Some(ForcedBackward::Tiles(lanes)),
            max_pass_keys: Some(48),
            ..FLASH
        };
        let label = attnbench::run::label_of(gpu(), &flash, &shape.with_pass(Pass::Backward));
        assert!(
            label.as_deref().is_some_and(|l| l.contains("bwd tiles")),
            "{label:?}"
        );
        assert_passes(
            gpu(),
            &flash,
            shape.with_pass(Pass::Backward),
            InputKind::Uniform,
        );
    }
}

/// naive's backward over several chunks of rows: dK and dV add up across chunks.
#[test]
fn naive_backward_sums_key_gradients_across_chunks() {
    let small = Bench::untuned(
        Gpu::new(&AdapterChoice {
            storage_binding_cap: Some(64 << 10),
            ..AdapterChoice::default()
        })
        .unwrap(),
    );
    let shape = Shape::new(300, 16)
        .with_batch_heads(1, 2)
        .with_kv_heads(1)
        .with_causal(true)
        .with_pass(Pass::Backward);
    for name in ["naive", "chunked"] {
        let kernel = find_kernel(name).unwrap();
        let plan = attnbench::run::PointPlan::new(&small, kernel, &shape)
            .map(|p| p.memory().clone())
            .unwrap();
        assert!(
            plan.buffers
                .iter()
                .filter(|b| b.label.contains("scores"))
                .map(|b| b.count)
                .sum::<u64>()
                > 1
                || name == "chunked",
            "{plan:?}"
        );
        assert_passes(&small, kernel, shape, InputKind::Uniform);
    }
}

#[test]
fn gradients_nobody_writes_fail_the_comparison() {
    let shape = Shape::new(33, 19).with_pass(Pass::Backward);
    let inputs = AttentionInputs::random(shape, 5).unwrap();
    let (dq, dk, dv) = attention_backward_f64(
        &shape,
        &inputs.q,
        &inputs.k,
        &inputs.v,
        inputs.d_o.as_deref().unwrap(),
    );
    for kernel in with_backward() {
        let run = match KernelRun::plan_new(gpu(), kernel, &inputs) {
            Ok(run) => run,
            // flash's backward needs subgroups; where the device has them it must run.
            Err(e)
                if kernel.name() == "flash"
                    && !gpu().features().contains(wgpu::Features::SUBGROUP) =>
            {
                assert!(e.to_string().contains("subgroup"), "{e}");
                continue;
            }
            Err(e) => panic!("{}: {e}", kernel.name()),
        };
        run.poison_output().unwrap();
        // Not run: the poison must show.
        let grads = run.read_gradients().unwrap().unwrap();
        for (got, reference) in [(&grads.dq, &dq), (&grads.dk, &dk), (&grads.dv, &dv)] {
            let c = Comparison::new(got, reference);
            assert!(!c.passes(1.0), "{}: {c:?}", kernel.name());
        }
        // Run: they match.
        run.run_once().unwrap();
        let grads = run.read_gradients().unwrap().unwrap();
        assert!(
            Comparison::new(&grads.dk, &dk).passes(2e-4),
            "{}",
            kernel.name()
        );
    }
}

#[test]
fn kernels_without_a_backward_refuse_it_with_the_reason() {
    let shape = Shape::new(64, 16)
        .with_causal(true)
        .with_pass(Pass::Backward);
    for kernel in KERNELS.iter().filter(|k| k.backward().is_none()) {
        let check = check_kernel(gpu(), *kernel, shape, 1).unwrap();
        let reason = check.skipped.unwrap_or_default();
        assert!(
            reason.contains("no backward"),
            "{}: {reason}",
            kernel.name()
        );
        let inputs = AttentionInputs::random(shape, 1).unwrap();
        let err = run_training(gpu(), *kernel, &inputs).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    }
}

/// naive's backward holds P and dP, two n×n matrices; flash's holds O(n·d).
#[test]
fn backward_memory_follows_each_kernels_law() {
    let shape = Shape::new(512, 64).with_pass(Pass::Backward);
    let inputs = AttentionInputs::random(shape, 2).unwrap();
    let matrix = shape.score_matrix_bytes();
    let naive = KernelRun::plan_new(gpu(), find_kernel("naive").unwrap(), &inputs).unwrap();
    assert!(
        naive.peak_buffer_bytes() >= 2 * matrix,
        "{}",
        naive.peak_buffer_bytes()
    );
    // Q, K, V, O, dO, dQ, dK, dV and, on CPU drivers, the texel pair the products read B
    // through (two textures of Q's size).
    assert!(naive.peak_buffer_bytes() < 2 * matrix + 11 * shape.tensor_bytes());
    if let Ok(flash) = KernelRun::plan_new(gpu(), find_kernel("flash").unwrap(), &inputs) {
        // Q, K, V, O, dO, dQ, dK, dV, the row state and the stats, and on CPU drivers the
        // texel pair (two textures of Q's size): still under naive's two n×n matrices.
        assert!(
            flash.peak_buffer_bytes() < 12 * shape.tensor_bytes(),
            "{}",
            flash.peak_buffer_bytes()
        );
    }
}

/// naive's and chunked's backward (autograd's, on the forward's matrix products) at awkward
/// lengths, grouped queries and windows, on hostile inputs, with the head dims the
/// verification plan compiles.
#[test]
fn naive_backward_matches_the_reference_at_awkward_shapes() {
    let shapes = [
        Shape::new(3, 64).with_causal(true),
        Shape::new(67, 19).with_batch_heads(2, 4).with_kv_heads(2),
        Shape::new(1000, 64)
            .with_batch_heads(1, 2)
            .with_kv_heads(1)
            .with_window(Some(77)),
    ];
    for name in ["naive", "chunked"] {
        let kernel = find_kernel(name).unwrap();
        for shape in shapes {
            for pass in [Pass::Backward, Pass::ForwardBackward] {
                assert_passes(gpu(), kernel, shape.with_pass(pass), InputKind::Uniform);
            }
        }
        assert_passes(
            gpu(),
            kernel,
            shapes[1].with_pass(Pass::Backward),
            InputKind::Large,
        );
    }
}

/// Backward inputs: dO is drawn after V, so Q, K and V do not depend on the pass.
#[test]
fn the_pass_does_not_change_the_forward_inputs() {
    let shape = Shape::new(20, 8).with_batch_heads(1, 2);
    let forward = AttentionInputs::random(shape, 9).unwrap();
    let training = AttentionInputs::random(shape.with_pass(Pass::ForwardBackward), 9).unwrap();
    assert_eq!(forward.q, training.q);
    assert_eq!(forward.v, training.v);
    assert!(forward.d_o.is_none());
    assert_eq!(training.d_o.as_ref().unwrap().len(), training.q.len());
    // Loaded inputs get a seeded dO when they have none.
    let loaded = forward.clone().for_pass(Pass::Backward, 3);
    assert_eq!(
        loaded.d_o,
        forward.for_pass(Pass::Backward, 3).d_o,
        "the same seed gives the same dO"
    );
}
