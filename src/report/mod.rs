//! Reports generated from results files: the charts of one device or of several compared,
//! and the Markdown that carries them into reports, headline first.
//!
//! | module | job |
//! |---|---|
//! | `family` | one family's rows, labels and kernel styles, for every chart of it |
//! | `scaling_charts` | time, memory, throughput and roofline charts |
//! | `transfer` | compute against moving the n×n scores to the host |
//! | `stops` | where lines end: wall and time-budget marks |
//! | `family_charts` | the charts of a family, by file name; the speedup chart |
//! | `headline` | the argument's charts and key ratios, for the README's top |
//! | `tables` | every point, training growth, skipped points |
//! | `device_readme` | a device folder's README.md |
//! | `compare` | `compare.md` |
//! | `render` | charts and the comparison written to files |
//! | `readme_results` | the project README's results section, from the committed folders |
//! | `peers` | flash beside the peers measured in the same run; software adapters |
//! | `provenance` | which run a figure comes from |
//! | `labels` | names, colours, styles, bytes and walls as text |
//! | [`manifest`] | which charts in a folder are attnbench's |

mod compare;
#[cfg(feature = "native")]
mod device_readme;
mod family;
mod family_charts;
mod headline;
mod labels;
#[cfg(feature = "native")]
pub mod manifest;
mod peers;
mod provenance;
#[cfg(feature = "native")]
mod readme_results;
#[cfg(feature = "native")]
mod render;
mod scaling_charts;
mod stops;
mod tables;
mod transfer;

pub use compare::comparison_markdown;
#[cfg(feature = "native")]
pub use device_readme::{device_readme, write_device_report};
pub use family_charts::{chart_name, family_charts};
pub use headline::{headline_charts, headline_families, key_ratios};
pub use labels::{
    WALL_MARKS, device_title, human_bytes, kernel_color, kernel_style, short_device_labels,
    wall_label,
};
pub use peers::{ORT_PEER, peer_section, software_adapter_note};
#[cfg(feature = "native")]
pub use readme_results::{
    README_BEGIN, README_END, current_section, readme_results, readme_section,
    readme_section_skipping, replace_section,
};
#[cfg(feature = "native")]
pub use render::{render_charts, write_comparison};
pub use tables::{
    median_with_interval, runs_section, skipped_list, summary_table, training_growth,
};
pub use transfer::PCIE5_GBPS;
