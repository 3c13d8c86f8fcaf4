"""finetune-hf-vits JSON configs (``finetune_spanish.json``) -> our training config.

Every key users already have is either mapped (and printed as ``their key = value -> our key``) or
ignored with the reason; nothing is dropped silently. Run-length, batch, optimizer, schedule,
loss weights, precision and checkpoint keys map onto ``TrainConfig`` and the ``vits:`` section;
the dataset keys onto an HF dataset import (``voicetune dataset import-hf``); speaker keys onto
the ``mms:`` section. A ``"voicetune": {...}`` object may add our own keys (engine keys, ``vits``,
``mms``) for what finetune-hf-vits cannot express.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicetune.errors import VoicetuneError

# their key -> our dotted key ("engine:" = TrainConfig, "own:" = vits/mms/base/hf_dataset sections)
KEY_MAP: dict[str, str] = {
    "model_name_or_path": "own:base",
    "dataset_name": "own:hf_dataset.name",
    "dataset_config_name": "own:hf_dataset.config",
    "audio_column_name": "own:hf_dataset.audio_column",
    "text_column_name": "own:hf_dataset.text_column",
    "speaker_id_column_name": "own:hf_dataset.speaker_column",
    "train_split_name": "own:hf_dataset.split",
    "max_duration_in_seconds": "own:hf_dataset.max_seconds",
    "min_duration_in_seconds": "own:hf_dataset.min_seconds",
    "filter_on_speaker_id": "own:mms.filter_speaker",
    "override_speaker_embeddings": "own:mms.override_speaker_embeddings",
    "max_tokens_length": "own:mms.max_tokens",
    "num_train_epochs": "engine:epochs",
    "max_steps": "engine:max_steps",
    "per_device_train_batch_size": "engine:batch_size",
    "per_device_eval_batch_size": "engine:eval_batch_size",
    "gradient_accumulation_steps": "engine:grad_accum",
    "gradient_checkpointing": "engine:gradient_checkpointing",
    "learning_rate": "engine:optimizer.lr",
    "adam_beta1": "engine:optimizer.betas[0]",
    "adam_beta2": "engine:optimizer.betas[1]",
    "adam_epsilon": "engine:optimizer.eps",
    "weight_decay": "engine:optimizer.weight_decay",
    "lr_decay": "engine:scheduler.gamma",
    "warmup_ratio": "engine:scheduler.warmup_fraction",
    "warmup_steps": "engine:scheduler.warmup_steps",
    "eval_steps": "engine:eval_every",
    "save_steps": "engine:save_every",
    "save_total_limit": "engine:save_total_limit",
    "logging_steps": "engine:log_every",
    "max_grad_norm": "engine:clip_norm",
    "dataloader_num_workers": "engine:num_workers",
    "seed": "engine:seed",
    "fp16": "engine:precision",
    "bf16": "engine:precision",
    "weight_disc": "own:vits.c_disc",
    "weight_gen": "own:vits.c_adv",
    "weight_fmaps": "own:vits.c_fm",
    "weight_kl": "own:vits.c_kl",
    "weight_duration": "own:vits.c_dur",
    "weight_mel": "own:vits.c_mel",
}

IGNORED: dict[str, str] = {
    "push_to_hub": "offline-first: export with `voicetune export RUN --format hf` and upload the folder yourself",
    "hub_model_id": "no hub upload (see push_to_hub)",
    "hub_token": "no hub upload (see push_to_hub)",
    "report_to": "metrics go to RUN/metrics.jsonl and TensorBoard (RUN/tb)",
    "project_name": "wandb project: not used (see report_to)",
    "output_dir": "pass -o RUN",
    "overwrite_output_dir": "runs are never overwritten: continue one with --resume RUN or pick a new -o",
    "do_train": "always trains",
    "do_eval": "always evaluates, on a held-out split",
    "eval_split_name": "evaluation uses the dataset's own held-out eval split (metadata_eval.csv), never train clips",
    "max_eval_samples": "the eval split is used whole",
    "max_train_samples": "the dataset is used whole; trim it with `voicetune dataset` tools",
    "preprocessing_num_workers": "features are cached per clip (DATASET/.cache) and built once",
    "group_by_length": "batches are always length-bucketed (bucket_size)",
    "full_generation_sample_text": "samples speak the first eval clips' texts each eval (vits.samples)",
    "do_step_schedule_per_epoch": "lr_decay is applied per epoch, as VITS does",
    "do_normalize": "our features are the model's own STFT of the wavs",
    "cache_dir": "the Hugging Face cache is used as configured by HF_HOME",
}


@dataclass
class MappedConfig:
    engine: dict[str, Any] = field(default_factory=dict)
    own: dict[str, Any] = field(default_factory=dict)
    mapped: list[tuple[str, Any, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"config: {k} = {v!r} -> {ours}" for k, v, ours in self.mapped]
        out += [f"config: ignored {k}: {why}" for k, why in self.ignored]
        return out


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
    tree[leaf] = value


def translate(data: dict[str, Any], source: str = "config") -> MappedConfig:
    try:
        return _translate(data)
    except (TypeError, ValueError) as exc:
        raise VoicetuneError(f"{source}: a value has the wrong type ({exc}); compare with finetune-hf-vits's "
                             "example configs") from None


def _translate(data: dict[str, Any]) -> MappedConfig:
    out = MappedConfig()
    betas = [0.8, 0.99]
    for key, value in data.items():
        if key == "voicetune" and isinstance(value, dict):  # our own keys, for what the JSON cannot say
            for k, v in value.items():
                target_tree = out.own if k in ("vits", "mms", "backend") else out.engine
                target_tree[k] = {**target_tree.get(k, {}), **v} if isinstance(v, dict) else v
                out.mapped.append((f"voicetune.{k}", v, k))
            continue
        if key in IGNORED:
            out.ignored.append((key, IGNORED[key]))
            continue
        target = KEY_MAP.get(key)
        if target is None:
            out.ignored.append((key, "not a finetune-hf-vits option voicetune knows"))
            continue
        where, dotted = target.split(":", 1)
        if key in ("fp16", "bf16"):
            if not value:
                continue
            value = key
        elif key in ("adam_beta1", "adam_beta2"):
            betas[key == "adam_beta2"] = float(value)
            _set(out.engine, "optimizer.betas", list(betas))
            out.mapped.append((key, value, dotted))
            continue
        elif key == "filter_on_speaker_id" and value is not None:
            value = str(value)
        elif key == "max_steps" and (value is None or int(value) <= 0):
            continue  # transformers' "no limit"
        elif key == "warmup_steps" and not value:
            continue
        _set(out.engine if where == "engine" else out.own, dotted, value)
        out.mapped.append((key, value, dotted))
    if "lr_decay" in data:
        _set(out.engine, "scheduler.name", "exponential")
        _set(out.engine, "scheduler.gamma_per", "epoch")
    if "max_steps" in out.engine and "num_train_epochs" not in data:
        out.engine["epochs"] = None
    return out


def read_hf_config(path: str | Path) -> MappedConfig:
    from voicetune.models.mms.training import read_json

    data = read_json(Path(path))
    if not any(k in KEY_MAP or k in IGNORED for k in data):
        raise VoicetuneError(f"{path}: not a finetune-hf-vits config (no known key); voicetune configs are YAML")
    return translate(data, str(path))
