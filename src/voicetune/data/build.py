"""prepare(): recordings -> dataset folder. Each step is a function of its own module; this one
orchestrates them and guarantees the folder is either complete or untouched.

The new folder is written next to the target and swapped in at the end (clips of an earlier run
are hard-linked, not copied), so an error or Ctrl+C never leaves a half-written dataset behind.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicetune.audio import AUDIO_EXTENSIONS, load_audio, normalize_loudness, resample, sha256_file, write_wav
from voicetune.data import segment
from voicetune.data.clean import clean_text, text_key
from voicetune.data.dataset import (
    META_JSON,
    Clip,
    Dataset,
    Quarantined,
    Source,
    assign_splits,
    ensure_eval,
    load_dataset,
    save_dataset,
)
from voicetune.data.quality import QualityLimits, clip_stats, noise_floor, quality_problem
from voicetune.data.srt import find_subtitle, read_subtitles
from voicetune.errors import AudioError, VoicetuneError
from voicetune.fileio import replace_dir


@dataclass
class PrepareOptions:
    language: str = "en"
    asr_model: str | None = None
    sample_rate: int = 22050
    min_seconds: float = 1.0
    max_seconds: float = 11.0
    eval_fraction: float = 0.1
    speaker: str | None = None
    seed: int = 1234
    normalize_loudness: float | None = -23.0
    device: str = "cpu"
    srt: dict[str, str] = field(default_factory=dict)  # audio path -> subtitle path (besides neighbours)
    srt_encoding: str | None = None
    beam_size: int = 5
    second_opinion_beam: int = 10
    pad: float = 0.2
    quality: QualityLimits = field(default_factory=QualityLimits)

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds < self.max_seconds:
            raise VoicetuneError(f"--min-seconds {self.min_seconds} must be > 0 and below --max-seconds {self.max_seconds}")
        if self.max_seconds > 11.5:
            raise VoicetuneError("--max-seconds above 11.5 is refused: XTTS silently drops clips over ~11.6 s")
        if not 0 <= self.eval_fraction < 1:
            raise VoicetuneError(f"--eval-fraction {self.eval_fraction} must be in [0, 1)")
        if self.max_seconds - 2 * self.pad < self.min_seconds:
            self.pad = max(0.0, (self.max_seconds - self.min_seconds) / 2)


@dataclass
class PrepareResult:
    dataset: Path
    added: int = 0
    quarantined: int = 0
    skipped_sources: list[str] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0

    def summary(self, ds: Dataset) -> dict:
        return {
            "dataset": str(self.dataset),
            "clips": len(ds.clips),
            "train": len(ds.train),
            "eval": len(ds.eval),
            "minutes": round(ds.minutes, 2),
            "added": self.added,
            "quarantined": self.quarantined,
            "skipped_sources": self.skipped_sources,
            "seconds": round(self.seconds, 1),
            "realtime_factor": round(self.audio_seconds / self.seconds, 1) if self.seconds else None,
        }


def collect_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Audio files named or found (recursively) in folders, in a stable order."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise VoicetuneError(f"{p}: no such file or folder")
        if p.is_dir():
            if not os.access(p, os.R_OK | os.X_OK):
                raise VoicetuneError(f"{p}: folder is not readable (permission denied); fix its permissions")
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file())
            if not files:
                raise VoicetuneError(f"{p}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this folder")
            found.extend(files)
        else:
            if p.suffix.lower() in (".srt", ".vtt"):
                continue  # subtitles are picked up next to their audio file
            found.append(p)
    seen, unique = set(), []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def prepare(inputs, output: str | os.PathLike, options: PrepareOptions | None = None, progress=None) -> PrepareResult:
    """Turn recordings into (or add them to) the dataset folder ``output``."""
    opts = options or PrepareOptions()
    output = Path(output)
    started = time.perf_counter()
    if output.exists() and not output.is_dir():
        raise VoicetuneError(f"{output}: exists and is a file; choose a folder name for -o")
    files = collect_inputs(inputs)
    if not files:
        raise VoicetuneError("no audio files given")
    existing = load_dataset(output) if (output / META_JSON).exists() else None
    if existing is not None and existing.sample_rate != opts.sample_rate:
        opts.sample_rate = existing.sample_rate  # one rate per dataset: keep the folder's
    ds = existing or Dataset(sample_rate=opts.sample_rate, language=opts.language)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _seed_tmp(tmp, output if existing else None)
        result = PrepareResult(output)
        known = {s.sha256 for s in ds.sources}
        old_ids = {c.id for c in ds.clips}
        quarantined_before = len(ds.quarantine)
        builder = _SourceBuilder(ds, tmp, opts, progress)
        if any(builder.subtitle_for(f) is None for f in files):
            builder.asr  # noqa: B018 - load now: a wrong model/language fails before any work
        for path in files:
            result.audio_seconds += builder.add(path, known, result)
        builder.second_opinions()
        new = [c for c in ds.clips if c.id not in old_ids]
        assign_splits(new, opts.eval_fraction, opts.seed)
        ensure_eval(ds, opts.seed)
        result.added = len(new)
        result.quarantined = len(ds.quarantine) - quarantined_before
        if not ds.clips:
            reasons = "; ".join(f"{q.source or q.clip}: {q.reason}" for q in ds.quarantine[:3])
            raise VoicetuneError(f"no usable clips in the input ({reasons})")
        save_dataset(ds, tmp)
        from voicetune.data.report import write_report

        write_report(ds, tmp)
        replace_dir(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result


def _seed_tmp(tmp: Path, previous: Path | None) -> None:
    (tmp / "wavs").mkdir(parents=True)
    (tmp / "quarantine").mkdir()
    if previous is None:
        return
    for sub in ("wavs", "quarantine"):
        for f in (previous / sub).glob("*.wav") if (previous / sub).exists() else []:
            try:
                os.link(f, tmp / sub / f.name)
            except OSError:
                shutil.copy2(f, tmp / sub / f.name)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:24] or "clip"


class _SourceBuilder:
    """Processes one source at a time into clips of ``ds`` (audio written under ``root``)."""

    def __init__(self, ds: Dataset, root: Path, opts: PrepareOptions, progress) -> None:
        self.ds, self.root, self.opts, self.progress = ds, root, opts, progress
        self.seg = segment.SegmentConfig(min_seconds=opts.min_seconds, max_seconds=opts.max_seconds, pad=opts.pad)
        self.audio16: dict[str, np.ndarray] = {}  # clip id -> 16 kHz audio, for second opinions
        self.confidence_checked: set[str] = set()
        self._asr = None

    @property
    def asr(self):
        if self._asr is None:
            from voicetune.data.transcribe import load_asr

            self._asr, spec = load_asr(self.opts.asr_model, device=self.opts.device, language=self.opts.language)
            self.ds.asr_model = spec.label
        return self._asr

    def _task(self, label: str, total: float):
        if self.progress is None:
            return lambda frac: None
        tid = self.progress.add_task(label, total=total)
        return lambda frac: self.progress.update(tid, completed=frac * total)

    def add(self, path: Path, known: set[str], result: PrepareResult) -> float:
        sr = self.opts.sample_rate
        try:
            sha = sha256_file(path) if path.stat().st_size else ""
        except OSError as exc:
            self._quarantine_source(path, f"cannot read ({exc.strerror})", result)
            return 0.0
        if sha and sha in known:
            result.skipped_sources.append(str(path))
            return 0.0
        try:
            audio = load_audio(path, sr)
        except AudioError as exc:
            self._quarantine_source(path, str(exc).split(": ", 1)[-1], result)
            return 0.0
        duration = len(audio) / sr
        speaker = self.opts.speaker or (self.ds.speakers()[0] if len(self.ds.speakers()) == 1 else "speaker")
        subtitle = self.subtitle_for(path)
        a16 = resample(audio, sr, segment.VAD_RATE)
        tick = self._task(f"VAD  {path.name}", duration)
        spans = segment.detect_speech(a16, self.seg, progress=tick)
        tick(1.0)
        known.add(sha)
        self.ds.sources.append(Source(path=str(path.resolve()), sha256=sha, duration=round(duration, 3), speaker=speaker))
        if not spans and subtitle is None:
            self._quarantine_source(path, "no speech found (silence or noise only)", result)
            return duration
        if subtitle is not None:
            cues = read_subtitles(subtitle, self.opts.srt_encoding)
            units = [segment.Unit(c.start, min(c.end, duration), text=c.text) for c in cues if c.start < duration]
        else:
            from voicetune.data.transcribe import merge_regions, transcribe_regions

            tick = self._task(f"ASR  {path.name}", duration)
            words = transcribe_regions(
                self.asr, a16, merge_regions(spans, self.opts.pad, duration),
                language=self.opts.language, beam_size=self.opts.beam_size, progress=tick,
            )
            tick(1.0)
            if not words:
                self._quarantine_source(path, "no words recognised in its speech (music or noise only?)", result)
                return duration
            units = segment.split_long_units(segment.build_units(spans, words), self.seg.max_seconds - 2 * self.seg.pad)
        plans = segment.plan_clips(units, duration, self.seg)
        self._place_forced_cuts(plans, audio, a16, verify=subtitle is None)
        floor = noise_floor(audio, sr, spans)
        tick = self._task(f"clips {path.name}", len(plans))
        for k, plan in enumerate(plans):
            self._add_clip(plan, f"{_slug(path.stem)}-{sha[:8]}-{k:04d}", sha, speaker, audio, a16, floor, result)
            tick((k + 1) / len(plans))
        return duration

    def _place_forced_cuts(self, plans: list[segment.ClipPlan], audio: np.ndarray, a16: np.ndarray, verify: bool) -> None:
        """Neighbouring clips split inside continuous speech: cut at a point verified to lie between
        the two words (see data/cuts.py); unverifiable cuts send both pieces to quarantine."""
        from voicetune.data.cuts import place_cut

        sr = self.opts.sample_rate
        for a, b in zip(plans, plans[1:], strict=False):
            if b.speech_start - a.speech_end >= 0.1:
                continue
            cut = None
            if verify and a.words and b.words:
                left, right = a.words[-1], b.words[0]
                cut = place_cut(self.asr, audio, sr, a16, left, right, a.speech_start, b.speech_end, self.opts.language)
                if cut is None:
                    why = f"no cut between '{left.text.strip()}' and '{right.text.strip()}' could be verified to fall between the words"
                    a.problem, b.problem = a.problem or why, b.problem or why
            if cut is None:
                cut = segment.refine_cut(audio, sr, a.speech_end - 0.06, b.speech_start + 0.06)
            a.end = b.start = cut
            a.speech_end, b.speech_start = min(a.speech_end, cut), max(b.speech_start, cut)

    def subtitle_for(self, path: Path) -> Path | None:
        given = self.opts.srt.get(str(path)) or self.opts.srt.get(str(path.resolve()))
        return Path(given) if given else find_subtitle(path)

    def _add_clip(self, plan, clip_id, sha, speaker, audio, a16, floor, result) -> None:
        sr = self.opts.sample_rate
        x = audio[int(plan.start * sr) : int(plan.end * sr)]
        text = clean_text(plan.text, self.opts.language)
        words = plan.words
        confidence = float(np.mean([w.probability for w in words])) if words else None
        reason = plan.problem
        if reason is None and not text:
            reason = "no words recognised (music or noise?)"
        stats = clip_stats(x, sr, floor)
        reason = reason or quality_problem(stats, self.opts.quality)
        if reason is not None:
            self._quarantine_clip(clip_id, x, reason, text, plan, result)
            return
        if self.opts.normalize_loudness is not None:
            x = normalize_loudness(x, sr, self.opts.normalize_loudness)
        write_wav(self.root / "wavs" / f"{clip_id}.wav", x, sr)
        self.ds.clips.append(
            Clip(
                id=clip_id, source=sha, start=round(plan.start, 3), end=round(plan.end, 3),
                duration=round(len(x) / sr, 3), text=text,
                asr_confidence=None if confidence is None else round(confidence, 3),
                snr_db=round(stats.snr_db, 1), loudness_lufs=round(stats.loudness_lufs, 1),
                peak=round(stats.peak, 3), clipping=round(stats.clipping, 5), speaker=speaker,
            )
        )
        if words:
            self.audio16[clip_id] = a16[int(plan.start * segment.VAD_RATE) : int(plan.end * segment.VAD_RATE)].copy()

    def second_opinions(self) -> None:
        """Doubtful clips (low confidence or text repeated elsewhere) are re-transcribed alone with a
        wider beam; the more confident transcript wins. Still doubtful afterwards -> quarantine."""
        from voicetune.data.transcribe import transcribe_clip

        limit = self.opts.quality.min_confidence
        doubtful = [c for c in self.ds.clips if c.id in self.audio16 and (c.asr_confidence or 1.0) < limit]
        doubtful += [c for c in _repeats(self.ds.clips) if c.id in self.audio16 and c not in doubtful]
        for c in doubtful:
            text, conf = transcribe_clip(
                self.asr, self.audio16[c.id], language=self.opts.language, beam_size=self.opts.second_opinion_beam
            )
            if text and conf > (c.asr_confidence or 0.0):
                c.text, c.asr_confidence = clean_text(text, self.opts.language), round(conf, 3)
        first_of: dict[str, str] = {}
        keep: list[Clip] = []
        for c in self.ds.clips:
            key = text_key(c.text)
            if c.id in self.audio16 and key in first_of:
                self._move_to_quarantine(c, f"text repeats clip {first_of[key]} (duplicate recording or ASR loop)")
            elif c.id in self.audio16 and (c.asr_confidence or 1.0) < limit / 2:
                self._move_to_quarantine(c, f"low ASR confidence {c.asr_confidence:.2f}: transcript likely wrong")
            else:
                first_of.setdefault(key, c.id)
                keep.append(c)
        self.ds.clips = keep

    def _move_to_quarantine(self, c: Clip, reason: str) -> None:
        os.replace(self.root / "wavs" / f"{c.id}.wav", self.root / "quarantine" / f"{c.id}.wav")
        self.ds.quarantine.append(Quarantined(clip=c.id, reason=reason, text=c.text, start=c.start, end=c.end))

    def _quarantine_clip(self, clip_id, x, reason, text, plan, result) -> None:
        write_wav(self.root / "quarantine" / f"{clip_id}.wav", x, self.opts.sample_rate)
        self.ds.quarantine.append(
            Quarantined(clip=clip_id, reason=reason, text=text, start=round(plan.start, 3), end=round(plan.end, 3))
        )
        result.quarantined += 1

    def _quarantine_source(self, path: Path, reason: str, result: PrepareResult) -> None:
        self.ds.quarantine.append(Quarantined(source=str(path), reason=reason))
        result.quarantined += 1


def _repeats(clips: list[Clip]) -> list[Clip]:
    seen: dict[str, int] = {}
    for c in clips:
        seen[text_key(c.text)] = seen.get(text_key(c.text), 0) + 1
    return [c for c in clips if seen[text_key(c.text)] > 1]


