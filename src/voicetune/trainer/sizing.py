"""How long a run is and every interval sized from that: the step-time probe against a
--max-minutes budget (probe.py), the LR schedule, eval/save/sample intervals, the backend's warm-ups.
A resumed run whose length changed re-sizes its schedule and says so; a run sized from its budget is
re-fitted at each eval from the time its steps really take (refit)."""

from __future__ import annotations

import math
import time

import torch

from voicetune.trainer import probe
from voicetune.trainer.config import SchedulerConfig, save_config
from voicetune.trainer.schedule import LRSchedule, run_length

# The probe times a few steps (probe.PROBE_STEPS). A machine busier while it runs than after (other
# work on a shared core) sized a 20-minute run at 15.17 s per step = 54 steps, which then finished in
# 14 minutes (docs/BENCHMARKS.md "Which checkpoint a long run keeps"); so the run re-fits its length
# at each eval, once it has taken as many steps as the probe timed (a pace from one step swung a
# tiny test run 7 -> 11 -> 7 steps), and only when the fit moves by more than this share (and 2 steps).
REFIT_MIN_CHANGE = 0.05
REFIT_MARGIN = 0.03  # of the budget, kept back when re-fitting (36 s of 20 minutes: 2-4 VITS steps here)


def size_run(run) -> None:
    """The run's length (timed against --max-minutes when nothing else sets it), then everything
    sized from it: the LR schedule, the eval interval, the backend's own warm-ups. ``run``: the
    engine's run object (engine._Run); sets its length, total, schedule and intervals."""
    cfg, backend = run.cfg, run.backend
    run.probe_started = time.monotonic()
    run.budget_sized = False  # this process sized the run from --max-minutes (so refit may re-size it)
    run.planned_evals = probe.EVALS_PER_RUN  # fewer when a --max-minutes budget cannot hold them
    run.rules = list(getattr(backend, "freeze_rules", list)())  # the probe times the post-warm-up step
    run.timing = None  # (step, eval, save) seconds once measured
    if cfg.epochs is None and cfg.max_steps is None:
        step_s, eval_s, save_s = run.timing = probe.measure(run, run.train_ds, at_step=10**9)
        plan = probe.plan(cfg.max_minutes, step_s, eval_s, save_s, listening=run.on_checkpoint is not None,
                          spent=time.monotonic() - run.probe_started)
        cfg.derive("max_steps", run.step + plan.steps,
                   plan.explain + (f", after the {run.step} steps already done" if run.step else ""))
        cfg.derived[probe.LENGTH_FROM] = "max_minutes"
        run.planned_evals = plan.evals
        run.budget_sized = not run.dry_run
    run.length = run_length(len(run.train_ds), cfg.batch_size, cfg.grad_accum, cfg.epochs, cfg.max_steps,
                             run.world)
    run.total = run.length.total_steps
    if run.saved_total is not None and run.saved_total != run.total:
        run.acc.print(f"note: run length changed from {run.saved_total} to {run.total} steps; "
                       "the LR schedule is re-sized to the new length")
        cfg.derived["run.total_steps"] = f"{run.total}: {run.length.explain} (changed on resume at step {run.step})"
    cfg.derived.setdefault("run.total_steps", f"{run.total}: {run.length.explain}")
    if cfg.eval_every is None:
        evals = run.planned_evals
        every = max(1, run.total // evals)
        cfg.derive("eval_every", every, f"about {evals} evals over the run's {run.total} steps"
                   + ("" if evals == probe.EVALS_PER_RUN else f" (what {probe.EVAL_SHARE:.0%} of the budget holds)"))
    for option, why in (getattr(backend, "fit_run_length", None) or (lambda _n: {}))(run.total).items():
        cfg.derived[f"{backend.name}.{option}"] = why
    run.rules = list(getattr(backend, "freeze_rules", list)())
    if run.dry_run and run.timing is None:  # the estimate needs this machine's step time
        run.timing = probe.measure(run, run.train_ds, at_step=10**9)
    run.schedule = LRSchedule(cfg.scheduler, run.length)
    run.eval_every = cfg.eval_every
    run.save_every = cfg.save_every or run.eval_every
    run.samples_every = cfg.samples_every or run.eval_every
    if run.saved_total is not None and run.saved_total != run.total and run.main and not run.dry_run:
        save_config(cfg, run.run_dir / "config.yaml")


def length_free(s: SchedulerConfig) -> bool:
    """Whether the schedule gives each step the same LR whatever the run's length: only then can a
    run be made longer or shorter mid-way without its LR jumping (a cosine or a milestone at a
    fraction of the run would move under the steps already taken)."""
    fixed_warmup = s.warmup_steps is not None or s.warmup_fraction == 0
    by_step = s.name in ("constant", "exponential") or (s.name == "step" and s.milestone_steps is not None)
    return fixed_warmup and by_step


def remaining_evals(step: int, steps: int, eval_every: int) -> int:
    """Evals in the ``steps`` steps after ``step``: one at each multiple of ``eval_every`` and one at
    the run's last step (the engine evaluates its end)."""
    end = step + steps
    return 0 if steps <= 0 else end // eval_every - step // eval_every + (end % eval_every != 0)


def steps_that_fit(left: float, step: int, step_seconds: float, eval_seconds: float, eval_every: int) -> int:
    """The most steps after ``step`` whose time, with the evals they bring (remaining_evals), fits
    ``left`` seconds. The cost grows with the steps, so a bisection finds the largest that fits."""
    if left <= 0 or step_seconds <= 0:
        return 0
    lo, hi = 0, math.floor(left / step_seconds)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid * step_seconds + remaining_evals(step, mid, eval_every) * eval_seconds <= left:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _eval_seconds(run) -> float:
    """What one more eval (with its checkpoint and listening) will take: the mean of those made since
    the first. The first pays one-off costs (loading Whisper and the speaker encoder took 135 s against
    43-47 s for later ones, docs/BENCHMARKS.md "20-minute runs with it"), so alone it counts only as
    far as the probe's estimate."""
    blocks = run.eval_blocks
    if len(blocks) > 1:
        return sum(blocks[1:]) / (len(blocks) - 1)
    _step_s, eval_s, save_s = run.timing
    return min(blocks[0], probe.eval_block_seconds(eval_s, save_s, listening=run.on_checkpoint is not None))


def refit(run) -> None:
    """Re-size a --max-minutes run after an eval from its measured pace: what the rest of the budget
    holds at the seconds per training step taken so far (the loop's time less its evals) with the
    evals still to come at the seconds they take (_eval_seconds), keeping back REFIT_MARGIN of the
    budget for a pace that slows (a run cut by the budget between evals ends without its last eval).

    The warm-ups and freeze-until steps the backend sized from the first plan are kept: they are
    steps already planned or taken, not fractions re-read later. Every process takes the same
    decision (the smallest fit). ``run``: the engine's run object (engine._Run); ``run.eval_blocks``
    holds the seconds of each eval this process made (with its checkpoint and listening)."""
    cfg = run.cfg
    done = run.step - run.loop_step0
    if not run.budget_sized or done < probe.PROBE_STEPS or not length_free(cfg.scheduler):
        return
    now = time.monotonic()
    pace = max(1e-6, (now - run.loop_started - sum(run.eval_blocks)) / done)
    per_eval = _eval_seconds(run)
    # the run's last eval must fit for it to end evaluated: it is priced at the slowest seen since the first
    slowest = max(run.eval_blocks[1:], default=per_eval)
    last_extra = max(0.0, slowest - per_eval)
    left = cfg.max_minutes * 60 * (1 - REFIT_MARGIN) - (now - run.start) - last_extra
    fits = run.step + steps_that_fit(left, run.step, pace, per_eval, run.eval_every)
    # what the whole budget, margin spent, holds: a plan longer than that is cut by the budget before
    # its last eval, so it is shortened however small the change (the hysteresis below, 5 % of a
    # 1,000-step toy run, is more than the 3 % margin and let such a run end on time_budget)
    overruns = run.total > run.step + steps_that_fit(left + cfg.max_minutes * 60 * REFIT_MARGIN, run.step, pace,
                                                      per_eval, run.eval_every)
    if run.world > 1:
        vec = torch.tensor([float(fits), -float(overruns)], device=run.acc.device)
        torch.distributed.all_reduce(vec, op=torch.distributed.ReduceOp.MIN)
        fits, overruns = int(vec[0].item()), vec[1].item() < 0
    old = run.total
    if fits == old or (not overruns and abs(fits - old) < max(2, REFIT_MIN_CHANGE * old)):
        return
    first_plan = cfg.derived.get("max_steps", "").split("; re-fitted")[0]
    cfg.derive("max_steps", fits, f"{first_plan}; re-fitted at step {run.step} from {old}: {pace:.2f} s per "
               f"training step and {per_eval:.0f} s per eval so far, {max(left, 0.0):.0f} s of the budget left")
    run.length = run_length(len(run.train_ds), cfg.batch_size, cfg.grad_accum, cfg.epochs, cfg.max_steps, run.world)
    run.total = run.length.total_steps
    cfg.derived["run.total_steps"] = f"{run.total}: {run.length.explain} (re-fitted at step {run.step})"
    run.schedule = LRSchedule(cfg.scheduler, run.length)
    if run.main:
        save_config(cfg, run.run_dir / "config.yaml")
        run.log.event("refit", run.step, total_steps=run.total, previous=old, seconds_per_step=round(pace, 3),
                      seconds_per_eval=round(per_eval, 3))
        run.progress.set_total(run.total)
        run.progress.print(f"run length: {old} -> {run.total} steps ({pace:.2f} s per step and {per_eval:.0f} s "
                           f"per eval so far, {cfg.max_minutes:g}-minute budget)")
