"""Shared pieces for the XTTS tests: a tiny random XTTS base and a small Joe dataset, built once
per test session (module-level cache: several test modules import these fixtures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

_CACHE: dict[str, Path] = {}


def make_dataset(root: Path, texts: list[str], *, language: str = "en", n_eval: int = 2, speed: float = 1.0) -> Path:
    """Joe (Piper) reading ``texts``, written straight into voicetune's dataset format."""
    from voicetune.audio import write_wav
    from voicetune.data.dataset import Clip, Dataset, save_dataset
    from voicetune.sample_data import synth_piper

    clips, sr = synth_piper(texts, length_scale=speed)
    root.mkdir(parents=True, exist_ok=True)
    ds = Dataset(sample_rate=sr, language=language)
    for i, (audio, text) in enumerate(zip(clips, texts, strict=True)):
        cid = f"clip{i:03d}"
        write_wav(root / "wavs" / f"{cid}.wav", audio, sr)
        ds.clips.append(Clip(id=cid, source="", start=0.0, end=len(audio) / sr, duration=len(audio) / sr, text=text,
                             split="eval" if i >= len(texts) - n_eval else "train", speaker="joe"))
    save_dataset(ds, root)
    return root


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    if "base" not in _CACHE:
        from voicetune.models.xtts.random_base import make_random_base

        _CACHE["base"] = make_random_base(tmp_path_factory.getbasetemp() / "xtts-tiny-base", "tiny", seed=0)
    return _CACHE["base"]


@pytest.fixture(scope="session")
def xtts_dataset(tmp_path_factory) -> Path:
    """12 short Joe clips (10 train, 2 eval); read-only: copy before editing."""
    if "dataset" not in _CACHE:
        from voicetune.sample_data import sentences

        texts = [s for s in sentences() if len(s) < 70][:12]
        _CACHE["dataset"] = make_dataset(tmp_path_factory.getbasetemp() / "xtts-joe", texts)
    return _CACHE["dataset"]


def copy_dataset(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".cache"))
    return dst
