//! [`Session`]: one invocation of attnbench that records into a device's results folder.
//! Opening one names the device, finds its folder under the results root and checks,
//! before anything is measured, that the folder can take the results (every file already
//! there readable, well formed and of this device; the folder writable): a run that would
//! fail at its final write fails at its start instead, and loses no measurement. The CLI,
//! the benches and the suite all open their folder here, and all sweep through
//! [`Session::sweep`].
//!
//! A session is also a run ([`RunRecord`]): the rows it saves name it, and where it
//! measures times it probes the device's ceilings briefly at its start and at its end
//! ([`Session::probe_start`], [`Session::finish`]), so that a machine that changed speed
//! during the run shows as unstable beside its numbers.

use crate::bench::Bench;
use crate::error::Result;
use crate::files::FolderLock;
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::probe::ProbeReport;
use crate::report::write_device_report;
use crate::results::Skip;
use crate::results::{
    Ceilings, DeviceFolder, DeviceHeader, ResultRow, ResultsFile, RunKind, RunRecord,
    refuse_foreign,
};
use crate::sweep::{Family, Measurer, SweepConfig, run_sweep};
use crate::tuning::TuningFile;
use std::path::{Path, PathBuf};

/// A device folder opened for writing by one invocation.
#[derive(Clone, Debug)]
pub struct Session {
    /// The device and software measuring.
    pub device: DeviceHeader,
    /// Its folder under the results root.
    pub folder: DeviceFolder,
    /// This invocation as a run: what its rows name.
    pub run: RunRecord,
}

impl Session {
    /// Opens `bench`'s folder under `results_root` for a run of `kind`, checked before
    /// anything is measured. The run records the settings given at the edge.
    pub fn open(bench: &Bench, results_root: &Path, kind: RunKind) -> Result<Session> {
        let device = DeviceHeader::for_gpu(bench);
        let folder = DeviceFolder::for_device(results_root, &device);
        let run = RunRecord::start(
            kind,
            bench,
            bench.given().to_vec(),
            "uniform random values in [-1, 1)",
        );
        let session = Session {
            device,
            folder,
            run,
        };
        session.preflight()?;
        Ok(session)
    }

    /// Probes the device's ceilings briefly and records them as this run's start (unless
    /// the run already has them, e.g. from a full probe).
    pub fn probe_start(&mut self, gpu: &Gpu) -> Result<&Ceilings> {
        if self.run.ceilings_start.is_none() {
            self.run.ceilings_start = Some(quick_ceilings(gpu, self.dir(), &self.device)?);
        }
        Ok(self.run.ceilings_start.as_ref().expect("set above"))
    }

    /// Probes the ceilings again, records the run's end and how much they moved, and saves
    /// the run record with the folder's results. Returns the record.
    pub fn finish(&mut self, gpu: &Gpu) -> Result<&RunRecord> {
        let end = if self.run.ceilings_start.is_some() {
            Some(quick_ceilings(gpu, self.dir(), &self.device)?)
        } else {
            None
        };
        self.run.end(end);
        if self.folder.load()?.is_some() {
            self.save_rows(Vec::new())?;
        }
        Ok(&self.run)
    }

    /// The folder's path.
    pub fn dir(&self) -> &Path {
        &self.folder.dir
    }

    /// Takes the folder's lock: hold it across every read-merge-write.
    pub fn lock(&self) -> Result<FolderLock> {
        self.folder.lock()
    }

    /// Checks that every file already in the folder (results, probe, tuning) is readable,
    /// well formed and of this device, and that the folder can be created and written.
    fn preflight(&self) -> Result<()> {
        let (folder, device) = (&self.folder, &self.device);
        if let Some(existing) = folder.load()? {
            refuse_foreign(&folder.json_path(), &existing.device, device, "results")?;
        }
        ProbeReport::load_for(&folder.dir, device)?;
        if let Some(tuning) = TuningFile::load(&folder.dir)? {
            refuse_foreign(
                &TuningFile::path(&folder.dir),
                &tuning.device,
                device,
                "tuning",
            )?;
        }
        folder.check_writable()
    }

    /// Merges `rows` into the folder's results (derived columns from the device's probe,
    /// when it has one) and rewrites its charts and README, all under the folder's lock,
    /// so that concurrent writers lose no rows and the README always matches
    /// `results.json`. Returns the merged file and the files written.
    pub fn save_rows(&self, mut rows: Vec<ResultRow>) -> Result<(ResultsFile, Vec<PathBuf>)> {
        for row in &mut rows {
            row.run_id = Some(self.run.id.clone());
        }
        let lock = self.lock()?;
        let ceilings = ProbeReport::load_for(self.dir(), &self.device)?.map(|p| p.ceilings());
        let file = self.folder.merge_and_save(
            &lock,
            self.device.clone(),
            rows,
            (ceilings.as_ref(), Some(&self.run)),
        )?;
        let written = write_device_report(&file, self.dir())?;
        Ok((file, written))
    }

    /// Runs the sweep `config` on `bench` with `measurer` and saves its rows
    /// ([`Session::save_rows`]); `excluded` says why a (kernel, family) line must not be
    /// measured at all.
    pub fn sweep(
        &self,
        bench: &Bench,
        config: &SweepConfig,
        measurer: &mut dyn Measurer,
        excluded: &dyn Fn(&dyn Kernel, &Family) -> Option<Skip>,
    ) -> Result<Swept> {
        let rows = run_sweep(bench, config, measurer, excluded)?;
        let (file, written) = self.save_rows(rows.clone())?;
        Ok(Swept {
            rows,
            file,
            written,
        })
    }
}

/// What a sweep measured and where it went.
#[derive(Clone, Debug)]
pub struct Swept {
    /// This run's rows, measured or skipped.
    pub rows: Vec<ResultRow>,
    /// The folder's results after merging them.
    pub file: ResultsFile,
    /// The files written (results, charts, README).
    pub written: Vec<PathBuf>,
}

/// The f32 FMA peak and the bandwidth, probed briefly; the f16 peak and the transfer rates
/// of the device's `probe.json`, when it has one.
fn quick_ceilings(gpu: &Gpu, dir: &Path, device: &DeviceHeader) -> Result<Ceilings> {
    let (fma_f32_gflops, bandwidth_gbps) = crate::probe::quick(gpu)?;
    let full = ProbeReport::load_for(dir, device)?;
    Ok(Ceilings {
        fma_f32_gflops,
        fma_f16_gflops: full.as_ref().and_then(|p| p.fma_f16_gflops),
        bandwidth_gbps,
        upload_gbps: full.as_ref().map_or(0.0, |p| p.upload_gbps),
        readback_gbps: full.as_ref().map_or(0.0, |p| p.readback_gbps),
    })
}
