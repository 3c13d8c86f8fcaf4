"""`voicetune export`."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.commands.progress import console


def export(
    run: Path = typer.Argument(..., help="A run folder (its best checkpoint) or one checkpoint folder."),
    output: Path = typer.Option(..., "-o", "--output", help="Voice folder to write."),
    fmt: str = typer.Option("piper", "--format", help="piper (.onnx + .onnx.json for piper-tts)."),
    which: str = typer.Option("best", "--checkpoint", help="best or last (for a run folder)."),
    name: str = typer.Option(None, "--name", help="File name of the voice (default: the folder's name)."),
    no_samples: bool = typer.Option(False, "--no-samples", help="Skip the spoken samples."),
) -> None:
    """Export a trained voice: Piper ONNX + config, model card and samples by length.

    Examples:

      voicetune export runs/anna -o voices/anna

      voicetune export runs/anna/checkpoints/step-000400 -o voices/anna-400
    """
    from voicetune.export import export_run

    r = export_run(run, output, fmt=fmt, which=which, name=name, samples=not no_samples)
    console.print(f"[green]voice[/] {r.folder}: {r.onnx.name} from {r.checkpoint}")
    console.print(f"speak with it: voicetune say \"Hello.\" --voice {r.onnx}   (or piper-tts: piper -m {r.onnx})")
