"""Signal-level measures a speaker encoder and ASR miss: clipping, silence at the ends, speaking
rate (seconds per phoneme), real-time factor.

The speaker, pitch and ASR measures live in ``speaker.py``, ``pitch.py`` and ``asr.py``; this
module re-exports their entry points so ``voicetune.evaluation.metrics`` is the one place to look.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from voicetune.evaluation.asr import Intelligibility, intelligibility, transcribe_clips
from voicetune.evaluation.pitch import (
    LOCK_TOLERANCE,
    PitchStats,
    analyze_pitch,
    f0_track,
    frame_rate,
    lock_mask,
)
from voicetune.evaluation.speaker import centroid, embed, embed_many, similarity_to

__all__ = [
    "LOCK_TOLERANCE", "Intelligibility", "PitchStats", "analyze_pitch", "centroid", "clipping_share", "embed",
    "embed_many", "end_silences", "f0_track", "frame_rate", "intelligibility", "lock_mask", "phoneme_count",
    "similarity_to", "speech_seconds", "speech_span", "transcribe_clips",
]

CLIP_LEVEL = 0.999  # same definition as prepare's quality check (data/quality.py)
_SILENCE_FRAME_S = 0.01
_SILENCE_BELOW_PEAK_DB = 40.0  # a frame 40 dB under the clip's loudest frame counts as silence
PAUSE_S = 0.15  # longer silent gaps inside a clip are pauses, not part of a phoneme


def clipping_share(audio: np.ndarray) -> float:
    """Share of samples at full scale."""
    return float(np.mean(np.abs(audio) >= CLIP_LEVEL)) if audio.size else 0.0


def _loud_frames(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Per 10 ms frame: louder than the clip's peak frame - 40 dB? (and the frame length in samples).

    Relative to the clip's own peak (not absolute dBFS) so a quiet but clean clip still has its
    ends measured.
    """
    n = max(1, int(_SILENCE_FRAME_S * sample_rate))
    frames = len(audio) // n
    if frames == 0:
        return np.zeros(0, dtype=bool), n
    rms = np.sqrt(np.mean(audio[: frames * n].astype(np.float64).reshape(frames, n) ** 2, axis=1))
    peak = float(rms.max())
    if peak <= 1e-6:
        return np.zeros(frames, dtype=bool), n
    return rms >= peak * 10 ** (-_SILENCE_BELOW_PEAK_DB / 20), n


def speech_span(audio: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(start, end) in seconds of the part between the first and last loud frame; (0, 0) if none."""
    loud, n = _loud_frames(audio, sample_rate)
    idx = np.flatnonzero(loud)
    if idx.size == 0:
        return 0.0, 0.0
    return float(idx[0] * n / sample_rate), float(min(len(audio), (idx[-1] + 1) * n) / sample_rate)


def speech_seconds(audio: np.ndarray, sample_rate: int, max_gap: float = PAUSE_S) -> float:
    """Seconds of speech: the span without pauses longer than ``max_gap`` inside it.

    Pauses go out so a dataset clip holding two sentences and the gap between them compares
    fairly with one synthesized sentence; shorter gaps (stop closures, quick breaths) stay in.
    """
    loud, n = _loud_frames(audio, sample_rate)
    idx = np.flatnonzero(loud)
    if idx.size == 0:
        return 0.0
    inner = loud[idx[0] : idx[-1] + 1]
    quiet = np.diff(np.flatnonzero(np.diff(np.concatenate([[1], inner.astype(np.int8), [1]])) != 0))[::2]
    long_pauses = int(quiet[quiet * n / sample_rate > max_gap].sum())
    return float((inner.size - long_pauses) * n / sample_rate)


def end_silences(audio: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(leading, trailing) silence in seconds."""
    start, end = speech_span(audio, sample_rate)
    if end <= start:
        return len(audio) / sample_rate, 0.0
    return start, len(audio) / sample_rate - end


@dataclass
class _Counter:
    espeak_voice: str | None  # None: espeak unavailable for this language, count letters
    phonemizer: object | None = None

    def __call__(self, text: str) -> int:
        if self.phonemizer is not None:
            from voicetune.text.phonemize import _LOCK  # espeak's bridge keeps global state (voice)

            with _LOCK:
                sentences = self.phonemizer.phonemize(self.espeak_voice, text)
            chars = [c for s in sentences for c in s]
        else:
            chars = list(unicodedata.normalize("NFD", text))
        # letters only: no stress/length marks (Lm), combining marks (M*), spaces or punctuation
        return sum(1 for c in chars if unicodedata.category(c) in ("Ll", "Lu", "Lo"))


_COUNTERS: dict[str, _Counter] = {}


def phoneme_count(text: str, language: str = "en") -> int:
    """espeak-ng phonemes (piper-tts's bundled espeak) in ``text``; letters if espeak lacks the language.

    The speaking rate compares synthesized speech with the dataset's clips using the same counter,
    so the ratio is meaningful either way.
    """
    counter = _COUNTERS.get(language)
    if counter is None:
        try:
            from piper.phonemize_espeak import EspeakPhonemizer

            from voicetune.text.languages import espeak_voice_for

            # "en": American, as the built-in voices (espeak's own pick for "en" is British)
            voice = "en-us" if language == "en" else espeak_voice_for(language)
            if voice is None:
                raise LookupError(language)
            ph = EspeakPhonemizer()
            from voicetune.text.phonemize import _LOCK

            with _LOCK:
                ph.phonemize(voice, "test")
            counter = _Counter(voice, ph)
        except Exception:  # no piper-tts, or espeak has no such voice: fall back to letters
            counter = _Counter(None)
        _COUNTERS[language] = counter
    return counter(text)
