//! [`FlashPlan`]: what flash decides for one shape on one device, decided once — the
//! forward's configuration and key passes, the texel pair and, for shapes with a backward
//! pass, the backward's layout and passes. Every method of the kernel reads the plan.

use super::backward_layout::{BackwardLayout, BackwardPasses, ForcedBackward};
use super::config::{
    FlashConfig, KvSource, default_broadcast_rows, kv_texels, max_rows, q_texels, subgroup_size_of,
};
use super::config_text::TilesOverride;
use super::tuned::{TunedConfigs, TuningKey};
use super::variant::Flash;
use crate::error::Result;
use crate::gpu::DeviceFacts;
use crate::kernels::{KernelOverrides, PlanContext, Precision};
use crate::shape::Shape;

/// Everything a flash run on one shape needs decided before it allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashPlan {
    /// The forward's tiles.
    pub config: FlashConfig,
    /// Passes of the forward over the keys (a driver's loop cap, or a test, splits them).
    pub passes: u64,
    /// The texel pair the run reads through, when any of its kernels reads texels.
    pub texels: Option<TexelPairUse>,
    /// The backward, for shapes with a backward pass (f32 only).
    pub backward: Option<BackwardPlan>,
}

/// The texel pair of a run: texels in each of its two arrays, and how many pack dispatches
/// fill it (one for the forward's K/V, two for the backward's streamed rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TexelPairUse {
    /// Texels per array: the largest tensor the pair holds.
    pub texels: u64,
    /// Pack dispatches that fill it.
    pub packs: u64,
}

/// The backward's layout and passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackwardPlan {
    /// Rows per invocation, workgroup size, texels or buffers.
    pub layout: BackwardLayout,
    /// How its two main kernels are split under a loop cap.
    pub passes: BackwardPasses,
}

impl FlashPlan {
    /// The whole plan of `flash` for `shape` on the device `ctx` describes; an
    /// [`Error::Unsupported`](crate::Error::Unsupported) when the configuration, or the
    /// backward a training shape needs, cannot run there.
    pub fn resolve(flash: &Flash, shape: &Shape, ctx: &PlanContext<'_>) -> Result<FlashPlan> {
        let mut plan = Self::forward(flash, shape, ctx)?;
        if shape.pass.has_backward() && flash.precision == Precision::F32 {
            let forced = flash.backward.or(ctx.overrides.flash_backward);
            let backward = BackwardPlan::resolve(flash, shape, ctx.facts, forced, ctx.overrides)?;
            plan.backward = Some(backward);
            plan.texels = texel_pair_use(&plan.config, shape, Some(&backward));
        }
        Ok(plan)
    }

    /// The forward's part of the plan alone (what the forward of any pass runs).
    pub fn forward(flash: &Flash, shape: &Shape, ctx: &PlanContext<'_>) -> Result<FlashPlan> {
        let config = match flash.config {
            Some(config) => config,
            None => choose_config(shape, ctx, flash.precision)?,
        };
        config.validate_on(shape, ctx.facts, flash.precision)?;
        let by_driver = config.passes(shape, ctx.facts, flash.precision)?;
        let by_request = flash.max_pass_keys.map_or(1, |keys| {
            let keys = u64::from(keys).next_multiple_of(u64::from(config.block_kv));
            u64::from(shape.seq_len).div_ceil(keys)
        });
        Ok(FlashPlan {
            config,
            passes: by_driver.max(by_request),
            texels: texel_pair_use(&config, shape, None),
            backward: None,
        })
    }

    /// This plan with no texel pair: the forward's K/V and the backward's streamed rows
    /// read from the buffers instead (the pair is a speed-up, never a need). `None` where
    /// the plan reads no texels, or where the forward's tiles were fixed to texels.
    pub fn without_texels(&self, flash: &Flash) -> Option<FlashPlan> {
        self.texels?;
        let mut plan = *self;
        if plan.config.kv == KvSource::TexelBroadcast {
            if flash.config.is_some() {
                return None;
            }
            plan.config.kv = KvSource::SubgroupBroadcast;
        }
        if let Some(backward) = plan.backward.as_mut() {
            backward.layout.texels = false;
        }
        plan.texels = None;
        Some(plan)
    }

    /// The configuration as results name it: the forward's tiles, with a backward also its
    /// layout, e.g. `texels,32,8; bwd 8,4,32,texels`.
    pub fn label(&self) -> String {
        match &self.backward {
            Some(b) => format!("{}; {}", self.config, b.layout),
            None => self.config.to_string(),
        }
    }
}

