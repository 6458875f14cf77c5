//! How flash's backward is laid out on a device ([`BackwardLayout`]: rows per invocation of
//! its two main kernels, invocations per workgroup, where streamed rows are read from) and
//! how a driver's loop cap splits it into passes ([`BackwardPasses`]).

use super::backward_rows::BackwardRows;
use super::config::fixed_subgroup_size;
use super::texel_pair::{q_texels, texels_within_budget};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, texel_arrays_supported, texel_extent};
use crate::kernels::gradient_plan;
use crate::shape::Shape;

/// How the backward's kernels are laid out on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackwardLayout {
    /// Invocations per workgroup (a multiple of the subgroup size).
    pub block: u32,
    /// Lanes sharing rows by broadcast: the adapter's fixed subgroup size.
    pub lanes: u32,
    /// Query rows per invocation of the dQ kernel.
    pub dq_rows: u32,
    /// Key rows per invocation of the dK/dV kernel.
    pub dkdv_rows: u32,
    /// Whether the rows each kernel streams (Q and dO in dK/dV, K and V in dQ) are read from
    /// a texel pair (`src/kernels/texel_pair.rs`) rather than from their buffers.
    pub texels: bool,
}

impl std::fmt::Display for BackwardLayout {
    /// `bwd DQ,DKDV,BLOCK[,texels]`: the rows per invocation of the dQ and dK/dV kernels,
    /// the invocations per workgroup and whether streamed rows come from texel arrays, in
    /// `ATTNBENCH_FLASH_BWD_ROWS`'s order.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bwd {},{},{}", self.dq_rows, self.dkdv_rows, self.block)?;
        if self.texels {
            f.write_str(",texels")?;
        }
        Ok(())
    }
}

/// Register budgets per invocation, in floats, for the row registers of the dQ kernel (3
/// per row and column: Q, dO, dQ) and the dK/dV kernel (4: K, V, dK, dV). Measured on
/// lavapipe at B2 H4 n2048 d64 (rows of dQ, dK/dV → FA-model GFLOP/s, one session):
/// (1, 1) 4.1, (2, 2) 7.5, (4, 4) 9.8, (2, 4) 8.6, (4, 8) 11.3 but 4 minutes to compile,
/// (8, 4) 13.5: more rows share each broadcast row, until compile time explodes.
pub(super) const DQ_REGISTER_FLOATS: u32 = 1536;
pub(super) const DKDV_REGISTER_FLOATS: u32 = 1024;

impl BackwardLayout {
    /// The layout for `shape` on `gpu`: rows per invocation as the register budgets allow
    /// for its head dim (at most 8 for dQ, 4 for dK/dV; d = 64: 8 and 4), 32 invocations
    /// per workgroup on CPU drivers and 64 elsewhere, and on CPU drivers streamed rows from
    /// texel arrays where they can hold Q (head_dim a multiple of 4, within the texture
    /// limits). `ATTNBENCH_FLASH_BWD_ROWS=dq,dkdv[,block[,texels|buffers]]` overrides it
    /// (for experiments; texels only where they can be held). Refused without a fixed
    /// subgroup size.
    pub fn for_shape(shape: &Shape, gpu: &Gpu) -> Result<BackwardLayout> {
        let lanes = fixed_subgroup_size(gpu)?;
        let head_dim = shape.head_dim;
        let base = if gpu.is_cpu() { 32 } else { 64 };
        // Checked at start-up and, against the head dim, by the backward's check_support.
        let rows = BackwardRows::from_env()?;
        // Q, K, V, O, dO and the gradients, and the texel pair of Q's size: within the
        // memory budget, or the streamed rows come from the buffers.
        let others = crate::kernels::io_plan(shape, shape.seq_len).total_bytes()
            + gradient_plan(shape).total_bytes();
        let texels_fit = head_dim.is_multiple_of(4)
            && texel_arrays_supported(gpu)
            && texel_extent("flash backward", q_texels(shape), &gpu.limits()).is_ok()
            && texels_within_budget(gpu, others, q_texels(shape)).is_ok();
        let texels = match rows.and_then(|r| r.texels) {
            Some(true) => texels_fit,
            Some(false) => false,
            None => gpu.is_cpu() && texels_fit,
        };
        Ok(BackwardLayout {
            block: rows
                .and_then(|r| r.block)
                .unwrap_or(base)
                .max(lanes)
                .next_multiple_of(lanes),
            lanes,
            dq_rows: rows.map_or((DQ_REGISTER_FLOATS / (3 * head_dim)).clamp(1, 8), |r| {
                r.dq_rows
            }),
            dkdv_rows: rows.map_or((DKDV_REGISTER_FLOATS / (4 * head_dim)).clamp(1, 4), |r| {
                r.dkdv_rows
            }),
            texels,
        })
    }
}

