//! The Burn peer program (`peers/burn`, `attnbench-burn-peer`) as attnbench knows it: where
//! it is ([`BurnPeer`]), and what the two say to each other, defined once for both sides:
//! the peer's JSON row ([`BurnRow`]: a results row plus the peer's own fields) and, when
//! attnbench drives it sample by sample (`--serve`), the lines they exchange: attnbench
//! writes one [`PeerCommand`] per line on the peer's stdin, and the peer answers each, and
//! its start, with one [`PeerMessage`] per line on its stdout.

use crate::results::ResultRow;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The peer's program name (without the platform's executable suffix).
pub const BURN_PEER_NAME: &str = "attnbench-burn-peer";

/// How to build the peer, for the rows that found none.
pub const BURN_PEER_BUILD: &str = "cargo build --release -p attnbench-burn-peer";

/// The `kernel` of the peer's rows.
pub const BURN_KERNEL: &str = "burn";

/// Where the Burn peer program is (found at the edge: `TargetsArgs::burn_peer` in `crate::settings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BurnPeer {
    /// This program.
    At(PathBuf),
    /// None was found: where it was looked for.
    Absent {
        /// The paths tried.
        looked: Vec<PathBuf>,
    },
}

impl Default for BurnPeer {
    fn default() -> Self {
        BurnPeer::Absent { looked: Vec::new() }
    }
}

impl BurnPeer {
    /// The peer beside the executable `exe`: in its folder, or, for a bench harness in
    /// cargo's `target/<profile>/deps/`, in the folder above (where cargo puts binaries).
    pub fn beside(exe: Option<&Path>) -> BurnPeer {
        let file = format!("{BURN_PEER_NAME}{}", std::env::consts::EXE_SUFFIX);
        let mut looked = Vec::new();
        if let Some(dir) = exe.and_then(Path::parent) {
            looked.push(dir.join(&file));
            if dir.file_name().is_some_and(|n| n == "deps")
                && let Some(up) = dir.parent()
            {
                looked.push(up.join(&file));
            }
        }
        match looked.iter().find(|p| p.is_file()) {
            Some(path) => BurnPeer::At(path.clone()),
            None => BurnPeer::Absent { looked },
        }
    }

    /// Why there is no peer to compare with, and how to get one.
    pub(super) fn absent_reason(looked: &[PathBuf]) -> String {
        let places = if looked.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
            format!(" at {}", list.join(" or "))
        };
        format!(
            "no {BURN_PEER_NAME}{places}: build it with `{BURN_PEER_BUILD}` (it lands beside \
             attnbench), or name it with ATTNBENCH_BURN_PEER"
        )
    }
}

/// The peer's measurement of one shape: a row of attnbench's results schema (`kernel` =
/// `burn`, its `config` the strategy Burn's autotune chose, `timing` wall-clock) and what
/// only a peer has to say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BurnRow {
    /// The row, in attnbench's schema.
    #[serde(flatten)]
    pub row: ResultRow,
    /// The adapter Burn ran on (the one attnbench's choice picks).
    pub adapter: String,
    /// Its backend (`Vulkan`, `Gl`, `Metal`, `Dx12`).
    pub backend: String,
    /// The Burn release the peer was built with.
    pub burn_version: String,
    /// ‖out − ref‖/‖ref‖ against the f64 reference on the same inputs (the last
    /// `reference_rows` query rows of each head); none when the output held non-finite
    /// values (see `non_finite`).
    pub rel_l2_error: Option<f64>,
    /// Largest |out − ref| on those rows.
    pub max_abs_error: Option<f64>,
    /// NaN or infinite elements among those rows.
    pub non_finite: usize,
    /// Query rows per head compared with the reference.
    pub reference_rows: u32,
    /// The largest error that passes (attnbench flash's tolerance at the same precision).
    pub tolerance: f64,
    /// Whether the output passed: finite, and `rel_l2_error` below `tolerance`.
    pub verified: bool,
    /// Calls of the attention per timed sample (enough to last ≥ 10 ms).
    pub calls_per_sample: u64,
    /// Every sample: ms per call.
    pub samples_ms: Vec<f64>,
    /// Each candidate Burn's autotune measured, fastest first, with its median ms (none
    /// where it did not run); empty when the choice came from a cache.
    pub autotune: Vec<AutotuneCandidate>,
}

/// One candidate of Burn's autotune.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutotuneCandidate {
    /// Its name in cubecl's tune set (`unit`, `fallback`, `blackbox_accelerated_…`).
    pub name: String,
    /// Its median time in autotune's own benchmark, ms; none when it failed.
    pub median_ms: Option<f64>,
    /// Why it did not run, when it did not.
    pub error: Option<String>,
}

