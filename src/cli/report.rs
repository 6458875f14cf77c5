//! `attnbench plot`, `attnbench compare` and `attnbench sweep`.

use super::Failure;
use attnbench::Error;
use attnbench::report::{replace_section, summary_table, write_comparison, write_device_report};
use attnbench::results::RunKind;
use attnbench::results::{DeviceFolder, ResultsFile};
use attnbench::session::Session;
use attnbench::settings::{Settings, SweepArgs};
use attnbench::sweep::{Sampler, SweepPoint, sweep_sampling};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Options of `plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// Device folders (default: every folder under the results root, ATTNBENCH_RESULTS_DIR
    /// or results/, holding a results.json).
    dirs: Vec<PathBuf>,
    /// Also rewrite the results section of this README (between its `<!-- results: … -->`
    /// lines) from every device folder under the results root and its compare/ folder.
    #[arg(long)]
    readme: Option<PathBuf>,
}

/// Options of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Two or more device folders, e.g. results/<device-a> results/<device-b>.
    #[arg(required = true, num_args = 2..)]
    dirs: Vec<PathBuf>,
    /// Where the charts and compare.md go (default: compare/ under the results root,
    /// ATTNBENCH_RESULTS_DIR or results/). Must not be a device folder.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Options of `sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepCommandArgs {
    /// Timed runs per point (at least 1).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    samples: u32,
    /// What to sweep.
    #[command(flatten)]
    sweep: SweepArgs,
}

