"""`voicetune demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.commands.progress import console, progress_bar


def demo(
    output: Path = typer.Option(Path("demo-output"), "-o", "--output", help="Folder for everything the demo makes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run voicetune end to end offline on speech synthesized from what the packages ship.

    Example: voicetune demo -o /tmp/vt-demo
    """
    from voicetune.demo import run_demo

    with progress_bar(not quiet) as progress:
        r = run_demo(output, progress)
    console.print(f"recordings: {', '.join(str(p) for p in r.recordings)}")
    console.print(
        f"[green]dataset[/] {r.dataset}: {r.clips} clips, {r.minutes:.1f} min; prepare took {r.prepare_seconds:.0f} s "
        f"({r.realtime_factor:.1f}x real time); transcript WER vs the known text {100 * r.wer:.1f}%"
    )
    console.print(f"report: {r.dataset / 'report.md'}")
