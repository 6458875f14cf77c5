//! The version ladder, textbook naive → GEMM-grade naive → flash, as kernels and
//! configurations that can be run again on any adapter (`attnbench ladder`), in the manner of
//! llm.c's dev/cuda kernels: each rung is the idea a version added, and where that version's
//! code is gone but one of today's configurations reproduces it, that configuration. On a new
//! GPU this shows which idea pays there, and how much of flash's lead over a materializing
//! kernel is the quadratic wall rather than a slow baseline.

/// Which kernel a rung runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RungKernel {
    /// The textbook naive kernel ([`super::naive::textbook::TEXTBOOK`]): one invocation per
    /// score.
    NaiveTextbook,
    /// The registry's `naive` (GEMM grade) with its choices for the device.
    Naive,
    /// flash with the rung's configuration, or the device's choice.
    Flash,
}

/// One step of the ladder.
#[derive(Clone, Copy, Debug)]
pub struct Rung {
    /// Its name (`naive-textbook`, `naive`, `v1` …, `default`).
    pub name: &'static str,
    /// The kernel it runs.
    pub kernel: RungKernel,
    /// What it added.
    pub idea: &'static str,
    /// For flash, the configuration that runs it today ([`super::flash::FlashConfig::parse`]
    /// form), `None` for the device's default or tuned choice when `runnable`.
    pub config: Option<&'static str>,
    /// Whether it can run: rungs whose code is gone and that no configuration reproduces
    /// are listed with the commit that had them.
    pub runnable: bool,
    /// The commit that introduced it.
    pub commit: &'static str,
}

/// The ladder, oldest first; the last rung is what flash runs on the device by default.
pub const LADDER: &[Rung] = &[
    Rung {
        name: "naive-textbook",
        kernel: RungKernel::NaiveTextbook,
        idea: "materializing attention as a first tutorial writes it: one invocation per score and per output element (a storage load per multiply-add), a three-pass row softmax",
        config: None,
        runnable: true,
        commit: "b225452",
    },
    Rung {
        name: "naive",
        kernel: RungKernel::Naive,
        idea: "the same algorithm at GEMM grade: QKᵀ and P·V as register-blocked matrix products (on CPU drivers B shared by subgroup broadcast and read as texels; on GPUs workgroup tiles), the softmax one read and one write per row",
        config: None,
        runnable: true,
        commit: "HEAD",
    },
    Rung {
        name: "v1",
        kernel: RungKernel::Flash,
        idea: "one row per invocation, a private array of the tile's scores",
        config: None,
        runnable: false,
        commit: "1eaec13",
    },
    Rung {
        name: "v2",
        kernel: RungKernel::Flash,
        idea: "four keys per step, scores in one vec4, one rescale per four keys (re-created: workgroup tiles, 1 row per invocation)",
        config: Some("tiles,64,1,32"),
        runnable: true,
        commit: "690f74f",
    },
    Rung {
        name: "v3",
        kernel: RungKernel::Flash,
        idea: "register tiling: 8 rows per invocation, each workgroup-memory read serves 8 rows",
        config: Some("tiles,64,8,32"),
        runnable: true,
        commit: "690f74f",
    },
    Rung {
        name: "v4",
        kernel: RungKernel::Flash,
        idea: "K/V shared by subgroupBroadcast from constant lanes, loops unrolled, scalar loads (replaced in place by v5)",
        config: None,
        runnable: false,
        commit: "36b4392",
    },
    Rung {
        name: "v5",
        kernel: RungKernel::Flash,
        idea: "subgroup broadcast with one vec4 load per four floats; 4 rows, 4 subgroups of 8 (needs one fixed subgroup size of 8)",
        config: Some("broadcast,32,4"),
        runnable: true,
        commit: "36b4392",
    },
    Rung {
        name: "v6",
        kernel: RungKernel::Flash,
        idea: "the GPU path: vec4 coalesced K/V tile loads without a load selector; each row split across 4 lanes of a subgroup, partial dots summed by a subgroupShuffleXor butterfly (needs SUBGROUP)",
        config: Some("tiles,128,2,32,4"),
        runnable: true,
        commit: "10f3f17",
    },
    Rung {
        name: "v7",
        kernel: RungKernel::Flash,
        idea: "v5 with 8 rows per invocation: every K/V load serves 64 query rows of a subgroup (tuned on lavapipe at d = 64; up to d = 64 only)",
        config: Some("broadcast,32,8"),
        runnable: true,
        commit: "5865c31",
    },
    Rung {
        name: "v8",
        kernel: RungKernel::Flash,
        idea: "v5 with K and V read as texels of rgba32float textures (textureLoad), filled from the buffers by a first dispatch of each run: lavapipe vectorizes texel fetches, where each storage load is a loop over the lanes",
        config: Some("texels,32,4"),
        runnable: true,
        commit: "be87f9e",
    },
    Rung {
        name: "default",
        kernel: RungKernel::Flash,
        idea: "what flash runs on this device: its tuned choice (attnbench tune) or the default for its driver type",
        config: None,
        runnable: true,
        commit: "HEAD",
    },
];
