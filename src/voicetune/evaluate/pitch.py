"""F0 with WORLD (pyworld dio + stonemask) and the decoder frame-rate lock.

Why dio + stonemask: it is the estimator the fine-tune experiment measured with (numbers stay
comparable with ../shared/notes/finetune-experiment.md), it runs at ~3 % of real time on one CPU
core (pYIN in librosa is 10-50x slower), and stonemask refines each frame's F0 to well under 1 %,
so a buzz at 86.13 Hz reads as 86.1 Hz, not "somewhere near 86".

The frame-rate lock: a HiFi-GAN decoder upsamples one latent frame to ``hop`` samples. Trained on
mel L1 alone it can emit a pulse per frame, a buzz at ``sample_rate / hop`` (86.13 Hz for
22050/256) that mel L1, Whisper and a speaker encoder barely notice. We count the voiced frames
whose F0 lies within ``LOCK_TOLERANCE`` (±3 %) of that rate. ±3 % is about half a semitone: wide
enough to hold the 86-88 Hz the experiment read off locked checkpoints (+2.2 % at most), narrow
enough that natural intonation only passes through it (Joe: ~0.2 % of frames). Only the
fundamental is checked, not 2 x 86 = 172 Hz: that band is the middle of a normal male voice (Joe's
median is ~166 Hz) and would fire on healthy speech. A deep real speaker can sit near 86 Hz
(the experiment's target: 14 %), so the dataset's own share is always reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicetune.errors import VoicetuneError

F0_FLOOR = 55.0  # Hz; under the lock band of 16 kHz voices (62.5 Hz ±3 %) and deep voices, over 50 Hz mains hum
F0_CEIL = 600.0  # Hz; children and high female voices
FRAME_PERIOD_MS = 5.0
LOCK_TOLERANCE = 0.03


@dataclass(frozen=True)
class PitchStats:
    median_f0: float | None  # Hz over voiced frames; None if nothing is voiced
    voiced_frames: int
    frames: int
    lock_share: float  # share of voiced frames within LOCK_TOLERANCE of frame_rate
    frame_rate: float


def _pyworld():
    try:
        import pyworld
    except ImportError:
        raise VoicetuneError("F0 analysis needs pyworld: pip install pyworld") from None
    return pyworld


def f0_track(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """F0 per 5 ms frame in Hz, 0 where unvoiced."""
    x = np.ascontiguousarray(audio, dtype=np.float64)
    if x.size < sample_rate * FRAME_PERIOD_MS / 1000 * 2:
        return np.zeros(0)
    pw = _pyworld()
    f0, times = pw.dio(x, sample_rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_PERIOD_MS)
    return pw.stonemask(x, f0, times, sample_rate)


def frame_rate(sample_rate: int, hop_length: int) -> float:
    return sample_rate / hop_length


def lock_mask(f0: np.ndarray, rate: float, tolerance: float = LOCK_TOLERANCE) -> np.ndarray:
    """True for voiced frames whose F0 is within ``tolerance`` (relative) of ``rate``."""
    return (f0 > 0) & (np.abs(f0 / rate - 1.0) <= tolerance)


def pitch_stats(tracks: list[np.ndarray], rate: float) -> PitchStats:
    """Pool the frames of many clips: the median and the lock share are over all voiced frames."""
    f0 = np.concatenate(tracks) if tracks else np.zeros(0)
    voiced = f0[f0 > 0]
    share = float(np.mean(lock_mask(voiced, rate))) if voiced.size else 0.0
    median = float(np.median(voiced)) if voiced.size else None
    return PitchStats(median, int(voiced.size), int(f0.size), share, rate)


def analyze_pitch(clips: list[np.ndarray], sample_rate: int, rate: float) -> PitchStats:
    return pitch_stats([f0_track(c, sample_rate) for c in clips], rate)
