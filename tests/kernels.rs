//! What each kernel must do besides matching the reference on the verification plan
//! (`tests/verify.rs`): huge grids, split score matrices, poisoned outputs, memory laws,
//! refusals before allocation, decode's and flash's splits.

mod common;

use attnbench::kernels::{KERNELS, Precision};
use attnbench::reference::{Comparison, attention_f64};
use attnbench::run::{KernelRun, run_attention};
use attnbench::tensors::AttentionInputs;
use attnbench::verify::{check_kernel, compare_output, fresh_seed};
use attnbench::{AdapterChoice, Bench, Error, Gpu, Shape, find_kernel};
use common::gpu;

/// The registered kernels the shared adapter supports for `shape` (flash_f16 needs
/// SHADER_F16, which wgpu's GL backend lacks); every f32 kernel must be among them.
fn supported(shape: &Shape) -> Vec<&'static dyn attnbench::Kernel> {
    KERNELS
        .iter()
        .copied()
        .filter(|k| {
            let ok = attnbench::run::PointPlan::new(gpu(), *k, shape)
                .map(|_| ())
                .is_ok();
            assert!(
                ok || k.precision() != Precision::F32,
                "{} refuses {shape}",
                k.name()
            );
            ok
        })
        .collect()
}

#[test]
fn grids_past_65535_workgroups_per_dimension() {
    // 70 000 (batch, head) pairs: flash needs 70 000 workgroups, naive's softmax 210 000.
    let shape = Shape::new(3, 8)
        .with_batch_heads(70_000, 1)
        .with_causal(true);
    let seed = fresh_seed();
    for kernel in supported(&shape) {
        let check = check_kernel(gpu(), kernel, shape, seed)
            .unwrap_or_else(|e| panic!("{} at {shape}: {e}", kernel.name()));
        assert!(
            check.passed(),
            "{} at {shape} (seed {seed}): {:?} {:?}",
            kernel.name(),
            check.comparison,
            check.skipped
        );
    }
}

#[test]
fn naive_splits_the_score_matrix_across_buffers() {
    // A device whose storage bindings hold 64 KiB: 300 rows of 300 scores need 6 chunks.
    let small = Bench::untuned(
        Gpu::new(&AdapterChoice {
            storage_binding_cap: Some(64 << 10),
            ..AdapterChoice::default()
        })
        .unwrap(),
    );
    let shape = Shape::new(300, 16).with_causal(true);
    let naive = find_kernel("naive").unwrap();
    let plan = attnbench::run::PointPlan::new(&small, naive, &shape)
        .map(|p| p.memory().clone())
        .unwrap();
    let chunks: u64 = plan
        .buffers
        .iter()
        .filter(|b| b.label.starts_with("scores"))
        .map(|b| b.count)
        .sum();
    assert!(chunks > 1, "{plan:?}");
    let check = check_kernel(&small, naive, shape, fresh_seed()).unwrap();
    assert!(check.passed(), "{check:?}");
}

#[test]
fn poisoned_output_fails_the_comparison_when_nothing_runs() {
    let shape = Shape::new(20, 16);
    let inputs = AttentionInputs::random(shape, 3).unwrap();
    for kernel in supported(&shape) {
        let run = KernelRun::plan_new(gpu(), kernel, &inputs).unwrap();
        run.poison_output().unwrap();
        let untouched = run.read_output().unwrap();
        assert!(untouched.iter().all(|x| x.is_nan()));
        let c = compare_output(kernel, &inputs, &untouched);
        assert!(
            c.non_finite > 0 && !c.passes(1.0),
            "{}: {c:?}",
            kernel.name()
        );
        run.run_once().unwrap();
        let c = compare_output(kernel, &inputs, &run.read_output().unwrap());
        assert!(c.passes(kernel.tolerance()), "{}: {c:?}", kernel.name());
    }
}

