"""The Python API: the five stages of the CLI as functions with the same options. The CLI's verbs
call these (commands/<verb>.py only parse and print), so a script and a terminal get the same
checks, the same files and the same errors (voicetune.errors.VoicetuneError, one line each).

    import voicetune
    voicetune.prepare(["take1.mp3"], "my-voice")
    voicetune.train("my-voice", "joe", "runs/me", max_minutes=30)
    print(voicetune.evaluate("runs/me/checkpoints/step-000200", "my-voice").row())
    voicetune.export("runs/me", "voices/me")
    voicetune.say("Hello there.", "voices/me", "hello.wav")

Imports are deferred into the functions: ``import voicetune`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from voicetune.data.build import PrepareOptions, PrepareResult
    from voicetune.evaluation.report import EvalResult
    from voicetune.exporter import ExportResult
    from voicetune.synth import Voice

PathLike = str | os.PathLike
# train()'s engine options -> the dotted TrainConfig keys they set
ENGINE_KEYS = {
    "epochs": "epochs", "max_steps": "max_steps", "max_minutes": "max_minutes", "batch_size": "batch_size",
    "grad_accum": "grad_accum", "lr": "optimizer.lr", "optimizer": "optimizer.name", "scheduler": "scheduler.name",
    "eval_every": "eval_every", "save_every": "save_every", "keep": "keep_top_k", "seed": "seed",
    "device": "device", "precision": "precision",
}
# train()'s backend options -> the `voicetune train` flag each one is (what backends.check_flags names)
BACKEND_FLAGS = {
    "freeze": "--freeze", "train": "--train", "speaker": "--speaker", "bootstrap_steps": "--bootstrap-steps",
    "select_by": "--select-by", "preset": "--preset", "speaker_column": "--speaker-column",
    "filter_speaker": "--filter-speaker", "override_speaker_embeddings": "--override-speaker-embeddings",
    "skip_unknown_chars": "--skip-unknown-chars",
}
MMS_OPTIONS = ("speaker_column", "filter_speaker", "override_speaker_embeddings", "skip_unknown_chars")


def prepare(inputs: Iterable[PathLike], output: PathLike, options: PrepareOptions | None = None, *,
            progress=None, log: Callable[[str], None] = print) -> PrepareResult:
    """Recordings (audio files or folders, with ``.srt``/``.vtt`` beside them) -> the dataset folder
    ``output`` (created, or added to). Inputs are never modified. See voicetune.data.build."""
    from voicetune.data.build import prepare as _prepare

    return _prepare(inputs, output, options, progress=progress, log=log)


def train(
    dataset: PathLike | None = None,
    base: str | None = None,
    output: PathLike | None = None,
    *,
    config: PathLike | None = None,
    resume: PathLike | None = None,
    backend: str | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    batch_size: int | None = None,
    grad_accum: int | None = None,
    lr: float | None = None,
    optimizer: str | None = None,
    scheduler: str | None = None,
    eval_every: int | None = None,
    save_every: int | None = None,
    keep: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    precision: str | None = None,
    freeze: list[str] | None = None,
    train: list[str] | None = None,
    speaker: str | None = None,
    bootstrap_steps: int | None = None,
    bootstrap_sentences: int | None = None,
    select_by: str | None = None,
    preset: str | None = None,
    speaker_column: str | None = None,
    filter_speaker: str | None = None,
    override_speaker_embeddings: bool = False,
    skip_unknown_chars: bool = False,
    overrides: dict[str, Any] | None = None,
    show_progress: bool = True,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
):
    """Fine-tune ``base`` on ``dataset`` into the new run folder ``output``, or continue ``resume``.

    The backend (Piper/VITS, MMS, XTTS) follows from ``backend``, the config or the base
    (voicetune.backends); an option that backend does not use is an error naming what it takes.
    ``max_minutes`` alone sizes the run from the measured step time. ``bootstrap_steps`` /
    ``bootstrap_sentences`` (Piper ONNX bases): the posterior-encoder distillation's size. ``overrides``: further engine
    keys, dotted (``{"early_stop.enabled": False}``); the named options win over them.
    ``dry_run``: resolve the config, time a step, an eval and a checkpoint here, print the config and
    the estimated time for the run, and return (status ``dry_run``) with nothing written.
    Returns the engine's FitResult (status, step, last checkpoint, best)."""
    from voicetune import backends

    named = {k: v for k, v in {
        "epochs": epochs, "max_steps": max_steps, "max_minutes": max_minutes, "batch_size": batch_size,
        "grad_accum": grad_accum, "lr": lr, "optimizer": optimizer, "scheduler": scheduler,
        "eval_every": eval_every, "save_every": save_every, "keep": keep, "seed": seed, "device": device,
        "precision": precision}.items() if v is not None}
    engine = {**(overrides or {}), **{ENGINE_KEYS[k]: v for k, v in named.items()}}
    options = {"freeze": freeze, "train": train, "speaker": speaker, "bootstrap_steps": bootstrap_steps,
               "select_by": select_by, "preset": preset, "speaker_column": speaker_column,
               "filter_speaker": filter_speaker, "override_speaker_embeddings": override_speaker_embeddings,
               "skip_unknown_chars": skip_unknown_chars}
    given = {BACKEND_FLAGS[k]: v for k, v in options.items()}
    if resume is not None:
        given.update({"--dataset": dataset, "--base": base, "--config": config, "--backend": backend})
    request = backends.TrainRequest(
        dataset=Path(dataset) if dataset is not None else None, base=str(base) if base is not None else None,
        output=Path(output) if output is not None else None, config=Path(config) if config is not None else None,
        resume=Path(resume) if resume is not None else None, overrides=engine, freeze=freeze or None,
        train=train or None, speaker=speaker, bootstrap_steps=bootstrap_steps,
        bootstrap_sentences=bootstrap_sentences, select_by=select_by, preset=preset,
        backend_flags={k: options[k] or None for k in MMS_OPTIONS}, show_progress=show_progress, dry_run=dry_run)
    chosen = backends.for_training(request, backend)
    backends.check_flags(chosen, given, resume=resume is not None)
    backends.check_select_by(chosen, select_by)
    if dry_run and resume is None:
        return _dry_run(chosen, request, log)
    return chosen.train(request, log)


