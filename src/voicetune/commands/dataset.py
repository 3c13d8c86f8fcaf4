"""`voicetune dataset report|validate|split|merge|import|import-hf|export`."""

from __future__ import annotations

from pathlib import Path

import typer

from voicetune.commands.progress import console

app = typer.Typer(help="Inspect and manage dataset folders.", no_args_is_help=True)


@app.command("report")
def report(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the report's figures as JSON only (minutes, clips, "
                                 "speakers, durations...)."),
) -> None:
    """(Re)write and print the dataset's quality report (rendered on a terminal, markdown into a file).

    Example: voicetune dataset report my-voice > report.md
    """
    from voicetune.commands.progress import print_markdown
    from voicetune.data.dataset import load_dataset
    from voicetune.data.report import stats, write_report

    ds = load_dataset(dataset)
    text = write_report(ds, dataset)
    if as_json:
        import json

        typer.echo(json.dumps(stats(ds), indent=2, default=str))
        return
    print_markdown(text)


@app.command("validate")
def validate(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    base: str = typer.Option(None, "--base", help="Also check the text against this Piper/VITS base (as `train "
                             "--base` does first): the espeak-ng voice and the phonemes its map has no id for."),
    as_json: bool = typer.Option(False, "--json", help="Print {valid, problems, notes} as JSON only."),
) -> None:
    """Check that every file exists, decodes and matches its duration, texts are non-empty and the
    CSVs are well-formed. Exits 1 with the list of problems. With --base, also print the base's
    phoneme coverage of the text (clips with phonemes it lacks are left out of training).

    Example: voicetune dataset validate my-voice --base joe
    """
    from voicetune.commands.progress import results
    from voicetune.data.manage import validate as run_validate
    from voicetune.errors import VoicetuneError

    problems = run_validate(dataset)
    notes: list[str] = []
    if base is not None:
        from voicetune import backends

        try:
            notes = [f"--base {base}: {line}" for line in backends.check_text(dataset, base)]
        except VoicetuneError as exc:
            if str(exc) not in problems:  # a dataset.json that does not load is already listed
                problems.append(str(exc))
    if as_json:
        import json

        typer.echo(json.dumps({"dataset": str(dataset), "valid": not problems, "problems": problems, "notes": notes},
                              indent=2))
        if problems:
            raise typer.Exit(1)
        return
    for line in notes:
        results.print(line, highlight=False, soft_wrap=True)
    for p in problems:
        results.print(f"[red]✗[/] {p}", highlight=False, soft_wrap=True)  # one problem, one line
    if problems:
        results.print(f"{len(problems)} problem(s) in {dataset}")
        raise typer.Exit(1)
    results.print(f"[green]✓[/] {dataset} is valid")


