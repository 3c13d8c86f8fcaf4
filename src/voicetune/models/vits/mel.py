"""Linear and mel spectrograms exactly as Piper/VITS compute them for training.

Reflect-pad (n_fft - hop) / 2 on both sides, STFT with center=False, magnitude
sqrt(re^2 + im^2 + 1e-6), Slaney-style mel filters (librosa's default), natural log with a
1e-5 floor. A clip of N samples gives N // hop frames (when N is a multiple of hop), which is
what aligns spectrogram frames with decoder output samples.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch.nn import functional as F


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] Slaney mel filters, area-normalized: librosa's, which Piper calls too."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


def spectrogram(y: torch.Tensor, n_fft: int, hop_size: int, win_size: int) -> torch.Tensor:
    """y [b, t] (or [b, 1, t]) in [-1, 1] -> magnitude [b, n_fft // 2 + 1, frames]."""
    if y.dim() == 3:
        y = y.squeeze(1)
    pad = (n_fft - hop_size) // 2
    y = F.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(win_size, dtype=y.dtype, device=y.device)
    spec = torch.stft(
        y,
        n_fft,
        hop_length=hop_size,
        win_length=win_size,
        window=window,
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    spec = torch.view_as_real(spec)
    return torch.sqrt(spec.pow(2).sum(-1) + 1e-6)


def spec_to_mel(spec: torch.Tensor, n_fft: int, num_mels: int, sample_rate: int, fmin: float = 0.0, fmax: float | None = None) -> torch.Tensor:
    basis = torch.from_numpy(mel_filterbank(sample_rate, n_fft, num_mels, fmin, fmax)).to(spec)
    return torch.log(torch.clamp(torch.matmul(basis, spec), min=1e-5))


def mel_spectrogram(
    y: torch.Tensor,
    n_fft: int,
    num_mels: int,
    sample_rate: int,
    hop_size: int,
    win_size: int,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> torch.Tensor:
    return spec_to_mel(spectrogram(y, n_fft, hop_size, win_size), n_fft, num_mels, sample_rate, fmin, fmax)
