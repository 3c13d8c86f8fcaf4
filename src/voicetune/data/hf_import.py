"""`voicetune dataset import-hf`: a Hugging Face dataset -> our dataset folder, through the checks
prepare applies to clips (duration limits, SNR and clipping -> quarantine with the reason, loudness
normalisation, text cleaning, seeded speaker-stratified split, report).

Sources: a ``save_to_disk`` folder (``load_from_disk``), a local folder of data files
(``load_dataset(folder)``: audiofolder, parquet, csv ...), or a hub id when online. Audio is read
with ``Audio(decode=False)`` and decoded by soundfile here: datasets >= 4 decodes through
torchcodec, which CPU-only torch installs often lack.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicetune.audio import resample
from voicetune.data.dataset import Dataset, Quarantined, Source, assign_splits, ensure_eval
from voicetune.data.quality import QualityLimits
from voicetune.data.store import write_metadata
from voicetune.data.whole_clips import ClipLimits, add_whole_clip
from voicetune.errors import VoicetuneError
from voicetune.folders import DATASET, FolderBuild, check_output
from voicetune.text.normalize import normalize_text


@dataclass
class HfImportOptions:
    audio_column: str = "audio"
    text_column: str = "text"
    speaker_column: str | None = None
    split: str | None = None  # None: "train" if present, else the only split
    config: str | None = None  # the hub dataset's configuration name
    language: str | None = None  # spell numbers out in this language (num2words code); None: keep digits
    sample_rate: int | None = None  # None: the first clip's own rate
    min_seconds: float = 1.0
    max_seconds: float = 20.0
    eval_fraction: float = 0.1
    seed: int = 1234
    normalize_loudness: float | None = -23.0
    quality: QualityLimits = QualityLimits()

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds < self.max_seconds:
            raise VoicetuneError(f"--min-seconds {self.min_seconds} must be > 0 and below --max-seconds {self.max_seconds}")


@dataclass
class HfImportResult:
    dataset: Path
    kept: int
    quarantined: int
    rows: int


def _load(name: str, opts: HfImportOptions):
    try:
        import datasets
    except ImportError:
        raise VoicetuneError("import-hf needs the datasets package: `pip install 'voicetune[mms]'`") from None

    path = Path(name)
    try:
        if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()
                              or (path / "state.json").exists()):
            data = datasets.load_from_disk(str(path))
        elif path.exists():
            data = datasets.load_dataset(str(path), opts.config)
        elif re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name):
            data = datasets.load_dataset(name, opts.config)
        else:
            raise VoicetuneError(f"{name}: no such folder, and not a Hugging Face dataset id")
    except VoicetuneError:
        raise
    except Exception as exc:  # offline hub, missing config, unreadable files: many types
        raise VoicetuneError(f"{name}: cannot load the dataset ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                             "offline, pass a folder written by save_to_disk or local data files") from None
    if isinstance(data, datasets.DatasetDict):
        split = opts.split or ("train" if "train" in data else (next(iter(data)) if len(data) == 1 else None))
        if split not in data:
            raise VoicetuneError(f"{name}: choose a split with --split ({', '.join(data)})")
        data = data[split]
    elif opts.split and opts.split != str(getattr(data, "split", None) or opts.split):
        raise VoicetuneError(f"{name}: a single split ({data.split}); drop --split {opts.split}")
    for col in (opts.audio_column, opts.text_column, opts.speaker_column):
        if col and col not in data.column_names:
            raise VoicetuneError(f"{name}: no column '{col}' (columns: {', '.join(data.column_names)}); "
                                 "set --audio-column/--text-column/--speaker-column")
    if isinstance(data.features[opts.audio_column], datasets.Audio):
        data = data.cast_column(opts.audio_column, datasets.Audio(decode=False))
    return data


def _clean(text: str, language: str | None) -> str:
    """prepare's text cleaning; without a language, digits stay digits (spelling them out in the
    wrong language would silently teach the model wrong words; the MMS vocabulary check reports them)."""
    return normalize_text(text, language, spell_numbers=bool(language))


def _decode(value, root: Path | None) -> tuple[np.ndarray, int]:
    """An audio cell ({bytes, path} undecoded, or {array, sampling_rate}) -> (mono float32, rate)."""
    import soundfile as sf

    if isinstance(value, dict) and value.get("array") is not None:
        x, sr = np.asarray(value["array"], dtype=np.float32), int(value["sampling_rate"])
        if x.ndim > 1:  # datasets' Audio(mono=False): [channels, samples]
            x = x.mean(axis=0 if x.shape[0] < x.shape[-1] else -1)
    elif isinstance(value, dict) and (value.get("bytes") or value.get("path")):
        src = io.BytesIO(value["bytes"]) if value.get("bytes") else Path(value["path"])
        if isinstance(src, Path) and not src.is_absolute() and root is not None:
            src = root / src
        x, sr = sf.read(src, dtype="float32", always_2d=True)
        x = x.mean(axis=1)
    else:
        raise ValueError("unsupported audio cell")
    return x.astype(np.float32), sr


def import_hf_dataset(name: str, output: str | os.PathLike, opts: HfImportOptions | None = None, progress=None,
                      overwrite: bool = False, log=print) -> HfImportResult:
    """Convert ``name`` into the dataset folder ``output`` (written aside, swapped in at the end);
    an existing dataset there is replaced only with ``overwrite``."""
    opts = opts or HfImportOptions()
    output = Path(output)
    local = [name] if Path(name).exists() else []
    check_output(output, DATASET, inputs=local, overwrite=overwrite, log=log)
    data = _load(name, opts)
    root = Path(name) if Path(name).is_dir() else None
    slug = re.sub(r"[^A-Za-z0-9]+", "-", Path(name).name or name).strip("-").lower()[:24] or "hf"
    ds: Dataset | None = None
    limits = ClipLimits(opts.min_seconds, opts.max_seconds, opts.normalize_loudness, opts.quality)
    build = FolderBuild(output)
    with build as tmp:
        (tmp / "wavs").mkdir()
        (tmp / "quarantine").mkdir()
        quarantined = 0
        for i, row in enumerate(data):
            clip_id = f"{slug}-{i:06d}"
            try:
                x, sr = _decode(row[opts.audio_column], root)
            except Exception as exc:  # a broken row is quarantined, never fatal
                ds = ds or Dataset(sample_rate=opts.sample_rate or 16000, language=opts.language or "und", created_by="voicetune import-hf")
                ds.quarantine.append(Quarantined(source=f"{name}[{i}]", reason=f"audio cannot be decoded ({type(exc).__name__})"))
                quarantined += 1
                continue
            if ds is None:
                ds = Dataset(sample_rate=opts.sample_rate or sr, language=opts.language or "und", created_by="voicetune import-hf")
            x = resample(x, sr, ds.sample_rate)
            text = _clean(str(row[opts.text_column] or ""), opts.language)
            speaker = str(row[opts.speaker_column]) if opts.speaker_column else "speaker"
            sha = hashlib.sha256(x.tobytes()).hexdigest()
            ds.sources.append(Source(path=f"{name}[{i}]", sha256=sha, duration=round(len(x) / ds.sample_rate, 3),
                                     speaker=speaker))
            if add_whole_clip(ds, tmp, clip_id, x, text=text, speaker=speaker, source=sha, limits=limits):
                quarantined += 1
            if progress:
                progress((i + 1) / len(data))
        if ds is None or not ds.clips:
            reasons = "; ".join(f"{q.clip or q.source}: {q.reason}" for q in (ds.quarantine if ds else [])[:3])
            raise VoicetuneError(f"{name}: no usable clips ({reasons or 'the split is empty'})")
        assign_splits(ds.clips, opts.eval_fraction, opts.seed)
        ensure_eval(ds, opts.seed)
        write_metadata(ds, tmp)
        build.commit()
    return HfImportResult(output, len(ds.clips), quarantined, len(data))
