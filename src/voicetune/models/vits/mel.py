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


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    # Slaney: linear below 1 kHz, logarithmic above
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular filters, area-normalized (librosa.filters.mel defaults)."""
    if fmax is None:
        fmax = sample_rate / 2.0
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    return (weights * enorm[:, None]).astype(np.float32)


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
