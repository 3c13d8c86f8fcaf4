"""Audio I/O: any file -> mono float32 at a rate; loudness; atomic PCM16 wav writing.

Decoding streams in blocks so a multi-hour source never needs more than its resampled mono copy
in memory. MP3/OGG/FLAC go through libsndfile (the soundfile wheel bundles an mp3-capable build);
when it cannot decode a file and ``ffmpeg`` is on PATH, ffmpeg is the fallback.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from voicetune.errors import AudioError
from voicetune.fileio import write_with

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aiff", ".aif")
_BLOCK = 1 << 18  # frames per decode block (~6 s at 44.1 kHz)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return np.ascontiguousarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes); re-export or remove it")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: not readable (permission denied); fix its permissions")


@dataclass
class Decoded:
    audio: np.ndarray  # mono float32 at the requested rate
    problem: str | None = None  # decoded, but not all of it: why (truncated file, decoder stopped)


@contextmanager
def _quiet_c_stderr() -> Iterator[list[str]]:
    """libsndfile's mpg123 prints "Note: Illegal Audio-MPEG-Header ..." straight to file
    descriptor 2; keep those lines out of the terminal (yielded list: what it printed)."""
    printed: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:
        yield printed
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield printed
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            printed += sink.read().decode(errors="replace").splitlines()


def _load_soundfile(path: Path, sample_rate: int) -> tuple[np.ndarray, int, str | None]:
    """(mono audio, source rate, problem). A decoder error after the start keeps what decoded."""
    with _quiet_c_stderr(), sf.SoundFile(str(path)) as f:
        sr_in = f.samplerate
        stream = None if sr_in == sample_rate else soxr.ResampleStream(sr_in, sample_rate, 1, dtype="float32")
        parts = _Buffer(int(max(f.frames, 0) * sample_rate / sr_in) + 65536)
        problem = None
        done = 0
        block_size = _BLOCK
        while True:
            try:
                block = f.read(block_size, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError):
                if block_size > 4096:  # re-read the failed block in small steps
                    try:
                        f.seek(done)
                        block_size = 4096
                        continue
                    except (sf.LibsndfileError, RuntimeError):
                        pass
                if not done:
                    raise
                problem = f"decoding stopped at {done / sr_in:.2f} s"
                block = np.zeros((0, f.channels), dtype=np.float32)
            last = len(block) < block_size or problem is not None
            done += len(block)
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            parts.append(mono if stream is None else stream.resample_chunk(mono, last=last))
            if last:
                break
    return parts.array(), sr_in, problem


class _Buffer:
    """Decoded blocks written into one array sized from the header (a list of blocks joined at the
    end would hold a multi-hour source twice at that moment)."""

    def __init__(self, size: int) -> None:
        self.data = np.empty(size, dtype=np.float32)
        self.n = 0

    def append(self, x: np.ndarray) -> None:
        if self.n + len(x) > len(self.data):  # the header under-stated the length (MP3 estimates)
            self.data = np.resize(self.data, max(2 * len(self.data), self.n + len(x)))
        self.data[self.n : self.n + len(x)] = x
        self.n += len(x)

    def array(self) -> np.ndarray:
        view = self.data[: self.n]
        return view.copy() if self.n < 0.9 * len(self.data) else view  # do not keep an over-sized buffer


def _load_ffmpeg(path: Path, sample_rate: int) -> np.ndarray:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"ffmpeg exit code {proc.returncode}"
        reason = re.sub(r"^\[[^\]]*\]\s*", "", reason).replace(f"{path}: ", "").strip()
        raise AudioError(f"{path}: cannot decode: not audio ffmpeg can read ({reason}); re-export it as wav or flac")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy()


def _riff_frames(path: Path) -> tuple[int, int] | None:
    """(frames, rate) a WAV header declares for its data chunk; None when it does not say
    (streamed WAVs write 0 or 0xFFFFFFFF) or the file is not RIFF/WAVE. libsndfile reports only
    the frames present, so a cut-off file is caught by comparing the two."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            rate = align = 0
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(size + (size & 1))
                    if len(fmt) < 14:
                        return None
                    rate, align = struct.unpack("<I", fmt[4:8])[0], struct.unpack("<H", fmt[12:14])[0]
                elif cid == b"data":
                    if size in (0, 0xFFFFFFFF) or not align or not rate:
                        return None
                    return size // align, rate
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return None


def declared_seconds(path: str | os.PathLike) -> float | None:
    """The duration a file's header promises (WAV data chunk, FLAC STREAMINFO); None if unknown."""
    path = Path(path)
    riff = _riff_frames(path)
    if riff is not None:
        return riff[0] / riff[1]
    if path.suffix.lower() == ".flac":
        try:
            with _quiet_c_stderr():
                info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError):
            return None
        return info.frames / info.samplerate if info.frames > 0 else None
    return None


def decode_audio(path: str | os.PathLike, sample_rate: int) -> Decoded:
    """Decode ``path`` to mono float32 at ``sample_rate``, and say when less audio decoded than the
    header promised. Raises :class:`AudioError` with a one-line reason when nothing decodes."""
    path = Path(path)
    _check_file(path)
    problem = None
    try:
        audio, _, problem = _load_soundfile(path, sample_rate)
    except (sf.LibsndfileError, RuntimeError, ValueError):
        if shutil.which("ffmpeg") is None:
            raise AudioError(
                f"{path}: cannot decode: not audio in a format libsndfile reads (wav, flac, mp3, ogg); "
                "re-export it, or install ffmpeg for other formats"
            ) from None
        audio = _load_ffmpeg(path, sample_rate)
    if audio.size == 0:
        raise AudioError(f"{path}: decodes to no audio samples; re-export it")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: decodes to NaN/inf samples; the file is corrupt")
    declared = declared_seconds(path)
    present = len(audio) / sample_rate
    if declared is not None and declared - present > 0.05:
        problem = f"truncated: the header promises {declared:.2f} s, {present:.2f} s are present"
    elif problem is not None:
        problem += ": the file is damaged or cut off"
    return Decoded(audio, problem)


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate``. Raises :class:`AudioError` with a one-line reason."""
    return decode_audio(path, sample_rate).audio


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
