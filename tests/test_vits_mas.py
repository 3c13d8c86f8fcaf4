"""Monotonic alignment search: numba version == plain-Python transcription of the Cython original."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voicetune.models.vits.mas import maximum_path, maximum_path_numpy, maximum_path_reference


def _lengths(rng, b, t_y, t_x):
    t_xs = rng.integers(1, t_x + 1, size=b)
    t_ys = np.array([rng.integers(tx, t_y + 1) for tx in t_xs])
    t_xs[0], t_ys[0] = t_x, t_y  # one item fills the whole padded grid
    return t_ys.astype(np.int32), t_xs.astype(np.int32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_inputs_match_reference(seed):
    rng = np.random.default_rng(seed)
    b, t_y, t_x = 6, 60, 17
    neg = rng.normal(size=(b, t_y, t_x)).astype(np.float32) * 5
    t_ys, t_xs = _lengths(rng, b, t_y, t_x)
    ours = maximum_path_numpy(neg.copy(), t_ys, t_xs)
    ref = maximum_path_reference(neg, t_ys, t_xs)
    assert np.array_equal(ours, ref)
    for i in range(b):
        p = ours[i, : t_ys[i], : t_xs[i]]
        assert (p.sum(1) == 1).all()  # one token per frame
        assert (p.sum(0) >= 1).all()  # every token used
        tokens = p.argmax(1)
        assert tokens[0] == 0 and tokens[-1] == t_xs[i] - 1
        assert (np.diff(tokens) >= 0).all() and (np.diff(tokens) <= 1).all()  # monotonic, no skips
        assert ours[i].sum() == t_ys[i]  # nothing outside the valid region


@pytest.mark.parametrize("kind", ["zeros", "integers", "constant_rows"])
def test_tied_inputs_match_reference(kind):
    rng = np.random.default_rng(7)
    b, t_y, t_x = 4, 40, 12
    if kind == "zeros":
        neg = np.zeros((b, t_y, t_x), np.float32)
    elif kind == "integers":
        neg = rng.integers(-2, 3, size=(b, t_y, t_x)).astype(np.float32)
    else:
        neg = np.repeat(rng.integers(-1, 2, size=(b, 1, t_x)), t_y, axis=1).astype(np.float32)
    t_ys, t_xs = _lengths(rng, b, t_y, t_x)
    assert np.array_equal(maximum_path_numpy(neg.copy(), t_ys, t_xs), maximum_path_reference(neg, t_ys, t_xs))


def test_torch_wrapper_uses_mask_lengths_and_keeps_input():
    rng = np.random.default_rng(3)
    neg = torch.from_numpy(rng.normal(size=(2, 30, 8)).astype(np.float32))
    mask = torch.zeros(2, 30, 8)
    mask[0, :30, :8] = 1
    mask[1, :20, :5] = 1
    before = neg.clone()
    path = maximum_path(neg, mask)
    assert torch.equal(neg, before)  # the DP works on a copy
    ref = maximum_path_reference(neg.numpy(), [30, 20], [8, 5])
    assert np.array_equal(path.numpy().astype(np.int32), ref)
    assert path.dtype == neg.dtype


def test_single_token_and_square():
    neg = np.random.default_rng(0).normal(size=(2, 9, 9)).astype(np.float32)
    out = maximum_path_numpy(neg.copy(), np.array([9, 5], np.int32), np.array([9, 1], np.int32))
    assert np.array_equal(out[0], np.eye(9, dtype=np.int32))  # as many frames as tokens: the diagonal
    assert out[1, :5, 0].sum() == 5 and out[1].sum() == 5


def test_parallel_and_serial_agree():
    rng = np.random.default_rng(5)
    neg = rng.normal(size=(5, 50, 14)).astype(np.float32)
    t_ys, t_xs = _lengths(rng, 5, 50, 14)
    serial = maximum_path_numpy(neg.copy(), t_ys, t_xs, parallel=False)
    parallel = maximum_path_numpy(neg.copy(), t_ys, t_xs, parallel=True)
    assert np.array_equal(serial, parallel)
