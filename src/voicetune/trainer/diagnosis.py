"""What a finished (or stopped) run's curves say, in plain words, each with the change to try.

The monitor (monitor.py) watches a run while it trains and can act on it; this module reads the
run afterwards from its ``metrics.jsonl`` events, so it also judges runs whose monitor was switched
off, runs made by an older voicetune and runs cut short by a crash. Every finding names the step
it starts at and one concrete change (a flag or a config key) — "training went badly" alone helps
nobody. ``voicetune runs RUN``, the model card and report.html print these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# A run whose train loss fell less than this share of its start never learned anything.
STALL_SHARE = 0.02
# Eval loss this far above its best (relative), with train loss still falling, is overfitting.
OVERFIT_RISE = 0.05
# A train loss this many times its lowest value, at the end of the run, has diverged.
DIVERGE_FACTOR = 3.0
# A schedule that leaves the LR at this share of its peak or more has not changed anything.
SCHEDULE_FIRED = 0.95
SPIKES_TOO_MANY = 3


@dataclass(frozen=True)
class Finding:
    kind: str  # nothing_trained | stalled | diverged | unstable | overfit | schedule
    step: int | None
    what: str
    fix: str

    def __str__(self) -> str:
        where = f"step {self.step}: " if self.step is not None else ""
        return f"{where}{self.what}. Try: {self.fix}"


def _main_loss(loss: Any) -> float | None:
    """The number a run is judged by: the backend's total ``loss`` (every backend logs one)."""
    if not isinstance(loss, dict):
        return None
    value = loss.get("loss", next(iter(loss.values()), None) if len(loss) == 1 else None)
    return float(value) if isinstance(value, (int, float)) else None


def _series(events: list[dict[str, Any]], kind: str) -> list[tuple[int, float]]:
    out = []
    for e in events:
        if e.get("event") == kind:
            value = _main_loss(e.get("loss"))
            if value is not None:
                out.append((int(e["step"]), value))
    return out


