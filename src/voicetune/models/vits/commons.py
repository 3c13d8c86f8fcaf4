"""Small helpers shared by the VITS modules: masks, paths, slicing, layer norm, weight norm marks."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# Convs that VITS trains under weight norm carry this attribute. The model is built with plain
# convs so that effective weights (all an ONNX file holds) load directly; training re-applies
# weight norm on exactly these (see model.apply_weight_norm).
WEIGHT_NORM_MARK = "_vits_weight_norm"


def weight_normed(conv: nn.Module) -> nn.Module:
    setattr(conv, WEIGHT_NORM_MARK, True)
    return conv


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


def init_weights(m: nn.Module, mean: float = 0.0, std: float = 0.01) -> None:
    if "Conv" in m.__class__.__name__:
        m.weight.data.normal_(mean, std)


def sequence_mask(length: torch.Tensor, max_length: int | torch.Tensor | None = None) -> torch.Tensor:
    if max_length is None:
        max_length = length.max()
    x = torch.arange(max_length, dtype=length.dtype, device=length.device)
    return x.unsqueeze(0) < length.unsqueeze(1)


def generate_path(duration: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hard monotonic alignment from integer durations.

    duration: [b, 1, t_x]; mask: [b, 1, t_y, t_x] -> path [b, 1, t_y, t_x]
    """
    b, _, t_y, t_x = mask.shape
    cum_duration = torch.cumsum(duration, -1)
    path = sequence_mask(cum_duration.view(b * t_x), t_y).type_as(mask)
    path = path.view(b, t_x, t_y)
    path = path - F.pad(path, (0, 0, 1, 0, 0, 0))[:, :-1]
    return path.unsqueeze(1).transpose(2, 3) * mask


def slice_segments(x: torch.Tensor, ids_str: torch.Tensor, segment_size: int) -> torch.Tensor:
    ret = torch.zeros_like(x[:, :, :segment_size])
    for i in range(x.size(0)):
        start = max(0, int(ids_str[i]))
        ret[i] = x[i, :, start : start + segment_size]
    return ret


def rand_slice_segments(
    x: torch.Tensor, x_lengths: torch.Tensor | None, segment_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    b, _, t = x.size()
    if x_lengths is None:
        x_lengths = torch.full((b,), t, device=x.device)
    # clips shorter than a segment start at 0 (the slice is zero-padded) instead of failing
    ids_str_max = (x_lengths - segment_size + 1).clamp_min(1)
    ids_str = (torch.rand([b], device=x.device) * ids_str_max).long()
    return slice_segments(x, ids_str, segment_size), ids_str


def gated_tanh(x_in: torch.Tensor, g: torch.Tensor | None, n_channels: int) -> torch.Tensor:
    a = x_in if g is None else x_in + g
    return torch.tanh(a[:, :n_channels]) * torch.sigmoid(a[:, n_channels:])


class LayerNorm(nn.Module):
    """Layer norm over channels of a [b, c, t] tensor (VITS names its parameters gamma/beta)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, -1)
        x = F.layer_norm(x, (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)
