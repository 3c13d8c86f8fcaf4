"""`voicetune runs RUN`: what a run did, from its folder, and what to try next."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from voicetune.commands.progress import results


def runs(
    run: Path = typer.Argument(..., help="A run folder (the -o of `voicetune train`).", metavar="RUN"),
    as_json: bool = typer.Option(False, "--json", help="Print checkpoints and diagnosis as JSON only."),
) -> None:
    """List a run's checkpoints (step, train/eval losses, eval metrics, the best one), then the
    diagnosis: overfitting, instability, a loss that never moved, a schedule that never fired, buzz
    or pitch problems of the best checkpoint — each with the change to try."""
    from rich.table import Table

    from voicetune.run_report import diagnosis, read_events, run_config
    from voicetune.trainer.checkpoints import list_checkpoints

    rows = list_checkpoints(run)
    best = next((r for r in rows if r["best"]), rows[-1] if rows else None)
    findings = diagnosis(read_events(run), best["eval"] if best and best["eval"] else None, run_config(run))
    if as_json:
        typer.echo(json.dumps({"run": str(run), "checkpoints": rows, "diagnosis": findings}, indent=2, default=str))
        return
    if not rows:
        results.print(f"{run}: no checkpoints yet")
    else:
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
        results.print(table)
    results.print("\n[bold]Diagnosis[/]")
    if findings:
        for line in findings:
            results.print(f"- {line}", markup=False, highlight=False)
    else:
        results.print("Nothing stands out: the losses fell and settled, the monitors raised no warning"
                      + (", and the best checkpoint's listening scores are within the limits." if best and best["eval"]
                         else "; no checkpoint was evaluated by listening (`voicetune evaluate RUN -d DATASET`)."))


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
