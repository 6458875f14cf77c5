//! `attnbench plot`, `attnbench compare` and `attnbench sweep`.

use super::Failure;
use attnbench::report::{summary_table, write_comparison, write_device_report};
use attnbench::results::{DeviceFolder, DeviceHeader, ResultsFile};
use attnbench::run::{MeasureOptions, Measurement};
use attnbench::sweep::{LazyRun, Measurer, Point, SweepConfig, run_sweep};
use attnbench::{AdapterChoice, Error, Gpu};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Options of `plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// Device folders (default: every folder under results/ holding a results.json).
    dirs: Vec<PathBuf>,
}

/// Options of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Two or more device folders, e.g. results/<device-a> results/<device-b>.
    #[arg(required = true, num_args = 2..)]
    dirs: Vec<PathBuf>,
    /// Where the charts and compare.md go.
    #[arg(long, default_value = "results/compare")]
    out: PathBuf,
}

/// Options of `sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Timed runs per point.
    #[arg(long, default_value_t = 5)]
    samples: u32,
}

fn device_folders(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries =
        std::fs::read_dir(root).map_err(|e| Error::io(format!("reading {}", root.display()), e))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("results.json").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn load_all(dirs: &[PathBuf]) -> Result<Vec<ResultsFile>, Error> {
    dirs.iter()
        .map(|d| DeviceFolder::at(d).load_existing())
        .collect()
}

/// Regenerates every chart and device README from results files; runs nothing.
pub fn plot(args: &PlotArgs) -> Result<(), Failure> {
    let dirs = if args.dirs.is_empty() {
        device_folders(Path::new("results"))?
    } else {
        args.dirs.clone()
    };
    if dirs.is_empty() {
        return Err(Failure::from(Error::DataFile {
            path: PathBuf::from("results"),
            message: "no device folders with results.json (run `cargo bench` first)".into(),
        }));
    }
    // Read everything first, so that a bad file changes nothing.
    let files = load_all(&dirs)?;
    for (dir, file) in dirs.iter().zip(&files) {
        let written = write_device_report(file, dir)?;
        println!("{}: {} files", dir.display(), written.len());
    }
    Ok(())
}

/// Charts and a Markdown table comparing devices.
pub fn compare(args: &CompareArgs) -> Result<(), Failure> {
    let files = load_all(&args.dirs)?;
    let refs: Vec<&ResultsFile> = files.iter().collect();
    let written = write_comparison(&refs, &args.out)?;
    println!("{}", summary_table(&refs));
    println!("wrote {} files to {}", written.len(), args.out.display());
    Ok(())
}

struct ProgressMeasurer {
    bar: ProgressBar,
    options: MeasureOptions,
}

impl Measurer for ProgressMeasurer {
    fn measure(
        &mut self,
        _point: &Point<'_>,
        run: &mut LazyRun<'_>,
    ) -> attnbench::Result<Option<Measurement>> {
        Ok(Some(run.get()?.measure(&self.options)?))
    }

    fn progress(&mut self, point: &Point<'_>, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        self.bar.set_message(format!(
            "{} {} n={}",
            point.family,
            point.kernel.name(),
            point.shape.seq_len
        ));
    }
}

/// The `cargo bench` sweep without criterion, with a progress bar.
pub fn sweep(args: &SweepArgs, choice: AdapterChoice) -> Result<(), Failure> {
    let config = SweepConfig::from_env()?;
    let gpu = Gpu::new(choice)?;
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} points, {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut measurer = ProgressMeasurer {
        bar,
        options: MeasureOptions {
            warmup: 1,
            samples: args.samples.max(1),
            time_budget: Some(config.time_budget * 2),
            min_samples: 3.min(args.samples.max(1)),
        },
    };
    let rows = run_sweep(&gpu, &config, &mut measurer)?;
    measurer.bar.finish_and_clear();
    let header = DeviceHeader::for_gpu(&gpu);
    let folder = DeviceFolder::for_device(&config.results_dir, &header);
    let file = folder.merge_and_save(header, rows)?;
    write_device_report(&file, &folder.dir)?;
    println!("{}", summary_table(&[&file]));
    println!("results and charts: {}", folder.dir.display());
    Ok(())
}
