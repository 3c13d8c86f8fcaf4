"""prepare(): recordings -> dataset folder. Each step is a function of its own module; this one
orchestrates them and guarantees the folder is either complete or untouched.

The new folder is written next to the target and swapped in at the end (clips of an earlier run
are hard-linked, not copied; files voicetune did not write, and caches, are carried over), so an
error, Ctrl+C or SIGTERM never leaves a half-written dataset behind (voicetune.folders).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from voicetune.audio import AUDIO_EXTENSIONS
from voicetune.data.dataset import META_JSON, Dataset, assign_splits, ensure_eval, load_dataset
from voicetune.data.quality import QualityLimits
from voicetune.data.sources import SourceBuilder
from voicetune.data.srt import match_subtitles
from voicetune.data.store import link_audio, write_metadata
from voicetune.errors import VoicetuneError
from voicetune.folders import DATASET, FolderBuild, check_output, is_inside

DEFAULT_SAMPLE_RATE = 22050
DEFAULT_LANGUAGE = "en"
MAX_CLIP_SECONDS = 11.5  # XTTS silently drops clips over ~11.6 s


@dataclass
class PrepareOptions:
    language: str | None = None  # None: the dataset's, else "en"
    asr_model: str | None = None
    sample_rate: int | None = None  # None: the dataset's, else 22050
    min_seconds: float = 1.0
    max_seconds: float = 11.0
    eval_fraction: float = 0.1
    speaker: str | None = None
    seed: int = 1234
    normalize_loudness: float | None = -23.0
    device: str = "auto"
    srt: list[str] = field(default_factory=list)  # --srt files, matched to the audio file of the same stem
    srt_encoding: str | None = None
    beam_size: int = 5
    second_opinion_beam: int = 10
    pad: float = 0.2
    quality: QualityLimits = field(default_factory=QualityLimits)

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds < self.max_seconds:
            raise VoicetuneError(f"--min-seconds {self.min_seconds} must be > 0 and below --max-seconds {self.max_seconds}")
        if self.max_seconds > MAX_CLIP_SECONDS:
            raise VoicetuneError(f"--max-seconds above {MAX_CLIP_SECONDS:g} is refused: XTTS silently drops clips "
                                 "over ~11.6 s")
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
    notes: list[str] = field(default_factory=list)  # decisions the user should know (printed as "note:")
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
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
            "realtime_factor": round(self.audio_seconds / self.seconds, 1) if self.seconds else None,
        }


def collect_inputs(inputs: Iterable[str | os.PathLike], output: Path | None = None,
                   log: Callable[[str], None] = print) -> list[Path]:
    """Audio files named or found (recursively) in folders, in a stable order. A folder scan skips
    the output folder and other voicetune datasets inside it (their wavs are clips, not recordings)."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise VoicetuneError(f"{p}: no such file or folder; check the path")
        if p.is_dir():
            if (p / META_JSON).exists():
                raise VoicetuneError(f"{p}: a voicetune dataset, not recordings; combine datasets with "
                                     "`voicetune dataset merge`")
            if not os.access(p, os.R_OK | os.X_OK):
                raise VoicetuneError(f"{p}: folder is not readable (permission denied); fix its permissions")
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file())
            datasets = {d.parent for d in p.rglob(META_JSON)} | ({output} if output is not None else set())
            for d in sorted(x for x in datasets if x.exists() and is_inside(x, p) and x != p):
                before = len(files)
                files = [f for f in files if not is_inside(f, d)]
                if len(files) < before and d != output:
                    log(f"note: skipped {d} inside {p}: a voicetune dataset (merge datasets with "
                        "`voicetune dataset merge`)")
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


def _settings(opts: PrepareOptions, existing: Dataset | None, output: Path) -> tuple[PrepareOptions, list[str]]:
    """One sample rate and one language per dataset: an existing dataset's win over the flags."""
    notes = []
    if existing is None:
        return dataclasses.replace(opts, sample_rate=opts.sample_rate or DEFAULT_SAMPLE_RATE,
                                   language=opts.language or DEFAULT_LANGUAGE), notes
    if opts.sample_rate is not None and opts.sample_rate != existing.sample_rate:
        notes.append(f"--sample-rate {opts.sample_rate} ignored: {output} is a {existing.sample_rate} Hz dataset and "
                     f"keeps its rate (new clips are resampled to {existing.sample_rate} Hz); prepare into a new "
                     "folder for another rate")
    if opts.language is not None and opts.language != existing.language:
        notes.append(f"--language {opts.language} ignored: {output} is a '{existing.language}' dataset, so these "
                     f"recordings are transcribed as '{existing.language}'; prepare into a new folder for another "
                     "language")
    return dataclasses.replace(opts, sample_rate=existing.sample_rate, language=existing.language), notes


def prepare(inputs, output: str | os.PathLike, options: PrepareOptions | None = None, progress=None,
            log: Callable[[str], None] = print) -> PrepareResult:
    """Turn recordings into (or add them to) the dataset folder ``output``."""
    output = Path(output)
    started = time.perf_counter()
    inputs = list(inputs)
    check_output(output, DATASET, inputs=inputs, own_is_fine=True, log=log)
    files = collect_inputs(inputs, output, log)
    if not files:
        raise VoicetuneError("no audio files given")
    subtitles = match_subtitles(files, (options or PrepareOptions()).srt)
    existing = load_dataset(output) if (output / META_JSON).exists() else None
    opts, notes = _settings(options or PrepareOptions(), existing, output)
    for note in notes:
        log(f"note: {note}")
    ds = existing or Dataset(sample_rate=opts.sample_rate, language=opts.language)
    build = FolderBuild(output, keep_foreign=True)
    with build as tmp:
        (tmp / "wavs").mkdir()
        (tmp / "quarantine").mkdir()
        if existing is not None:
            build.moved = link_audio(ds, output, tmp)
        result = PrepareResult(output, notes=notes)
        known = {s.sha256 for s in ds.sources}
        old_ids = {c.id for c in ds.clips}
        quarantined_before = len(ds.quarantine)
        builder = SourceBuilder(ds, tmp, opts, progress, subtitles)
        builder.read_subtitles(files)  # a bad subtitle file stops here, before any audio work
        if any(path not in builder.subs for path in files):
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
            reasons = "; ".join(f"{Path(q.source).name if q.source else q.clip}: {q.reason}" for q in ds.quarantine[:3])
            kept = sum(1 for q in ds.quarantine if q.clip and (tmp / "quarantine" / f"{q.clip}.wav").exists())
            if not kept:
                raise VoicetuneError(f"no usable clips in the input ({reasons})")
            write_metadata(ds, tmp)
            build.commit()
            raise VoicetuneError(f"no usable clips in the input ({reasons}); the {kept} quarantined clip(s) are "
                                 f"kept for review in {output / 'quarantine'} (reasons in {output / 'report.md'})")
        write_metadata(ds, tmp)
        build.commit()
    result.seconds = time.perf_counter() - started
    return result