#[test]
fn peak_buffer_bytes_follow_each_kernels_memory_law() {
    let shape = Shape::new(512, 64).with_batch_heads(1, 2);
    let inputs = AttentionInputs::random(shape, 5).unwrap();
    let io = 4 * shape.tensor_bytes();
    let naive = KernelRun::plan_new(gpu(), find_kernel("naive").unwrap(), &inputs).unwrap();
    assert!(naive.peak_buffer_bytes() >= io + shape.score_matrix_bytes());
    // chunked holds one block of 256 query rows of scores at a time; on CPU drivers its
    // products (and naive's) also read K and V as texels: two textures of K's size.
    let chunked_kernel = find_kernel("chunked").unwrap();
    let texels = texel_bytes(chunked_kernel, &shape);
    assert!(
        texels == 0 || texels == 2 * shape.kv_tensor_bytes(),
        "{texels}"
    );
    let chunked = KernelRun::plan_new(gpu(), chunked_kernel, &inputs).unwrap();
    let block = 256 * u64::from(shape.seq_len) * 4;
    assert!(chunked.peak_buffer_bytes() >= io + block + texels);
    assert!(
        chunked.peak_buffer_bytes() < io + block + texels + 4096,
        "{}",
        chunked.peak_buffer_bytes()
    );
    // On CPU drivers flash also holds K and V as texels: two textures of K's size.
    let flash_kernel = find_kernel("flash").unwrap();
    let texels = texel_bytes(flash_kernel, &shape);
    assert!(
        texels == 0 || texels == 2 * shape.kv_tensor_bytes(),
        "{texels}"
    );
    let flash = KernelRun::plan_new(gpu(), flash_kernel, &inputs).unwrap();
    assert!(flash.peak_buffer_bytes() >= io + texels);
    assert!(
        flash.peak_buffer_bytes() < io + texels + 4096,
        "{}",
        flash.peak_buffer_bytes()
    );
}

/// Bytes of the texel pair in `kernel`'s memory plan for `shape` on the shared adapter.
fn texel_bytes(kernel: &dyn attnbench::Kernel, shape: &Shape) -> u64 {
    attnbench::run::PointPlan::new(gpu(), kernel, shape)
        .map(|p| p.memory().clone())
        .unwrap()
        .buffers
        .iter()
        .filter(|b| b.label == "texels a" || b.label == "texels b")
        .map(|b| b.bytes)
        .sum()
}

/// naive and chunked (GEMM grade) and the textbook kernel of the ladder's first rung at
/// awkward lengths (one key, three, rows that end mid-vec4 and mid-tile, past the length
/// whose rows the softmax holds in registers), grouped queries and windows, on hostile
/// inputs: every shape against the f64 reference.
#[test]
fn naive_kernels_match_the_reference_at_awkward_lengths() {
    use attnbench::kernels::naive::textbook::TEXTBOOK;
    use attnbench::verify::{InputKind, check};
    let shapes = [
        Shape::new(1, 64),
        Shape::new(3, 64).with_causal(true),
        Shape::new(5, 3).with_batch_heads(2, 2),
        Shape::new(67, 64).with_batch_heads(1, 4).with_kv_heads(1),
        Shape::new(1000, 64)
            .with_causal(true)
            .with_window(Some(333)),
        Shape::new(4100, 16).with_causal(true),
    ];
    let seed = fresh_seed();
    let kernels: [&dyn attnbench::Kernel; 3] = [
        find_kernel("naive").unwrap(),
        find_kernel("chunked").unwrap(),
        &TEXTBOOK,
    ];
    for kernel in kernels {
        for shape in shapes {
            let c = check_kernel(gpu(), kernel, shape, seed).unwrap();
            assert!(
                c.passed(),
                "{} at {shape} (seed {seed}): {c:?}",
                kernel.name()
            );
        }
        for inputs in [InputKind::Peaked, InputKind::Large, InputKind::EqualKeys] {
            let c = check(gpu(), kernel, shapes[3], seed, inputs).unwrap();
            assert!(c.passed(), "{} {inputs}: {c:?}", kernel.name());
        }
    }
}

#[test]
fn oversized_requests_are_refused_before_allocating() {
    let shape = Shape::new(100_000, 64);
    let inputs_would_be = shape.tensor_bytes();
    assert!(inputs_would_be > 0);
    let err = attnbench::run::PointPlan::checked(gpu(), find_kernel("naive").unwrap(), &shape)
        .unwrap_err();
    match &err {
        Error::TooLarge {
            needed, allowed, ..
        } => assert!(needed > allowed),
        other => panic!("expected TooLarge, got {other}"),
    }
    assert!(err.to_string().contains("needs"), "{err}");
    assert!(err.is_input_error());
}

#[test]
fn bad_shapes_are_typed_errors() {
    for shape in [Shape::new(0, 64), Shape::new(8, 0), Shape::new(8, 100_000)] {
        let err = AttentionInputs::random(shape, 1).unwrap_err();
        assert!(matches!(err, Error::InvalidShape(_)), "{err}");
    }
    let mismatched =
        AttentionInputs::from_tensors(Shape::new(2, 2), vec![0.0; 4], vec![0.0; 3], vec![0.0; 4]);
    assert!(matches!(mismatched, Err(Error::InvalidShape(_))));
}

#[test]
fn unknown_adapter_names_are_errors_listing_the_adapters() {
    let err = Gpu::new(&AdapterChoice {
        name: Some("no-such-gpu-xyz".into()),
        ..AdapterChoice::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::AdapterNotFound { .. }), "{err}");
    assert!(err.to_string().contains(&gpu().summary().name), "{err}");
}

