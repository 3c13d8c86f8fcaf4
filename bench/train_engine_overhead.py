"""Per-step overhead of the trainer engine against a bare PyTorch loop on the same model/data.

    .venv/bin/python bench/train_engine_overhead.py [--steps 300] [--width 256 1024]

Prints CPU ms/step (process time, best of --repeats interleaved runs: the CPU is shared) for a bare loop (DataLoader + AdamW + clip) and for engine.fit (accumulation
bookkeeping, NaN checks, gradient-norm logging, LR schedule, metrics.jsonl/TensorBoard every
10 steps), excluding eval/checkpoint time (one of each, at the end, not counted).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from train_helpers import VectorSet  # noqa: E402
from voicetune.trainer.config import TrainConfig  # noqa: E402
from voicetune.trainer.engine import fit  # noqa: E402


class Bench:
    name = "bench-mlp"

    def __init__(self, width: int, n: int = 512):
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(64, width), nn.GELU(), nn.Linear(width, width), nn.GELU(), nn.Linear(width, 64))
        x = torch.randn(n, 64)
        self.ds = VectorSet(x, torch.tanh(x))
        self.stamps: list[float] = []  # CPU time at the start of each step (the CPU is shared)

    def modules(self):
        return {"net": self.net}

    def param_groups(self, modules):
        return {"main": list(modules["net"].parameters())}

    def datasets(self):
        return self.ds, VectorSet(self.ds.x[:16], self.ds.y[:16])

    def collate(self, items):
        xs, ys = zip(*items, strict=True)
        return {"x": torch.stack(xs), "y": torch.stack(ys)}

    def train_step(self, batch, ctx):
        self.stamps.append(time.process_time())
        loss = nn.functional.mse_loss(ctx.modules["net"](batch["x"]), batch["y"])
        ctx.backward(loss)
        return {"loss": loss.detach()}

    def eval_step(self, batch, modules):
        return {"loss": nn.functional.mse_loss(modules["net"](batch["x"]), batch["y"])}


def bare(width: int, steps: int) -> float:
    b = Bench(width)
    opt = torch.optim.AdamW(b.net.parameters(), lr=2e-4, betas=(0.8, 0.99), eps=1e-9, weight_decay=0.01)
    loader = torch.utils.data.DataLoader(b.ds, batch_size=8, shuffle=True, collate_fn=b.collate)
    while len(b.stamps) < steps:
        for batch in loader:
            b.stamps.append(time.process_time())
            loss = nn.functional.mse_loss(b.net(batch["x"]), batch["y"])
            loss.backward()
            nn.utils.clip_grad_norm_(b.net.parameters(), 1000.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if len(b.stamps) == steps:
                break
    return (b.stamps[-1] - b.stamps[0]) / (steps - 1)


def engine(width: int, steps: int) -> float:
    b = Bench(width)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(epochs=None, max_steps=steps, batch_size=8, eval_every=steps, log_every=10, device="cpu",
                          early_stop={"enabled": False})
        fit(b, cfg, Path(tmp) / "run", show_progress=False)
    return (b.stamps[-1] - b.stamps[0]) / (steps - 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--width", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for width in args.width:
        # interleaved repeats, best of each: the CPU is shared, the minimum is the least disturbed
        runs = [(bare(width, args.steps), engine(width, args.steps)) for _ in range(args.repeats)]
        b, e = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"width {width}: bare {b * 1e3:.2f} ms/step, engine {e * 1e3:.2f} ms/step, "
              f"overhead {(e - b) * 1e3:+.2f} ms/step ({100 * (e / b - 1):+.0f} %)")


if __name__ == "__main__":
    main()
