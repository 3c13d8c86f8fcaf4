"""Training configuration: typed pydantic models, YAML load/save, and derived values with reasons.

Every number the engine or the advisor fills in (total steps, milestones, warmup, ...) is
recorded with :meth:`TrainConfig.derive` so ``config.yaml`` shows the value *and* why it was
chosen; a user can copy it into their own config to override it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from voicetune.errors import VoicetuneError

CONFIG_VERSION = 1


class _Strict(BaseModel):
    # A misspelled key in a user's YAML must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OptimizerConfig(_Strict):
    name: Literal["adamw", "adam", "sgd", "rmsprop"] = "adamw"
    lr: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    betas: tuple[float, float] = (0.8, 0.99)  # VITS/Piper values; torch's default is (0.9, 0.999)
    eps: float = Field(1e-9, gt=0)
    momentum: float = Field(0.9, ge=0)  # SGD and RMSprop
    nesterov: bool = False  # SGD
    alpha: float = Field(0.99, gt=0, lt=1)  # RMSprop smoothing


class SchedulerConfig(_Strict):
    name: Literal["exponential", "cosine_restarts", "step", "constant"] = "exponential"
    # exponential: lr = base * gamma ** t, t counted in epochs (VITS) or optimizer steps.
    gamma: float = Field(0.999875, gt=0, le=1)
    gamma_per: Literal["epoch", "step"] = "epoch"
    # cosine_restarts: the post-warmup run is split into (restarts + 1) cycles.
    restarts: int = Field(0, ge=0)
    cycle_mult: float = Field(1.0, ge=1.0)  # each cycle this many times longer than the previous
    min_lr_ratio: float = Field(0.0, ge=0, le=1)
    # step: lr *= decay at each milestone. Fractions of the run (preferred) or absolute steps.
    milestones: list[float] = Field(default_factory=lambda: [0.5, 0.75])
    milestone_steps: list[int] | None = None
    decay: float = Field(0.1, gt=0, le=1)
    # linear warmup in front of any schedule; steps win over fraction when both are given.
    warmup_steps: int | None = Field(None, ge=0)
    warmup_fraction: float = Field(0.0, ge=0, lt=1)
    warmup_start_factor: float = Field(0.01, ge=0, le=1)

    @model_validator(mode="after")
    def _fractions(self) -> SchedulerConfig:
        bad = [m for m in self.milestones if not 0 < m < 1]
        if bad:
            raise ValueError(
                f"scheduler.milestones are fractions of the run in (0, 1), got {bad}; "
                "use scheduler.milestone_steps for absolute optimizer steps"
            )
        return self


class EarlyStopConfig(_Strict):
    enabled: bool = True
    patience: int = Field(5, ge=1)  # evals without an improvement of at least min_delta
    min_delta: float = Field(0.0, ge=0)


class OverfitConfig(_Strict):
    enabled: bool = True
    k_evals: int = Field(2, ge=1)  # consecutive evals where eval rises while train falls
    gap_ratio: float = Field(1.5, gt=1)  # eval/train loss ratio that counts as overfitting
    action: Literal["warn", "stop"] = "warn"


class InstabilityConfig(_Strict):
    lower_lr_after: int = Field(3, ge=1)  # non-finite steps (in a row) before the LR is lowered
    lr_factor: float = Field(0.5, gt=0, lt=1)
    max_bad_steps: int = Field(20, ge=1)  # non-finite steps in total before the run stops
    spike_factor: float = Field(3.0, gt=1)  # loss above this many times the recent median
    window: int = Field(50, ge=5)


class TrainConfig(_Strict):
    format_version: int = CONFIG_VERSION
    seed: int = 1234
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "no", "fp16", "bf16"] = "no"
    compile: bool = False
    gradient_checkpointing: bool = False
    # Run length: the first limit reached ends the run. Schedules are sized from epochs/max_steps.
    epochs: int | None = Field(10, ge=1)
    max_steps: int | None = Field(None, ge=1)
    max_minutes: float | None = Field(None, gt=0)
    batch_size: int = Field(8, ge=1)
    eval_batch_size: int | None = Field(None, ge=1)
    grad_accum: int = Field(1, ge=1)
    clip_norm: float | None = Field(1000.0, gt=0)  # None: no clipping, the norm is still logged
    num_workers: int = Field(0, ge=0)
    bucket_size: int = Field(8, ge=1)  # batches pooled per length bucket; 1 = sort strictly
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    # per-optimizer overrides, e.g. {"disc": {"lr": 1e-4}} for a GAN's discriminator
    optimizers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    log_every: int = Field(10, ge=1)
    eval_every: int | None = Field(None, ge=1)  # optimizer steps; None = once per epoch
    # optimizer steps; None = at every eval. A checkpoint saved between evals has no eval metric,
    # so top-k retention keeps it only while it is the last one.
    save_every: int | None = Field(None, ge=1)
    samples_every: int | None = Field(None, ge=1)  # None = at every eval
    keep_top_k: int = Field(3, ge=0)
    save_total_limit: int | None = Field(None, ge=1)
    select_metric: str = "eval/loss"
    select_mode: Literal["min", "max"] = "min"
    early_stop: EarlyStopConfig = Field(default_factory=EarlyStopConfig)
    overfit: OverfitConfig = Field(default_factory=OverfitConfig)
    instability: InstabilityConfig = Field(default_factory=InstabilityConfig)
    # dotted field -> why it has its value (advisor or engine); absent = given by the user/default
    derived: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_limit(self) -> TrainConfig:
        if self.epochs is None and self.max_steps is None and self.max_minutes is None:
            raise ValueError("give epochs, max_steps or max_minutes: the schedule is sized from the run's length")
        if self.format_version != CONFIG_VERSION:
            raise ValueError(f"config format_version {self.format_version} is unknown (this voicetune reads {CONFIG_VERSION})")
        return self

    def derive(self, field: str, value: Any, reason: str) -> None:
        """Set a dotted field (``scheduler.gamma``) and record why, for config.yaml."""
        *parents, leaf = field.split(".")
        target: Any = self
        for name in parents:
            target = getattr(target, name)
        setattr(target, leaf, value)
        self.derived[field] = reason

    def optimizer_for(self, name: str) -> OptimizerConfig:
        """The optimizer config of one named optimizer: the shared one plus its overrides."""
        overrides = self.optimizers.get(name, {})
        try:
            return OptimizerConfig(**{**self.optimizer.model_dump(), **overrides})
        except ValidationError as exc:
            raise VoicetuneError(f"optimizers.{name} in the training config is invalid: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err['msg']}" if where else err["msg"]


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise VoicetuneError(f"{path}: cannot read the training config ({exc}); fix or remove --config") from None
    if not isinstance(data, dict):
        raise VoicetuneError(f"{path}: a training config is a YAML mapping of keys to values")
    return data


def config_from_dict(data: dict[str, Any], overrides: dict[str, Any] | None = None, source: str = "training options") -> TrainConfig:
    """Validate a config mapping after applying dotted overrides (CLI flags); errors name ``source``."""
    data = dict(data)
    for key, value in (overrides or {}).items():
        *parents, leaf = key.split(".")
        node = data
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    try:
        return TrainConfig(**data)
    except ValidationError as exc:
        raise VoicetuneError(f"{source}: {_first_error(exc)}") from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config (or start from defaults) and apply dotted overrides (CLI flags)."""
    data = read_yaml(path) if path is not None else {}
    return config_from_dict(data, overrides, str(path) if path is not None else "training options")


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Write config.yaml: the resolved values, then the derived ones listed with their reasons."""
    from voicetune.fileio import write_text

    data = cfg.model_dump(mode="json")
    derived = data.pop("derived")
    text = "# voicetune training config (fully resolved). Values listed under `derived` were\n"
    text += "# chosen by the advisor/engine, not by you; set them yourself to override.\n"
    text += yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)
    if derived:
        text += yaml.safe_dump({"derived": derived}, sort_keys=False, width=1000, allow_unicode=True)
    write_text(path, text)
