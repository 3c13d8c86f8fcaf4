"""`voicetune export` of a Piper/VITS run: ``<name>.onnx`` + ``<name>.onnx.json`` (piper-tts loads
them) and samples spoken through piper-tts's own runtime, or (``piper-ckpt``) a training checkpoint
for piper's own trainer (export_ckpt.py); the card, report and marker come from
voicetune.exporter.finish_voice like every format's."""

from __future__ import annotations

from pathlib import Path


def export_vits_run(run: Path, output: Path, build, *, fmt: str = "piper", which: str = "best",
                    name: str | None = None, samples: bool = True, evaluate: bool = True, log=print):
    from voicetune.exporter import ExportResult, finish_voice, model_card
    from voicetune.models.vits.export import export_piper
    from voicetune.models.vits.run import RUNS, checkpoint_for, load_run_model

    ckpt = checkpoint_for(run, which)
    run_dir = RUNS.run_of(run) or ckpt.parent.parent
    info = RUNS.read(run_dir)
    name = name or output.name
    if fmt == "piper-ckpt":
        from voicetune.models.vits.export_ckpt import export_piper_ckpt

        return export_piper_ckpt(ckpt, run_dir, info, output, build, name=name, fmt=fmt, samples=samples,
                                 evaluate=evaluate, log=log)
    model, voice = load_run_model(ckpt)
    with build as tmp:
        export_piper(model, voice, tmp / f"{name}.onnx")
        finish_voice(tmp, run_dir, info, ckpt, name=name, fmt=fmt, card=model_card(run_dir, info, ckpt, name),
                     evaluate=evaluate, log=log)
        written = piper_samples(tmp, name) if samples else []
        build.commit()
    return ExportResult(output, output / f"{name}.onnx", output / f"{name}.onnx.json", ckpt,
                        [output / p.relative_to(tmp) for p in written])


def piper_samples(folder: Path, name: str) -> list[Path]:
    """Spoken by the exported ONNX through piper-tts's runtime: what users will hear."""
    import numpy as np
    from piper import PiperVoice

    from voicetune.exporter import SAMPLE_TEXTS, write_samples

    voice = PiperVoice.load(str(folder / f"{name}.onnx"))
    return write_samples(folder, SAMPLE_TEXTS, lambda text, k: (
        np.concatenate([c.audio_float_array for c in voice.synthesize(text)]), voice.config.sample_rate))
