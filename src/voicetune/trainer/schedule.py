"""Optimizers and learning-rate schedules sized from the real number of optimizer steps.

The schedule is a pure function ``factor(step)`` of the optimizer step, so resuming restores it
exactly from the step alone and a test can check every value. The coqui XTTS recipe's milestones
(900k/2.7M/5.4M steps) never fire on a small dataset; here milestones are fractions of *this* run,
and an absolute milestone past the run's last step is an error that says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from voicetune.errors import VoicetuneError
from voicetune.trainer.config import OptimizerConfig, SchedulerConfig


@dataclass(frozen=True)
class RunLength:
    """How many optimizer steps this run takes, and the arithmetic behind it (for the banner)."""

    steps_per_epoch: int
    total_steps: int
    explain: str


def run_length(
    num_items: int,
    batch_size: int,
    grad_accum: int,
    epochs: int | None,
    max_steps: int | None,
    world_size: int = 1,
) -> RunLength:
    """Optimizer steps per epoch and in total, as the engine's loop will really take them."""
    if num_items < 1:
        raise VoicetuneError("the training split is empty: nothing to train on; add clips to the dataset")
    # Each process sees ceil(batches / world) batches (the sampler pads the last round), and the
    # last accumulation window of an epoch may be short but still makes one optimizer step.
    batches = math.ceil(num_items / batch_size)
    per_rank = math.ceil(batches / world_size)
    spe = math.ceil(per_rank / grad_accum)
    explain = f"{num_items} items / batch {batch_size}"
    if world_size > 1:
        explain += f" / {world_size} processes"
    if grad_accum > 1:
        explain += f" / accumulation {grad_accum}"
    explain += f" = {spe} optimizer steps per epoch"
    by_epochs = spe * epochs if epochs is not None else None
    if by_epochs is not None and (max_steps is None or by_epochs <= max_steps):
        return RunLength(spe, by_epochs, f"{explain} × {epochs} epochs = {by_epochs} steps")
    assert max_steps is not None
    return RunLength(spe, max_steps, f"{explain}; max_steps = {max_steps} steps")


class LRSchedule:
    """LR multiplier per optimizer step: linear warmup, then the configured decay."""

    def __init__(self, cfg: SchedulerConfig, length: RunLength):
        self.cfg = cfg
        self.length = length
        total = length.total_steps
        warmup = cfg.warmup_steps if cfg.warmup_steps is not None else round(cfg.warmup_fraction * total)
        if warmup >= total and warmup > 0:
            raise VoicetuneError(
                f"scheduler warmup of {warmup} steps is not shorter than the whole run ({length.explain}); "
                "lower scheduler.warmup_steps/warmup_fraction"
            )
        self.warmup = warmup
        self.milestones: list[int] = []
        if cfg.name == "step":
            if cfg.milestone_steps is not None:
                late = [m for m in cfg.milestone_steps if m >= total]
                if late:
                    raise VoicetuneError(
                        f"scheduler.milestone_steps {late} lie beyond this run's last optimizer step "
                        f"{total - 1} ({length.explain}), so the LR would never decay there; give "
                        "milestones as fractions of the run (scheduler.milestones: [0.5, 0.75]) or lower them"
                    )
                self.milestones = sorted(cfg.milestone_steps)
            else:
                self.milestones = sorted(max(1, round(f * total)) for f in cfg.milestones)
        self.cycles: list[tuple[int, int]] = []  # (start, length) of each cosine cycle, after warmup
        if cfg.name == "cosine_restarts":
            self.cycles = _cycles(total - warmup, cfg.restarts + 1, cfg.cycle_mult)

    def factor(self, step: int) -> float:
        """Multiplier of the base LR for optimizer step ``step`` (0 = the first step)."""
        cfg = self.cfg
        if step < self.warmup:
            return cfg.warmup_start_factor + (1 - cfg.warmup_start_factor) * step / self.warmup
        t = step - self.warmup
        if cfg.name == "exponential":
            exponent = t // self.length.steps_per_epoch if cfg.gamma_per == "epoch" else t
            return cfg.gamma**exponent
        if cfg.name == "step":
            return cfg.decay ** sum(1 for m in self.milestones if step >= m)
        if cfg.name == "cosine_restarts":
            for start, n in self.cycles:
                if t < start + n:
                    pos = (t - start) / n
                    break
            else:  # past the planned run (e.g. resumed with more steps): stay at the floor
                pos = 1.0
            lo = cfg.min_lr_ratio
            return lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * pos))
        return 1.0

    def describe(self) -> str:
        cfg = self.cfg
        parts = [f"warmup {self.warmup} steps"] if self.warmup else []
        if cfg.name == "exponential":
            parts.append(f"exponential decay ×{cfg.gamma} per {cfg.gamma_per}")
            parts.append(f"final LR ×{self.factor(self.length.total_steps - 1):.4g}")
        elif cfg.name == "step":
            parts.append(f"×{cfg.decay} at steps {self.milestones}")
        elif cfg.name == "cosine_restarts":
            parts.append(f"cosine, {len(self.cycles)} cycles starting at {[s + self.warmup for s, _ in self.cycles]}")
        else:
            parts.append("constant")
        return ", ".join(parts)


def _cycles(steps: int, n: int, mult: float) -> list[tuple[int, int]]:
    """Split ``steps`` into ``n`` cycles, each ``mult`` times the previous, lengths summing exactly."""
    if n > steps:
        raise VoicetuneError(
            f"scheduler.restarts asks for {n} cosine cycles but the run has only {steps} steps after "
            "warmup; lower scheduler.restarts"
        )
    weights = [mult**i for i in range(n)]
    bounds = [round(steps * sum(weights[: i + 1]) / sum(weights)) for i in range(n)]
    starts = [0, *bounds[:-1]]
    return [(s, max(1, e - s)) for s, e in zip(starts, bounds, strict=True)]


def build_optimizer(cfg: OptimizerConfig, params: Iterable[Any]) -> torch.optim.Optimizer:
    """One optimizer over a backend's parameter groups; ``lr_mult`` in a group scales its LR."""
    groups = list(params)
    if groups and not isinstance(groups[0], dict):
        groups = [{"params": groups}]
    for group in groups:
        group["params"] = list(group["params"])
        # base_lr lives in the group so it travels with the optimizer state through checkpoints
        group.setdefault("base_lr", cfg.lr * group.pop("lr_mult", 1.0))
        group.setdefault("lr", group["base_lr"])
    wd = cfg.weight_decay
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=wd)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=wd)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=wd)
    return torch.optim.RMSprop(groups, lr=cfg.lr, alpha=cfg.alpha, eps=cfg.eps, weight_decay=wd, momentum=cfg.momentum)


def apply_lr(optimizer: torch.optim.Optimizer, factor: float) -> float:
    """Set every group's LR to base_lr × factor; returns the first group's LR (for logging)."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    return optimizer.param_groups[0]["lr"]
