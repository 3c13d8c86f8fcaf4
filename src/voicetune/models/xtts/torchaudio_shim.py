"""The few torchaudio functions coqui-tts's XTTS code calls, in plain torch (+ soundfile for load).

Why this exists: on a CPU-only torch there is no torchaudio wheel on PyPI that imports (they are
CUDA builds: ``libc10_cuda.so`` missing), yet ``import TTS`` refuses to run without torchaudio,
and for torch >= 2.9 without torchcodec. XTTS only needs a mel spectrogram, a resampler and a file
loader from it. :func:`voicetune.models.xtts.compat.import_coqui` installs this module as
``torchaudio`` **only when the real one cannot be imported**; a CUDA machine with a matching
torchaudio keeps using the real library.

The maths follows torchaudio's documented definitions (HTK/Slaney mel scale, triangular filters,
centred reflect-padded STFT, windowed-sinc resampling) so features match what XTTS was trained on;
tests compare the filterbank with librosa's and the resampler with soxr.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable

import torch
from torch import Tensor

__version__ = "0.0+voicetune-shim"


# --- mel filterbank --------------------------------------------------------------------------------

def _hz_to_mel(freq: float, mel_scale: str) -> float:
    if mel_scale == "htk":
        return 2595.0 * math.log10(1.0 + freq / 700.0)
    f_sp = 200.0 / 3  # Slaney: linear below 1 kHz, logarithmic above
    if freq < 1000.0:
        return freq / f_sp
    return 1000.0 / f_sp + math.log(freq / 1000.0) / (math.log(6.4) / 27.0)


def _mel_to_hz(mels: Tensor, mel_scale: str) -> Tensor:
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = math.log(6.4) / 27.0
    freqs = f_sp * mels
    return torch.where(mels >= min_log_mel, 1000.0 * torch.exp(logstep * (mels - min_log_mel)), freqs)


def melscale_fbanks(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int,
                    norm: str | None = None, mel_scale: str = "htk") -> Tensor:
    """(n_freqs, n_mels) triangular filters on the mel scale."""
    if mel_scale not in ("htk", "slaney") or norm not in (None, "slaney"):
        raise ValueError(f"unsupported mel_scale={mel_scale!r} / norm={norm!r}")
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(_hz_to_mel(f_min, mel_scale), _hz_to_mel(f_max, mel_scale), n_mels + 2)
    f_pts = _mel_to_hz(m_pts, mel_scale)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.clamp(torch.minimum(down, up), min=0.0)
    if norm == "slaney":
        fb = fb * (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])).unsqueeze(0)
    return fb


class MelSpectrogram(torch.nn.Module):
    """torchaudio.transforms.MelSpectrogram for the arguments coqui passes (centred STFT, power)."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 400, win_length: int | None = None,
                 hop_length: int | None = None, f_min: float = 0.0, f_max: float | None = None, pad: int = 0,
                 n_mels: int = 128, window_fn: Callable[..., Tensor] = torch.hann_window, power: float = 2.0,
                 normalized: bool = False, wkwargs: dict | None = None, center: bool = True,
                 pad_mode: str = "reflect", onesided: bool | None = None, norm: str | None = None,
                 mel_scale: str = "htk") -> None:
        super().__init__()
        self.n_fft, self.pad, self.power, self.normalized = n_fft, pad, power, normalized
        self.win_length = win_length or n_fft
        self.hop_length = hop_length or self.win_length // 2
        self.center, self.pad_mode = center, pad_mode
        self.register_buffer("window", window_fn(self.win_length, **(wkwargs or {})))
        fb = melscale_fbanks(n_fft // 2 + 1, f_min, f_max if f_max is not None else float(sample_rate // 2),
                             n_mels, sample_rate, norm, mel_scale)
        self.register_buffer("fb", fb)

    def forward(self, waveform: Tensor) -> Tensor:
        if self.pad > 0:
            waveform = torch.nn.functional.pad(waveform, (self.pad, self.pad))
        shape = waveform.shape
        spec = torch.stft(waveform.reshape(-1, shape[-1]), n_fft=self.n_fft, hop_length=self.hop_length,
                          win_length=self.win_length, window=self.window, center=self.center,
                          pad_mode=self.pad_mode, normalized=False, onesided=True, return_complex=True)
        spec = spec.reshape(shape[:-1] + spec.shape[-2:])
        if self.normalized:
            spec = spec / self.window.pow(2.0).sum().sqrt()
        spec = spec.abs().pow(self.power)
        return torch.matmul(spec.transpose(-1, -2), self.fb).transpose(-1, -2)