/// Passes of the backward's two main kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackwardPasses {
    /// Keys per pass of the dQ kernel (a multiple of 4).
    pub dq_keys: u64,
    /// Query rows per pass of the dK/dV kernel (a multiple of 4).
    pub dkdv_rows: u64,
}

impl BackwardPasses {
    /// Within the driver's loop cap (each step of either kernel is one iteration of its only
    /// loop besides the query heads of a group), and at most `max_keys` per pass when set.
    pub fn for_shape(
        shape: &Shape,
        cap: Option<u64>,
        max_keys: Option<u32>,
    ) -> Result<BackwardPasses> {
        let n = u64::from(shape.seq_len).next_multiple_of(4);
        let group = u64::from(shape.group_size());
        let (mut dq_keys, mut dkdv_rows) = (n, n);
        if let Some(cap) = cap {
            let steps = (cap * 8 / 10).saturating_sub(64);
            dq_keys = dq_keys.min(steps * 4);
            dkdv_rows = dkdv_rows.min((steps / group).saturating_sub(1) * 4);
        }
        if let Some(keys) = max_keys {
            let keys = u64::from(keys).next_multiple_of(4);
            dq_keys = dq_keys.min(keys);
            dkdv_rows = dkdv_rows.min(keys);
        }
        if dq_keys == 0 || dkdv_rows == 0 {
            return Err(Error::Unsupported {
                kernel: "flash".into(),
                reason: format!(
                    "the driver's loop cap of {} iterations per invocation leaves no room for the backward's steps at {} query heads per KV head",
                    cap.unwrap_or(0),
                    group
                ),
            });
        }
        Ok(BackwardPasses { dq_keys, dkdv_rows })
    }

    /// The (begin, end) rows or keys of each pass of `per_pass`, over n padded to 4.
    pub fn ranges(per_pass: u64, n: u64) -> Vec<(u32, u32)> {
        let padded = n.next_multiple_of(4);
        (0..padded.div_ceil(per_pass))
            .map(|p| {
                (
                    (p * per_pass) as u32,
                    ((p + 1) * per_pass).min(padded) as u32,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_stay_under_the_loop_cap_and_cover_every_row() {
        let shape = Shape::new(100_000, 64)
            .with_batch_heads(1, 8)
            .with_kv_heads(2);
        let passes = BackwardPasses::for_shape(&shape, Some(65_535), None).unwrap();
        // 4 query heads per KV head: each dK/dV step is 4 loop iterations.
        assert!(passes.dkdv_rows / 4 * 4 <= 65_535 * 8 / 10);
        assert!(passes.dq_keys / 4 <= 65_535 * 8 / 10);
        let ranges = BackwardPasses::ranges(passes.dkdv_rows, 100_000);
        assert_eq!(ranges.first().unwrap().0, 0);
        assert_eq!(ranges.last().unwrap().1, 100_000);
        assert!(
            ranges
                .windows(2)
                .all(|w| w[0].1 == w[1].0 && w[0].1 % 4 == 0)
        );
        // A forced small pass is rounded to whole steps of four.
        let small = BackwardPasses::for_shape(&Shape::new(37, 16), None, Some(10)).unwrap();
        assert_eq!(small.dq_keys, 12);
        assert_eq!(BackwardPasses::ranges(12, 37).len(), 4);
    }
}
