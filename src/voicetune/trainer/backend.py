"""The contract between the trainer engine and a model backend (VITS, XTTS, ...).

The engine owns the loop (devices, precision, distribution, accumulation, clipping, schedules,
checkpoints, monitoring); a backend owns the model and says what one step means. The engine
never imports a backend's code: the CLI builds a backend and hands it to :func:`engine.fit`.

A backend's ``train_step`` drives its own optimizers through a :class:`StepContext`::

    def train_step(self, batch, ctx):
        gen, disc = ctx.modules["gen"], ctx.modules["disc"]
        fake = gen(batch["x"])
        with ctx.only("disc"):                         # grads reach disc params only
            loss_d = d_loss(disc(batch["y"]), disc(fake.detach()))
            ctx.backward("disc", loss_d)
        ctx.step("disc")                               # clip + step, at the accumulation boundary
        with ctx.only("gen"):
            loss_g = g_loss(disc(fake), fake, batch["y"])
            ctx.backward("gen", loss_g)
        ctx.step("gen")
        return {"disc": loss_d, "gen": loss_g}

With gradient accumulation, ``backward`` divides by the window size and ``step`` is a no-op
until the window's last micro-batch, so each optimizer sees the mean gradient of its window.
A single-optimizer backend may just call ``ctx.backward(loss)``: the engine steps every
optimizer the backend did not step itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn


@dataclass
class Sample:
    """One generated example: written to ``samples/step-NNNNNN/<name>.wav`` and TensorBoard."""

    name: str
    audio: np.ndarray | None = None  # mono float32 in [-1, 1]
    sample_rate: int = 22050
    images: dict[str, np.ndarray] = field(default_factory=dict)  # name -> HxW or HxWx3 array
    text: str | None = None


@dataclass(frozen=True)
class FreezeRule:
    """Keep parameters whose name starts with ``prefix`` (``"gen.enc_p"``) frozen until ``until_step``.

    ``until_step=None`` freezes them for the whole run. Names are ``<module>.<parameter>``.
    """

    prefix: str
    until_step: int | None = None


class StepContext(Protocol):
    """What ``train_step`` may use; implemented by the engine."""

    modules: Mapping[str, nn.Module]  # possibly compiled; the same parameters as backend.modules()
    global_step: int  # optimizer steps taken so far
    device: torch.device

    def backward(self, name_or_loss: str | torch.Tensor, loss: torch.Tensor | None = None) -> None: ...

    def step(self, name: str | None = None) -> None: ...

    def only(self, name: str) -> AbstractContextManager[None]: ...

    def autocast(self) -> AbstractContextManager[None]: ...


@runtime_checkable
class Backend(Protocol):
    """Required methods. Optional hooks are looked up with ``getattr`` (see below)."""

    name: str

    def modules(self) -> dict[str, nn.Module]:
        """The trainable modules by name; all of them are saved in checkpoints."""
        ...

    def param_groups(self, modules: Mapping[str, nn.Module]) -> dict[str, Sequence[Any]]:
        """Optimizer name -> parameters or param-group dicts (a group may set ``lr_mult``)."""
        ...

    def datasets(self) -> tuple[torch.utils.data.Dataset, torch.utils.data.Dataset]:
        """(train, eval). Eval is the dataset's eval split, never the training clips.

        A dataset with a ``lengths`` attribute (one int per item) gets length-bucketed batches.
        """
        ...

    def collate(self, items: list[Any]) -> Any:
        """Items -> one batch (tensors in dicts/tuples are moved to the device by the engine)."""
        ...

    def train_step(self, batch: Any, ctx: StepContext) -> Mapping[str, torch.Tensor | float]:
        """Forward, ``ctx.backward`` and (optionally) ``ctx.step``; returns named losses to log."""
        ...

    def eval_step(self, batch: Any, modules: Mapping[str, nn.Module]) -> Mapping[str, torch.Tensor | float]:
        """Named losses on one eval batch (called under no_grad, modules in eval mode).

        Must include ``loss``: the number early stopping and checkpoint selection use.
        """
        ...


# Optional hooks a backend may define (the engine checks with getattr):
#   samples(modules, step) -> list[Sample]        eval sentences spoken by this checkpoint
#   freeze_rules() -> list[FreezeRule]            groups frozen for the first N steps / all run
#   fit_run_length(total_steps) -> dict[str, str] size the backend's own warm-ups to the run once its
#                                                 length is known; returns {option: why} for config.yaml
#   enable_gradient_checkpointing(modules) -> None
#   describe() -> dict[str, str]                  extra lines for the start-of-run banner


def parameter_report(modules: Mapping[str, nn.Module]) -> dict[str, tuple[int, int]]:
    """Module name -> (trainable, total) parameter counts; shared tensors are counted once."""
    report = {}
    for name, module in modules.items():
        seen: set[int] = set()
        trainable = total = 0
        for p in module.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            total += p.numel()
            trainable += p.numel() if p.requires_grad else 0
        report[name] = (trainable, total)
    return report


def named_parameters(modules: Mapping[str, nn.Module]) -> Iterator[tuple[str, nn.Parameter]]:
    """``<module>.<parameter>`` names, the namespace of FreezeRule prefixes and checkpoint keys."""
    for mod_name, module in modules.items():
        for name, p in module.named_parameters():
            yield f"{mod_name}.{name}", p
