"""A shared rich progress display (bars with ETA) that commands switch off with --quiet/--json."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)  # diagnostics: progress, notes, "wrote X"
results = Console()  # what a verb answers (a report, a table, a verdict): stdout, so `> file` keeps it


def print_markdown(text: str) -> None:
    """Rendered on a terminal; the markdown itself when stdout is a file or a pipe."""
    if results.is_terminal:
        from rich.markdown import Markdown

        results.print(Markdown(text))
    else:
        results.print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def progress_bar(enabled: bool = True):
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield progress
