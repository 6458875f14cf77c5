//! `flash_subgroup`: flash with one subgroup per query row and subgroup reductions for the
//! online softmax's row max and sum (`shaders/flash_subgroup/flash_subgroup.wgsl`); needs
//! SUBGROUP. Lanes split the keys, so scores need no barriers; the rows' queries sit in
//! workgroup memory and, on GPUs, a row's accumulator columns are split across as many
//! subgroups as keep a lane within the register cap ([`SubgroupPlan`]).
//! Measured on lavapipe (subgroups of 8 AVX2 lanes), n = 2048, d = 64: 1.85 GFLOP/s against
//! flash's 12.5: every lane gathers its own K and V rows, and that is what costs on a CPU
//! driver. GPUs with 32- or 64-wide subgroups are where this variant is meant to be tried.

use crate::error::{Error, Result};
use crate::gpu::{
    Bounds, BufferTracker, DeviceFacts, Gpu, REGISTER_TARGET, bind_buffers, grid_for,
    params_buffer, pipeline_layout, shader, shader_params, specialize, storage_and_params_layout,
};
use crate::kernels::{
    AttentionBuffers, Dispatch, DispatchResources, Dispatches, ForwardPlan, Kernel, Plan,
    PlanContext, PreparedKernel, io_plan, no_backward, workgroup_count,
};
use crate::shape::Shape;
use std::sync::Arc;

/// The subgroup flash kernel.
#[derive(Debug)]
pub struct FlashSubgroup;

shader_params! {
    struct Params {
        seq_len: u32,
        head_dim: u32,
        causal: u32,
        scale_log2: f32,
        rows_per_group: u32,
        q_blocks: u32,
        total_groups: u32,
        heads: u32,
        kv_heads: u32,
        window: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
        _pad3: u32,
    }
}

/// How flash_subgroup lays out one head dim on one device: a pure function of the head
/// dim and the device's facts ([`SubgroupPlan::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubgroupPlan {
    /// Invocations per workgroup.
    pub workgroup: u32,
    /// Query rows per workgroup.
    pub rows: u32,
    /// Subgroups per row, each accumulating a share of the row's columns.
    pub parts: u32,
}

impl SubgroupPlan {
    /// The fewest subgroups per row that keep a lane's live floats within
    /// [`REGISTER_TARGET`] on devices with a register cap (one elsewhere); workgroups of 64
    /// invocations, or one subgroup of the largest size per part, whichever is more; as
    /// many rows as subgroups of the largest size fill it.
    pub fn new(head_dim: u32, facts: &DeviceFacts) -> SubgroupPlan {
        let d4 = head_dim.div_ceil(4);
        let mut parts = 1;
        if let Some(cap) = facts.register_cap {
            while live_floats(head_dim, parts) > cap.min(REGISTER_TARGET) && parts < d4 {
                parts *= 2;
            }
        }
        let max_sg = facts.subgroup_max.max(1);
        let workgroup = 64u32
            .max(max_sg * parts)
            .min(facts.limits.max_compute_invocations_per_workgroup);
        SubgroupPlan {
            workgroup,
            rows: (workgroup / max_sg / parts).max(1),
            parts,
        }
    }

    /// `rows R[, parts P]`, as results name it.
    pub fn label(&self) -> String {
        match self.parts {
            1 => format!("rows {}", self.rows),
            parts => format!("rows {}, parts {parts}", self.rows),
        }
    }

    /// vec4 accumulator columns per lane.
    pub fn columns(&self, head_dim: u32) -> u32 {
        head_dim.div_ceil(4).div_ceil(self.parts)
    }

    /// Bytes of workgroup memory: the rows' scaled queries.
    pub fn workgroup_bytes(&self, head_dim: u32) -> u32 {
        self.rows * head_dim.div_ceil(4) * 16
    }
}

