"""`voicetune dataset import`: another tool's dataset folder -> our dataset folder. Transcripts
are kept as written (whitespace collapsed; no ASR, no number spelling); audio goes through
prepare's decode (``decode_audio``: any rate or channel count, truncation found) and the clip
checks of ``data.whole_clips``. Every row that does not become a clip is a quarantine entry with
its reason, and counted in the summary by kind."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import soundfile as sf

from voicetune.audio import AUDIO_EXTENSIONS, decode_audio
from voicetune.data.dataset import Dataset, Quarantined, Source, assign_splits, ensure_eval, unique_id
from voicetune.data.interop.layouts import Layout, Row, read_layout
from voicetune.data.store import write_metadata
from voicetune.data.whole_clips import ClipLimits, add_whole_clip
from voicetune.errors import AudioError, VoicetuneError
from voicetune.fileio import sha256_file
from voicetune.folders import DATASET, FolderBuild, check_output

DEFAULT_SAMPLE_RATE = 22050  # when no row's audio can be read for its rate
# prepare splits a long stretch at the gaps between ASR-timed words; an imported transcript has no
# word timings, so where to cut its text is unknown
TOO_LONG_FIX = ("; splitting it needs word timings, which an imported transcript does not have: split it in the "
                "source, or raise --max-seconds")


@dataclass
class ImportOptions:
    format: str = "auto"
    audio_dir: Path | None = None  # piper: where the CSV's file names are
    speaker: str | None = None  # rows without a speaker (default "speaker")
    language: str = "en"
    sample_rate: int | None = None  # None: the first readable clip's own rate
    limits: ClipLimits = field(default_factory=ClipLimits)
    eval_fraction: float = 0.1
    seed: int = 1234

    def __post_init__(self) -> None:
        if not 0 < self.limits.min_seconds < self.limits.max_seconds:
            raise VoicetuneError(f"--min-seconds {self.limits.min_seconds} must be > 0 and below --max-seconds "
                                 f"{self.limits.max_seconds}")
        if not 0 <= self.eval_fraction < 1:
            raise VoicetuneError(f"--eval-fraction {self.eval_fraction} must be in [0, 1)")


@dataclass
class ImportResult:
    dataset: Path
    format: str
    rows: int
    kept: int
    train: int
    eval: int
    quarantined: Counter = field(default_factory=Counter)  # kind -> count
    split_kept: bool = False
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        q = sum(self.quarantined.values())
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.quarantined.items()))
        split = "the source's split" if self.split_kept else "split drawn"
        return (f"{self.dataset}: {self.kept} clips from {self.rows} rows of a {self.format} dataset ({self.train} train "
                f"/ {self.eval} eval, {split}); {q} quarantined{f' ({kinds})' if kinds else ''}, see report.md")


def _kind(reason: str) -> str:
    for prefix, kind in (("empty transcript", "empty text"), ("too short", "too short"), ("too long", "too long")):
        if reason.startswith(prefix):
            return kind
    return "failed audio checks"


def _clip_id(name: str, used: set[str]) -> str:
    """The source's own id where it is a plain file name (LJ001-0001 stays LJ001-0001), made unique."""
    stem = PurePath(name.replace("\\", "/")).name
    if stem.lower().endswith(AUDIO_EXTENSIONS):
        stem = stem.rsplit(".", 1)[0]
    base = re.sub(r"[^\w.-]+", "_", stem).lstrip("._-")[:180] or "clip"
    return unique_id(base, used)


def _sample_rate(rows: list[Row]) -> int:
    for r in rows:
        if r.audio is not None and r.problem is None:
            try:
                return int(sf.info(str(r.audio)).samplerate)
            except (sf.LibsndfileError, RuntimeError):
                continue
    return DEFAULT_SAMPLE_RATE


