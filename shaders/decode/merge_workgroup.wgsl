// decode/partial.wgsl's merge of a workgroup's key lanes into one record per query row,
// through workgroup memory: any subgroup size, or none (GPUs' workgroups of several
// subgroups; wgpu's GL backend). Calls must be in uniform control flow: barriers.

const MS: u32 = 16u;            // merge slots per invocation (≥ 2): src/kernels/decode/

var<workgroup> merge_sh: array<vec4<f32>, MS * BLOCK_Q>;

// The workgroup's (M, L) from each lane's (m, l) — M = max m, L = Σ l·2^(m − M) over the
// key lanes, by a tree (m in the first BLOCK_Q slots, l in the next; one lane of each key
// lane `counts` its l).
fn merge_max_sum(lid: u32, m: vec4<f32>, l: vec4<f32>, counts: bool) -> array<vec4<f32>, 2> {
    merge_sh[lid] = m;
    merge_sh[BLOCK_Q + lid] = select(vec4<f32>(0.0), l, counts);
    workgroupBarrier();
    for (var stride = BLOCK_Q / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            let m1 = merge_sh[lid];
            let m2 = merge_sh[lid + stride];
            let mm = max(m1, m2);
            merge_sh[BLOCK_Q + lid] = merge_sh[BLOCK_Q + lid] * exp2(m1 - mm)
                + merge_sh[BLOCK_Q + lid + stride] * exp2(m2 - mm);
            merge_sh[lid] = mm;
        }
        workgroupBarrier();
    }
    let result = array<vec4<f32>, 2>(merge_sh[0], merge_sh[BLOCK_Q]);
    workgroupBarrier();
    return result;
}

// Adds column c (0 … DL − 1) of every key lane, `x` here, and writes the sums to the record
// at `out`, MS columns per round: a round's last column sums the round (index t takes
// slot t / LANES of lane sub = t % LANES) between two barriers.
fn merge_column(lid: u32, c: u32, x: vec4<f32>, out: u32, keep: bool) {
    merge_sh[(c % MS) * BLOCK_Q + lid] = x;
    if (c % MS == MS - 1u || c == DL - 1u) {
        workgroupBarrier();
        let first = c - c % MS;
        for (var t = lid; t < (c % MS + 1u) * LANES; t += BLOCK_Q) {
            let slot = t / LANES;
            let sub = t % LANES;
            var total = vec4<f32>(0.0);
            for (var kg = 0u; kg < KG; kg++) {
                total += merge_sh[slot * BLOCK_Q + kg * LANES + sub];
            }
            let c4 = sub + (first + slot) * LANES;
            if (keep && c4 < D4) {
                partials[out + c4] = total;
            }
        }
        workgroupBarrier();
    }
}
