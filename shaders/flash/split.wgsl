// Flash attention for GPUs with the work of a row split across keys ("split"
// configurations; llama.cpp's scalar flash attention and ONNX Runtime's WebGPU kernel
// split the same way): one fused dispatch per pass over the keys.
//
// A workgroup owns GROUPS · ROWS query rows of one (batch, head). A row group of
// KL · LANES consecutive invocations owns ROWS rows: its KL key lanes take different keys
// of each tile (key lane kl takes tile keys kl, kl + KL, …: KPT4 · 4 of them), and the
// LANES lanes of a key lane split the head dim (lane t holds columns 4·(t + c·LANES) …, DL
// vec4s per row, of the query and the accumulator), their partial dot products summed by
// lane_sum: a subgroup butterfly where every subgroup holds them, else through workgroup
// memory, nothing with LANES = 1 (lanes_*.wgsl): no assumption on the subgroup size.
// Each key lane keeps its own running max, sum and accumulator; the softmax is updated
// once per tile (KPT4 · 4 keys per lane) and rescaled lazily: the reference max moves only
// when a score exceeds it by TAU (exact: numerator and denominator share the reference,
// and p ≤ 2^TAU cannot overflow), so the multiply over the accumulator is rare after the
// first tiles. The KL key lanes of a row merge once per pass, through workgroup memory.
//
// K/V tiles of BKV keys are double-buffered in workgroup memory (rows padded to STRIDE
// vec4s so that key lanes reading the same column hit different banks): tile i + 1 is
// staged into the other buffer while tile i is computed, one barrier per tile.
// Passes, masks, windows, GQA and the state layout between passes are flash/tiles.wgsl's; after
// a pass the state holds the merged row. Every index is in bounds by construction.

override BLOCK_Q: u32 = 64u;   // invocations per workgroup: GROUPS · KL · LANES
// Rewritten per pipeline by src/kernels/flash/pipelines.rs (gpu::specialize), then the
// marked loops unrolled (src/gpu/unroll.rs) so that private arrays are indexed by constants.
const ROWS: u32 = 1u;          // query rows per row group
const D4: u32 = 16u;           // ceil(head_dim / 4)
const LANES: u32 = 4u;         // lanes splitting a key lane's head dim
const KL: u32 = 4u;            // key lanes per row group
const BKV: u32 = 16u;          // keys per tile: KL · 4 · KPT4
const GROUPS: u32 = 4u;        // row groups per workgroup
const DL: u32 = 4u;            // ceil(D4 / LANES): vec4 columns per lane
const KPT4: u32 = 1u;          // steps of four keys per key lane and tile
const RK4: u32 = 1u;           // ROWS · KPT4
const STRIDE: u32 = D4 + 1u;   // vec4s per staged key row
const ROWS_WG: u32 = GROUPS * ROWS;
const TAU: f32 = 8.0;
const NEG_BIG: f32 = -3.0e38;

// Params, q, o and params come from flash/params.wgsl; k, v and k_quad / v_quad from
// common/kv_quads_vec4.wgsl or common/kv_quads_scalar.wgsl; lane_sum from lanes_*.wgsl.
@group(0) @binding(4) var<storage, read_write> state: array<vec4<f32>>;

// [stage][K | V][key][column]; after the key loop, the key lanes' scaled accumulators.
var<workgroup> kv_sh: array<vec4<f32>, 4u * BKV * STRIDE>;
var<workgroup> ml_sh: array<vec2<f32>, ROWS_WG * KL>;

// Columns 4·c4 … 4·c4 + 3 of query row `row`, zero past head_dim.
fn q_quad(row: u32, c4: u32) -> vec4<f32> {
    let d = params.head_dim;
    var r = vec4<f32>(0.0);
    for (var t = 0u; t < 4u; t++) {
        if (c4 * 4u + t < d) {
            r[t] = q[row * d + c4 * 4u + t];
        }
    }
    return r;
}

// Keys kv0 … kv0 + BKV − 1 of K and V into buffer `stage`, coalesced (keys past n zero).
fn stage_tile(kv0: u32, stage: u32, kv_row: u32, lid: u32) {
    let n = params.seq_len;
    let d = params.head_dim;
    for (var e = lid; e < BKV * D4; e += BLOCK_Q) {
        let key = e / D4;
        let c4 = e % D4;
        let j = kv0 + key;
        let base = (kv_row + min(j, n - 1u)) * d;
        let at = (stage * 2u * BKV + key) * STRIDE + c4;
        kv_sh[at] = select(vec4<f32>(0.0), k_quad(base, c4, base + d), j < n);
        kv_sh[at + BKV * STRIDE] = select(vec4<f32>(0.0), v_quad(base, c4, base + d), j < n);
    }
}

