"""Per-clip measurements and the checks that send a clip to quarantine (with its reason)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicetune.audio import loudness_lufs

# Above this the noise floor is at the level of digital silence (synthesized or gated audio): the
# ratio is not measurable, so it is stored as the cap and shown as ">= 80".
SNR_CAP_DB = 80.0


def format_snr(snr_db: float | None) -> str:
    if snr_db is None:
        return "-"
    return f"≥ {SNR_CAP_DB:g}" if snr_db >= SNR_CAP_DB else f"{snr_db:.1f}"


@dataclass(frozen=True)
class QualityLimits:
    min_snr_db: float = 12.0
    max_clipping: float = 0.001  # share of samples at full scale
    min_confidence: float = 0.55  # below: second opinion; still below after it: quarantine at half this


@dataclass
class ClipStats:
    snr_db: float
    loudness_lufs: float
    peak: float
    clipping: float


def frame_power(x: np.ndarray, sr: int, frame: float = 0.02) -> np.ndarray:
    n = max(1, int(frame * sr))
    usable = len(x) // n * n
    if usable == 0:
        return np.array([float(np.mean(x**2)) if len(x) else 0.0])
    return np.mean(x[:usable].reshape(-1, n) ** 2, axis=1)


def noise_floor(source: np.ndarray, sr: int, speech: list[tuple[float, float]], frame: float = 0.02) -> float | None:
    """Median power of the source's 20 ms frames outside speech (None when there is too little of it).
    Frame powers are computed block by block: no copy of a multi-hour source is made."""
    n = max(1, int(frame * sr))
    frames = len(source) // n
    if frames == 0:
        return None
    powers = np.empty(frames, dtype=np.float64)
    block = n * 8192
    for start in range(0, frames * n, block):
        x = source[start : min(start + block, frames * n)].astype(np.float64)
        powers[start // n : start // n + len(x) // n] = np.mean(x.reshape(-1, n) ** 2, axis=1)
    keep = np.ones(frames, dtype=bool)
    for s, e in speech:
        keep[max(0, int((s - 0.1) * sr) // n) : int(np.ceil((e + 0.1) * sr / n))] = False
    if keep.sum() * n < int(0.3 * sr):
        return None
    return float(np.median(powers[keep]))


def clip_stats(x: np.ndarray, sr: int, floor: float | None) -> ClipStats:
    powers = frame_power(x, sr)
    loud = powers[powers >= np.percentile(powers, 50)] if len(powers) > 1 else powers
    speech_power = float(np.mean(loud)) if loud.size else 0.0
    noise = floor if floor is not None else float(np.percentile(powers, 5))
    snr = 10 * np.log10((speech_power + 1e-12) / (noise + 1e-12))
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    clipping = float(np.mean(np.abs(x) >= 0.999)) if x.size else 0.0
    return ClipStats(float(min(snr, SNR_CAP_DB)), loudness_lufs(x, sr), peak, clipping)


def quality_problem(stats: ClipStats, limits: QualityLimits) -> str | None:
    if stats.clipping > limits.max_clipping:
        return f"clipping: {100 * stats.clipping:.2f}% of samples at full scale (record with less gain)"
    if stats.snr_db < limits.min_snr_db:
        return f"very low SNR: {stats.snr_db:.1f} dB < {limits.min_snr_db:g} dB (noisy recording)"
    return None
