"""The VITS synthesizer (Piper's SynthesizerTrn): inference, the training forward, weight norm.

Submodule names are Piper's, so a Piper checkpoint or ONNX initializer name is also the name of
the parameter here: enc_p (text encoder), dp (duration predictor), flow, dec (HiFi-GAN),
enc_q (posterior encoder), emb_g (speaker embedding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from . import commons
from .config import VitsConfig
from .decoder import Generator
from .duration import DurationPredictor, StochasticDurationPredictor
from .flow import ResidualCouplingBlock
from .mas import maximum_path
from .posterior import PosteriorEncoder
from .text_encoder import TextEncoder


def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fold weight norm (parametrizations' original0/original1 or the old weight_g/weight_v)
    into plain ``weight`` entries: w = g * v / ||v|| (norm over all but the first dim)."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        for g_suffix, v_suffix in ((".parametrizations.weight.original0", ".parametrizations.weight.original1"), (".weight_g", ".weight_v")):
            if k.endswith(g_suffix):
                base = k.removesuffix(g_suffix)
                direction = state[base + v_suffix]
                # vector_norm: Tensor.norm over 3 dims (Conv2d weights) is a matrix norm and fails
                norm = torch.linalg.vector_norm(direction, dim=tuple(range(1, direction.dim())), keepdim=True)
                out[base + ".weight"] = direction * (v / norm)
                break
            if k.endswith(v_suffix):
                break
        else:
            out[k] = v
    return out


class InferOutput(NamedTuple):
    audio: torch.Tensor  # [b, 1, samples]
    attn: torch.Tensor  # [b, 1, frames, tokens]
    y_mask: torch.Tensor  # [b, 1, frames]
    z: torch.Tensor  # decoder input [b, inter, frames]
    z_p: torch.Tensor
    m_p: torch.Tensor
    logs_p: torch.Tensor
    durations: torch.Tensor  # [b, 1, tokens] frames per token (ceil'ed)


@dataclass
class TrainOutput:
    audio_hat: torch.Tensor  # decoder output for the sliced segment [b, 1, segment_size]
    l_length: torch.Tensor  # duration loss per item [b] (already divided by the token count)
    attn: torch.Tensor  # MAS path [b, 1, frames, tokens]
    ids_slice: torch.Tensor  # start frame of each segment [b]
    x_mask: torch.Tensor
    y_mask: torch.Tensor
    z: torch.Tensor
    z_p: torch.Tensor
    m_p: torch.Tensor  # prior expanded to frames
    logs_p: torch.Tensor
    m_q: torch.Tensor
    logs_q: torch.Tensor


class VitsModel(nn.Module):
    def __init__(self, config: VitsConfig):
        super().__init__()
        c = self.config = config
        self.enc_p = TextEncoder(
            c.num_symbols,
            c.inter_channels,
            c.hidden_channels,
            c.filter_channels,
            c.n_heads,
            c.n_layers,
            c.kernel_size,
            c.p_dropout,
            c.window_size,
        )
        self.dec = Generator(
            c.inter_channels,
            c.resblock,
            c.resblock_kernel_sizes,
            c.resblock_dilation_sizes,
            c.upsample_rates,
            c.upsample_initial_channel,
            c.upsample_kernel_sizes,
            gin_channels=c.gin_channels,
        )
        self.enc_q = PosteriorEncoder(
            c.spec_channels,
            c.inter_channels,
            c.hidden_channels,
            c.posterior_kernel_size,
            c.posterior_dilation_rate,
            c.posterior_n_layers,
            gin_channels=c.gin_channels,
        )
        self.flow = ResidualCouplingBlock(
            c.inter_channels,
            c.hidden_channels,
            c.flow_kernel_size,
            c.flow_dilation_rate,
            c.flow_n_layers,
            c.flow_n_flows,
            gin_channels=c.gin_channels,
        )
        if c.use_sdp:
            self.dp = StochasticDurationPredictor(
                c.hidden_channels, c.hidden_channels, c.dp_kernel_size, c.dp_p_dropout, c.sdp_n_flows, gin_channels=c.gin_channels
            )
        else:
            self.dp = DurationPredictor(
                c.hidden_channels, c.dp_filter_channels, c.dp_kernel_size, c.dp_p_dropout, gin_channels=c.gin_channels
            )
        if c.n_speakers > 1:
            self.emb_g = nn.Embedding(c.n_speakers, c.gin_channels)

    # ------------------------------------------------------------------ parts
    def training_only_prefixes(self) -> tuple[str, ...]:
        """State-dict prefixes that inference never uses (and a Piper ONNX therefore lacks)."""
        prefixes = ["enc_q."]
        if isinstance(self.dp, StochasticDurationPredictor):
            prefixes += [f"dp.{p}" for p in StochasticDurationPredictor.training_only_prefixes()]
        return tuple(prefixes)

    def speaker_embedding(self, sid: torch.Tensor | None) -> torch.Tensor | None:
        if self.config.n_speakers <= 1:
            return None
        if sid is None:
            raise ValueError("this is a multi-speaker model: pass a speaker id")
        return self.emb_g(sid).unsqueeze(-1)  # [b, gin, 1]

    # -------------------------------------------------------------- inference
    def infer(
        self,
        x: torch.Tensor,
        x_lengths: torch.Tensor,
        sid: torch.Tensor | None = None,
        noise_scale: float | torch.Tensor = 0.667,
        length_scale: float | torch.Tensor = 1.0,
        noise_scale_w: float | torch.Tensor = 0.8,
        max_len: int | None = None,
        pad_frames_to: int | None = None,
    ) -> InferOutput:
        """Synthesize; with noise scales at 0 the result is deterministic.

        ``pad_frames_to``: run the flow and decoder on a frame count rounded up to a multiple of
        this (masked), then trim, so that input shapes repeat (oneDNN prepares kernels per
        shape: a decoder call on a new length was measured 0.4-0.7 s slower than a repeat).
        The flow is masked, so it is unaffected; the decoder's last ~70 ms change slightly
        (its receptive field sees masked zeros instead of its own edge padding). Over 40
        distinct sentences it measured no end-to-end gain, so nothing uses it by default;
        leave it None for exact (ONNX-equal) output.
        """
        x, m_p, logs_p, x_mask = self.enc_p(x, x_lengths)
        g = self.speaker_embedding(sid)
        if self.config.use_sdp:
            logw = self.dp(x, x_mask, g=g, reverse=True, noise_scale=noise_scale_w)
        else:
            logw = self.dp(x, x_mask, g=g)
        w = torch.exp(logw) * x_mask * length_scale
        w_ceil = torch.ceil(w)
        y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
        t_y = y_lengths.max()
        if pad_frames_to:
            t_y = (t_y + pad_frames_to - 1) // pad_frames_to * pad_frames_to
        y_mask = torch.unsqueeze(commons.sequence_mask(y_lengths, t_y), 1).type_as(x_mask)
        attn_mask = torch.unsqueeze(x_mask, 2) * torch.unsqueeze(y_mask, -1)
        attn = commons.generate_path(w_ceil, attn_mask)
        m_p = torch.matmul(attn.squeeze(1), m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(attn.squeeze(1), logs_p.transpose(1, 2)).transpose(1, 2)
        z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, g=g, reverse=True)
        audio = self.dec((z * y_mask)[:, :, :max_len], g=g)
        if pad_frames_to:
            keep = int(y_lengths.max()) * self.config.hop_length
            audio, attn, y_mask = audio[:, :, :keep], attn[:, :, : keep // self.config.hop_length], y_mask[:, :, : keep // self.config.hop_length]
            z, z_p, m_p, logs_p = (t[:, :, : keep // self.config.hop_length] for t in (z, z_p, m_p, logs_p))
        return InferOutput(audio, attn, y_mask, z, z_p, m_p, logs_p, w_ceil)

    # --------------------------------------------------------------- training
    def forward(
        self,
        x: torch.Tensor,
        x_lengths: torch.Tensor,
        spec: torch.Tensor,
        spec_lengths: torch.Tensor,
        sid: torch.Tensor | None = None,
        decode: bool = True,
    ) -> TrainOutput:
        """x: phoneme ids [b, t_x]; spec: linear spectrogram [b, spec_channels, t_y] (mel.spectrogram).

        ``decode=False`` stops before the decoder (``audio_hat`` is None); the caller slices and
        decodes ``z`` itself when it wants audio without gradients."""
        x, m_p, logs_p, x_mask = self.enc_p(x, x_lengths)
        g = self.speaker_embedding(sid)
        z, m_q, logs_q, y_mask = self.enc_q(spec, spec_lengths, g=g)
        z_p = self.flow(z, y_mask, g=g)

        with torch.no_grad():
            attn = self.align(z_p, m_p, logs_p, x_mask, y_mask)

        w = attn.sum(2)
        if self.config.use_sdp:
            l_length = self.dp(x, x_mask, w, g=g) / torch.sum(x_mask)
        else:
            logw_ = torch.log(w + 1e-6) * x_mask
            logw = self.dp(x, x_mask, g=g)
            l_length = torch.sum((logw - logw_) ** 2, [1, 2]) / torch.sum(x_mask)

        m_p = torch.matmul(attn.squeeze(1), m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(attn.squeeze(1), logs_p.transpose(1, 2)).transpose(1, 2)

        z_slice, ids_slice = commons.rand_slice_segments(z, spec_lengths, self.config.segment_frames)
        audio_hat = self.dec(z_slice, g=g) if decode else None
        return TrainOutput(audio_hat, l_length, attn, ids_slice, x_mask, y_mask, z, z_p, m_p, logs_p, m_q, logs_q)

    @staticmethod
    def align(z_p, m_p, logs_p, x_mask, y_mask) -> torch.Tensor:
        """MAS over log N(z_p | m_p, exp(logs_p)) per (frame, token) -> path [b, 1, t_y, t_x]."""
        s_p_sq_r = torch.exp(-2 * logs_p)  # [b, d, t_x]
        neg_cent1 = torch.sum(-0.5 * math.log(2 * math.pi) - logs_p, [1], keepdim=True)
        neg_cent2 = torch.matmul(-0.5 * (z_p**2).transpose(1, 2), s_p_sq_r)
        neg_cent3 = torch.matmul(z_p.transpose(1, 2), (m_p * s_p_sq_r))
        neg_cent4 = torch.sum(-0.5 * (m_p**2) * s_p_sq_r, [1], keepdim=True)
        neg_cent = neg_cent1 + neg_cent2 + neg_cent3 + neg_cent4  # [b, t_y, t_x]
        attn_mask = torch.unsqueeze(x_mask, 2) * torch.unsqueeze(y_mask, -1)
        return maximum_path(neg_cent, attn_mask.squeeze(1)).unsqueeze(1).detach()

    # ------------------------------------------------------------ weight norm
    def weight_norm_modules(self) -> list[tuple[str, nn.Module]]:
        return [(n, m) for n, m in self.named_modules() if getattr(m, commons.WEIGHT_NORM_MARK, False)]

    @property
    def has_weight_norm(self) -> bool:
        return any(parametrize.is_parametrized(m, "weight") for _, m in self.weight_norm_modules())

    def apply_weight_norm(self) -> VitsModel:
        """Re-parametrize the convs VITS trains under weight norm (from their current weights)."""
        for _, m in self.weight_norm_modules():
            if not parametrize.is_parametrized(m, "weight"):
                weight_norm(m)
                # a zero row (a conditioning layer that starts at zero, models/vits/speakers.py) is
                # 0/0 under weight norm: give it a direction (seeded: the same model every time);
                # its magnitude 0 keeps the weight zero
                p = m.parametrizations.weight
                zero = p.original0.flatten() == 0
                if zero.any():
                    with torch.no_grad():
                        gen = torch.Generator().manual_seed(0)
                        p.original1[zero] = torch.randn(p.original1[zero].shape, generator=gen).to(p.original1)
        return self

    def remove_weight_norm(self) -> VitsModel:
        for _, m in self.weight_norm_modules():
            if parametrize.is_parametrized(m, "weight"):
                parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
        return self

    def plain_state_dict(self) -> dict[str, torch.Tensor]:
        """Effective weights under Piper's names, whether or not weight norm is applied."""
        # computed from the state dict: deep-copying a parametrized module and removing the
        # parametrization from the copy would delete the weight property of the shared class
        return {k: v.detach().clone() for k, v in fold_weight_norm(self.state_dict()).items()}

    def plain_copy(self) -> VitsModel:
        """A new model without weight norm holding this one's effective weights (for export)."""
        other = VitsModel(self.config)
        other.load_state_dict(self.plain_state_dict())
        return other.to(next(self.parameters()).device)

    def load_plain_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True):
        """Load effective weights (see plain_state_dict); keeps weight norm if it was applied."""
        had_wn = self.has_weight_norm
        self.remove_weight_norm()
        result = self.load_state_dict(state, strict=strict)
        if had_wn:
            self.apply_weight_norm()
        return result

    def num_parameters(self, prefix: str = "") -> int:
        return sum(p.numel() for n, p in self.named_parameters() if n.startswith(prefix))
