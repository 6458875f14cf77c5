//! Property tests: no configuration parser panics on any input, and whatever a parser
//! accepts is within the ranges the kernels rely on.

use attnbench::AdapterChoice;
use attnbench::gpu::MemoryBudget;
use attnbench::kernels::flash::{FlashConfig, KvSource};
use attnbench::parse as settings;
use attnbench::sweep::SweepConfig;
use proptest::prelude::*;

/// Text that looks like settings: numbers (huge, negative, float), commas, words.
fn setting_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z]{0,9}(,[0-9]{0,12}){0,4}",
        "[-+]?[0-9]{0,25}(\\.[0-9]{0,5})?(e[-+]?[0-9]{1,4})?",
        prop::collection::vec("[0-9]{1,11}", 0..6).prop_map(|v| v.join(",")),
        Just("NaN".to_string()),
        Just("inf".to_string()),
    ]
}

const KEYS: &[&str] = &[
    "ATTNBENCH_SEQ_LENS",
    "ATTNBENCH_MIN_SEQ_LEN",
    "ATTNBENCH_MAX_SEQ_LEN",
    "ATTNBENCH_HEAD_DIMS",
    "ATTNBENCH_BATCH",
    "ATTNBENCH_HEADS",
    "ATTNBENCH_CAUSAL",
    "ATTNBENCH_HEAD_DIM_SWEEP",
    "ATTNBENCH_HEAD_DIM_SWEEP_N",
    "ATTNBENCH_KERNELS",
    "ATTNBENCH_TIME_BUDGET",
    "ATTNBENCH_SWEEP_BUDGET",
    "ATTNBENCH_KV_HEADS",
    "ATTNBENCH_WINDOW",
    "ATTNBENCH_SEED",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn flash_configurations_parse_without_panic_and_within_range(text in setting_text()) {
        if let Ok(c) = FlashConfig::parse(&text) {
            prop_assert!((1..=1024).contains(&c.block_q));
            prop_assert!((1..=16).contains(&c.rows));
            prop_assert!(c.block_kv >= 4 && c.block_kv <= 128 && c.block_kv % 4 == 0);
            prop_assert!(c.kv == KvSource::WorkgroupTiles || c.block_kv == 4);
            // The text form round-trips.
            prop_assert_eq!(FlashConfig::parse(&c.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn sweep_settings_parse_without_panic(
        values in prop::collection::vec(setting_text(), KEYS.len()),
        mask in any::<u16>(),
    ) {
        let get = |key: &str| {
            let i = KEYS.iter().position(|k| *k == key)?;
            (mask & (1 << i) != 0).then(|| values[i].clone())
        };
        if let Ok(c) = SweepConfig::from_lookup(get) {
            prop_assert!(c.batch >= 1 && c.heads >= 1);
            prop_assert!(c.head_dims.iter().all(|&d| (1..=256).contains(&d)));
            prop_assert!(c.seq_lens.iter().all(|&n| n >= 1));
            prop_assert!(c.time_budget.as_secs_f64() > 0.0);
            // What the sweep and `sweep` do with the budget must not overflow.
            let _ = c.time_budget.saturating_mul(2);
            let _ = attnbench::sweep::families(&c);
        }
    }

    #[test]
    fn byte_counts_seconds_and_backends_parse_without_panic(text in setting_text()) {
        if let Ok(bytes) = MemoryBudget::parse_bytes(&text) {
            prop_assert!(bytes > 0);
        }
        if let Ok(d) = settings::seconds("t", &text) {
            prop_assert!(d.as_secs_f64() > 0.0 && d.as_secs_f64() <= settings::MAX_SECONDS);
        }
        let choice = AdapterChoice { backends: Some(text.clone()), power: Some(text), ..Default::default() };
        let _ = choice.backends();
        let _ = choice.power();
    }
}