/// Live floats per lane at `head_dim` with `parts` subgroups per row, counted from the
/// shader: its accumulator columns (4·⌈d/4 / parts⌉), m, l, the score, p, α and the new
/// max (6), a K or V vec4 in flight (4) and the key index and bounds (4): 4·DP + 14, with
/// q in workgroup memory.
pub fn live_floats(head_dim: u32, parts: u32) -> u32 {
    4 * head_dim.div_ceil(4).div_ceil(parts.max(1)) + 14
}

#[derive(Clone)]
struct Pipeline {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

fn pipeline(gpu: &Gpu, head_dim: u32, plan: &SubgroupPlan) -> Result<Pipeline> {
    let d4 = head_dim.div_ceil(4);
    gpu.cached((d4, *plan), || {
        let layout = storage_and_params_layout(gpu, "flash_subgroup", &[true, true, true, false]);
        let source = shader!("flash_subgroup/flash_subgroup.wgsl", "common/qkv_rows.wgsl");
        let consts = [
            ("D4", d4),
            ("ROWS", plan.rows),
            ("PARTS", plan.parts),
            ("DP", plan.columns(head_dim)),
        ];
        let pipeline = gpu.compile_text(
            Bounds::InBounds,
            source.name,
            specialize(source, &consts)?,
            "main",
            Some(&pipeline_layout(gpu, &layout)),
            &[("WG", f64::from(plan.workgroup))],
        )?;
        Ok(Pipeline { layout, pipeline })
    })
}

impl FlashSubgroup {
    /// The layout at `shape` on a device with `facts`, refused where the device lacks
    /// subgroups, its registers, workgroup memory or loop cap do not hold it.
    fn check_device(&self, shape: &Shape, facts: &DeviceFacts) -> Result<SubgroupPlan> {
        let unsupported = |reason: String| Error::Unsupported {
            kernel: self.name().into(),
            reason,
        };
        if !facts.has_subgroups() {
            return Err(unsupported(format!("{} has no SUBGROUP", facts.name)));
        }
        let plan = SubgroupPlan::new(shape.head_dim, facts);
        facts.check_registers(
            self.name(),
            &format!(
                "flash_subgroup with {} subgroup(s) per row at head_dim {}",
                plan.parts, shape.head_dim
            ),
            live_floats(shape.head_dim, plan.parts),
        )?;
        let limits = &facts.limits;
        if plan.workgroup_bytes(shape.head_dim) > limits.max_compute_workgroup_storage_size
            || plan.rows * plan.parts * facts.subgroup_max.max(1) > plan.workgroup
        {
            return Err(unsupported(format!(
                "{plan:?} at head_dim {} does not fit {}'s workgroups",
                shape.head_dim, facts.name
            )));
        }
        // Each lane loops over n / subgroup size keys, twice over the columns.
        if let Some(cap) = facts.loop_cap {
            let min_sg = u64::from(facts.subgroup_min.max(1));
            let d4 = u64::from(shape.head_dim.div_ceil(4));
            let iterations = u64::from(shape.seq_len).div_ceil(min_sg) * (2 * d4 + 2) + 2 * d4;
            if iterations > cap * 9 / 10 {
                return Err(unsupported(format!(
                    "{} caps shader loops at {cap} iterations per invocation; this shape needs {iterations}",
                    facts.name
                )));
            }
        }
        Ok(plan)
    }
}

impl Kernel for FlashSubgroup {
    /// Audited: every index in bounds by construction (rows past n clamped, loads
    /// guarded), so its shaders compile without naga's runtime checks.
    fn bounds(&self) -> Bounds {
        Bounds::InBounds
    }

    fn name(&self) -> &'static str {
        "flash_subgroup"
    }

    fn required_features(&self) -> wgpu::Features {
        wgpu::Features::SUBGROUP
    }

