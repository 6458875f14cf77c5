// Row-wide max and sum for naive's row passes when a row's workgroup is one subgroup (CPU
// drivers with one fixed subgroup size): no workgroup memory and no barriers, which lavapipe
// runs as a switch between the workgroup's subgroups, each time.

fn reduce_max(lid: u32, value: f32) -> f32 {
    return subgroupMax(value);
}

fn reduce_sum(lid: u32, value: f32) -> f32 {
    return subgroupAdd(value);
}
