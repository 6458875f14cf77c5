//! The process environment, read in one place: attnbench's own variables must be text,
//! and any other variable, whatever it holds, is none of attnbench's business.

use crate::error::{Error, Result};

/// Whether `name` is one of the variables attnbench reads.
pub fn is_attnbench_variable(name: &str) -> bool {
    name.starts_with("ATTNBENCH_") || name.starts_with("WGPU_")
}

/// Refuses an `ATTNBENCH_*` or `WGPU_*` variable whose value is not UTF-8 (its setting
/// would otherwise be silently ignored), naming it. Other variables, and names that are
/// not UTF-8, are ignored; nothing panics.
pub fn check_environment() -> Result<()> {
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if is_attnbench_variable(name) && value.to_str().is_none() {
            return Err(Error::InvalidSetting {
                what: name.into(),
                value: value.to_string_lossy().into_owned(),
                expected: "UTF-8 text".into(),
            });
        }
    }
    Ok(())
}

/// Whether `ATTNBENCH_EXHAUSTIVE=1` asks the tests and CI for the exhaustive grids.
pub fn exhaustive() -> bool {
    std::env::var_os("ATTNBENCH_EXHAUSTIVE").is_some_and(|v| v == "1")
}
