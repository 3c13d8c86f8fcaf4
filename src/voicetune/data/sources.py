"""One recording at a time -> clips of a dataset: decode, VAD, ASR or subtitles, plan the cuts,
check each clip, write it under ``wavs/`` or ``quarantine/`` of the folder being built.

Every exclusion becomes a quarantine entry with its reason: undecodable or silent sources, a
truncated file (and the clip that reaches its cut-off end), subtitle cues that cannot be used
(see data/srt.py), clips that fail a check.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from voicetune.audio import decode_audio, normalize_loudness, resample, write_wav
from voicetune.data import segment
from voicetune.data.dataset import Clip, Dataset, Quarantined, Source, quarantine_entry
from voicetune.data.quality import clip_stats, noise_floor, quality_problem
from voicetune.data.srt import CueProblem, Subtitles, find_subtitle, place_cues, read_subtitles
from voicetune.errors import AudioError
from voicetune.fileio import sha256_file
from voicetune.text.normalize import normalize_text, text_key

TRUNCATION_MARGIN = 0.3  # s: a clip whose speech reaches this close to a cut-off end is suspect


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:24] or "clip"


class SourceBuilder:
    """Processes one source at a time into clips of ``ds`` (audio written under ``root``).

    ``subtitles``: audio file -> subtitle file given with ``--srt`` (others: a neighbour with the
    same stem). All subtitles are read by :meth:`read_subtitles` before any audio work, so a bad
    file stops the run in a second.
    """

    def __init__(self, ds: Dataset, root: Path, opts, progress, subtitles: dict[Path, Path] | None = None) -> None:
        self.ds, self.root, self.opts, self.progress = ds, root, opts, progress
        self.seg = segment.SegmentConfig(min_seconds=opts.min_seconds, max_seconds=opts.max_seconds, pad=opts.pad)
        self.audio16: dict[str, np.ndarray] = {}  # clip id -> 16 kHz audio, for second opinions
        self.given = dict(subtitles or {})
        self.subs: dict[Path, Subtitles] = {}
        self._asr = None

    @property
    def asr(self):
        if self._asr is None:
            from voicetune.data.transcribe import load_asr

            self._asr, spec = load_asr(self.opts.asr_model, device=self.opts.device, language=self.opts.language)
            self.ds.asr_model = spec.label
        return self._asr

    def subtitle_for(self, path: Path) -> Path | None:
        return self.given.get(path) or find_subtitle(path)

    def read_subtitles(self, files: list[Path]) -> None:
        for path in files:
            sub = self.subtitle_for(path)
            if sub is not None:
                self.subs[path] = read_subtitles(sub, self.opts.srt_encoding)

    def _task(self, label: str, total: float):
        if self.progress is None:
            return lambda frac: None
        tid = self.progress.add_task(label, total=total)
        return lambda frac: self.progress.update(tid, completed=frac * total)

    def add(self, path: Path, known: set[str], result) -> float:
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
            decoded = decode_audio(path, sr)
        except AudioError as exc:
            self._quarantine_source(path, str(exc).removeprefix(f"{path}: "), result)
            return 0.0
        audio = decoded.audio
        duration = len(audio) / sr
        speaker = self.opts.speaker or (self.ds.speakers()[0] if len(self.ds.speakers()) == 1 else "speaker")
        subs = self.subs.get(path)
        a16 = resample(audio, sr, segment.VAD_RATE)
        tick = self._task(f"VAD  {path.name}", duration)
        spans = segment.detect_speech(a16, self.seg, progress=tick)
        tick(1.0)
        known.add(sha)
        self.ds.sources.append(Source(path=str(path.resolve()), sha256=sha, duration=round(duration, 3), speaker=speaker))
        clip_base = f"{_slug(path.stem)}-{sha[:8]}"
        if decoded.problem:
            self._quarantine_source(path, f"{decoded.problem}; clips before the cut-off are kept, a clip that reaches "
                                    "it is quarantined", result)
        if not spans and subs is None:
            self._quarantine_source(path, "no speech found (silence or noise only)", result)
            return duration
        if subs is not None:
            cues, problems = place_cues(subs, duration, self.seg.max_seconds - 2 * self.seg.pad)
            for problem in sorted(subs.problems + problems, key=lambda p: p.number):
                self._quarantine_cue(subs.path, problem, f"{clip_base}-cue{problem.number:04d}", audio, result)
            units = [segment.Unit(c.start, c.end, text=c.text) for c in cues]
            if not units:
                return duration
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
        self._place_forced_cuts(plans, audio, a16, verify=subs is None)
        if decoded.problem:
            for plan in plans:
                if plan.speech_end >= duration - TRUNCATION_MARGIN:
                    plan.problem = plan.problem or (f"reaches the end of {path.name}, which is cut off at "
                                                    f"{duration:.2f} s: its last word is likely cut")
        floor = noise_floor(audio, sr, spans)
        tick = self._task(f"clips {path.name}", len(plans))
        for k, plan in enumerate(plans):
            self._add_clip(plan, f"{clip_base}-{k:04d}", sha, speaker, audio, a16, floor, result)
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

    def _add_clip(self, plan, clip_id, sha, speaker, audio, a16, floor, result) -> None:
        sr = self.opts.sample_rate
        x = audio[int(plan.start * sr) : int(plan.end * sr)]
        text = normalize_text(plan.text, self.opts.language)
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
                c.text, c.asr_confidence = normalize_text(text, self.opts.language), round(conf, 3)
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
        self.ds.quarantine.append(quarantine_entry(c, reason))

    def _quarantine_clip(self, clip_id, x, reason, text, plan, result) -> None:
        write_wav(self.root / "quarantine" / f"{clip_id}.wav", x, self.opts.sample_rate)
        self.ds.quarantine.append(
            Quarantined(clip=clip_id, reason=reason, text=text, start=round(plan.start, 3), end=round(plan.end, 3))
        )
        result.quarantined += 1

    def _quarantine_cue(self, subtitle: Path, problem: CueProblem, clip_id: str, audio: np.ndarray, result) -> None:
        """A cue that cannot become a clip: its audio (when it has any inside the recording) is kept
        under quarantine/ for review; otherwise the entry names the subtitle file and the cue."""
        reason = f"{subtitle.name} cue {problem.number}: {problem.reason}"
        if problem.start is None or problem.end is None:
            self.ds.quarantine.append(Quarantined(source=str(subtitle), reason=reason, text=problem.text))
            result.quarantined += 1
            return
        sr = self.opts.sample_rate
        x = audio[int(problem.start * sr) : int(problem.end * sr)]
        write_wav(self.root / "quarantine" / f"{clip_id}.wav", x, sr)
        self.ds.quarantine.append(Quarantined(clip=clip_id, reason=reason, text=problem.text,
                                              start=round(problem.start, 3), end=round(problem.end, 3)))
        result.quarantined += 1

    def _quarantine_source(self, path: Path, reason: str, result) -> None:
        self.ds.quarantine.append(Quarantined(source=str(path), reason=reason))
        result.quarantined += 1


def _repeats(clips: list[Clip]) -> list[Clip]:
    seen: dict[str, int] = {}
    for c in clips:
        seen[text_key(c.text)] = seen.get(text_key(c.text), 0) + 1
    return [c for c in clips if seen[text_key(c.text)] > 1]


