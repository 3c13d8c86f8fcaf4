"""`voicetune train` for MMS: finetune-hf-vits JSON configs, an HF dataset named by the config, the
backend itself, and the run (train_mms). The heavy parts load inside the functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voicetune.errors import VoicetuneError, first_error


def is_hf_json(config: Path | None) -> bool:
    return config is not None and Path(config).suffix.lower() == ".json"


def read_hf_json(config: Path, log) -> tuple[dict[str, Any], dict[str, Any]]:
    """(engine config dict, own keys) from a finetune-hf-vits JSON; prints the mapping."""
    from voicetune.models.mms.hf_config import read_hf_config

    mapped = read_hf_config(config)
    for line in mapped.lines():
        log(line)
    return mapped.engine, mapped.own


def dataset_folder(dataset: Path | None, own: dict[str, Any], run: Path, flags: dict[str, Any], log) -> Path:
    """Our dataset folder: --dataset if it is one; an HF dataset (--dataset pointing at a
    save_to_disk folder, or the config's dataset_name) is imported into RUN/dataset first."""
    from voicetune.data.dataset import META_JSON

    if dataset is not None and (Path(dataset) / META_JSON).exists():
        return Path(dataset)
    spec = dict(own.get("hf_dataset") or {})
    if dataset is not None:
        spec["name"] = str(dataset)
    if not spec.get("name"):
        raise VoicetuneError("give --dataset DATASET (a voicetune dataset folder or a Hugging Face dataset)")
    if flags.get("speaker_column"):
        spec["speaker_column"] = flags["speaker_column"]
    from voicetune.data.hf_import import HfImportOptions, import_hf_dataset

    target = Path(run) / "dataset"
    log(f"importing Hugging Face dataset {spec['name']} into {target}")
    opts = HfImportOptions(**{k: v for k, v in spec.items() if k != "name"})
    result = import_hf_dataset(spec["name"], target, opts)
    log(f"dataset: {result.kept} clips kept, {result.quarantined} quarantined")
    return target


def build(dataset: Path, base, options, mms: dict[str, Any], *, given: dict[str, Any] | None = None, log=print):
    from pydantic import ValidationError

    from voicetune.models.mms.run import MmsOptions, build_mms_backend, mms_defaults

    # speaker_column is used by the dataset import (dataset_folder), not by the backend
    given_mms = {k: v for k, v in mms.items() if v is not None and k != "speaker_column"}
    try:
        mms_options = MmsOptions(**given_mms)
    except ValidationError as exc:
        raise VoicetuneError(f"{first_error(exc, 'mms.')} (training config or flags)") from None
    if given is not None:
        options = mms_defaults(options, given)
    return build_mms_backend(dataset, base, options, mms_options, log=log)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VoicetuneError(f"{path}: cannot read the JSON config ({exc})") from None
    if not isinstance(data, dict):
        raise VoicetuneError(f"{path}: a finetune-hf-vits config is a JSON object of keys to values")
    return data


def train_mms(request, log=print):
    """`voicetune train` on a transformers VITS (MMS) base (backends.TrainRequest): a new run or a
    resume. The engine side is the VITS backend's (models/vits/training.py); what differs is the
    config (a finetune-hf-vits JSON or YAML with an ``mms:`` section), the dataset (a voicetune folder
    or a Hugging Face dataset) and the backend built from the base."""
    from voicetune.data.manage import require_valid
    from voicetune.models.vits.run import write_run_info
    from voicetune.models.vits.training import (
        _check_schedule,
        advise,
        read_request_config,
        resume_vits,
        vits_request_options,
    )
    from voicetune.trainer import engine
    from voicetune.trainer.config import config_from_dict
    from voicetune.trainer.start import new_run_folder, scorer_for, select_overrides

    if request.resume is not None:
        return resume_vits(request, lambda ds, base, options, info: build(
            ds, base, options, info.get("mms_options") or {}, log=log)[0])
    if is_hf_json(request.config):
        data, own = read_hf_json(request.config, log)
        cfg = config_from_dict(data, select_overrides(request.overrides, request.select_by), str(request.config))
        from voicetune.trainer.advisor import given_keys

        yaml_keys = given_keys(request.overrides, data)
    else:
        cfg, own, yaml_keys = read_request_config(request)
    dataset = request.dataset or (Path(own["dataset"]) if "dataset" in own else None)
    base = request.base or own.get("base")
    if dataset is None and "hf_dataset" not in own:
        raise VoicetuneError("give --dataset DATASET and -o RUN (or --resume RUN)")
    if base is None:
        raise VoicetuneError("give --base: a transformers VITS folder or a hub id like facebook/mms-tts-spa")
    output = new_run_folder(request.output, log)
    options = vits_request_options(request, own, False, log)
    flags = {k: v for k, v in request.backend_flags.items() if v is not None}  # CLI flags win over the config
    dataset = dataset_folder(dataset, own, output, flags, log)
    require_valid(dataset)
    advise(cfg, Path(dataset), yaml_keys, log)
    _check_schedule(cfg, Path(dataset))
    scorer = scorer_for(cfg, Path(dataset))
    if request.speaker is not None:
        flags.setdefault("filter_speaker", request.speaker)
    backend, info = build(Path(dataset), base, options, {**own.get("mms", {}), **flags},
                          given=own.get("vits") or {}, log=log)
    write_run_info(output, info)
    return engine.fit(backend, cfg, output, show_progress=request.show_progress, on_checkpoint=scorer,
                      dry_run=request.dry_run)
