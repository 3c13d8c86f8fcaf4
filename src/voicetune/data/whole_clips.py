"""Clips that arrive whole with their transcript (`dataset import-hf`, `dataset import`): prepare's
clip checks (empty text, duration limits, SNR, clipping) send a clip to ``quarantine/`` with its
reason; a kept clip is loudness-normalised and written under ``wavs/``. There is no recording to
segment, so the noise floor is the clip's own (``clip_stats(..., floor=None)``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicetune.audio import normalize_loudness, write_wav
from voicetune.data.dataset import Clip, Dataset, Quarantined
from voicetune.data.quality import QualityLimits, clip_stats, quality_problem


@dataclass(frozen=True)
class ClipLimits:
    min_seconds: float = 1.0
    max_seconds: float = 11.0
    normalize_loudness: float | None = -23.0  # LUFS; None keeps the level
    quality: QualityLimits = field(default_factory=QualityLimits)


def add_whole_clip(ds: Dataset, root: Path, clip_id: str, x: np.ndarray, *, text: str, speaker: str, source: str,
                   limits: ClipLimits, problem: str | None = None, too_long_fix: str = "",
                   split: str = "train") -> str | None:
    """Check ``x`` (mono at ``ds.sample_rate``) and add it to ``ds`` as a clip, or to its quarantine
    (audio kept under ``root/quarantine/``). ``problem``: a reason already known (a truncated file).
    Returns the quarantine reason, None when the clip was kept."""
    sr = ds.sample_rate
    duration = round(len(x) / sr, 3)
    stats = clip_stats(x, sr, None)
    reason = problem
    if reason is None and not text:
        reason = "empty transcript"
    elif reason is None and duration < limits.min_seconds:
        reason = f"too short: {duration:.2f} s < --min-seconds {limits.min_seconds:g}"
    elif reason is None and duration > limits.max_seconds:
        reason = f"too long: {duration:.2f} s > --max-seconds {limits.max_seconds:g}{too_long_fix}"
    reason = reason or quality_problem(stats, limits.quality)
    if reason:
        write_wav(root / "quarantine" / f"{clip_id}.wav", x, sr)
        ds.quarantine.append(Quarantined(clip=clip_id, reason=reason, text=text, start=0.0, end=duration))
        return reason
    if limits.normalize_loudness is not None:
        x = normalize_loudness(x, sr, limits.normalize_loudness)
    write_wav(root / "wavs" / f"{clip_id}.wav", x, sr)
    ds.clips.append(Clip(
        id=clip_id, source=source, start=0.0, end=duration, duration=duration, text=text,
        snr_db=round(stats.snr_db, 1), loudness_lufs=round(stats.loudness_lufs, 1), peak=round(stats.peak, 3),
        clipping=round(stats.clipping, 5), speaker=speaker, split=split,
    ))
    return None
