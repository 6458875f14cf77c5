//! flash's backward pass: FlashAttention-2's (Dao 2023, algorithm 2) in three kernels,
//! O(B·H·n·d) memory, no float atomics:
//!
//! 1. the forward leaves each row's logsumexp L in its state buffer (one float per row
//!    beside the between-pass state);
//! 2. `shaders/flash/backward_stats.wgsl`: D = rowsum(dO ∘ O) per row, stored with L four
//!    rows per vec4;
//! 3. `shaders/flash/backward_dkdv.wgsl`: workgroups own key blocks of a KV head, hold K, V,
//!    dK and dV in registers and stream the query rows of its query heads, recomputing
//!    P = exp(scale·q·k − L);
//! 4. `shaders/flash/backward_dq.wgsl`: workgroups own query blocks, hold Q, dO and dQ in
//!    registers and stream the keys (Triton's fused-attention tutorial splits dQ off the
//!    same way; FlashAttention-2 instead adds dQ with atomics, which WGSL lacks for floats).
//!
//! The two main kernels come in two layouts ([`BackwardLayout`]): on CPU drivers with one
//! fixed subgroup size they share the rows they stream across a subgroup with
//! `subgroupBroadcast` from constant lanes and unroll their column loops, as the forward's
//! broadcast kernel does; elsewhere (`*_tiles.wgsl`) the streamed rows go through
//! workgroup-memory tiles and each own row is split across lanes whose partial dots are
//! summed by subgroup butterfly or through workgroup memory, so they run at any subgroup
//! size, or none, within the register cap. Causal
//! blocks skip the blocks they cannot see; a window bounds both loops. Loop caps (lavapipe)
//! split each kernel into passes that add into the gradients.
//!
//! The FLOP model is FlashAttention's: the backward counts 2.5 forwards (10·B·H·n²·d,
//! halved when causal). These kernels do 3.5 forwards' worth (P is recomputed in both),
//! so their FMA efficiency is 1.4× what the reported GFLOP/s suggest.

use super::backward_layout::{BackwardLayout, BackwardPasses};
use super::backward_pipelines::{Main, STATS_THREADS, main_pipeline, stats_bytes, stats_pipeline};
use super::config::kv_texels;
use super::config::q_texels;
use super::forward::{RunResources, forward_memory, prepare_forward};
use super::plan::{BackwardPlan, FlashPlan};
use super::texel_pair::TexelPair;
use super::variant::Flash;
use crate::error::{Error, Result};
use crate::gpu::{
    BufferTracker, DeviceFacts, Gpu, MemoryPlan, Resource, TrackedBuffer, bind_buffers,
    bind_resources, grid_for, params_buffer, shader_params,
};
use crate::kernels::{
    AttentionBuffers, Backward, Dispatch, Dispatches, GradientBuffers, KeepAlive, Precision,
    Prepared, PreparedKernel, gradient_plan, workgroup_count,
};
use crate::shape::Shape;
use std::sync::Arc;

shader_params! {
    struct Params {
        seq_len: u32,
        head_dim: u32,
        causal: u32,
        scale_log2: f32,
        scale: f32,
        blocks: u32,
        total_groups: u32,
        begin: u32,
        stop: u32,
        accumulate: u32,
        heads: u32,
        kv_heads: u32,
        window: u32,
        state_stride: u32,
        padded_rows: u32,
        _pad: u32,
    }
}

impl Params {
    /// The parameters every dispatch of the backward shares for `shape`.
    fn template(shape: &Shape) -> Params {
        let padded_rows = shape.seq_len.next_multiple_of(4);
        Params {
            seq_len: shape.seq_len,
            head_dim: shape.head_dim,
            causal: u32::from(shape.causal),
            scale_log2: shape.scale() * std::f32::consts::LOG2_E,
            scale: shape.scale(),
            blocks: 0,
            total_groups: 0,
            begin: 0,
            stop: padded_rows,
            accumulate: 0,
            heads: shape.heads,
            kv_heads: shape.kv_head_count(),
            window: shape.window.unwrap_or(0),
            state_stride: (shape.head_dim.div_ceil(4) + 1) * 4,
            padded_rows,
            _pad: 0,
        }
    }
}