@compute @workgroup_size(BLOCK_Q)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        ids: LaneIds) {
    // Lanes by their lane index (lane_sum_*.wgsl): by subgroup where lanes sum by subgroup.
    let lid = lane_index(ids);
    let group = workgroup_linear_id(wid, nwg);
    // Uniform per workgroup: every lane of a workgroup leaves here or none does.
    if (group >= params.total_groups) {
        return;
    }
    let n = params.seq_len;
    let d = params.head_dim;
    let qb = query_block(group, ROWS_WG);
    let q0 = qb.q0;
    let head_row = qb.head_row;
    let t = lid % LANES;
    let kl = (lid / LANES) % KL;
    let g = lid / (LANES * KL);

    var q_reg: array<vec4<f32>, ROWS * DL>;
    var acc: array<vec4<f32>, ROWS * DL>;
    var m: array<f32, ROWS>;          // reference max (log2 domain)
    var l: array<f32, ROWS>;
    var visible: array<u32, ROWS>;    // keys row r may see end here (0 for rows past n)
    var first_key: array<u32, ROWS>;  // and start here (a sliding window's start)
    for (var r = 0u; r < ROWS; r++) { // unroll
        let i = q0 + g * ROWS + r;
        let valid = i < n;
        let row = head_row + min(i, n - 1u);
        visible[r] = select(0u, select(n, i + 1u, qb.causal), valid);
        first_key[r] = first_visible_key(i, params.window);
        // The row's state from the previous pass resumes in key lane 0; the others start
        // fresh (merging is associative).
        let resume = valid && !qb.first && kl == 0u;
        let st = select(0u, row * (D4 + 1u), resume);
        for (var c = 0u; c < DL; c++) { // unroll
            let c4 = c * LANES + t;
            let mine = valid && c4 < D4;
            let cc = min(c4, D4 - 1u);
            q_reg[r * DL + c] = select(vec4<f32>(0.0), q_quad(row, cc) * params.scale_log2, mine);
            acc[r * DL + c] = select(vec4<f32>(0.0), state[st + select(0u, cc, resume)], resume && mine);
        }
        let ml = state[st + select(0u, D4, resume)];
        m[r] = select(NEG_BIG, ml.x, resume);
        l[r] = select(0.0, ml.y, resume);
    }

    // Uniform bounds keep barriers and lane sums in uniform control flow; keys a row must
    // not see (and keys past the pass) are masked.
    let kv_start = max(params.kv_begin, qb.kv_first);
    let kv_end = min(params.kv_stop, select(n, min(n, q0 + ROWS_WG), qb.causal));
    if (kv_start < kv_end) {
        stage_tile(kv_start, 0u, qb.kv_row, lid);
    }
    workgroupBarrier();
    var stage = 0u;
    for (var kv0 = kv_start; kv0 < kv_end; kv0 += BKV) {
        if (kv0 + BKV < kv_end) {
            stage_tile(kv0 + BKV, stage ^ 1u, qb.kv_row, lid);
        }
        let kb = stage * 2u * BKV * STRIDE;
        // Scores of this key lane's keys kl + KL·(4·k4 + u), four per vec4.
        var s: array<vec4<f32>, RK4>;
        for (var c = 0u; c < DL; c++) { // unroll
            let cc = min(c * LANES + t, D4 - 1u);
            for (var k4 = 0u; k4 < KPT4; k4++) { // unroll
                let b = kb + (k4 * 4u * KL + kl) * STRIDE + cc;
                let k0 = kv_sh[b];
                let k1 = kv_sh[b + KL * STRIDE];
                let k2 = kv_sh[b + 2u * KL * STRIDE];
                let k3 = kv_sh[b + 3u * KL * STRIDE];
                for (var r = 0u; r < ROWS; r++) { // unroll
                    let qc = q_reg[r * DL + c];
                    s[r * KPT4 + k4] += vec4<f32>(dot(qc, k0), dot(qc, k1), dot(qc, k2), dot(qc, k3));
                }
            }
        }
        for (var x = 0u; x < RK4; x++) { // unroll
            s[x] = lane_sum(s[x], lid);
        }
        // The softmax, once per tile per key lane, rescaled only past TAU.
        for (var r = 0u; r < ROWS; r++) { // unroll
            let hi = min(visible[r], kv_end);
            var tmax = NEG_BIG;
            for (var k4 = 0u; k4 < KPT4; k4++) { // unroll
                let j = vec4<u32>(kv0 + k4 * 4u * KL + kl) + vec4<u32>(0u, KL, 2u * KL, 3u * KL);
                let seen = (j >= vec4<u32>(first_key[r])) & (j < vec4<u32>(hi));
                let sv = select(vec4<f32>(NEG_BIG), s[r * KPT4 + k4], seen);
                s[r * KPT4 + k4] = sv;
                tmax = max(tmax, max(max(sv.x, sv.y), max(sv.z, sv.w)));
            }
            if (tmax > m[r] + TAU) {
                let a = exp2(m[r] - tmax);
                l[r] *= a;
                m[r] = tmax;
                for (var c = 0u; c < DL; c++) { // unroll
                    acc[r * DL + c] *= a;
                }
            }
            for (var k4 = 0u; k4 < KPT4; k4++) { // unroll
                let sv = s[r * KPT4 + k4];
                let p = select(vec4<f32>(0.0), exp2(sv - vec4<f32>(m[r])), sv > vec4<f32>(NEG_BIG));
                l[r] += p.x + p.y + p.z + p.w;
                s[r * KPT4 + k4] = p;
            }
        }
        for (var c = 0u; c < DL; c++) { // unroll
            let cc = min(c * LANES + t, D4 - 1u);
            for (var k4 = 0u; k4 < KPT4; k4++) { // unroll
                let b = kb + BKV * STRIDE + (k4 * 4u * KL + kl) * STRIDE + cc;
                let v0 = kv_sh[b];
                let v1 = kv_sh[b + KL * STRIDE];
                let v2 = kv_sh[b + 2u * KL * STRIDE];
                let v3 = kv_sh[b + 3u * KL * STRIDE];
                for (var r = 0u; r < ROWS; r++) { // unroll
                    let p = s[r * KPT4 + k4];
                    acc[r * DL + c] = fma(vec4<f32>(p.w), v3, fma(vec4<f32>(p.z), v2,
                        fma(vec4<f32>(p.y), v1, fma(vec4<f32>(p.x), v0, acc[r * DL + c]))));
                }
            }
        }
        stage ^= 1u;
        // Tile i read by all before tile i + 2 overwrites its buffer.
        workgroupBarrier();
    }

    // Merge the KL key lanes of each row (kv_sh is free: the loop ended with a barrier).
    if (t == 0u) {
        for (var r = 0u; r < ROWS; r++) { // unroll
            ml_sh[(g * ROWS + r) * KL + kl] = vec2<f32>(m[r], l[r]);
        }
    }
    workgroupBarrier();
    var big_m: array<f32, ROWS>;
    var big_l: array<f32, ROWS>;
    for (var r = 0u; r < ROWS; r++) { // unroll
        let row = g * ROWS + r;
        var mm = NEG_BIG;
        for (var u = 0u; u < KL; u++) {
            mm = max(mm, ml_sh[row * KL + u].x);
        }
        var ll = 0.0;
        for (var u = 0u; u < KL; u++) {
            let x = ml_sh[row * KL + u];
            ll += x.y * exp2(x.x - mm);
        }
        big_m[r] = mm;
        big_l[r] = ll;
        let a = exp2(m[r] - mm);
        for (var c = 0u; c < DL; c++) { // unroll
            let c4 = c * LANES + t;
            if (c4 < D4) {
                kv_sh[(row * KL + kl) * STRIDE + c4] = acc[r * DL + c] * a;
            }
        }
    }
    workgroupBarrier();
    // The row group's KL · LANES lanes split the columns of the merged row.
    for (var r = 0u; r < ROWS; r++) { // unroll
        let row = g * ROWS + r;
        let i = q0 + row;
        if (i < n) {
            write_row(head_row + i, row, kl, t, big_m[r], big_l[r], qb.last);
        }
    }
}

