//! Flash's version ladder as configurations that can be run again on any adapter
//! (`attnbench ladder`), in the manner of llm.c's dev/cuda kernels: each rung is the idea a
//! version added, and where that version's code is gone but one of today's configurations
//! reproduces it, that configuration. On a new GPU this shows which idea pays there.

/// One step of the ladder.
#[derive(Clone, Copy, Debug)]
pub struct Rung {
    /// Its name (`v1` …, `default`).
    pub name: &'static str,
    /// What it added.
    pub idea: &'static str,
    /// The configuration that runs it today ([`super::FlashConfig::parse`] form), `None`
    /// for the device's default or tuned choice when `runnable`.
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
        name: "v1",
        idea: "one row per invocation, a private array of the tile's scores",
        config: None,
        runnable: false,
        commit: "1eaec13",
    },
    Rung {
        name: "v2",
        idea: "four keys per step, scores in one vec4, one rescale per four keys (re-created: workgroup tiles, 1 row per invocation)",
        config: Some("tiles,64,1,32"),
        runnable: true,
        commit: "690f74f",
    },
    Rung {
        name: "v3",
        idea: "register tiling: 8 rows per invocation, each workgroup-memory read serves 8 rows",
        config: Some("tiles,64,8,32"),
        runnable: true,
        commit: "690f74f",
    },
    Rung {
        name: "v4",
        idea: "K/V shared by subgroupBroadcast from constant lanes, loops unrolled, scalar loads (replaced in place by v5)",
        config: None,
        runnable: false,
        commit: "36b4392",
    },
    Rung {
        name: "v5",
        idea: "subgroup broadcast with one vec4 load per four floats; 4 rows, 4 subgroups of 8 (needs one fixed subgroup size of 8)",
        config: Some("broadcast,32,4"),
        runnable: true,
        commit: "36b4392",
    },
    Rung {
        name: "v6",
        idea: "the GPU path: vec4 coalesced K/V tile loads without a load selector; each row split across 4 lanes of a subgroup, partial dots summed by a subgroupShuffleXor butterfly (needs SUBGROUP)",
        config: Some("tiles,128,2,32,4"),
        runnable: true,
        commit: "10f3f17",
    },
    Rung {
        name: "v7",
        idea: "v5 with 8 rows per invocation: every K/V load serves 64 query rows of a subgroup (tuned on lavapipe at d = 64; up to d = 64 only)",
        config: Some("broadcast,32,8"),
        runnable: true,
        commit: "5865c31",
    },
    Rung {
        name: "v8",
        idea: "v5 with K and V read as texels of rgba32float textures (textureLoad), filled from the buffers by a first dispatch of each run: lavapipe vectorizes texel fetches, where each storage load is a loop over the lanes",
        config: Some("texels,32,4"),
        runnable: true,
        commit: "be87f9e",
    },
    Rung {
        name: "default",
        idea: "what flash runs on this device: its tuned choice (attnbench tune) or the default for its driver type",
        config: None,
        runnable: true,
        commit: "HEAD",
    },
];
