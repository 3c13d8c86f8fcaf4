"""Toy backends for the trainer-engine tests: real modules, real optimizers, synthetic data.

- RegressionBackend: one optimizer, an MLP with dropout (so RNG state matters for resume).
- GanBackend: a generator and a discriminator with two optimizers, trained like VITS
  (discriminator step on detached output, then generator step with L1 + adversarial loss).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from voicetune.trainer.backend import FreezeRule, Sample


class VectorSet(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, lengths: list[int] | None = None):
        self.x, self.y = x, y
        if lengths is not None:
            self.lengths = lengths

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def _collate(items):
    xs, ys = zip(*items, strict=True)
    return {"x": torch.stack(xs), "y": torch.stack(ys)}


def make_split(n_train: int, n_eval: int, dim: int, seed: int, noise: float = 0.05):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(dim, dim, generator=g) / math.sqrt(dim)
    x = torch.randn(n_train + n_eval, dim, generator=g)
    y = torch.tanh(x @ w) + noise * torch.randn(n_train + n_eval, dim, generator=g)
    lengths = torch.randint(10, 100, (n_train,), generator=g).tolist()
    return VectorSet(x[:n_train], y[:n_train], lengths), VectorSet(x[n_train:], y[n_train:])


class RegressionBackend:
    name = "toy-regression"

    def __init__(self, n_train: int = 64, n_eval: int = 16, dim: int = 8, seed: int = 0,
                 nan_steps: tuple[int, ...] = (), step_sleep: float = 0.0, eval_curve: list[float] | None = None,
                 freeze: list[FreezeRule] | None = None, dropout: float = 0.1, lengths: bool = True,
                 init_seed: int | None = None, noise: float = 0.05, hidden: int = 32):
        torch.manual_seed(seed if init_seed is None else init_seed)
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.train_ds, self.eval_ds = make_split(n_train, n_eval, dim, seed, noise)
        if not lengths:
            del self.train_ds.lengths
        self.nan_steps = set(nan_steps)
        self.step_sleep = step_sleep
        self.eval_curve = eval_curve  # a constructed eval-loss curve (early-stop/overfit tests)
        self.n_evals = 0
        self.freeze = freeze or []
        self.seen_steps: list[int] = []

    def modules(self):
        return {"net": self.net}

    def param_groups(self, modules):
        return {"main": list(modules["net"].parameters())}

    def datasets(self):
        return self.train_ds, self.eval_ds

    def collate(self, items):
        return _collate(items)

    def freeze_rules(self):
        return self.freeze

    def train_step(self, batch, ctx):
        pred = ctx.modules["net"](batch["x"])
        loss = nn.functional.mse_loss(pred, batch["y"])
        if ctx.global_step + 1 in self.nan_steps:  # the (1-based) optimizer step being taken
            loss = loss * float("nan")
        ctx.backward(loss)
        if self.step_sleep:
            time.sleep(self.step_sleep)
        self.seen_steps.append(ctx.global_step)
        return {"loss": loss.detach()}

    def eval_step(self, batch, modules):
        loss = nn.functional.mse_loss(modules["net"](batch["x"]), batch["y"])
        if self.eval_curve is not None:  # one eval batch per eval in these tests
            self.n_evals += 1
            return {"loss": self.eval_curve[min(self.n_evals - 1, len(self.eval_curve) - 1)], "mse": loss}
        return {"loss": loss, "mae": (modules["net"](batch["x"]) - batch["y"]).abs().mean()}

    def samples(self, modules, step):
        t = np.arange(2205) / 22050
        x = self.eval_ds.x[:1]
        img = modules["net"](x).detach().numpy().reshape(1, -1).repeat(4, axis=0)
        return [Sample("tone", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050,
                       {"pred": img}, text="a tone")]


class GanBackend:
    """y = f(x): a generator trained with L1 ('mel') + adversarial loss against a discriminator."""

    name = "toy-gan"

    def __init__(self, n_train: int = 64, n_eval: int = 16, dim: int = 8, seed: int = 0, adv_weight: float = 0.1):
        torch.manual_seed(seed)
        self.gen = nn.Sequential(nn.Linear(dim, 32), nn.LeakyReLU(0.1), nn.Linear(32, dim))
        self.disc = nn.Sequential(nn.Linear(2 * dim, 32), nn.LeakyReLU(0.1), nn.Linear(32, 1))
        self.train_ds, self.eval_ds = make_split(n_train, n_eval, dim, seed)
        self.adv_weight = adv_weight

    def modules(self):
        return {"gen": self.gen, "disc": self.disc}

    def param_groups(self, modules):
        return {"gen": list(modules["gen"].parameters()), "disc": list(modules["disc"].parameters())}

    def datasets(self):
        return self.train_ds, self.eval_ds

    def collate(self, items):
        return _collate(items)

    def train_step(self, batch, ctx):
        gen, disc = ctx.modules["gen"], ctx.modules["disc"]
        x, y = batch["x"], batch["y"]
        fake = gen(x)
        with ctx.only("disc"):
            real_score = disc(torch.cat([x, y], -1))
            fake_score = disc(torch.cat([x, fake.detach()], -1))
            loss_d = ((1 - real_score) ** 2).mean() + (fake_score**2).mean()  # LSGAN, as VITS
            ctx.backward("disc", loss_d)
        ctx.step("disc")
        with ctx.only("gen"):
            l1 = (fake - y).abs().mean()
            adv = ((1 - disc(torch.cat([x, fake], -1))) ** 2).mean()
            ctx.backward("gen", l1 + self.adv_weight * adv)
        ctx.step("gen")
        return {"loss": l1.detach(), "adv": adv.detach(), "disc": loss_d.detach()}

    def eval_step(self, batch, modules):
        return {"loss": (modules["gen"](batch["x"]) - batch["y"]).abs().mean()}


def weights_digest(module: nn.Module) -> list[float]:
    return [float(p.detach().double().sum()) for p in module.parameters()]
