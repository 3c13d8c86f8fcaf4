"""`voicetune export`."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.commands.progress import console


def export(
    run: Path = typer.Argument(..., help="A run folder (its best checkpoint) or one checkpoint folder."),
    output: Path = typer.Option(..., "-o", "--output", help="Voice folder to write."),
    fmt: str = typer.Option(None, "--format", help="piper (.onnx + .onnx.json for piper-tts; Piper and MMS runs) | piper-ckpt (a Lightning .ckpt "
                            "piper's trainer continues; Piper runs) | hf "
                            "(transformers folder, MMS runs) | xtts / xtts-fp16 (coqui XTTS folder, XTTS runs). "
                            "Default: the run's own (piper, hf, xtts)."),
    which: str = typer.Option("best", "--checkpoint", help="best or last (for a run folder)."),
    name: str = typer.Option(None, "--name", help="File name of the voice (default: the folder's name)."),
    no_samples: bool = typer.Option(False, "--no-samples", help="Skip the spoken samples."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Do not evaluate the chosen checkpoint when the run "
                                 "has no score for it (the card then shows only the scores the run has)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a voice folder an earlier export wrote at -o "
                                   "(any other non-empty folder is refused)."),
) -> None:
    """Export a trained voice (Piper ONNX, transformers or XTTS folder) with model card, report.html and samples.

    Examples:

      voicetune export runs/anna -o voices/anna

      voicetune export runs/anna/checkpoints/step-000400 -o voices/anna-400

      voicetune export runs/mms-spa --format hf -o voices/mms-spa-tuned
    """
    from voicetune.exporter import export_run

    r = export_run(run, output, fmt=fmt, which=which, name=name, samples=not no_samples,
                   evaluate=not no_eval, overwrite=overwrite, log=console.print)
    console.print(f"[green]voice[/] {r.folder}: {r.onnx.name} from {r.checkpoint}")
    if r.onnx.name == "model.pth":  # an XTTS folder (--format xtts)
        console.print(f"speak with it: voicetune say \"Hello.\" --voice {r.folder} [--speaker-wav ref.wav]")
        return
    if r.onnx.suffix == ".ckpt":  # --format piper-ckpt
        console.print(f"continue it in piper's trainer: python -m piper.train fit --ckpt_path {r.onnx} ... "
                      f"(the full command: {r.folder / 'MODEL_CARD.md'}); speak with it: voicetune say \"Hello.\" "
                      f"--voice {r.onnx}")
        return
    if r.onnx.suffix != ".onnx":  # a transformers folder (--format hf)
        console.print(f"speak with it: transformers.pipeline(\"text-to-speech\", \"{r.folder}\")")
        return
    console.print(f"speak with it: voicetune say \"Hello.\" --voice {r.onnx}   (or piper-tts: piper -m {r.onnx})")
