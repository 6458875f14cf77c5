//! What one vec4 load per invocation costs on the adapter, from a storage buffer (how the
//! kernels read K and V today) and from an `rgba32float` texture with `textureLoad`, beside
//! a loop without loads. On lavapipe (Mesa 22.3) a storage load inside a loop is a loop over
//! the SIMD lanes with a mask test, a bounds check and an insert through the stack per lane
//! and component (see `src/kernels/flash/`); its texel fetch is vectorized. The gap is what
//! a texture path for K/V could win there.
//!
//! `cargo run --release --example load_probe` (the adapter is chosen as for `attnbench`:
//! `WGPU_BACKEND`, `WGPU_ADAPTER_NAME`). Timed as the kernels are ([`time_passes`]: GPU
//! timestamps where the adapter has them), median of 5 runs after one warm-up.
use attnbench::gpu::{AdapterChoice, BufferTracker, Gpu, time_passes};
use attnbench::stats::median_of as median;

const SHADER: &str = r#"
@group(0) @binding(0) var<storage, read> buf: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var tex: texture_2d<f32>;
const STEPS: u32 = 2048u;

@compute @workgroup_size(32)
fn from_buffer(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    var acc = textureLoad(tex, vec2<u32>(0u, 0u), 0) * 0.0;
    for (var s = 0u; s < STEPS; s++) {
        let i = (s * 32u + lid + gid.x) & 262143u;
        acc += buf[i];
    }
    out[gid.x] = acc;
}

@compute @workgroup_size(32)
fn from_texture(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    var acc = buf[0] * 0.0;
    for (var s = 0u; s < STEPS; s++) {
        let i = (s * 32u + lid + gid.x) & 262143u;
        acc += textureLoad(tex, vec2<u32>(i & 511u, i >> 9u), 0);
    }
    out[gid.x] = acc;
}

@compute @workgroup_size(32)
fn no_load(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    var acc = (buf[0] + textureLoad(tex, vec2<u32>(0u, 0u), 0)) * 0.0;
    for (var s = 0u; s < STEPS; s++) {
        let i = (s * 32u + lid + gid.x) & 262143u;
        acc += vec4<f32>(f32(i));
    }
    out[gid.x] = acc;
}
"#;

fn main() {
    let gpu = Gpu::new(&AdapterChoice::default()).expect("no adapter");
    println!(
        "{} ({:?})",
        gpu.summary().name,
        gpu.adapter().get_info().backend
    );
    let device = &gpu.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let groups = 512u32;
    let tracker = BufferTracker::new();
    let buf = gpu
        .buffer(&tracker, "loaded", 262144 * 16, wgpu::BufferUsages::STORAGE)
        .expect("buffer");
    let out = gpu
        .buffer(
            &tracker,
            "sums",
            u64::from(groups) * 32 * 16,
            wgpu::BufferUsages::STORAGE,
        )
        .expect("buffer");
    let size = wgpu::Extent3d {
        width: 512,
        height: 512,
        depth_or_array_layers: 1,
    };
    let tex = device.create_texture(&wgpu::TextureDescriptor {
        label: None,
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let data = vec![1u8; 512 * 512 * 16];
    gpu.queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture: &tex,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        &data,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(512 * 16),
            rows_per_image: Some(512),
        },
        size,
    );
    let view = tex.create_view(&Default::default());
    for entry in ["no_load", "from_buffer", "from_texture"] {
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: None,
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: out.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
            ],
        });
        let encode = |pass: &mut wgpu::ComputePass<'_>| {
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups, 1, 1);
        };
        let times = time_passes(&gpu, entry, &encode, 5, 5, None).expect("timing");
        let timing = times.source;
        let best = median(&times.ns).expect("samples") * 1e-9;
        let loads = f64::from(groups) * 32.0 * 2048.0;
        println!(
            "{entry:14} {:8.1} ms  {:6.2} ns per lane-load  ({timing:?})",
            best * 1e3,
            best * 1e9 / loads
        );
    }
}
