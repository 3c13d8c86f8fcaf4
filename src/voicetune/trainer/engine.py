"""The training loop: a backend (see backend.py) + a TrainConfig + a run folder -> checkpoints.

    result = fit(backend, cfg, "runs/joe-ft")          # new run
    result = resume(backend, "runs/joe-ft")            # continue exactly where it stopped

accelerate supplies the device, mixed precision and the process group, so
``accelerate launch`` works unchanged. Everything that depends on the model lives in the
backend; everything about *running* a model lives here.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from voicetune.errors import VoicetuneError
from voicetune.trainer import checkpoints as ckpt
from voicetune.trainer import probe
from voicetune.trainer.backend import Backend, named_parameters, parameter_report
from voicetune.trainer.config import TrainConfig, load_config, save_config
from voicetune.trainer.data import BucketBatchSampler
from voicetune.trainer.evalpass import eval_losses, render_samples
from voicetune.trainer.logs import RunLog
from voicetune.trainer.monitor import Event, Monitor
from voicetune.trainer.runtime import StopSignals, clear_stale_logs, make_accelerator, seed_all, to_device
from voicetune.trainer.schedule import apply_lr, build_optimizer
from voicetune.trainer.sizing import refit, size_run
from voicetune.trainer.stepper import Stepper
from voicetune.trainer.ui import Progress, banner

REQUIRED = ("modules", "param_groups", "datasets", "collate", "train_step", "eval_step")


# what `--dry-run` prints before the config and the estimate (the UI's Estimate reads them back)
DRY_RUN_CONFIG, DRY_RUN_ESTIMATE = "resolved config (what config.yaml would hold):", "dry run:"


@dataclass
class FitResult:
    status: str  # finished | early_stop | overfit | gap | unstable | interrupted | time_budget | stopped
    step: int
    epoch: int
    checkpoint: Path | None
    best: dict[str, Any] | None
    message: str


def fit(backend: Backend, cfg: TrainConfig, run_dir: str | Path, *, resume: bool = False,
        show_progress: bool | None = None,
        on_checkpoint: Callable[[Path, int], Mapping[str, float]] | None = None, dry_run: bool = False) -> FitResult:
    """Train ``backend`` into ``run_dir`` (a new run unless ``resume``).

    ``dry_run``: build everything, time a step, an eval and a checkpoint on this machine, print the
    resolved config and the run's estimated time, and return (status "dry_run") without writing
    anything into ``run_dir``.

    ``on_checkpoint(path, step)`` runs on the main process after each checkpoint is saved (e.g.
    voicetune.evaluation.runlog.checkpoint_scorer, which listens); its numbers go to ``eval.jsonl`` and
    ``cfg.select_metric`` may name one of them to pick the kept/best checkpoints.
    """
    missing = [m for m in REQUIRED if not callable(getattr(backend, m, None))]
    if missing:
        raise TypeError(f"backend {type(backend).__name__} lacks {missing} (see voicetune.trainer.backend.Backend)")
    run = _Run(backend, cfg, Path(run_dir), resume, show_progress, on_checkpoint, dry_run)
    return run.dry_run_result() if dry_run else run.train()


def resume(backend: Backend, run_dir: str | Path, overrides: Mapping[str, Any] | None = None,
           **kwargs: Any) -> FitResult:
    """Continue a run from its last checkpoint with its own config.yaml (same data order, RNG).

    ``overrides`` (dotted keys, e.g. ``{"max_minutes": 10, "epochs": 40}``) change the saved
    config; a longer or shorter run re-sizes the LR schedule from the new length (noted in
    config.yaml and the banner).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise VoicetuneError(f"{run_dir}: not a training run (no config.yaml); give the -o folder of a run")
    overrides = dict(overrides or {})
    cfg = load_config(run_dir / "config.yaml", overrides)
    if ("max_minutes" in overrides and cfg.derived.get(probe.LENGTH_FROM) == "max_minutes"
            and not {"max_steps", "epochs"} & set(overrides)):
        cfg.max_steps = None  # a new budget: the engine re-times the step and sizes the rest of the run
    return fit(backend, cfg, run_dir, resume=True, **kwargs)


