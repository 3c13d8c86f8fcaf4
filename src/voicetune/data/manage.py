"""Dataset operations after prepare: validate, re-split, merge, remove a clip, restore one."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from voicetune.audio import load_audio, write_wav
from voicetune.audio import normalize_loudness as normalize_loudness_to
from voicetune.data.dataset import (
    CSV_HEADER,
    EVAL_CSV,
    META_JSON,
    TRAIN_CSV,
    Clip,
    Dataset,
    assign_splits,
    ensure_eval,
    load_dataset,
    quarantine_entry,
    read_csv,
    unique_id,
)
from voicetune.data.quality import clip_stats
from voicetune.data.store import rewrite_dataset, write_metadata
from voicetune.errors import DatasetError, VoicetuneError
from voicetune.folders import DATASET, FolderBuild, check_output, link_file

DURATION_TOLERANCE = 0.02  # seconds


def validate(root: str | Path) -> list[str]:
    """Every problem found, one line each (empty list = valid). A clip in dataset.json whose CSV
    row the user deleted is not a problem: that is the documented way to drop a clip."""
    root = Path(root)
    try:
        ds = load_dataset(root, sync_csv=False)
    except DatasetError as exc:
        return [str(exc)]
    problems: list[str] = []
    rows: dict[str, str] = {}
    readable = True
    for name in (TRAIN_CSV, EVAL_CSV):
        path = root / name
        if not path.exists():
            problems.append(f"{path}: missing; restore it, or create it with the header line "
                            f"`{'|'.join(CSV_HEADER)}` for an empty split")
            readable = False
            continue
        try:
            for audio_file, text, _speaker in read_csv(path):
                if audio_file in rows:
                    problems.append(f"{path}: {audio_file} is listed twice (also in {rows[audio_file]}); remove one row")
                rows[audio_file] = name
                if not text.strip():
                    problems.append(f"{path}: {audio_file} has empty text; write its transcript or remove the row")
        except DatasetError as exc:
            problems.append(str(exc))
            readable = False
    known = {c.audio_file: c for c in ds.clips}
    for audio_file in rows:
        if audio_file not in known:
            problems.append(f"{root / audio_file}: in the CSV but not in {META_JSON} (add it with prepare or remove the row)")
    listed = [c for c in ds.clips if c.audio_file in rows] if readable else ds.clips
    for c in listed:
        problems += _wav_problems(root / c.audio_file, c, ds.sample_rate)
    split = {"train": 0, "eval": 0}
    for audio_file, name in rows.items():
        if audio_file in known:
            split["eval" if name == EVAL_CSV else "train"] += 1
    if readable and sum(split.values()) >= 2 and not split["eval"]:
        problems.append(f"{root / EVAL_CSV}: eval split is empty (run `voicetune dataset split {root}`)")
    return problems


def _wav_problems(wav: Path, c: Clip, sample_rate: int) -> list[str]:
    if not wav.exists():
        return [f"{wav}: file missing; restore it, or remove its row from the metadata CSV"]
    try:
        info = sf.info(str(wav))
        with sf.SoundFile(str(wav)) as f:
            f.read(dtype="float32")
    except (sf.LibsndfileError, RuntimeError) as exc:
        return [f"{wav}: does not decode ({exc}); restore it, or remove its row from the metadata CSV"]
    problems = []
    if info.samplerate != sample_rate:
        problems.append(f"{wav}: {info.samplerate} Hz, dataset says {sample_rate} Hz")
    if abs(info.frames / info.samplerate - c.duration) > DURATION_TOLERANCE:
        problems.append(f"{wav}: {info.frames / info.samplerate:.3f} s, dataset says {c.duration:.3f} s")
    if info.channels != 1:
        problems.append(f"{wav}: {info.channels} channels, expected mono")
    return problems


def require_valid(root: str | Path) -> None:
    """Training reads a dataset only when `dataset validate` finds nothing: a missing or broken wav
    stops it here, named, not minutes later inside a feature builder."""
    problems = validate(root)
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise DatasetError(f"{root}: the dataset has {len(problems)} problem(s): {shown} "
                           f"(`voicetune dataset validate {root}` lists them)")


def resplit(root: str | Path, eval_fraction: float = 0.1, seed: int = 1234) -> Dataset:
    """Draw a new train/eval split for all clips (seeded, stratified by speaker); the dataset is
    rewritten as one unit."""
    root = Path(root)
    ds = load_dataset(root)
    assign_splits(ds.clips, eval_fraction, seed)
    ensure_eval(ds, seed)
    rewrite_dataset(ds, root)
    return ds


def merge(inputs: list[str | Path], output: str | Path, eval_fraction: float = 0.1, seed: int = 1234,
          overwrite: bool = False, log=print) -> Dataset:
    """Merge datasets into a new folder; clashing clip ids (kept and quarantined alike) get a
    suffix; clips are re-split. Datasets at another sample rate are resampled to the first one's."""
    output = Path(output)
    if len(inputs) < 2:
        raise VoicetuneError("merge needs at least two datasets")
    check_output(output, DATASET, inputs=inputs, overwrite=overwrite, log=log)
    parts = [(Path(p), load_dataset(p)) for p in inputs]
    sr = parts[0][1].sample_rate
    merged = Dataset(sample_rate=sr, language=parts[0][1].language, asr_model=parts[0][1].asr_model)
    ids: set[str] = set()

    def unique(clip_id: str) -> str:
        return unique_id(clip_id, ids)

    def carry(src: Path, dst: Path, rate: int) -> None:
        if rate == sr:
            _link_or_copy(src, dst)
        else:
            write_wav(dst, load_audio(src, sr), sr)

    build = FolderBuild(output)
    with build as tmp:
        (tmp / "wavs").mkdir()
        (tmp / "quarantine").mkdir()
        sources: set[str] = set()
        for root, ds in parts:
            for s in ds.sources:
                if s.sha256 not in sources:
                    sources.add(s.sha256)
                    merged.sources.append(s)
            for c in ds.clips:
                new_id = unique(c.id)
                carry(root / c.audio_file, tmp / "wavs" / f"{new_id}.wav", ds.sample_rate)
                merged.clips.append(c.model_copy(update={"id": new_id}))
            for q in ds.quarantine:
                audio = q.audio(root)
                if q.clip is None:
                    merged.quarantine.append(q.model_copy())
                    continue
                new_id = unique(q.clip)
                if audio is not None:
                    carry(root / audio, tmp / "quarantine" / f"{new_id}.wav", ds.sample_rate)
                merged.quarantine.append(q.model_copy(update={"clip": new_id}))
        assign_splits(merged.clips, eval_fraction, seed)
        ensure_eval(merged, seed)
        write_metadata(merged, tmp)
        build.commit()
    return merged


