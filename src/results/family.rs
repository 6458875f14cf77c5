//! What a results row belongs to: its family's kind ([`FamilyKind`], with its
//! parameters) and the axis its charts vary ([`Axis`]). A family's name
//! (`prefill-causal-d64`, `headdim-n1024`) is derived from its kind; rows written before
//! the kind was recorded get it from their name, once, at the loader
//! ([`FamilyKind::from_name`]).

use crate::kernels::Workload;
use crate::shape::{Pass, Shape};
use serde::{Deserialize, Serialize};

/// What varies along a family, and so on its charts' x axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// The sequence length n.
    #[default]
    SeqLen,
    /// The head dimension d.
    HeadDim,
}

/// What a family measures, with its parameters. Results rows carry it
/// (`{"kind": "prefill", "head_dim": 64, "causal": false}`), so reports ask a row what its
/// family is rather than reading its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FamilyKind {
    /// The forward over n at one head dim, causal or not (`prefill-d64`,
    /// `prefill-causal-d64`).
    Prefill {
        /// d.
        head_dim: u32,
        /// Causal mask.
        causal: bool,
    },
    /// The forward over the head dim at one n (`headdim-n1024`).
    HeadDim {
        /// n.
        seq_len: u32,
    },
    /// The causal forward with a sliding window W over n (`window-d64`).
    Window {
        /// d.
        head_dim: u32,
        /// W.
        window: u32,
    },
    /// A training step (forward and backward) over n (`train-d64`, `train-causal-d64`).
    Training {
        /// d.
        head_dim: u32,
        /// Causal mask.
        causal: bool,
    },
    /// The backward alone over n (`backward-d64`).
    Backward {
        /// d.
        head_dim: u32,
    },
    /// One generated token against n cached keys (`decode-d64`).
    Decode {
        /// d.
        head_dim: u32,
    },
}

impl FamilyKind {
    /// The family's name, as results and chart files carry it.
    pub fn name(&self) -> String {
        let causal = |c: bool| if c { "-causal" } else { "" };
        match *self {
            FamilyKind::Prefill {
                head_dim,
                causal: c,
            } => {
                format!("prefill{}-d{head_dim}", causal(c))
            }
            FamilyKind::HeadDim { seq_len } => format!("headdim-n{seq_len}"),
            FamilyKind::Window { head_dim, .. } => format!("window-d{head_dim}"),
            FamilyKind::Training {
                head_dim,
                causal: c,
            } => {
                format!("train{}-d{head_dim}", causal(c))
            }
            FamilyKind::Backward { head_dim } => format!("backward-d{head_dim}"),
            FamilyKind::Decode { head_dim } => format!("decode-d{head_dim}"),
        }
    }

    /// The kind a family name of a file written before kinds were recorded stands for
    /// (the window of a `window-…` family is the rows' `window`): the one kind whose
    /// [`FamilyKind::name`] it is; `None` for names this attnbench does not know.
    pub fn from_name(name: &str, window: Option<u32>) -> Option<FamilyKind> {
        let number = |text: &str| -> Option<u32> {
            // Digits only, no sign or leading zero: the form `name` writes.
            let canonical = !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit())
                && !(text.len() > 1 && text.starts_with('0'));
            canonical.then(|| text.parse().ok()).flatten()
        };
        let (stem, last) = name.rsplit_once('-')?;
        let kind = if let Some(seq_len) = last.strip_prefix('n').and_then(number) {
            (stem == "headdim").then_some(FamilyKind::HeadDim { seq_len })?
        } else {
            let head_dim = last.strip_prefix('d').and_then(number)?;
            match stem {
                "prefill" | "prefill-causal" => FamilyKind::Prefill {
                    head_dim,
                    causal: stem.ends_with("causal"),
                },
                "train" | "train-causal" => FamilyKind::Training {
                    head_dim,
                    causal: stem.ends_with("causal"),
                },
                "window" => FamilyKind::Window {
                    head_dim,
                    window: window?,
                },
                "backward" => FamilyKind::Backward { head_dim },
                "decode" => FamilyKind::Decode { head_dim },
                _ => return None,
            }
        };
        (kind.name() == name).then_some(kind)
    }

    /// Whether `shape` is a point of this family (its fixed sizes, mask, window and pass);
    /// the first field that differs when not.
    pub fn holds(&self, shape: &Shape) -> Result<(), &'static str> {
        let (causal, window) = match *self {
            FamilyKind::Prefill { causal, .. } | FamilyKind::Training { causal, .. } => {
                (causal, None)
            }
            FamilyKind::HeadDim { .. } | FamilyKind::Backward { .. } => (false, None),
            FamilyKind::Window { window, .. } => (true, Some(window)),
            FamilyKind::Decode { .. } => (true, None),
        };
        let fixed = match *self {
            FamilyKind::HeadDim { seq_len } => ("seq_len", shape.seq_len == seq_len),
            FamilyKind::Prefill { head_dim, .. }
            | FamilyKind::Training { head_dim, .. }
            | FamilyKind::Window { head_dim, .. }
            | FamilyKind::Backward { head_dim }
            | FamilyKind::Decode { head_dim } => ("head_dim", shape.head_dim == head_dim),
        };
        if !fixed.1 {
            return Err(fixed.0);
        }
        if shape.causal != causal {
            return Err("causal");
        }
        if shape.window != window {
            return Err("window");
        }
        if shape.pass != self.pass() {
            return Err("pass");
        }
        Ok(())
    }

    /// Whether it is a prefill family (the forward over n, causal or not).
    pub fn is_prefill(&self) -> bool {
        matches!(self, FamilyKind::Prefill { .. })
    }

    /// Whether it is a training-step family (forward and backward over n).
    pub fn is_training(&self) -> bool {
        matches!(self, FamilyKind::Training { .. })
    }

    /// What varies along it.
    pub fn axis(&self) -> Axis {
        match self {
            FamilyKind::HeadDim { .. } => Axis::HeadDim,
            _ => Axis::SeqLen,
        }
    }

    /// Which kernels it runs.
    pub fn workload(&self) -> Workload {
        match self {
            FamilyKind::Decode { .. } => Workload::Decode,
            _ => Workload::Prefill,
        }
    }

    /// The passes its points time.
    pub fn pass(&self) -> Pass {
        match self {
            FamilyKind::Training { .. } => Pass::ForwardBackward,
            FamilyKind::Backward { .. } => Pass::Backward,
            _ => Pass::Forward,
        }
    }

    /// Whether it carries the argument reports make (the quadratic wall in inference and
    /// training): prefill, causal prefill and the training step.
    pub fn is_headline(&self) -> bool {
        matches!(
            self,
            FamilyKind::Prefill { .. } | FamilyKind::Training { causal: false, .. }
        )
    }
}