impl BackwardPlan {
    /// The backward's layout and passes for `shape` on a device with `facts`, its layout
    /// kind `forced` where given: refused, with the reason, where no layout fits the device.
    pub fn resolve(
        flash: &Flash,
        shape: &Shape,
        facts: &DeviceFacts,
        forced: Option<ForcedBackward>,
        overrides: &KernelOverrides,
    ) -> Result<BackwardPlan> {
        let layout =
            BackwardLayout::for_shape(shape, facts, forced, overrides.flash_backward_rows)?;
        let costs = layout.step_iterations(shape.head_dim, layout.lane_sum(facts));
        let passes = BackwardPasses::for_shape(shape, facts.loop_cap, flash.max_pass_keys, costs)?;
        Ok(BackwardPlan { layout, passes })
    }
}

/// The texel pair a run reads through: the forward's K/V with [`KvSource::TexelBroadcast`]
/// and the backward's Q/dO and K/V where its layout reads texels (Q being the largest);
/// `None` when nothing reads texels.
fn texel_pair_use(
    config: &FlashConfig,
    shape: &Shape,
    backward: Option<&BackwardPlan>,
) -> Option<TexelPairUse> {
    let forward = (config.kv == KvSource::TexelBroadcast).then_some(TexelPairUse {
        texels: kv_texels(shape),
        packs: 1,
    });
    let backward = backward.filter(|b| b.layout.texels).map(|_| TexelPairUse {
        texels: q_texels(shape),
        packs: 2,
    });
    match (forward, backward) {
        (Some(f), Some(b)) => Some(TexelPairUse {
            texels: f.texels.max(b.texels),
            packs: f.packs + b.packs,
        }),
        (one, other) => one.or(other),
    }
}

/// The configuration flash uses for `shape` on a device when none is fixed, first found of:
/// 1. the user's override ([`KernelOverrides::flash_tiles`]; `split`: the key-split
///    family's choice for the shape, f32 only);
/// 2. the device's tuned choice for this precision and head dim ([`TunedConfigs`], from
///    `attnbench tune`), when it is valid for the shape (else the default below);
/// 3. the default for the device ([`untuned_config_on`]).
fn choose_config(
    shape: &Shape,
    ctx: &PlanContext<'_>,
    precision: Precision,
) -> Result<FlashConfig> {
    let facts = ctx.facts;
    match ctx.overrides.flash_tiles {
        Some(TilesOverride::Config(config)) => return Ok(config),
        Some(TilesOverride::SplitFamily) if precision == Precision::F32 => {
            return FlashConfig::split_for_shape(shape, facts, precision);
        }
        _ => {}
    }
    let key = TuningKey {
        precision,
        head_dim: shape.head_dim,
    };
    let tuned: &TunedConfigs = &ctx.tuned.flash;
    let tuned = tuned
        .get(&key)
        .filter(|config| config.validate_on(shape, facts, precision).is_ok());
    match tuned {
        Some(config) => Ok(config),
        None => untuned_config_on(shape, facts, precision),
    }
}

/// The configuration flash uses for `shape` on a device with `facts` without an override
/// or a tuned choice (what the tuner compares its candidates with):
/// - on CPU drivers with a fixed subgroup size, f32: subgroup broadcast with 4 subgroups
///   per workgroup and up to 4 rows per invocation, K/V read as texels where the shape
///   allows them ([`KvSource::TexelBroadcast`]), else from the buffers;
/// - elsewhere workgroup tiles ([`FlashConfig::for_shape`]: on GPUs lanes split each row
///   within the register cap), with several rows per invocation on CPU drivers, where
///   each workgroup-memory read costs many FMAs.
pub fn untuned_config_on(
    shape: &Shape,
    facts: &DeviceFacts,
    precision: Precision,
) -> Result<FlashConfig> {
    if facts.is_cpu
        && let Ok(sg) = subgroup_size_of(facts)
    {
        for kv in [KvSource::TexelBroadcast, KvSource::SubgroupBroadcast] {
            let broadcast = FlashConfig {
                kv,
                block_q: 4 * sg,
                rows: default_broadcast_rows(shape.head_dim),
                block_kv: 4,
                lanes: 1,
            };
            if broadcast.validate_on(shape, facts, precision).is_ok() {
                return Ok(broadcast);
            }
        }
    }
    let mut config = FlashConfig::for_shape(shape, facts, precision)?;
    if facts.is_cpu {
        config.rows = max_rows(shape.head_dim).min(8);
    }
    Ok(config)
}
