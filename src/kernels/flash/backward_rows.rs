//! `ATTNBENCH_FLASH_BWD_ROWS=DQ,DKDV[,BLOCK[,texels|buffers]]`: the override of flash's
//! backward layout (rows per invocation of the dQ and dK/dV kernels, invocations per
//! workgroup, where streamed rows come from), for experiments. Parsed and range-checked at
//! start-up like `ATTNBENCH_FLASH_TILES`; what depends on the shape and the device (the
//! register budget at a head dim, the subgroup size) is checked with the kernel's support.

use crate::error::{Error, Result};

/// The variable's name.
pub const VARIABLE: &str = "ATTNBENCH_FLASH_BWD_ROWS";

/// Most rows per invocation of either kernel: their register arrays are unrolled, and
/// lavapipe's compile time explodes past this (16 dQ rows: 11 minutes cold).
pub const MAX_ROWS: u32 = 8;

/// Invocations per workgroup accepted: whole subgroups, within every device's 256.
pub const BLOCK_RANGE: std::ops::RangeInclusive<u32> = 8..=256;

/// The parsed override.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackwardRows {
    /// Query rows per invocation of the dQ kernel.
    pub dq_rows: u32,
    /// Key rows per invocation of the dK/dV kernel.
    pub dkdv_rows: u32,
    /// Invocations per workgroup, when given.
    pub block: Option<u32>,
    /// Streamed rows from texels (`Some(true)`) or buffers, when given.
    pub texels: Option<bool>,
}

impl BackwardRows {
    /// Parses `DQ,DKDV[,BLOCK[,texels|buffers]]`: DQ and DKDV in 1..=[`MAX_ROWS`], BLOCK in
    /// [`BLOCK_RANGE`], the fourth field exactly `texels` or `buffers`, nothing more.
    pub fn parse(text: &str) -> Result<BackwardRows> {
        let invalid = |why: &str| Error::InvalidSetting {
            what: VARIABLE.into(),
            value: text.into(),
            expected: format!(
                "{why}DQ,DKDV[,BLOCK[,texels|buffers]] with DQ and DKDV rows in 1..={MAX_ROWS} and BLOCK invocations in {}..={}, e.g. 8,4,32,texels",
                BLOCK_RANGE.start(),
                BLOCK_RANGE.end()
            ),
        };
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        if !(2..=4).contains(&fields.len()) {
            return Err(invalid("two to four fields: "));
        }
        let number = |i: usize, range: std::ops::RangeInclusive<u32>, name: &str| {
            fields[i]
                .parse::<u32>()
                .ok()
                .filter(|v| range.contains(v))
                .ok_or_else(|| invalid(&format!("{name} {:?} is out of range; ", fields[i])))
        };
        let rows = BackwardRows {
            dq_rows: number(0, 1..=MAX_ROWS, "DQ")?,
            dkdv_rows: number(1, 1..=MAX_ROWS, "DKDV")?,
            block: (fields.len() > 2)
                .then(|| number(2, BLOCK_RANGE, "BLOCK"))
                .transpose()?,
            texels: match fields.get(3) {
                None => None,
                Some(&"texels") => Some(true),
                Some(&"buffers") => Some(false),
                Some(other) => {
                    return Err(invalid(&format!(
                        "the fourth field {other:?} is neither texels nor buffers; "
                    )));
                }
            },
        };
        Ok(rows)
    }

    /// Checks the override against a head dim and an adapter: each kernel's rows of
    /// registers (`floats_per_row` × head dim each) within its budget (one row always
    /// fits), and BLOCK a multiple of the subgroup size `lanes`.
    pub fn check(&self, head_dim: u32, lanes: u32, budgets: [(u32, u32); 2]) -> Result<()> {
        let unsupported = |reason: String| Error::Unsupported {
            kernel: "flash".into(),
            reason: format!("{VARIABLE}: {reason}"),
        };
        for ((rows, (floats_per_row, budget)), name) in [self.dq_rows, self.dkdv_rows]
            .into_iter()
            .zip(budgets)
            .zip(["dQ", "dK/dV"])
        {
            let floats = u64::from(rows) * u64::from(floats_per_row) * u64::from(head_dim);
            if rows > 1 && floats > u64::from(budget) {
                return Err(unsupported(format!(
                    "{rows} {name} rows at head_dim {head_dim} hold {floats} register floats per invocation, over the budget of {budget} (at most {} rows)",
                    (budget / (floats_per_row * head_dim.max(1))).max(1)
                )));
            }
        }
        if let Some(block) = self.block
            && lanes > 0
            && !block.is_multiple_of(lanes)
        {
            return Err(unsupported(format!(
                "BLOCK {block} is not a multiple of the subgroup size {lanes}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_checked() {
        assert_eq!(
            BackwardRows::parse("8,4,32,texels").unwrap(),
            BackwardRows {
                dq_rows: 8,
                dkdv_rows: 4,
                block: Some(32),
                texels: Some(true)
            }
        );
        assert_eq!(BackwardRows::parse(" 2 , 2 ").unwrap().block, None);
        for bad in [
            "",
            "0",
            "0,0,0",
            "8,0,32",
            "garbage",
            "-1,4,32",
            "8,4,32,TEXELS",
            "8,4,32,texels,1",
            "8,4,3",
            "1000000,4,32",
            "16,16,128",
            "8,4,512",
            "8,4,,buffers",
        ] {
            let err = BackwardRows::parse(bad).unwrap_err().to_string();
            assert!(err.contains(VARIABLE), "{bad}: {err}");
        }
    }

    #[test]
    fn rows_stay_within_the_register_budget() {
        let budgets = [(3, 1536), (4, 1024)];
        let rows = BackwardRows::parse("8,4,32").unwrap();
        assert!(rows.check(64, 8, budgets).is_ok());
        let err = rows.check(128, 8, budgets).unwrap_err().to_string();
        assert!(err.contains("at most 4 rows"), "{err}");
        assert!(
            BackwardRows::parse("1,1")
                .unwrap()
                .check(512, 8, budgets)
                .is_ok()
        );
        assert!(
            BackwardRows::parse("1,1,40")
                .unwrap()
                .check(16, 32, budgets)
                .is_err()
        );
    }
}