def _dry_run(chosen, request, log):
    """A new run's dry run: -o is checked as a real run would check it, but what the backend writes
    before the engine starts (run file, vocabularies, an imported dataset) goes to a temporary folder."""
    import dataclasses
    import tempfile

    from voicetune.trainer.start import new_run_folder

    new_run_folder(request.output, log)
    with tempfile.TemporaryDirectory(prefix="voicetune-dry-run-") as tmp:
        return chosen.train(dataclasses.replace(request, output=Path(tmp) / "run"), log)


def evaluate(voice: PathLike, dataset: PathLike, *, sentences: list[str] | PathLike | None = None,
             asr_model: str | None = None, device: str = "auto", backend: str = "auto") -> EvalResult:
    """How ``voice`` (a Piper .onnx, a voice folder, a checkpoint, an XTTS folder or run, ``joe``)
    sounds next to ``dataset``'s own recordings: WER/CER, speaker similarity, F0, 86 Hz lock, pace."""
    from voicetune.evaluation.report import evaluate_voice
    from voicetune.evaluation.targets import synthesizer_for

    synth = synthesizer_for(voice, device=device, backend=backend)
    texts = sentences if isinstance(sentences, list) or sentences is None else Path(sentences)
    return evaluate_voice(synth, dataset, texts, asr_model, hop_length=synth.hop_length, target=str(voice))


def export(run: PathLike, output: PathLike, *, fmt: str | None = None, which: str = "best", name: str | None = None,
           samples: bool = True, evaluate: bool = True, overwrite: bool = False,
           log: Callable[[str], None] = print) -> ExportResult:
    """A run (its best or last checkpoint) or a checkpoint folder -> a voice folder in ``fmt``
    (default: the backend's own: piper, hf for MMS, xtts), with model card, report.html and samples."""
    from voicetune.exporter import export_run

    return export_run(run, output, fmt=fmt, which=which, name=name, samples=samples, evaluate=evaluate,
                      overwrite=overwrite, log=log)


def say(text: str, voice: Voice | PathLike, out: PathLike | None = None, *, speaker: int | str | None = None,
        length_scale: float | None = None, noise_scale: float | None = None, noise_w: float | None = None,
        seed: int | None = None, device: str = "auto", sentence_silence: float = 0.2,
        clean: bool = False, speaker_wav: list[PathLike] | None = None,
        language: str | None = None) -> tuple[np.ndarray, int]:
    """Speak ``text`` with any voice: a Piper/VITS one (``joe``, an .onnx, a voice folder, a run or
    checkpoint; see voicetune.synth.say) or an XTTS one (an exported folder, a run or checkpoint;
    ``speaker_wav`` and ``language`` are XTTS's). Returns (float32 audio, sample rate) and writes
    ``out`` if given. An option the voice's backend does not use is an error."""
    from voicetune import backends
    from voicetune.errors import VoicetuneError
    from voicetune.synth import Voice as _Voice

    xtts = not isinstance(voice, _Voice) and backends.for_voice(voice).name == "xtts"
    unused = ({"speaker": speaker, "length_scale": length_scale, "noise_scale": noise_scale, "noise_w": noise_w,
               "clean": clean or None} if xtts else {"speaker_wav": speaker_wav or None, "language": language})
    given = [k for k, v in unused.items() if v is not None]
    if given:
        raise VoicetuneError(f"{', '.join(given)}: not used by {'an XTTS' if xtts else 'a Piper/VITS'} voice ({voice})")
    if xtts:
        from voicetune.audio import write_wav
        from voicetune.models.xtts.voice import open_voice, say_xtts

        v = open_voice(voice, device=device)
        audio = say_xtts(text, v, speaker_wavs=[Path(w) for w in speaker_wav] if speaker_wav else None,
                         language=language, seed=seed, sentence_silence=sentence_silence)
        if out is not None:
            write_wav(Path(out), audio, v.sample_rate)
        return audio, v.sample_rate
    from voicetune.synth import say as _say

    return _say(text, voice, out, speaker=speaker, length_scale=length_scale, noise_scale=noise_scale,
                noise_w=noise_w, seed=seed, device=device, sentence_silence=sentence_silence, clean=clean)
