"""What an exported voice says about its run: the evaluation table, the diagnosis, report.html.

Sources are the run's own files: ``metrics.jsonl`` (train/eval losses, LR, grad norm, monitor
warnings, how the run ended) and ``eval.jsonl`` (per-checkpoint listening scores). report.html is
one self-contained file (plots inlined as PNG), so it survives being mailed or zipped.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

EVAL_COLUMNS = (  # (key, header, format)
    ("step", "step", "{:d}"), ("similarity", "similarity", "{:.3f}"), ("wer", "WER", "{:.1%}"),
    ("cer", "CER", "{:.1%}"), ("median_f0", "median F0 (Hz)", "{:.0f}"),
    ("lock_share", "86 Hz lock", "{:.1%}"), ("duration_ratio", "pace", "{:.2f}"), ("combined", "combined", "{:.3f}"),
)


def read_events(run: Path) -> list[dict[str, Any]]:
    path = Path(run) / "metrics.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash
    return out


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "–"
    try:
        return fmt.format(int(value) if fmt == "{:d}" else value)
    except (TypeError, ValueError):
        return str(value)


def eval_table_rows(rows: dict[int, dict[str, Any]], chosen_step: int | None,
                    base: dict[str, Any] | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and cells; ``base``: the base voice's own row (the same evaluation), before the
    dataset's own figures (what "right" sounds like), which are the last row."""
    header = [h for _, h, _ in EVAL_COLUMNS] + ["chosen"]
    body = []
    for step in sorted(rows):
        r = {**rows[step], "step": step}
        body.append([_cell(r.get(k), f) for k, _, f in EVAL_COLUMNS] + ["★" if step == chosen_step else ""])
    if base is not None:
        body.append(["base"] + [_cell(base.get(k), f) for k, _, f in EVAL_COLUMNS[1:]] + [""])
    if rows or base is not None:
        last = rows[max(rows)] if rows else base
        ref = {"similarity": last.get("reference_similarity"), "wer": last.get("reference_wer"),
               "median_f0": last.get("dataset_median_f0"), "lock_share": last.get("dataset_lock_share")}
        body.append(["real recordings"] + [_cell(ref.get(k), f) for k, _, f in EVAL_COLUMNS[1:]] + [""])
    return header, body


def eval_table_markdown(rows: dict[int, dict[str, Any]], chosen_step: int | None,
                        base: dict[str, Any] | None = None) -> str:
    if not rows and base is None:
        return "No checkpoint of this run was evaluated by listening (`voicetune evaluate RUN --dataset D`)."
    header, body = eval_table_rows(rows, chosen_step, base)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


class _RowView:
    """An eval.jsonl row seen as an EvalResult by ``evaluate.report.problems`` (absent fields: None)."""

    def __init__(self, row: dict[str, Any]):
        self._row = row

    def __getattr__(self, name: str) -> Any:
        value = self._row.get(name)
        if value is None and name in ("lock_share", "dataset_lock_share", "clipping"):
            return 0.0
        return value


# What to try for each listening problem (evaluation.report.problems names them by these prefixes).
LISTENING_FIXES = {
    "frame-rate buzz": "export an earlier checkpoint (the table's lowest 86 Hz lock), or keep the decoder's "
                       "upsamplers frozen (the default recipe; `--freeze dec.ups`)",
    "pitch": "more clips of the speaker's own intonation, or more steps for the flow and decoder; pick the "
             "checkpoint by `--select-by similarity`",
    "intelligibility": "an earlier checkpoint (`voicetune runs RUN` lists them), fewer steps or a lower `--lr`; "
                       "check the transcripts (`voicetune dataset report`)",
    "speaking rate": "train the duration predictor (`--train dp`), or set length_scale in the exported .onnx.json",
    "clipping": "lower the dataset's loudness target (`voicetune prepare --normalize-loudness -23`)",
}
# Monitor warnings a curve finding of trainer.diagnosis already covers (one line per problem).
_COVERED = {"overfit": {"overfit", "gap"}, "unstable": {"nonfinite", "unstable", "spike", "oscillation"},
            "diverged": {"nonfinite", "unstable", "spike"}}