// Writes merged row `row` of the workgroup (global row `at`) from the key lanes' scaled
// accumulators in kv_sh: O on the last pass, else the state for the next one; lanes
// (kl, t) of the row group split its columns.
fn write_row(at: u32, row: u32, kl: u32, t: u32, big_m: f32, big_l: f32, last: bool) {
    let d = params.head_dim;
    let st = at * (D4 + 1u);
    for (var c4 = kl * LANES + t; c4 < D4; c4 += KL * LANES) {
        var sum = vec4<f32>(0.0);
        for (var u = 0u; u < KL; u++) {
            sum += kv_sh[(row * KL + u) * STRIDE + c4];
        }
        if (last) {
            let value = sum / big_l;
            for (var e = 0u; e < 4u; e++) {
                if (c4 * 4u + e < d) {
                    o[at * d + c4 * 4u + e] = value[e];
                }
            }
        } else {
            state[st + c4] = sum;
        }
    }
    if (kl == 0u && t == 0u) {
        if (!last) {
            state[st + D4] = vec4<f32>(big_m, big_l, 0.0, 0.0);
        } else if ((params.pass_flags & 4u) != 0u) {
            // For a backward pass: the row's logsumexp of scale·log2(e)·q·k.
            state[st + D4] = vec4<f32>(big_m, big_l, big_m + log2(big_l), 0.0);
        }
    }
}