#[test]
fn host_api_returns_the_output_of_the_buffers_it_ran_on() {
    let shape = Shape::new(9, 8).with_batch_heads(2, 2);
    let inputs = AttentionInputs::random(shape, 11).unwrap();
    let reference = attention_f64(&shape, &inputs.q, &inputs.k, &inputs.v);
    for kernel in supported(&shape) {
        let out = run_attention(gpu(), kernel, &inputs).unwrap();
        let rows = kernel.query_rows(&shape) as usize;
        assert_eq!(out.len(), 4 * rows * 8, "{}", kernel.name());
        let c = compare_output(kernel, &inputs, &out);
        assert!(c.passes(kernel.tolerance()), "{}: {c:?}", kernel.name());
        if kernel.query_rows(&shape) == shape.seq_len && kernel.precision() == Precision::F32 {
            assert!(
                Comparison::new(&out, &reference).passes(1e-4),
                "{}",
                kernel.name()
            );
        }
    }
}

#[test]
fn decode_combines_many_chunks_of_keys() {
    use attnbench::kernels::decode::Decode;
    // 5 000 keys: 20 chunks of 256 (whole steps of key lanes), the last one partial;
    // causal, several heads (the device's own plan makes one chunk per head here).
    let shape = Shape::new(5000, 64)
        .with_batch_heads(2, 3)
        .with_causal(true);
    let decode = Decode {
        lanes: None,
        chunks: Some(20),
    };
    assert_eq!(decode.split(&shape, gpu().facts()).chunks, 20);
    let check = check_kernel(gpu(), &decode, shape, fresh_seed()).unwrap();
    assert!(check.passed(), "{check:?}");
}

/// decode's key lanes with each key's head dim split across lanes: on this adapter's own
/// plan (a workgroup of one subgroup, merged by subgroup butterflies) with 4 lanes, and
/// planned as a GPU (workgroups of 256, merged through workgroup memory) with the plan's
/// lanes (32 for four GQA rows at d = 128: summed through workgroup memory on lavapipe)
/// and 4 (summed by subgroup where subgroups hold them); with GQA, a window and a head dim
/// that leaves lanes idle.
#[test]
fn decode_splits_each_keys_head_dim_across_lanes() {
    use attnbench::kernels::decode::Decode;
    let mut settings = attnbench::settings::Settings::from_env().unwrap();
    settings.adapter.options.plan_as = attnbench::gpu::PlanAs::Gpu;
    let as_gpu = settings.open_bench().unwrap();
    let gqa = Shape::new(3000, 128)
        .with_batch_heads(1, 8)
        .with_kv_heads(2)
        .with_causal(true);
    let mha = Shape::new(3000, 64).with_causal(true);
    let window = Shape::new(300, 19)
        .with_batch_heads(2, 2)
        .with_causal(true)
        .with_window(Some(37));
    for (device, lanes, shapes) in [
        (gpu(), Some(4), [gqa, window]),
        (&as_gpu, None, [gqa, window]),
        (&as_gpu, Some(4), [mha, window]),
    ] {
        let decode = Decode {
            lanes,
            chunks: Some(3),
        };
        for shape in shapes {
            let check = check_kernel(device, &decode, shape, fresh_seed()).unwrap();
            let plan = decode.split(&shape, device.facts());
            assert!(check.passed(), "{plan:?} {shape}: {check:?}");
        }
    }
}

#[test]
fn flash_splits_keys_into_passes_under_a_drivers_loop_cap() {
    use attnbench::kernels::flash::{Flash, FlashConfig, KvSource};
    let gpu = gpu();
    if gpu.shader_loop_cap().is_none() {
        return; // only drivers such as llvmpipe cap loop iterations
    }
    // Workgroup tiles loop over keys and columns, so at d = 256 the cap splits early.
    let config = FlashConfig {
        kv: KvSource::WorkgroupTiles,
        block_q: 64,
        rows: 1,
        block_kv: 16,
        lanes: 1,
    };
    let flash = Flash::with_config(Precision::F32, config);
    let per_pass = config.keys_per_pass(256, gpu.facts()).unwrap() as u32;
    // Two passes, the boundary inside the causal diagonal of a query block.
    let shape = Shape::new(per_pass + 37, 256).with_causal(true);
    assert_eq!(
        config.passes(&shape, gpu.facts(), Precision::F32).unwrap(),
        2
    );
    let check = check_kernel(gpu, &flash, shape, fresh_seed()).unwrap();
    assert!(check.skipped.is_none() && check.passed(), "{check:?}");
    // The state between passes keeps memory O(n·d).
    let plan = attnbench::run::PointPlan::new(gpu, &flash, &shape)
        .map(|p| p.memory().clone())
        .unwrap();
    assert!(plan.total_bytes() < 6 * shape.tensor_bytes(), "{plan:?}");
}

