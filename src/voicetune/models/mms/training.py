"""`voicetune train` glue for MMS: which backend a base means, finetune-hf-vits JSON configs, an HF
dataset named by the config, and the backend itself. Cheap to import (run_training imports it
for every run); the heavy parts load inside the functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voicetune.errors import VoicetuneError


def pick_backend(requested: str | None, base: str | Path | None) -> str:
    """--backend if given, else inferred from the base: a transformers VITS folder (config.json
    with model_type "vits"), a hub id or an MMS run -> mms; anything else -> vits."""
    if requested:
        return requested.lower()
    if base is None:
        return "vits"
    from voicetune.models.mms.import_hf import is_hf_vits, looks_like_hub_id
    from voicetune.models.mms.run import is_mms_run

    path = Path(str(base))
    if is_hf_vits(path) or is_mms_run(path) or looks_like_hub_id(str(base)):
        return "mms"
    return "vits"


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
        err = exc.errors()[0]
        raise VoicetuneError(f"mms.{'.'.join(map(str, err['loc']))}: {err['msg']} (training config or flags)") from None
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
