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

from voicetune.errors import VoicetuneError, first_error

CONFIG_VERSION = 1


class _Strict(BaseModel):
    # A misspelled key in a user's YAML must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OptimizerConfig(_Strict):
    name: Literal["adamw", "adam", "sgd", "rmsprop"] = Field("adamw", description="optimizer")
    lr: float = Field(2e-4, gt=0, description="learning rate (peak, after any warmup)")
    weight_decay: float = Field(0.01, ge=0, description="decoupled weight decay (adamw), L2 otherwise")
    betas: tuple[float, float] = Field((0.8, 0.99), description="Adam betas: VITS/Piper's; torch's default is (0.9, 0.999)")
    eps: float = Field(1e-9, gt=0, description="Adam epsilon")
    momentum: float = Field(0.9, ge=0, description="SGD and RMSprop momentum")
    nesterov: bool = Field(False, description="SGD: Nesterov momentum")
    alpha: float = Field(0.99, gt=0, lt=1, description="RMSprop smoothing")


class SchedulerConfig(_Strict):
    name: Literal["exponential", "cosine_restarts", "step", "constant"] = Field("exponential", description="LR schedule")
    gamma: float = Field(0.999875, gt=0, le=1, description="exponential: lr = base * gamma ** t")
    gamma_per: Literal["epoch", "step"] = Field("epoch", description="exponential: t counts epochs (VITS) or optimizer steps")
    restarts: int = Field(0, ge=0, description="cosine_restarts: the run after warmup is split into restarts + 1 cycles")
    cycle_mult: float = Field(1.0, ge=1.0, description="cosine_restarts: each cycle this many times longer than the previous")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="cosine_restarts: the LR floor as a share of the peak")
    milestones: list[float] = Field(default_factory=lambda: [0.5, 0.75], description="step: lr *= decay at these fractions of the run")
    milestone_steps: list[int] | None = Field(None, description="step: absolute optimizer steps instead of fractions")
    decay: float = Field(0.1, gt=0, le=1, description="step: the factor at each milestone")
    warmup_steps: int | None = Field(None, ge=0, description="linear warmup before any schedule, in steps (wins over the fraction)")
    warmup_fraction: float = Field(0.0, ge=0, lt=1, description="linear warmup as a share of the run")
    warmup_start_factor: float = Field(0.01, ge=0, le=1, description="the warmup starts at this share of the LR")

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
    enabled: bool = Field(True, description="stop when the selection metric stops improving")
    patience: int = Field(5, ge=1, description="evals without an improvement of at least min_delta")
    min_delta: float = Field(0.0, ge=0, description="the smallest change that counts as an improvement")


class OverfitConfig(_Strict):
    enabled: bool = Field(True, description="watch for eval loss rising while train loss falls")
    k_evals: int = Field(2, ge=1, description="consecutive evals where eval rises while train falls")
    gap_ratio: float = Field(1.5, gt=1, description="eval/train loss ratio that counts as overfitting")
    action: Literal["warn", "stop"] = Field("warn", description="what overfitting does to the run")


class InstabilityConfig(_Strict):
    lower_lr_after: int = Field(3, ge=1, description="non-finite steps in a row before the LR is lowered")
    lr_factor: float = Field(0.5, gt=0, lt=1, description="the LR is multiplied by this then")
    max_bad_steps: int = Field(20, ge=1, description="non-finite steps in total before the run stops")
    spike_factor: float = Field(3.0, gt=1, description="a loss above this many times the recent median is a spike")
    window: int = Field(50, ge=5, description="steps in that median")


class TrainConfig(_Strict):
    format_version: int = Field(CONFIG_VERSION, description="this file's format")
    seed: int = Field(1234, description="seed of the data order, the model's noise and the split of work")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="where to train (auto: a GPU if there is one)")
    precision: Literal["auto", "no", "fp16", "bf16"] = Field("no", description="mixed precision (auto: bf16 where supported)")
    compile: bool = Field(False, description="torch.compile the model")
    gradient_checkpointing: bool = Field(False, description="recompute activations: less memory, slower steps")
    # Run length: the first limit reached ends the run. Schedules are sized from epochs/max_steps.
    epochs: int | None = Field(10, ge=1, description="passes over the training clips (null: --max-minutes or max_steps decide)")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; the first limit reached ends the run")
    max_minutes: float | None = Field(None, gt=0, description="wall-clock budget; alone, it sizes the run from a timed step")
    batch_size: int = Field(8, ge=1, description="clips per step (the advisor sizes it from the dataset)")
    eval_batch_size: int | None = Field(None, ge=1, description="clips per eval batch (null: batch_size)")
    grad_accum: int = Field(1, ge=1, description="batches summed per optimizer step")
    clip_norm: float | None = Field(1000.0, gt=0, description="gradient-norm clipping (null: off; the norm is still logged)")
    num_workers: int = Field(0, ge=0, description="data-loading processes (at most the CPU cores)")
    bucket_size: int = Field(8, ge=1, description="batches pooled per length bucket; 1 = sort strictly")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig, description="the optimizer of every module")
    optimizers: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-optimizer overrides, e.g. {disc: {lr: 1e-4}} for a GAN's discriminator")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="the LR schedule")
    log_every: int = Field(10, ge=1, description="optimizer steps between train-loss lines")
    eval_every: int | None = Field(None, ge=1, description="optimizer steps between evals (null: about 10 over the run)")
    # a checkpoint saved between evals has no eval metric, so top-k retention keeps it only while it is the last one
    save_every: int | None = Field(None, ge=1, description="optimizer steps between checkpoints (null: at every eval)")
    samples_every: int | None = Field(None, ge=1, description="optimizer steps between spoken samples (null: at every eval)")
    keep_top_k: int = Field(3, ge=0, description="checkpoints kept by the selection metric (plus the last)")
    save_total_limit: int | None = Field(None, ge=1, description="at most this many checkpoints on disk")
    select_metric: str = Field("eval/loss", description="what picks the best checkpoint (--select-by)")
    select_mode: Literal["min", "max"] = Field("min", description="whether lower or higher select_metric is better")
    early_stop: EarlyStopConfig = Field(default_factory=EarlyStopConfig, description="early stopping")
    overfit: OverfitConfig = Field(default_factory=OverfitConfig, description="overfitting watch")
    instability: InstabilityConfig = Field(default_factory=InstabilityConfig, description="NaN and spike handling")
    derived: dict[str, str] = Field(default_factory=dict, description="written by voicetune: field -> why it has its "
                                    "value (advisor or engine); absent = given by you or the default")

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
            raise VoicetuneError(f"optimizers.{name} in the training config is invalid: {first_error(exc)}") from None


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
        raise VoicetuneError(f"{source}: {first_error(exc)}") from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config (or start from defaults) and apply dotted overrides (CLI flags)."""
    data = read_yaml(path) if path is not None else {}
    return config_from_dict(data, overrides, str(path) if path is not None else "training options")


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Write config.yaml (config_text)."""
    from voicetune.fileio import write_text

    write_text(path, config_text(cfg))


def config_text(cfg: TrainConfig) -> str:
    """config.yaml's text: the resolved values, then the derived ones listed with their reasons."""
    data = cfg.model_dump(mode="json")
    derived = data.pop("derived")
    text = "# voicetune training config (fully resolved). Values listed under `derived` were\n"
    text += "# chosen by the advisor/engine, not by you; set them yourself to override.\n"
    text += yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)
    if derived:
        text += yaml.safe_dump({"derived": derived}, sort_keys=False, width=1000, allow_unicode=True)
    return text
