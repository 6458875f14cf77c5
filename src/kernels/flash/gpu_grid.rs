//! The grid of flash configurations GPUs run ([`gpu_grid`]): what the tuner times on a GPU
//! and what the device-coverage checks hold within the register cap.

use super::config::{FlashConfig, KvSource};
use crate::gpu::{DeviceFacts, REGISTER_CAP};
use crate::kernels::Precision;
use crate::shape::Shape;

/// The GPU grid's (rows per lane group, lanes per row): whole rows per lane with register
/// tiling, and rows split across 2, 4 or 8 lanes (fewer registers per lane at large head
/// dims; what the register cap leaves at d = 128 and 256).
const GPU_ROWS_LANES: &[(u32, u32)] = &[
    (1, 1),
    (2, 1),
    (4, 1),
    (1, 2),
    (2, 2),
    (4, 2),
    (1, 4),
    (2, 4),
    (4, 4),
    (8, 4),
    (1, 8),
    (2, 8),
];

/// Invocations per workgroup the GPU grid tries (2–8 subgroups of 32), and keys per tile:
/// the two largest of these that workgroup memory holds (64 and 32 at small head dims, 16
/// and 8 at d = 256).
const GPU_BLOCK_Q: &[u32] = &[64, 128, 256];
const GPU_BLOCK_KV: &[u32] = &[64, 32, 16, 8];

/// The key-split configurations the GPU grid tries, (block_q, rows, block_kv, key lanes,
/// lanes): 4 key lanes of 16-key tiles with the head dim over 1–4 lanes at small head
/// dims, 2 or 1 key lanes of short tiles over 8 or 16 lanes at d = 128 and 256 (what fits
/// 32 KiB of double-buffered tiles).
const SPLIT_GRID: &[(u32, u32, u32, u32, u32)] = &[
    (64, 1, 16, 4, 1),
    (64, 1, 16, 4, 4),
    (128, 2, 16, 4, 4),
    (128, 1, 32, 4, 2),
    (64, 1, 8, 2, 8),
    (128, 1, 8, 2, 8),
    (64, 1, 4, 1, 16),
];

/// The grid for GPUs at `head_dim` in `precision`: workgroup tiles by query-block size
/// (`block_q`, hence subgroups per workgroup), rows per lane group, lanes per row and keys
/// per tile, then the key-split configurations ([`SPLIT_GRID`]), kept where a device with
/// `facts` can run them within the GPU register cap ([`REGISTER_CAP`], applied here on
/// CPU drivers too: this is the grid GPUs run).
pub fn gpu_grid(facts: &DeviceFacts, head_dim: u32, precision: Precision) -> Vec<FlashConfig> {
    let as_gpu = DeviceFacts {
        register_cap: if facts.is_cpu {
            Some(REGISTER_CAP)
        } else {
            facts.register_cap
        },
        ..facts.clone()
    };
    let shape = Shape::new(256, head_dim);
    let mut out = Vec::new();
    for &block_q in GPU_BLOCK_Q {
        for &(rows, lanes) in GPU_ROWS_LANES {
            let fitting = GPU_BLOCK_KV.iter().map(|&block_kv| FlashConfig {
                kv: KvSource::WorkgroupTiles,
                block_q,
                rows,
                block_kv,
                lanes,
            });
            out.extend(
                fitting
                    .filter(|c| c.validate_on(&shape, &as_gpu, precision).is_ok())
                    .take(2),
            );
        }
    }
    let split = SPLIT_GRID
        .iter()
        .map(|&(block_q, rows, block_kv, key_lanes, lanes)| FlashConfig {
            kv: KvSource::KeySplit { key_lanes },
            block_q,
            rows,
            block_kv,
            lanes,
        });
    out.extend(split.filter(|c| c.validate_on(&shape, &as_gpu, precision).is_ok()));
    out
}
