"""A dataset folder is written as one unit: dataset.json, both CSVs, the report and the audio
go into a temp folder beside it that is swapped in whole (voicetune.folders). A crash between
two of the writes leaves the previous dataset untouched, never a new dataset.json beside old
CSVs (which would read as clips "removed by the user")."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from voicetune.audio import write_wav
from voicetune.data.dataset import Dataset, save_dataset
from voicetune.folders import FolderBuild, link_file


def link_audio(ds: Dataset, old_root: Path, tmp: Path) -> set[str]:
    """Hard-link the audio ``ds`` keeps from ``old_root`` into ``tmp``: each clip's wav under wavs/,
    each quarantined clip's under quarantine/ (a clip whose CSV row the user deleted moves there
    now). Returns the old relative paths now held under another name."""
    moved: set[str] = set()
    for c in ds.clips:
        src = old_root / c.audio_file
        held = old_root / "quarantine" / f"{c.id}.wav"
        if not src.is_file() and held.is_file():  # a clip restored from the quarantine moves back
            src = held
            moved.add(f"quarantine/{c.id}.wav")
        if src.is_file() and not (tmp / c.audio_file).exists():
            link_file(src, tmp / c.audio_file)
    for q in ds.quarantine:
        rel = q.audio(old_root)
        dst = tmp / "quarantine" / f"{q.clip}.wav"
        if rel is not None and not dst.exists():
            link_file(old_root / rel, dst)
            if rel != f"quarantine/{q.clip}.wav":
                moved.add(rel)
    (tmp / "wavs").mkdir(exist_ok=True)
    (tmp / "quarantine").mkdir(exist_ok=True)
    return moved


def write_metadata(ds: Dataset, tmp: Path) -> None:
    """dataset.json, both CSVs and the report into a folder being built."""
    from voicetune.data.report import write_report

    save_dataset(ds, tmp)
    write_report(ds, tmp)


def rewrite_dataset(ds: Dataset, root: Path, audio: Mapping[str, np.ndarray] | None = None) -> None:
    """Replace the live dataset ``root`` by ``ds`` (same audio, new metadata) as one unit; files
    voicetune did not write, and caches, stay. ``audio``: wavs written new (relative path ->
    samples at the dataset rate) instead of linked from the old folder."""
    root = Path(root)
    build = FolderBuild(root, keep_foreign=True)
    with build as tmp:
        for rel, samples in (audio or {}).items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            write_wav(tmp / rel, samples, ds.sample_rate)
        build.moved = link_audio(ds, root, tmp)
        write_metadata(ds, tmp)
        build.commit()
