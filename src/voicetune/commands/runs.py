"""`voicetune runs RUN`: what a run did, from its folder."""

from __future__ import annotations

from pathlib import Path

import typer


def runs(run: Path = typer.Argument(..., help="A run folder (the -o of `voicetune train`).")) -> None:
    """List a run's checkpoints: step, train/eval losses, eval metrics, and which one is best."""
    from rich.console import Console
    from rich.table import Table

    from voicetune.trainer.checkpoints import list_checkpoints

    rows = list_checkpoints(run)
    console = Console()
    if not rows:
        console.print(f"{run}: no checkpoints yet")
        return
    metric_keys = sorted({k for r in rows for k in r["metrics"]}, key=lambda k: (not k.startswith("train"), k))
    # eval.jsonl rows hold ~20 numbers; the table shows the ones checkpoints are chosen by
    shown = ("wer", "similarity", "lock_share", "combined")
    eval_keys = [k for k in shown if any(isinstance(r["eval"].get(k), (int, float)) for r in rows)]
    table = Table(title=str(run))
    table.add_column("step", justify="right")
    table.add_column("epoch", justify="right")
    for key in metric_keys + eval_keys:
        table.add_column(key, justify="right")
    table.add_column("best")
    for r in rows:
        cells = [str(r["step"]), str(r["epoch"])]
        cells += [_fmt(r["metrics"].get(k)) for k in metric_keys]
        cells += [_fmt(r["eval"].get(k)) for k in eval_keys]
        cells.append("★ best" if r["best"] else "")
        table.add_row(*cells, style="bold green" if r["best"] else None)
    console.print(table)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
