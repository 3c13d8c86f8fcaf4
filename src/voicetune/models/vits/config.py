"""VITS hyper-parameters as one typed dataclass, with presets for Piper's quality levels and MMS.

The defaults are Piper's "medium" voice (the architecture of en_US-joe-medium). Fields that
Piper hard-codes inside its model (flow and posterior encoder sizes, SDP settings) are explicit
here so that other bases (MMS) can be described with the same class.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

PRESETS = ("x_low", "low", "medium", "high", "mms")


@dataclass
class VitsConfig:
    num_symbols: int = 256
    n_speakers: int = 1
    # speaker embedding size; Piper uses 512 whenever n_speakers > 1 and nothing was given
    gin_channels: int = 0
    sample_rate: int = 22050

    # spectrogram / mel (center=False STFT, as Piper/VITS compute them)
    filter_length: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    mel_channels: int = 80
    mel_fmin: float = 0.0
    mel_fmax: float | None = None

    # text encoder (prior)
    inter_channels: int = 192
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    p_dropout: float = 0.1
    window_size: int = 4

    # duration predictor
    use_sdp: bool = True
    sdp_n_flows: int = 4
    dp_kernel_size: int = 3
    dp_p_dropout: float = 0.5
    dp_filter_channels: int = 256  # deterministic predictor only; the SDP uses hidden_channels

    # normalizing flow (prior side)
    flow_n_flows: int = 4
    flow_n_layers: int = 4
    flow_kernel_size: int = 5
    flow_dilation_rate: int = 1

    # posterior encoder (training only)
    posterior_n_layers: int = 16
    posterior_kernel_size: int = 5
    posterior_dilation_rate: int = 1

    # HiFi-GAN decoder
    resblock: str = "2"
    resblock_kernel_sizes: tuple[int, ...] = (3, 5, 7)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 2), (2, 6), (3, 12))
    upsample_rates: tuple[int, ...] = (8, 8, 4)
    upsample_initial_channel: int = 256
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8)

    # training
    segment_size: int = 8192  # samples of audio the decoder sees per training item
    mpd_periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    use_spectral_norm: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.resblock = str(self.resblock)
        self.resblock_kernel_sizes = tuple(int(k) for k in self.resblock_kernel_sizes)
        self.resblock_dilation_sizes = tuple(tuple(int(d) for d in ds) for ds in self.resblock_dilation_sizes)
        self.upsample_rates = tuple(int(u) for u in self.upsample_rates)
        self.upsample_kernel_sizes = tuple(int(k) for k in self.upsample_kernel_sizes)
        self.mpd_periods = tuple(int(p) for p in self.mpd_periods)
        if self.n_speakers > 1 and self.gin_channels <= 0:
            self.gin_channels = 512
        if math.prod(self.upsample_rates) != self.hop_length:
            raise ValueError(
                f"upsample rates {self.upsample_rates} multiply to {math.prod(self.upsample_rates)}, "
                f"but hop_length is {self.hop_length}"
            )
        if self.resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', got {self.resblock!r}")

    @property
    def spec_channels(self) -> int:
        return self.filter_length // 2 + 1

    @property
    def segment_frames(self) -> int:
        return self.segment_size // self.hop_length

    @property
    def multi_speaker(self) -> bool:
        return self.n_speakers > 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = [list(x) if isinstance(x, tuple) else x for x in v]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VitsConfig:
        known = {f.name for f in fields(cls)}
        unknown = {k: v for k, v in d.items() if k not in known}
        kwargs = {k: v for k, v in d.items() if k in known}
        if unknown:
            kwargs.setdefault("extra", {}).update(unknown)
        return cls(**kwargs)

    def with_(self, **changes: Any) -> VitsConfig:
        return replace(self, **changes)


_HIGH_DECODER = dict(
    resblock="1",
    resblock_kernel_sizes=(3, 7, 11),
    resblock_dilation_sizes=((1, 3, 5), (1, 3, 5), (1, 3, 5)),
    upsample_rates=(8, 8, 2, 2),
    upsample_initial_channel=512,
    upsample_kernel_sizes=(16, 16, 4, 4),
)


def preset(name: str, *, num_symbols: int = 256, n_speakers: int = 1, **overrides: Any) -> VitsConfig:
    """A config for one of Piper's quality levels (x_low, low, medium, high) or MMS.

    Piper: x_low and low are 16 kHz, medium and high 22.05 kHz; x_low halves the text side;
    high uses the larger HiFi-GAN (resblock 1, 512 channels). MMS (facebook/mms-tts-*) is the
    high decoder at 16 kHz.
    """
    key = name.lower().replace("-", "_")
    base: dict[str, Any]
    if key == "x_low":
        base = dict(sample_rate=16000, hidden_channels=96, inter_channels=96, filter_channels=384)
    elif key == "low":
        base = dict(sample_rate=16000)
    elif key == "medium":
        base = {}
    elif key == "high":
        base = dict(_HIGH_DECODER)
    elif key == "mms":
        base = dict(_HIGH_DECODER, sample_rate=16000)
    else:
        raise ValueError(f"unknown VITS preset {name!r}; choose one of {', '.join(PRESETS)}")
    base.update(overrides)
    return VitsConfig(num_symbols=num_symbols, n_speakers=n_speakers, **base)
