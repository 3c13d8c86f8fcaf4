"""`voicetune doctor`."""

from __future__ import annotations

import typer

from voicetune.commands.progress import console


def doctor(
    base: str = typer.Option(None, "--base", help="Also check an XTTS base folder (the files training needs)."),
) -> None:
    """Check disk, RAM, CPU, GPU/CUDA, backends and the bundled models.

    Exits 1 when something required is missing.

    Example: voicetune doctor
    """
    from rich.table import Table

    from voicetune.doctor import run_checks

    table = Table(show_header=True, header_style="bold")
    table.add_column("check")
    table.add_column("")
    table.add_column("detail")
    checks = run_checks()
    if base:
        from voicetune.models.xtts.checks import xtts_base_checks

        checks += xtts_base_checks(base)
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[red]missing[/]" if c.required else "[yellow]optional[/]")
        table.add_row(c.name, mark, c.detail)
    console.print(table)
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(1)
