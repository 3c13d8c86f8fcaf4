"""The offline end-to-end demo, on material the installed packages ship.

1. A target speaker: the Joe Piper voice reads the built-in sentences and WORLD re-voices them
   (F0 x 0.78, formants x 0.90): measurably another voice (resemblyzer similarity to Joe ~0.77).
   The session is saved as an MP3 and a 44.1 kHz stereo FLAC, as a recorder would.
2. `prepare` -> dataset; 3. the Joe base is evaluated against the target; 4. `train` fine-tunes
   Joe on the target within the time budget (posterior-encoder bootstrap first, cached per base);
5. the fine-tuned voice is evaluated the same way; 6. `export` -> Piper voice; 7. `say`.
The before/after table says honestly whether the budget moved the voice toward the target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass
class DemoResult:
    output: Path
    dataset: Path
    run: Path | None
    voice: Path | None
    spoken: Path | None
    recordings: list[Path]
    clips: int
    minutes: float
    transcript_wer: float
    table: list[dict] = field(default_factory=list)  # rows: who, similarity, wer, median_f0, lock
    verdict: str = ""
    seconds: float = 0.0


def make_recordings(folder: Path, texts: list[str], f0_factor: float = 0.78, formant_factor: float = 0.90) -> list[Path]:
    """The target speaker: Joe re-voiced by WORLD, as an MP3 session and a 44.1 kHz stereo FLAC session."""
    from voicetune.sample_data import make_recording, revoice, synth_piper, to_stereo_rate

    half = len(texts) // 2
    paths = []
    for k, part in enumerate((texts[:half], texts[half:])):
        clips, sr = synth_piper(part)
        clips = [revoice(c, sr, f0_factor, formant_factor) for c in clips]
        audio, _ = make_recording(clips, part, sr, pauses=(0.4, 1.2), seed=k)
        if k == 0:
            path = folder / "session1.mp3"
            sf.write(path, np.clip(audio, -1, 1), sr, format="MP3")
        else:
            path = folder / "session2.flac"
            sf.write(path, to_stereo_rate(audio, sr, 44100), 44100)
        paths.append(path)
    return paths


def _row(who: str, r) -> dict:
    return {"who": who, "similarity": r.similarity, "wer": r.wer, "median_f0": r.median_f0, "lock": r.lock_share,
            "reference_similarity": r.reference_similarity, "dataset_f0": r.dataset_median_f0}


def run_demo(output: Path, minutes: float = 12.0, quick: bool = False, log=print, progress=None) -> DemoResult:
    """``quick``: a few sentences and steps (CI); the numbers then show the mechanics, not quality."""
    from voicetune.api import train
    from voicetune.data.build import prepare
    from voicetune.data.dataset import load_dataset
    from voicetune.evaluation.report import evaluate_voice
    from voicetune.evaluation.runlog import append_eval_row
    from voicetune.evaluation.targets import synthesizer_for
    from voicetune.exporter import export_run
    from voicetune.fileio import write_json
    from voicetune.folders import DEMO, check_output, discard
    from voicetune.metrics import wer
    from voicetune.sample_data import sentences
    from voicetune.synth import say

    started = time.monotonic()
    output = Path(output)
    if check_output(output, DEMO, own_is_fine=True, log=log):
        log(f"note: {output}: replacing the earlier demo in it")
        discard(output)
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / DEMO.markers[0], {"created_by": "voicetune demo", "quick": quick, "minutes": minutes})
    texts = sentences()[: 12 if quick else 60]
    eval_sentences = sentences("eval_sentences_en")[: 3 if quick else 12]
    rec_dir = output / "recordings"
    rec_dir.mkdir(exist_ok=True)
    log("1/6 recording a target speaker (Joe re-voiced through WORLD) ...")
    recordings = make_recordings(rec_dir, texts)
    log("2/6 prepare ...")
    dataset = output / "dataset"
    prepare(recordings, dataset, progress=progress)
    ds = load_dataset(dataset)
    by_source = {s.sha256: i for i, s in enumerate(ds.sources)}
    hyp = " ".join(c.text for c in sorted(ds.clips, key=lambda c: (by_source[c.source], c.start)))
    result = DemoResult(output, dataset, None, None, None, recordings, len(ds.clips), ds.minutes, wer(" ".join(texts), hyp))

    log("3/6 evaluating the base voice (Joe) against the target ...")
    base_eval = evaluate_voice(synthesizer_for("joe", backend="torch"), dataset, eval_sentences, target="joe")
    result.table.append(_row("base (Joe)", base_eval))

    spent = (time.monotonic() - started) / 60
    budget = max(0.5, minutes - spent - (0.5 if quick else 2.0))  # keep time for evaluation and export
    log(f"4/6 fine-tuning Joe on the target for up to {budget:.1f} min ...")
    run = output / "run"
    config = output / "train.yaml"
    config.write_text(
        "vits:\n  samples: 1\n"  # what trains: the default recipe (models/vits/training.py DEFAULT_FREEZE)
        "optimizer:\n  lr: 0.0002\nscheduler:\n  name: constant\nearly_stop:\n  enabled: false\n"
    )
    overrides = {"max_minutes": budget, "batch_size": 4, "log_every": 5}
    overrides.update({"max_steps": 2, "eval_every": 2} if quick else {"epochs": 1000, "eval_every": 40})
    train(dataset, "joe", run, config=config, overrides=overrides, bootstrap_steps=20 if quick else None,
          bootstrap_sentences=16 if quick else None, show_progress=progress is not None, log=log)
    result.run = run

    log("5/6 evaluating the fine-tuned voice ...")
    last = run / "checkpoints" / _last(run)
    tuned_eval = evaluate_voice(synthesizer_for(last), dataset, eval_sentences, target="fine-tuned")
    append_eval_row(run, tuned_eval.row(step=int(last.name.split("-")[1]), checkpoint=f"checkpoints/{last.name}"))
    result.table.append(_row("fine-tuned", tuned_eval))
    result.table.append({"who": "target itself", "similarity": base_eval.reference_similarity,
                         "wer": base_eval.reference_wer, "median_f0": base_eval.dataset_median_f0,
                         "lock": base_eval.dataset_lock_share})

    log("6/6 export + say ...")
    exported = export_run(run, output / "voice", which="last", name="demo-voice", samples=not quick, log=log)
    result.voice = exported.folder
    result.spoken = output / "hello.wav"
    say("Hello! This voice was fine-tuned on this computer, offline.", exported.onnx, out=result.spoken)
    result.verdict = verdict(base_eval.similarity, tuned_eval.similarity, quick)
    result.seconds = time.monotonic() - started
    return result


def _last(run: Path) -> str:
    return sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.startswith("step-"))[-1]


def verdict(before: float | None, after: float | None, quick: bool) -> str:
    if before is None or after is None:
        return "similarity could not be measured"
    delta = after - before
    if quick:
        return f"quick mode: {delta:+.3f} similarity after 2 steps — this checks the mechanics, not the quality"
    if delta >= 0.02:
        return f"the fine-tuned voice moved toward the target: similarity {before:.3f} -> {after:.3f} ({delta:+.3f})"
    return (f"similarity {before:.3f} -> {after:.3f} ({delta:+.3f}): the budget was too small to move the voice "
            "measurably; try `voicetune demo --minutes 30`")