# --- resampling ------------------------------------------------------------------------------------

def resample(waveform: Tensor, orig_freq: int, new_freq: int, lowpass_filter_width: int = 6,
             rolloff: float = 0.99, resampling_method: str = "sinc_interp_hann", beta: float | None = None) -> Tensor:
    """Band-limited windowed-sinc resampling along the last axis (torchaudio.functional.resample)."""
    if orig_freq == new_freq:
        return waveform
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    base = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base)
    dtype = waveform.dtype if waveform.is_floating_point() else torch.float32
    idx = torch.arange(-width, width + orig, dtype=torch.float64, device=waveform.device)[None, None] / orig
    t = (torch.arange(0, -new, -1, dtype=torch.float64, device=waveform.device)[:, None, None] / new + idx) * base
    t = t.clamp(-lowpass_filter_width, lowpass_filter_width)
    if resampling_method in ("sinc_interp_hann", "sinc_interpolation"):
        window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    elif resampling_method in ("sinc_interp_kaiser", "kaiser_window"):
        b = torch.tensor(14.769656459379492 if beta is None else float(beta), dtype=torch.float64)
        window = torch.i0(b * torch.sqrt(1 - (t / lowpass_filter_width) ** 2)) / torch.i0(b)
    else:
        raise ValueError(f"unknown resampling_method {resampling_method!r}")
    t = t * math.pi
    scale = base / orig
    kernel = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t) * window * scale
    kernel = kernel.to(dtype)
    shape = waveform.shape
    x = waveform.reshape(-1, shape[-1]).to(dtype)
    length = x.shape[-1]
    x = torch.nn.functional.pad(x, (width, width + orig))
    out = torch.nn.functional.conv1d(x[:, None], kernel, stride=orig).transpose(1, 2).reshape(x.shape[0], -1)
    out = out[..., : math.ceil(new * length / orig)]
    return out.reshape(shape[:-1] + out.shape[-1:])


class Resample(torch.nn.Module):
    def __init__(self, orig_freq: int = 16000, new_freq: int = 16000, **kwargs) -> None:
        super().__init__()
        self.orig_freq, self.new_freq, self.kwargs = orig_freq, new_freq, kwargs

    def forward(self, waveform: Tensor) -> Tensor:
        return resample(waveform, self.orig_freq, self.new_freq, **self.kwargs)


# --- file I/O --------------------------------------------------------------------------------------

def load(uri, frame_offset: int = 0, num_frames: int = -1, normalize: bool = True, channels_first: bool = True,
         **_: object) -> tuple[Tensor, int]:
    """(channels, frames) float32 and the file's rate, via soundfile (what torchaudio.load returns)."""
    import soundfile as sf

    data, sr = sf.read(str(uri), start=frame_offset, frames=num_frames, dtype="float32", always_2d=True)
    audio = torch.from_numpy(data.T.copy() if channels_first else data.copy())
    return audio, sr


def save(uri, src: Tensor, sample_rate: int, channels_first: bool = True, **_: object) -> None:
    import soundfile as sf

    data = src.detach().cpu().float().numpy()
    sf.write(str(uri), data.T if channels_first and data.ndim == 2 else data, sample_rate)


functional = types.SimpleNamespace(resample=resample, melscale_fbanks=melscale_fbanks)
transforms = types.SimpleNamespace(MelSpectrogram=MelSpectrogram, Resample=Resample)
