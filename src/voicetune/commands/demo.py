"""`voicetune demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.commands.progress import console, progress_bar


def demo(
    output: Path = typer.Option(Path("demo-output"), "-o", "--output", help="Folder for everything the demo makes."),
    minutes: float = typer.Option(12.0, "--minutes", help="Wall-clock budget for the whole demo."),
    quick: bool = typer.Option(False, "--quick", help="A few sentences and 2 training steps (checks the mechanics)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run voicetune end to end offline: record a target speaker, prepare, fine-tune Joe toward it,
    evaluate before/after, export a Piper voice and speak with it.

    Examples:

      voicetune demo

      voicetune demo --minutes 30 -o /tmp/vt-demo
    """
    from rich.table import Table

    from voicetune.demo import run_demo

    with progress_bar(not quiet) as progress:
        r = run_demo(output, minutes=minutes, quick=quick, log=console.print, progress=progress)
    table = Table(title="speaker similarity to the target (resemblyzer) and intelligibility (Whisper tiny.en)")
    for col in ("voice", "similarity", "WER", "median F0", "86 Hz lock"):
        table.add_column(col, justify="right" if col != "voice" else "left")

    def fmt(v, pct=False):
        return "-" if v is None else (f"{100 * v:.1f} %" if pct else f"{v:.3f}")

    for row in r.table:
        table.add_row(row["who"], fmt(row["similarity"]), fmt(row["wer"], True),
                      "-" if row["median_f0"] is None else f"{row['median_f0']:.0f} Hz", fmt(row["lock"], True))
    console.print(table)
    console.print(r.verdict)
    console.print(f"dataset {r.dataset} ({r.clips} clips, {r.minutes:.1f} min; transcripts {100 * r.transcript_wer:.1f} % WER "
                  f"vs the known text); run {r.run}; voice {r.voice}; spoken: {r.spoken}; took {r.seconds / 60:.1f} min")
