"""Run diagnosis in plain words: early stopping, overfitting, and instability (NaN/inf, spikes,
oscillation). The monitor only decides; the engine acts (skip, lower LR, stop) and logs events.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

from voicetune.trainer.config import TrainConfig


@dataclass
class Event:
    kind: str  # early_stop | overfit | gap | nonfinite | lr_lowered | unstable | spike | oscillation
    step: int
    message: str
    stop: bool = False


class Monitor:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.lr_scale = 1.0
        self.best: float | None = None
        self.best_step: int | None = None
        self.bad_evals = 0
        self.evals: list[tuple[int, float, float | None]] = []  # (step, eval loss, train loss)
        self.rising = 0
        self.gap_warned = False
        self.consecutive_bad = 0
        self.total_bad = 0
        self.recent: deque[float] = deque(maxlen=cfg.instability.window)
        self.last_spike = -(10**9)
        self.last_oscillation = -(10**9)
        self.first_loss: float | None = None

    # --- every optimizer step ------------------------------------------------------------------

    def on_step(self, step: int, loss: float | None, finite: bool, where: str = "") -> list[Event]:
        cfg = self.cfg.instability
        if not finite:
            self.consecutive_bad += 1
            self.total_bad += 1
            events = [Event("nonfinite", step, f"step {step}: the loss or gradient{where} was NaN/inf; "
                                              "the update was skipped")]
            if self.total_bad >= cfg.max_bad_steps:
                events.append(Event("unstable", step, (
                    f"training is unstable: {self.total_bad} steps had NaN/inf losses or gradients. "
                    "Lower the learning rate (--lr), keep gradient clipping on (clip_norm), or train in "
                    "full precision (--precision no); the last good checkpoint is kept"), stop=True))
            elif self.consecutive_bad >= cfg.lower_lr_after:
                self.lr_scale *= cfg.lr_factor
                self.consecutive_bad = 0
                events.append(Event("lr_lowered", step, (
                    f"{cfg.lower_lr_after} NaN/inf steps in a row: learning rate lowered to "
                    f"×{self.lr_scale:g} of the schedule")))
            return events
        self.consecutive_bad = 0
        if loss is None or not math.isfinite(loss):
            return []
        events = []
        if self.first_loss is None:
            self.first_loss = loss
        if len(self.recent) >= 10 and step - self.last_spike >= cfg.window:
            median = statistics.median(self.recent)
            # a loss that has fallen to ~0 wobbles by several times its median; a spike is also a
            # rise worth 5 % of where the run started
            if median > 0 and loss > cfg.spike_factor * median and loss - median > 0.05 * abs(self.first_loss):
                self.last_spike = step
                events.append(Event("spike", step, (
                    f"loss spiked to {loss:.4g} at step {step}, {loss / median:.1f}× the median of the last "
                    f"{len(self.recent)} steps ({median:.4g}). A rare spike is harmless; frequent ones mean "
                    "the learning rate is too high or the data has a bad clip")))
        self.recent.append(loss)
        return events

    # --- every eval ----------------------------------------------------------------------------

    def on_eval(self, step: int, eval_loss: float, train_loss: float | None) -> list[Event]:
        events: list[Event] = []
        prev = self.evals[-1] if self.evals else None
        self.evals.append((step, eval_loss, train_loss))
        es = self.cfg.early_stop
        if self.best is None or eval_loss < self.best - es.min_delta:
            self.best, self.best_step, self.bad_evals = eval_loss, step, 0
        else:
            self.bad_evals += 1
            if es.enabled and self.bad_evals >= es.patience:
                events.append(Event("early_stop", step, (
                    f"early stop: eval loss has not improved by more than {es.min_delta:g} for "
                    f"{self.bad_evals} evals (best {self.best:.4g} at step {self.best_step}); the best "
                    "checkpoint is kept"), stop=True))
        of = self.cfg.overfit
        if of.enabled and prev is not None and train_loss is not None and prev[2] is not None:
            self.rising = self.rising + 1 if eval_loss > prev[1] and train_loss < prev[2] else 0
            if self.rising >= of.k_evals:
                first = self.evals[-1 - self.rising]
                stop = of.action == "stop"
                events.append(Event("overfit", step, (
                    f"overfitting: eval loss rose for {self.rising} evals in a row ({first[1]:.4g} -> "
                    f"{eval_loss:.4g}) while train loss fell ({first[2]:.4g} -> {train_loss:.4g}); the model "
                    "is memorising the training clips" + ("; stopping, the best checkpoint is kept" if stop else
                                                          ". More data, fewer steps or frozen groups help")),
                    stop=stop))
        if of.enabled and train_loss is not None and train_loss > 0:
            ratio = eval_loss / train_loss
            if ratio > of.gap_ratio and not self.gap_warned:
                self.gap_warned = True
                events.append(Event("gap", step, (
                    f"eval loss is {ratio:.2f}× the train loss (threshold {of.gap_ratio:g}): the model fits "
                    "the training clips much better than unseen ones"), stop=of.action == "stop"))
            elif ratio <= of.gap_ratio:
                self.gap_warned = False
        events += self._oscillation(step)
        return events

    def _oscillation(self, step: int, n: int = 6) -> list[Event]:
        if len(self.evals) < n or len(self.evals) - self.last_oscillation < n:
            return []
        values = [e[1] for e in self.evals[-n:]]
        diffs = [b - a for a, b in zip(values, values[1:], strict=False)]
        turns = sum(1 for a, b in zip(diffs, diffs[1:], strict=False) if a * b < 0)
        spread = (max(values) - min(values)) / max(abs(statistics.mean(values)), 1e-12)
        if turns >= n - 2 and spread > 0.05:
            self.last_oscillation = len(self.evals)
            return [Event("oscillation", step, (
                f"eval loss is oscillating: it changed direction {turns} times in the last {n} evals "
                f"(range {min(values):.4g}..{max(values):.4g}) instead of settling; the learning rate may be "
                "too high"))]
        return []

    # --- checkpointing -------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"lr_scale": self.lr_scale, "best": self.best, "best_step": self.best_step,
                "bad_evals": self.bad_evals, "evals": self.evals, "rising": self.rising,
                "gap_warned": self.gap_warned, "consecutive_bad": self.consecutive_bad,
                "total_bad": self.total_bad, "recent": list(self.recent),
                "last_spike": self.last_spike, "last_oscillation": self.last_oscillation,
                "first_loss": self.first_loss}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        recent = state.pop("recent", [])
        for key, value in state.items():
            setattr(self, key, value)
        self.evals = [tuple(e) for e in self.evals]
        self.recent = deque(recent, maxlen=self.cfg.instability.window)
