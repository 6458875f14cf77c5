//! [`PointPlan`]: one kernel's plan for one shape, made once and carried (the memory
//! check, the label beside a result and the run read the same decisions).

use crate::bench::{Bench, Planner};
use crate::error::Result;
use crate::gpu::MemoryPlan;
use crate::kernels::{Kernel, Plan};
use crate::shape::Shape;

/// One kernel's plan for one shape on one bench: made once ([`PointPlan::new`]) and
/// carried, so that the memory check, the label recorded beside a result and the run all
/// read the same decisions.
pub struct PointPlan<'k> {
    kernel: &'k dyn Kernel,
    shape: Shape,
    plan: Box<dyn Plan>,
    label: Option<String>,
}

impl<'k> PointPlan<'k> {
    /// `kernel`'s plan for `shape` on `bench` (its tuned choices and overrides): the shape
    /// validated, the kernel's refusal where it cannot run it; the memory is not checked
    /// yet ([`PointPlan::check`]).
    pub fn new(bench: &Bench, kernel: &'k dyn Kernel, shape: &Shape) -> Result<PointPlan<'k>> {
        Self::on(&bench.planner(), kernel, shape)
    }

    /// [`PointPlan::new`] with a planner (the sweep's core plans without the device).
    pub fn on(
        planner: &Planner<'_>,
        kernel: &'k dyn Kernel,
        shape: &Shape,
    ) -> Result<PointPlan<'k>> {
        shape.validate()?;
        let plan = match kernel.plan(shape, &planner.ctx) {
            Ok(plan) => plan,
            // Memory first: past the memory wall, that is the reason, with the bytes,
            // whatever else (a driver's loop cap) refuses the shape.
            Err(refusal @ crate::error::Error::Unsupported { .. })
                if planner.ctx.facts.loop_cap.is_some() =>
            {
                let wall = planner.without_loop_cap(|uncapped| {
                    let plan = kernel.plan(shape, &uncapped.ctx).ok()?;
                    let what = format!("{} at {shape}", kernel.name());
                    let facts = uncapped.ctx.facts;
                    plan.memory()
                        .check(&what, &facts.limits, uncapped.budget)
                        .err()
                });
                return Err(wall.unwrap_or(refusal));
            }
            Err(other) => return Err(other),
        };
        let label = config_label(plan.label(), planner.runtime_checks_off(kernel.bounds()));
        Ok(PointPlan {
            kernel,
            shape: *shape,
            plan,
            label,
        })
    }

    /// [`PointPlan::new`], then [`PointPlan::check`]: a plan that fits the device.
    pub fn checked(bench: &Bench, kernel: &'k dyn Kernel, shape: &Shape) -> Result<PointPlan<'k>> {
        let plan = Self::new(bench, kernel, shape)?;
        plan.check(bench)?;
        Ok(plan)
    }

    /// Refuses a plan whose buffers do not fit the device's limits or its memory budget
    /// ([`crate::Error::TooLarge`], with the bytes): the wall.
    pub fn check(&self, bench: &Bench) -> Result<()> {
        self.check_on(&bench.planner())
    }

    /// [`PointPlan::check`] against a planner's limits and budget.
    pub fn check_on(&self, planner: &Planner<'_>) -> Result<()> {
        self.plan.memory().check(
            &format!("{} at {}", self.kernel.name(), self.shape),
            &planner.ctx.facts.limits,
            planner.budget,
        )
    }

    /// The kernel.
    pub fn kernel(&self) -> &'k dyn Kernel {
        self.kernel
    }

    /// The problem.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Every buffer the run creates.
    pub fn memory(&self) -> &MemoryPlan {
        self.plan.memory()
    }

    /// The configuration recorded beside each result, so that numbers name what ran: the
    /// kernel's tiles, followed by `checks off` where its shaders run without naga's
    /// runtime checks (e.g. `texels,32,4; checks off`).
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Builds the plan on `buffers` ([`Plan::prepare`]).
    pub(super) fn prepare(
        &self,
        gpu: &crate::gpu::Gpu,
        buffers: crate::kernels::RunBuffers<'_>,
        tracker: &std::sync::Arc<crate::gpu::BufferTracker>,
    ) -> Result<crate::kernels::Prepared> {
        self.plan.prepare(gpu, buffers, tracker)
    }

    /// Live floats per invocation of the main kernel, where the kernel models them.
    pub fn live_floats(&self) -> Option<u32> {
        self.plan.live_floats()
    }
}

/// The label [`PointPlan::label`] of `kernel`'s plan for `shape` on `bench`, where it has
/// one (for reports that name what a step ran without keeping its run).
pub fn label_of(bench: &Bench, kernel: &dyn Kernel, shape: &Shape) -> Option<String> {
    PointPlan::new(bench, kernel, shape)
        .ok()?
        .label()
        .map(str::to_string)
}

impl std::fmt::Debug for PointPlan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointPlan")
            .field("kernel", &self.kernel.name())
            .field("shape", &self.shape)
            .field("label", &self.label)
            .field("bytes", &self.plan.memory().total_bytes())
            .finish()
    }
}

/// `tiles`, with `; checks off` where the shaders ran without naga's runtime checks.
fn config_label(tiles: Option<String>, checks_off: bool) -> Option<String> {
    if !checks_off {
        return tiles;
    }
    Some(match tiles {
        Some(tiles) => format!("{tiles}; checks off"),
        None => "checks off".into(),
    })
}
