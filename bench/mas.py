"""Monotonic alignment search: our numba MAS vs the Cython `monotonic-align` package.

    .venv/bin/python bench/mas.py [--batch 16] [--tokens 100] [--frames 800] [--repeats 200]
    # with the Cython package installed outside the project venv (bench only):
    .venv/bin/pip install --no-deps --target /tmp/vt_bench_pkgs monotonic-align
    MAS_BENCH_PATH=/tmp/vt_bench_pkgs .venv/bin/python bench/mas.py

Random neg_cent, random lengths (one item at the full size), identical inputs for every
implementation; implementations run interleaved (one call of each per round) so load from
other processes hits all alike. Prints median/min ms per batch for the whole call from torch
tensors (copy to float32 numpy, path allocation, back to torch) and for the DP kernel alone,
at 1 and 2 threads, and whether the paths are identical. Falls back to our plain-Python
reference (much slower, fewer repeats) when the package is absent, and says so.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

if os.environ.get("MAS_BENCH_PATH"):
    sys.path.insert(0, os.environ["MAS_BENCH_PATH"])

import numba  # noqa: E402

from voicetune.models.vits import mas  # noqa: E402


def make_batch(b: int, t_x: int, t_y: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    neg = torch.from_numpy(rng.normal(size=(b, t_y, t_x)).astype(np.float32) * 3)
    mask = torch.zeros(b, t_y, t_x)
    for i in range(b):
        tx = t_x if i == 0 else int(rng.integers(t_x // 2, t_x + 1))
        ty = t_y if i == 0 else int(rng.integers(max(tx, t_y // 2), t_y + 1))
        mask[i, :ty, :tx] = 1
    return neg, mask


def interleaved(fns: dict, repeats: int) -> dict[str, list[float]]:
    for fn in fns.values():
        fn()  # warm-up (numba compile / cache load)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--frames", type=int, default=800)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    neg, mask = make_batch(args.batch, args.tokens, args.frames)
    t_ys = mask.sum(1)[:, 0].numpy().astype(np.int32)
    t_xs = mask.sum(2)[:, 0].numpy().astype(np.int32)
    values = neg.numpy()

    try:
        import monotonic_align
        from monotonic_align.core import maximum_path_c

        other_name = "monotonic-align (Cython)"
        repeats = args.repeats

        def other_call():
            return monotonic_align.maximum_path(neg, mask)

        def other_kernel():
            maximum_path_c(np.zeros(values.shape, np.int32), values.copy(), t_ys, t_xs)

    except ImportError:
        other_name = "plain-Python reference (monotonic-align not installed)"
        repeats = 2

        def other_call():
            return torch.from_numpy(mas.maximum_path_reference(values, t_ys, t_xs)).float()

        other_kernel = other_call

    t0 = time.perf_counter()
    ours = mas.maximum_path(neg, mask)
    first_call = time.perf_counter() - t0
    same = torch.equal(ours, other_call().to(ours.dtype))
    print(f"batch {args.batch} x tokens <= {args.tokens} x frames <= {args.frames}; torch {torch.__version__}, numba {numba.__version__}")
    print(f"first call of ours in this process (cache load or compile): {first_call * 1000:.0f} ms; paths identical: {same}")
    print(f"1-min load average: {os.getloadavg()[0]:.2f}")
    print(f"{'implementation':52s} {'threads':>7s} {'median ms':>10s} {'min ms':>8s}")
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        torch.set_num_threads(threads)
        fns = {
            "ours, whole call (serial: the default at this size)": lambda: mas.maximum_path(neg, mask, parallel=False),
            "ours, whole call (parallel over batch)": lambda: mas.maximum_path(neg, mask, parallel=True),
            f"{other_name}, whole call": other_call,
            "ours, DP kernel only (serial)": lambda: mas._maximum_path_batch_serial(
                np.zeros(values.shape, np.int32), values.copy(), t_ys, t_xs
            ),
            f"{other_name}, DP kernel only": other_kernel,
        }
        times = interleaved(fns, repeats)
        for name, ts in times.items():
            print(f"{name:52s} {threads:7d} {statistics.median(ts):10.2f} {min(ts):8.2f}")
    print(f"1-min load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
