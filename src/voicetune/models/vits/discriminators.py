"""Multi-period and multi-scale discriminators (HiFi-GAN/VITS). Training only; never exported.

``MultiPeriodDiscriminator`` holds VITS's combination: one scale discriminator on the raw
waveform plus one period discriminator per period (Piper: 2, 3, 5, 7, 11 -> 46.7 M weights).
Fewer periods make a cheaper discriminator for CPU fine-tuning.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from .commons import get_padding

LRELU_SLOPE = 0.1


def _norm(use_spectral_norm: bool):
    return spectral_norm if use_spectral_norm else weight_norm


def _conv_stack(convs, conv_post, x: torch.Tensor, fmap: list) -> tuple[torch.Tensor, list]:
    """The HiFi-GAN discriminator body: leaky-ReLU convs, a post conv, every activation kept."""
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        fmap.append(x)
    x = conv_post(x)
    fmap.append(x)
    return torch.flatten(x, 1, -1), fmap


class DiscriminatorP(nn.Module):
    def __init__(self, period: int, kernel_size: int = 5, stride: int = 3, use_spectral_norm: bool = False):
        super().__init__()
        self.period = period
        norm_f = _norm(use_spectral_norm)
        chans = [1, 32, 128, 512, 1024, 1024]
        pad = (get_padding(kernel_size, 1), 0)
        self.convs = nn.ModuleList(
            norm_f(nn.Conv2d(chans[i], chans[i + 1], (kernel_size, 1), (stride if i < 4 else 1, 1), padding=pad))
            for i in range(5)
        )
        self.conv_post = norm_f(nn.Conv2d(1024, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor):
        fmap = []
        b, c, t = x.shape
        if t % self.period != 0:
            n_pad = self.period - (t % self.period)
            x = F.pad(x, (0, n_pad), "reflect")
            t = t + n_pad
        x = x.view(b, c, t // self.period, self.period)
        return _conv_stack(self.convs, self.conv_post, x, fmap)


class DiscriminatorS(nn.Module):
    def __init__(self, use_spectral_norm: bool = False):
        super().__init__()
        norm_f = _norm(use_spectral_norm)
        self.convs = nn.ModuleList(
            [
                norm_f(nn.Conv1d(1, 16, 15, 1, padding=7)),
                norm_f(nn.Conv1d(16, 64, 41, 4, groups=4, padding=20)),
                norm_f(nn.Conv1d(64, 256, 41, 4, groups=16, padding=20)),
                norm_f(nn.Conv1d(256, 1024, 41, 4, groups=64, padding=20)),
                norm_f(nn.Conv1d(1024, 1024, 41, 4, groups=256, padding=20)),
                norm_f(nn.Conv1d(1024, 1024, 5, 1, padding=2)),
            ]
        )
        self.conv_post = norm_f(nn.Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor):
        return _conv_stack(self.convs, self.conv_post, x, [])


class MultiPeriodDiscriminator(nn.Module):
    """discriminators.0 is the scale discriminator, 1.. the period ones (Piper's model_d names)."""

    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), use_spectral_norm: bool = False):
        super().__init__()
        discs: list[nn.Module] = [DiscriminatorS(use_spectral_norm=use_spectral_norm)]
        discs += [DiscriminatorP(p, use_spectral_norm=use_spectral_norm) for p in periods]
        self.discriminators = nn.ModuleList(discs)

    def forward(self, y: torch.Tensor, y_hat: torch.Tensor):
        """Returns (real scores, generated scores, real feature maps, generated feature maps)."""
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = [], [], [], []
        for d in self.discriminators:
            y_d_r, fmap_r = d(y)
            y_d_g, fmap_g = d(y_hat)
            y_d_rs.append(y_d_r)
            y_d_gs.append(y_d_g)
            fmap_rs.append(fmap_r)
            fmap_gs.append(fmap_g)
        return y_d_rs, y_d_gs, fmap_rs, fmap_gs


class MultiScaleDiscriminator(nn.Module):
    """HiFi-GAN's multi-scale discriminator: raw, x/2 and x/4 average-pooled waveforms."""

    def __init__(self, n_scales: int = 3):
        super().__init__()
        self.discriminators = nn.ModuleList(
            DiscriminatorS(use_spectral_norm=(i == 0)) for i in range(n_scales)
        )
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, y: torch.Tensor, y_hat: torch.Tensor):
        y_d_rs, y_d_gs, fmap_rs, fmap_gs = [], [], [], []
        for i, d in enumerate(self.discriminators):
            if i:
                y, y_hat = self.pool(y), self.pool(y_hat)
            y_d_r, fmap_r = d(y)
            y_d_g, fmap_g = d(y_hat)
            y_d_rs.append(y_d_r)
            y_d_gs.append(y_d_g)
            fmap_rs.append(fmap_r)
            fmap_gs.append(fmap_g)
        return y_d_rs, y_d_gs, fmap_rs, fmap_gs
