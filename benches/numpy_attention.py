"""BLAS-backed CPU attention for the `targets` bench: softmax(Q·Kᵀ/√d)·V in float32 with numpy.

Usage: numpy_attention.py DIR REPEATS
Reads DIR/q.npy, k.npy, v.npy ([B, H, n, d] float32, written by attnbench), runs one
untimed warm-up and REPEATS timed runs, writes DIR/o_numpy.npy and prints one JSON line:
{"median_ms": ..., "samples_ms": [...], "numpy": version, "blas": name and version}.
Times are wall clock (time.perf_counter) around the whole computation.
"""
import json
import sys
import time

import numpy as np


def attention(q, k, v):
    scale = np.float32(1.0 / np.sqrt(q.shape[-1]))
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return np.matmul(s, v)


def blas_name():
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        return "unknown"


def main():
    folder, repeats = sys.argv[1], int(sys.argv[2])
    q, k, v = (np.load(f"{folder}/{name}.npy") for name in ("q", "k", "v"))
    out = attention(q, k, v)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = attention(q, k, v)
        samples.append((time.perf_counter() - start) * 1e3)
    np.save(f"{folder}/o_numpy.npy", out.astype(np.float32))
    print(json.dumps({
        "median_ms": float(np.median(samples)),
        "samples_ms": samples,
        "numpy": np.__version__,
        "blas": blas_name(),
    }))


if __name__ == "__main__":
    main()
