//! Headless Chromium for the browser test: found on PATH (or `ATTNBENCH_CHROMIUM`),
//! started with WebGPU enabled (`--enable-unsafe-webgpu`: headless Chromium has no
//! adapter without it; on a machine without a GPU the adapter is SwiftShader, on the CPU)
//! or, to see the page without WebGPU, without it; its DevTools on a port it picks itself,
//! in a fresh profile removed afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The names a Chromium goes by on PATH.
const NAMES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// The browser to drive, or why there is none.
pub fn find() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("ATTNBENCH_CHROMIUM") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "ATTNBENCH_CHROMIUM={} is not a file",
                path.display()
            ))
        };
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    NAMES
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no Chromium on PATH (looked for {}); install one, e.g. \
                 `apt-get install -y --no-install-recommends chromium`, or set ATTNBENCH_CHROMIUM",
                NAMES.join(", ")
            )
        })
}

/// A running headless Chromium.
pub struct Chromium {
    child: Child,
    profile: PathBuf,
    /// Its DevTools HTTP and WebSocket port.
    pub port: u16,
}

impl Chromium {
    /// Starts `exe` headless on `about:blank`, with WebGPU when `webgpu` says so, and waits
    /// (up to a minute) for its DevTools.
    pub fn launch(exe: &Path, webgpu: bool) -> Result<Chromium, String> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let profile =
            std::env::temp_dir().join(format!("attnbench-chromium-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&profile).map_err(|e| format!("creating the profile: {e}"))?;
        let log = std::fs::File::create(profile.join("chromium.log"))
            .map_err(|e| format!("creating the browser log: {e}"))?;
        let mut command = Command::new(exe);
        command.args([
            "--headless=new",
            // Root in CI: Chromium's sandbox refuses to run as root.
            "--no-sandbox",
            "--remote-debugging-port=0",
            "--no-first-run",
            "--no-default-browser-check",
            // No connections of its own: the machine's network is closed.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1600",
        ]);
        if webgpu {
            command.arg("--enable-unsafe-webgpu");
        }
        let child = command
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let mut browser = Chromium {
            child,
            profile,
            port: 0,
        };
        browser.port = browser.wait_for_devtools(Duration::from_secs(60))?;
        Ok(browser)
    }

    /// The port Chromium wrote into `DevToolsActivePort` once its DevTools listen.
    fn wait_for_devtools(&mut self, timeout: Duration) -> Result<u16, String> {
        let file = self.profile.join("DevToolsActivePort");
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&file)
                && let Some(Ok(port)) = text.lines().next().map(str::parse::<u16>)
            {
                return Ok(port);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "Chromium exited ({status}) before its DevTools started:\n{}",
                    self.log_tail()
                ));
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "Chromium's DevTools did not start within {timeout:?}:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of the browser's own output.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.profile.join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
