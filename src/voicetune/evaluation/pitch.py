"""F0 with WORLD harvest, the decoder frame-rate lock, and a pitch-independent frame-rate comb.

Why harvest: it agrees with pYIN on our voices while WORLD dio + stonemask does not
(``bench/pitch_instruments.py``, docs/BENCHMARKS.md "Instruments"): on Joe's own speech dio
reads ~35 % high, so a pitch change measured with it is not a pitch change. Harvest costs about
0.3 x real time on one core, dio 0.04 x: the evaluation pays that for numbers it can trust.

The frame-rate lock: a HiFi-GAN decoder upsamples one latent frame to ``hop`` samples. Trained on
mel L1 alone it can emit a pulse per frame, a buzz at ``sample_rate / hop`` (86.13 Hz for
22050/256) that mel L1, Whisper and a speaker encoder barely notice. We count the voiced frames
whose F0 lies within ``LOCK_TOLERANCE`` (±3 %) of that rate. ±3 % is about half a semitone.
Only the fundamental is checked, not 2 x 86 = 172 Hz: that band is the middle of a normal male
voice and would fire on healthy speech. A deep real speaker can sit near 86 Hz, so the dataset's
own share is always reported beside it — and the lock cannot tell a deep voice from a buzz.

The comb does not depend on pitch: a buzz locked to the frame clock puts steady lines at
k x frame rate into the long-window spectrum, where speech (whose pitch moves) leaves a smooth
floor. :func:`frame_rate_comb` is how far the spectrum at k x rate (k = 1..16) stands above its
±4-12 Hz neighbours, in dB: about +1.5 dB for real and healthy synthesized speech, several dB
for a buzz, whatever the voice's own F0.
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
    """F0 per 5 ms frame in Hz (WORLD harvest), 0 where unvoiced."""
    x = np.ascontiguousarray(audio, dtype=np.float64)
    if x.size < sample_rate * FRAME_PERIOD_MS / 1000 * 2:
        return np.zeros(0)
    f0, _ = _pyworld().harvest(x, sample_rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_PERIOD_MS)
    return f0


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


COMB_HARMONICS = 16
COMB_NEAR, COMB_FAR = 4.0, 12.0  # Hz: the neighbourhood a line is compared with
COMB_LINE = 1.0  # Hz either side of k x rate searched for the line itself


def long_window_spectrum(clips: list[np.ndarray], sample_rate: int, seconds: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, power) averaged over every ``seconds``-long window of every clip (Welch, Hann,
    half overlap), each clip weighted by its length: ~1.3 Hz resolution at 0.75 s."""
    from scipy.signal import welch

    n = int(2 ** np.ceil(np.log2(seconds * sample_rate)))
    total, weight, freqs = None, 0, np.fft.rfftfreq(n, 1 / sample_rate)
    for clip in clips:
        x = np.asarray(clip, dtype=np.float64).reshape(-1)
        if x.size < n:
            x = np.pad(x, (0, n - x.size))
        _, p = welch(x, sample_rate, window="hann", nperseg=n, noverlap=n // 2, detrend=False)
        total = p * x.size if total is None else total + p * x.size
        weight += x.size
    if total is None:
        return freqs, np.zeros_like(freqs)
    return freqs, total / weight


def frame_rate_comb(clips: list[np.ndarray], sample_rate: int, rate: float, harmonics: int = COMB_HARMONICS) -> float:
    """Mean dB by which the long-window spectrum at k x ``rate`` (k = 1..harmonics) exceeds the mean
    of its ±4-12 Hz neighbours (see the module docstring). 0.0 for silence."""
    freqs, power = long_window_spectrum(clips, sample_rate)
    if not power.any():
        return 0.0
    out = []
    for k in range(1, harmonics + 1):
        f = k * rate
        if f + COMB_FAR >= freqs[-1]:
            break
        d = np.abs(freqs - f)
        line = power[d <= COMB_LINE].max()
        near = power[(d >= COMB_NEAR) & (d <= COMB_FAR)].mean()
        out.append(10 * np.log10((line + 1e-20) / (near + 1e-20)))
    return float(np.mean(out)) if out else 0.0
