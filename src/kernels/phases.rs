//! Where a run's time goes: a prepared kernel may label its dispatches with named phases
//! ([`Phase`]; naive's QKᵀ, softmax and P·V), so that a step apart from the main timing loop
//! can record each run of consecutive dispatches of one phase ([`Segment`]) in a compute pass
//! of its own and time it (`crate::run::phase_split`).

/// A named group of a kernel's dispatches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    /// Its name in results, e.g. `QKᵀ`, `softmax`, `P·V`.
    pub name: &'static str,
    /// Its multiply-adds as a share of one forward's FLOPs ([`crate::Shape::forward_flops`]):
    /// 0.5 for each of attention's four n²·d products, 0 for passes without one.
    pub forward_share: f64,
}

/// Consecutive dispatches of one phase, in the order a run records them.
pub struct Segment<'a> {
    /// The phase they belong to.
    pub phase: Phase,
    record: Box<dyn Fn(&mut wgpu::ComputePass<'_>) + 'a>,
}

impl<'a> Segment<'a> {
    /// A segment of `phase` that `record` records.
    pub fn new(phase: Phase, record: impl Fn(&mut wgpu::ComputePass<'_>) + 'a) -> Self {
        Segment {
            phase,
            record: Box::new(record),
        }
    }

    /// Records the segment's dispatches into `pass`.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        (self.record)(pass);
    }
}
