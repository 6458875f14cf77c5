"""The same-GPU peer for the `targets` bench and `attnbench suite`: PyTorch's
scaled_dot_product_attention (SDPA), each backend on its own, on attnbench's inputs.

Usage: torch_attention.py DIR REPEATS [--causal]
Reads DIR/q.npy, k.npy, v.npy ([B, H, n, d] float32, written by attnbench). For every
dtype the device has (float32 always; float16 and bfloat16 on CUDA/MPS) and every SDPA
backend (flash, efficient, cudnn, math), it runs one untimed warm-up and REPEATS timed runs,
writes the output as DIR/o_torch_<backend>_<dtype>.npy (float32) and prints one JSON line:

{"torch": version, "device": "cuda"|"mps"|"cpu", "device_name": ..., "timing": ...,
 "runs": [{"backend", "dtype", "median_ms", "samples_ms", "output"} or
          {"backend", "dtype", "skipped": reason}, ...]}

Times are CUDA (or MPS) events around each call where the device has them, else the wall
clock after a synchronize. A backend that cannot run a dtype or shape is listed as
skipped with PyTorch's reason; without torch the script prints {"skipped": reason}.
"""
import json
import statistics
import sys
import time


def main():
    folder, repeats = sys.argv[1], int(sys.argv[2])
    causal = "--causal" in sys.argv[3:]
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

    if torch.cuda.is_available():
        device = "cuda"
        name = torch.cuda.get_device_name(0)
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = "mps"
        name = "Apple MPS"
    else:
        device = "cpu"
        name = "CPU (torch)"

    q, k, v = (torch.from_numpy(np.load(f"{folder}/{n}.npy")).to(device) for n in ("q", "k", "v"))
    dtypes = [torch.float32]
    if device != "cpu":
        dtypes += [torch.float16, torch.bfloat16]
    backends = [
        ("flash", SDPBackend.FLASH_ATTENTION),
        ("efficient", SDPBackend.EFFICIENT_ATTENTION),
        ("cudnn", getattr(SDPBackend, "CUDNN_ATTENTION", None)),
        ("math", SDPBackend.MATH),
    ]

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
        elif device == "mps":
            torch.mps.synchronize()

    def timed(fn):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            end.synchronize()
            return out, start.elapsed_time(end)
        if device == "mps" and hasattr(torch.mps, "Event"):
            start, end = torch.mps.Event(enable_timing=True), torch.mps.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            end.synchronize()
            return out, start.elapsed_time(end)
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        return out, (time.perf_counter() - t0) * 1e3

    timing = {"cuda": "cuda-events", "mps": "mps-events"}.get(device, "wall-clock")
    runs = []
    for dtype in dtypes:
        dname = str(dtype).replace("torch.", "")
        qd, kd, vd = (t.to(dtype) for t in (q, k, v))
        for bname, backend in backends:
            if backend is None:
                runs.append({"backend": bname, "dtype": dname, "skipped": "not in this PyTorch"})
                continue
            try:
                with sdpa_kernel(backend):
                    call = lambda: F.scaled_dot_product_attention(qd, kd, vd, is_causal=causal)
                    out = call()
                    sync()
                    samples = []
                    for _ in range(repeats):
                        out, ms = timed(call)
                        samples.append(ms)
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
                "output": path,
            })
    print(json.dumps({
        "torch": torch.__version__,
        "device": device,
        "device_name": name,
        "timing": timing,
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
