"""Process-level plumbing for the engine: accelerate setup, seeding, signals, devices, folders."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

import torch

from voicetune.errors import VoicetuneError


def make_accelerator(precision: str, device: str):
    """An Accelerator for this config; fp16 is refused on CPU with the fix in the message."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    mp: str | None = precision
    if precision == "auto":
        mp = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else None
    if mp == "fp16" and not cuda:
        raise VoicetuneError("precision fp16 needs a CUDA GPU; on this machine use --precision bf16 or no")
    if PartialState._shared_state and PartialState().num_processes == 1:
        AcceleratorState._reset_state()  # several runs in one process (tests, notebooks)
    acc = Accelerator(cpu=device == "cpu" or not (cuda or device == "mps"), mixed_precision=mp)
    if acc.num_processes == 1 and os.environ.get("MASTER_ADDR") and os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true":
        acc.print("note: `accelerate launch --cpu` started one process (accelerate runs --cpu jobs through its "
                  "single-process launcher unless --mpirun_hostfile is given); for N CPU processes use "
                  "`accelerate launch --multi_gpu --num_processes N` on a machine without GPUs")
    return acc


def seed_all(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def to_device(batch: Any, device: torch.device) -> Any:
    from accelerate.utils import send_to_device

    return send_to_device(batch, device, non_blocking=True)


def clear_stale_logs(run_dir: Path) -> None:
    """A new run in a folder without checkpoints (an earlier start that died before its first
    save) must not append to that start's metrics, TensorBoard events or samples."""
    for name in ("metrics.jsonl", "best.json", "eval.jsonl"):
        (run_dir / name).unlink(missing_ok=True)
    for name in ("tb", "samples", "checkpoints"):
        shutil.rmtree(run_dir / name, ignore_errors=True)


class StopSignals:
    """First Ctrl+C/SIGTERM: set ``received`` (the loop finishes the step, saves and returns).
    A second Ctrl+C aborts at once. Only installable from the main thread."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
