// What the page draws: the adapter (or why there is none, and how to get one), a
// software adapter's warning, the run's progress events, the peer's checks and ratios, and
// the charts (one per row, click to open full size). app.js runs things; this draws them.

export const $ = (id) => document.getElementById(id);

export function row(table, cells, cls) {
  const body = table.tBodies[0] ?? table.createTBody();
  const tr = body.insertRow();
  if (cls) tr.className = cls;
  for (const [text, tdClass] of cells) {
    const td = tr.insertCell();
    td.textContent = text ?? "";
    if (tdClass) td.className = tdClass;
  }
  return tr;
}

function header(table, names) {
  table.replaceChildren();
  const tr = table.createTHead().insertRow();
  for (const [name, cls] of names) {
    const th = document.createElement("th");
    th.textContent = name;
    if (cls) th.className = cls;
    tr.appendChild(th);
  }
}

export function bytes(n) {
  if (n == null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u ? `${v.toFixed(2)} ${units[u]}` : `${n} B`;
}

function duration(s) {
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

// Where browsers offer WebGPU (the GPU for the Web group's implementation status, November
// 2025).
const WEBGPU_HELP = [
  "Chrome and Edge 113 or later on Windows, macOS and ChromeOS; Chrome 121 or later on Android 12+ (Qualcomm or ARM GPUs).",
  "Chrome on Linux: still behind a flag. Start it with --enable-unsafe-webgpu (many systems also need --ozone-platform=x11 --use-angle=vulkan --enable-features=Vulkan,VulkanFromANGLE), or turn on chrome://flags/#enable-unsafe-webgpu. Headless Chromium needs --enable-unsafe-webgpu; on a machine without a GPU its adapter is SwiftShader, a CPU emulation.",
  "Firefox 141 or later on Windows, and 145 or later on Apple Silicon Macs with macOS 26; on Linux and other Macs, Firefox Nightly.",
  "Safari 26 or later (macOS, iOS, iPadOS and visionOS 26).",
  "Everywhere: only secure pages (https, or http://localhost) see WebGPU.",
];

/** The Adapter section when the browser offers no WebGPU adapter. */
export function showNoWebGPU(reason) {
  const line = $("adapter-line");
  line.className = "bad";
  line.textContent = `WebGPU is unavailable: ${reason}. Nothing can be measured in this browser as it runs now.`;
  const help = $("webgpu-help");
  help.replaceChildren();
  const p = document.createElement("p");
  p.textContent = "How to get WebGPU:";
  const ul = document.createElement("ul");
  for (const text of WEBGPU_HELP) {
    const li = document.createElement("li");
    li.textContent = text;
    ul.appendChild(li);
  }
  help.append(p, ul);
  help.hidden = false;
}

/** The Adapter section: the adapter as the browser and attnbench see it, the peer, and a
 * software adapter's warning. */
export function showAdapter(info, names, adapter, device, peer) {
  $("adapter-line").textContent =
    `${device.header.adapter} on ${device.header.backend}. ` +
    `Download results.json after a run, then put it in results/${device.folder}/ to compare it with other devices.`;
  const software = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true ||
    device.header.device_type === "Cpu";
  if (software) {
    const warning = $("adapter-warning");
    warning.textContent = `Software adapter: ${device.header.adapter} is a fallback (CPU) adapter, ` +
      "so the numbers on this page measure a CPU emulation of a GPU, not a GPU. Do not compare them with GPUs.";
    warning.hidden = false;
  }
  const t = $("adapter-table");
  const offered = [...adapter.features].sort();
  const used = device.features;
  const rows = [
    ["vendor", info.vendor || "(empty)"],
    ["architecture", info.architecture || "(empty)"],
    ["description", info.description || "(empty)"],
    ["fallback (software) adapter", String(info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? "unknown")],
    ["device type (wgpu)", device.header.device_type],
    ["browser", `${names.full} on ${names.platform}`],
    ["features attnbench uses", used.length ? used.join(", ") : "none"],
    ["timing", device.timing],
    ["memory budget", device.memory_budget.bytes ? bytes(device.memory_budget.bytes) : device.memory_budget.source],
    ["max buffer / storage binding", `${bytes(device.max_buffer_size)} / ${bytes(device.max_storage_buffer_binding_size)}`],
    ["workgroup memory / invocations", `${bytes(device.max_compute_workgroup_storage_size)} / ${device.max_compute_invocations_per_workgroup}`],
    ["peer", peer == null ? "none asked for" : peer.available
      ? `ONNX Runtime Web ${peer.version} (WebGPU) on this adapter (${peer.adapter}), device features ${peer.features.join(", ") || "none"}; inputs ${peer.inputs}` +
        (peer.note ? `; ${peer.note}` : "")
      : peer.reason],
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

/** The time left of the run's budget, ticking. */
const clock = { timer: null, end: 0 };
export function startClock(budgetS) {
  stopClock();
  clock.end = performance.now() + budgetS * 1000;
  const tick = () => { $("time-left").textContent = `· ${duration((clock.end - performance.now()) / 1000)} of the budget left`; };
  tick();
  clock.timer = setInterval(tick, 1000);
}
export function stopClock() {
  if (clock.timer) clearInterval(clock.timer);
  clock.timer = null;
  $("time-left").textContent = "";
}

/** Draws one progress event of the run; `state` collects what automation reads. */
export function onEvent(e, state) {
  const progress = $("progress");
  const label = $("progress-label");
  switch (e.type) {
    case "run-start":
      startClock(e.budget_s);
      for (const id of ["verify-table", "peer-check-table", "peer-table", "sweep-table"]) $(id).replaceChildren();
      for (const id of ["peer-check-line", "ceilings-line", "compiler-line"]) $(id).textContent = "";
      break;
    case "probe": {
      const c = e.ceilings;
      state.ceilings = c;
      $("ceilings-line").textContent = c
        ? `Probed ceilings (${e.seconds.toFixed(1)} s): f32 FMA ${c.fma_f32_gflops.toFixed(1)} GFLOP/s, bandwidth ${c.bandwidth_gbps.toFixed(2)} GB/s, upload ${c.upload_gbps.toFixed(2)} GB/s, read-back ${c.readback_gbps.toFixed(2)} GB/s: rows carry % of these.`
        : `Ceilings ${e.skipped}.`;
      break;
    }
    case "verify-start": {
      progress.max = e.total; progress.value = 0;
      label.textContent = `verifying ${e.kernels.join(", ")}: ${e.total} checks against the f64 reference, within ${duration(e.budget_s)}`;
      $("verify-table").replaceChildren();
      $("verify-line").textContent = `Inputs from seed ${e.seed}; checks that did not pass are listed below.`;
      break;
    }
    case "check": {
      progress.max = e.total; progress.value = e.done;
      const c = e.check;
      label.textContent = `check ${e.done}/${e.total}: ${c.kernel} at ${c.shape} (${c.inputs}) ${c.outcome}`;
      if (c.outcome !== "passed" && c.outcome !== "not run") {
        const t = $("verify-table");
        if (!t.tHead) header(t, [["kernel", "text"], ["shape", "text"], ["inputs", "text"], ["outcome", "text"], ["rel. L2 error"], ["tolerance"], ["detail", "text"]]);
        row(t, [
          [c.kernel, "text"], [c.shape, "text"], [c.inputs, "text"], [c.outcome, "text"],
          [c.rel_l2_error?.toExponential(2)], [c.tolerance.toExponential(1)], [c.detail, "reason"],
        ], c.outcome);
      }
      break;
    }
    case "verify-done": {
      const s = e.summary;
      state.verification = s;
      const per = s.kernels.map((k) => `${k.kernel} ${k.passed} passed${k.failed ? `, ${k.failed} FAILED` : ""}${k.skipped ? `, ${k.skipped} skipped` : ""}`).join("; ");
      const line = $("verify-line");
      line.className = s.failed ? "bad" : "ok";
      line.textContent = `${s.passed} of ${s.total} checks passed, ${s.failed} failed, ${s.skipped} skipped ` +
        `(${s.seconds.toFixed(1)} s, seed ${s.seed}): ${per}.` +
        (s.cut_by_budget ? ` ${s.cut_by_budget} checks were not run: the budget gave verification no more time (smallest shapes first).` : "") +
        (s.failed ? " No numbers are published." : "");
      break;
    }
    case "compiler": {
      const c = e.report;
      state.compiler = c;
      const line = $("compiler-line");
      line.className = c.errors.length ? "bad" : "ok";
      line.textContent = `The browser's shader compiler took ${c.modules - c.errors.length} of ${c.modules} modules ` +
        `(${c.pipelines} pipelines): ${c.errors.length} errors, ${c.warnings.length} warnings.` +
        (c.errors.length || c.warnings.length ? " " + [...c.errors, ...c.warnings].join(" | ") : "");
      break;
    }
    case "sweep-start": {
      progress.max = e.total; progress.value = 0;
      header($("sweep-table"), [["family", "text"], ["kernel", "text"], ["n"], ["status", "text"], ["median ms"], ["GFLOP/s"], ["% of FMA peak"], ["peak buffer bytes"], ["timing", "text"], ["reason", "text"]]);
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
      row($("sweep-table"), [
        [r.family, "text"], [r.kernel, "text"], [String(r.seq_len)], [r.status, "text"],
        [r.median_ms?.toFixed(3)], [r.gflops?.toFixed(2)],
        [r.gflops != null && state.ceilings ? (100 * r.gflops / state.ceilings.fma_f32_gflops).toFixed(1) : ""], [bytes(r.peak_buffer_bytes)],
        [r.timing, "text"], [r.reason, "reason"],
      ], r.status === "ok" ? "" : "skipped");
      break;
    }
    case "peer-check": {
      const c = e.check;
      state.peerChecks.push(c);
      const t = $("peer-check-table");
      if (!t.tHead) header(t, [["shape", "text"], ["outcome", "text"], ["rel. L2 error"], ["tolerance"], ["program", "text"], ["timing", "text"], ["note", "text"]]);
      row(t, [[c.shape, "text"], [c.passed ? "passed" : "failed", "text"], [c.rel_l2_error.toExponential(2)],
        [c.tolerance.toExponential(1)], [c.program, "text"], [c.timing, "text"], [c.note, "reason"]], c.passed ? "" : "failed");
      const passed = state.peerChecks.filter((x) => x.passed).length;
      $("peer-check-line").textContent = `ONNX Runtime Web against the same f64 reference: ${passed} of ${state.peerChecks.length} shapes matched.`;
      break;
    }
  }
}

/** Flash's time ÷ the peer's at each point both measured (the results' rows). */
export function peerRatios(results) {
  const out = [];
  for (const peer of results.rows.filter((r) => r.kernel === "ort-mha" && r.status === "ok")) {
    const flash = results.rows.find((r) => r.kernel === "flash" && r.status === "ok" &&
      r.family === peer.family && r.seq_len === peer.seq_len && r.head_dim === peer.head_dim);
    if (flash) out.push({ family: peer.family, seq_len: peer.seq_len, flash_ms: flash.median_ms, ort_ms: peer.median_ms, flash_over_ort: flash.median_ms / peer.median_ms, program: peer.config });
  }
  return out;
}

export function showPeerRatios(ratios) {
  const t = $("peer-table");
  t.replaceChildren();
  if (!ratios.length) return;
  header(t, [["family", "text"], ["n"], ["flash ms"], ["ORT ms"], ["flash ÷ ORT"], ["ORT program", "text"]]);
  for (const r of ratios) {
    row(t, [[r.family, "text"], [String(r.seq_len)], [r.flash_ms.toFixed(3)], [r.ort_ms.toFixed(3)],
      [r.flash_over_ort.toFixed(2)], [r.program, "text"]]);
  }
  const caption = t.createCaption();
  caption.textContent = "attnbench flash beside ONNX Runtime Web: flash's time ÷ ORT's (below 1, flash is faster)";
}

/** The charts, one per row at the section's width; a click opens one full size. */
export function showCharts(charts) {
  const box = $("charts");
  box.replaceChildren();
  for (const chart of charts) {
    const figure = document.createElement("figure");
    figure.innerHTML = chart.svg;
    figure.title = `${chart.name}: click to open full size`;
    figure.addEventListener("click", () => {
      $("chart-full").innerHTML = chart.svg;
      $("chart-dialog").showModal();
    });
    box.appendChild(figure);
  }
}
