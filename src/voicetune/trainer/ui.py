"""Console output of a run: the start-of-run banner and the progress bar (main process only)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def _count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n:,}"


def banner(backend: Any, cfg: Any, acc: Any, length: Any, schedule: Any, params: dict[str, tuple[int, int]],
           run_dir: Path, resumed_from: int | None, dry_run: bool = False) -> None:
    """The resolved configuration, before the first step (what the user gets, not what they typed)."""
    t = Table(title=f"voicetune train · {backend.name}", show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold cyan")
    t.add_column()
    t.add_row("run", "dry run: nothing is written" if dry_run else
              f"{run_dir}" + (f" (resumed at step {resumed_from})" if resumed_from is not None else ""))
    if not dry_run:
        t.add_row("watch", f"tensorboard --logdir {run_dir / 'tb'}  ·  voicetune runs {run_dir}")
    t.add_row("device", f"{acc.device} × {acc.num_processes} process(es), precision {acc.mixed_precision}"
              + (", torch.compile" if cfg.compile else ""))
    t.add_row("length", length.explain)
    t.add_row("batch", f"{cfg.batch_size} × accumulation {cfg.grad_accum} × {acc.num_processes} process(es) = "
              f"{cfg.batch_size * cfg.grad_accum * acc.num_processes} items per optimizer step")
    opt = cfg.optimizer
    t.add_row("optimizer", f"{opt.name} lr {opt.lr:g} weight decay {opt.weight_decay:g}"
              + (f"; overrides {cfg.optimizers}" if cfg.optimizers else ""))
    t.add_row("schedule", f"{cfg.scheduler.name}: {schedule.describe()}")
    t.add_row("clipping", f"grad norm ≤ {cfg.clip_norm:g}" if cfg.clip_norm else "off (norm logged)")
    t.add_row("eval/save", f"eval every {cfg.eval_every} steps, save every {cfg.save_every or cfg.eval_every}, "
              f"keep top {cfg.keep_top_k} by {cfg.select_metric} ({cfg.select_mode}) + last")
    es, of = cfg.early_stop, cfg.overfit
    t.add_row("stopping", (f"early stop after {es.patience} evals without gain > {es.min_delta:g}" if es.enabled
                           else "no early stop") + (f"; overfit monitor ({of.action})" if of.enabled else "")
              + (f"; budget {cfg.max_minutes:g} min" if cfg.max_minutes else ""))
    for name, (trainable, total) in params.items():
        share = 100 * trainable / total if total else 0
        t.add_row(f"params {name}", f"{_count(trainable)} trainable of {_count(total)} ({share:.1f} %)")
    for rule in getattr(backend, "freeze_rules", list)():
        until = f"until step {rule.until_step}" if rule.until_step is not None else "for the whole run"
        t.add_row("frozen", f"{rule.prefix}* {until}")
    for key, line in getattr(backend, "describe", dict)().items():
        t.add_row(key, line)
    for field, reason in cfg.derived.items():
        t.add_row("derived", f"{field}: {reason}")
    console.print(t)


class Progress:
    """A rich bar with step, epoch, losses, LR and ETA; plain log lines when not on a terminal."""

    def __init__(self, enabled: bool, total: int, start: int, force: bool = False):
        self.enabled = enabled
        self.live = enabled and (console.is_terminal or force)
        self.bar = None
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=console)
            self.task = self.bar.add_task("train", total=total, completed=start, epoch=0, info="")
            self.bar.start()

    def update(self, step: int, epoch: int, losses: dict[str, float], lr: dict[str, float],
               norms: dict[str, float]) -> None:
        if self.bar is not None:
            info = " ".join(f"{k} {v:.3g}" for k, v in list(losses.items())[:4])
            info += " lr " + "/".join(f"{v:.2e}" for v in lr.values())
            self.bar.update(self.task, completed=step, epoch=epoch, info=info)

    def set_total(self, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, total=total)

    def print(self, text: str) -> None:
        if self.enabled:
            console.print(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def summary(self, status: str, message: str, run_dir: Path, best: dict | None, resumable: bool) -> None:
        self.close()
        colour = "green" if status in ("finished", "early_stop") else "yellow"
        console.print(f"[{colour}]{status}[/]: {message}")
        if best:
            console.print(f"best checkpoint: {run_dir / best['path']} ({best['metric']} {best['value']:.4g})")
        if resumable:
            console.print(f"resume with: voicetune train --resume {run_dir}")
        sys.stdout.flush()
