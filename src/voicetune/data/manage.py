"""Dataset operations after prepare: validate, re-split, merge."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import soundfile as sf

from voicetune.audio import load_audio, write_wav
from voicetune.data.dataset import (
    EVAL_CSV,
    META_JSON,
    TRAIN_CSV,
    Dataset,
    assign_splits,
    ensure_eval,
    load_dataset,
    read_csv,
    save_dataset,
)
from voicetune.data.report import write_report
from voicetune.errors import DatasetError, VoicetuneError
from voicetune.fileio import replace_dir

DURATION_TOLERANCE = 0.02  # seconds


def validate(root: str | Path) -> list[str]:
    """Every problem found, one line each (empty list = valid)."""
    root = Path(root)
    try:
        ds = load_dataset(root, sync_csv=False)
    except DatasetError as exc:
        return [str(exc)]
    problems: list[str] = []
    rows: dict[str, str] = {}
    for name in (TRAIN_CSV, EVAL_CSV):
        path = root / name
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        try:
            for audio_file, text, _speaker in read_csv(path):
                if audio_file in rows:
                    problems.append(f"{path}: {audio_file} is listed twice (also in {rows[audio_file]})")
                rows[audio_file] = name
                if not text.strip():
                    problems.append(f"{path}: {audio_file} has empty text")
        except DatasetError as exc:
            problems.append(str(exc))
    known = {c.audio_file: c for c in ds.clips}
    for audio_file in rows:
        if audio_file not in known:
            problems.append(f"{root / audio_file}: in the CSV but not in {META_JSON} (add it with prepare or remove the row)")
    for c in ds.clips:
        wav = root / c.audio_file
        if c.audio_file not in rows:
            problems.append(f"{wav}: in {META_JSON} but in neither CSV")
        if not wav.exists():
            problems.append(f"{wav}: file missing")
            continue
        try:
            info = sf.info(str(wav))
            with sf.SoundFile(str(wav)) as f:
                f.read(dtype="float32")
        except (sf.LibsndfileError, RuntimeError) as exc:
            problems.append(f"{wav}: does not decode ({exc})")
            continue
        if info.samplerate != ds.sample_rate:
            problems.append(f"{wav}: {info.samplerate} Hz, dataset says {ds.sample_rate} Hz")
        if abs(info.frames / info.samplerate - c.duration) > DURATION_TOLERANCE:
            problems.append(f"{wav}: {info.frames / info.samplerate:.3f} s, dataset says {c.duration:.3f} s")
        if info.channels != 1:
            problems.append(f"{wav}: {info.channels} channels, expected mono")
    if len(ds.clips) >= 2 and not ds.eval:
        problems.append(f"{root / EVAL_CSV}: eval split is empty (run `voicetune dataset split {root}`)")
    return problems


def resplit(root: str | Path, eval_fraction: float = 0.1, seed: int = 1234) -> Dataset:
    """Draw a new train/eval split for all clips (seeded, stratified by speaker)."""
    root = Path(root)
    ds = load_dataset(root)
    assign_splits(ds.clips, eval_fraction, seed)
    ensure_eval(ds, seed)
    save_dataset(ds, root)
    write_report(ds, root)
    return ds


def merge(inputs: list[str | Path], output: str | Path, eval_fraction: float = 0.1, seed: int = 1234) -> Dataset:
    """Merge datasets into a new folder; clashing clip ids get a suffix; clips are re-split.
    Datasets at another sample rate are resampled to the first one's rate."""
    output = Path(output)
    if output.exists():
        raise VoicetuneError(f"{output}: already exists; merge writes a new folder")
    parts = [(Path(p), load_dataset(p)) for p in inputs]
    if len(parts) < 2:
        raise VoicetuneError("merge needs at least two datasets")
    sr = parts[0][1].sample_rate
    merged = Dataset(sample_rate=sr, language=parts[0][1].language, asr_model=parts[0][1].asr_model)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "wavs").mkdir(parents=True)
    try:
        ids: set[str] = set()
        sources: set[str] = set()
        for root, ds in parts:
            for s in ds.sources:
                if s.sha256 not in sources:
                    sources.add(s.sha256)
                    merged.sources.append(s)
            for c in ds.clips:
                new_id, n = c.id, 1
                while new_id in ids:
                    n += 1
                    new_id = f"{c.id}-{n}"
                ids.add(new_id)
                src, dst = root / c.audio_file, tmp / "wavs" / f"{new_id}.wav"
                if ds.sample_rate == sr:
                    _link_or_copy(src, dst)
                else:
                    write_wav(dst, load_audio(src, sr), sr)
                merged.clips.append(c.model_copy(update={"id": new_id}))
            merged.quarantine.extend(ds.quarantine)
        assign_splits(merged.clips, eval_fraction, seed)
        ensure_eval(merged, seed)
        save_dataset(merged, tmp)
        write_report(merged, tmp)
        replace_dir(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return merged


def _link_or_copy(src: Path, dst: Path) -> None:
    if not src.exists():
        raise DatasetError(f"{src}: file missing (run `voicetune dataset validate {src.parent.parent}`)")
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
