//! `attnbench devices`.

use super::Failure;
use attnbench::gpu::{describe_adapter, list_adapters};
use attnbench::report::human_bytes;
use attnbench::settings::Settings;

/// Options of `devices`.
#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Lists every adapter on the chosen backends.
pub fn devices(args: &DevicesArgs, settings: &Settings) -> Result<(), Failure> {
    let choice = &settings.adapter;
    let adapters = list_adapters(choice)?;
    if adapters.is_empty() {
        return Err(attnbench::Error::NoAdapter {
            backends: format!("{:?}", choice.backends()?),
        }
        .into());
    }
    let mut summaries: Vec<_> = adapters.iter().map(describe_adapter).collect();
    // A name (other than `all`) lists the adapters that match it, and none is an error.
    if let Some(wanted) = choice
        .name
        .as_deref()
        .filter(|n| !n.eq_ignore_ascii_case("all"))
    {
        let available: Vec<String> = summaries.iter().map(|s| s.name.clone()).collect();
        let lower = wanted.to_lowercase();
        summaries.retain(|s| s.name.to_lowercase().contains(&lower));
        if summaries.is_empty() {
            return Err(attnbench::Error::AdapterNotFound {
                wanted: wanted.into(),
                available: available.join(", "),
            }
            .into());
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summaries).unwrap_or_default()
        );
        return Ok(());
    }
    for (i, s) in summaries.iter().enumerate() {
        println!("[{i}] {} ({}, {})", s.name, s.backend, s.device_type);
        println!("    driver: {} {}", s.driver, s.driver_info);
        println!(
            "    features: timestamps={} subgroups={} (size {}..={}) shader_f16={} cooperative_matrix={}",
            s.timestamps,
            s.subgroups,
            s.subgroup_min_size,
            s.subgroup_max_size,
            s.shader_f16,
            s.cooperative_matrix
        );
        if s.cooperative_matrix {
            println!(
                "    cooperative matrices: {}",
                s.cooperative_matrix_configs.join(", ")
            );
        }
        println!(
            "    limits: max_buffer_size={} max_storage_buffer_binding_size={} workgroup_memory={} invocations/workgroup={} workgroups/dim={}",
            human_bytes(s.max_buffer_size),
            human_bytes(s.max_storage_buffer_binding_size),
            human_bytes(u64::from(s.max_compute_workgroup_storage_size)),
            s.max_compute_invocations_per_workgroup,
            s.max_compute_workgroups_per_dimension
        );
    }
    Ok(())
}
