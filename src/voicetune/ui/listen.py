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


BASE = "base"  # the A/B choice that speaks with the run's base voice
BASE_SCORES = "base-scores.json"  # in the workspace's state folder: {base|dataset: row}


def base_voice(ws: Workspace, run: str) -> str:
    """The base the run started from, as a local path: its run file's ``base`` (XTTS, Piper), or the
    folder an MMS hub id was downloaded to (``base_folder``; ``base`` keeps the id)."""
    import json

    from voicetune import backends

    folder = run_dir(ws, run)
    backend = backends.for_run(folder)
    if backend is None:
        raise VoicetuneError(f"{run}: not a run folder (no run file)")
    info = json.loads((folder / backend.run_file).read_text(encoding="utf-8"))
    return str(info.get("base_folder") or info["base"])


def _score_key(ws: Workspace, base: str) -> str:
    return f"{base}|{(ws.dataset / 'dataset.json').stat().st_mtime_ns}"  # a changed dataset is scored anew


def base_score(ws: Workspace, run: str) -> dict | None:
    """The base's evaluation row against the workspace dataset, if Score the base made one."""
    import json

    path = ws.state / BASE_SCORES
    try:
        scores = json.loads(path.read_text(encoding="utf-8"))
        return scores.get(_score_key(ws, base_voice(ws, run)))
    except (OSError, ValueError):
        return None


def score_base(ws: Workspace, run: str, sentences: list[str] | None = None) -> dict:
    """Evaluate the run's base against the workspace dataset (`voicetune evaluate BASE --dataset`),
    kept in the workspace so every checkpoint's row shows it beside its own."""
    import json

    from voicetune import api, backends
    from voicetune.fileio import write_json

    base = base_voice(ws, run)
    if backends.for_voice(base).name == "xtts":
        raise VoicetuneError("an XTTS base has no reference clip of its own to be scored with; the A/B speaks it "
                             "with the dataset's reference clip")
    row = api.evaluate(base, ws.dataset, sentences=sentences).row()
    path = ws.state / BASE_SCORES
    try:
        scores = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        scores = {}
    scores[_score_key(ws, base)] = row
    write_json(path, scores)
    return row


def real_recording(ws: Workspace) -> str | None:
    """A real clip of the dataset to hear beside the checkpoints (the first evaluation clip)."""
    from voicetune.data.dataset import load_dataset

    try:
        ds = load_dataset(ws.dataset)
    except VoicetuneError:
        return None
    clip = next(iter(ds.eval or ds.clips), None)
    return str(ws.dataset / clip.audio_file) if clip is not None else None


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
    base = base_score(ws, run)
    if not row["eval"]:
        head += (f"  \nnot evaluated by listening yet (`voicetune evaluate {run_dir(ws, run)} --dataset "
                 f"{ws.dataset}`, or Export with \"Evaluate\" checked)")
        return head + ("\n\n" + eval_table_markdown({}, None, base) if base else "")
    return head + "\n\n" + eval_table_markdown({row["step"]: row["eval"]}, row["step"] if row["best"] else None,
                                               base)


def speak(ws: Workspace, run: str, step: str, text: str, seed: int | None = None, tag: str = "") -> str:
    """Speak ``text`` with one checkpoint of any backend (voicetune.api.say: Piper/VITS and MMS
    checkpoints through voicetune.synth, XTTS ones through the folder their export would write);
    returns the wav's path (inside the workspace)."""
    from voicetune.api import say

    if not step:
        raise VoicetuneError("no checkpoint chosen: train first, then pick a checkpoint")
    out = ws.root / SAID / f"{Path(run).name}-{Path(step).name}-{time.strftime('%H%M%S')}{tag}.wav"
    if step == BASE:
        base, refs = _base_args(ws, run)
        say(text or "", base, out, seed=seed, speaker_wav=refs)
        return str(out)
    ckpt = run_dir(ws, run) / "checkpoints" / Path(step).name
    if not ckpt.is_dir():
        raise VoicetuneError(f"{run}/{step}: no such checkpoint (it may have been pruned; refresh)")
    say(text or "", ckpt, out, seed=seed)
    return str(out)


def _base_args(ws: Workspace, run: str) -> tuple[str, list[Path] | None]:
    """(the base voice, the reference clip an XTTS base speaks with: the one its export would take)."""
    from voicetune import backends

    base = base_voice(ws, run)
    if backends.for_voice(base).name != "xtts" or (Path(base) / "reference.wav").is_file():
        return base, None
    from voicetune.models.xtts.export import choose_reference

    ref = choose_reference(ws.dataset)
    if ref is None:
        raise VoicetuneError("the dataset has no clip an XTTS base could take as its reference")
    return base, [ref[0]]


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