/// What attnbench asks of a serving peer, one per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerCommand {
    /// Time one sample (`calls_per_sample` calls, then a device sync) and answer
    /// [`PeerMessage::Sample`].
    Sample,
    /// Write the output (`--save-output`), answer [`PeerMessage::Row`] and exit.
    Finish,
}

impl PeerCommand {
    /// The line that carries it.
    pub fn line(self) -> &'static str {
        match self {
            PeerCommand::Sample => "sample",
            PeerCommand::Finish => "finish",
        }
    }

    /// The command a line carries, if any.
    pub fn parse(line: &str) -> Option<Self> {
        match line.trim() {
            "sample" => Some(PeerCommand::Sample),
            "finish" => Some(PeerCommand::Finish),
            _ => None,
        }
    }
}

/// What a peer says, one JSON object per line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum PeerMessage {
    /// Warmed up (autotune included) and calibrated: ready for samples.
    Ready {
        /// The adapter it runs on.
        adapter: String,
        /// Its backend.
        backend: String,
        /// Calls per sample.
        calls_per_sample: u64,
        /// ms one sample is expected to take (calls × one call).
        sample_ms: f64,
        /// The strategy its autotune chose, where it could be read.
        strategy: Option<String>,
    },
    /// One sample.
    Sample {
        /// ms per call.
        ms: f64,
    },
    /// The whole measurement, after [`PeerCommand::Finish`] (or alone, without `--serve`).
    Row {
        /// The row.
        row: Box<BurnRow>,
    },
    /// The peer cannot measure this (its reason; `input_error` when the shape or the
    /// files were refused rather than the device failing).
    Failed {
        /// Why.
        reason: String,
        /// Whether the input was refused.
        input_error: bool,
    },
}

impl PeerMessage {
    /// The message as one line of JSON.
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"message":"failed","reason":"unserializable message: {e}","input_error":false}}"#)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shape;

    /// A row goes through its line and back unchanged, its schema fields at the top level
    /// (where attnbench's results readers find them).
    #[test]
    fn a_row_survives_its_json_line() {
        let mut row = ResultRow::new("prefill-d64", BURN_KERNEL, &Shape::new(2048, 64));
        row.median_ms = Some(12.5);
        row.config = Some("unit".into());
        let message = PeerMessage::Row {
            row: Box::new(BurnRow {
                row,
                adapter: "llvmpipe".into(),
                backend: "Vulkan".into(),
                burn_version: "0.23.0-pre.1".into(),
                rel_l2_error: Some(1e-7),
                max_abs_error: Some(1e-6),
                non_finite: 0,
                reference_rows: 64,
                tolerance: 1e-4,
                verified: true,
                calls_per_sample: 1,
                samples_ms: vec![12.5],
                autotune: vec![AutotuneCandidate {
                    name: "unit".into(),
                    median_ms: Some(12.0),
                    error: None,
                }],
            }),
        };
        let line = message.line();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["message"], "row");
        assert_eq!(value["row"]["kernel"], "burn");
        assert_eq!(value["row"]["seq_len"], 2048);
        assert_eq!(value["row"]["adapter"], "llvmpipe");
        assert_eq!(serde_json::from_str::<PeerMessage>(&line).unwrap(), message);
    }

    /// Beside the executable, or above cargo's `deps/` (a bench harness); where it is
    /// absent, the reason names the places tried and the build command.
    #[test]
    fn the_peer_is_found_beside_the_executable() {
        let dir = tempfile::tempdir().unwrap();
        let deps = dir.path().join("deps");
        let file = format!("{BURN_PEER_NAME}{}", std::env::consts::EXE_SUFFIX);
        let harness = deps.join("targets-0123");
        let looked = vec![deps.join(&file), dir.path().join(&file)];
        assert_eq!(
            BurnPeer::beside(Some(&harness)),
            BurnPeer::Absent {
                looked: looked.clone()
            }
        );
        let reason = BurnPeer::absent_reason(&looked);
        assert!(reason.contains(BURN_PEER_BUILD), "{reason}");
        assert!(
            reason.contains(&looked[1].display().to_string()),
            "{reason}"
        );
        std::fs::write(dir.path().join(&file), b"").unwrap();
        let found = BurnPeer::At(dir.path().join(&file));
        assert_eq!(BurnPeer::beside(Some(&harness)), found);
        assert_eq!(BurnPeer::beside(Some(&dir.path().join("attnbench"))), found);
        assert_eq!(BurnPeer::beside(None), BurnPeer::default());
    }

    #[test]
    fn commands_are_words() {
        for c in [PeerCommand::Sample, PeerCommand::Finish] {
            assert_eq!(PeerCommand::parse(c.line()), Some(c));
        }
        assert_eq!(PeerCommand::parse("bogus"), None);
    }
}
