"""`voicetune prepare`: recordings -> dataset folder."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from voicetune.commands.progress import console, progress_bar
from voicetune.devices import CHOICES


def prepare(
    inputs: list[Path] = typer.Argument(..., help="Audio files (mp3, wav, flac, ogg) or folders of them."),
    output: Path = typer.Option(..., "-o", "--output", help="Dataset folder to create or add to."),
    language: str = typer.Option(None, "--language", "-l", help="Language code of the speech (default: the "
                                 "dataset's, else en)."),
    asr_model: str = typer.Option(
        None, "--asr-model", help="faster-whisper size name, a local CTranslate2 folder, or omit for the bundled tiny.en."
    ),
    srt: list[Path] = typer.Option(
        None, "--srt", help="Subtitle file(s) to use instead of ASR, matched to the audio file with the same stem "
        "(with one audio file, any name)."
    ),
    srt_encoding: str = typer.Option(None, "--srt-encoding", help="Text encoding of subtitle files (default UTF-8)."),
    sample_rate: int = typer.Option(None, "--sample-rate", help="Sample rate of the dataset's wavs (default: the "
                                    "dataset's, else 22050)."),
    min_seconds: float = typer.Option(1.0, "--min-seconds", help="Shortest clip."),
    max_seconds: float = typer.Option(11.0, "--max-seconds", help="Longest clip (XTTS drops clips over ~11.6 s)."),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction", help="Share of clips held out for evaluation."),
    speaker: str = typer.Option(None, "--speaker", help="Speaker name written into the metadata."),
    seed: int = typer.Option(1234, "--seed", help="Seed of the train/eval split."),
    normalize_loudness: float = typer.Option(
        -23.0, "--normalize-loudness", help="Target loudness in LUFS for every clip (peaks kept below -1 dBFS)."
    ),
    no_normalize: bool = typer.Option(False, "--no-normalize", help="Keep the recorded loudness."),
    device: str = typer.Option("auto", "--device", help=f"Device for ASR: {CHOICES} (auto: a GPU if there is one)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary only."),
) -> None:
    """Turn raw recordings into a clean, verified dataset folder.

    Speech is found with Silero VAD, transcribed with faster-whisper (or taken from .srt/.vtt
    subtitles next to the audio), cut only in pauses between words into clips of
    --min-seconds..--max-seconds, checked, loudness-normalised and split into train/eval.
    Running it again on the same folder adds new recordings and keeps earlier clips, edits, caches
    and any files of yours in it; a non-empty -o that is not a dataset is refused.

    Examples:

      voicetune prepare interview.mp3 -o my-voice

      voicetune prepare recordings/ -o my-voice --speaker anna --eval-fraction 0.15

      voicetune prepare talk.wav --srt talk.srt -o my-voice
    """
    from voicetune.data.build import PrepareOptions
    from voicetune.data.build import prepare as run_prepare
    from voicetune.data.dataset import load_dataset
    from voicetune.data.report import warnings_for

    opts = PrepareOptions(
        language=language, asr_model=asr_model, sample_rate=sample_rate, min_seconds=min_seconds,
        max_seconds=max_seconds, eval_fraction=eval_fraction, speaker=speaker, seed=seed,
        normalize_loudness=None if no_normalize else normalize_loudness, device=device,
        srt=[str(s) for s in srt or []], srt_encoding=srt_encoding,
    )
    log = (lambda *_: None) if as_json else console.print
    with progress_bar(not (quiet or as_json)) as progress:
        result = run_prepare(inputs, output, opts, progress=progress, log=log)
    ds = load_dataset(output)
    summary = result.summary(ds)
    summary["warnings"] = warnings_for(ds)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    console.print(
        f"[green]dataset[/] {output}: {summary['clips']} clips, {summary['minutes']:.1f} min "
        f"({summary['train']} train / {summary['eval']} eval); added {result.added}, quarantined {result.quarantined}"
        + (f", {len(result.skipped_sources)} source(s) already in the dataset" if result.skipped_sources else "")
        + f"; {result.seconds:.0f} s ({summary['realtime_factor']}x real time)"
    )
    for w in summary["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(f"report: {output / 'report.md'}")
