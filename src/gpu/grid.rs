//! Dispatch grids past the per-dimension workgroup limit (65 535 on most devices): a
//! linear count of workgroups is folded into x·y·z, and shaders unfold it with
//! `workgroup_linear_id` from `shaders/common/common.wgsl` and skip the ids past the count.

use crate::error::{Error, Result};

/// Folds `total` workgroups into a grid whose dimensions stay within `max_per_dim`.
/// The grid may hold a few more workgroups than `total`; shaders skip those.
pub fn grid_for(total: u64, max_per_dim: u32) -> Result<[u32; 3]> {
    let max = u64::from(max_per_dim.max(1));
    if total == 0 {
        return Ok([0, 1, 1]);
    }
    if total <= max {
        return Ok([total as u32, 1, 1]);
    }
    let y = total.div_ceil(max);
    if y <= max {
        return Ok([max as u32, y as u32, 1]);
    }
    let z = total.div_ceil(max * max);
    if z <= max && total <= u64::from(u32::MAX) {
        return Ok([max as u32, max as u32, z as u32]);
    }
    Err(Error::TooLarge {
        what: "dispatch".into(),
        needed: total,
        allowed: u64::from(u32::MAX).min(max * max * max),
        limit: crate::error::Limit::WorkgroupsPerDispatch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_cover_the_total_within_the_limit() {
        for total in [1u64, 7, 65_535, 65_536, 200_000, 65_535 * 65_535 + 3] {
            let [x, y, z] = grid_for(total, 65_535).unwrap();
            assert!(x <= 65_535 && y <= 65_535 && z <= 65_535);
            let covered = u64::from(x) * u64::from(y) * u64::from(z);
            assert!(covered >= total, "{total} -> {x}x{y}x{z}");
            // Never more than one extra row of the grid.
            assert!(covered - total < u64::from(x) * u64::from(y), "{total}");
        }
    }

    #[test]
    fn impossible_grids_are_errors() {
        assert!(grid_for(u64::from(u32::MAX) + 1, 65_535).is_err());
    }
}
