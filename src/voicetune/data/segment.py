"""Speech spans -> clips in [min, max] seconds that start and end in pauses, never inside a word.

The plan is pure (times in, times out) so it is tested without any model:

1. Silero VAD gives speech spans. A VAD gap that an ASR word covers completely is not a pause
   (closure of a stop consonant, a breathy word): such spans are joined.
2. Units longer than the limit are split at the deepest pause between two recognised words
   (largest word gap, then nearest the middle), recursively. A unit with no word gap left is
   reported as too long, never cut blindly.
3. Within each run of units not separated by a long silence, a dynamic programme picks the cut
   set: every clip fits ``max_seconds`` including its margins, clips shorter than ``min_seconds``
   are merged with neighbours wherever possible, cuts prefer long pauses and sentence ends, and
   clip lengths prefer the middle of the allowed range.
4. Margins (``pad``) extend each clip into silence but stop half-way to the neighbouring speech.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

VAD_RATE = 16000
_SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0

    @property
    def mid(self) -> float:
        return 0.5 * (self.start + self.end)


@dataclass
class Unit:
    """A stretch of speech that is never cut inside (at most between its words, if too long)."""

    start: float
    end: float
    words: list[Word] = field(default_factory=list)
    text: str | None = None  # fixed text (subtitle cue); otherwise joined from words

    @property
    def duration(self) -> float:
        return self.end - self.start

    def ends_sentence(self) -> bool:
        last = (self.text or (self.words[-1].text if self.words else "")).strip()
        return last.endswith(_SENTENCE_END)


@dataclass
class ClipPlan:
    speech_start: float
    speech_end: float
    start: float  # audio bounds including margins
    end: float
    units: list[Unit]
    problem: str | None = None  # set when the clip cannot satisfy the limits

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def words(self) -> list[Word]:
        return [w for u in self.units for w in u.words]

    @property
    def text(self) -> str:
        if all(u.text is not None for u in self.units):
            return " ".join(u.text.strip() for u in self.units if u.text and u.text.strip())
        return "".join(w.text for w in self.words).strip()


@dataclass(frozen=True)
class SegmentConfig:
    min_seconds: float = 1.0
    max_seconds: float = 11.0
    pad: float = 0.2  # margin of silence kept around speech on each side
    max_pause: float = 1.6  # a longer silence always ends a clip (no long silences inside clips)
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 80
    vad_min_speech_ms: int = 120
    word_tolerance: float = 0.03  # a word must overlap a gap by more than this on both sides to join


def detect_speech(audio16k: np.ndarray, cfg: SegmentConfig = SegmentConfig(), progress=None) -> list[tuple[float, float]]:
    """Silero VAD (ONNX, one thread: the JIT model with 2 threads is pathologically slow here)."""
    import torch
    from silero_vad import get_speech_timestamps

    model = _silero_model()
    callback = (lambda pct: progress(pct / 100.0)) if progress else None
    stamps = get_speech_timestamps(
        torch.from_numpy(np.ascontiguousarray(audio16k, dtype=np.float32)),
        model,
        threshold=cfg.vad_threshold,
        sampling_rate=VAD_RATE,
        min_speech_duration_ms=cfg.vad_min_speech_ms,
        min_silence_duration_ms=cfg.vad_min_silence_ms,
        speech_pad_ms=0,
        progress_tracking_callback=callback,
    )
    return [(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in stamps]


_SILERO = None


def _silero_model():
    global _SILERO
    if _SILERO is None:
        from silero_vad import load_silero_vad

        _SILERO = load_silero_vad(onnx=True)
    _SILERO.reset_states()
    return _SILERO


def build_units(spans: list[tuple[float, float]], words: list[Word], tol: float = 0.03) -> list[Unit]:
    """Join VAD spans across gaps that lie inside a word; attach each word to the unit holding its middle."""
    units: list[Unit] = []
    for start, end in sorted(spans):
        if units:
            prev = units[-1]
            inside_word = any(w.start < prev.end - tol and w.end > start + tol for w in words if w.start < start)
            if inside_word or start <= prev.end:
                prev.end = max(prev.end, end)
                continue
        units.append(Unit(start, end))
    # Whisper can place a word slightly outside the VAD span (soft onsets): extend units to cover
    # the words assigned to them, joining units whose extended bounds now touch.
    for w in words:
        if not units:
            break
        unit = _nearest_unit(units, w.mid)
        unit.words.append(w)
    merged: list[Unit] = []
    for u in units:
        u.words.sort(key=lambda w: w.start)
        if u.words:
            u.start = min(u.start, u.words[0].start)
            u.end = max(u.end, u.words[-1].end)
        if merged and u.start <= merged[-1].end:
            merged[-1].end = max(merged[-1].end, u.end)
            merged[-1].words.extend(u.words)
        else:
            merged.append(u)
    return merged


def _nearest_unit(units: list[Unit], t: float) -> Unit:
    best, best_d = units[0], math.inf
    for u in units:
        d = 0.0 if u.start <= t <= u.end else min(abs(t - u.start), abs(t - u.end))
        if d < best_d:
            best, best_d = u, d
    return best


def split_long_units(units: list[Unit], limit: float) -> list[Unit]:
    """Split units longer than ``limit`` seconds at the deepest gap between their words."""
    out: list[Unit] = []
    stack = list(reversed(units))
    while stack:
        u = stack.pop()
        if u.duration <= limit or len(u.words) < 2 or u.text is not None:
            out.append(u)
            continue
        best_i, best_key = None, None
        mid = 0.5 * (u.start + u.end)
        for i in range(len(u.words) - 1):
            a, b = u.words[i], u.words[i + 1]
            cut = 0.5 * (a.end + b.start)
            left, right = cut - u.start, u.end - cut
            if left <= 0 or right <= 0:
                continue
            gap = b.start - a.end
            key = (round(gap, 2), a.text.strip().endswith(_SENTENCE_END), -abs(cut - mid))
            if best_key is None or key > best_key:
                best_i, best_key = i, key
        if best_i is None:
            out.append(u)
            continue
        a, b = u.words[best_i], u.words[best_i + 1]
        left_end = max(a.end, u.start)
        right_start = min(max(b.start, left_end), u.end)
        left = Unit(u.start, left_end, u.words[: best_i + 1])
        right = Unit(right_start, u.end, u.words[best_i + 1 :])
        stack.append(right)
        stack.append(left)
    return out


def plan_clips(units: list[Unit], total: float, cfg: SegmentConfig = SegmentConfig()) -> list[ClipPlan]:
    """Choose cuts between units (see module doc). Clips that cannot meet the limits carry ``problem``."""
    units = sorted(units, key=lambda u: u.start)
    plans: list[ClipPlan] = []
    group: list[Unit] = []
    for u in units:
        if group and u.start - group[-1].end > cfg.max_pause:
            plans.extend(_plan_group(group, cfg))
            group = []
        group.append(u)
    if group:
        plans.extend(_plan_group(group, cfg))
    _apply_margins(plans, total, cfg.pad)
    for p in plans:
        if p.problem is None and p.duration > cfg.max_seconds + 1e-6:
            p.problem = f"too long ({p.duration:.1f} s > --max-seconds {cfg.max_seconds:g}) with no pause between words to cut at"
        elif p.problem is None and p.duration < cfg.min_seconds - 1e-6:
            p.problem = (
                f"too short ({p.duration:.2f} s < --min-seconds {cfg.min_seconds:g}) and no neighbouring speech "
                f"within {cfg.max_pause:g} s to join"
            )
    return plans


def _plan_group(group: list[Unit], cfg: SegmentConfig) -> list[ClipPlan]:
    n = len(group)
    limit = cfg.max_seconds - 2 * cfg.pad
    target = 0.55 * (cfg.min_seconds + cfg.max_seconds)
    best = [math.inf] * (n + 1)
    back = [0] * (n + 1)
    best[0] = 0.0
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):
            speech = group[j - 1].end - group[i].start
            if speech > limit and i < j - 1:
                break  # adding more units only makes it longer
            cost = best[i] + _clip_cost(group, i, j, speech, target, cfg)
            if cost < best[j]:
                best[j], back[j] = cost, i
    cuts = []
    j = n
    while j > 0:
        cuts.append((back[j], j))
        j = back[j]
    plans = []
    for i, j in reversed(cuts):
        us = group[i:j]
        plans.append(ClipPlan(us[0].start, us[-1].end, us[0].start, us[-1].end, us))
    return plans


def _clip_cost(group: list[Unit], i: int, j: int, speech: float, target: float, cfg: SegmentConfig) -> float:
    padded = speech + 2 * cfg.pad
    cost = ((padded - target) / cfg.max_seconds) ** 2
    if padded < cfg.min_seconds:
        cost += 100.0  # merging is always preferred to a too-short clip
    if j < len(group):  # the cut after this clip: prefer long pauses and sentence ends
        gap = group[j].start - group[j - 1].end
        cost += (0.4 if group[j - 1].ends_sentence() else 1.0) / (1.0 + gap / 0.15)
    return cost


def _apply_margins(plans: list[ClipPlan], total: float, pad: float) -> None:
    for k, p in enumerate(plans):
        prev_end = plans[k - 1].speech_end if k > 0 else -math.inf
        next_start = plans[k + 1].speech_start if k + 1 < len(plans) else math.inf
        left = min(pad, max(0.0, (p.speech_start - prev_end) / 2))
        right = min(pad, max(0.0, (next_start - p.speech_end) / 2))
        p.start = max(0.0, p.speech_start - left)
        p.end = min(total, p.speech_end + right)


def refine_cut(audio: np.ndarray, sr: int, lo: float, hi: float) -> float:
    """The quietest 10 ms point in [lo, hi] (seconds): where a cut between two words does least harm."""
    a, b = max(0, int(lo * sr)), min(len(audio), int(hi * sr))
    hop = max(1, sr // 100)
    if b - a < 2 * hop:
        return 0.5 * (lo + hi)
    frames = np.lib.stride_tricks.sliding_window_view(audio[a:b] ** 2, hop)[::hop // 2 or 1]
    k = int(np.argmin(frames.mean(axis=1)))
    return (a + k * (hop // 2 or 1) + hop // 2) / sr
