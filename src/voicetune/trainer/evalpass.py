"""One pass over the eval split (item-weighted losses, reduced over processes) and the backend's
spoken samples: what the engine runs at every eval and the step-time probe times."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

from voicetune.trainer.runtime import to_device


def eval_losses(run: Any) -> dict[str, float]:
    """Item-weighted means of the backend's eval losses over the whole eval split (``run``: engine._Run)."""
    for m in run.modules.values():
        m.eval()
    totals: dict[str, float] = defaultdict(float)
    count = 0.0
    sizes = [len(b) for b in run.eval_sampler]
    with torch.no_grad(), run.acc.autocast():
        for n, batch in zip(sizes, run.eval_loader, strict=True):
            for k, v in run.backend.eval_step(to_device(batch, run.acc.device), run.modules).items():
                totals[k] += float(v) * n
            count += n
    for m in run.modules.values():
        m.train()
    keys = sorted(totals)
    vec = torch.tensor([totals[k] for k in keys] + [count], dtype=torch.float64, device=run.acc.device)
    if run.world > 1:
        torch.distributed.all_reduce(vec)
    return {k: float(vec[i] / vec[-1]) for i, k in enumerate(keys)}


def render_samples(backend: Any, modules: dict[str, torch.nn.Module], step: int) -> list | None:
    """The backend's listening samples at this step (None when it has no ``samples`` hook)."""
    hook = getattr(backend, "samples", None)
    if hook is None:
        return None
    for m in modules.values():
        m.eval()
    with torch.no_grad():  # full precision: samples are for listening, not for speed
        samples = list(hook(modules, step))
    for m in modules.values():
        m.train()
    return samples
