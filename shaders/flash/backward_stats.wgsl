// Flash backward, pre-pass (FlashAttention-2's D): for every row i of every (batch, head),
// D_i = rowsum(dO_i ∘ O_i), stored beside the forward's logsumexp of the row in a layout
// the other two kernels load four rows at a time: per head and group of four rows, one
// vec4 of logsumexps, then one vec4 of D. Rows past n (padding to a multiple of 4) hold 0.

@group(0) @binding(0) var<storage, read> o: array<f32>;
@group(0) @binding(1) var<storage, read> d_o: array<f32>;
@group(0) @binding(2) var<storage, read> state: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read> params: Params;

const THREADS: u32 = 256u;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = workgroup_linear_id(wid, nwg) * THREADS + lid;
    let n = params.seq_len;
    let heads_total = params.total_groups;
    if (t >= heads_total * params.padded_rows) {
        return;
    }
    let head = t / params.padded_rows;
    let i = t % params.padded_rows;
    var lse = 0.0;
    var big_d = 0.0;
    if (i < n) {
        let row = head * n + i;
        let d = params.head_dim;
        lse = state[row * params.state_stride + params.state_stride - 2u];
        for (var c = 0u; c < d; c++) {
            big_d = fma(d_o[row * d + c], o[row * d + c], big_d);
        }
    }
    let at = stats_index(head, i) * 4u + i % 4u;
    stats[at] = lse;
    stats[at + 4u] = big_d;
}
