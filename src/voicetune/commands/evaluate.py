"""`voicetune evaluate`: how a voice sounds to a listener, next to the dataset's own recordings."""

from __future__ import annotations

import json as jsonlib
import os
from pathlib import Path

import typer

from voicetune.devices import CHOICES


def evaluate(
    target: Path = typer.Argument(
        ...,
        help="A Piper voice .onnx, a voice folder, a VITS checkpoint folder, a run folder (every checkpoint), or [bold]joe[/].",
    ),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="Dataset folder of the target speaker (from `voicetune prepare`)."),
    sentences: Path = typer.Option(
        None, "--sentences", help="Text file, one evaluation sentence per line (default: 20 built-in English sentences)."
    ),
    asr_model: str = typer.Option(
        None, "--asr-model", help="Whisper model: omit for the bundled tiny.en, a CTranslate2 folder, or a faster-whisper name."
    ),
    redo: bool = typer.Option(False, "--redo", help="For a run: evaluate checkpoints that already have a row in eval.jsonl again."),
    device: str = typer.Option("auto", "--device", help=f"Device for synthesis: {CHOICES} (auto: a GPU if there is one)."),
    backend: str = typer.Option(
        "auto", "--backend", help="auto (onnxruntime for Piper .onnx voices, torch for checkpoints), torch or onnx."
    ),
    json: bool = typer.Option(False, "--json", help="Print the results as JSON (with per-sentence transcripts) only."),
) -> None:
    """Judge a voice by what a listener hears: WER/CER, speaker similarity, pitch, buzz, pace, RTF.

    Speaks the evaluation sentences, transcribes them with Whisper, compares the speaker embedding
    with the dataset's eval clips (resemblyzer) and checks F0 for a decoder buzz locked at
    sample_rate/hop (86 Hz at 22.05 kHz). The dataset's own recordings are scored beside it. For
    a run (or a checkpoint inside one) each result is appended to RUN/eval.jsonl.

    Examples:

      voicetune evaluate joe --dataset my-voice

      voicetune evaluate runs/anna --dataset anna-data

      voicetune evaluate voices/anna/anna.onnx -d anna-data --sentences lines.txt --json
    """
    from voicetune.commands.progress import console
    from voicetune.evaluation import append_eval_row, evaluate_voice, load_sentences, synthesizer_for
    from voicetune.evaluation.runlog import eval_rows, log_tensorboard, run_of, step_of
    from voicetune.evaluation.targets import is_run_dir

    texts = load_sentences(sentences)
    jobs: list[tuple[str, Path | None, Path | None]] = []  # (target, run folder, checkpoint)
    if is_run_dir(target):
        from voicetune.trainer.checkpoints import checkpoint_dirs

        done = set() if redo else set(eval_rows(target))
        ckpts = checkpoint_dirs(target)
        if not ckpts:
            from voicetune.errors import VoicetuneError

            raise VoicetuneError(f"{target}: the run has no checkpoints yet; train first or pass a voice")
        jobs = [(str(c), target, c) for c in ckpts if step_of(c) not in done]
        if not jobs and not json:
            console.print(f"{target}: every checkpoint already has an eval row (use --redo to evaluate again)")
    else:
        run = run_of(target) if target.is_dir() else None
        jobs = [(str(target), run, target if run else None)]

    results = []
    for label, run, ckpt in jobs:
        with console.status(f"[bold]{label}[/]: loading") as status:
            synth = synthesizer_for(label, device=device, backend=backend)
            result = evaluate_voice(
                synth, dataset, texts, asr_model, hop_length=synth.hop_length, target=label,
                progress=lambda stage, label=label: status.update(f"[bold]{label}[/]: {stage}"),
            )
        if run is not None and ckpt is not None:
            rel = os.path.relpath(ckpt.resolve(), run.resolve())
            step = step_of(ckpt)
            append_eval_row(run, result.row(step=step, checkpoint=rel))
            if step is not None:
                log_tensorboard(run, step, result.scores())
        results.append(result)
    if json:
        typer.echo(jsonlib.dumps([{**r.row(), "transcripts": r.transcripts} for r in results], indent=2, default=float))
        return
    if results:
        _print_table(results)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def _num(v: float | None, fmt: str = "{:.3f}") -> str:
    return "-" if v is None else fmt.format(v)


def _print_table(results: list) -> None:
    from rich.console import Console
    from rich.table import Table

    from voicetune.evaluation.pitch import LOCK_TOLERANCE
    from voicetune.evaluation.report import problems

    first = results[0]
    table = Table(title=f"evaluation on {first.dataset} ({first.sentences} sentences, {first.asr_model})")
    table.add_column("metric")
    for r in results:
        table.add_column(Path(r.target).name or r.target, justify="right")
    table.add_column("dataset (real speech)", justify="right", style="dim")

    def row(name: str, cells: list[str], ref: str) -> None:
        table.add_row(name, *cells, ref)

    row("WER", [_pct(r.wer) for r in results], _pct(first.reference_wer))
    row("CER", [_pct(r.cer) for r in results], "")
    row("speaker similarity", [_num(r.similarity) for r in results], f"{_num(first.reference_similarity)} (train vs eval)")
    row("median F0", [_num(r.median_f0, "{:.0f} Hz") for r in results], _num(first.dataset_median_f0, "{:.0f} Hz"))
    lock = f"F0 locked at {first.frame_rate:.1f} Hz ±{LOCK_TOLERANCE:.0%}"
    row(lock, [_lock_cell(r) for r in results], _pct(first.dataset_lock_share))
    row("duration ratio (s/phoneme)", [_num(r.duration_ratio, "{:.2f}x") for r in results],
        _num(first.dataset_seconds_per_phoneme and 1000 * first.dataset_seconds_per_phoneme, "{:.0f} ms/phoneme"))
    row("clipping (samples at full scale)", [f"{100 * r.clipping:.2f} %" for r in results], "")
    row("silence at start / end", [f"{r.leading_silence:.2f} / {r.trailing_silence:.2f} s" for r in results], "")
    row("combined score (for selection)", [_num(r.combined) for r in results], "")
    row("RTF (synthesis)", [f"{r.rtf:.3f}" for r in results], "")
    row("evaluation time", [f"{r.eval_seconds:.0f} s" for r in results], "")
    out = Console()
    out.print(table)
    for r in results:
        for line in problems(r):
            out.print(f"[yellow]warning[/] {Path(r.target).name}: {line}", highlight=False)


def _lock_cell(r) -> str:
    from voicetune.evaluation.report import LOCK_MARGIN

    text = _pct(r.lock_share)
    return f"[bold red]{text}[/]" if r.lock_share > r.dataset_lock_share + LOCK_MARGIN else text
