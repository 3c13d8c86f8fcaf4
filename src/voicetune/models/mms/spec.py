"""The MMS backend in the registry (voicetune.backends): a transformers VITS folder (config.json
with model_type "vits"), a hub id such as facebook/mms-tts-spa, or an MMS run. Its runs speak and
are evaluated through voicetune.synth like Piper's (with the model's own character tokenizer)."""

from __future__ import annotations

from pathlib import Path

from voicetune.backends import Backend, lazy, register


def _claims_base(base: str) -> bool:
    from voicetune.hub_ids import is_repo_id
    from voicetune.models.mms.import_hf import is_hf_vits
    from voicetune.models.mms.run import is_mms_run

    return is_hf_vits(Path(base)) or is_mms_run(Path(base)) or is_repo_id(base)


def _claims_run(path: Path) -> bool:
    from voicetune.models.mms.run import is_mms_run
    from voicetune.models.vits.run import RUNS

    run = RUNS.run_of(path)
    return run is not None and is_mms_run(run)


def _sections():
    from voicetune.models.mms.run import MmsOptions
    from voicetune.models.vits.finetune import VitsTrainOptions

    return {"vits": VitsTrainOptions, "mms": MmsOptions}


BACKEND = register(Backend(
    name="mms",
    summary="a transformers VITS folder or hub id (facebook/mms-tts-*), or an MMS run",
    run_file="vits.json",
    train_flags=("--freeze", "--train", "--select-by", "--speaker", "--speaker-column", "--filter-speaker",
                 "--override-speaker-embeddings", "--skip-unknown-chars"),
    start_only=("--freeze", "--train", "--speaker", "--speaker-column", "--filter-speaker",
                "--override-speaker-embeddings", "--skip-unknown-chars"),
    export_formats=("hf", "piper"),
    select_by=("loss", "similarity", "wer", "combined"),
    claims_base=_claims_base,
    claims_run=_claims_run,
    claims_voice=_claims_run,
    claims_config=lambda config: Path(config).suffix.lower() == ".json",  # a finetune-hf-vits config
    train=lazy("voicetune.models.mms.training:train_mms"),
    export=lazy("voicetune.models.mms.export_hf:export_mms_run"),
    config_sections=_sections,
    synthesizer=lazy("voicetune.evaluation.targets:vits_synthesizer"),  # its runs speak through voicetune.synth
))
