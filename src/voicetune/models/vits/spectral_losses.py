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


def frame_comb(y: torch.Tensor, hop: int, harmonics: int = 16, near: tuple[int, int] = (2, 4)) -> torch.Tensor:
    """[b, t] -> [b]: mean over k = 1..harmonics of log power at k x (sample_rate / hop) minus the log
    mean power of the bins ``near`` away on either side, from one Hann-windowed FFT of the whole
    segment. With n_fft = 32 x hop (8192 for hop 256) the frame-rate lines fall exactly on bins 32k
    and bins 2-4 away are 5-11 Hz off: the same measure as ``evaluate.pitch.frame_rate_comb``,
    differentiable. A pulse per decoder frame scores several units (natural log); speech ~0."""
    if y.dim() == 3:
        y = y.squeeze(1)
    y = y.float()
    n_fft = 32 * hop
    if y.shape[-1] < n_fft:
        y = F.pad(y, (0, n_fft - y.shape[-1]))
    y = y[..., :n_fft] * _window(n_fft, str(y.device), y.dtype)
    power = torch.fft.rfft(y, n=n_fft).abs().pow(2) + 1e-10
    lines = torch.arange(1, harmonics + 1, device=y.device) * 32
    lines = lines[lines + near[1] < power.shape[-1]]
    offsets = torch.tensor([o for o in range(near[0], near[1] + 1)] + [-o for o in range(near[0], near[1] + 1)],
                           device=y.device)
    line = torch.log(power[:, lines])
    neigh = torch.log(power[:, (lines[:, None] + offsets[None, :])].mean(-1))
    return (line - neigh).mean(-1)


def comb_excess_loss(y_hat: torch.Tensor, y: torch.Tensor, hop: int, margin: float = 0.0) -> torch.Tensor:
    """How far the output's frame-rate comb exceeds the target segment's own (a buzz locked to the
    decoder clock), averaged over the batch; zero when the output has no more comb than the target."""
    return F.relu(frame_comb(y_hat, hop) - frame_comb(y, hop).detach() - margin).mean()


def _frames(y: torch.Tensor, frame: int, hop: int) -> torch.Tensor:
    if y.dim() == 3:
        y = y.squeeze(1)
    if y.shape[-1] < frame:
        y = F.pad(y.float(), (0, frame - y.shape[-1]))
    return y.float().unfold(-1, frame, hop)  # [b, n, frame]


def normalized_autocorrelation(y: torch.Tensor, frame: int = 1024, hop: int = 200,
                               lags: tuple[int, int] = (44, 368)) -> tuple[torch.Tensor, torch.Tensor]:
    """(r, energy): per frame, the autocorrelation at lags[0]..lags[1]-1 divided by the lag-0 value
    (1 = perfectly periodic at that lag), and the frame's energy. Lags 44-367 cover 60-500 Hz at
    22.05 kHz: a frame's pitch period is where r peaks."""
    x = _frames(y, frame, hop)
    x = x - x.mean(-1, keepdim=True)
    x = x * _window(frame, str(x.device), x.dtype)
    spec = torch.fft.rfft(x, n=2 * frame)
    r = torch.fft.irfft(spec.abs().pow(2), n=2 * frame)[..., : lags[1]]
    energy = r[..., :1]
    return r[..., lags[0] :] / (energy + 1e-6), energy.squeeze(-1)


def periodicity_loss(y_hat: torch.Tensor, y: torch.Tensor, frame: int = 1024, hop: int = 200,
                     lags: tuple[int, int] = (44, 368)) -> torch.Tensor:
    """L1 between the normalised autocorrelations of output and target over the pitch lags, in the
    target's voiced-looking frames (energy above a tenth of the segment's mean). Unlike a magnitude
    spectrogram, whose error is dominated by the envelope, this compares periodicity itself: a pulse
    per decoder frame (a peak at lag 256) where the target peaks at its own period is a large error,
    and its gradient points at the target's period."""
    r_hat, _ = normalized_autocorrelation(y_hat, frame, hop, lags)
    r, energy = normalized_autocorrelation(y, frame, hop, lags)
    weight = (energy > 0.1 * energy.mean(-1, keepdim=True)).float().unsqueeze(-1)
    return (torch.abs(r_hat - r.detach()) * weight).sum() / (weight.sum() * r.shape[-1] + 1e-6)
