//! `cargo web test`: the browser edition in a real browser. Builds the site, serves it on
//! 127.0.0.1, opens it in headless Chromium with `?auto` (a small budget, n ≤ 512:
//! SwiftShader runs on the CPU), waits for the page's status, and checks what it
//! verified and measured ([`crate::checks`]). Without Chromium the test says it was
//! skipped and why; with `ATTNBENCH_REQUIRE_BROWSER=1` that is a failure.
//!
//! `--save DIR` merges the results into DIR's device folder (as native runs save) and
//! writes its README and charts; `--screenshot FILE` saves a PNG of the page after the run.

use crate::cdp::{Page, base64_decode};
use crate::chromium::{self, Chromium};
use crate::{checks, serve, site, value};
use attnbench::shape::Pass;
use attnbench::verify::{Coverage, plan};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The test's settings.
pub struct Options {
    kernels: String,
    max_n: u32,
    budget_s: u32,
    save: Option<PathBuf>,
    screenshot: Option<PathBuf>,
}

impl Options {
    /// From the command line.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            kernels: "naive,flash".into(),
            max_n: 512,
            budget_s: 300,
            save: None,
            screenshot: None,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--kernels" => options.kernels = value(&mut it, flag)?,
                "--max-n" => options.max_n = value(&mut it, flag)?,
                "--budget" => options.budget_s = value(&mut it, flag)?,
                "--save" => options.save = Some(value(&mut it, flag)?),
                "--screenshot" => options.screenshot = Some(value(&mut it, flag)?),
                _ => return Err(format!("unexpected argument {flag:?}\n{}", crate::USAGE)),
            }
        }
        Ok(options)
    }
}

