// Flash attention for SIMD-on-CPU drivers (lavapipe): K/V shared through subgroup lanes
// instead of workgroup memory. Same algorithm, bindings and Params as flash/tiles.wgsl (online
// softmax in the log2 domain, key passes over [kv_begin, kv_stop) with an O(n·d) state
// buffer between them, causal zigzag block order); only the way K and V reach the lanes
// differs.
//
// Why: a CPU driver runs a subgroup as one SIMD vector, and every load from workgroup or
// storage memory becomes a loop over the lanes (lavapipe: mask test, address, broadcast
// load, per lane). flash/tiles.wgsl reads each K/V element from workgroup memory once per
// invocation, paying that loop for one useful value. Here the four keys of a step are
// 4·D consecutive floats; lane ℓ loads elements ℓ, ℓ + SG, … (one lane loop per SG useful
// values) and every lane obtains each element with subgroupBroadcast from a constant lane,
// a single register shuffle. No workgroup memory and no barriers.
//
// Constant indices everywhere: the loops over rows and columns are marked `// unroll` and
// unrolled by src/gpu/unroll.rs, so the query registers, accumulators and broadcast lanes
// are indexed by constants (a private array indexed by a variable becomes memory on
// lavapipe). Requires: a fixed subgroup size SG, BLOCK_Q a multiple of it, and uniform
// control flow around every broadcast (the key loop's bounds are per workgroup).

override BLOCK_Q: u32 = 64u;   // invocations per workgroup, a multiple of SG
// Rewritten per pipeline by src/kernels/flash/pipelines.rs (gpu::specialize):
const ROWS: u32 = 1u;          // query rows per invocation
const D: u32 = 64u;            // head_dim
const SG: u32 = 8u;            // subgroup size
// Four keys are 4·D floats, D vec4s: lane ℓ holds vec4s ℓ, ℓ + SG, … in SLOTS registers.
const SLOTS: u32 = (D + SG - 1u) / SG;
// Floats per row of `state` (same layout as flash/tiles.wgsl: D4 accumulator vec4s, then m, l,
// and the logsumexp the last pass leaves for a backward pass).
const STATE_STRIDE: u32 = ((D + 3u) / 4u) * 4u + 4u;
const NEG_BIG: f32 = -3.0e38;

// Params, q, o and params come from flash/params.wgsl; k, v and their loads k_quad /
// v_quad from common/kv_quads_vec4.wgsl where head_dim is a multiple of 4, else
// common/kv_quads_scalar.wgsl.
@group(0) @binding(4) var<storage, read_write> state: array<f32>;