def _peak_lr(events: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """(highest, last) LR of the first optimizer, from the train lines."""
    lrs = [next(iter(e["lr"].values())) for e in events
           if e.get("event") == "train" and isinstance(e.get("lr"), dict) and e["lr"]]
    lrs = [float(v) for v in lrs if isinstance(v, (int, float))]
    return (max(lrs), lrs[-1]) if lrs else (None, None)


def diagnose(events: list[dict[str, Any]], config: dict[str, Any] | None = None) -> list[Finding]:
    """Findings about a run from its events (and its config.yaml as a dict, for the schedule)."""
    config = config or {}
    out: list[Finding] = []
    train = [(s, v) for s, v in _series(events, "train")]
    finite = [(s, v) for s, v in train if math.isfinite(v)]
    evals = [(s, v) for s, v in _series(events, "eval") if math.isfinite(v)]
    lr = (config.get("optimizer") or {}).get("lr")
    warnings = [e for e in events if e.get("event") == "warning"]

    start = next((e for e in events if e.get("event") == "start"), None)
    params = (start or {}).get("parameters") or {}
    if params and all(int(p.get("trainable", 0)) == 0 for p in params.values()):
        out.append(Finding("nothing_trained", 0, "no parameter was trainable: every group was frozen",
                           "train a group (`--train flow`, `--train dec`) or `--freeze none`"))
    elif len(finite) >= 3:
        third = max(1, len(finite) // 3)  # means over thirds: one batch is easier than another
        first = sum(v for _, v in finite[:third]) / third
        last = sum(v for _, v in finite[-third:]) / third
        if first and abs(first - last) / abs(first) < STALL_SHARE:
            frozen = sum(int(p.get("total", 0)) - int(p.get("trainable", 0)) for p in params.values())
            total = sum(int(p.get("total", 0)) for p in params.values()) or 1
            why = f"the learning rate ({lr:g}) is too low" if isinstance(lr, (int, float)) else "the LR is too low"
            if frozen / total > 0.9:
                why += f" or too little trains ({frozen / total:.0%} of the parameters frozen)"
            fix = (f"`--lr {lr * 10:g}`" if isinstance(lr, (int, float)) else "a 10x higher `--lr`") + \
                  (", or `--train` one of the frozen groups" if frozen / total > 0.9 else "")
            out.append(Finding("stalled", finite[-1][0], (
                f"the train loss never moved: {first:.4g} over the first third of the run, {last:.4g} over the "
                f"last (less than {STALL_SHARE:.0%} apart); {why}"), fix))

    bad = [e for e in warnings if e.get("kind") in ("nonfinite", "unstable")]
    lr_fix = f"`--lr {lr / 10:g}` (a tenth)" if isinstance(lr, (int, float)) else "a 10x lower `--lr`"
    if len(finite) < len(train) or bad:
        step = bad[0]["step"] if bad else next(s for s, v in train if not math.isfinite(v))
        out.append(Finding("unstable", step, (
            f"the loss or gradient became NaN/inf ({max(len(bad), len(train) - len(finite))} times); those "
            "updates were skipped"), f"{lr_fix}, and keep gradient clipping on (clip_norm)"))
    if len(finite) >= 3:
        low_step, low = min(finite, key=lambda sv: sv[1])
        last_step, last = finite[-1]
        # relative to the lowest loss and to the start: a loss that fell to ~0 may wobble by 10x
        if last > DIVERGE_FACTOR * low and last - low > 0.5 * abs(finite[0][1]) and last_step > low_step:
            out.append(Finding("diverged", low_step, (
                f"the train loss diverged: it fell to {low:.4g} at step {low_step}, then rose to {last:.4g} "
                f"by step {last_step} ({last / low:.1f}x)"), f"{lr_fix}; the checkpoint near step {low_step} is "
                "the last good one"))
    spikes = [e for e in warnings if e.get("kind") == "spike"]
    if len(spikes) >= SPIKES_TOO_MANY:
        out.append(Finding("unstable", spikes[0]["step"], f"the loss spiked {len(spikes)} times",
                           f"{lr_fix}, or look for a bad clip (`voicetune dataset report`)"))
    oscillating = [e for e in warnings if e.get("kind") == "oscillation"]
    if oscillating:
        out.append(Finding("unstable", oscillating[0]["step"], "the eval loss oscillated instead of settling",
                           f"a lower LR ({lr_fix}) or a decaying schedule (`--scheduler cosine_restarts`)"))

    if len(evals) >= 3:
        best_step, best = min(evals, key=lambda sv: sv[1])
        last_step, last = evals[-1]
        train_at = {s: v for s, v in finite}
        before = [v for s, v in finite if s <= best_step]
        after = [v for s, v in finite if s > best_step]
        if (last > best * (1 + OVERFIT_RISE) and best_step < last_step and before and after
                and min(after[-3:]) < before[-1]):
            out.append(Finding("overfit", best_step, (
                f"overfitting from step {best_step}: the eval loss rose from {best:.4g} to {last:.4g} by step "
                f"{last_step} while the train loss fell from {train_at.get(best_step, before[-1]):.4g} to "
                f"{after[-1]:.4g}"), (
                f"stop near step {best_step} (`--max-steps {best_step}`; export takes the best checkpoint, step "
                f"{best_step}, by default), add recordings, or freeze more (`--freeze`)")))

    scheduler = config.get("scheduler") or {}
    peak, final = _peak_lr(events)
    if _meant_to_decay(scheduler, events) and peak and final is not None and finite \
            and final >= SCHEDULE_FIRED * peak:
        out.append(Finding("schedule", finite[-1][0], (
            f"the {scheduler['name']} LR schedule never fired: the LR ended at {final / peak:.0%} of its peak "
            f"({final:.3g} of {peak:.3g})"), (
            "`--scheduler constant` if a constant LR is what you want; to decay within this run, "
            "`--scheduler cosine_restarts` or `scheduler.gamma_per: step`")))
    return out


def _meant_to_decay(scheduler: dict[str, Any], events: list[dict[str, Any]]) -> bool:
    """Whether the configured schedule itself expects to lower the LR within this run. Piper's
    exponential decay (0.999875 per epoch) takes ~400 epochs to reach 95 %: in a short fine-tune it is
    a constant LR by design, not a schedule that failed to fire."""
    name = scheduler.get("name", "exponential")
    if name == "constant":
        return False
    if name != "exponential":
        return True  # step milestones and cosine cycles are fractions of the run: they decay by its end
    train = [e for e in events if e.get("event") == "train"]
    if not train:
        return False
    t = train[-1].get("epoch", 0) + 1 if scheduler.get("gamma_per", "epoch") == "epoch" else train[-1]["step"]
    return float(scheduler.get("gamma", 0.999875)) ** t < SCHEDULE_FIRED
