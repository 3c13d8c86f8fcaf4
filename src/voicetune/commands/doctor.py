"""`voicetune doctor`."""

from __future__ import annotations

import typer

from voicetune.commands.progress import results


def doctor(
    base: str = typer.Option(None, "--base", help="Also check an XTTS base folder (the files training needs)."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON only."),
) -> None:
    """Check disk, RAM, CPU, GPU/CUDA, backends and the bundled models.

    Exits 1 when something required is missing.

    Example: voicetune doctor
    """
    from voicetune.doctor import run_checks

    checks = run_checks()
    if base:
        from voicetune.models.xtts.checks import xtts_base_checks

        checks += xtts_base_checks(base)
    if as_json:
        import dataclasses
        import json

        typer.echo(json.dumps([dataclasses.asdict(c) for c in checks], indent=2))
    else:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold")
        for column in ("check", "", "detail"):
            table.add_column(column)
        for c in checks:
            mark = "[green]ok[/]" if c.ok else ("[red]missing[/]" if c.required else "[yellow]optional[/]")
            table.add_row(c.name, mark, c.detail)
        results.print(table)
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(1)
