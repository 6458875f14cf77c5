//! [`Bench`]: the device a kernel runs on ([`Gpu`]) with what its plans are made from
//! besides the device's facts — its tuned choices (`attnbench tune`) and the user's
//! overrides — as typed values, set once at the edge. It dereferences to its [`Gpu`].

use crate::gpu::{Bounds, Gpu, MemoryBudget};
use crate::kernels::{KernelOverrides, PlanContext, TunedChoices};

/// Everything a plan is made and checked against, without the device itself: the plan
/// context, the memory budget, and whether shaders audited in bounds run without naga's
/// checks. The sweep's core plans with it, so a test can sweep a device that is not here.
#[derive(Clone, Copy, Debug)]
pub struct Planner<'a> {
    /// The facts, tuned choices and overrides plans are made from.
    pub ctx: PlanContext<'a>,
    /// How many bytes of buffers may live at once.
    pub budget: &'a MemoryBudget,
    /// Whether audited shaders compile without naga's runtime checks.
    pub audited_unchecked: bool,
}

impl Planner<'_> {
    /// `f` with this planner as if the driver capped no loops: what a plan would need
    /// whatever the loops do (the memory wall stands either way).
    pub fn without_loop_cap<T>(&self, f: impl FnOnce(&Planner<'_>) -> T) -> T {
        let facts = crate::gpu::DeviceFacts {
            loop_cap: None,
            ..self.ctx.facts.clone()
        };
        let planner = Planner {
            ctx: PlanContext {
                facts: &facts,
                ..self.ctx
            },
            ..*self
        };
        f(&planner)
    }

    /// Whether shaders that vouch for `bounds` compile without naga's runtime checks.
    pub fn runtime_checks_off(&self, bounds: Bounds) -> bool {
        bounds == Bounds::InBounds && self.audited_unchecked
    }
}

/// A device with its tuned choices and the user's overrides.
pub struct Bench {
    gpu: Gpu,
    tuned: TunedChoices,
    overrides: KernelOverrides,
    given: Vec<(String, String)>,
}

impl std::fmt::Debug for Bench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bench")
            .field("gpu", &self.gpu)
            .field("tuned", &self.tuned)
            .field("overrides", &self.overrides)
            .finish()
    }
}

impl Bench {
    /// `gpu` with nothing tuned and `overrides`.
    pub fn new(gpu: Gpu, overrides: KernelOverrides) -> Bench {
        Bench {
            gpu,
            tuned: TunedChoices::default(),
            overrides,
            given: Vec::new(),
        }
    }

    /// `gpu` with nothing tuned and nothing overridden: what the kernels choose by
    /// themselves.
    pub fn untuned(gpu: Gpu) -> Bench {
        Self::new(gpu, KernelOverrides::default())
    }

    /// Everything a plan on this bench is made and checked against.
    pub fn planner(&self) -> Planner<'_> {
        Planner {
            ctx: self.plan_context(),
            budget: self.gpu.memory_budget(),
            audited_unchecked: self.gpu.runtime_checks_off(Bounds::InBounds),
        }
    }

    /// Everything a plan on this bench is made from.
    pub fn plan_context(&self) -> PlanContext<'_> {
        PlanContext {
            facts: self.gpu.facts(),
            tuned: &self.tuned,
            overrides: &self.overrides,
        }
    }

    /// The device.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The device's tuned choices.
    pub fn tuned(&self) -> &TunedChoices {
        &self.tuned
    }

    /// Replaces the tuned choices (loaded and checked by [`crate::tuning::apply`]).
    pub fn set_tuned(&mut self, tuned: TunedChoices) {
        self.tuned = tuned;
    }

    /// The user's overrides.
    pub fn overrides(&self) -> &KernelOverrides {
        &self.overrides
    }

    /// The settings given at the edge (variable name, value), which every run records.
    pub fn given(&self) -> &[(String, String)] {
        &self.given
    }

    /// Records the settings given at the edge.
    pub fn set_given(&mut self, given: Vec<(String, String)>) {
        self.given = given;
    }

    /// The device, mutably (the browser names its adapter after opening it).
    pub fn gpu_mut(&mut self) -> &mut Gpu {
        &mut self.gpu
    }
}

impl std::ops::Deref for Bench {
    type Target = Gpu;

    fn deref(&self) -> &Gpu {
        &self.gpu
    }
}