class _Importer:
    def __init__(self, layout: Layout, ds: Dataset, tmp: Path, opts: ImportOptions) -> None:
        self.layout, self.ds, self.tmp, self.opts = layout, ds, tmp, opts
        self.counts: Counter = Counter()
        self.used: set[str] = set()
        self.seen: dict[Path, str] = {}  # resolved audio file -> the row that used it

    def _drop(self, row: Row, kind: str, reason: str) -> None:
        self.ds.quarantine.append(Quarantined(source=row.where, reason=reason, text=row.text or None))
        self.counts[kind] += 1

    def add(self, row: Row) -> None:
        if row.problem:
            return self._drop(row, "unreadable rows", f"unreadable row: {row.problem}")
        if row.audio is None:
            looked = " or ".join(str(p) for p in row.looked) or "no file named"
            return self._drop(row, "missing audio", f"audio file {row.name!r} missing (looked for {looked})")
        key = row.audio.resolve()
        if key in self.seen:
            return self._drop(row, "duplicates", f"{row.name}: the same audio file as {self.seen[key]} (imported once)")
        self.seen[key] = row.where
        try:
            sha = sha256_file(row.audio)
            decoded = decode_audio(row.audio, self.ds.sample_rate)
        except (AudioError, OSError) as exc:
            why = str(exc).removeprefix(f"{row.audio}: ") if isinstance(exc, AudioError) else f"cannot read ({exc.strerror})"
            return self._drop(row, "undecodable audio", f"{row.audio}: {why}")
        x = decoded.audio
        speaker = row.speaker or self.opts.speaker or "speaker"
        self.ds.sources.append(Source(path=str(key), sha256=sha, duration=round(len(x) / self.ds.sample_rate, 3),
                                      speaker=speaker))
        text = " ".join(row.text.replace("|", " ").split())  # the dataset CSV's own rule, so both agree
        reason = add_whole_clip(self.ds, self.tmp, _clip_id(row.name, self.used), x, text=text, speaker=speaker,
                                source=sha, limits=self.opts.limits, problem=decoded.problem,
                                too_long_fix=TOO_LONG_FIX, split=row.split or "train")
        if reason:
            self.counts[_kind(reason)] += 1


def import_dataset(path: str | os.PathLike, output: str | os.PathLike, opts: ImportOptions | None = None, *,
                   overwrite: bool = False, log=print) -> ImportResult:
    """Convert the LJSpeech/piper/coqui dataset at ``path`` into the new dataset folder ``output``
    (written aside, swapped in at the end); an existing dataset there is replaced only with ``overwrite``."""
    opts = opts or ImportOptions()
    path, output = Path(path), Path(output)
    check_output(output, DATASET, inputs=[path], overwrite=overwrite, log=log)
    layout = read_layout(path, opts.format, opts.audio_dir)
    if not layout.rows:
        raise VoicetuneError(f"{', '.join(map(str, layout.files))}: no rows to import")
    ds = Dataset(sample_rate=opts.sample_rate or _sample_rate(layout.rows), language=opts.language,
                 created_by=f"voicetune dataset import ({layout.format})")
    build = FolderBuild(output)
    with build as tmp:
        (tmp / "wavs").mkdir()
        (tmp / "quarantine").mkdir()
        importer = _Importer(layout, ds, tmp, opts)
        for row in layout.rows:
            importer.add(row)
        if not ds.clips:
            reasons = "; ".join(f"{q.source or q.clip}: {q.reason}" for q in ds.quarantine[:3])
            raise VoicetuneError(f"{path}: no usable clips ({reasons})")
        result = ImportResult(output, layout.format, len(layout.rows), len(ds.clips), 0, 0, importer.counts,
                              split_kept=layout.has_split)
        if not layout.has_split:
            assign_splits(ds.clips, opts.eval_fraction, opts.seed)
        elif not ds.eval:
            result.notes.append("every eval row of the source was quarantined: one train clip moved to eval")
        ensure_eval(ds, opts.seed)
        write_metadata(ds, tmp)
        build.commit()
    result.train, result.eval = len(ds.train), len(ds.eval)
    return result
