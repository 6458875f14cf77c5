//! The chart families a sweep measures ([`Family`]): each a list of shapes along one axis,
//! of a [`FamilyKind`] (defined with the results, whose rows carry it), and the shape of a
//! kind's point in a sweep's batch and heads.

use super::config::SweepConfig;
use crate::kernels::Workload;
use crate::results::{Axis, FamilyKind};
use crate::shape::Shape;

impl FamilyKind {
    /// The shape of its point at `x` (n, or d for the head-dim family) in `config`'s batch
    /// and heads.
    pub fn shape_at(&self, x: u32, config: &SweepConfig) -> Shape {
        let base = |seq_len, head_dim, causal| {
            Shape::new(seq_len, head_dim)
                .with_batch_heads(config.batch, config.heads)
                .with_causal(causal)
                .with_kv_heads(config.kv_heads.unwrap_or(config.heads))
                .with_pass(self.pass())
        };
        match *self {
            FamilyKind::Prefill { head_dim, causal } => base(x, head_dim, causal),
            FamilyKind::HeadDim { seq_len } => base(seq_len, x, false),
            FamilyKind::Window { head_dim, window } => {
                base(x, head_dim, true).with_window(Some(window))
            }
            FamilyKind::Training { head_dim, causal } => base(x, head_dim, causal),
            FamilyKind::Backward { head_dim } => base(x, head_dim, false),
            FamilyKind::Decode { head_dim } => base(x, head_dim, true),
        }
    }
}

/// One chart family: its kind and its points, in sweep order.
#[derive(Clone, Debug)]
pub struct Family {
    /// What it measures.
    pub kind: FamilyKind,
    /// Its name ([`FamilyKind::name`]).
    pub name: String,
    /// The points, in sweep order.
    pub shapes: Vec<Shape>,
}

impl Family {
    fn new(kind: FamilyKind, xs: &[u32], config: &SweepConfig) -> Family {
        Family {
            kind,
            name: kind.name(),
            shapes: xs.iter().map(|&x| kind.shape_at(x, config)).collect(),
        }
    }

    /// What varies along it.
    pub fn axis(&self) -> Axis {
        self.kind.axis()
    }

    /// Which kernels it runs.
    pub fn workload(&self) -> Workload {
        self.kind.workload()
    }
}

/// The families `config` asks for: n sweeps per head dim and causal setting, the head-dim
/// sweep, the sliding windows, the training families and decode.
pub fn families(config: &SweepConfig) -> Vec<Family> {
    let mut kinds = Vec::new();
    for &causal in &config.causal {
        for &head_dim in &config.head_dims {
            kinds.push(FamilyKind::Prefill { head_dim, causal });
        }
    }
    let mut out: Vec<Family> = kinds
        .into_iter()
        .map(|kind| Family::new(kind, &config.seq_lens, config))
        .collect();
    if !config.head_dim_sweep.is_empty() {
        let kind = FamilyKind::HeadDim {
            seq_len: config.head_dim_sweep_seq_len,
        };
        out.push(Family::new(kind, &config.head_dim_sweep, config));
    }
    let mut along_n = Vec::new();
    if let Some(window) = config.window {
        for &head_dim in &config.head_dims {
            along_n.push(FamilyKind::Window { head_dim, window });
        }
    }
    if config.training {
        for &head_dim in &config.head_dims {
            along_n.extend([
                FamilyKind::Training {
                    head_dim,
                    causal: false,
                },
                FamilyKind::Training {
                    head_dim,
                    causal: true,
                },
                FamilyKind::Backward { head_dim },
            ]);
        }
    }
    for &head_dim in &config.head_dims {
        along_n.push(FamilyKind::Decode { head_dim });
    }
    out.extend(
        along_n
            .into_iter()
            .map(|kind| Family::new(kind, &config.seq_lens, config)),
    );
    out
}