/// Runs the test.
pub fn run(options: Options) -> Result<(), String> {
    let started = Instant::now();
    let required = std::env::var("ATTNBENCH_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let dist = site::build()?;
    let exe = match chromium::find() {
        Ok(exe) => exe,
        Err(why) if required => return Err(format!("ATTNBENCH_REQUIRE_BROWSER=1, and {why}")),
        Err(why) => {
            println!("cargo web test: SKIPPED (the site was built, not tested): {why}");
            return Ok(());
        }
    };
    let kernels: Vec<&str> = options.kernels.split(',').map(str::trim).collect();
    let planned = plan(
        &kernels
            .iter()
            .map(|k| attnbench::find_kernel(k))
            .collect::<attnbench::Result<Vec<_>>>()
            .map_err(|e| e.to_string())?,
        Coverage::Device,
        Some(Pass::Forward),
    )
    .len();

    let server = serve::Server::start(&dist, 0).map_err(|e| format!("serving the site: {e}"))?;
    let url = format!(
        "http://{}/?auto&budget={}&kernels={}&max_n={}",
        server.addr(),
        options.budget_s,
        options.kernels,
        options.max_n
    );
    let browser = Chromium::launch(&exe)?;
    let mut page = Page::connect(browser.port)?;
    page.call("Runtime.enable", json!({}))?;
    page.call("Page.navigate", json!({ "url": url }))?;
    println!("cargo web test: {} opened {url}", exe.display());

    let outcome = wait_for_status(
        &mut page,
        Duration::from_secs(u64::from(options.budget_s) + 120),
    );
    let status = match outcome {
        Ok(status) => status,
        Err(e) => return Err(failure(&page, &browser, &e)),
    };
    if status != "done" {
        return Err(failure(
            &page,
            &browser,
            &format!("the page's status is {status:?}"),
        ));
    }
    let summary = page.evaluate("window.attnbenchVerification")?;
    let compiler = page.evaluate("window.attnbenchCompiler")?;
    let results = page
        .evaluate("JSON.stringify(window.attnbenchResults)")?
        .as_str()
        .unwrap_or("")
        .to_string();
    if let Some(path) = &options.screenshot {
        screenshot(&mut page, path)?;
    }
    let verified = checks::verification(&summary, &kernels, planned)
        .map_err(|e| failure(&page, &browser, &e))?;
    let compiled = checks::compiler(&compiler).map_err(|e| failure(&page, &browser, &e))?;
    let lines = checks::results(&results, &kernels).map_err(|e| failure(&page, &browser, &e))?;
    let compared = compare(&results)?;
    println!(
        "cargo web test: {verified} ({:.0} s in the browser)",
        summary["seconds"].as_f64().unwrap_or(0.0)
    );
    println!("cargo web test: {compiled}");
    for line in lines {
        println!("cargo web test: {line}");
    }
    println!("cargo web test: {compared}");
    if let Some(dir) = &options.save {
        save(&results, dir)?;
    }
    println!(
        "cargo web test: passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Polls `window.attnbenchStatus` until it is neither loading nor running; prints the
/// page's progress now and then.
fn wait_for_status(page: &mut Page, timeout: Duration) -> Result<String, String> {
    let started = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let status = page.evaluate("window.attnbenchStatus ?? 'loading'")?;
        let status = status.as_str().unwrap_or("").to_string();
        if status != "loading" && status != "running" {
            return Ok(status);
        }
        if last_print.elapsed() > Duration::from_secs(15) {
            let progress =
                page.evaluate("document.getElementById('progress-label')?.textContent ?? ''")?;
            println!(
                "cargo web test: {:.0} s: {}",
                started.elapsed().as_secs_f64(),
                progress.as_str().unwrap_or("")
            );
            last_print = Instant::now();
        }
        if started.elapsed() > timeout {
            return Err(format!("the page was still {status:?} after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A failure message with what the page and the browser said.
fn failure(page: &Page, browser: &Chromium, what: &str) -> String {
    let console = &page.console[page.console.len().saturating_sub(30)..];
    format!(
        "{what}\n--- the page's console (last {}):\n{}\n--- Chromium's output (last lines):\n{}",
        console.len(),
        console.join("\n"),
        browser.log_tail()
    )
}

/// Saves a PNG of the whole page.
fn screenshot(page: &mut Page, path: &PathBuf) -> Result<(), String> {
    let height = page
        .evaluate("document.documentElement.scrollHeight")?
        .as_f64()
        .unwrap_or(1600.0);
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1280, "height": height.ceil() as u32, "deviceScaleFactor": 1, "mobile": false }),
    )?;
    let shot = page.call("Page.captureScreenshot", json!({ "format": "png" }))?;
    let png = base64_decode(shot["data"].as_str().unwrap_or(""))?;
    std::fs::write(path, png).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("cargo web test: screenshot in {}", path.display());
    Ok(())
}

/// What `attnbench compare` does with the browser's results beside a native device folder
/// (`results/` of this repository): the browser's file saved into a device folder of a
/// temporary results root as a native run saves, both folders loaded with the schema
/// check, and the comparison table drawn from them.
fn compare(results: &str) -> Result<String, String> {
    use attnbench::results::{DeviceFolder, ResultsFile};
    let file: ResultsFile = serde_json::from_str(results).map_err(|e| e.to_string())?;
    let root = std::env::temp_dir().join(format!("attnbench-web-test-{}", std::process::id()));
    let web = DeviceFolder::for_device(&root, &file.device);
    let saved = (|| {
        web.check_writable()?;
        let lock = web.lock()?;
        web.merge_and_save(
            &lock,
            file.device.clone(),
            file.rows.clone(),
            (None, file.runs.last()),
        )?;
        drop(lock);
        DeviceFolder::at(&web.dir).load_existing()
    })();
    let _ = std::fs::remove_dir_all(&root);
    let saved =
        saved.map_err(|e| format!("saving the browser's results as a device folder: {e}"))?;
    let results_root = site::root().join("results");
    let native = std::fs::read_dir(&results_root)
        .map_err(|e| format!("reading {}: {e}", results_root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("results.json").is_file())
        .filter_map(|p| DeviceFolder::at(&p).load_existing().ok().map(|f| (p, f)))
        .filter(|(_, f)| f.device.backend != "WebGPU")
        .min_by_key(|(p, _)| p.clone())
        .ok_or_else(|| {
            format!(
                "no native device folder in {} to compare with",
                results_root.display()
            )
        })?;
    let table = attnbench::report::comparison_markdown(&[&native.1, &saved]);
    for device in [&native.1.device.adapter, &saved.device.adapter] {
        if !table.contains(device.as_str()) {
            return Err(format!("the comparison does not name {device}:\n{table}"));
        }
    }
    Ok(format!(
        "compare: {} beside {} ({} lines of comparison)",
        saved.device.slug(),
        native.0.display(),
        table.lines().count()
    ))
}

/// Merges the browser's results into its device folder under `root`, as a native run
/// saves, and writes the folder's README and charts (what `attnbench plot` writes).
fn save(results: &str, root: &PathBuf) -> Result<(), String> {
    use attnbench::results::{DeviceFolder, ResultsFile};
    let file: ResultsFile = serde_json::from_str(results).map_err(|e| e.to_string())?;
    let folder = DeviceFolder::for_device(root, &file.device);
    folder.check_writable().map_err(|e| e.to_string())?;
    let lock = folder.lock().map_err(|e| e.to_string())?;
    let run = file.runs.last();
    let merged = folder
        .merge_and_save(&lock, file.device.clone(), file.rows.clone(), (None, run))
        .map_err(|e| e.to_string())?;
    let written =
        attnbench::report::write_device_report(&merged, &folder.dir).map_err(|e| e.to_string())?;
    println!(
        "cargo web test: results merged into {} ({} files written)",
        folder.dir.display(),
        written.len() + 2
    );
    // And the comparison of every device folder under `root` (what `attnbench compare`
    // writes), in `root/compare/`.
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| format!("reading {}: {e}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("results.json").is_file())
        .collect();
    dirs.sort();
    let files = dirs
        .iter()
        .map(|d| DeviceFolder::at(d).load_existing())
        .collect::<attnbench::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    if files.len() > 1 {
        let refs: Vec<&ResultsFile> = files.iter().collect();
        let out = root.join("compare");
        let written =
            attnbench::report::write_comparison(&refs, &out).map_err(|e| e.to_string())?;
        println!(
            "cargo web test: comparison of {} devices in {} ({} files)",
            refs.len(),
            out.display(),
            written.len()
        );
    }
    Ok(())
}
