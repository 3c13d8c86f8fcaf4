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

from voicetune.errors import VoicetuneError, first_error
from voicetune.models.xtts.run import RUN_FILE, build_backend, read_run_info, run_vocab, write_run_info
from voicetune.trainer.config import TrainConfig, config_from_dict, load_config, read_yaml
from voicetune.trainer.start import new_run_folder, scorer_for, select_overrides

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
BATCH_CAP = 4  # the most this recipe uses: the full-size GPT at batch 2 already peaks at 7.3 GiB (checkpointing on)
SMALL_DATA_MINUTES = 10.0  # under this, the advisor points at --preset small-data (seed 002: minutes of audio)
SMALL_DATA: dict[str, tuple[Any, str]] = {
    "grad_accum": (4, "small-data preset: steadier gradients from few clips"),
    "early_stop.patience": (3, "small-data preset: minutes of audio overfit quickly"),
    "overfit.action": ("stop", "small-data preset: stop when eval rises while train falls"),
}


def read_config(path: Path | None, overrides: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any], set[str]]:
    from voicetune.trainer.advisor import given_keys

    data = read_yaml(path) if path is not None else {}
    own = {k: data.pop(k) for k in _OWN_KEYS if k in data}
    return config_from_dict(data, overrides, str(path) if path is not None else "training options"), own, \
        given_keys(overrides, data)


def xtts_options(own: dict[str, Any], source: str, preset: str | None = None):
    from voicetune.models.xtts.finetune import XttsTrainOptions

    raw = dict(own.get("xtts") or {})
    if preset:
        raw["preset"] = preset
    try:
        opts = XttsTrainOptions(**raw)
    except ValidationError as exc:
        raise VoicetuneError(f"{source}: {first_error(exc, 'xtts.')}") from None
    if opts.preset == "small-data" and opts.freeze_layers is None and opts.train_last_layers is None:
        opts.train_last_layers = 2
        if not opts.extend_vocab:
            opts.freeze_embeddings = True
    return opts


def apply_defaults(cfg: TrainConfig, options, given: set[str], dataset: Path, log=print) -> None:
    """XTTS's recipe (DEFAULTS, SMALL_DATA with the preset) and the shared advisor (trainer/advisor.py)."""
    from voicetune.trainer.advisor import DataFacts, Hardware, advise

    table = dict(DEFAULTS)
    if options.preset == "small-data":
        table.update(SMALL_DATA)
    data = DataFacts.of(dataset)
    hw = Hardware.detect()
    log(f"machine: {hw.describe()}")
    for line in advise(cfg, data, hw, given, batch_cap=BATCH_CAP, defaults=table):
        log(f"advice: {line}")
    if options.preset != "small-data" and data.train_minutes < SMALL_DATA_MINUTES:
        log(f"advice: {data.train_minutes:.1f} min of audio: --preset small-data trains only the last layers with "
            "accumulation and early stop, the recipe for minutes of audio")
    if options.gradient_checkpointing and "gradient_checkpointing" not in given:
        cfg.derive("gradient_checkpointing", True, "xtts.gradient_checkpointing (default): the full-size GPT "
                   "at batch 2 peaks at 7.3 GiB with it, 11.4 GiB without")


def train_xtts(request, log=print):
    """`voicetune train` on an XTTS v2 base (backends.TrainRequest): a new run or a resume."""
    from voicetune.data.manage import require_valid
    from voicetune.trainer import engine

    overrides = select_overrides(request.overrides, request.select_by)
    if request.resume is not None:
        run_dir = Path(request.resume)
        info = read_run_info(run_dir)
        require_valid(info["dataset"])
        options = xtts_options({"xtts": info["options"]}, str(run_dir / RUN_FILE))
        backend, _ = build_backend(Path(info["dataset"]), info["base"], options, run_dir,
                                   vocab=run_vocab(run_dir, info) if info.get("vocab") else None, log=log)
        cfg = load_config(run_dir / "config.yaml", overrides)
        return engine.resume(backend, run_dir, overrides, show_progress=request.show_progress,
                             on_checkpoint=scorer_for(cfg, Path(info["dataset"])), dry_run=request.dry_run)
    cfg, own, given = read_config(request.config, overrides)
    dataset = request.dataset or (Path(own["dataset"]) if "dataset" in own else None)
    base = request.base or own.get("base")
    if dataset is None or base is None:
        raise VoicetuneError("give --dataset DATASET, --base XTTS_FOLDER and -o RUN (or --resume RUN)")
    options = xtts_options(own, str(request.config or "command line"), request.preset)
    output = new_run_folder(request.output, log)
    require_valid(dataset)
    apply_defaults(cfg, options, given, Path(dataset), log)
    scorer = scorer_for(cfg, Path(dataset))
    output.mkdir(parents=True, exist_ok=True)
    backend, info = build_backend(Path(dataset), base, options, output, log=log)
    write_run_info(output, info)
    return engine.fit(backend, cfg, output, show_progress=request.show_progress, on_checkpoint=scorer,
                      dry_run=request.dry_run)