@app.command("split")
def split(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction"),
    seed: int = typer.Option(1234, "--seed"),
) -> None:
    """Draw a new seeded train/eval split (stratified by speaker; eval never empty). The dataset is
    rewritten as one unit: an interruption leaves the previous split intact.

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
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing voicetune dataset at -o."),
) -> None:
    """Merge datasets into a new folder (ids de-duplicated, clips and quarantine alike; clips re-split).

    Example: voicetune dataset merge session1 session2 -o all-sessions
    """
    from voicetune.data.manage import merge as run_merge

    ds = run_merge(datasets, output, eval_fraction, seed, overwrite=overwrite, log=console.print)
    console.print(f"{output}: {len(ds.clips)} clips, {ds.minutes:.1f} min ({len(ds.train)} train / {len(ds.eval)} eval)")


@app.command("import-hf")
def import_hf(
    name: str = typer.Argument(..., help="A save_to_disk folder, a folder of data files, or a hub id (online)."),
    output: Path = typer.Option(..., "-o", "--output", help="New dataset folder."),
    audio_column: str = typer.Option("audio", "--audio-column"),
    text_column: str = typer.Option("text", "--text-column"),
    speaker_column: str = typer.Option(None, "--speaker-column", help="Column naming each clip's speaker."),
    split: str = typer.Option(None, "--split", help="Split to import (default: train, or the only one)."),
    config_name: str = typer.Option(None, "--config-name", help="The hub dataset's configuration."),
    language: str = typer.Option(None, "--language", help="Spell numbers out in this language (num2words code, "
                                 "e.g. es); default: keep digits."),
    sample_rate: int = typer.Option(None, "--sample-rate", help="Default: the first clip's own rate."),
    min_seconds: float = typer.Option(1.0, "--min-seconds"),
    max_seconds: float = typer.Option(20.0, "--max-seconds"),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction"),
    seed: int = typer.Option(1234, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing voicetune dataset at -o."),
) -> None:
    """Convert a Hugging Face dataset into a dataset folder, with prepare's clip checks (duration
    limits, SNR, clipping -> quarantine with the reason), loudness normalisation and report.

    Example: voicetune dataset import-hf ./my-hf-dataset --text-column sentence -o my-voice
    """
    from voicetune.data.hf_import import HfImportOptions, import_hf_dataset

    opts = HfImportOptions(audio_column=audio_column, text_column=text_column, speaker_column=speaker_column,
                           split=split, config=config_name, language=language, sample_rate=sample_rate,
                           min_seconds=min_seconds, max_seconds=max_seconds, eval_fraction=eval_fraction, seed=seed)
    r = import_hf_dataset(name, output, opts, overwrite=overwrite, log=console.print)
    console.print(f"{output}: {r.kept} clips from {r.rows} rows ({r.quarantined} quarantined, see report.md)")


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="The other tool's dataset folder (or its metadata CSV)."),
    output: Path = typer.Option(..., "-o", "--output", help="New dataset folder."),
    fmt: str = typer.Option("auto", "--format", "-f", help="ljspeech, piper, coqui, or auto (from the files present)."),
    audio_dir: Path = typer.Option(None, "--audio-dir", help="piper: the folder its CSV's file names are in "
                                   "(default: the CSV's folder, then its wavs/)."),
    speaker: str = typer.Option(None, "--speaker", help="Speaker name for rows that name none."),
    language: str = typer.Option("en", "--language", "-l", help="Language code of the speech."),
    sample_rate: int = typer.Option(None, "--sample-rate", help="Default: the first clip's own rate."),
    min_seconds: float = typer.Option(1.0, "--min-seconds"),
    max_seconds: float = typer.Option(11.0, "--max-seconds", help="Longest clip (XTTS drops clips over ~11.6 s)."),
    normalize_loudness: float = typer.Option(-23.0, "--normalize-loudness", help="Target loudness in LUFS."),
    no_normalize: bool = typer.Option(False, "--no-normalize", help="Keep the recorded loudness."),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction", help="When the source has no split of its own."),
    seed: int = typer.Option(1234, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing voicetune dataset at -o."),
    as_json: bool = typer.Option(False, "--json", help="Print the import's counts as JSON only."),
) -> None:
    """Convert an LJSpeech, piper or coqui/AllTalk dataset into a dataset folder. Transcripts are
    kept (no ASR); audio gets prepare's checks (duration limits, SNR, clipping, truncation ->
    quarantine with the reason) and loudness normalisation; coqui's train/eval split is kept.

    Example: voicetune dataset import ~/LJSpeech-1.1 -o lj
    """
    from voicetune.data.interop import ImportOptions, import_dataset
    from voicetune.data.whole_clips import ClipLimits

    limits = ClipLimits(min_seconds, max_seconds, None if no_normalize else normalize_loudness)
    opts = ImportOptions(format=fmt, audio_dir=audio_dir, speaker=speaker, language=language, sample_rate=sample_rate,
                         limits=limits, eval_fraction=eval_fraction, seed=seed)
    r = import_dataset(path, output, opts, overwrite=overwrite, log=console.print)
    _answer(r, as_json)


@app.command("export")
def export(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    fmt: str = typer.Option(..., "--format", "-f", help="ljspeech, piper or hf."),
    output: Path = typer.Option(..., "-o", "--output", help="New folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier export at -o."),
    as_json: bool = typer.Option(False, "--json", help="Print the export's counts as JSON only."),
) -> None:
    """Write the dataset's train and eval clips (not the quarantine) in another tool's layout:
    LJSpeech, piper1-gpl's training CSV + wavs/, or a Hugging Face dataset (save_to_disk, train/test).

    Example: voicetune dataset export my-voice --format piper -o my-voice-piper
    """
    from voicetune.data.interop import export_dataset

    r = export_dataset(dataset, output, fmt, overwrite=overwrite, log=console.print)
    _answer(r, as_json)


def _answer(result, as_json: bool) -> None:
    """An import's or export's result: its notes (stderr) and summary line, or all of it as JSON."""
    from voicetune.commands.progress import results

    if as_json:
        import dataclasses
        import json

        typer.echo(json.dumps(dataclasses.asdict(result), indent=2, default=str))
        return
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    results.print(result.summary(), highlight=False, soft_wrap=True)