#[test]
fn every_kernels_memory_plan_is_what_it_allocates() {
    let gpu = gpu();
    for &kernel in KERNELS {
        for shape in [
            Shape::new(100, 64),
            Shape::new(33, 16).with_batch_heads(2, 3).with_causal(true),
            Shape::new(70, 32)
                .with_batch_heads(2, 4)
                .with_kv_heads(2)
                .with_window(Some(9)),
        ] {
            if attnbench::run::PointPlan::new(gpu, kernel, &shape)
                .map(|_| ())
                .is_err()
            {
                continue;
            }
            let plan = attnbench::run::PointPlan::new(gpu, kernel, &shape)
                .map(|p| p.memory().clone())
                .unwrap();
            // Buffers are allocated in whole 4-byte words, at least one.
            let planned: u64 = plan
                .buffers
                .iter()
                .map(|b| b.count * b.bytes.max(4).next_multiple_of(4))
                .sum();
            let inputs = AttentionInputs::random(shape, 5).unwrap();
            let run = KernelRun::plan_new(gpu, kernel, &inputs).unwrap();
            assert_eq!(
                run.peak_buffer_bytes(),
                planned,
                "{} at {shape}: plan {:?}",
                kernel.name(),
                plan.buffers
            );
        }
    }
}

/// A decode step holds one row of q and o per head beside the KV cache: its peak bytes are
/// K + V and little more (the partial softmaxes of its key chunks).
#[test]
fn decode_holds_one_query_row_beside_the_kv_cache() {
    let decode = find_kernel("decode").unwrap();
    let shape = Shape::new(4096, 64)
        .with_batch_heads(1, 8)
        .with_causal(true);
    let inputs = AttentionInputs::random(shape, 9).unwrap();
    let run = KernelRun::plan_new(gpu(), decode, &inputs).unwrap();
    let kv = 2 * shape.tensor_bytes();
    let peak = run.peak_buffer_bytes();
    assert!(peak > kv, "{peak}");
    assert!(peak <= kv + kv / 10 + (1 << 20), "peak {peak}, K+V {kv}");
    assert_eq!(run.read_output().unwrap().len(), 8 * 64);

    // GQA: K and V hold HKV = 2 heads, a quarter of the bytes; the bound still holds.
    let gqa = shape.with_kv_heads(2);
    let inputs = AttentionInputs::random(gqa, 9).unwrap();
    let run = KernelRun::plan_new(gpu(), decode, &inputs).unwrap();
    let kv = 2 * gqa.kv_tensor_bytes();
    assert_eq!(kv, 2 * shape.tensor_bytes() / 4);
    let peak = run.peak_buffer_bytes();
    assert!(peak <= kv + kv / 10 + (1 << 20), "peak {peak}, K+V {kv}");
}

/// Inputs whose q holds only the last row (a KV cache's new token, as `--load-tensors`
/// accepts): decode runs on them and matches the reference; prefill kernels refuse them.
#[test]
fn decode_runs_on_a_one_row_query_and_prefill_refuses_it() {
    let shape = Shape::new(700, 64)
        .with_batch_heads(2, 6)
        .with_kv_heads(2)
        .with_causal(true);
    let mut inputs = AttentionInputs::random(shape, fresh_seed()).unwrap();
    inputs.q = attnbench::reference::last_rows(&shape, &inputs.q, 1);
    let decode = find_kernel("decode").unwrap();
    let out = run_attention(gpu(), decode, &inputs).unwrap();
    let c = compare_output(decode, &inputs, &out);
    assert!(c.passes(decode.tolerance()), "{c:?}");
    let err = run_attention(gpu(), find_kernel("flash").unwrap(), &inputs).unwrap_err();
    assert!(err.to_string().contains("last 1 query row"), "{err}");
}

/// Windows and grouped-query attention across flash's key passes (the state between passes
/// must carry rows whose window has not started yet, and blocks that skip whole passes).
#[test]
fn flash_windows_and_gqa_cross_key_passes() {
    use attnbench::kernels::flash::{FLASH, Flash};
    let seed = fresh_seed();
    for shape in [
        Shape::new(700, 64)
            .with_batch_heads(1, 4)
            .with_kv_heads(1)
            .with_window(Some(100)),
        Shape::new(333, 40)
            .with_batch_heads(2, 2)
            .with_kv_heads(1)
            .with_window(Some(7)),
        Shape::new(300, 64).with_batch_heads(1, 6).with_kv_heads(3),
    ] {
        let flash = Flash {
            max_pass_keys: Some(64),
            ..FLASH
        };
        let check = check_kernel(gpu(), &flash, shape, seed).unwrap();
        assert!(
            check.skipped.is_none() && check.passed(),
            "{shape}: {check:?}"
        );
    }
}