def _link_or_copy(src: Path, dst: Path) -> None:
    if not src.exists():
        raise DatasetError(f"{src}: file missing (run `voicetune dataset validate {src.parent.parent}`)")
    link_file(src, dst)


def remove_clip(root: str | Path, clip_id: str, reason: str) -> Dataset:
    """Take a clip out of the dataset into its quarantine with ``reason``: the state a deleted CSV
    row leads to, with the wav moved to ``quarantine/`` (kept: ``restore_clip`` brings it back)."""
    root = Path(root)
    ds = load_dataset(root)
    clip = next((c for c in ds.clips if c.id == clip_id), None)
    if clip is None:
        raise VoicetuneError(f"{root}: clip {clip_id} is not in the dataset (already removed? see the quarantine)")
    ds.clips.remove(clip)
    ds.quarantine.append(quarantine_entry(clip, reason))
    ensure_eval(ds, seed=1234)
    rewrite_dataset(ds, root)
    return ds


def restore_clip(root: str | Path, clip_id: str, text: str | None = None,
                 normalize_loudness: float | None = -23.0) -> Clip:
    """Bring a quarantined clip (one with audio under ``quarantine/``, or a deleted CSV row) back
    into the train split, whatever check sent it there: the user heard it and keeps it. ``text``
    replaces its transcript (needed when it has none). Its stats are measured again from its wav
    (the clip's own noise floor, as `dataset import` does); a clip not yet at ``normalize_loudness``
    LUFS (prepare's default; a check stopped it before normalisation) is brought there, as prepare
    does with every clip it keeps. The quarantine entry goes; the dataset is rewritten as one unit."""
    from voicetune.data.build import MAX_CLIP_SECONDS

    root = Path(root)
    ds = load_dataset(root)
    entry = next((q for q in ds.quarantine if q.clip == clip_id), None)
    if entry is None:
        raise VoicetuneError(f"{root}: clip {clip_id} is not in the quarantine")
    if any(c.id == clip_id for c in ds.clips):
        raise VoicetuneError(f"{root}: clip {clip_id} is already in the dataset; remove its quarantine entry by hand")
    rel = entry.audio(root)
    if rel is None:
        raise VoicetuneError(f"{root}: clip {clip_id} has no audio in quarantine/ (only its entry was kept); "
                             "it cannot be restored")
    words = " ".join((entry.text if text is None else text).split()).replace("|", " ")
    if not words:
        raise VoicetuneError(f"{root}: clip {clip_id} has no transcript; write one to restore it")
    x = load_audio(root / rel, ds.sample_rate)
    duration = round(len(x) / ds.sample_rate, 3)
    if duration > MAX_CLIP_SECONDS:
        raise VoicetuneError(f"{root / rel}: {duration:.2f} s is over {MAX_CLIP_SECONDS:g} s (XTTS drops such clips); "
                             "it cannot be restored whole")
    stats = clip_stats(x, ds.sample_rate, None)
    source = next((s for s in ds.sources if f"-{s.sha256[:8]}-" in clip_id), None)  # prepare's <name>-<sha8>-<k>
    speakers = ds.speakers()
    speaker = entry.speaker or (source.speaker if source else None) or (speakers[0] if len(speakers) == 1 else "speaker")
    start = entry.start if entry.start is not None else 0.0
    clip = Clip(id=clip_id, source=source.sha256 if source else "", start=start,
                end=entry.end if entry.end is not None else start + duration, duration=duration, text=words,
                asr_confidence=entry.asr_confidence, snr_db=round(stats.snr_db, 1),
                loudness_lufs=round(stats.loudness_lufs, 1), peak=round(stats.peak, 3),
                clipping=round(stats.clipping, 5), split="train", speaker=speaker)
    audio = {}
    if normalize_loudness is not None and abs(stats.loudness_lufs - normalize_loudness) > 0.5:
        audio[clip.audio_file] = normalize_loudness_to(x, ds.sample_rate, normalize_loudness)
    ds.quarantine.remove(entry)
    ds.clips.append(clip)
    ensure_eval(ds, seed=1234)
    rewrite_dataset(ds, root, audio=audio)
    return clip
