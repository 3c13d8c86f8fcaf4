"""How many optimizer steps fit a time budget: the engine times its own step before the run.

``voicetune train --max-minutes 30`` alone means "train for 30 minutes", so the run length (and
with it the LR schedule, the eval interval and every warm-up sized as a fraction of the run) has to
come from the step time on *this* machine with *this* model and batch. The probe runs a few real
optimizer steps on a batch of median-length items, times the last ones (the first pays one-off
costs: kernel selection, allocator growth), times one pass over the eval split, and then puts every
weight, optimizer state and random-number generator back exactly as it was, so the run that
follows is the same as without the probe.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from voicetune.errors import VoicetuneError

LENGTH_FROM = "run.length_from"  # config.yaml's record that max_steps was sized from the budget
PROBE_STEPS = 3  # the first is warm-up; the median of the rest is the step time
EVALS_PER_RUN = 10  # the eval interval the advisor aims for (cfg.eval_every derived as total / 10)
# ... but evals and checkpoints take at most this share of a --max-minutes budget: a VITS eval of Joe
# (the eval split through the decoder + 3 spoken samples + a checkpoint) measured 74 s on one busy
# core, so ten of them would have left 2 steps of a 15-minute budget (bench/finetune_quality.py)
EVAL_SHARE = 0.25
LISTEN_SECONDS = 30.0  # one listening evaluation per checkpoint (--select-by other than loss)


@dataclass(frozen=True)
class BudgetPlan:
    steps: int
    step_seconds: float
    eval_seconds: float
    save_seconds: float
    overhead_seconds: float
    explain: str
    evals: int = EVALS_PER_RUN  # how many evals the budget holds: eval_every is sized from it


def _median_batch(dataset: Any, batch_size: int) -> list[int]:
    lengths = getattr(dataset, "lengths", None) or [0] * len(dataset)
    order = sorted(range(len(dataset)), key=lambda i: lengths[i])
    mid = len(order) // 2
    lo = max(0, min(mid - batch_size // 2, len(order) - batch_size))
    return order[lo : lo + batch_size]


def _snapshot(run: Any) -> dict[str, Any]:
    return {
        "modules": {k: copy.deepcopy(m.state_dict()) for k, m in run.modules.items()},
        "optimizers": {k: copy.deepcopy(o.state_dict()) for k, o in run.optimizers.items()},
        "torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
        "grad": {n: p.requires_grad for m in run.modules.values() for n, p in m.named_parameters()},
    }


def _restore(run: Any, snap: dict[str, Any]) -> None:
    for k, m in run.modules.items():
        m.load_state_dict(snap["modules"][k])
        for n, p in m.named_parameters():
            p.requires_grad_(snap["grad"][n])
            p.grad = None
    for k, o in run.optimizers.items():
        o.load_state_dict(snap["optimizers"][k])
    torch.set_rng_state(snap["torch"])
    np.random.set_state(snap["numpy"])
    random.setstate(snap["python"])


def _save_seconds(run: Any) -> float:
    """Writing one checkpoint's weights and optimizer state (to a temporary folder, then removed)."""
    import tempfile
    from pathlib import Path

    from voicetune.trainer.checkpoints import save_weights

    with tempfile.TemporaryDirectory(prefix="voicetune-probe-") as tmp:
        t0 = time.perf_counter()
        save_weights(run.modules, Path(tmp) / "model.safetensors")
        torch.save({k: o.state_dict() for k, o in run.optimizers.items()}, Path(tmp) / "state.pt")
        return time.perf_counter() - t0


def measure(run: Any, train_ds: Any, at_step: int) -> tuple[float, float, float]:
    """(seconds per optimizer step, per eval pass, per checkpoint) of the engine's run object ``run``.

    ``at_step``: the global step the backend is told it is at, so that warm-up branches of its
    step (a discriminator-only phase, say) do not make the probe cheaper than the real step."""
    from voicetune.trainer.runtime import to_device

    cfg, backend = run.cfg, run.backend
    items = _median_batch(train_ds, min(cfg.batch_size, len(train_ds)))
    batch = to_device(backend.collate([train_ds[i] for i in items]), run.acc.device)
    snap = _snapshot(run)
    times = []
    try:
        run._apply_freeze(at_step)
        for _ in range(PROBE_STEPS):
            t0 = time.perf_counter()
            for micro in range(cfg.grad_accum):
                run.stepper.global_step = at_step
                run.stepper.begin(cfg.grad_accum, micro == cfg.grad_accum - 1)
                with run.acc.autocast():
                    backend.train_step(batch, run.stepper)
            run.stepper.finish()
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run._eval_losses()
        run._render_samples()  # samples are written at every eval unless samples_every says otherwise
        eval_seconds = time.perf_counter() - t0
        save_seconds = _save_seconds(run)  # with the optimizer state the steps created: a real checkpoint's size
    finally:
        _restore(run, snap)
        run.stepper.global_step = 0
    return float(np.median(times[1:])), eval_seconds, save_seconds


def eval_block_seconds(eval_seconds: float, save_seconds: float, listening: bool) -> float:
    """One eval as the probe foresees it: the eval pass and samples, a checkpoint, its listening."""
    return eval_seconds + save_seconds + (LISTEN_SECONDS if listening else 0.0)


def plan(budget_minutes: float, step_seconds: float, eval_seconds: float, save_seconds: float,
         listening: bool, spent: float = 0.0) -> BudgetPlan:
    """Steps that fit the budget with ~EVALS_PER_RUN evals and checkpoints inside it, fewer when
    they would take more than EVAL_SHARE of it (at least one: the run's end is evaluated).

    ``spent``: seconds of the budget already used (the probe itself: the budget clock starts before it)."""
    per_eval = eval_block_seconds(eval_seconds, save_seconds, listening)
    budget = budget_minutes * 60
    evals = max(1, min(EVALS_PER_RUN, math.floor(EVAL_SHARE * budget / per_eval) if per_eval > 0 else EVALS_PER_RUN))
    overhead = evals * per_eval + spent
    usable = budget - overhead
    steps = math.floor(usable / step_seconds) if step_seconds > 0 else 0
    if steps < 1:
        raise VoicetuneError(
            f"--max-minutes {budget_minutes:g}: one optimizer step takes {step_seconds:.1f} s here and {evals} "
            f"eval/checkpoint(s) {overhead:.0f} s, so not one step fits; give more minutes or --max-steps"
        )
    explain = (f"{budget_minutes:g} min budget: {step_seconds:.2f} s per optimizer step (measured) and "
               f"{overhead - spent:.0f} s for {evals} evals/checkpoints ({per_eval:.0f} s each)"
               + (f" and {spent:.0f} s of timing" if spent >= 1 else "") + f" = {steps} steps")
    return BudgetPlan(steps, step_seconds, eval_seconds, save_seconds, overhead, explain, evals)


def estimate(timing: tuple[float, float, float], steps: int, eval_every: int, save_every: int,
             listening: bool) -> str:
    """`voicetune train --dry-run`'s answer: the run's time from the measured step, eval and save."""
    step_s, eval_s, save_s = timing
    evals = max(1, steps // eval_every)
    saves = max(1, steps // save_every)
    listen = saves * LISTEN_SECONDS if listening else 0.0
    total = steps * step_s + evals * eval_s + saves * save_s + listen
    return (f"{steps} steps × {step_s:.2f} s (measured) + {evals} evals × {eval_s:.1f} s + {saves} checkpoints × "
            f"{save_s:.1f} s" + (f" + listening {listen:.0f} s" if listen else "")
            + f" ≈ {total / 60:.1f} min on this machine")
