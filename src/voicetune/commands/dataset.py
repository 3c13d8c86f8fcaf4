"""`voicetune dataset report|validate|split|merge`."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.commands.progress import console

app = typer.Typer(help="Inspect and manage dataset folders.", no_args_is_help=True)


@app.command("report")
def report(dataset: Path = typer.Argument(..., help="Dataset folder.")) -> None:
    """(Re)write and print the dataset's quality report.

    Example: voicetune dataset report my-voice
    """
    from voicetune.data.dataset import load_dataset
    from voicetune.data.report import write_report

    text = write_report(load_dataset(dataset), dataset)
    console.print(text, markup=False, highlight=False)


@app.command("validate")
def validate(dataset: Path = typer.Argument(..., help="Dataset folder.")) -> None:
    """Check that every file exists, decodes and matches its duration, texts are non-empty and the
    CSVs are well-formed. Exits 1 with the list of problems.

    Example: voicetune dataset validate my-voice
    """
    from voicetune.data.manage import validate as run_validate

    problems = run_validate(dataset)
    for p in problems:
        console.print(f"[red]✗[/] {p}", highlight=False)
    if problems:
        console.print(f"{len(problems)} problem(s) in {dataset}")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] {dataset} is valid")


@app.command("split")
def split(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction"),
    seed: int = typer.Option(1234, "--seed"),
) -> None:
    """Draw a new seeded train/eval split (stratified by speaker; eval never empty).

    Example: voicetune dataset split my-voice --eval-fraction 0.2 --seed 7
    """
    from voicetune.data.manage import resplit

    ds = resplit(dataset, eval_fraction, seed)
    console.print(f"{dataset}: {len(ds.train)} train / {len(ds.eval)} eval")


@app.command("merge")
def merge(
    datasets: list[Path] = typer.Argument(..., help="Two or more dataset folders."),
    output: Path = typer.Option(..., "-o", "--output", help="New dataset folder."),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction"),
    seed: int = typer.Option(1234, "--seed"),
) -> None:
    """Merge datasets into a new folder (ids de-duplicated, clips re-split).

    Example: voicetune dataset merge session1 session2 -o all-sessions
    """
    from voicetune.data.manage import merge as run_merge

    ds = run_merge(datasets, output, eval_fraction, seed)
    console.print(f"{output}: {len(ds.clips)} clips, {ds.minutes:.1f} min ({len(ds.train)} train / {len(ds.eval)} eval)")
