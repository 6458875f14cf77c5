// decode/partial.wgsl's merge of a workgroup's key lanes into one record per query row,
// for a workgroup that is one subgroup (BLOCK_Q its fixed size: CPU drivers, where a
// barrier would make every SIMD group of the workgroup a coroutine and slow the whole
// key loop): butterflies of subgroupShuffleXor over the key lanes (lane indices
// `^ mask` for masks LANES … BLOCK_Q / 2: the same lane of the head dim in every key
// lane; flash/lane_ids_one_subgroup.wgsl numbers the lanes by subgroup_invocation_id).
// No barrier, no workgroup memory.

// The workgroup's (M, L) from each lane's (m, l): M = max m, L = Σ l·2^(m − M) over the
// key lanes (every lane of a key holds the same m and l, and ends with the same sums).
fn merge_max_sum(lid: u32, m: vec4<f32>, l: vec4<f32>, counts: bool) -> array<vec4<f32>, 2> {
    var big_m = m;
    for (var mask = LANES; mask < BLOCK_Q; mask <<= 1u) {
        big_m = max(big_m, subgroupShuffleXor(big_m, mask));
    }
    var big_l = l * exp2(m - big_m);
    for (var mask = LANES; mask < BLOCK_Q; mask <<= 1u) {
        big_l += subgroupShuffleXor(big_l, mask);
    }
    return array<vec4<f32>, 2>(big_m, big_l);
}

// Adds column c (0 … DL − 1) of every key lane, `x` here, and the first key lane writes the
// sums to the record at `out`.
fn merge_column(lid: u32, c: u32, x: vec4<f32>, out: u32, keep: bool) {
    var total = x;
    for (var mask = LANES; mask < BLOCK_Q; mask <<= 1u) {
        total += subgroupShuffleXor(total, mask);
    }
    let c4 = lid % LANES + c * LANES;
    if (keep && lid < LANES && c4 < D4) {
        partials[out + c4] = total;
    }
}
