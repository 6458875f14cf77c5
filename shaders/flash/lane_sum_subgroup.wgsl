// lane_sum for flash/tiles.wgsl with LANES > 1 (needs SUBGROUP): the partial dot products of the
// LANES lanes that share a row, summed by a butterfly of subgroupShuffleXor, so that every
// lane of the row ends with the full scores. LANES is a power of two no larger than the
// subgroup size, and the lanes of a row are consecutive lane indices (`lane_index`,
// flash/lane_ids_subgroup.wgsl), so lane ^ mask stays in the row.

fn lane_sum(x: vec4<f32>, lid: u32) -> vec4<f32> {
    var total = x;
    for (var mask = 1u; mask < LANES; mask <<= 1u) {
        total += subgroupShuffleXor(total, mask);
    }
    return total;
}
