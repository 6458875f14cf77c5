// The page's glue: reads the adapter as the browser describes it, hands the run to the
// wasm module (attnbench_web: verification, sweep, results, charts), and draws what it
// reports. Automated runs (`?auto&budget=S&kernels=…&max_n=N`) poll
// window.attnbenchStatus ("running", then "done" or "failed: <reason>") and read
// window.attnbenchResults (the results file, as the download writes it) and
// window.attnbenchVerification (the verification summary) and window.attnbenchCompiler
// (what the browser's shader compiler said about every module the run compiled).
import init, { open_device, run, render_charts } from "./attnbench_web.js";

const params = new URLSearchParams(location.search);
const auto = params.has("auto");
const $ = (id) => document.getElementById(id);

window.attnbenchResults = null;
window.attnbenchVerification = null;
window.attnbenchCompiler = null;
setStatus(auto ? "running" : "loading");

function setStatus(status) {
  window.attnbenchStatus = status;
  $("status").textContent = status;
}

function fail(reason) {
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

function row(table, cells, cls) {
  const tr = table.insertRow();
  if (cls) tr.className = cls;
  for (const [text, tdClass] of cells) {
    const td = tr.insertCell();
    td.textContent = text ?? "";
    if (tdClass) td.className = tdClass;
  }
  return tr;
}

function header(table, names) {
  const tr = table.createTHead().insertRow();
  for (const [name, cls] of names) {
    const th = document.createElement("th");
    th.textContent = name;
    if (cls) th.className = cls;
    tr.appendChild(th);
  }
}

function bytes(n) {
  if (n == null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u ? `${v.toFixed(2)} ${units[u]}` : `${n} B`;
}

function showAdapter(info, names, adapter, device) {
  $("adapter-line").textContent =
    `${device.header.adapter} on ${device.header.backend}: results go to results/${device.folder}/`;
  const t = $("adapter-table");
  const offered = [...adapter.features].sort();
  const used = device.features;
  const rows = [
    ["vendor", info.vendor || "(empty)"],
    ["architecture", info.architecture || "(empty)"],
    ["description", info.description || "(empty)"],
    ["fallback (software) adapter", String(info.isFallbackAdapter ?? "unknown")],
    ["browser", `${names.full} on ${names.platform}`],
    ["features attnbench uses", used.length ? used.join(", ") : "none"],
    ["timing", device.timing],
    ["memory budget", device.memory_budget.bytes ? bytes(device.memory_budget.bytes) : device.memory_budget.source],
    ["max buffer / storage binding", `${bytes(device.max_buffer_size)} / ${bytes(device.max_storage_buffer_binding_size)}`],
    ["workgroup memory / invocations", `${bytes(device.max_compute_workgroup_storage_size)} / ${device.max_compute_invocations_per_workgroup}`],
  ];
  if (offered.includes("subgroups") && !used.includes("subgroups")) {
    rows.push(["subgroups", "offered by the browser, but wgpu 30 cannot request them on the web: kernels that need them are skipped"]);
  }
  for (const [k, v] of rows) row(t, [[k], [v]]);
  $("features").textContent = offered.join(", ");
  const limits = $("limits-table");
  for (const key in adapter.limits) {
    const value = adapter.limits[key];
    if (typeof value === "number") row(limits, [[key], [String(value)]]);
  }
}

/** Draws one progress event of the run. */
function onEvent(e) {
  const progress = $("progress");
  const label = $("progress-label");
  switch (e.type) {
    case "verify-start": {
      progress.max = e.total; progress.value = 0;
      label.textContent = `verifying ${e.kernels.join(", ")}: ${e.total} checks against the f64 reference`;
      const t = $("verify-table");
      t.replaceChildren();
      header(t, [["kernel", "text"], ["shape", "text"], ["inputs", "text"], ["outcome", "text"], ["rel. L2 error"], ["tolerance"], ["detail", "text"]]);
      $("verify-line").textContent = `Inputs from seed ${e.seed}; checks that did not pass are listed below.`;
      break;
    }
    case "check": {
      progress.max = e.total; progress.value = e.done;
      const c = e.check;
      label.textContent = `check ${e.done}/${e.total}: ${c.kernel} at ${c.shape} (${c.inputs}) ${c.outcome}`;
      if (c.outcome !== "passed") {
        row($("verify-table").tBodies[0] ?? $("verify-table").createTBody(), [
          [c.kernel, "text"], [c.shape, "text"], [c.inputs, "text"], [c.outcome, "text"],
          [c.rel_l2_error?.toExponential(2)], [c.tolerance.toExponential(1)], [c.detail, "reason"],
        ], c.outcome);
      }
      break;
    }
    case "verify-done": {
      const s = e.summary;
      window.attnbenchVerification = s;
      const per = s.kernels.map((k) => `${k.kernel} ${k.passed} passed${k.failed ? `, ${k.failed} FAILED` : ""}${k.skipped ? `, ${k.skipped} skipped` : ""}`).join("; ");
      const line = $("verify-line");
      line.className = s.failed ? "bad" : "ok";
      line.textContent = `${s.passed} of ${s.total} checks passed, ${s.failed} failed, ${s.skipped} skipped ` +
        `(${s.seconds.toFixed(1)} s, seed ${s.seed}): ${per}.` + (s.failed ? " No numbers are published." : "");
      break;
    }
    case "compiler": {
      const c = e.report;
      window.attnbenchCompiler = c;
      const line = $("compiler-line");
      line.className = c.errors.length ? "bad" : "ok";
      line.textContent = `The browser's shader compiler took ${c.modules - c.errors.length} of ${c.modules} modules ` +
        `(${c.pipelines} pipelines): ${c.errors.length} errors, ${c.warnings.length} warnings.` +
        (c.errors.length || c.warnings.length ? " " + [...c.errors, ...c.warnings].join(" | ") : "");
      break;
    }
    case "sweep-start": {
      progress.max = e.total; progress.value = 0;
      const t = $("sweep-table");
      t.replaceChildren();
      header(t, [["family", "text"], ["kernel", "text"], ["n"], ["status", "text"], ["median ms"], ["GFLOP/s"], ["peak buffer bytes"], ["timing", "text"], ["reason", "text"]]);
      label.textContent = `sweep: ${e.total} points, ${e.budget_left_s.toFixed(0)} s of the budget left`;
      break;
    }
    case "point-start":
      progress.value = e.done;
      label.textContent = `point ${e.done + 1}/${e.total}: ${e.kernel} at ${e.shape}`;
      break;
    case "point": {
      progress.value = e.done;
      const r = e.row;
      const t = $("sweep-table");
      row(t.tBodies[0] ?? t.createTBody(), [
        [r.family, "text"], [r.kernel, "text"], [String(r.seq_len)], [r.status, "text"],
        [r.median_ms?.toFixed(3)], [r.gflops?.toFixed(2)], [bytes(r.peak_buffer_bytes)],
        [r.timing, "text"], [r.reason, "reason"],
      ], r.status === "ok" ? "" : "skipped");
      break;
    }
  }
}

function showCharts(results) {
  const charts = JSON.parse(render_charts(JSON.stringify(results)));
  const box = $("charts");
  box.replaceChildren();
  for (const chart of charts) {
    const figure = document.createElement("figure");
    figure.innerHTML = chart.svg;
    figure.title = chart.name;
    box.appendChild(figure);
  }
}

function download(results) {
  const blob = new Blob([JSON.stringify(results, null, 2) + "\n"], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "results.json";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

/** The settings of an automated run (URL) or of the form. */
function settings() {
  if (auto) {
    const out = {};
    for (const key of ["kernels", "budget", "min_n", "max_n", "seed"]) {
      if (params.has(key)) out[key] = params.get(key);
    }
    return out;
  }
  return { kernels: $("kernels").value, budget: $("budget").value, max_n: $("max_n").value };
}

async function start() {
  $("run-button").disabled = true;
  $("download").disabled = true;
  window.attnbenchResults = null;
  window.attnbenchVerification = null;
  window.attnbenchCompiler = null;
  setStatus("running");
  try {
    const results = JSON.parse(await run(JSON.stringify(settings()), onEvent));
    $("progress-label").textContent = `done: ${results.rows.filter((r) => r.status === "ok").length} points measured`;
    showCharts(results);
    window.attnbenchResults = results;
    $("download").onclick = () => download(results);
    $("download").disabled = false;
    setStatus("done");
  } catch (e) {
    fail(e?.message ?? String(e));
  } finally {
    $("run-button").disabled = false;
  }
}

async function main() {
  await init();
  if (!navigator.gpu) throw new Error("this browser has no WebGPU (navigator.gpu is missing)");
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("the browser offers no WebGPU adapter");
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
  showAdapter(info, names, adapter, device);
  for (const key of ["kernels", "budget", "max_n"]) if (params.has(key)) $(key).value = params.get(key);
  $("run-form").addEventListener("submit", (e) => { e.preventDefault(); start(); });
  $("run-button").disabled = false;
  if (auto) await start();
  else setStatus("ready");
}

main().catch((e) => fail(e?.message ?? String(e)));
