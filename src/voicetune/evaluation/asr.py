"""Intelligibility: many short clips transcribed by Whisper in ONE call, WER/CER against their text.

Every faster-whisper call encodes a full 30 s window (~0.7 s of CPU for tiny.en here), so one call
per 3 s sentence costs more than the sentence itself. We lay the clips end to end, let
``voicetune.data.transcribe.transcribe_regions`` put a short silence between them (the same
"condensed signal" prepare uses) and hand each word back to the clip that holds its midpoint.

WER/CER are computed over the whole sequence (all references joined vs all hypotheses joined):
a word Whisper times across a clip boundary then counts once, not as a deletion in one sentence
plus an insertion in the next. Per-clip hypotheses are kept for the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicetune.audio import resample
from voicetune.data.segment import VAD_RATE
from voicetune.metrics import cer, wer


@dataclass(frozen=True)
class Intelligibility:
    wer: float | None
    cer: float | None
    hypotheses: list[str]


def transcribe_clips(model, clips: list[np.ndarray], sample_rate: int, *, language: str = "en") -> list[str]:
    """One hypothesis per clip from a single Whisper pass over all of them."""
    if not clips:
        return []
    from voicetune.data.transcribe import transcribe_regions

    pieces = [resample(c, sample_rate, VAD_RATE) for c in clips]
    bounds = np.cumsum([0] + [len(p) for p in pieces]) / VAD_RATE
    regions = [(float(bounds[i]), float(bounds[i + 1])) for i in range(len(pieces)) if bounds[i + 1] > bounds[i]]
    words = transcribe_regions(model, np.concatenate(pieces), regions, language=language)
    texts: list[list[str]] = [[] for _ in clips]
    for w in words:
        i = int(np.searchsorted(bounds, w.mid, side="right")) - 1
        texts[min(max(i, 0), len(clips) - 1)].append(w.text.strip())
    return [" ".join(t).strip() for t in texts]


def intelligibility(model, clips: list[np.ndarray], sample_rate: int, references: list[str], *,
                    language: str = "en") -> Intelligibility:
    hyps = transcribe_clips(model, clips, sample_rate, language=language)
    pairs = [(r, h) for r, h in zip(references, hyps, strict=True) if r.strip()]
    if not pairs:
        return Intelligibility(None, None, hyps)
    ref = " ".join(r for r, _ in pairs)
    hyp = " ".join(h for _, h in pairs)
    return Intelligibility(wer(ref, hyp, language), cer(ref, hyp, language), hyps)