@compute @workgroup_size(BLOCK_Q)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let qb = query_block(group, BLOCK_Q * ROWS);
    let q0 = qb.q0;
    let head_row = qb.head_row;
    let kv_row = qb.kv_row;
    let causal = qb.causal;
    let first = qb.first;
    let last = qb.last;

    var qr: array<f32, ROWS * D>;
    var acc: array<f32, ROWS * D>;
    var m: array<f32, ROWS>;
    var l: array<f32, ROWS>;
    var visible: array<u32, ROWS>;  // keys row r may see end here (0 for rows past n)
    var first_key: array<u32, ROWS>;  // and start here (a sliding window's start)
    for (var r = 0u; r < ROWS; r++) { // unroll
        let i = q0 + r * BLOCK_Q + lid;
        let valid = i < n;
        visible[r] = select(0u, select(n, i + 1u, causal), valid);
        first_key[r] = first_visible_key(i, params.window);
        let row = select(0u, head_row + i, valid);
        let resume = valid && !first;
        // On the first pass `state` may be a 16-byte placeholder: read its start instead
        // (in bounds; the value is not used).
        let st = select(0u, row * STATE_STRIDE, resume);
        for (var c = 0u; c < D; c++) { // unroll
            qr[r * D + c] = select(0.0, q[row * D + c] * params.scale_log2, valid);
            acc[r * D + c] = select(0.0, state[select(0u, st + c, resume)], resume);
        }
        m[r] = select(NEG_BIG, state[select(0u, st + STATE_STRIDE - 4u, resume)], resume);
        l[r] = select(0.0, state[select(0u, st + STATE_STRIDE - 3u, resume)], resume);
    }

    let kv_end = min(params.kv_stop, select(n, min(n, q0 + BLOCK_Q * ROWS), causal));
    // A sliding window also skips the keys before the block's first row's window.
    for (var kv0 = max(params.kv_begin, qb.kv_first); kv0 < kv_end; kv0 += 4u) {
        // Keys kv0 … kv0 + 3 are floats [base, base + 4·D); those past the head's last key
        // read as 0 (and are masked below).
        let base = (kv_row + kv0) * D;
        let stop = (kv_row + min(kv0 + 4u, n)) * D;
        var kr: array<vec4<f32>, SLOTS>;
        var vr: array<vec4<f32>, SLOTS>;
        for (var t = 0u; t < SLOTS; t++) { // unroll
            kr[t] = k_quad(base, t * SG + lane, stop);
            vr[t] = v_quad(base, t * SG + lane, stop);
        }

        // Scores of the four keys for each row. Float f = j·D + c (key j, column c) is
        // component f % 4 of register (f / 4) / SG in lane (f / 4) % SG.
        var s: array<vec4<f32>, ROWS>;
        for (var c = 0u; c < D; c++) { // unroll
            let kc = vec4<f32>(
                subgroupBroadcast(kr[(c / 4u) / SG], (c / 4u) % SG)[c % 4u],
                subgroupBroadcast(kr[((D + c) / 4u) / SG], ((D + c) / 4u) % SG)[(D + c) % 4u],
                subgroupBroadcast(kr[((2u * D + c) / 4u) / SG], ((2u * D + c) / 4u) % SG)[(2u * D + c) % 4u],
                subgroupBroadcast(kr[((3u * D + c) / 4u) / SG], ((3u * D + c) / 4u) % SG)[(3u * D + c) % 4u]);
            for (var r = 0u; r < ROWS; r++) { // unroll
                s[r] = fma(vec4<f32>(qr[r * D + c]), kc, s[r]);
            }
        }

        var p: array<vec4<f32>, ROWS>;
        var alpha: array<f32, ROWS>;
        let key = vec4<u32>(kv0, kv0 + 1u, kv0 + 2u, kv0 + 3u);
        for (var r = 0u; r < ROWS; r++) { // unroll
            // Masked: past n, past i when causal, before the row's window (p zeroed too,
            // for four masked keys before any the row sees).
            let seen = (key < vec4<u32>(visible[r])) & (key >= vec4<u32>(first_key[r]));
            let sr = select(vec4<f32>(NEG_BIG), s[r], seen);
            let m_new = max(m[r], max(max(sr.x, sr.y), max(sr.z, sr.w)));
            alpha[r] = exp2(m[r] - m_new);
            p[r] = select(vec4<f32>(0.0), exp2(sr - vec4<f32>(m_new)), seen);
            l[r] = l[r] * alpha[r] + (p[r].x + p[r].y + p[r].z + p[r].w);
            m[r] = m_new;
        }

        for (var c = 0u; c < D; c++) { // unroll
            let vc = vec4<f32>(
                subgroupBroadcast(vr[(c / 4u) / SG], (c / 4u) % SG)[c % 4u],
                subgroupBroadcast(vr[((D + c) / 4u) / SG], ((D + c) / 4u) % SG)[(D + c) % 4u],
                subgroupBroadcast(vr[((2u * D + c) / 4u) / SG], ((2u * D + c) / 4u) % SG)[(2u * D + c) % 4u],
                subgroupBroadcast(vr[((3u * D + c) / 4u) / SG], ((3u * D + c) / 4u) % SG)[(3u * D + c) % 4u]);
            for (var r = 0u; r < ROWS; r++) { // unroll
                acc[r * D + c] = fma(acc[r * D + c], alpha[r], dot(p[r], vc));
            }
        }
    }

    for (var r = 0u; r < ROWS; r++) { // unroll
        let i = q0 + r * BLOCK_Q + lid;
        if (i < n) {
            let row = head_row + i;
            if (last) {
                let inv = 1.0 / l[r];
                for (var c = 0u; c < D; c++) { // unroll
                    o[row * D + c] = acc[r * D + c] * inv;
                }
                // For a backward pass: the row's logsumexp of scale·log2(e)·q·k.
                if ((params.pass_flags & 4u) != 0u) {
                    state[row * STATE_STRIDE + STATE_STRIDE - 2u] = m[r] + log2(l[r]);
                }
            } else {
                let st = row * STATE_STRIDE;
                for (var c = 0u; c < D; c++) { // unroll
                    state[st + c] = acc[r * D + c];
                }
                state[st + STATE_STRIDE - 4u] = m[r];
                state[st + STATE_STRIDE - 3u] = l[r];
            }
        }
    }
}