fn device_folders(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(root).map_err(|e| Error::DataFile {
        path: root.to_path_buf(),
        message: format!("cannot read the results folder: {e}"),
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("results.json").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Each folder's results, checked; a folder whose file is refused is left out, its reason
/// printed (one line), and the rest go on. The reasons come back too, for a command left
/// with too few folders to report them.
fn load_each(dirs: &[PathBuf]) -> (Vec<(PathBuf, ResultsFile)>, Vec<Error>) {
    let mut loaded = Vec::new();
    let mut refused = Vec::new();
    for dir in dirs {
        match DeviceFolder::at(dir).load_existing() {
            Ok(file) => loaded.push((dir.clone(), file)),
            Err(e) => refused.push(e),
        }
    }
    (loaded, refused)
}

/// Prints one line per refused folder, as a command that goes on without them.
fn report_skipped(refused: &[Error]) {
    for e in refused {
        eprintln!(
            "skipped: {} (the other folders go on)",
            e.to_string().replace(['\n', '\r'], " ")
        );
    }
}

/// Regenerates every chart and device README from results files; runs nothing. A folder
/// whose results are refused is skipped, named with the reason; the others are drawn.
pub fn plot(args: &PlotArgs, settings: &Settings) -> Result<(), Failure> {
    let root = settings.results_dir.clone();
    let dirs = if args.dirs.is_empty() {
        device_folders(&root)?
    } else {
        args.dirs.clone()
    };
    if dirs.is_empty() {
        return Err(Failure::from(Error::DataFile {
            path: root,
            message: "no device folders with results.json (run `cargo bench` first)".into(),
        }));
    }
    // A README that cannot take its section is refused before anything is drawn.
    if let Some(readme) = &args.readme {
        read_readme(readme)?;
    }
    // Read everything first, so that a bad file changes nothing.
    let (loaded, refused) = load_each(&dirs);
    if loaded.is_empty() && args.readme.is_none() {
        return Err(first_refusal(refused));
    }
    report_skipped(&refused);
    for (dir, file) in &loaded {
        let _lock = DeviceFolder::at(dir).lock()?;
        let written = write_device_report(file, dir)?;
        println!("{}: {} files", dir.display(), written.len());
    }
    if let Some(readme) = &args.readme {
        // The folders under the root were just read (and any refused one named) when no
        // folders were given.
        update_readme(readme, &root, !args.dirs.is_empty())?;
        println!("{}: results section regenerated", readme.display());
    }
    Ok(())
}

/// The first refusal as the command's failure (exit 2).
fn first_refusal(refused: Vec<Error>) -> Failure {
    refused
        .into_iter()
        .next()
        .map(Failure::from)
        .unwrap_or_else(|| Failure::failed("nothing to do"))
}

/// The text of `readme`, checked to take a results section (its markers pair).
fn read_readme(readme: &Path) -> Result<String, Error> {
    let text = attnbench::files::read_data_file(readme)?.ok_or_else(|| Error::DataFile {
        path: readme.to_path_buf(),
        message: "cannot read: no such file".into(),
    })?;
    replace_section(&text, "", readme)?;
    Ok(text)
}

/// Rewrites `readme`'s results section from every device folder under `root` (a folder
/// whose results are refused is left out, named); the README is read and checked (its
/// markers must pair) before anything is written, and only its section changes.
fn update_readme(readme: &Path, root: &Path, report_refused: bool) -> Result<(), Error> {
    let text = read_readme(readme)?;
    let (section, refused) = attnbench::report::readme_section_skipping(readme, root)?;
    if report_refused {
        report_skipped(&refused);
    }
    let updated = replace_section(&text, &section, readme)?;
    attnbench::files::write_atomic(readme, updated.as_bytes())
}

/// Charts and a Markdown table comparing devices.
pub fn compare(args: &CompareArgs, settings: &Settings) -> Result<(), Failure> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| settings.results_dir.join("compare"));
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut seen: Vec<PathBuf> = Vec::new();
    for dir in &args.dirs {
        let c = canonical(dir);
        if seen.contains(&c) {
            return Err(Error::InvalidSetting {
                what: "compare folders".into(),
                value: dir.display().to_string(),
                expected: "distinct device folders (a folder compared with itself says nothing)"
                    .into(),
            }
            .into());
        }
        seen.push(c);
    }
    if out.join("results.json").exists() || seen.contains(&canonical(&out)) {
        return Err(Error::InvalidSetting {
            what: "--out".into(),
            value: out.display().to_string(),
            expected: "a folder that is not a device folder (it holds a results.json)".into(),
        }
        .into());
    }
    let (loaded, refused) = load_each(&args.dirs);
    if loaded.len() < 2 {
        return Err(first_refusal(refused));
    }
    report_skipped(&refused);
    let refs: Vec<&ResultsFile> = loaded.iter().map(|(_, f)| f).collect();
    let written = write_comparison(&refs, &out)?;
    println!("{}", attnbench::report::comparison_markdown(&refs));
    println!("wrote {} files to {}", written.len(), out.display());
    Ok(())
}

/// The `cargo bench` sweep without criterion, with a progress bar.
pub fn sweep(args: &SweepCommandArgs, settings: &Settings) -> Result<(), Failure> {
    let config = args.sweep.config(settings)?;
    super::catch_interrupts();
    // The kernels as tuned for this device (`attnbench tune`), when it was.
    let gpu = settings.open_tuned_bench(|_| true)?;
    // Before measuring: a destination that cannot take the results fails now.
    let mut session = Session::open(&gpu, &config.results_dir, RunKind::Sweep)?;
    session.probe_start(&gpu)?;
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} points, {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |point: &SweepPoint<'_>, done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(format!(
            "{} {} n={}",
            point.family,
            point.kernel.name(),
            point.shape.seq_len
        ));
    };
    let mut sampler = Sampler {
        options: sweep_sampling(config.time_budget, args.samples),
        on_progress: Some(Box::new(progress)),
    };
    let swept = session.sweep(&gpu, &config, &mut sampler, &|_, _| None)?;
    drop(sampler);
    bar.finish_and_clear();
    if attnbench::interrupt::requested() {
        let measured = swept.rows.iter().filter(|r| r.is_ok()).count();
        return Err(super::interrupted(&format!(
            "{measured} measured points saved to {}",
            session.dir().display()
        )));
    }
    let run = session.finish(&gpu)?;
    println!("{}", summary_table(&swept.file));
    println!("run {}", run.describe());
    println!("results and charts: {}", session.dir().display());
    Ok(())
}
