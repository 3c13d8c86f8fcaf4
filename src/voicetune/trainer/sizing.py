"""How long a run is and every interval sized from that: the step-time probe against a
--max-minutes budget (probe.py), the LR schedule, eval/save/sample intervals, the backend's warm-ups.
A resumed run whose length changed re-sizes its schedule and says so."""

from __future__ import annotations

import time

from voicetune.trainer import probe
from voicetune.trainer.config import save_config
from voicetune.trainer.schedule import LRSchedule, run_length


def size_run(run) -> None:
    """The run's length (timed against --max-minutes when nothing else sets it), then everything
    sized from it: the LR schedule, the eval interval, the backend's own warm-ups. ``run``: the
    engine's run object (engine._Run); sets its length, total, schedule and intervals."""
    cfg, backend = run.cfg, run.backend
    run.probe_started = time.monotonic()
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