impl Backward for Flash {
    fn summary(&self) -> &'static str {
        "FlashAttention-2: logsumexp saved by the forward, D = rowsum(dO∘O), dK/dV over key blocks and dQ over query blocks recomputing P"
    }
}

/// The buffers a training run of `plan` (with its `backward`) creates for `shape`: the
/// forward's, dO and the gradients, the stats and the backward's parameters.
pub(super) fn training_memory(
    plan: &FlashPlan,
    backward: &BackwardPlan,
    shape: &Shape,
    facts: &DeviceFacts,
) -> MemoryPlan {
    let mut memory = forward_memory(plan, shape, facts);
    memory.buffers.extend(gradient_plan(shape).buffers);
    memory.storage("stats", stats_bytes(shape));
    let n = u64::from(shape.seq_len);
    let count = 1
        + BackwardPasses::ranges(backward.passes.dq_keys, n).len()
        + BackwardPasses::ranges(backward.passes.dkdv_rows, n).len();
    memory.other(
        "backward params",
        (count * std::mem::size_of::<Params>()) as u64,
    );
    memory
}

/// Builds the forward and the backward of `plan` on one set of buffers (one texel pair
/// for the forward's K/V and the backward's streamed rows).
pub(super) fn prepare_training(
    gpu: &Gpu,
    shape: &Shape,
    (plan, backward): (&FlashPlan, BackwardPlan),
    (io, grads): (&AttentionBuffers, &GradientBuffers),
    tracker: &Arc<BufferTracker>,
) -> Result<Prepared> {
    let resources = RunResources::allocate(plan, shape, gpu, tracker)?;
    let forward = prepare_forward(gpu, shape, io, tracker, (plan, Precision::F32), &resources)?;
    let pair = match (backward.layout.texels, &resources.texels) {
        (false, _) => None,
        (true, Some(pair)) => Some(pair.clone()),
        (true, None) => {
            return Err(Error::Gpu {
                during: format!("preparing flash's backward at {shape}"),
                message: "its layout reads texels but no texel pair was planned".into(),
            });
        }
    };
    let run = BackwardRun {
        gpu,
        shape,
        io,
        grads,
        tracker,
        backward,
        pair: pair.as_deref(),
    };
    let stats = gpu.buffer(
        tracker,
        "flash stats",
        stats_bytes(shape),
        wgpu::BufferUsages::STORAGE,
    )?;
    let mut steps = Vec::new();
    let mut buffers = Vec::new();
    run.stats_step(&resources.state, &stats, &mut steps, &mut buffers)?;
    for which in [Main::DkDv, Main::Dq] {
        run.main_steps(which, &stats, &mut steps, &mut buffers)?;
    }
    buffers.extend([stats, resources.state]);
    let dispatches: Box<dyn PreparedKernel> = Box::new(Dispatches {
        steps,
        _buffers: buffers,
    });
    Ok(Prepared::Training {
        forward,
        backward: match pair {
            Some(pair) => Box::new(KeepAlive {
                inner: dispatches,
                _held: pair,
            }),
            None => dispatches,
        },
    })
}

/// What building the backward's dispatches for one run needs.
struct BackwardRun<'a> {
    gpu: &'a Gpu,
    shape: &'a Shape,
    io: &'a AttentionBuffers,
    grads: &'a GradientBuffers,
    tracker: &'a Arc<BufferTracker>,
    backward: BackwardPlan,
    pair: Option<&'a TexelPair>,
}

