"""Checkpoints: atomic save, exact resume, top-k + last retention, and the ``best`` pointer.

Layout of ``RUN/checkpoints/step-NNNNNN/`` (format_version 1):
    model.safetensors   every backend module, keys ``<module>.<state-dict key>``
    state.pt            optimizers, grad scaler (torch.save; loads with weights_only=True)
    rng-rank<R>.pt      torch/numpy/python (and CUDA) RNG of each process
    trainer.json        step, epoch, data position, losses, monitor state; written last

A checkpoint is built in ``checkpoints/.tmp-step-NNNNNN/``, every file and the folder are
fsynced, then the folder is renamed into place: a crash (even kill -9) mid-save leaves only a
``.tmp-*`` folder that readers ignore and the next save removes.

``RUN/best.json`` names the best checkpoint. A small JSON file rather than a symlink because
symlinks fail on FAT/exFAT drives, many SMB mounts and Windows without developer mode, and get
lost when a run folder is zipped or synced; the file also records the metric and its value.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicetune.errors import VoicetuneError
from voicetune.fileio import write_json

if TYPE_CHECKING:
    import torch
    from torch import nn

# torch/numpy are imported inside the functions that need them: `voicetune runs` only reads
# trainer.json files and should answer without loading torch.

FORMAT_VERSION = 1
TMP_PREFIX = ".tmp-"


def step_name(step: int) -> str:
    return f"step-{step:06d}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems/platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


# --- RNG -------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """All RNG state as tensors and plain Python values, so weights_only=True can load it."""
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- weights ---------------------------------------------------------------------------------


def _flat_state(modules: Mapping[str, nn.Module]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """One flat state dict; tied tensors are stored once and listed as aliases (safetensors
    refuses tensors that share memory)."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    storages: set[int] = set()
    for mod_name, module in modules.items():
        for key, t in module.state_dict().items():
            name = f"{mod_name}.{key}"
            t = t.detach()
            ptr = t.untyped_storage().data_ptr() if t.numel() else None
            ident = (ptr, t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
            if ptr is not None and ident in seen:
                aliases[name] = seen[ident]
                continue
            if ptr is not None and ptr in storages:
                t = t.clone()  # a different view of shared memory: store a copy
            if ptr is not None:
                seen[ident] = name
                storages.add(ptr)
            tensors[name] = t.contiguous().cpu()
    return tensors, aliases


def save_weights(modules: Mapping[str, nn.Module], path: Path) -> None:
    from safetensors.torch import save_file

    tensors, aliases = _flat_state(modules)
    save_file(tensors, str(path), metadata={"format_version": str(FORMAT_VERSION), "aliases": json.dumps(aliases)})


def load_weights(modules: Mapping[str, nn.Module], path: Path, strict: bool = True) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    flat = load_file(str(path))
    for alias, target in json.loads(meta.get("aliases", "{}")).items():
        flat[alias] = flat[target]
    for mod_name, module in modules.items():
        prefix = f"{mod_name}."
        sub = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(sub, strict=strict)
        except RuntimeError as exc:
            raise VoicetuneError(
                f"{path}: weights of module '{mod_name}' do not fit this model ({str(exc).splitlines()[0]}); "
                "resume with the same backend and model settings as the run was started with"
            ) from None


# --- save / load -----------------------------------------------------------------------------


def begin(run_dir: Path, step: int) -> Path:
    """Create the temp folder of a checkpoint (main process only; others then write into it)."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"{TMP_PREFIX}{step_name(step)}"
    if tmp.exists():  # left by a crash during an earlier save of the same step
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp


def write_rng(tmp: Path, rank: int) -> None:
    import torch

    path = tmp / f"rng-rank{rank}.pt"
    torch.save(rng_state(), path)
    _fsync_file(path)


def finish(
    tmp: Path,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    scaler: Any,
    trainer_state: dict[str, Any],
) -> Path:
    """Write weights + state + trainer.json into ``tmp`` and rename it into place."""
    import torch

    save_weights(modules, tmp / "model.safetensors")
    state = {
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "scaler": scaler.state_dict() if scaler is not None else None,
    }
    torch.save(state, tmp / "state.pt")
    (tmp / "trainer.json").write_text(json.dumps({"format_version": FORMAT_VERSION, **trainer_state}, indent=2))
    for f in tmp.iterdir():
        _fsync_file(f)
    _fsync_dir(tmp)
    final = tmp.parent / tmp.name[len(TMP_PREFIX):]
    from voicetune.folders import swap_in

    swap_in(tmp, final)
    _fsync_dir(tmp.parent)
    return final


def read_trainer(ckpt: Path) -> dict[str, Any]:
    path = Path(ckpt) / "trainer.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise VoicetuneError(f"{path}: unreadable checkpoint metadata ({exc}); pick another checkpoint") from None
    if data.get("format_version") != FORMAT_VERSION:
        raise VoicetuneError(
            f"{path}: checkpoint format_version {data.get('format_version')} is unknown "
            f"(this voicetune reads {FORMAT_VERSION}); upgrade voicetune"
        )
    return data


def load(
    ckpt: Path,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    scaler: Any,
    rank: int = 0,
) -> dict[str, Any]:
    """Restore everything saved by :func:`finish`; returns trainer.json's content."""
    import torch

    ckpt = Path(ckpt)
    trainer = read_trainer(ckpt)
    load_weights(modules, ckpt / "model.safetensors")
    state = torch.load(ckpt / "state.pt", map_location="cpu", weights_only=True)
    for name, opt in optimizers.items():
        if name not in state["optimizers"]:
            raise VoicetuneError(f"{ckpt}: no state for optimizer '{name}'; resume with the same backend")
        try:
            opt.load_state_dict(state["optimizers"][name])
        except (ValueError, KeyError) as exc:
            raise VoicetuneError(
                f"{ckpt}: optimizer '{name}' state does not fit this model's parameters ({exc}); resume with "
                "the same backend, model settings and frozen groups as the run was started with"
            ) from None
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    rng_file = ckpt / f"rng-rank{rank}.pt"
    if rng_file.exists():  # absent when resuming with more processes than the run had
        set_rng_state(torch.load(rng_file, map_location="cpu", weights_only=True))
    return trainer


# --- listing, retention, best ----------------------------------------------------------------


def checkpoint_dirs(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first (temp folders and ones without trainer.json skipped)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / "trainer.json").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest(run_dir: str | Path) -> Path | None:
    dirs = checkpoint_dirs(run_dir)
    return dirs[-1] if dirs else None


def remove_partial(run_dir: str | Path) -> list[Path]:
    """Delete temp folders left by an interrupted save."""
    root = Path(run_dir) / "checkpoints"
    gone = [p for p in root.glob(f"{TMP_PREFIX}*")] if root.is_dir() else []
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return gone


def _metric(ckpt: Path, metric: str, extra: Mapping[int, Mapping[str, Any]]) -> float | None:
    step = int(ckpt.name.split("-")[1])
    if metric in extra.get(step, {}):
        return float(extra[step][metric])
    value = read_trainer(ckpt).get("metrics", {}).get(metric)
    return float(value) if value is not None else None


def eval_rows(run_dir: str | Path) -> dict[int, dict[str, Any]]:
    """Per-step rows of ``eval.jsonl`` (written by `voicetune evaluate`), merged by step."""
    path = Path(run_dir) / "eval.jsonl"
    rows: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash
        step = row.get("step")
        if step is None and isinstance(row.get("checkpoint"), str) and "step-" in row["checkpoint"]:
            step = int(row["checkpoint"].rstrip("/").rsplit("step-", 1)[1])
        if step is not None:
            rows.setdefault(int(step), {}).update(row)
    return rows


def append_eval_row(run_dir: str | Path, row: Mapping[str, Any]) -> None:
    """Add one row to ``eval.jsonl`` (appended and fsynced: earlier rows are never rewritten)."""
    path = Path(run_dir) / "eval.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(dict(row)) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def retain(
    run_dir: str | Path, keep_top_k: int, save_total_limit: int | None, metric: str, mode: str
) -> dict[str, Any] | None:
    """Delete checkpoints outside (top-k by ``metric``) ∪ {last}; update best.json.

    ``keep_top_k = 0`` keeps every checkpoint. ``save_total_limit`` then caps the count: it drops
    the worst-ranked ones first (checkpoints without the metric: the oldest first), never the
    best or the last.
    """
    run_dir = Path(run_dir)
    ckpts = checkpoint_dirs(run_dir)
    if not ckpts:
        return None
    extra = eval_rows(run_dir)
    scored = [(v, c) for c in ckpts if (v := _metric(c, metric, extra)) is not None]
    scored.sort(key=lambda vc: vc[0] if mode == "min" else -vc[0])
    last = ckpts[-1]
    best = scored[0][1] if scored else None
    if keep_top_k > 0:
        ranked = [c for _, c in scored[:keep_top_k]]
    else:
        ranked = [c for _, c in scored] + [c for c in reversed(ckpts) if all(c != s for _, s in scored)]
    keep = list(dict.fromkeys([*([best] if best else []), last, *ranked]))
    if save_total_limit is not None:
        keep = keep[: max(save_total_limit, 2 if best and best != last else 1)]
    for c in ckpts:
        if c not in keep:
            shutil.rmtree(c, ignore_errors=True)
    if best is None:
        return None
    info = {"step": int(best.name.split("-")[1]), "path": f"checkpoints/{best.name}", "metric": metric,
            "value": scored[0][0], "mode": mode}
    write_json(run_dir / "best.json", info)
    return info


