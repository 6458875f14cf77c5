"""The same-device peer for the `targets` bench and `attnbench suite`: PyTorch's
scaled_dot_product_attention (SDPA), each backend on its own, on attnbench's inputs.

Usage: torch_attention.py DIR SAMPLES [--causal] [--window W] [--adapter NAME]
                          [--cpu-adapter] [--dtypes float32,float16,...]
                          [--backends flash,efficient,cudnn,math]
Reads DIR/q.npy, k.npy, v.npy (float32; q [B, H, n, d], k and v [B, HKV, n, d], written by
attnbench). Grouped-query inputs (HKV < H) run with enable_gqa=True; a window W runs with a
boolean mask (causal, keys i - W < j <= i), which backends without masks refuse. For each
dtype asked for that the device has, and every SDPA backend asked for (default: flash,
efficient, cudnn, math; attnbench's flash is compared with the first three, its naive with
math, which also writes the n×n matrix), it times SAMPLES samples, each a loop of calls between two events (CUDA or MPS
events, else the wall clock after a synchronize) long enough to last >= 10 ms, after a
warm-up; a sample's time is the loop's over its calls. Writes each output as
DIR/o_torch_<backend>_<dtype>.npy (float32) and prints one JSON line:

{"torch": version, "device": "cuda:N"|"mps"|"cpu", "device_name": ..., "chosen": why,
 "timing": ..., "runs": [{"backend", "dtype", "median_ms", "samples_ms", "calls",
 "output"} or {"backend", "dtype", "skipped": reason}, ...]}

The device is the one that matches the wgpu adapter: its CPU for a CPU adapter
(--cpu-adapter), else the CUDA device whose name the adapter's name contains (or the
reverse), else MPS on a Mac; without a match it says so and skips. Without torch it prints
{"skipped": reason}.
"""
import json
import statistics
import sys
import time

MIN_SAMPLE_MS = 10.0


def parse(argv):
    args = {"folder": argv[1], "samples": max(10, int(argv[2])), "causal": False,
            "window": None, "adapter": "", "cpu": False, "dtypes": ["float32"],
            "backends": ["flash", "efficient", "cudnn", "math"]}
    rest = argv[3:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--causal":
            args["causal"] = True
        elif a == "--cpu-adapter":
            args["cpu"] = True
        elif a in ("--window", "--adapter", "--dtypes", "--backends"):
            i += 1
            value = rest[i]
            if a == "--window":
                args["window"] = int(value)
            elif a == "--adapter":
                args["adapter"] = value
            elif a == "--backends":
                args["backends"] = value.split(",")
            else:
                args["dtypes"] = value.split(",")
        i += 1
    return args


def choose_device(torch, adapter, cpu):
    """The torch device that is the adapter's silicon, and why; (None, why) if none is."""
    if cpu:
        return "cpu", "CPU (torch)", "the wgpu adapter is a CPU driver: torch's CPU backends"
    wanted = adapter.lower()
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            name = torch.cuda.get_device_name(i)
            n = name.lower()
            if n and (n in wanted or wanted in n or any(
                    w in n for w in wanted.replace("(", " ").replace(")", " ").split()
                    if len(w) > 3 and any(c.isdigit() for c in w))):
                return f"cuda:{i}", name, f"CUDA device {i} matches the adapter's name"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        if "apple" in wanted:
            return "mps", "Apple MPS", "the adapter is an Apple GPU"
    return None, None, f"no torch device matches the adapter {adapter!r}"


def main():
    args = parse(sys.argv)
    folder = args["folder"]
    try:
        import numpy as np
    except Exception as e:
        print(json.dumps({"skipped": f"numpy unavailable (needed to read the tensors): {e}"}))
        return
    try:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except Exception as e:  # no torch, or too old for sdpa_kernel
        print(json.dumps({"skipped": f"PyTorch unavailable: {e}"}))
        return

    device, name, chosen = choose_device(torch, args["adapter"], args["cpu"])
    if device is None:
        print(json.dumps({"skipped": chosen}))
        return
    q, k, v = (torch.from_numpy(np.load(f"{folder}/{t}.npy")).to(device) for t in ("q", "k", "v"))
    gqa = k.shape[1] != q.shape[1]
    n = q.shape[2]
    mask = None
    if args["window"] is not None:
        i = torch.arange(n, device=device).unsqueeze(1)
        j = torch.arange(k.shape[2], device=device).unsqueeze(0)
        mask = (j <= i) & (j > i - args["window"])
    backends = [
        ("flash", SDPBackend.FLASH_ATTENTION),
        ("efficient", SDPBackend.EFFICIENT_ATTENTION),
        ("cudnn", getattr(SDPBackend, "CUDNN_ATTENTION", None)),
        ("math", SDPBackend.MATH),
    ]
    backends = [(name, backend) for name, backend in backends if name in args["backends"]]

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        elif device == "mps":
            torch.mps.synchronize()

    def events():
        if device.startswith("cuda"):
            return torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        if device == "mps" and hasattr(torch.mps, "Event"):
            return torch.mps.Event(enable_timing=True), torch.mps.Event(enable_timing=True)
        return None

    def loop_ms(fn, calls):
        """ms of `calls` calls of fn back to back, between two events."""
        pair = events()
        if pair is not None:
            start, end = pair
            start.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        sync()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        return (time.perf_counter() - t0) * 1e3

    timing = "cuda-events" if device.startswith("cuda") else (
        "mps-events" if device == "mps" else "wall-clock")
    runs = []
    for dname in args["dtypes"]:
        dtype = getattr(torch, dname, None)
        if dtype is None or (device == "cpu" and dname != "float32"):
            runs.append({"backend": "-", "dtype": dname, "skipped": f"no {dname} on {device}"})
            continue
        qd, kd, vd = (t.to(dtype) for t in (q, k, v))
        for bname, backend in backends:
            if backend is None:
                runs.append({"backend": bname, "dtype": dname, "skipped": "not in this PyTorch"})
                continue
            kwargs = {"enable_gqa": True} if gqa else {}
            if mask is not None:
                kwargs["attn_mask"] = mask
            else:
                kwargs["is_causal"] = args["causal"]
            try:
                with sdpa_kernel(backend):
                    call = lambda: F.scaled_dot_product_attention(qd, kd, vd, **kwargs)
                    out = call()
                    sync()
                    # Calls per sample: enough for >= 10 ms between the events.
                    one = max(loop_ms(call, 1), 1e-3)
                    calls = max(1, int(MIN_SAMPLE_MS / one) + 1)
                    loop_ms(call, calls)  # warm-up at the sample's size
                    samples = [loop_ms(call, calls) / calls for _ in range(args["samples"])]
                    out = call()
                    sync()
            except Exception as e:  # this backend cannot run this dtype/shape/device
                reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
                runs.append({"backend": bname, "dtype": dname, "skipped": reason})
                continue
            path = f"{folder}/o_torch_{bname}_{dname}.npy"
            np.save(path, out.float().cpu().numpy())
            runs.append({
                "backend": bname,
                "dtype": dname,
                "median_ms": statistics.median(samples),
                "samples_ms": samples,
                "calls": calls,
                "output": path,
            })
    print(json.dumps({
        "torch": torch.__version__,
        "device": device,
        "device_name": name,
        "chosen": chosen,
        "timing": timing,
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
