"""Train tab's live monitor, read from the run's metrics.jsonl: the loss, learning-rate and
gradient-norm plots, the monitor's events in plain words, and after the run the diagnosis
(voicetune.run_report.diagnosis: the lines `voicetune runs RUN` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voicetune.ui.runs import loss_points

# metrics.jsonl `warning` kinds (voicetune.trainer.monitor.Event) and `end` statuses, in words
KINDS = {"early_stop": "early stop", "overfit": "overfitting", "gap": "train/eval gap", "nonfinite": "NaN/inf",
         "lr_lowered": "learning rate lowered", "unstable": "unstable", "spike": "loss spike",
         "oscillation": "loss oscillates"}
ENDS = {"finished": "finished all its steps", "interrupted": "stopped by Stop (resumable)",
        "time_budget": "the time budget ran out (resumable)", "stopped": "stopped by another process's monitor",
        "early_stop": "stopped early: the eval loss stopped improving", "overfit": "stopped: overfitting",
        "gap": "stopped: train and eval losses drifted apart", "unstable": "stopped: training was unstable"}


def event_lines(events: list[dict[str, Any]]) -> list[str]:
    """The monitor's warnings and how each run segment ended, oldest first, one line each."""
    out = []
    for e in events:
        if e.get("event") == "warning":
            kind = e.get("kind", "warning")
            out.append(f"step {e.get('step', '?')} · {KINDS.get(kind, kind)}: {e.get('message', '')}")
        elif e.get("event") == "end":
            status = e.get("status", "")
            message = e.get("message") or ""
            out.append(f"step {e.get('step', '?')} · the run ended: {ENDS.get(status, status)}"
                       + (f" ({message})" if message and status != "finished" else ""))
        elif e.get("event") == "resume":
            out.append(f"step {e.get('step', '?')} · resumed")
    return out


def series(events: list[dict[str, Any]], key: str) -> dict[str, list[tuple[int, float]]]:
    """{name: [(step, value)]} of a per-group dict a `train` event carries (``lr``, ``grad_norm``)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for e in events:
        values = e.get(key) if e.get("event") == "train" else None
        if isinstance(values, dict):
            for name, v in values.items():
                if isinstance(v, (int, float)):
                    out.setdefault(name, []).append((int(e["step"]), float(v)))
    return out


def _figure(title: str, ylabel: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 3.0), layout="tight")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def loss_figure(folder: Path | None):
    """Loss and eval loss by step. Not gr.LinePlot: it fixes its colour domain from the first value
    it gets, so the eval series, which appears a few steps later, never drew."""
    fig, ax = _figure("loss", "loss")
    points = loss_points(folder) if folder is not None else []
    for name, style in (("loss", "-"), ("eval loss", "o-")):
        pts = [(p["step"], p["value"]) for p in points if p["series"] == name]
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=name, markersize=4)
    if points:
        ax.legend(loc="upper right", fontsize=8)
    return fig


def series_figure(events: list[dict[str, Any]], key: str, title: str, log_scale: bool):
    """One line per optimizer group (lr) or module (grad_norm)."""
    fig, ax = _figure(title, key)
    lines = series(events, key)
    for name, pts in sorted(lines.items()):
        ax.plot(*zip(*pts, strict=True), label=name, lw=1)
    if lines:
        ax.legend(loc="best", fontsize=7)
        if log_scale and all(v > 0 for pts in lines.values() for _, v in pts):
            ax.set_yscale("log")
    return fig


def diagnosis_lines(folder: Path) -> list[str]:
    """After the run: `voicetune runs RUN`'s diagnosis (curves, monitor, the best checkpoint's
    listening scores when it was evaluated)."""
    from voicetune.errors import VoicetuneError
    from voicetune.run_report import diagnosis, read_events, run_config
    from voicetune.trainer.checkpoints import list_checkpoints

    try:
        rows = list_checkpoints(folder)
    except VoicetuneError:
        rows = []
    best = next((r for r in rows if r["best"]), rows[-1] if rows else None)
    return diagnosis(read_events(folder), best["eval"] if best and best["eval"] else None, run_config(folder))
