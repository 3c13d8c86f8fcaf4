"""Audio I/O: any file -> mono float32 at a rate; loudness; atomic PCM16 wav writing.

Decoding streams in blocks so a multi-hour source never needs more than its resampled mono copy
in memory. MP3/OGG/FLAC go through libsndfile (the soundfile wheel bundles an mp3-capable build);
when it cannot decode a file and ``ffmpeg`` is on PATH, ffmpeg is the fallback.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from voicetune.errors import AudioError
from voicetune.fileio import write_with

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aiff", ".aif")
_BLOCK = 1 << 18  # frames per decode block (~6 s at 44.1 kHz)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return np.ascontiguousarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), sr_in, sr_out, quality="HQ").astype(np.float32)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes); re-export or remove it")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: not readable (permission denied); fix its permissions")


def _load_soundfile(path: Path, sample_rate: int) -> tuple[np.ndarray, int]:
    with sf.SoundFile(str(path)) as f:
        sr_in = f.samplerate
        stream = None if sr_in == sample_rate else soxr.ResampleStream(sr_in, sample_rate, 1, dtype="float32")
        parts: list[np.ndarray] = []
        while True:
            block = f.read(_BLOCK, dtype="float32", always_2d=True)
            last = len(block) < _BLOCK
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            parts.append(mono if stream is None else stream.resample_chunk(mono, last=last))
            if last:
                break
    return np.concatenate(parts).astype(np.float32, copy=False), sr_in


def _load_ffmpeg(path: Path, sample_rate: int) -> np.ndarray:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise AudioError(f"{path}: cannot decode ({proc.stderr.decode(errors='replace').strip().splitlines()[-1:]})")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy()


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate``. Raises :class:`AudioError` with a one-line reason."""
    path = Path(path)
    _check_file(path)
    try:
        audio, _ = _load_soundfile(path, sample_rate)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        if shutil.which("ffmpeg") is None:
            raise AudioError(
                f"{path}: cannot decode ({str(exc).strip() or type(exc).__name__}); "
                "convert it to wav/flac or install ffmpeg"
            ) from None
        audio = _load_ffmpeg(path, sample_rate)
    if audio.size == 0:
        raise AudioError(f"{path}: decodes to no audio samples; re-export it")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: decodes to NaN/inf samples; the file is corrupt")
    return audio


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono PCM16 atomically; values are clipped to [-1, 1]."""
    data = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    write_with(path, lambda tmp: sf.write(str(tmp), data, sample_rate, subtype="PCM_16", format="WAV"))


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4) in LUFS; -inf for silence. Short clips are looped to 0.4 s."""
    import pyloudnorm

    x = np.asarray(audio, dtype=np.float64)
    min_len = int(0.41 * sample_rate)
    if len(x) < min_len:
        if len(x) == 0:
            return float("-inf")
        x = np.tile(x, int(np.ceil(min_len / len(x))))[:min_len]
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(x))


def normalize_loudness(
    audio: np.ndarray, sample_rate: int, target_lufs: float, peak_dbfs: float = -1.0
) -> np.ndarray:
    """Gain to ``target_lufs``; the gain is lowered if the peak would exceed ``peak_dbfs`` (no clipping)."""
    current = loudness_lufs(audio, sample_rate)
    if not np.isfinite(current):
        return audio.astype(np.float32)
    gain = 10 ** ((target_lufs - current) / 20)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    max_gain = 10 ** (peak_dbfs / 20) / peak if peak > 0 else gain
    return (audio * min(gain, max_gain)).astype(np.float32)
