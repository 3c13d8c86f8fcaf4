"""The XTTS v2 backend in the registry (voicetune.backends): a folder with coqui's XTTS files
(model.pth + vocab.json, or config.json with "model": "xtts"), a hub id naming XTTS, an XTTS run
or an exported XTTS voice."""

from __future__ import annotations

from pathlib import Path

from voicetune.backends import Backend, lazy, register


def _claims_base(base: str) -> bool:
    from voicetune.models.xtts.base import looks_like_xtts

    path = Path(base).expanduser()
    # a hub id naming XTTS (coqui/XTTS-v2) when it is not a local path
    return looks_like_xtts(path) or (not path.exists() and "xtts" in base.lower())


def _claims_run(path: Path) -> bool:
    from voicetune.models.xtts.run import RUNS

    return RUNS.run_of(path) is not None


def _claims_voice(path: Path) -> bool:
    from voicetune.models.xtts.voice import is_xtts_voice

    return is_xtts_voice(path) or _claims_run(path)


def _synthesizer(target, device: str = "cpu", backend: str = "auto"):
    from voicetune.errors import VoicetuneError
    from voicetune.models.xtts.voice import xtts_synthesizer

    if backend not in ("auto", "torch"):
        raise VoicetuneError(f"--backend {backend}: an XTTS voice speaks through coqui's torch model; use auto")
    return xtts_synthesizer(target, device)


def _sections():
    from voicetune.models.xtts.finetune import XttsTrainOptions

    return {"xtts": XttsTrainOptions}


BACKEND = register(Backend(
    name="xtts",
    summary="a coqui XTTS v2 folder (model.pth, config.json, vocab.json) or an XTTS run",
    run_file="xtts.json",
    train_flags=("--preset", "--select-by"),
    start_only=("--preset",),
    export_formats=("xtts", "xtts-fp16"),
    select_by=("loss", "similarity", "wer", "combined"),
    claims_base=_claims_base,
    claims_run=_claims_run,
    claims_voice=_claims_voice,
    train=lazy("voicetune.models.xtts.training:train_xtts"),
    export=lazy("voicetune.models.xtts.export:export_xtts"),
    config_sections=_sections,
    synthesizer=_synthesizer,
))