impl BackwardRun<'_> {
    /// D and L, four rows per vec4, from O, dO and the forward's state.
    fn stats_step(
        &self,
        state: &TrackedBuffer,
        stats: &TrackedBuffer,
        steps: &mut Vec<Dispatch>,
        buffers: &mut Vec<TrackedBuffer>,
    ) -> Result<()> {
        let (gpu, shape) = (self.gpu, self.shape);
        let pipeline = stats_pipeline(gpu)?;
        let heads = workgroup_count("flash backward", shape, shape.batch_heads())?;
        let params = params_buffer(
            gpu,
            self.tracker,
            "flash stats params",
            &Params {
                total_groups: heads,
                ..Params::template(shape)
            },
        )?;
        let padded_rows = u64::from(shape.seq_len.next_multiple_of(4));
        steps.push(Dispatch {
            pipeline: pipeline.pipeline.clone(),
            bind_group: bind_buffers(
                gpu,
                "flash stats",
                &pipeline.layout,
                &[&self.io.o, &self.grads.d_o, state, stats, &params],
            ),
            grid: grid_for(
                (shape.batch_heads() * padded_rows).div_ceil(STATS_THREADS),
                gpu.limits().max_compute_workgroups_per_dimension,
            )?,
        });
        buffers.push(params);
        Ok(())
    }

    /// The dispatches of one main kernel: the pack of the rows it streams into the texel
    /// pair where the layout reads texels, then one dispatch per pass.
    fn main_steps(
        &self,
        which: Main,
        stats: &TrackedBuffer,
        steps: &mut Vec<Dispatch>,
        buffers: &mut Vec<TrackedBuffer>,
    ) -> Result<()> {
        let (gpu, shape, io, grads) = (self.gpu, self.shape, self.io, self.grads);
        let layout: BackwardLayout = self.backward.layout;
        let per_pass = match which {
            Main::Dq => self.backward.passes.dq_keys,
            Main::DkDv => self.backward.passes.dkdv_rows,
        };
        let pipeline = main_pipeline(gpu, which, layout, shape.head_dim)?;
        if let Some(pair) = self.pair {
            let (streamed, texels) = match which {
                Main::Dq => ((&*io.k, &*io.v), kv_texels(shape)),
                Main::DkDv => ((&*io.q, &*grads.d_o), q_texels(shape)),
            };
            let (pack, params) = pair.pack(gpu, self.tracker, streamed, texels)?;
            steps.push(pack);
            buffers.push(params);
        }
        let mut bound = self.inputs(which);
        bound.push(Resource::Buffer(stats));
        match which {
            Main::Dq => bound.push(Resource::Buffer(&grads.dq)),
            Main::DkDv => bound.extend([Resource::Buffer(&grads.dk), Resource::Buffer(&grads.dv)]),
        }
        let n = shape.seq_len;
        let blocks = n.div_ceil(layout.rows_per_workgroup(which == Main::Dq));
        let heads = match which {
            Main::Dq => shape.batch_heads(),
            Main::DkDv => u64::from(shape.batch) * u64::from(shape.kv_head_count()),
        };
        let total = heads * u64::from(blocks);
        let total_groups = workgroup_count("flash backward", shape, total)?;
        let grid = grid_for(total, gpu.limits().max_compute_workgroups_per_dimension)?;
        for (pass, (begin, stop)) in BackwardPasses::ranges(per_pass, u64::from(n))
            .into_iter()
            .enumerate()
        {
            let params = params_buffer(
                gpu,
                self.tracker,
                &format!("flash backward {which:?} params[{pass}]"),
                &Params {
                    blocks,
                    total_groups,
                    begin,
                    stop,
                    accumulate: u32::from(pass > 0),
                    ..Params::template(shape)
                },
            )?;
            let mut with_params = bound.clone();
            with_params.push(Resource::Buffer(&params));
            steps.push(Dispatch {
                pipeline: pipeline.pipeline.clone(),
                bind_group: bind_resources(gpu, "flash backward", &pipeline.layout, &with_params),
                grid,
            });
            buffers.push(params);
        }
        Ok(())
    }

    /// Q, K, V and dO as `which` binds them: the streamed pair from the texels where the
    /// layout says so.
    fn inputs(&self, which: Main) -> Vec<Resource<'_>> {
        let (io, d_o) = (self.io, &self.grads.d_o);
        match (which, self.pair) {
            (Main::DkDv, Some(pair)) => vec![
                Resource::View(&pair.a.view),
                Resource::Buffer(&io.k),
                Resource::Buffer(&io.v),
                Resource::View(&pair.b.view),
            ],
            (Main::Dq, Some(pair)) => vec![
                Resource::Buffer(&io.q),
                Resource::View(&pair.a.view),
                Resource::View(&pair.b.view),
                Resource::Buffer(d_o),
            ],
            (_, None) => vec![
                Resource::Buffer(&io.q),
                Resource::Buffer(&io.k),
                Resource::Buffer(&io.v),
                Resource::Buffer(d_o),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader() {
        let wgsl = crate::gpu::shader!("flash/backward_params.wgsl").wgsl;
        assert_eq!(
            crate::gpu::wgsl_mismatch::<Params>(wgsl),
            None,
            "flash/backward_params.wgsl"
        );
    }
}
