//! What attnbench's results files and every tool that reads them must agree on, in a crate
//! with no dependencies so that the browser's build tool (`xtask/`) shares it with the
//! library without building wgpu: the schema name of `results.json`, and how a device's
//! folder is named.

/// Identifies the schema in every results file: /3 types the family (`family_kind`), the
/// too-large limit (`skip.limit`) and the interval of the median (`interval_*`).
pub const SCHEMA: &str = "attnbench-results/3";

/// The schema before the family, limits and intervals were typed; read, and written back
/// as [`SCHEMA`].
pub const SCHEMA_V2: &str = "attnbench-results/2";

/// The schema before runs were recorded; read, and written back as [`SCHEMA`].
pub const SCHEMA_V1: &str = "attnbench-results/1";

/// The name of a device's folder under a results root: `llvmpipe (LLVM 15.0.6, 256 bits)`
/// on Vulkan → `llvmpipe-llvm-15-0-6-256-bits-vulkan`.
pub fn device_slug(adapter: &str, backend: &str) -> String {
    let mut slug = String::new();
    for c in format!("{adapter} {backend}").chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_letters_and_digits_and_join_the_rest() {
        assert_eq!(
            device_slug("llvmpipe (LLVM 15.0.6, 256 bits)", "Vulkan"),
            "llvmpipe-llvm-15-0-6-256-bits-vulkan"
        );
        assert_eq!(device_slug("  ", "Gl"), "gl");
    }
}
