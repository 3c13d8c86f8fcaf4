"""The dataset folder: read, write, split, validate (format in DESIGN.md, versioned).

``metadata_*.csv`` (``audio_file|text|speaker_name``, the coqui/AllTalk layout) is what users edit
by hand; ``dataset.json`` holds sources, per-clip stats and the quarantine. When both disagree on a
clip's text, the CSV wins: a user's correction is never overwritten.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from voicetune.errors import DatasetError, first_error
from voicetune.fileio import write_json, write_text

FORMAT_VERSION = 1
CSV_HEADER = ["audio_file", "text", "speaker_name"]
TRAIN_CSV, EVAL_CSV, META_JSON = "metadata_train.csv", "metadata_eval.csv", "dataset.json"
REMOVED_BY_USER = "removed from the metadata CSV by the user"
REMOVED_IN_UI = "removed in the UI"
# A clip id becomes a file name (wavs/<id>.wav): letters, digits, '.', '_', '-', not starting with
# '.', so no id read from a file can name a path outside the folder.
_CLIP_ID = re.compile(r"\w[\w.-]{0,199}")


def check_clip_id(value: str) -> str:
    if not _CLIP_ID.fullmatch(value):
        raise ValueError(f"clip id {value!r} is not a plain file name (letters, digits, '.', '_', '-')")
    return value


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

    @field_validator("id")
    @classmethod
    def _plain_id(cls, v: str) -> str:
        return check_clip_id(v)

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
    # kept from the clip when a kept clip is moved here (a removal, a second-opinion check), so a
    # restore (voicetune.data.manage.restore_clip) gives it back its speaker and ASR score
    speaker: str | None = None
    asr_confidence: float | None = None

    @field_validator("clip")
    @classmethod
    def _clip_id(cls, v: str | None) -> str | None:
        return None if v is None else check_clip_id(v)

    def audio(self, root: Path) -> str | None:
        """Where this entry's audio is, relative to the dataset folder (None: no audio kept). A clip
        whose CSV row the user deleted keeps its wav in wavs/ until the dataset is written again."""
        if self.clip is None:
            return None
        for rel in (f"quarantine/{self.clip}.wav", f"wavs/{self.clip}.wav"):
            if (root / rel).is_file():
                return rel
        return None


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
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        if isinstance(version, int) and version > FORMAT_VERSION:
            fix = "it was written by a newer voicetune: upgrade voicetune (`pip install -U voicetune`)"
        else:
            fix = "this file is damaged or not a voicetune dataset: restore it from a backup"
        raise DatasetError(f"{meta}: format_version {version!r} is not supported by this voicetune (reads "
                           f"{FORMAT_VERSION}); {fix}")
    try:
        ds = Dataset.model_validate(data)
    except ValidationError as exc:
        raise DatasetError(f"{meta}: malformed at {first_error(exc)}; restore it from a backup") from None
    if sync_csv:
        _sync_from_csv(ds, root)
    return ds


def read_csv(path: Path) -> list[tuple[str, str, str]]:
    """Rows of a metadata CSV. Its first line must be the header: a file without it (0 bytes, a
    cut-off write, another tool's format) is damaged, never read as "every row deleted"."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}); re-save the file as UTF-8") from None
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if first.split("|")[:2] != CSV_HEADER[:2]:
        header = "|".join(CSV_HEADER)
        if not first:
            why = "is empty" if not raw.strip() else "line 1 is empty"
        elif "," in first and "|" not in first:
            why = f"uses ',' as the separator; fields are separated by '|' ({header})"
        else:
            why = f"line 1 is not the header `{header}`"
        raise DatasetError(f"{path}: {why}; the file is damaged: restore it, or write the header line "
                           f"`{header}` followed by one `wavs/ID.wav|text|speaker` row per clip")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 2 or len(parts) > 3:
            hint = " (',' is not the separator: use '|')" if len(parts) == 1 and "," in line else ""
            raise DatasetError(f"{path}:{n}: expected `audio_file|text|speaker_name` ('|'-separated), got "
                               f"{len(parts)} field{'s' if len(parts) != 1 else ''}{hint}")
        audio_file = parts[0].strip()
        if not audio_file or audio_file.startswith(("/", "\\")) or ".." in Path(audio_file).parts:
            raise DatasetError(f"{path}:{n}: audio_file {audio_file!r} points outside the dataset folder; "
                               "use wavs/ID.wav")
        rows.append((audio_file, parts[1], parts[2] if len(parts) == 3 else ""))
    return rows


def _sync_from_csv(ds: Dataset, root: Path) -> None:
    """Take over the user's edits from the CSVs: text, split membership; rows removed -> quarantine."""
    present = [name for name in (TRAIN_CSV, EVAL_CSV) if (root / name).exists()]
    if not present:
        return  # neither CSV: dataset.json alone describes the dataset
    if len(present) == 1:
        missing = root / (EVAL_CSV if present == [TRAIN_CSV] else TRAIN_CSV)
        raise DatasetError(f"{missing}: missing (its clips would read as deleted); restore it, or create it with "
                           f"the header line `{'|'.join(CSV_HEADER)}` for an empty split")
    by_file = {c.audio_file: c for c in ds.clips}
    seen: dict[str, str] = {}
    for split, name in (("train", TRAIN_CSV), ("eval", EVAL_CSV)):
        for audio_file, text, speaker in read_csv(root / name):
            clip = by_file.get(audio_file)
            if clip is None:
                continue  # an unknown row is reported by validate(), not guessed at here
            clip.text, clip.split = text.strip(), split
            if speaker:
                clip.speaker = speaker
            seen[audio_file] = split
    removed = [c for c in ds.clips if c.audio_file not in seen]
    for c in removed:
        ds.quarantine.append(quarantine_entry(c, REMOVED_BY_USER))
    if removed:
        ds.clips = [c for c in ds.clips if c.audio_file in seen]


def quarantine_entry(c: Clip, reason: str) -> Quarantined:
    """The quarantine entry of a kept clip moved out of the dataset (everything a restore needs
    that its wav does not hold)."""
    return Quarantined(clip=c.id, reason=reason, text=c.text, start=c.start, end=c.end, speaker=c.speaker,
                       asr_confidence=c.asr_confidence)


def save_dataset(ds: Dataset, root: Path) -> None:
    """Write dataset.json and both CSVs into a folder that is being built (each file atomically).
    A live dataset is rewritten as one unit by ``voicetune.data.store.rewrite_dataset``."""
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


def unique_id(clip_id: str, used: set[str]) -> str:
    """``clip_id``, or ``clip_id-2``, ``-3``... when taken; the result is added to ``used``."""
    new_id, n = clip_id, 1
    while new_id in used:
        n += 1
        new_id = f"{clip_id}-{n}"
    used.add(new_id)
    return new_id