def read_best(run_dir: str | Path) -> dict[str, Any] | None:
    """``RUN/best.json`` (None when absent); its ``path`` must name a folder under checkpoints/."""
    from voicetune.folders import contained

    path = Path(run_dir) / "best.json"
    if not path.exists():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VoicetuneError(f"{path}: unreadable ({exc}); delete it and the next save writes it again") from None
    if not isinstance(info, dict) or not isinstance(info.get("path"), str):
        raise VoicetuneError(f"{path}: no checkpoint path in it; delete it and the next save writes it again")
    contained(run_dir, info["path"], path)
    if Path(info["path"]).parts[:1] != ("checkpoints",):
        raise VoicetuneError(f"{path}: path {info['path']!r} is not under checkpoints/; delete the file and the next "
                             "save writes it again")
    return info


def best_checkpoint(run_dir: str | Path) -> Path | None:
    info = read_best(run_dir)
    if info is None:
        return None
    target = Path(run_dir) / info["path"]
    return target if (target / "trainer.json").exists() else None


# what marks a folder as a run: the backend's run file, the engine's config, or its checkpoints
RUN_FILES = ("vits.json", "xtts.json", "config.yaml")


def list_checkpoints(run_dir: str | Path) -> list[dict[str, Any]]:
    """One row per checkpoint: step, epoch, train/eval losses, best marker, eval.jsonl metrics."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise VoicetuneError(f"{run_dir}: no such run folder; give the -o folder of `voicetune train`")
    if not any((run_dir / f).is_file() for f in RUN_FILES) and not (run_dir / "checkpoints").is_dir():
        what = " (it is a dataset folder)" if (run_dir / "dataset.json").exists() else ""
        raise VoicetuneError(f"{run_dir}: not a run folder{what}: no {', '.join(RUN_FILES)} or checkpoints/; give "
                             "the -o folder of `voicetune train`")
    best = best_checkpoint(run_dir)
    extra = eval_rows(run_dir)
    rows = []
    for ckpt in checkpoint_dirs(run_dir):
        trainer = read_trainer(ckpt)
        step = trainer["step"]
        evals = {k: v for k, v in extra.get(step, {}).items() if k not in ("step", "checkpoint")}
        rows.append({"step": step, "epoch": trainer.get("epoch"), "path": str(ckpt),
                     "best": best is not None and ckpt.resolve() == best.resolve(),
                     "metrics": trainer.get("metrics", {}), "eval": evals})
    return rows
