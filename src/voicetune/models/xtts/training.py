"""`voicetune train --backend xtts`: config (engine keys + an ``xtts:`` section), new runs, resumes.

XTTS defaults differ from VITS's (one optimizer, a pretrained 400 M-weight GPT): AdamW with
coqui's betas (0.9, 0.96), lr 5e-6, weight decay 0.01, grad-norm clipping at 1.0, cosine decay with
5 % warmup. The ``small-data`` preset (seed 002, minutes of audio) adds gradient accumulation 4,
trains only the last 2 transformer layers + heads (~8 % of the full GPT), stops early after 3 evals
without gain and stops on overfitting. Every value chosen here is listed under ``derived:`` in
config.yaml with its reason; anything the user sets wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voicetune.errors import VoicetuneError
from voicetune.models.xtts.run import RUN_FILE, build_backend, read_run_info, run_vocab, write_run_info
from voicetune.train.config import TrainConfig, config_from_dict, read_yaml
from voicetune.train.flags import check_flags

_OWN_KEYS = ("xtts", "dataset", "base", "backend")

DEFAULTS: dict[str, tuple[Any, str]] = {
    "optimizer.lr": (5e-6, "XTTS fine-tuning: coqui's recipe LR for a pretrained GPT"),
    "optimizer.betas": ((0.9, 0.96), "coqui's XTTS recipe"),
    "optimizer.eps": (1e-8, "coqui's XTTS recipe"),
    "optimizer.weight_decay": (1e-2, "coqui's XTTS recipe (not on biases/norms/embeddings)"),
    "clip_norm": (1.0, "a pretrained transformer: large updates undo it"),
    "scheduler.name": ("cosine_restarts", "smooth decay over the run's real length"),
    "scheduler.warmup_fraction": (0.05, "5 % warmup: the optimizer state starts empty"),
}
SMALL_DATA: dict[str, tuple[Any, str]] = {
    "grad_accum": (4, "small-data preset: steadier gradients from few clips"),
    "early_stop.patience": (3, "small-data preset: minutes of audio overfit quickly"),
    "overfit.action": ("stop", "small-data preset: stop when eval rises while train falls"),
}


def wants_xtts(backend: str | None, base: str | None, config: Path | None, resume: Path | None) -> bool:
    """Is this `voicetune train` call for XTTS? (flag, config ``backend:``, run folder, base contents)."""
    from voicetune.models.xtts.base import looks_like_xtts

    if backend:
        return backend == "xtts"
    if resume is not None:
        return (Path(resume) / RUN_FILE).exists()
    if config is not None and read_yaml(config).get("backend") == "xtts":
        return True
    if base is None:
        return False
    path = Path(base).expanduser()
    # a hub id naming XTTS (coqui/XTTS-v2) when it is not a local path
    return looks_like_xtts(path) or (not path.exists() and "xtts" in str(base).lower())


def read_config(path: Path | None, overrides: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any], set[str]]:
    data = read_yaml(path) if path is not None else {}
    own = {k: data.pop(k) for k in _OWN_KEYS if k in data}
    given = set(overrides) | _dotted(data)
    return config_from_dict(data, overrides, str(path) if path is not None else "training options"), own, given


def _dotted(data: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in data.items():
        out.add(prefix + k)
        if isinstance(v, dict):
            out |= _dotted(v, f"{prefix}{k}.")
    return out


def xtts_options(own: dict[str, Any], source: str, preset: str | None = None):
    from voicetune.models.xtts.finetune import XttsTrainOptions

    raw = dict(own.get("xtts") or {})
    if preset:
        raw["preset"] = preset
    try:
        opts = XttsTrainOptions(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise VoicetuneError(f"{source}: xtts.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    if opts.preset == "small-data" and opts.freeze_layers is None and opts.train_last_layers is None:
        opts.train_last_layers = 2
        if not opts.extend_vocab:
            opts.freeze_embeddings = True
    return opts


def apply_defaults(cfg: TrainConfig, options, given: set[str], n_train: int) -> None:
    table = dict(DEFAULTS)
    if options.preset == "small-data":
        table.update(SMALL_DATA)
    for key, (value, reason) in table.items():
        if key not in given:
            cfg.derive(key, value, reason)
    if "batch_size" not in given:
        batch = max(1, min(4, n_train // 4 or 1))
        cfg.derive("batch_size", batch, f"{n_train} training clips: batch {batch} (max 4 for XTTS on 8 GB)")
    if options.gradient_checkpointing and "gradient_checkpointing" not in given:
        cfg.derive("gradient_checkpointing", True, "xtts.gradient_checkpointing (default): the full-size GPT "
                   "at batch 2 peaks at 7.3 GiB with it, 11.4 GiB without")


def run_training(*, dataset: Path | None, base: str | None, output: Path | None, config: Path | None,
                 resume: Path | None, overrides: dict[str, Any], preset: str | None = None,
                 show_progress: bool = True, given: dict[str, Any] | None = None, log=print):
    """``given``: the CLI flags the user set (flag -> value), checked against what XTTS uses."""
    from voicetune.data.manage import require_valid
    from voicetune.folders import RUN, check_output
    from voicetune.train import engine

    check_flags("xtts", given or {}, resume=resume is not None)
    if resume is not None:
        run_dir = Path(resume)
        info = read_run_info(run_dir)
        require_valid(info["dataset"])
        options = xtts_options({"xtts": info["options"]}, str(run_dir / RUN_FILE))
        backend, _ = build_backend(Path(info["dataset"]), info["base"], options, run_dir,
                                   vocab=run_vocab(run_dir, info) if info.get("vocab") else None, log=log)
        return engine.resume(backend, run_dir, overrides, show_progress=show_progress)
    cfg, own, given = read_config(config, overrides)
    dataset = dataset or (Path(own["dataset"]) if "dataset" in own else None)
    base = base or own.get("base")
    if dataset is None or output is None or base is None:
        raise VoicetuneError("give --dataset DATASET, --base XTTS_FOLDER and -o RUN (or --resume RUN)")
    options = xtts_options(own, str(config or "command line"), preset)
    output = Path(output)
    if output.is_dir() and RUN.holds(output):
        raise VoicetuneError(f"{output}: exists and is not empty; continue it with --resume {output} or pick a new -o")
    check_output(output, RUN, log=log)
    from voicetune.data.dataset import load_dataset

    require_valid(dataset)
    apply_defaults(cfg, options, given, len(load_dataset(dataset).train))
    output.mkdir(parents=True, exist_ok=True)
    backend, info = build_backend(Path(dataset), base, options, output, log=log)
    write_run_info(output, info)
    return engine.fit(backend, cfg, output, show_progress=show_progress)
