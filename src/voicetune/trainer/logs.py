"""What a run writes besides checkpoints: metrics.jsonl, TensorBoard (``tb/``), samples.

Only the main process writes. ``metrics.jsonl`` has one JSON object per event:
``{"event": "train"|"eval"|"warning"|"checkpoint"|"resume"|"end", "step": N, ...}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from voicetune.trainer.backend import Sample


class RunLog:
    def __init__(self, run_dir: Path, enabled: bool, resume_step: int | None = None):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.tb = None
        self._fh = None
        if not enabled:
            return
        path = self.run_dir / "metrics.jsonl"
        if resume_step is not None and path.exists():
            _truncate_after(path, resume_step)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
        try:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events logged after the checkpoint we resume from
            self.tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=resume_step)
        except ImportError:  # TensorBoard is optional; metrics.jsonl has everything
            self.tb = None

    def event(self, event: str, step: int, **fields: Any) -> None:
        if not self.enabled:
            return
        row = {"event": event, "step": step, "time": round(time.time(), 3), **fields}
        self._fh.write(json.dumps(row, default=_plain) + "\n")
        self._fh.flush()  # a crash loses at most the line being written
        if self.tb is not None:
            for key, value in _scalars(fields):
                self.tb.add_scalar(f"{event}/{key}", value, step)

    def samples(self, step: int, samples: list[Sample]) -> Path | None:
        """Write ``samples/step-NNNNNN/<name>.wav`` (+ ``<name>.<image>.png``) and TensorBoard."""
        if not self.enabled or not samples:
            return None
        import soundfile as sf
        from PIL import Image

        out = self.run_dir / "samples" / f"step-{step:06d}"
        out.mkdir(parents=True, exist_ok=True)
        for s in samples:
            if s.audio is not None:
                audio = np.clip(_numpy(s.audio).reshape(-1), -1.0, 1.0)
                sf.write(out / f"{s.name}.wav", audio, s.sample_rate, subtype="PCM_16")
                if self.tb is not None:
                    self.tb.add_audio(f"samples/{s.name}", audio, step, sample_rate=s.sample_rate)
            for image_name, array in s.images.items():
                img = to_image(_numpy(array))
                Image.fromarray(img).save(out / f"{s.name}.{image_name}.png")
                if self.tb is not None:
                    self.tb.add_image(f"samples/{s.name}/{image_name}", img, step, dataformats="HWC")
            if s.text and self.tb is not None:
                self.tb.add_text(f"samples/{s.name}", s.text, step)
        return out

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly bf16 (numpy has no bf16)
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _scalars(fields: dict[str, Any], prefix: str = ""):
    for key, value in fields.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _scalars(value, f"{name}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield name, float(value)


def _truncate_after(path: Path, step: int) -> None:
    """Drop events after ``step`` (logged after the checkpoint we resume from)."""
    from voicetune.fileio import write_text

    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("step", 0) <= step:
            kept.append(line)
    write_text(path, "".join(f"{line}\n" for line in kept))


def to_image(array: np.ndarray) -> np.ndarray:
    """HxW (any range, e.g. a mel or an alignment) or HxWx3 -> uint8 HxWx3, low rows at the bottom."""
    a = np.asarray(array, dtype=np.float32)
    if a.ndim == 2:
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        a = _viridis(a[::-1])
    elif a.max() <= 1.0:
        a = a * 255.0
    return np.clip(a, 0, 255).astype(np.uint8)


def _viridis(a: np.ndarray) -> np.ndarray:
    try:
        from matplotlib import colormaps

        return colormaps["viridis"](a)[..., :3] * 255.0
    except ImportError:
        return np.repeat(a[..., None] * 255.0, 3, axis=-1)
