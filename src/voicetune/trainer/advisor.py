"""The advisor: the training settings a user did not give, derived from the dataset, the base's
backend and the hardware, each written with its reason (``derived:`` in config.yaml, the banner,
the UI). Backends bring their own table of defaults (XTTS's LR and betas, ...) and the cap of their
batch; the rules every backend shares are here, in one place.

What the run's real length decides (the LR schedule, eval interval, warm-ups) is derived by the
engine once the length is known (voicetune.trainer.engine, ``_size_run``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicetune.trainer.config import TrainConfig
from voicetune.trainer.start import wer_measurable

# Below these, the advisor says before training that the result will be weak, and what it changed.
SMALL_TRAIN_MINUTES = 3.0
SMALL_EVAL_MINUTES = 1.0
MIN_STEPS_PER_EPOCH = 4  # the batch is cut so that an epoch has at least this many optimizer steps
# A --max-minutes budget this long is scored by listening (--select-by combined) unless told
# otherwise: in a 45-minute default run on the high target of bench/finetune_quality.py the lowest
# eval loss was the last checkpoint, the worst on the quality goals (docs/BENCHMARKS.md, "the default
# recipe trained longer"), and 20 minutes hold about 4 listened evals in the evals' 25 % share
# (trainer/probe.py: EVAL_SHARE, LISTEN_SECONDS) so there is something to choose from.
LISTEN_FROM_MINUTES = 20.0
BF16_EMULATED_SLOWDOWN = 15  # docs/BENCHMARKS.md, "bf16 and shorter segments": 230 / 15 s per step


@dataclass(frozen=True)
class Hardware:
    cores: int
    ram_gib: float
    gpu: str | None = None
    vram_gib: float | None = None
    bf16: bool = False
    cpu_bf16: bool = False  # the CPU computes bf16 natively (AVX512-BF16 or AMX), not by emulation

    @classmethod
    def detect(cls) -> Hardware:
        try:
            cores = len(os.sched_getaffinity(0))  # what this process may use, not the machine's count
        except AttributeError:
            cores = os.cpu_count() or 1
        try:
            ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        except (ValueError, OSError, AttributeError):
            ram = 0.0
        import torch

        # private torch.cpu probes (torch 2.13); a torch without them is taken to emulate bf16
        cpu_bf16 = any(getattr(torch.cpu, probe, lambda: False)()
                       for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
        if not torch.cuda.is_available():
            return cls(cores, ram, cpu_bf16=cpu_bf16)
        props = torch.cuda.get_device_properties(0)
        return cls(cores, ram, props.name, props.total_memory / 2**30, bool(torch.cuda.is_bf16_supported()), cpu_bf16)

    def describe(self) -> str:
        gpu = f", {self.gpu} ({self.vram_gib:.0f} GiB{', bf16' if self.bf16 else ''})" if self.gpu else ", no GPU"
        return f"{self.cores} CPU cores, {self.ram_gib:.0f} GiB RAM{gpu}"


@dataclass(frozen=True)
class DataFacts:
    train_clips: int
    eval_clips: int
    train_minutes: float
    eval_minutes: float
    speakers: int
    language: str = ""  # the dataset's language tag ("en", "en-us", "es", ...)

    @classmethod
    def of(cls, dataset: Path) -> DataFacts:
        from voicetune.data.dataset import load_dataset

        ds = load_dataset(dataset)
        return cls(len(ds.train), len(ds.eval), sum(c.duration for c in ds.train) / 60,
                   sum(c.duration for c in ds.eval) / 60, len({c.speaker for c in ds.clips}) or 1, ds.language)


def given_keys(overrides: dict[str, Any], config: dict[str, Any]) -> set[str]:
    """The keys a user set: the flags' dotted keys and every key of the config, dotted and not
    (``early_stop`` and ``early_stop.patience``)."""
    out = set(overrides)

    def walk(data: dict, prefix: str = "") -> None:
        for k, v in data.items():
            out.add(prefix + k)
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")

    walk(config)
    return out


def advise(cfg: TrainConfig, data: DataFacts, hw: Hardware, given: set[str], *, batch_cap: int,
           defaults: dict[str, tuple[Any, str]] | None = None, listen: bool = False) -> list[str]:
    """Fill every setting not in ``given`` (dotted keys the user set by flag or config) and record
    why; returns the warnings to print before training (data too small, and what that changed).
    ``listen``: the backend's checkpoints can be scored by listening cheaply enough to pick the
    best of a long run that way."""

    def derive(key: str, value: Any, reason: str) -> None:
        if key not in given:
            cfg.derive(key, value, reason)

    for key, (value, reason) in (defaults or {}).items():
        derive(key, value, reason)
    batch = max(1, min(batch_cap, data.train_clips // MIN_STEPS_PER_EPOCH or 1))
    derive("batch_size", batch, f"{data.train_clips} training clips: batch {batch} keeps >= {MIN_STEPS_PER_EPOCH} "
           f"steps per epoch (max {batch_cap} for this backend)")
    budget_run = bool(cfg.max_minutes) and not {"epochs", "max_steps"} & given
    if budget_run:
        # --max-minutes alone means "train this long": the engine times a step and sizes the run
        cfg.derive("epochs", None, f"not set: the run is as long as --max-minutes {cfg.max_minutes:g} allows")
    if (listen and budget_run and cfg.max_minutes >= LISTEN_FROM_MINUTES and data.eval_clips
            and not {"select_metric", "select_mode"} & given and wer_measurable(data.language)):
        cfg.derive("select_metric", "combined", f"a {cfg.max_minutes:g}-minute run: each checkpoint is scored by "
                   "listening (similarity, Whisper WER and the 86 Hz lock; about 30 s each) because the lowest eval loss "
                   "can be the checkpoint that sounds worst; --select-by loss turns it off")
        cfg.derive("select_mode", "max", "the combined score: higher is better")
    if cfg.num_workers > hw.cores:
        cfg.derive("num_workers", hw.cores, f"{cfg.num_workers} asked; this machine gives the process {hw.cores} "
                   "cores, and more loader processes than cores only compete with training")
    if hw.gpu and hw.bf16 and cfg.precision in ("no", "auto"):
        derive("precision", "bf16", f"{hw.gpu} supports bf16 autocast (the weights stay fp32)")
    warnings = []
    if cfg.precision == "bf16" and not hw.gpu and not hw.cpu_bf16:
        # bench/train_vits.py --recipe on an AVX2 CPU: 230 s per step in bf16 against 15 s in fp32
        warnings.append(f"precision bf16 on a CPU without native bf16 (no AVX512-BF16 or AMX): emulated bf16 made "
                        f"a VITS step {BF16_EMULATED_SLOWDOWN:g}x slower than full precision on such a CPU; "
                        "--precision no trains faster here")
    if data.train_minutes < SMALL_TRAIN_MINUTES:
        stop = (f"early stop after {cfg.early_stop.patience} evals without gain" if cfg.early_stop.enabled
                else "early stop is off: watch the eval loss")
        warnings.append(f"only {data.train_minutes:.1f} min of training audio (under {SMALL_TRAIN_MINUTES:g}): expect "
                        f"a voice closer to the base than to the speaker; record more if you can. Sized for it: batch "
                        f"{cfg.batch_size} from {data.train_clips} clips; {stop}")
    if data.eval_minutes < SMALL_EVAL_MINUTES:
        warnings.append(f"the eval split holds {data.eval_minutes * 60:.0f} s in {data.eval_clips} clip(s) (under "
                        f"{SMALL_EVAL_MINUTES:g} min): eval losses and listening scores will be noisy; `voicetune "
                        "dataset split --eval-fraction 0.15` gives it more")
    for i, line in enumerate(warnings, 1):
        cfg.derived[f"advice.{i}"] = line
    return warnings
