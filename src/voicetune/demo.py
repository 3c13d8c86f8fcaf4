"""The offline demo: every stage that exists so far, on material the installed packages ship.

Today: a "recording session" is synthesized (the Joe Piper voice reads the built-in sentences
with natural pauses, saved as MP3 and as a 44.1 kHz stereo FLAC like a real recorder would) and
`prepare` turns it into a dataset; the result is checked against the known text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass
class DemoResult:
    output: Path
    dataset: Path
    recordings: list[Path]
    clips: int
    minutes: float
    wer: float
    prepare_seconds: float
    realtime_factor: float


def make_recordings(folder: Path, n_sentences: int = 40) -> tuple[list[Path], str]:
    from voicetune.sample_data import make_recording, sentences, synth_piper, to_stereo_rate

    texts = sentences()[:n_sentences]
    half = len(texts) // 2
    paths = []
    for k, part in enumerate((texts[:half], texts[half:])):
        clips, sr = synth_piper(part)
        audio, _ = make_recording(clips, part, sr, pauses=(0.4, 1.2), seed=k)
        if k == 0:
            path = folder / "session1.mp3"
            sf.write(path, np.clip(audio, -1, 1), sr, format="MP3")
        else:
            path = folder / "session2.flac"
            sf.write(path, to_stereo_rate(audio, sr, 44100), 44100)
        paths.append(path)
    return paths, " ".join(texts)


def run_demo(output: Path, progress=None) -> DemoResult:
    from voicetune.data.build import prepare
    from voicetune.data.dataset import load_dataset
    from voicetune.metrics import wer

    output.mkdir(parents=True, exist_ok=True)
    rec_dir = output / "recordings"
    rec_dir.mkdir(exist_ok=True)
    recordings, truth = make_recordings(rec_dir)
    dataset = output / "dataset"
    started = time.perf_counter()
    result = prepare(recordings, dataset, progress=progress)
    elapsed = time.perf_counter() - started
    ds = load_dataset(dataset)
    by_source = {s.sha256: i for i, s in enumerate(ds.sources)}
    hyp = " ".join(c.text for c in sorted(ds.clips, key=lambda c: (by_source[c.source], c.start)))
    return DemoResult(
        output, dataset, recordings, len(ds.clips), ds.minutes, wer(truth, hyp), elapsed,
        result.audio_seconds / elapsed if elapsed else 0.0,
    )
