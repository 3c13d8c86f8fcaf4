"""voicetune's own VITS voice checkpoint: a folder with ``model.safetensors`` (plain weights,
Piper's names, weight norm folded) and ``voice.json`` (the Piper voice config plus our
``voicetune.vits_config`` and ``voicetune.format_version``). The trainer's run checkpoints can be
read through :func:`load_vits_checkpoint` when they hold these two files."""

from __future__ import annotations

from pathlib import Path

from voicetune.fileio import write_json, write_with

from .config import VitsConfig
from .errors import VoiceError
from .model import VitsModel
from .voice import VoiceConfig

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
VOICE = "voice.json"


def is_vits_checkpoint(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / WEIGHTS).is_file() and (folder / VOICE).is_file()


def save_vits_checkpoint(model: VitsModel, voice: VoiceConfig, folder: str | Path) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.plain_state_dict().items()}
    write_with(folder / WEIGHTS, lambda tmp: save_file(state, str(tmp)))
    d = voice.to_piper_dict()
    d["voicetune"] = {"format_version": FORMAT_VERSION, "vits_config": model.config.to_dict()}
    write_json(folder / VOICE, d)
    return folder


def load_vits_checkpoint(folder: str | Path) -> tuple[VitsModel, VoiceConfig]:
    from safetensors.torch import load_file

    folder = Path(folder)
    if not is_vits_checkpoint(folder):
        raise VoiceError(f"{folder}: not a voicetune VITS checkpoint (needs {WEIGHTS} and {VOICE})")
    voice = VoiceConfig.load(folder / VOICE)
    meta = voice.raw.get("voicetune") or {}
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise VoiceError(
            f"{folder / VOICE}: unknown checkpoint format_version {version!r} (this voicetune reads {FORMAT_VERSION}); "
            "upgrade voicetune or re-export the checkpoint"
        )
    model = VitsModel(VitsConfig.from_dict(meta["vits_config"]))
    state = load_file(str(folder / WEIGHTS))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith(model.training_only_prefixes())]:
        raise VoiceError(f"{folder / WEIGHTS}: weights do not match voice.json's vits_config; re-save the checkpoint")
    model.eval()
    return model, voice
