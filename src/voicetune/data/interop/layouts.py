"""Reading other tools' dataset layouts into rows (audio file, transcript, speaker, split), each
parsed the way that tool's own reader parses it:

- ljspeech: ``metadata.csv`` without header, ``id|text`` or ``id|text|normalized`` split on ``|``
  (coqui's ``ljspeech`` formatter: the normalized column wins), audio ``wavs/<id>.wav``;
- piper: piper1-gpl's ``piper.train.vits.dataset``: ``csv.reader(delimiter="|")`` (quoted fields
  allowed), the text is the last field, the speaker the second of three or more; the audio is
  ``AUDIO_DIR/<name>``, else ``AUDIO_DIR/<name>.wav``, AUDIO_DIR being ``--audio-dir`` or (piper's
  default) the CSV's folder, and, as most piper datasets keep it, the CSV's ``wavs/``;
- coqui: coqui-tts' ``coqui`` formatter: ``csv.DictReader(delimiter="|")`` over a header with
  ``audio_file`` and ``text`` (``speaker_name`` optional), audio ``ROOT/<audio_file>``;
  ``metadata_train.csv``/``metadata_eval.csv`` (AllTalk's names) give the split.

A row that cannot be used carries its ``problem``; only a whole file that cannot be read (missing,
not UTF-8, no header where one is required) is an error.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from voicetune.audio import AUDIO_EXTENSIONS
from voicetune.data.dataset import EVAL_CSV, META_JSON, TRAIN_CSV
from voicetune.errors import VoicetuneError

FORMATS = ("ljspeech", "piper", "coqui")
METADATA = "metadata.csv"
KNOWN = ("ljspeech (metadata.csv with id|text[|normalized] rows, audio in wavs/ID.wav), piper (metadata.csv with "
         "filename|text or filename|speaker|text rows), coqui (metadata_train.csv/metadata_eval.csv with an "
         "audio_file|text|speaker_name header)")


@dataclass
class Row:
    where: str  # "metadata.csv:3": the file and line the row came from
    name: str  # the audio file as the row names it
    text: str
    speaker: str | None = None
    split: str | None = None  # "train"/"eval" when the source says
    audio: Path | None = None  # the file found; None: missing (``looked`` lists where)
    looked: list[Path] = field(default_factory=list)
    problem: str | None = None  # the row cannot be used at all


@dataclass
class Layout:
    format: str
    root: Path
    files: list[Path]
    rows: list[Row]
    has_split: bool = False  # the source keeps its own train/eval split


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise VoicetuneError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise VoicetuneError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}); re-save the file as UTF-8") from None


def _find(candidates: list[Path]) -> Path | None:
    return next((p for p in candidates if p.is_file()), None)


def _looks_coqui(first_line: str) -> bool:
    return first_line.split("|")[0].strip() == "audio_file"


def read_ljspeech(csv_path: Path) -> list[Row]:
    root = csv_path.parent
    rows = []
    for n, line in enumerate(_read_text(csv_path).splitlines(), start=1):
        if not line.strip():
            continue
        if n == 1 and _looks_coqui(line):
            raise VoicetuneError(f"{csv_path}: line 1 is a coqui header ({line.strip()}), not an LJSpeech row; "
                                 "use --format coqui")
        fields = line.split("|")
        where = f"{csv_path.name}:{n}"
        if len(fields) not in (2, 3):
            rows.append(Row(where, fields[0], "", problem=f"expected `id|text` or `id|text|normalized`, got "
                                                          f"{len(fields)} field{'s' if len(fields) != 1 else ''}"))
            continue
        text = fields[2] if len(fields) == 3 and fields[2].strip() else fields[1]
        wav = root / "wavs" / f"{fields[0]}.wav"
        rows.append(Row(where, fields[0], text, audio=_find([wav]), looked=[wav]))
    return rows


def read_piper(csv_path: Path, audio_dir: Path | None = None) -> list[Row]:
    dirs = [audio_dir] if audio_dir is not None else [csv_path.parent, csv_path.parent / "wavs"]
    reader = csv.reader(io.StringIO(_read_text(csv_path)), delimiter="|")
    rows = []
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        where = f"{csv_path.name}:{reader.line_num}"
        if len(fields) < 2:
            rows.append(Row(where, fields[0], "", problem="expected `filename|text` or `filename|speaker|text`, "
                                                          "got 1 field"))
            continue
        name = fields[0]
        looked = [p for d in dirs for p in (d / name, d / f"{name}.wav")]
        rows.append(Row(where, name, fields[-1], speaker=fields[1] if len(fields) >= 3 else None,
                        audio=_find(looked), looked=looked))
    return rows


def read_coqui(csv_path: Path) -> list[Row]:
    root = csv_path.parent
    reader = csv.DictReader(io.StringIO(_read_text(csv_path)), delimiter="|")
    header = reader.fieldnames or []
    if not {"audio_file", "text"} <= set(header):
        raise VoicetuneError(f"{csv_path}: line 1 is not a header naming audio_file and text (coqui's "
                             "`audio_file|text|speaker_name`); add it, or pass the --format of this layout")
    split = {TRAIN_CSV: "train", EVAL_CSV: "eval"}.get(csv_path.name)
    rows = []
    for record in reader:
        where = f"{csv_path.name}:{reader.line_num}"
        values = [v for k, v in record.items() if k is not None]
        extra = record.get(None)  # type: ignore[call-overload]  # DictReader's key for surplus fields
        name = record.get("audio_file") or ""
        if None in values or extra:
            count = len(values) - values.count(None) + len(extra or [])
            rows.append(Row(where, name, "", problem=f"has {count} fields, the header has {len(header)} (a '|' "
                                                     "inside the text?)"))
            continue
        wav = root / name
        rows.append(Row(where, name, record["text"], speaker=record.get("speaker_name") or None, split=split,
                        audio=_find([wav]) if name else None, looked=[wav]))
    return rows


def _first_fields(csv_path: Path, limit: int = 20) -> list[list[str]]:
    lines = [ln for ln in _read_text(csv_path).splitlines() if ln.strip()][:limit]
    return [ln.split("|") for ln in lines]


def _sniff_metadata(csv_path: Path) -> str | None:
    """ljspeech or piper (or coqui, for a headed file) from the rows of ``metadata.csv``; None when
    the rows fit neither."""
    rows = _first_fields(csv_path)
    if not rows:
        raise VoicetuneError(f"{csv_path}: is empty; it holds no rows to import")
    if _looks_coqui("|".join(rows[0])):
        return "coqui"
    names = [r[0].strip() for r in rows]
    if any(n.lower().endswith(AUDIO_EXTENSIONS) or "/" in n for n in names):
        return "piper"
    three = [r for r in rows if len(r) == 3]
    if three and all(r[1].strip() and not any(ch.isspace() for ch in r[1].strip()) for r in three) \
            and any(any(ch.isspace() for ch in r[2].strip()) for r in three):
        return "piper"  # id|speaker|text: a one-word middle column beside sentences
    root = csv_path.parent
    for n in names:
        if (root / "wavs" / f"{n}.wav").is_file():
            return "ljspeech"
        if _find([root / n, root / f"{n}.wav"]):
            return "piper"
    return None


def _found(folder: Path) -> str:
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if not p.name.startswith("."))
    shown = ", ".join(entries[:6]) + (f" and {len(entries) - 6} more" if len(entries) > 6 else "")
    return shown or "nothing"


def detect(path: Path) -> str:
    """The format of the layout at ``path`` (a folder or its metadata file); one line when none fits."""
    folder = path.parent if path.is_file() else path
    if path.is_file():
        if path.name in (TRAIN_CSV, EVAL_CSV):
            return "coqui"
        fmt = _sniff_metadata(path)
        if fmt is None:
            raise VoicetuneError(f"{path}: the audio of its rows is in neither wavs/ID.wav (ljspeech) nor beside "
                                 f"the file (piper); pass --format ({', '.join(FORMATS)}) and --audio-dir")
        return fmt
    if (folder / META_JSON).is_file():
        raise VoicetuneError(f"{folder}: is a voicetune dataset already; train on it as it is (or re-import its "
                             "CSVs with --format coqui)")
    if (folder / TRAIN_CSV).is_file() or (folder / EVAL_CSV).is_file():
        return "coqui"
    if (folder / METADATA).is_file():
        fmt = _sniff_metadata(folder / METADATA)
        if fmt is not None:
            return fmt
        raise VoicetuneError(f"{folder}: found metadata.csv, but the audio of its rows is in neither wavs/ID.wav "
                             f"(ljspeech) nor beside it (piper); pass --format ({', '.join(FORMATS)}) and --audio-dir")
    raise VoicetuneError(f"{folder}: no dataset layout recognised (found: {_found(folder)}); known layouts: {KNOWN}")


def read_layout(path: str | Path, fmt: str = "auto", audio_dir: Path | None = None) -> Layout:
    """The rows of the dataset at ``path`` in format ``fmt`` (or the one :func:`detect` finds)."""
    path = Path(path)
    if not path.exists():
        raise VoicetuneError(f"{path}: no such file or folder; check the path")
    if fmt not in (*FORMATS, "auto"):
        raise VoicetuneError(f"--format {fmt}: unknown; choose one of auto, {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = detect(path)
    folder = path.parent if path.is_file() else path
    if audio_dir is not None and fmt != "piper":
        raise VoicetuneError(f"--audio-dir is for the piper layout; the {fmt} layout names its audio itself")
    if audio_dir is not None and not Path(audio_dir).is_dir():
        raise VoicetuneError(f"--audio-dir {audio_dir}: no such folder; name the folder the CSV's audio files are in")
    if fmt == "coqui":
        files = [path] if path.is_file() else [folder / n for n in (TRAIN_CSV, EVAL_CSV) if (folder / n).is_file()]
        files = files or ([folder / METADATA] if (folder / METADATA).is_file() else [])
        if not files:
            raise VoicetuneError(f"{folder}: no {TRAIN_CSV} or {EVAL_CSV} (found: {_found(folder)}); is it "
                                 "another layout? try --format auto")
        rows = [r for f in files for r in read_coqui(f)]
        has_split = {f.name for f in files} == {TRAIN_CSV, EVAL_CSV} and any(r.split == "eval" for r in rows)
        return Layout(fmt, folder, files, rows, has_split)
    csv_path = path if path.is_file() else folder / METADATA
    if not csv_path.is_file():
        raise VoicetuneError(f"{folder}: no {METADATA} (found: {_found(folder)}); is it another layout? try "
                             "--format auto")
    rows = read_ljspeech(csv_path) if fmt == "ljspeech" else read_piper(csv_path, audio_dir)
    return Layout(fmt, folder, [csv_path], rows)