class _Run:
    """One process's view of a run. Set up in __init__, trained by train()."""

    def __init__(self, backend: Backend, cfg: TrainConfig, run_dir: Path, resume: bool,
                 show_progress: bool | None, on_checkpoint: Callable[[Path, int], Mapping[str, float]] | None,
                 dry_run: bool = False):
        self.backend, self.cfg, self.run_dir, self.on_checkpoint = backend, cfg, run_dir, on_checkpoint
        self.dry_run = dry_run
        self.acc = acc = make_accelerator(cfg.precision, cfg.device)
        self.main, self.rank, self.world = acc.is_main_process, acc.process_index, acc.num_processes
        seed_all(cfg.seed + self.rank)  # dropout etc. differ per process; weights are synced below
        if not resume and ckpt.latest(run_dir) is not None:
            raise VoicetuneError(f"{run_dir} already holds checkpoints; continue it with --resume {run_dir} "
                                 "or pick a new -o")
        self._build_model()
        self._build_data()
        self.step = self.epoch = self.pos = 0  # optimizer steps, epoch, batches done in the epoch
        self.elapsed0 = 0.0
        self.monitor = Monitor(cfg)
        self.saved_total: int | None = None
        if resume:
            self._restore()
        size_run(self)
        if not resume and self.main and not dry_run:
            run_dir.mkdir(parents=True, exist_ok=True)
            clear_stale_logs(run_dir)
            save_config(cfg, run_dir / "config.yaml")
        self.log = RunLog(run_dir, self.main and not dry_run, resume_step=self.step if resume else None)
        self._apply_freeze(self.step)  # before the banner, so its trainable/total counts are this step's
        if self.main:
            params = parameter_report(self.modules)
            banner(backend, cfg, acc, self.length, self.schedule, params, run_dir,
                   resumed_from=self.step if resume else None, dry_run=dry_run)
            self.log.event("resume" if resume else "start", self.step, total_steps=self.total, world_size=self.world,
                           parameters={k: {"trainable": t, "total": n} for k, (t, n) in params.items()})
        self.progress = Progress(enabled=self.main and show_progress is not False, total=self.total,
                                 start=self.step, force=show_progress is True)
        self.last_saved = self.step if resume else -1
        self.last_train: dict[str, float] = {}
        self.last_eval: dict[str, float] = {}
        self.train_since_eval: list[float] = []

    # --- setup ---------------------------------------------------------------------------------

    def _build_model(self) -> None:
        cfg, acc, backend = self.cfg, self.acc, self.backend
        self.modules = dict(backend.modules())
        for m in self.modules.values():
            m.to(acc.device).train()
        if self.world > 1:  # every process starts from rank 0's weights
            for m in self.modules.values():
                for t in m.state_dict().values():
                    torch.distributed.broadcast(t, src=0)
        if cfg.gradient_checkpointing:
            hook = getattr(backend, "enable_gradient_checkpointing", None)
            if hook is None:
                acc.print(f"note: backend {backend.name} has no gradient checkpointing; training without it")
            else:
                hook(self.modules)
        # compiled modules share their parameters with the originals; eval, samples and
        # checkpoints use the originals (plain state-dict keys, no recompiles for eval shapes)
        run_modules = {k: torch.compile(m) for k, m in self.modules.items()} if cfg.compile else self.modules
        self.optimizers = {name: build_optimizer(cfg.optimizer_for(name), groups)
                           for name, groups in backend.param_groups(self.modules).items()}
        self.stepper = Stepper(acc, run_modules, self.optimizers, cfg.clip_norm)
        self.initial_grad = {n: p.requires_grad for n, p in named_parameters(self.modules)}

    def _build_data(self) -> None:
        cfg, backend, world, rank = self.cfg, self.backend, self.world, self.rank
        train_ds, eval_ds = backend.datasets()
        if len(eval_ds) == 0:
            raise VoicetuneError("the eval split is empty: eval never runs on training clips; "
                                 "give the dataset eval clips")
        self.sampler = BucketBatchSampler(len(train_ds), cfg.batch_size, lengths=getattr(train_ds, "lengths", None),
                                          seed=cfg.seed, bucket_size=cfg.bucket_size, num_replicas=world, rank=rank)
        self.eval_sampler = BucketBatchSampler(len(eval_ds), cfg.eval_batch_size or cfg.batch_size, shuffle=False,
                                               lengths=getattr(eval_ds, "lengths", None), num_replicas=world,
                                               rank=rank, pad=False)
        # Own generators: creating a DataLoader iterator otherwise draws from the global RNG, and
        # a resumed run (which starts its iterator mid-epoch) would drift from an uninterrupted
        # one. The train one is reseeded per epoch so workers get new random streams each epoch.
        self.loader_gen = torch.Generator()
        pin = self.acc.device.type == "cuda"
        self.loader = torch.utils.data.DataLoader(train_ds, batch_sampler=self.sampler, collate_fn=backend.collate,
                                                  num_workers=cfg.num_workers, generator=self.loader_gen,
                                                  pin_memory=pin)
        self.eval_loader = torch.utils.data.DataLoader(eval_ds, batch_sampler=self.eval_sampler,
                                                       collate_fn=backend.collate, num_workers=cfg.num_workers,
                                                       generator=torch.Generator(), pin_memory=pin)
        self.train_ds = train_ds

    def _restore(self) -> None:
        last = ckpt.latest(self.run_dir)
        if last is None:
            raise VoicetuneError(f"{self.run_dir}: no complete checkpoint to resume from; "
                                 "start the run again without --resume")
        if self.main and not self.dry_run:
            ckpt.remove_partial(self.run_dir)
        state = ckpt.load(last, self.modules, self.optimizers, self.stepper.scaler, self.rank)
        self.step, self.epoch, self.pos = state["step"], state["epoch"], state["batches_in_epoch"]
        self.elapsed0 = state.get("elapsed_seconds", 0.0)
        self.monitor.load_state_dict(state["monitor"])
        self.saved_total = state.get("total_steps")
        if state.get("world_size", 1) != self.world:
            self.acc.print(f"note: the run used {state.get('world_size')} processes, now {self.world}: "
                           "the data order differs from an uninterrupted run")

    def _apply_freeze(self, at: int) -> None:
        frozen = {n for n in self.initial_grad for r in self.rules
                  if n.startswith(r.prefix) and (r.until_step is None or at < r.until_step)}
        for n, p in named_parameters(self.modules):
            p.requires_grad_(self.initial_grad[n] and n not in frozen)

    def dry_run_result(self) -> FitResult:
        """The resolved config and the time the run would take here (probe.estimate), nothing written."""
        from voicetune.trainer.config import config_text

        assert self.timing is not None
        message = probe.estimate(self.timing, self.total - self.step, self.eval_every, self.save_every,
                                 listening=self.on_checkpoint is not None)
        if self.main:
            self.acc.print(f"{DRY_RUN_CONFIG}\n" + config_text(self.cfg))
            self.acc.print(f"{DRY_RUN_ESTIMATE} {message}; nothing was written")
        return FitResult("dry_run", self.step, self.epoch, None, None, message)

    # --- the loop ------------------------------------------------------------------------------

    def train(self) -> FitResult:
        status, message = "finished", ""
        self.start = self.probe_started  # the budget counts the step-time probe too
        self.loop_started, self.loop_step0 = time.monotonic(), self.step  # the pace refit measures
        self.eval_blocks: list[float] = []  # seconds of each eval with its checkpoint (refit keeps them apart)
        with StopSignals() as signals:
            while status == "finished" and self.step < self.total:
                status, message = self._epoch(signals)
            self.progress.close()
            if self.last_saved != self.step and self.step > 0:
                self._save(self.step)
        best = None
        if self.main:
            cfg = self.cfg
            best = ckpt.retain(self.run_dir, cfg.keep_top_k, cfg.save_total_limit, cfg.select_metric, cfg.select_mode)
            message = f"finished {self.step} steps" if status == "finished" else message
            self.log.event("end", self.step, status=status, message=message)
            self.log.close()
            self.progress.summary(status, message, self.run_dir, best,
                                  resumable=status in ("interrupted", "time_budget"))
        self.acc.wait_for_everyone()
        return FitResult(status, self.step, self.epoch, ckpt.latest(self.run_dir), best, message)

    def _epoch(self, signals: StopSignals) -> tuple[str, str]:
        """Train from the current position to the end of the epoch or until a stop."""
        cfg, sampler = self.cfg, self.sampler
        sampler.set_position(self.epoch, self.pos)
        self.loader_gen.manual_seed((cfg.seed * 100_003 + self.epoch) * 1_009 + self.rank)
        n_batches = len(sampler)
        sums: dict[str, float] = defaultdict(float)  # per log interval
        window_sums: dict[str, float] = defaultdict(float)  # per optimizer step
        n_logged = 0
        for batch in self.loader:
            # accumulation windows are aligned to the epoch start; the last one may be short
            wstart = (self.pos // cfg.grad_accum) * cfg.grad_accum
            window = min(cfg.grad_accum, n_batches - wstart)
            sync = self.pos == wstart + window - 1
            if self.pos == wstart:
                self._begin_step()
            self.stepper.begin(window, sync)
            with self.acc.autocast():
                losses = self.backend.train_step(to_device(batch, self.acc.device), self.stepper)
            for k, v in losses.items():
                window_sums[k] += float(v) / window
            self.pos += 1
            if not sync:
                continue
            norms, skipped = self.stepper.finish()
            self.step += 1
            loss = window_sums.get("loss")
            events = self.monitor.on_step(self.step, None if skipped else loss, not skipped,
                                          f" of {', '.join(skipped)}" if skipped else "")
            if not skipped:  # a skipped step's NaN losses would poison the logged means
                n_logged += 1
                for k, v in window_sums.items():
                    sums[k] += v
                if loss is not None:
                    self.train_since_eval.append(loss)
            window_sums.clear()
            if n_logged and (self.step % cfg.log_every == 0 or self.step in (1, self.total)):
                self._log_train(sums, n_logged, norms, skipped)
                sums.clear()
                n_logged = 0
            self.progress.update(self.step, self.epoch, self.last_train, self.lr, norms)
            status, message = self._after_step(events, signals)
            if status != "finished" or self.step >= self.total:
                return status, message
        self.epoch, self.pos = self.epoch + 1, 0  # the run length is whole epochs or max_steps
        return "finished", ""

    def _begin_step(self) -> None:
        if any(r.until_step == self.step for r in self.rules):
            self._apply_freeze(self.step)
        factor = self.schedule.factor(self.step) * self.monitor.lr_scale
        self.lr = {n: apply_lr(o, factor) for n, o in self.optimizers.items()}
        self.stepper.global_step = self.step

    def _log_train(self, sums: dict[str, float], n: int, norms: dict[str, float], skipped: list[str]) -> None:
        means = {k: v / n for k, v in sums.items()}
        if self.world > 1:
            keys = sorted(means)
            vec = self.acc.reduce(torch.tensor([means[k] for k in keys], device=self.acc.device), "mean")
            means = {k: float(vec[i]) for i, k in enumerate(keys)}
        self.last_train = means
        if self.main:
            self.log.event("train", self.step, epoch=self.epoch, loss=means, lr=self.lr, grad_norm=norms,
                           skipped=skipped or None, elapsed=round(self._elapsed(), 2))

    def _after_step(self, events: list[Event], signals: StopSignals) -> tuple[str, str]:
        """Eval, samples, checkpoint and every reason to stop, in that order."""
        cfg, step = self.cfg, self.step
        stopper = self._report(events)
        t0, evaluated = time.monotonic(), False
        if stopper is None and (step % self.eval_every == 0 or step == self.total):
            stopper, evaluated = self._evaluate(), True
        if stopper is None and step % self.save_every == 0:
            self._save(step)
        if evaluated:
            self.eval_blocks.append(time.monotonic() - t0)
        if evaluated and stopper is None and step < self.total:
            refit(self)
        # every process must take the same decision, or a collective would hang
        flags = [signals.received is not None,
                 # the last step done (and evaluated) is a finished run, even a moment past the budget
                 cfg.max_minutes is not None and time.monotonic() - self.start >= cfg.max_minutes * 60
                 and step < self.total,
                 stopper is not None]
        if self.world > 1:
            vec = torch.tensor([float(f) for f in flags], device=self.acc.device)
            torch.distributed.all_reduce(vec, op=torch.distributed.ReduceOp.MAX)
            flags = [bool(x) for x in vec.tolist()]
        if stopper is not None:
            return stopper.kind, stopper.message
        if flags[2]:
            return "stopped", f"stopped by another process's monitor at step {step}"
        if flags[0]:
            return "interrupted", f"stopped by {signals.received or 'a signal'} after step {step}"
        if flags[1]:
            return "time_budget", f"the {cfg.max_minutes:g}-minute budget ran out at step {step}"
        return "finished", ""

    def _report(self, events: list[Event]) -> Event | None:
        stopper = None
        for e in events:
            if self.main:
                self.log.event("warning", e.step, kind=e.kind, message=e.message)
                self.progress.print(f"[yellow]{e.kind}[/]: {e.message}")
            if e.stop and stopper is None:
                stopper = e
        return stopper

    # --- eval, samples, checkpoints ------------------------------------------------------------

    def _evaluate(self) -> Event | None:
        result = self._eval_losses()
        train_loss = sum(self.train_since_eval) / len(self.train_since_eval) if self.train_since_eval else None
        if self.world > 1 and train_loss is not None:  # every process must judge the same numbers
            train_loss = float(self.acc.reduce(torch.tensor([train_loss], device=self.acc.device), "mean"))
        self.train_since_eval = []
        self.last_eval = {**result, "_step": self.step}
        if self.main:
            self.log.event("eval", self.step, epoch=self.epoch, loss=result, train_loss=train_loss)
            self.progress.print(f"step {self.step}: eval " + ", ".join(f"{k} {v:.4g}" for k, v in result.items()))
            if self.step % self.samples_every == 0 or self.step == self.total:
                self._samples()
        if "loss" not in result:
            return None
        return self._report(self.monitor.on_eval(self.step, result["loss"], train_loss))

    def _eval_losses(self) -> dict[str, float]:
        return eval_losses(self)

    def _samples(self) -> None:
        samples = self._render_samples()
        if samples is not None:
            self.log.samples(self.step, samples)

    def _render_samples(self) -> list | None:
        return render_samples(self.backend, self.modules, self.step)

    def _elapsed(self) -> float:
        return self.elapsed0 + time.monotonic() - self.start

    def _save(self, at: int) -> None:
        cfg, run_dir = self.cfg, self.run_dir
        metrics = {f"train/{k}": v for k, v in self.last_train.items()}
        if self.last_eval.get("_step") == at:
            metrics.update({f"eval/{k}": v for k, v in self.last_eval.items() if k != "_step"})
        done_epoch = self.pos >= len(self.sampler)
        trainer = {"step": at, "epoch": self.epoch + 1 if done_epoch else self.epoch,
                   "batches_in_epoch": 0 if done_epoch else self.pos, "seed": cfg.seed, "world_size": self.world,
                   "backend": self.backend.name, "total_steps": self.total, "elapsed_seconds": self._elapsed(),
                   "metrics": metrics, "lr": {n: o.param_groups[0]["lr"] for n, o in self.optimizers.items()},
                   "monitor": self.monitor.state_dict()}
        # the main process makes the temp folder, every process adds its RNG state, the main
        # process writes the rest and renames the folder into place
        tmp = ckpt.begin(run_dir, at) if self.main else run_dir / "checkpoints" / f"{ckpt.TMP_PREFIX}{ckpt.step_name(at)}"
        self.acc.wait_for_everyone()
        ckpt.write_rng(tmp, self.rank)
        self.acc.wait_for_everyone()
        if self.main:
            path = ckpt.finish(tmp, self.modules, self.optimizers, self.stepper.scaler, trainer)
            if self.on_checkpoint is not None:
                scores = {k: float(v) for k, v in self.on_checkpoint(path, at).items()}
                ckpt.append_eval_row(run_dir, {"step": at, "checkpoint": f"checkpoints/{path.name}", **scores})
                self.log.event("checkpoint_eval", at, scores=scores)
            best = ckpt.retain(run_dir, cfg.keep_top_k, cfg.save_total_limit, cfg.select_metric, cfg.select_mode)
            self.log.event("checkpoint", at, path=f"checkpoints/{path.name}", best=best and best["path"])
        self.acc.wait_for_everyone()
        self.last_saved = at
