"""The Piper/VITS backend in the registry (voicetune.backends): every base no other backend claims
(``joe``, a Piper ``.onnx``/``.ckpt``, a hub ``.ckpt``, an earlier run) and every voice
voicetune.synth loads. Cheap to import: the work happens in the functions it names."""

from __future__ import annotations

from pathlib import Path

from voicetune.backends import Backend, lazy, register


def _claims_run(path: Path) -> bool:
    from voicetune.models.vits.run import RUNS

    return RUNS.run_of(path) is not None


def _sections():
    from voicetune.models.vits.finetune import VitsTrainOptions

    return {"vits": VitsTrainOptions}


BACKEND = register(Backend(
    name="vits",
    summary="a Piper voice (`joe`, .onnx, .ckpt, hf://datasets/.../*.ckpt) or an earlier run",
    run_file="vits.json",
    train_flags=("--freeze", "--train", "--bootstrap-steps", "--select-by", "--speaker"),
    start_only=("--freeze", "--train", "--bootstrap-steps", "--speaker"),
    export_formats=("piper", "piper-ckpt"),
    select_by=("loss", "similarity", "wer", "combined"),
    claims_base=lambda base: True,
    claims_run=_claims_run,
    claims_voice=lambda path: True,
    train=lazy("voicetune.models.vits.training:train_vits"),
    export=lazy("voicetune.models.vits.export_run:export_vits_run"),
    config_sections=_sections,
    synthesizer=lazy("voicetune.evaluation.targets:vits_synthesizer"),
    check_text=lazy("voicetune.models.vits.coverage:dataset_coverage"),
))
