"""Spectral losses that see what the 80-band mel L1 does not: harmonics, and so the pitch.

Mel L1 (Piper's reconstruction loss) compares log-mel frames of hop 256 and window 1024: above a
few hundred Hz its bands are wider than a male voice's harmonic spacing, so a decoder that emits a
pulse per latent frame (harmonics of 22050/256 = 86 Hz) fills the same mel envelope as the
target's own harmonics and the loss cannot tell them apart (docs/BENCHMARKS.md, "Fine-tuning
quality"). A log-magnitude STFT with a long window resolves individual harmonics; restricted to the
low band (``fmax``), where they are strongest and the pitch lives, it penalises harmonics in the
wrong place. Hops are chosen not to be multiples of 256, so that no resolution shares the decoder's
frame clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
from torch.nn import functional as F


@lru_cache(maxsize=8)
def _window(n: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    return torch.hann_window(n, device=device, dtype=dtype)


def stft_magnitude(y: torch.Tensor, n_fft: int, hop: int, fmax_bin: int | None = None) -> torch.Tensor:
    """[b, t] or [b, 1, t] -> |STFT| [b, bins, frames] (Hann window of n_fft, centred, reflect-padded)."""
    if y.dim() == 3:
        y = y.squeeze(1)
    y = y.float()
    # reflect padding needs more than n_fft / 2 samples; a shorter clip (an edge case) is zero-padded
    mode = "reflect" if y.shape[-1] > n_fft // 2 else "constant"
    spec = torch.stft(y, n_fft, hop_length=hop, win_length=n_fft, window=_window(n_fft, str(y.device), y.dtype),
                      center=True, pad_mode=mode, return_complex=True)
    mag = spec.abs()
    return mag[:, :fmax_bin] if fmax_bin else mag


def log_stft_loss(y_hat: torch.Tensor, y: torch.Tensor, resolutions: Sequence[Sequence[float]],
                  sample_rate: int) -> torch.Tensor:
    """Mean over resolutions of L1 between log magnitudes plus spectral convergence.

    ``resolutions``: (n_fft, hop) or (n_fft, hop, fmax_hz) each; fmax restricts the comparison to
    the bins below it.
    """
    total = y_hat.new_zeros((), dtype=torch.float32)
    for res in resolutions:
        n_fft, hop = int(res[0]), int(res[1])
        fmax_bin = int(res[2] * n_fft / sample_rate) + 1 if len(res) > 2 and res[2] else None
        mag_hat = stft_magnitude(y_hat, n_fft, hop, fmax_bin)
        mag = stft_magnitude(y, n_fft, hop, fmax_bin)
        log_l1 = F.l1_loss(torch.log(mag_hat.clamp_min(1e-5)), torch.log(mag.clamp_min(1e-5)))
        convergence = torch.linalg.norm(mag - mag_hat) / torch.linalg.norm(mag).clamp_min(1e-7)
        total = total + log_l1 + convergence
    return total / max(1, len(resolutions))