def diagnosis(events: list[dict[str, Any]], chosen: dict[str, Any] | None,
              config: dict[str, Any] | None = None) -> list[str]:
    """One line per finding, each with what to try: listening problems of the chosen checkpoint, the
    training curves (trainer.diagnosis), the monitor's other warnings, and how the run ended."""
    from voicetune.evaluation.report import problems
    from voicetune.trainer.diagnosis import diagnose

    out = []
    for line in problems(_RowView(chosen)) if chosen else []:
        fix = next((f for prefix, f in LISTENING_FIXES.items() if line.startswith(prefix)), None)
        out.append(f"{line}. Try: {fix}" if fix else line)
    findings = diagnose(events, config)
    out += [str(f) for f in findings]
    covered = {k for f in findings for k in _COVERED.get(f.kind, ())}
    seen = set()
    for e in events:
        if e.get("event") == "warning" and e.get("message") not in seen and e.get("kind") not in covered:
            seen.add(e.get("message"))
            out.append(f"step {e['step']}: {e.get('kind', 'warning')}: {e.get('message')}")
    end = [e for e in events if e.get("event") == "end"]
    if end and end[-1].get("status") in ("overfit", "gap", "unstable", "interrupted", "stopped"):
        out.append(f"the run ended with status '{end[-1].get('status')}': {end[-1].get('message') or ''}".rstrip(": "))
    return out


def run_config(run: Path) -> dict[str, Any]:
    """The run's config.yaml as a plain dict ({} when absent or unreadable: a diagnosis still runs)."""
    import yaml

    try:
        data = yaml.safe_load((Path(run) / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def curves_png(events: list[dict[str, Any]]) -> bytes | None:
    """Train/eval losses, LR and grad norm against the step; None when the run logged no training."""
    train = [e for e in events if e.get("event") == "train" and isinstance(e.get("loss"), dict)]
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evals = [e for e in events if e.get("event") == "eval" and isinstance(e.get("loss"), dict)]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    steps = [e["step"] for e in train]
    for key in sorted({k for e in train for k in e["loss"]}):
        axes[0].plot(steps, [e["loss"].get(key) for e in train], label=f"train {key}", lw=1)
    for key in sorted({k for e in evals for k in e["loss"]}):
        axes[0].plot([e["step"] for e in evals], [e["loss"].get(key) for e in evals], "o--", label=f"eval {key}", ms=3)
    axes[0].set_yscale("symlog")
    axes[0].set_title("losses")
    axes[0].legend(fontsize=7, ncol=2)
    for name in sorted({k for e in train if isinstance(e.get("lr"), dict) for k in e["lr"]}):
        axes[1].plot(steps, [(e.get("lr") or {}).get(name) for e in train], label=name)
    axes[1].set_title("learning rate")
    axes[1].legend(fontsize=7)
    for name in sorted({k for e in train if isinstance(e.get("grad_norm"), dict) for k in e["grad_norm"]}):
        axes[2].plot(steps, [(e.get("grad_norm") or {}).get(name) for e in train], label=name, lw=1)
    axes[2].set_yscale("log")
    axes[2].set_title("gradient norm (before clipping)")
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def render_html(title: str, facts: list[str], events: list[dict[str, Any]], rows: dict[int, dict[str, Any]],
                chosen_step: int | None, findings: list[str]) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>"
             "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "tr.chosen{background:#e6f4e6;font-weight:bold}</style></head><body>",
             f"<h1>{esc(title)}</h1><ul>" + "".join(f"<li>{esc(f)}</li>" for f in facts) + "</ul>",
             "<h2>Diagnosis</h2>"]
    parts.append("<ul>" + "".join(f"<li>{esc(f)}</li>" for f in findings) + "</ul>" if findings
                 else "<p>Nothing stands out: pitch, intelligibility, pace, clipping and the frame-rate lock are "
                      "within the limits, and the monitors raised no warning.</p>")
    parts.append("<h2>Evaluation by listening</h2>")
    if rows:
        header, body = eval_table_rows(rows, chosen_step)
        parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        for cells in body:
            cls = " class='chosen'" if cells[-1] == "★" else ""
            parts.append(f"<tr{cls}>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table><p>Similarity: resemblyzer cosine to the dataset's eval clips; WER/CER: Whisper on "
                     "sentences never trained on; 86 Hz lock: voiced frames whose F0 sits at the decoder frame "
                     "rate (a buzz).</p>")
    else:
        parts.append("<p>No checkpoint was evaluated by listening.</p>")
    png = curves_png(events)
    parts.append("<h2>Training curves</h2>")
    parts.append(f"<img alt='losses, learning rate, gradient norm' style='max-width:100%' "
                 f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>" if png
                 else "<p>No training steps were logged.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
