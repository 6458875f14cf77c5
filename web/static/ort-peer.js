// ONNX Runtime Web as the page's peer: its WebGPU build (web/dist/ort/, installed from npm
// by `cargo web build`, never fetched from elsewhere) runs the one-node com.microsoft
// MultiHeadAttention model the wasm module writes for each shape, on the page's adapter.
// The wasm module drives it (`measure`) and checks its output against attnbench's f64
// reference.
//
// Its device: where the adapter has subgroups of 16 lanes or more, or none, ORT opens its
// own (checked to be on the page's adapter by its adapterInfo) and its inputs and outputs
// stay on the GPU. Where the adapter's subgroups are narrower (SwiftShader's are 4), ORT
// 1.31's WebGPU attention gave outputs far from the reference (relative L2 error ≈ 0.8,
// flash and unfused programs alike) and matched it without subgroups; its flash program is
// tested with subgroups of 16 and up (its source says so). There ORT gets a device the page
// opens on its adapter without subgroups, and ORT copies inputs and outputs between the
// host and the GPU in each run (ORT 1.31 binds no GPU buffer, in or out, of a device handed
// to it: "no data transfer registered", "failed to find allocator"); its GPU timestamps
// time its dispatches alone, the wall clock would include the copies.
//
// Timing: ORT's own GPU profiling where the device has timestamp-query (each of its
// dispatches between timestamps; a run is the sum of its dispatches, to its 1 µs
// resolution), else the wall clock from session.run until the queue's submitted work is
// done. ORT prints its profile to stdout on the web (onnxruntime/core/common/profiler.h:
// std::cout), which its emscripten module binds to console.log when it loads: so
// console.log is wrapped before ORT loads, and lines are diverted only while a profile is
// being read.

/** Subgroups narrower than this are withheld from ORT (see above). */
const ORT_MIN_SUBGROUP = 16;

let ort = null;
let device = null;
let provider = null;
let gpuInputs = false;
let keeper = null;
let capture = null;

const consoleLog = console.log;
console.log = (...args) => {
  if (capture) capture.push(args.join(" "));
  else consoleLog(...args);
};

/** A device on `adapter` for ORT without subgroups: its timestamps and f16 where offered,
 * the adapter's limits. */
async function deviceWithoutSubgroups(adapter) {
  const requiredFeatures = ["timestamp-query", "chromium-experimental-timestamp-query-inside-passes", "shader-f16"]
    .filter((f) => adapter.features.has(f));
  const requiredLimits = {};
  for (const key in adapter.limits) {
    if (typeof adapter.limits[key] === "number") requiredLimits[key] = adapter.limits[key];
  }
  return adapter.requestDevice({ requiredFeatures, requiredLimits });
}

/** Loads ORT and starts its WebGPU execution provider on `adapter` (described by
 * `adapterInfo`) with `model` (a small one of the wasm module's). Returns what the page
 * shows: available, version, adapter, features, inputs, note, or why not. */
export async function loadOrt(adapter, adapterInfo, model) {
  try {
    ort = await import("./ort/ort.webgpu.min.mjs");
  } catch (e) {
    return {
      available: false,
      reason: `ONNX Runtime Web is not in this site (${e.message}); \`cargo web build\` installs it from npm`,
    };
  }
  ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";
  ort.env.webgpu.powerPreference = "high-performance";
  const narrow = adapter.features.has("subgroups") && (adapterInfo.subgroupMinSize ?? 0) < ORT_MIN_SUBGROUP;
  let note = "";
  try {
    if (narrow) {
      device = await deviceWithoutSubgroups(adapter);
      provider = { name: "webgpu", device };
      gpuInputs = false;
      note = `subgroups withheld (the adapter's are ${adapterInfo.subgroupMinSize} lanes; ORT's attention is tested with ${ORT_MIN_SUBGROUP} and up)`;
    } else {
      provider = "webgpu";
      gpuInputs = true;
    }
    // Kept open: ORT closes its own device with its last session, and the next session's
    // would be another (buffers of the first invalid there).
    keeper = await ort.InferenceSession.create(model, { executionProviders: [provider] });
  } catch (e) {
    return { available: false, reason: `ONNX Runtime Web could not start its WebGPU session: ${e.message}` };
  }
  if (!narrow) device = ort.env.webgpu.device;
  if (!device) return { available: false, reason: "ONNX Runtime Web opened no WebGPU device" };
  const info = device.adapterInfo ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" ");
  const same = ["vendor", "architecture", "device", "description"].every((k) => (info[k] ?? "") === (adapterInfo[k] ?? ""));
  const status = {
    version: ort.env.versions.web,
    adapter: name,
    features: [...device.features].sort(),
    inputs: gpuInputs ? "and outputs on the GPU" : "and outputs copied by ORT between host and GPU in each run",
    subgroups_withheld: narrow,
    note,
  };
  if (!same) {
    return { ...status, available: false, reason: `ONNX Runtime Web opened another adapter (${name || "unnamed"}) than the page's` };
  }
  return { ...status, available: true };
}

