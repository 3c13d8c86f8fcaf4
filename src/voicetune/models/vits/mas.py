"""Monotonic alignment search (Glow-TTS/VITS) in numba: no compiled extension to build.

Same dynamic programme and the same tie-breaking as the Cython ``maximum_path_c`` that VITS and
Piper ship (float32 values, ``-1e9`` for impossible cells, on a tie the backtrack stays on the
same token), so paths are identical. Large batches run items in parallel; the compiled code is
cached on disk (first use compiles in a few seconds, later processes load it).
"""

from __future__ import annotations

import numba
import numpy as np
import torch

_NEG = -1e9


@numba.njit(cache=True, nogil=True)
def _maximum_path_each(path, value, t_y, t_x):
    index = t_x - 1
    for y in range(t_y):
        for x in range(max(0, t_x + y - t_y), min(t_x, y + 1)):
            v_cur = _NEG if x == y else value[y - 1, x]
            if x == 0:  # noqa: SIM108 - kept as the Cython original reads
                v_prev = 0.0 if y == 0 else _NEG
            else:
                v_prev = value[y - 1, x - 1]
            value[y, x] += max(v_prev, v_cur)
    for y in range(t_y - 1, -1, -1):
        path[y, index] = 1
        if index != 0 and (index == y or value[y - 1, index] < value[y - 1, index - 1]):
            index = index - 1


@numba.njit(cache=True, nogil=True)
def _maximum_path_batch_serial(paths, values, t_ys, t_xs):
    for i in range(paths.shape[0]):
        _maximum_path_each(paths[i], values[i], t_ys[i], t_xs[i])


@numba.njit(cache=True, parallel=True, nogil=True)
def _maximum_path_batch_parallel(paths, values, t_ys, t_xs):
    for i in numba.prange(paths.shape[0]):
        _maximum_path_each(paths[i], values[i], t_ys[i], t_xs[i])


# Below this many cells per batch, threads cost more than they save: a typical VITS batch
# (16 x 100 tokens x 800 frames = 1.3 M cells) takes ~2 ms on one core, and on a loaded
# machine a parallel region can stall for a whole scheduler slice (measured: 48 ms).
PARALLEL_MIN_CELLS = 8_000_000


def maximum_path_numpy(neg_cent: np.ndarray, t_ys: np.ndarray, t_xs: np.ndarray, parallel: bool | None = None) -> np.ndarray:
    """neg_cent [b, t_y, t_x] float32 (overwritten with cumulative scores) -> int32 path.

    ``parallel``: run batch items on numba's threads; None decides by batch size."""
    values = np.ascontiguousarray(neg_cent, dtype=np.float32)
    paths = np.zeros(values.shape, dtype=np.int32)
    if parallel is None:
        parallel = values.size >= PARALLEL_MIN_CELLS and values.shape[0] > 1 and numba.get_num_threads() > 1
    fn = _maximum_path_batch_parallel if parallel else _maximum_path_batch_serial
    fn(paths, values, np.ascontiguousarray(t_ys, np.int32), np.ascontiguousarray(t_xs, np.int32))
    return paths


def maximum_path(neg_cent: torch.Tensor, mask: torch.Tensor, parallel: bool | None = None) -> torch.Tensor:
    """neg_cent, mask: [b, t_y (frames), t_x (tokens)] -> 0/1 path of the same shape and dtype."""
    device, dtype = neg_cent.device, neg_cent.dtype
    # all glue in numpy: torch's multi-threaded reductions/casts on these few-MB tensors stall
    # for tens of ms when another process holds a core (measured), numpy's do not
    values = neg_cent.detach().cpu().numpy().astype(np.float32)  # a copy: the DP writes into it
    m = mask.detach().cpu().numpy()
    t_ys = m[:, :, 0].sum(1).astype(np.int32)  # frames of each item
    t_xs = m[:, 0, :].sum(1).astype(np.int32)  # tokens of each item
    paths = maximum_path_numpy(values, t_ys, t_xs, parallel)
    if dtype.is_floating_point:
        np_dtype = torch.empty((), dtype=dtype).numpy().dtype if dtype != torch.bfloat16 else np.float32
        return torch.from_numpy(paths.astype(np_dtype)).to(device=device, dtype=dtype)
    return torch.from_numpy(paths).to(device=device, dtype=dtype)


def maximum_path_reference(neg_cent: np.ndarray, t_ys, t_xs) -> np.ndarray:
    """Plain-Python transcription of the Cython original, for tests and benchmarks."""
    values = np.array(neg_cent, dtype=np.float32)
    paths = np.zeros(values.shape, dtype=np.int32)
    for b in range(values.shape[0]):
        value, path, t_y, t_x = values[b], paths[b], int(t_ys[b]), int(t_xs[b])
        for y in range(t_y):
            for x in range(max(0, t_x + y - t_y), min(t_x, y + 1)):
                v_cur = _NEG if x == y else float(value[y - 1, x])
                v_prev = (0.0 if y == 0 else _NEG) if x == 0 else float(value[y - 1, x - 1])
                value[y, x] = np.float32(float(value[y, x]) + max(v_prev, v_cur))
        index = t_x - 1
        for y in range(t_y - 1, -1, -1):
            path[y, index] = 1
            if index != 0 and (index == y or value[y - 1, index] < value[y - 1, index - 1]):
                index -= 1
    return paths
