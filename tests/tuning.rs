//! The tuner's candidates: every configuration `attnbench tune` may choose is checked
//! against the f64 reference, on both code paths (vec4 and scalar K/V loads) and across
//! key-pass boundaries.

mod common;

use attnbench::Shape;
use attnbench::kernels::flash::{Flash, FlashConfig, KvSource, Precision};
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

#[test]
fn every_configuration_the_tuner_can_choose_matches_the_reference() {
    let gpu = gpu();
    let mut checked = 0;
    for &precision in &precisions() {
        for &head_dim in HEAD_DIMS {
            let configs = candidates(precision, head_dim, gpu);
            assert!(
                !configs.is_empty(),
                "no candidates for {precision:?} d{head_dim}"
            );
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
    assert!(checked >= 10, "only {checked} configurations checked");
}

#[test]
fn both_kv_sources_carry_their_state_across_key_passes() {
    let gpu = gpu();
    let mut configs = vec![FlashConfig {
        kv: KvSource::WorkgroupTiles,
        block_q: 64,
        rows: 2,
        block_kv: 16,
    }];
    if let Some(broadcast) = candidates(Precision::F32, 64, gpu)
        .into_iter()
        .find(|c| c.kv == KvSource::SubgroupBroadcast)
    {
        configs.push(broadcast);
    }
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
    for text in ["tiles,64,8,32", "broadcast,32,4"] {
        assert_eq!(FlashConfig::parse(text).unwrap().to_string(), text);
    }
    for bad in ["", "tiles,64,8", "broadcast,x,4", "warp,1,2,3"] {
        assert!(FlashConfig::parse(bad).is_err(), "{bad}");
    }
}
