//! The tuner's candidates: every configuration `attnbench tune` may choose is checked
//! against the f64 reference, on both code paths (vec4 and scalar K/V loads) and across
//! key-pass boundaries.

mod common;

use attnbench::Shape;
use attnbench::kernels::Precision;
use attnbench::kernels::flash::{Flash, FlashConfig, KvSource};
use attnbench::shape::Pass;
use attnbench::tuning::search::{candidates, check_config};
use attnbench::verify::{check_kernel, fresh_seed};
use common::gpu;

fn precisions() -> Vec<Precision> {
    let mut all = vec![Precision::F32];
    if gpu().features().contains(wgpu::Features::SHADER_F16) {
        all.push(Precision::F16);
    }
    all
}

/// Head dims that exercise both K/V load paths of the broadcast kernel (19: scalar) and
/// the register limits (256).
const HEAD_DIMS: &[u32] = &[19, 64, 256];

/// Every candidate the tuner may choose, at head dims that exercise both K/V load paths
/// and the register limits, with `ATTNBENCH_EXHAUSTIVE=1` (CI). Otherwise each code path
/// once: per head dim, the candidate of each kind (K/V source) with the fewest rows per
/// invocation, so that a cold `cargo test` does not compile the many-row variants (up to a
/// minute each on lavapipe); the device's own choices are checked by `verify` and
/// `tests/verify.rs`.
#[test]
fn every_configuration_the_tuner_can_choose_matches_the_reference() {
    let gpu = gpu();
    let exhaustive = common::exhaustive();
    let mut checked = 0;
    for &precision in &precisions() {
        for &head_dim in HEAD_DIMS {
            let all = candidates(precision, head_dim, gpu);
            assert!(
                !all.is_empty(),
                "no candidates for {precision:?} d{head_dim}"
            );
            let configs: Vec<FlashConfig> = if exhaustive {
                all
            } else {
                let mut cheapest: Vec<FlashConfig> = Vec::new();
                for config in all {
                    match cheapest.iter_mut().find(|c| c.kv == config.kv) {
                        Some(c) if config.rows < c.rows => *c = config,
                        Some(_) => {}
                        None => cheapest.push(config),
                    }
                }
                cheapest
            };
            for config in configs {
                let outcome = check_config(gpu, precision, config, head_dim).unwrap();
                assert!(
                    outcome.is_ok(),
                    "{precision:?} d{head_dim} {config}: {outcome:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "only {checked} configurations checked");
}

#[test]
fn every_kv_source_carries_its_state_across_key_passes() {
    let gpu = gpu();
    let mut configs = vec![FlashConfig {
        kv: KvSource::WorkgroupTiles,
        block_q: 64,
        rows: 2,
        block_kv: 16,
        lanes: 1,
    }];
    for kv in [KvSource::SubgroupBroadcast, KvSource::TexelBroadcast] {
        if let Some(broadcast) = candidates(Precision::F32, 64, gpu)
            .into_iter()
            .find(|c| c.kv == kv)
        {
            configs.push(broadcast);
        }
    }
    if gpu.features().contains(wgpu::Features::SUBGROUP) {
        // Rows split across 4 lanes of a subgroup carry their state across passes too.
        configs.push(FlashConfig::parse("tiles,64,2,16,4").unwrap());
    }
    // 16 lanes per row: summed through workgroup memory where subgroups are narrower (and
    // where there are none); and the key split, whose key lanes merge at each pass's end.
    configs.push(FlashConfig::parse("tiles,64,1,16,16").unwrap());
    configs.push(FlashConfig::parse("split,64,1,16,4,4").unwrap());
    for config in configs {
        let mut flash = Flash::with_config(Precision::F32, config);
        // Passes of 40 keys (rounded up to the tile), boundaries inside causal blocks.
        flash.max_pass_keys = Some(40);
        for shape in [
            Shape::new(203, 64).with_batch_heads(2, 1).with_causal(true),
            Shape::new(150, 64),
        ] {
            let check = check_kernel(gpu, &flash, shape, fresh_seed()).unwrap();
            assert!(check.skipped.is_none(), "{config} {shape}: {check:?}");
            assert!(check.passed(), "{config} {shape}: {check:?}");
        }
    }
}

#[test]
fn configurations_round_trip_through_their_text_form() {
    for text in [
        "tiles,64,8,32",
        "tiles,128,2,32,4",
        "broadcast,32,4",
        "split,64,1,16,4,4",
        "split,128,2,8,2,8",
    ] {
        assert_eq!(FlashConfig::parse(text).unwrap().to_string(), text);
    }
    for bad in [
        "",
        "tiles,64,8",
        "broadcast,x,4",
        "warp,1,2,3",
        "tiles,64,2,32,3",
        "tiles,60,2,32,8",
        "split,64,1,18,4,4",
        "split,64,1,16,3,4",
        "split,40,1,16,4,4",
        "split,64,1,16,4",
    ] {
        assert!(FlashConfig::parse(bad).is_err(), "{bad}");
    }
}

/// The GPU grid (what `attnbench tune` tries on GPUs, within the GPU register cap),
/// checked here on the CPU driver's limits: every (rows, lanes) pair at 64 invocations and
/// 32 keys per tile (fewer where workgroup memory holds fewer), plus the largest
/// workgroup, on head dims that exercise both K/V load paths and uneven column splits
/// (19: 5 vec4 columns over 2 or 4 lanes). Without
/// `ATTNBENCH_EXHAUSTIVE=1` only one or two rows per lane group and no d = 128:
/// every code path, fewer pipelines to compile.
#[test]
fn the_gpu_grid_matches_the_reference_where_the_device_allows_it() {
    use attnbench::tuning::search::gpu_grid;
    let gpu = gpu();
    let exhaustive = common::exhaustive();
    let head_dims: &[u32] = if exhaustive {
        &[19, 64, 128]
    } else {
        &[19, 64]
    };
    let mut checked = 0;
    for &precision in &precisions() {
        for &head_dim in head_dims {
            let all = gpu_grid(gpu.facts(), head_dim, precision);
            // 32 keys per tile, or as many as this device's workgroup memory allows (GL's
            // 32 KiB hold 16 at d = 128).
            let tile = all
                .iter()
                .filter(|c| c.block_q == 64)
                .map(|c| c.block_kv)
                .filter(|&kv| kv <= 32)
                .max()
                .unwrap_or(32);
            let grid: Vec<FlashConfig> = all
                .into_iter()
                .filter(|c| {
                    (c.block_q == 64 && c.block_kv == tile)
                        || (c.block_q == 256 && c.lanes == 4 && c.rows == 2 && c.block_kv == 64)
                })
                .filter(|c| exhaustive || c.rows <= 2)
                .collect();
            assert!(grid.len() >= 3, "d{head_dim}: {grid:?}");
            for &config in &grid {
                let shape = Shape::new(256, head_dim);
                if config.validate_on(&shape, gpu.facts(), precision).is_err() {
                    continue;
                }
                let outcome = check_config(gpu, precision, config, head_dim).unwrap();
                assert!(
                    outcome.is_ok(),
                    "{precision:?} d{head_dim} {config}: {outcome:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "only {checked} checked");
}

/// The key-split family (`split` configurations, the GPU work split) against the reference:
/// its own choice per head dim (lanes summed by subgroup or through workgroup memory as
/// this adapter's subgroups allow), and 4 key lanes with no head-dim split (d = 19, scalar
/// loads). With `ATTNBENCH_EXHAUSTIVE=1` every split configuration of the GPU grid at
/// d = 19, 64, 128 and the family's choice at d = 256. CI runs every forward and backward
/// case of the default verify spread on the split forward, planned as a GPU, at lavapipe's
/// subgroups of 4, 8 and 16 and on GL: `ATTNBENCH_PLAN_AS=gpu ATTNBENCH_FLASH_TILES=split
/// attnbench verify --kernel flash` (`.ci/run`).
#[test]
fn the_key_split_family_matches_the_reference() {
    use attnbench::tuning::search::gpu_grid;
    let gpu = gpu();
    let exhaustive = common::exhaustive();
    let mut configs: Vec<(u32, FlashConfig)> = Vec::new();
    let head_dims: &[u32] = if exhaustive {
        &[19, 64, 128, 256]
    } else {
        &[64]
    };
    for &head_dim in head_dims {
        let shape = Shape::new(256, head_dim);
        let own = FlashConfig::split_for_shape(&shape, gpu.facts(), Precision::F32).unwrap();
        configs.push((head_dim, own));
    }
    configs.push((19, FlashConfig::parse("split,64,1,16,4,1").unwrap()));
    if exhaustive {
        for head_dim in [19, 64, 128] {
            for config in gpu_grid(gpu.facts(), head_dim, Precision::F32) {
                if matches!(config.kv, KvSource::KeySplit { .. }) {
                    configs.push((head_dim, config));
                }
            }
        }
    }
    for (head_dim, config) in configs {
        let outcome = check_config(gpu, Precision::F32, config, head_dim).unwrap();
        assert!(outcome.is_ok(), "d{head_dim} {config}: {outcome:?}");
    }
}

/// Every shader variant the registry and the tuner can produce, through naga's validator
/// and its SPIR-V (Vulkan), MSL (Metal) and HLSL (DX12) back ends, with the features each
/// back end would be given on a device that offers what the shader uses (SPIR-V 1.3, MSL
/// 2.4, HLSL shader model 6.2: subgroups and f16). Only Vulkan and GL run here; this is how
/// Metal and DX12 are checked.
#[test]
fn every_shader_variant_translates_for_vulkan_metal_and_dx12() {
    use attnbench::run::KernelRun;
    use attnbench::tensors::AttentionInputs;
    let gpu = gpu();
    let mut prepared = 0;
    let mut prepare = |kernel: &dyn attnbench::Kernel, shape: Shape| {
        if attnbench::run::PointPlan::new(gpu, kernel, &shape)
            .map(|_| ())
            .is_ok()
        {
            let inputs = AttentionInputs::random(shape, 1).unwrap();
            KernelRun::plan_new(gpu, kernel, &inputs).unwrap();
            prepared += 1;
        }
    };
    for &kernel in attnbench::KERNELS {
        for head_dim in [16, 19, 64, 128, 256] {
            for causal in [false, true] {
                prepare(kernel, Shape::new(40, head_dim).with_causal(causal));
            }
        }
    }
    // Backward passes, with streamed rows from texel arrays (d = 16) and from buffers
    // (d = 19), at head dims that compile quickly.
    for &kernel in attnbench::KERNELS {
        for head_dim in [16, 19] {
            if kernel.backward().is_some() {
                prepare(kernel, Shape::new(40, head_dim).with_pass(Pass::Backward));
            }
        }
    }
    for &precision in &precisions() {
        for &head_dim in HEAD_DIMS {
            for config in candidates(precision, head_dim, gpu) {
                prepare(
                    &Flash::with_config(precision, config),
                    Shape::new(40, head_dim),
                );
            }
        }
    }
    assert!(prepared >= 20, "{prepared}");

    let mut shaders = gpu.compiled_shaders();
    shaders.sort_by(|a, b| (&a.wgsl, &a.entry).cmp(&(&b.wgsl, &b.entry)));
    shaders.dedup_by(|a, b| a.wgsl == b.wgsl && a.entry == b.entry && a.constants == b.constants);
    let mut failures = Vec::new();
    for s in &shaders {
        if let Err(e) = translate(&s.wgsl, &s.entry, &s.constants) {
            failures.push(format!("{}:{}: {e}", s.name, s.entry));
        }
    }
    assert!(shaders.len() >= 10, "only {} shaders", shaders.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Parses, validates, applies the override constants and writes SPIR-V, MSL and HLSL.
fn translate(wgsl: &str, entry: &str, constants: &[(String, f64)]) -> Result<(), String> {
    use naga::back::{hlsl, msl, spv};
    use naga::valid::{
        Capabilities, ShaderStages, SubgroupOperationSet, ValidationFlags, Validator,
    };
    let module = naga::front::wgsl::parse_str(wgsl).map_err(|e| format!("WGSL: {e}"))?;
    let mut validator = Validator::new(ValidationFlags::all(), Capabilities::all());
    validator
        .subgroup_stages(ShaderStages::COMPUTE)
        .subgroup_operations(SubgroupOperationSet::all());
    let info = validator
        .validate(&module)
        .map_err(|e| format!("validation: {e:?}"))?;
    let constants: naga::back::PipelineConstants =
        constants.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let stage = (naga::ShaderStage::Compute, entry.to_string());
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((stage.0, &stage.1)),
        &constants,
    )
    .map_err(|e| format!("override constants: {e:?}"))?;

    let spv_options = spv::Options {
        lang_version: (1, 3),
        ..Default::default()
    };
    spv::write_vec(
        &module,
        &info,
        &spv_options,
        Some(&spv::PipelineOptions {
            shader_stage: stage.0,
            entry_point: stage.1.clone(),
        }),
    )
    .map_err(|e| format!("SPIR-V: {e:?}"))?;

    let msl_options = msl::Options {
        lang_version: (2, 4),
        ..Default::default()
    };
    msl::write_string(
        &module,
        &info,
        &msl_options,
        &msl::PipelineOptions {
            entry_point: Some(stage.clone()),
            ..Default::default()
        },
    )
    .map_err(|e| format!("MSL: {e:?}"))?;

    let hlsl_options = hlsl::Options {
        shader_model: hlsl::ShaderModel::V6_2,
        ..Default::default()
    };
    let pipeline = hlsl::PipelineOptions {
        entry_point: Some(stage.clone()),
    };
    let mut out = String::new();
    hlsl::Writer::new(&mut out, &hlsl_options, &pipeline)
        .write(&module, &info, None)
        .map_err(|e| format!("HLSL: {e:?}"))?;
    Ok(())
}

#[test]
fn a_new_tuned_choice_replaces_the_parsed_one() {
    use attnbench::kernels::TunedChoices;
    use attnbench::kernels::flash::{FLASH, TunedConfigs, TuningKey};
    use attnbench::run::PointPlan;
    // A device of its own: this test changes its tuned choices.
    let mut gpu = common::open();
    let shape = Shape::new(64, 48);
    let label = |gpu: &attnbench::Bench| {
        PointPlan::new(gpu, &FLASH, &shape)
            .unwrap()
            .label()
            .unwrap()
            .to_string()
    };
    let tune = |gpu: &mut attnbench::Bench, config: &str| {
        let key = TuningKey {
            precision: Precision::F32,
            head_dim: 48,
        };
        gpu.set_tuned(TunedChoices {
            flash: TunedConfigs::new([(key, FlashConfig::parse(config).unwrap())]),
        });
    };
    tune(&mut gpu, "tiles,32,2,16");
    assert!(label(&gpu).starts_with("tiles,32,2,16"), "{}", label(&gpu));
    tune(&mut gpu, "tiles,64,1,32");
    assert!(label(&gpu).starts_with("tiles,64,1,32"), "{}", label(&gpu));
    // Results name what ran: flash's shaders compile without naga's runtime checks
    // unless ATTNBENCH_SHADER_CHECKS=on.
    let label = label(&gpu);
    let checks_on = std::env::var("ATTNBENCH_SHADER_CHECKS").is_ok_and(|v| v == "on");
    assert_eq!(label.ends_with("; checks off"), !checks_on, "{label}");
}
