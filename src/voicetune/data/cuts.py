"""Placing a cut between two words when there is no pause to cut in (a too-long stretch of speech).

Whisper tiny's word timestamps are often 50-150 ms off, and the quietest point near them is as
likely a stop closure inside a word ("con|cert") as the boundary. So a forced cut is proposed at
the deepest energy valleys around the word boundary and each candidate is checked by ear: the
audio before the cut must end with the left word and the audio after it must start with the
right word when Whisper hears them alone. The first candidate that passes wins; if none does,
the caller quarantines the pieces instead of keeping a clip that may start or end mid-word.
"""

from __future__ import annotations

import difflib
import re

import numpy as np

from voicetune.data.segment import VAD_RATE, Word

_PROBE = 2.0  # seconds of audio on each side of the cut that the check listens to


def valley_candidates(audio: np.ndarray, sr: int, lo: float, hi: float, k: int = 4) -> list[float]:
    """Times of the ``k`` deepest local minima of short-time energy in [lo, hi], deepest first."""
    hop = max(1, sr // 200)  # 5 ms
    a, b = max(0, int(lo * sr)), min(len(audio), int(hi * sr))
    x = audio[a:b]
    if len(x) < 4 * hop:
        return [0.5 * (lo + hi)]
    n = len(x) // hop
    energy = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-10)
    smooth = np.convolve(energy, np.ones(3) / 3, mode="same")
    minima = [i for i in range(1, n - 1) if smooth[i] <= smooth[i - 1] and smooth[i] <= smooth[i + 1]]
    minima.sort(key=lambda i: smooth[i])
    picked: list[int] = []
    for i in minima:
        if all(abs(i - j) > 6 for j in picked):  # 30 ms apart at least
            picked.append(i)
        if len(picked) == k:
            break
    return [(a + i * hop + hop // 2) / sr for i in picked] or [0.5 * (lo + hi)]


def _norm(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def same_word(a: str, b: str) -> bool:
    a, b = _norm(a), _norm(b)
    if not a or not b:
        return False
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.75


def _words(model, audio: np.ndarray, language: str | None, timestamps: bool) -> list[str]:
    segments, _ = model.transcribe(
        audio, language=language, beam_size=5, word_timestamps=timestamps, vad_filter=False,
        condition_on_previous_text=False, without_timestamps=not timestamps,
    )
    return " ".join(s.text for s in segments).split()


def edges_heard(model, a16: np.ndarray, cut: float, left_start: float, right_end: float, language: str | None,
                timestamps: bool = False) -> tuple[str, str]:
    """(last word before the cut, first word after it) as Whisper hears each piece on its own.
    Two separate calls: heard together, Whisper fills a cut word in from context."""
    left = a16[int(max(left_start, cut - _PROBE) * VAD_RATE) : int(cut * VAD_RATE)]
    right = a16[int(cut * VAD_RATE) : int(min(right_end, cut + _PROBE) * VAD_RATE)]
    before, after = _words(model, left, language, timestamps), _words(model, right, language, timestamps)
    return (before[-1] if before else ""), (after[0] if after else "")


def place_cut(
    model, audio: np.ndarray, sr: int, a16: np.ndarray, left: Word, right: Word,
    left_start: float, right_end: float, language: str | None,
) -> float | None:
    """A verified cut between ``left`` and ``right`` words, or None when no candidate passes."""
    lo, hi = left.mid - 0.05, right.mid + 0.05
    for cut in valley_candidates(audio, sr, lo, hi, k=4):
        # Whisper tiny is unsure on 2 s snippets: a cut counts as verified only when both of its
        # decoding modes (plain and word-timestamped) hear the right words on both sides.
        if all(
            same_word(last, left.text) and same_word(first, right.text)
            for last, first in (
                edges_heard(model, a16, cut, left_start, right_end, language, timestamps=ts) for ts in (False, True)
            )
        ):
            return cut
    return None
