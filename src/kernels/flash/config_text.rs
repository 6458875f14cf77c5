//! The text form of flash's configurations ([`FlashConfig`]'s `Display` and
//! [`FlashConfig::parse`]): what `ATTNBENCH_FLASH_TILES`, `tuning.json` and results rows
//! hold, checked completely as it is parsed.

use super::config::{FlashConfig, KvSource, MAX_BLOCK_KV};
use crate::error::{Error, Result};

impl std::fmt::Display for FlashConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kv {
            KvSource::WorkgroupTiles if self.lanes == 1 => {
                write!(f, "tiles,{},{},{}", self.block_q, self.rows, self.block_kv)
            }
            KvSource::WorkgroupTiles => write!(
                f,
                "tiles,{},{},{},{}",
                self.block_q, self.rows, self.block_kv, self.lanes
            ),
            KvSource::SubgroupBroadcast => {
                write!(f, "broadcast,{},{}", self.block_q, self.rows)
            }
            KvSource::TexelBroadcast => write!(f, "texels,{},{}", self.block_q, self.rows),
            KvSource::KeySplit { key_lanes } => write!(
                f,
                "split,{},{},{},{},{}",
                self.block_q, self.rows, self.block_kv, key_lanes, self.lanes
            ),
        }
    }
}

/// What the flash tiles override (`--flash-tiles`, `ATTNBENCH_FLASH_TILES`) fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TilesOverride {
    /// One configuration for every shape.
    Config(FlashConfig),
    /// `split`: the key-split family's own choice for each shape
    /// ([`FlashConfig::split_for_shape`]), e.g. to verify the family at every head dim.
    SplitFamily,
}

impl TilesOverride {
    /// Parses `split` or a configuration ([`FlashConfig::parse`]).
    pub fn parse(text: &str) -> Result<TilesOverride> {
        if text.trim() == "split" {
            return Ok(TilesOverride::SplitFamily);
        }
        FlashConfig::parse(text).map(TilesOverride::Config)
    }
}

impl FlashConfig {
    /// Parses the [`Display`](std::fmt::Display) form: `tiles,block_q,rows,block_kv[,lanes]`
    /// (e.g. `tiles,64,8,32` or `tiles,128,2,32,4`), `broadcast,block_q,rows` (e.g.
    /// `broadcast,8,8`), `texels,block_q,rows` (broadcast from texel arrays) or
    /// `split,block_q,rows,block_kv,key_lanes,lanes` (e.g. `split,64,1,16,4,4`: key lanes
    /// take different keys, lanes split the head dim); a bare `block_q,rows,block_kv`
    /// means tiles. The `ATTNBENCH_FLASH_TILES` override and the
    /// text form in `tuning.json`.
    ///
    /// Everything that does not depend on the device is checked here: `block_q` in
    /// 1..=1024, `rows` in 1..=16, `lanes` a power of two dividing `block_q`, and for tiles
    /// `block_kv` a multiple of 4 (the shader consumes keys four at a time) in 4..=128. [`FlashConfig::validate`] then checks the
    /// device and the shape.
    pub fn parse(text: &str) -> Result<FlashConfig> {
        let invalid = |why: &str| Error::InvalidSetting {
            what: "flash tile configuration".into(),
            value: text.into(),
            expected: format!(
                "{why}tiles,BLOCK_Q,ROWS,BLOCK_KV[,LANES] (e.g. tiles,64,8,32), broadcast,BLOCK_Q,ROWS (e.g. broadcast,32,4), texels,BLOCK_Q,ROWS or split,BLOCK_Q,ROWS,BLOCK_KV,KL,LANES (e.g. split,64,1,16,4,4)"
            ),
        };
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let all_numbers = |fs: &[&str]| -> Option<Vec<u32>> {
            fs.iter().map(|v| v.parse::<u32>().ok()).collect()
        };
        let config = match fields.as_slice() {
            [kind @ ("broadcast" | "texels"), rest @ ..] => match all_numbers(rest).as_deref() {
                Some(&[block_q, rows]) => FlashConfig {
                    kv: if *kind == "texels" {
                        KvSource::TexelBroadcast
                    } else {
                        KvSource::SubgroupBroadcast
                    },
                    block_q,
                    rows,
                    block_kv: 4,
                    lanes: 1,
                },
                _ => return Err(invalid("")),
            },
            // The older form without a prefix means tiles.
            ["split", rest @ ..] => match all_numbers(rest).as_deref() {
                Some(&[block_q, rows, block_kv, key_lanes, lanes]) => {
                    if !key_lanes.is_power_of_two() || key_lanes > 16 {
                        return Err(invalid("KL must be a power of two up to 16; "));
                    }
                    if !block_kv.is_multiple_of(4 * key_lanes) {
                        return Err(invalid("BLOCK_KV must be a multiple of 4 × KL; "));
                    }
                    if !block_q.is_multiple_of(key_lanes * lanes.max(1)) {
                        return Err(invalid("BLOCK_Q must be a multiple of KL × LANES; "));
                    }
                    FlashConfig {
                        kv: KvSource::KeySplit { key_lanes },
                        block_q,
                        rows,
                        block_kv,
                        lanes,
                    }
                }
                _ => return Err(invalid("")),
            },
            ["tiles", rest @ ..] | rest @ [_, _, _] => match all_numbers(rest).as_deref() {
                Some(&[block_q, rows, block_kv]) => FlashConfig {
                    kv: KvSource::WorkgroupTiles,
                    block_q,
                    rows,
                    block_kv,
                    lanes: 1,
                },
                Some(&[block_q, rows, block_kv, lanes]) => FlashConfig {
                    kv: KvSource::WorkgroupTiles,
                    block_q,
                    rows,
                    block_kv,
                    lanes,
                },
                _ => return Err(invalid("")),
            },
            _ => return Err(invalid("")),
        };
        if !(1..=1024).contains(&config.block_q) {
            return Err(invalid("BLOCK_Q must be in 1..=1024; "));
        }
        if !(1..=16).contains(&config.rows) {
            return Err(invalid("ROWS must be in 1..=16; "));
        }
        if !config.lanes.is_power_of_two() || config.lanes > 64 {
            return Err(invalid("LANES must be a power of two up to 64; "));
        }
        if !config.block_q.is_multiple_of(config.lanes) {
            return Err(invalid("BLOCK_Q must be a multiple of LANES; "));
        }
        if config.block_kv == 0 || config.block_kv > MAX_BLOCK_KV || config.block_kv % 4 != 0 {
            return Err(invalid(
                "BLOCK_KV must be a multiple of 4 in 4..=128 (keys are consumed four at a time); ",
            ));
        }
        Ok(config)
    }
}
