"""The dataset folder: read, write, split, validate (format in DESIGN.md, versioned).

``metadata_*.csv`` (``audio_file|text|speaker_name``, the coqui/AllTalk layout) is what users edit
by hand; ``dataset.json`` holds sources, per-clip stats and the quarantine. When both disagree on a
clip's text, the CSV wins: a user's correction is never overwritten.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, Field

from voicetune.errors import DatasetError
from voicetune.fileio import write_json, write_text

FORMAT_VERSION = 1
CSV_HEADER = ["audio_file", "text", "speaker_name"]
TRAIN_CSV, EVAL_CSV, META_JSON = "metadata_train.csv", "metadata_eval.csv", "dataset.json"


class Source(BaseModel):
    path: str
    sha256: str
    duration: float
    speaker: str


class Clip(BaseModel):
    id: str
    source: str  # sha256 of the source recording ("" when imported)
    start: float
    end: float
    duration: float
    text: str
    asr_confidence: float | None = None
    snr_db: float | None = None
    loudness_lufs: float | None = None
    peak: float | None = None
    clipping: float | None = None
    split: str = "train"
    speaker: str = "speaker"

    @property
    def audio_file(self) -> str:
        return f"wavs/{self.id}.wav"


class Quarantined(BaseModel):
    source: str | None = None  # source path, for whole-source problems
    clip: str | None = None  # clip id (audio kept under quarantine/)
    reason: str
    text: str | None = None
    start: float | None = None
    end: float | None = None


class Dataset(BaseModel):
    format_version: int = FORMAT_VERSION
    sample_rate: int
    language: str = "en"
    created_by: str = "voicetune"
    asr_model: str | None = None
    sources: list[Source] = Field(default_factory=list)
    clips: list[Clip] = Field(default_factory=list)
    quarantine: list[Quarantined] = Field(default_factory=list)

    @property
    def train(self) -> list[Clip]:
        return [c for c in self.clips if c.split == "train"]

    @property
    def eval(self) -> list[Clip]:
        return [c for c in self.clips if c.split == "eval"]

    @property
    def minutes(self) -> float:
        return sum(c.duration for c in self.clips) / 60.0

    def speakers(self) -> list[str]:
        return sorted({c.speaker for c in self.clips})


def load_dataset(root: str | Path, *, sync_csv: bool = True) -> Dataset:
    """Read a dataset folder; refuses unknown format versions. CSV text edits are taken over."""
    root = Path(root)
    meta = root / META_JSON
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder; create one with `voicetune prepare RECORDINGS -o {root}`")
    if not meta.exists():
        raise DatasetError(f"{meta}: missing; {root} is not a voicetune dataset (run `voicetune prepare`)")
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{meta}: not valid JSON ({exc}); restore it from a backup or re-run prepare") from None
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise DatasetError(
            f"{meta}: format_version {version!r} is not supported by this voicetune (reads {FORMAT_VERSION}); "
            "upgrade voicetune or re-run prepare"
        )
    try:
        ds = Dataset.model_validate(data)
    except ValueError as exc:
        first = str(exc).splitlines()[:3]
        raise DatasetError(f"{meta}: malformed ({' '.join(first)})") from None
    if sync_csv:
        _sync_from_csv(ds, root)
    return ds


def read_csv(path: Path) -> list[tuple[str, str, str]]:
    """Rows of a metadata CSV; raises DatasetError naming the line on a malformed row."""
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        for n, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("|")
            if n == 1 and parts[:2] == CSV_HEADER[:2]:
                continue
            if len(parts) < 2 or len(parts) > 3:
                raise DatasetError(f"{path}:{n}: expected `audio_file|text|speaker_name`, got {len(parts)} fields")
            rows.append((parts[0], parts[1], parts[2] if len(parts) == 3 else ""))
    return rows


def _sync_from_csv(ds: Dataset, root: Path) -> None:
    """Take over the user's edits from the CSVs: text, split membership; rows removed -> quarantine."""
    by_file = {c.audio_file: c for c in ds.clips}
    seen: dict[str, str] = {}
    for split, name in (("train", TRAIN_CSV), ("eval", EVAL_CSV)):
        path = root / name
        if not path.exists():
            continue
        for audio_file, text, speaker in read_csv(path):
            clip = by_file.get(audio_file)
            if clip is None:
                continue  # an unknown row is reported by validate(), not guessed at here
            clip.text, clip.split = text.strip(), split
            if speaker:
                clip.speaker = speaker
            seen[audio_file] = split
    if not (root / TRAIN_CSV).exists() and not (root / EVAL_CSV).exists():
        return
    removed = [c for c in ds.clips if c.audio_file not in seen]
    for c in removed:
        ds.quarantine.append(
            Quarantined(clip=c.id, reason="removed from the metadata CSV by the user", text=c.text, start=c.start, end=c.end)
        )
    if removed:
        ds.clips = [c for c in ds.clips if c.audio_file in seen]


def save_dataset(ds: Dataset, root: Path) -> None:
    """Write dataset.json and both CSVs (atomically, each)."""
    write_json(root / META_JSON, ds.model_dump(mode="json"))
    for split, name in (("train", TRAIN_CSV), ("eval", EVAL_CSV)):
        # Plain `|`-joined lines, no quoting: the format coqui/AllTalk readers expect.
        lines = ["|".join(CSV_HEADER)]
        for c in ds.clips:
            if c.split == split:
                text = " ".join(c.text.replace("|", " ").split())
                lines.append(f"{c.audio_file}|{text}|{c.speaker.replace('|', '_')}")
        write_text(root / name, "\n".join(lines) + "\n")


def assign_splits(clips: list[Clip], eval_fraction: float, seed: int) -> None:
    """Seeded, stratified by speaker; clips that already have an eval/train decision keep it only
    if marked in ``split`` as 'train'/'eval' AND were split before (caller passes only new clips).
    Eval is never empty when there are >= 2 clips."""
    rng = random.Random(seed)
    by_speaker: dict[str, list[Clip]] = defaultdict(list)
    for c in sorted(clips, key=lambda c: c.id):
        by_speaker[c.speaker].append(c)
    for speaker in sorted(by_speaker):
        group = by_speaker[speaker]
        rng.shuffle(group)
        n_eval = round(eval_fraction * len(group)) if len(group) >= 2 else 0
        if eval_fraction > 0 and len(group) >= 2:
            n_eval = min(max(1, n_eval), len(group) - 1)
        for i, c in enumerate(group):
            c.split = "eval" if i < n_eval else "train"


def ensure_eval(ds: Dataset, seed: int) -> None:
    """Guarantee a non-empty eval split (>= 2 clips) without moving clips that already have one."""
    if len(ds.clips) < 2 or ds.eval:
        return
    train = sorted(ds.train, key=lambda c: c.id)
    random.Random(seed).choice(train).split = "eval"
