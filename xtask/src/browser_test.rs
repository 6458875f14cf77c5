//! `cargo web test`: the browser edition in a real browser. Builds the site, serves it on
//! 127.0.0.1, opens it in headless Chromium with `?auto` (a small budget, n ≤ 512:
//! SwiftShader runs on the CPU), waits for the page's status, and checks what it
//! verified and measured ([`crate::checks`]) and what it shows ([`crate::page_checks`]:
//! the peer's rows, verified; the ceilings; the software adapter's warning; readable
//! charts). Then two short runs: one whose budget is too small to measure anything (it
//! must fail, not end "done" with nothing), started while the GPU's lock is held as by
//! another tab (it must wait, saying so), and the page in a Chromium without WebGPU (its
//! Adapter section must say so, and how to get WebGPU). Without Chromium the test
//! says it was skipped and why; with `ATTNBENCH_REQUIRE_BROWSER=1` that is a failure.
//!
//! The results are checked with the native command line, not the library (which xtask
//! does not link, see [`crate::native`]): `attnbench plot` loads them with the full schema
//! check, and `attnbench compare` sets them beside a native device folder of `results/`.
//!
//! `--save DIR` writes the results as DIR's device folder for the browser (replacing the
//! results a previous run saved there: no merge) and writes its README and charts with
//! `attnbench plot`, and the comparison of DIR's device folders with `attnbench compare`;
//! `--screenshot FILE` saves a PNG of the page after the run.