    fn summary(&self) -> &'static str {
        "flash with a subgroup per query row: subgroupMax/subgroupAdd for the softmax (SUBGROUP)"
    }

    /// [`SubgroupPlan::new`], checked against the device; labelled `rows R[, parts P]`.
    fn plan(&self, shape: &Shape, ctx: &PlanContext<'_>) -> Result<Box<dyn Plan>> {
        let plan = self.check_device(shape, ctx.facts)?;
        if shape.pass.has_backward() {
            return Err(no_backward(self));
        }
        let mut memory = io_plan(shape, self.query_rows(shape));
        memory.other("params", std::mem::size_of::<Params>() as u64);
        let live = live_floats(shape.head_dim, plan.parts);
        Ok(Box::new(ForwardPlan {
            kernel: self.name(),
            decided: (*shape, plan),
            memory,
            label: Some(plan.label()),
            live_floats: Some(live),
            dispatches: vec![DispatchResources {
                name: "forward",
                invocations: plan.workgroup,
                workgroups: shape.batch_heads() * u64::from(shape.seq_len.div_ceil(plan.rows)),
                live_floats: live,
                workgroup_bytes: plan.workgroup_bytes(shape.head_dim),
            }],
            build,
        }))
    }
}

/// The dispatch of `plan` at `shape` on `io`.
fn build(
    (shape, plan): &(Shape, SubgroupPlan),
    gpu: &Gpu,
    io: &AttentionBuffers,
    tracker: &Arc<BufferTracker>,
) -> Result<Box<dyn PreparedKernel>> {
    let rows_per_group = plan.rows;
    let p = pipeline(gpu, shape.head_dim, plan)?;
    let q_blocks = shape.seq_len.div_ceil(rows_per_group);
    let total = shape.batch_heads() * u64::from(q_blocks);
    let total_groups = workgroup_count("flash_subgroup", shape, total)?;
    let params = params_buffer(
        gpu,
        tracker,
        "flash_subgroup params",
        &Params {
            seq_len: shape.seq_len,
            head_dim: shape.head_dim,
            causal: u32::from(shape.causal),
            scale_log2: shape.scale() * std::f32::consts::LOG2_E,
            rows_per_group,
            q_blocks,
            total_groups,
            heads: shape.heads,
            kv_heads: shape.kv_head_count(),
            window: shape.window.unwrap_or(0),
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
            _pad3: 0,
        },
    )?;
    let bind_group = bind_buffers(
        gpu,
        "flash_subgroup",
        &p.layout,
        &[&io.q, &io.k, &io.v, &io.o, &params],
    );
    Ok(Box::new(Dispatches {
        steps: vec![Dispatch {
            pipeline: p.pipeline,
            bind_group,
            grid: grid_for(total, gpu.limits().max_compute_workgroups_per_dimension)?,
        }],
        _buffers: vec![params],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader() {
        let wgsl = crate::gpu::shader!("flash_subgroup/flash_subgroup.wgsl").wgsl;
        assert_eq!(
            crate::gpu::wgsl_mismatch::<Params>(wgsl),
            None,
            "flash_subgroup/flash_subgroup.wgsl"
        );
    }

    #[test]
    fn rows_split_across_subgroups_to_stay_within_the_register_cap() {
        let h100 = DeviceFacts::h100();
        for (head_dim, parts, rows) in [(64, 1, 2), (128, 2, 1), (256, 4, 1)] {
            let plan = SubgroupPlan::new(head_dim, &h100);
            assert_eq!((plan.parts, plan.rows), (parts, rows), "d{head_dim}");
            assert!(live_floats(head_dim, plan.parts) <= REGISTER_TARGET);
            assert!(
                FlashSubgroup
                    .check_device(&Shape::new(300, head_dim), &h100)
                    .is_ok()
            );
        }
        // Forcing one part at d = 128 keeps 142 floats: over the cap, refused.
        assert!(live_floats(128, 1) > crate::gpu::REGISTER_CAP);
        let mut cpu = DeviceFacts::simulated_gpu(Some((8, 8)));
        cpu.is_cpu = true;
        cpu.register_cap = None;
        assert_eq!(SubgroupPlan::new(256, &cpu).parts, 1);
    }
}