function gpuBuffer(data) {
  const buffer = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/** ORT's GPU events of a profile (pid and tid -1: the WebGPU EP's timestamps), in order. */
function gpuEvents(lines) {
  const text = lines.join("\n");
  const start = text.indexOf("[");
  if (start < 0) return [];
  const events = JSON.parse(text.slice(start, text.lastIndexOf("]") + 1));
  return events.filter((e) => e.pid === -1 && e.tid === -1);
}

/** Reads the session's profile (ending it). */
async function profile(session) {
  capture = [];
  try {
    await session.endProfiling();
    return gpuEvents(capture);
  } finally {
    capture = null;
  }
}

/** Per timed run, the sum of its dispatches' GPU times (ms), from a profile of `runs`
 * runs whose last `timed` were timed; and the programs of one run. Or why not. */
function gpuTimes(events, runs, timed) {
  const perRun = events.length / runs;
  if (!(events.length > 0 && Number.isInteger(perRun))) {
    return { why: `ORT's profile had ${events.length} GPU events for ${runs} runs: wall clock kept` };
  }
  const last = events.slice(events.length - timed * perRun);
  const times = [];
  for (let r = 0; r < timed; r++) {
    times.push(last.slice(r * perRun, (r + 1) * perRun).reduce((sum, e) => sum + e.dur, 0) / 1000);
  }
  const programs = last.slice(0, perRun).map((e) => e.name);
  if (!times.every((t) => t > 0)) {
    return { programs, why: "ORT's profile had runs under its 1 µs resolution: wall clock kept" };
  }
  return { programs, times };
}

/** Measures one shape. `request`: {seq_len, head_dim, heads, warmup, samples, min_samples,
 * time_budget_ms, model (Uint8Array), q, k, v (Float32Array, [1, n, H·d])}. Returns
 * {summary: {times_ms, timing, programs, note}, output (Float32Array of the first timed
 * run)}; throws with ORT's message when it fails. */
export async function measure(request) {
  if (!ort || !device) throw new Error("ONNX Runtime Web is not loaded");
  const { seq_len: n, head_dim: d, heads: h } = request;
  const profiled = device.features.has("timestamp-query");
  const session = await ort.InferenceSession.create(request.model, {
    executionProviders: [provider],
    ...(gpuInputs ? { preferredOutputLocation: "gpu-buffer" } : {}),
    enableProfiling: profiled,
  });
  const dims = [1, n, h * d];
  const buffers = gpuInputs ? [request.q, request.k, request.v].map(gpuBuffer) : [];
  const feeds = {};
  ["query", "key", "value"].forEach((name, i) => {
    feeds[name] = gpuInputs
      ? ort.Tensor.fromGpuBuffer(buffers[i], { dataType: "float32", dims })
      : new ort.Tensor("float32", [request.q, request.k, request.v][i], dims);
  });
  const wall = [];
  let output = null;
  let runs = 0;
  try {
    const run = async () => {
      const t0 = performance.now();
      const outputs = await session.run(feeds);
      await device.queue.onSubmittedWorkDone();
      runs += 1;
      return [performance.now() - t0, outputs];
    };
    for (let i = 0; i < request.warmup; i++) {
      const [, outputs] = await run();
      for (const t of Object.values(outputs)) t.dispose();
    }
    const started = performance.now();
    while (wall.length < request.samples) {
      const [ms, outputs] = await run();
      wall.push(ms);
      if (!output) output = await outputs.output.getData();
      for (const t of Object.values(outputs)) t.dispose();
      const spent = performance.now() - started;
      if (wall.length >= request.min_samples && spent >= request.time_budget_ms) break;
    }
    const notes = [];
    if (!gpuInputs) notes.push("inputs and outputs copied by ORT in each run");
    const summary = { times_ms: wall, timing: "wall-clock", programs: [], note: "" };
    if (profiled) {
      const gpu = gpuTimes(await profile(session), runs, wall.length);
      summary.programs = gpu.programs ?? [];
      if (gpu.times) {
        summary.times_ms = gpu.times;
        summary.timing = "gpu-timestamps";
      } else {
        notes.push(gpu.why);
      }
    } else {
      notes.push("the device has no timestamp-query: ORT cannot profile, wall clock");
    }
    summary.note = notes.join("; ");
    return { summary, output };
  } finally {
    for (const b of buffers) b.destroy();
    // A session still profiling prints its profile when released: not to the console.
    capture = [];
    try {
      await session.release();
    } finally {
      capture = null;
    }
  }
}
