"""Listen and Export tabs: a checkpoint's samples and evaluation row, `say` with it, an A/B of two
checkpoints, and export + zip.

Speaking goes through voicetune.api.say (the voice loaders `voicetune say` uses), and
exporting through voicetune.exporter.export_run, the function `voicetune export` calls: what the UI
plays is what the CLI would write.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from voicetune.errors import VoicetuneError
from voicetune.ui.runs import checkpoints, run_dir
from voicetune.ui.workspace import SAID, Workspace


def steps(ws: Workspace, run: str) -> list[str]:
    """Checkpoint folder names of a run, newest first."""
    return list(reversed(checkpoints(run_dir(ws, run))))


def samples(ws: Workspace, run: str, step: str) -> list[Path]:
    """The wavs training spoke at this checkpoint (RUN/samples/step-NNNNNN/)."""
    if not step:
        return []
    folder = run_dir(ws, run) / "samples" / Path(step).name
    return sorted(folder.glob("*.wav")) if folder.is_dir() else []


def default_step(ws: Workspace, run: str) -> str | None:
    """The newest checkpoint that has samples (the one worth a listen first), else the newest."""
    all_steps = steps(ws, run)
    return next((s for s in all_steps if samples(ws, run, s)), all_steps[0] if all_steps else None)


def checkpoint_summary(ws: Workspace, run: str, step: str) -> str:
    """The chosen checkpoint's row as Markdown: its losses (trainer.json), best marker, and its
    evaluation row from eval.jsonl (WER, similarity, F0, 86 Hz lock; the real recordings' figures
    beside it) when `voicetune evaluate` or export's evaluation scored it."""
    from voicetune.run_report import eval_table_markdown
    from voicetune.trainer.checkpoints import list_checkpoints

    if not step:
        return ""
    row = next((r for r in list_checkpoints(run_dir(ws, run)) if Path(r["path"]).name == Path(step).name), None)
    if row is None:
        return f"{step}: no such checkpoint (it may have been pruned; refresh)"
    # the totals the best checkpoint is picked by; the loss parts are in `voicetune runs RUN`
    losses = ", ".join(f"{k} {v:.4g}" for k, v in sorted(row["metrics"].items())
                       if k in ("train/loss", "eval/loss") and isinstance(v, (int, float)))
    head = f"**{Path(row['path']).name}**{' ★ best' if row['best'] else ''} · epoch {row['epoch']} · {losses or 'no losses'}"
    if not row["eval"]:
        return (f"{head}  \nnot evaluated by listening yet (`voicetune evaluate {run_dir(ws, run)} --dataset "
                f"{ws.dataset}`, or Export with \"Evaluate\" checked)")
    return head + "\n\n" + eval_table_markdown({row["step"]: row["eval"]}, row["step"] if row["best"] else None)


def speak(ws: Workspace, run: str, step: str, text: str, seed: int | None = None, tag: str = "") -> str:
    """Speak ``text`` with one checkpoint of any backend (voicetune.api.say: Piper/VITS and MMS
    checkpoints through voicetune.synth, XTTS ones through the folder their export would write);
    returns the wav's path (inside the workspace)."""
    from voicetune.api import say

    if not step:
        raise VoicetuneError("no checkpoint chosen: train first, then pick a checkpoint")
    ckpt = run_dir(ws, run) / "checkpoints" / Path(step).name
    if not ckpt.is_dir():
        raise VoicetuneError(f"{run}/{step}: no such checkpoint (it may have been pruned; refresh)")
    out = ws.root / SAID / f"{Path(run).name}-{Path(step).name}-{time.strftime('%H%M%S')}{tag}.wav"
    say(text or "", ckpt, out, seed=seed)
    return str(out)


AB_SEED = 1234  # both sides draw the same noise: what differs is the checkpoint, not the sampling


def speak_ab(ws: Workspace, run: str, step_a: str, step_b: str, text: str) -> tuple[str, str]:
    """The same sentence with two checkpoints, through the same code path as `voicetune say`."""
    if not step_a or not step_b:
        raise VoicetuneError("pick two checkpoints (A and B) first")
    return (speak(ws, run, step_a, text, seed=AB_SEED, tag="-A"),
            speak(ws, run, step_b, text, seed=AB_SEED, tag="-B"))


def formats(ws: Workspace, run: str) -> list[str]:
    """The formats this run exports as (voicetune.backends; the first is `voicetune export`'s default)."""
    from voicetune import backends

    backend = backends.for_run(run_dir(ws, run)) if run else None
    return list(backend.export_formats) if backend is not None else []


def export(ws: Workspace, run: str, which: str, evaluate: bool, samples: bool = True, fmt: str | None = None,
           log=print) -> tuple[Path, Path, str, Path | None]:
    """export_run into voices/<run>/ (voices/<run>-<format>/ for a format other than the run's default;
    an earlier export of the same run and format is replaced) and a zip of it. ``which``: best, last,
    or a checkpoint folder name. Returns (voice folder, zip, model card, report.html or None)."""
    from voicetune.exporter import export_run

    folder = run_dir(ws, run)
    default = (formats(ws, run) or [None])[0]
    fmt = fmt or default
    target = folder if which in ("best", "last") else folder / "checkpoints" / Path(which).name
    out = ws.voices / (Path(run).name if fmt == default else f"{Path(run).name}-{fmt}")
    r = export_run(target, out, fmt=fmt, which=which if which in ("best", "last") else "best", name=Path(run).name,
                   samples=samples, evaluate=evaluate, overwrite=True, log=log)
    zip_path = Path(shutil.make_archive(str(out), "zip", root_dir=ws.voices, base_dir=out.name))
    card = (r.folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    report = r.folder / "report.html"
    return r.folder, zip_path, card, report if report.is_file() else None
