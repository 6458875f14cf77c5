//! The words every kernel speaks: what it computes ([`Workload`]) and in which element type
//! ([`Precision`]), as results record them.

/// Element type of a kernel's tiles and score arithmetic, as results record it (`f32`,
/// `f16`); softmax state and accumulators are f32 in every kernel.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 throughout.
    #[default]
    F32,
    /// f16 tiles and Q·Kᵀ (needs SHADER_F16).
    F16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        })
    }
}

/// What a kernel computes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Every query row: the prompt.
    #[default]
    Prefill,
    /// The last few query rows against the whole KV cache: generating tokens.
    Decode,
}