use crate::cdp::{Page, base64_decode};
use crate::chromium::{self, Chromium};
use crate::native::{Attnbench, TempDir, device_slug};
use crate::{checks, page_checks, serve, site, value};
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
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
    let attnbench = Attnbench::build(&site::root())?;

    let server = serve::Server::start(&dist, 0).map_err(|e| format!("serving the site: {e}"))?;
    let url = format!(
        "http://{}/?auto&budget={}&kernels={}&max_n={}",
        server.addr(),
        options.budget_s,
        options.kernels,
        options.max_n
    );
    let browser = Chromium::launch(&exe, true)?;
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
    let peer = page.evaluate("window.attnbenchPeer")?;
    let adapter = page.evaluate("window.attnbenchAdapter")?;
    let chart_text = page.evaluate(page_checks::CHART_TEXT_JS)?;
    let results = page
        .evaluate("JSON.stringify(window.attnbenchResults)")?
        .as_str()
        .unwrap_or("")
        .to_string();
    if let Some(path) = &options.screenshot {
        screenshot(&mut page, path)?;
    }
    let verified =
        checks::verification(&summary, &kernels).map_err(|e| failure(&page, &browser, &e))?;
    let compiled = checks::compiler(&compiler).map_err(|e| failure(&page, &browser, &e))?;
    let file: Value = serde_json::from_str(&results)
        .map_err(|e| failure(&page, &browser, &format!("the results are not JSON: {e}")))?;
    let mut lines = checks::results(&file, &kernels).map_err(|e| failure(&page, &browser, &e))?;
    let shown = [
        page_checks::peer(&file, &peer),
        page_checks::ceilings(&file).map(|l| vec![l]),
        page_checks::software_warning(&file, &adapter).map(|l| vec![l]),
        page_checks::chart_text(&chart_text).map(|l| vec![l]),
    ];
    for check in shown {
        lines.extend(check.map_err(|e| failure(&page, &browser, &e))?);
    }
    let compared = compare(&attnbench, &file)?;
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
        save(&attnbench, &file, dir)?;
    }

    // A budget too small to measure anything must fail, saying so. Started while another
    // tab of the page holds the GPU (the page's lock, held here for 3 s), it waits first.
    let tiny = format!(
        "http://{}/?budget=0.1&kernels={}&max_n={}&peers=none",
        server.addr(),
        options.kernels,
        options.max_n
    );
    page.call("Page.navigate", json!({ "url": tiny }))?;
    let ready = wait_for_status(&mut page, Duration::from_secs(120))
        .map_err(|e| failure(&page, &browser, &e))?;
    if ready != "ready" {
        return Err(failure(
            &page,
            &browser,
            &format!("the page is {ready:?}, not ready"),
        ));
    }
    page.evaluate_awaited(page_checks::HOLD_GPU_LOCK_JS)?;
    page.evaluate("document.getElementById('run-button').click(), true")?;
    let waiting = wait_for_label(&mut page, "waiting: another tab")
        .map_err(|e| failure(&page, &browser, &e))?;
    let status = wait_for_status(&mut page, Duration::from_secs(180))
        .map_err(|e| failure(&page, &browser, &e))?;
    let tiny_line =
        page_checks::nothing_measured(&status).map_err(|e| failure(&page, &browser, &e))?;
    println!("cargo web test: second tab: {waiting}");
    println!("cargo web test: {tiny_line}");
    drop(page);
    drop(browser);

    // The page where the browser offers no WebGPU.
    let plain = Chromium::launch(&exe, false)?;
    let mut page = Page::connect(plain.port)?;
    page.call("Runtime.enable", json!({}))?;
    let url = format!("http://{}/?auto&budget=10", server.addr());
    page.call("Page.navigate", json!({ "url": url }))?;
    let status = wait_for_status(&mut page, Duration::from_secs(120))
        .map_err(|e| failure(&page, &plain, &e))?;
    let adapter = page.evaluate("window.attnbenchAdapter")?;
    let line =
        page_checks::without_webgpu(&status, &adapter).map_err(|e| failure(&page, &plain, &e))?;
    println!("cargo web test: {line}");
    println!(
        "cargo web test: passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Polls the progress label (for up to 10 s) until it begins with `prefix`; returns it.
fn wait_for_label(page: &mut Page, prefix: &str) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let label = page.evaluate("document.getElementById('progress-label').textContent")?;
        let label = label.as_str().unwrap_or("").to_string();
        if label.starts_with(prefix) {
            return Ok(label);
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("the progress label is {label:?}, not {prefix:?}…"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
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

/// The tallest screenshot: the page down to its first chart or two (a README shows it).
const SCREENSHOT_MAX_HEIGHT: f64 = 4000.0;

/// Saves a PNG of the page, from its top down to [`SCREENSHOT_MAX_HEIGHT`].
fn screenshot(page: &mut Page, path: &PathBuf) -> Result<(), String> {
    let height = page
        .evaluate("document.documentElement.scrollHeight")?
        .as_f64()
        .unwrap_or(1600.0)
        .min(SCREENSHOT_MAX_HEIGHT);
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

/// The browser's results as a device folder of a temporary results root, loaded by
/// `attnbench plot` (the full schema check; it writes the folder's report) and compared by
/// `attnbench compare` with a native device folder (`results/` of this repository): the
/// comparison must name both devices.
fn compare(attnbench: &Attnbench, file: &Value) -> Result<String, String> {
    let tmp = TempDir::new("attnbench-web-test")?;
    let web = write_device_folder(&tmp.0, file)?;
    attnbench
        .run(&tmp.0, &["plot".as_ref(), web.as_os_str()])
        .map_err(|e| format!("the browser's results as a device folder: {e}"))?;
    let results_root = site::root().join("results");
    let (native, native_adapter) = std::fs::read_dir(&results_root)
        .map_err(|e| format!("reading {}: {e}", results_root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let text = std::fs::read_to_string(p.join("results.json")).ok()?;
            let device = serde_json::from_str::<Value>(&text).ok()?["device"].take();
            let adapter = device["adapter"].as_str()?.to_string();
            (device["backend"] != "WebGPU").then_some((p, adapter))
        })
        .min()
        .ok_or_else(|| {
            format!(
                "no native device folder in {} to compare with",
                results_root.display()
            )
        })?;
    let out = tmp.0.join("compare");
    let table = attnbench.run(
        &tmp.0,
        &[
            "compare".as_ref(),
            native.as_os_str(),
            web.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    )?;
    let adapter = file["device"]["adapter"].as_str().unwrap_or("");
    for device in [native_adapter.as_str(), adapter] {
        if !table.contains(device) {
            return Err(format!("the comparison does not name {device}:\n{table}"));
        }
    }
    Ok(format!(
        "compare: {} beside {} ({} lines of comparison)",
        device_slug(adapter, "WebGPU"),
        native.display(),
        table.lines().count()
    ))
}

/// Writes the browser's results as `results.json` of its device folder under `root` (as
/// native runs name it), replacing what was there; returns the folder.
fn write_device_folder(root: &Path, file: &Value) -> Result<PathBuf, String> {
    let adapter = file["device"]["adapter"].as_str().unwrap_or("");
    let dir = root.join(device_slug(adapter, "WebGPU"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let json = dir.join("results.json");
    let text = serde_json::to_string_pretty(file).map_err(|e| e.to_string())?;
    let partial = dir.join("results.json.partial");
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, &json))
        .map_err(|e| format!("writing {}: {e}", json.display()))?;
    Ok(dir)
}

/// Saves the browser's results as the browser's device folder under `root` and writes the
/// folder's README and charts (`attnbench plot`), then the comparison of every device
/// folder under `root` (`attnbench compare`) in `root/compare/`. Results saved there by an
/// earlier run are replaced, not merged (merging is the library's, which xtask does not
/// link), and the folder's `results.csv`, which only the library writes, is removed
/// rather than left disagreeing with `results.json`.
fn save(attnbench: &Attnbench, file: &Value, root: &Path) -> Result<(), String> {
    let folder = write_device_folder(root, file)?;
    let csv = folder.join("results.csv");
    if csv.exists() {
        std::fs::remove_file(&csv).map_err(|e| format!("removing {}: {e}", csv.display()))?;
        println!(
            "cargo web test: removed {} (written only by native runs; results.json replaces it)",
            csv.display()
        );
    }
    let plotted = attnbench.run(root, &["plot".as_ref(), folder.as_os_str()])?;
    println!(
        "cargo web test: results saved in {} ({})",
        folder.display(),
        plotted.trim()
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| format!("reading {}: {e}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("results.json").is_file())
        .collect();
    dirs.sort();
    if dirs.len() > 1 {
        let out = root.join("compare");
        let mut args: Vec<&OsStr> = vec!["compare".as_ref()];
        args.extend(dirs.iter().map(|d| d.as_os_str()));
        args.extend(["--out".as_ref(), out.as_os_str()]);
        let said = attnbench.run(root, &args)?;
        println!(
            "cargo web test: comparison of {} devices: {}",
            dirs.len(),
            said.lines().last().unwrap_or("")
        );
    }
    Ok(())
}
