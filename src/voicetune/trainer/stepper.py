"""How gradients become updates: the engine's implementation of the backend's StepContext.

Per optimizer and accumulation window: ``backward`` scales the loss by 1/window and
accumulates; at the window's last micro-batch ``step`` all-reduces the gradients across
processes, unscales (fp16), clips (the norm is logged even without clipping), checks they are
finite, and steps — or skips the update when they are not.

Why gradients are all-reduced here instead of wrapping modules in DistributedDataParallel:
GAN training runs the discriminator twice per step with its parameters toggled on and off,
and fine-tuning unfreezes groups mid-run. DDP's reducer is built once from the parameters that
require grad and fails ("expected to have finished reduction") in exactly those cases. One
flat all-reduce per optimizer step has none of these failure modes; it forgoes overlapping
communication with backward, which matters little next to a TTS model's step time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn


class Stepper:
    def __init__(self, accelerator: Any, modules: Mapping[str, nn.Module],
                 optimizers: Mapping[str, torch.optim.Optimizer], clip_norm: float | None):
        self.accelerator = accelerator
        self.modules = modules
        self.optimizers = optimizers
        self.clip_norm = clip_norm
        self.device = accelerator.device
        self.scaler = getattr(accelerator, "scaler", None)
        self.global_step = 0
        self.window = 1
        self.sync = True
        self._used: set[str] = set()
        self._stepped: set[str] = set()
        self._bad_loss: dict[str, bool] = {}
        self.grad_norms: dict[str, float] = {}
        self.skipped: list[str] = []
        self.overflows: list[str] = []

    # --- the StepContext API used by backends --------------------------------------------------

    def backward(self, name_or_loss: str | torch.Tensor, loss: torch.Tensor | None = None) -> None:
        if isinstance(name_or_loss, str):
            name = name_or_loss
        else:
            if len(self.optimizers) != 1:
                raise TypeError(f"this backend has optimizers {list(self.optimizers)}: call ctx.backward(name, loss)")
            name, loss = next(iter(self.optimizers)), name_or_loss
        assert loss is not None
        if name not in self.optimizers:
            raise KeyError(f"ctx.backward: no optimizer named {name!r} (have {list(self.optimizers)})")
        self._used.add(name)
        self._bad_loss[name] = self._bad_loss.get(name, False) or not bool(torch.isfinite(loss.detach()).all())
        # backward outside autocast, as torch recommends; the ops keep their forward dtypes
        with torch.autocast(self.device.type, enabled=False):
            self.accelerator.backward(loss / self.window)

    def step(self, name: str | None = None) -> None:
        name = name or next(iter(self.optimizers))
        if self.sync and name not in self._stepped:
            self._step(name)

    @contextmanager
    def only(self, name: str) -> Iterator[None]:
        """Gradients flow into ``name``'s parameters only (Lightning's toggle_optimizer)."""
        saved = []
        for other, opt in self.optimizers.items():
            if other == name:
                continue
            for group in opt.param_groups:
                for p in group["params"]:
                    saved.append((p, p.requires_grad))
                    p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in saved:
                p.requires_grad_(flag)

    def autocast(self):
        return self.accelerator.autocast() if self.accelerator is not None else nullcontext()

    # --- used by the engine --------------------------------------------------------------------

    def begin(self, window: int, sync: bool) -> None:
        """Start a micro-batch of a window of ``window`` micro-batches; ``sync`` on its last."""
        self.window, self.sync = window, sync

    def finish(self) -> tuple[dict[str, float], list[str]]:
        """End of a window: step what the backend did not step itself; returns (norms, skipped)."""
        for name in self.optimizers:
            if name in self._used and name not in self._stepped:
                self._step(name)
        if self.scaler is not None:
            self.scaler.update()
        norms, skipped = self.grad_norms, self.skipped
        self._used, self._stepped, self._bad_loss = set(), set(), {}
        self.grad_norms, self.skipped, self.overflows = {}, [], []
        return norms, skipped

    def _step(self, name: str) -> None:
        opt = self.optimizers[name]
        self._stepped.add(name)
        params = [p for g in opt.param_groups for p in g["params"] if p.requires_grad]
        bad_loss = self._bad_loss.get(name, False)
        if self.accelerator.num_processes > 1:
            bad_loss = self._all_reduce(params, bad_loss)
        if self.scaler is not None:
            self.scaler.unscale_(opt)
        max_norm = self.clip_norm if self.clip_norm is not None else math.inf
        with_grad = [p for p in params if p.grad is not None]
        norm = float(torch.nn.utils.clip_grad_norm_(with_grad, max_norm)) if with_grad else 0.0
        self.grad_norms[name] = norm
        if bad_loss or not math.isfinite(norm):
            # With fp16, an overflow of the *scaled* gradients is the scaler calibrating itself:
            # scaler.update() sees it (recorded by unscale_) and lowers the scale. Not an instability.
            if self.scaler is not None and not bad_loss:
                self.overflows.append(name)
            else:
                self.skipped.append(name)
        elif self.scaler is not None:
            self.scaler.step(opt)
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)

    def _all_reduce(self, params: list[nn.Parameter], bad_loss: bool) -> bool:
        """Average gradients over processes in one flat buffer; returns 'any process had a bad loss'."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1).float() for g in grads] + [torch.tensor([float(bad_loss)], device=self.device)])
        torch.distributed.all_reduce(flat)
        flat /= self.accelerator.num_processes
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[offset : offset + n].view_as(g).to(g.dtype)
            offset += n
        return bool(flat[-1] > 0)
