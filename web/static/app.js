// The page's glue: reads the adapter as the browser describes it, loads the peer (ONNX
// Runtime Web, ort-peer.js), hands the run to the wasm module (attnbench_web: probe,
// verification, sweep, results, charts) and draws what it reports (view.js). One run at a
// time per browser: a second tab waits for the first (a Web Lock on the origin).
//
// Automated runs (`?auto&budget=S&kernels=…&max_n=N&peers=ort|none&verify_seed=SEED`)
// poll window.attnbenchStatus ("running", then "done" or "failed: <reason>"; a run that
// measured nothing is "failed: no point measured (…)") and read window.attnbenchResults
// (the results file, as the download writes it), window.attnbenchVerification (the
// verification summary), window.attnbenchCompiler (what the browser's shader compiler said
// about every module the run compiled), window.attnbenchPeer (the peer's checks and flash ÷
// ORT) and window.attnbenchAdapter (what the Adapter section says).
import init, { open_device, run, render_charts, peer_model } from "./attnbench_web.js";
import { loadOrt, measure as measureOrt } from "./ort-peer.js";
import * as view from "./view.js";

const { $ } = view;
const params = new URLSearchParams(location.search);
const auto = params.has("auto");
const LOCK = "attnbench-gpu";

window.attnbenchResults = null;
window.attnbenchVerification = null;
window.attnbenchCompiler = null;
window.attnbenchPeer = null;
window.attnbenchAdapter = null;
setStatus(auto ? "running" : "loading");

function setStatus(status) {
  window.attnbenchStatus = status;
  $("status").textContent = status;
}

function fail(reason) {
  view.stopClock();
  setStatus(`failed: ${reason}`);
  $("progress-label").textContent = "";
}

// Errors nothing else caught (a trap in the wasm module, a rejected promise) fail the run
// rather than leave it "running".
window.addEventListener("error", (e) => fail(e.message || String(e.error)));
window.addEventListener("unhandledrejection", (e) => fail(String(e.reason?.message ?? e.reason)));

/** The browser's name and major version, its full version, and the platform. */
async function browserNames() {
  const ua = navigator.userAgent;
  const data = navigator.userAgentData;
  if (data?.brands?.length) {
    const preferred = ["Microsoft Edge", "Google Chrome", "Opera", "Brave", "Chromium"];
    const brand =
      preferred.map((p) => data.brands.find((b) => b.brand === p)).find(Boolean) ??
      data.brands.find((b) => !/not.?a.?brand/i.test(b.brand)) ??
      data.brands[0];
    let full = `${brand.brand} ${brand.version}`;
    let platform = data.platform || navigator.platform;
    try {
      const high = await data.getHighEntropyValues(["fullVersionList", "architecture"]);
      const exact = high.fullVersionList?.find((b) => b.brand === brand.brand);
      if (exact) full = `${exact.brand} ${exact.version}`;
      if (high.architecture) platform = `${platform} ${high.architecture}`;
    } catch {
      // High-entropy values are optional.
    }
    return { browser: `${brand.brand} ${brand.version}`, full, platform };
  }
  for (const [re, name] of [[/Firefox\/(\d+)(\S*)/, "Firefox"], [/Version\/(\d+)(\S*).*Safari/, "Safari"]]) {
    const m = ua.match(re);
    if (m) return { browser: `${name} ${m[1]}`, full: `${name} ${m[1]}${m[2]}`, platform: navigator.platform };
  }
  return { browser: "unknown browser", full: ua, platform: navigator.platform };
}

function download(results) {
  const blob = new Blob([JSON.stringify(results, null, 2) + "\n"], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "results.json";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

/** The settings of an automated run (URL) or of the form; seeds stay text. */
function settings() {
  const keys = ["kernels", "budget", "min_n", "max_n", "seed", "verify_seed", "peers"];
  const out = {};
  for (const key of keys) if (params.has(key)) out[key] = params.get(key);
  if (!auto) Object.assign(out, { kernels: $("kernels").value, budget: $("budget").value, max_n: $("max_n").value });
  return out;
}

/** Runs `job` holding the page's lock on the GPU: another tab of this page that holds it
 * makes this one wait, saying so. */
async function withGpuLock(job) {
  if (!navigator.locks) return job();
  const first = await navigator.locks.request(LOCK, { ifAvailable: true }, async (lock) => (lock ? { value: await job() } : null));
  if (first) return first.value;
  $("progress-label").textContent = "waiting: another tab of this page is measuring on this adapter; this run starts when it ends";
  return navigator.locks.request(LOCK, job);
}

let peer = null;

async function start() {
  $("run-button").disabled = true;
  $("download").disabled = true;
  window.attnbenchResults = null;
  window.attnbenchVerification = null;
  window.attnbenchCompiler = null;
  window.attnbenchPeer = null;
  const state = { verification: null, compiler: null, ceilings: null, peerChecks: [] };
  setStatus("running");
  try {
    const options = settings();
    const withPeer = options.peers !== "none" && peer ? peer : null;
    const results = JSON.parse(await withGpuLock(() => run(JSON.stringify(options), (e) => {
      view.onEvent(e, state);
      window.attnbenchVerification = state.verification;
      window.attnbenchCompiler = state.compiler;
    }, withPeer)));
    view.stopClock();
    const measured = results.rows.filter((r) => r.status === "ok").length;
    $("progress-label").textContent = `done: ${measured} points measured`;
    const ratios = view.peerRatios(results);
    view.showPeerRatios(ratios);
    window.attnbenchPeer = { status: peer?.status ?? null, checks: state.peerChecks, ratios };
    view.showCharts(JSON.parse(render_charts(JSON.stringify(results))));
    window.attnbenchResults = results;
    $("download").onclick = () => download(results);
    $("download").disabled = false;
    setStatus("done");
  } catch (e) {
    window.attnbenchPeer = { status: peer?.status ?? null, checks: state.peerChecks, ratios: [] };
    fail(e?.message ?? String(e));
  } finally {
    $("run-button").disabled = false;
  }
}

function adapterText() {
  return {
    line: $("adapter-line").textContent,
    warning: $("adapter-warning").hidden ? null : $("adapter-warning").textContent,
    help: $("webgpu-help").hidden ? null : $("webgpu-help").textContent,
  };
}

async function main() {
  await init();
  if (!navigator.gpu) {
    view.showNoWebGPU("this browser has no WebGPU (navigator.gpu is missing)");
    window.attnbenchAdapter = adapterText();
    throw new Error("WebGPU is unavailable: navigator.gpu is missing");
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    view.showNoWebGPU("the browser offers no WebGPU adapter (navigator.gpu.requestAdapter() gave none)");
    window.attnbenchAdapter = adapterText();
    throw new Error("WebGPU is unavailable: the browser offers no WebGPU adapter");
  }
  const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : {});
  const names = await browserNames();
  const device = JSON.parse(await open_device(JSON.stringify({
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
    browser: names.browser,
    browser_full: names.full,
    platform: names.platform,
    memory: params.get("memory"),
  })));
  let status = null;
  if (params.get("peers") !== "none") {
    status = await loadOrt(adapter, info, peer_model(16, 64, 1));
    peer = { status, measure: measureOrt };
  }
  view.showAdapter(info, names, adapter, device, status);
  window.attnbenchAdapter = adapterText();
  for (const key of ["kernels", "budget", "max_n"]) if (params.has(key)) $(key).value = params.get(key);
  $("run-form").addEventListener("submit", (e) => { e.preventDefault(); start(); });
  $("run-button").disabled = false;
  if (auto) await start();
  else setStatus("ready");
}

main().catch((e) => fail(e?.message ?? String(e)));
