"""Our VitsModel -> a Piper voice (``.onnx`` + ``.onnx.json``) that piper-tts's own runtime loads.

The graph has Piper's interface: inputs ``input`` [b, t] int64, ``input_lengths`` [b] int64,
``scales`` [3] float32 = (noise_scale, length_scale, noise_w) and, for multi-speaker voices,
``sid`` [b] int64; output ``output`` [b, 1, 1, samples] float32. Exported with the TorchScript
exporter at opset 15 like Piper's own exporter (the dynamo exporter cannot trace the
data-dependent output length), weight norm folded.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from voicetune.fileio import atomic_path, write_json

from .model import VitsModel
from .voice import VoiceConfig

OPSET_VERSION = 15


def _piper_forward(model: VitsModel):
    """Piper's ONNX signature. Bound as the instance's forward (as Piper's exporter does) rather
    than wrapped, so initializers keep the bare parameter names (enc_p.*, not model.enc_p.*)."""

    def forward(text, text_lengths, scales, sid=None):
        audio = model.infer(
            text, text_lengths, sid=sid, noise_scale=scales[0], length_scale=scales[1], noise_scale_w=scales[2]
        ).audio
        return audio.unsqueeze(1)

    return forward


def _world_readable(path: Path) -> None:
    # mkstemp creates 0600 files; a voice is meant to be shared like any file the user writes
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def export_onnx(model: VitsModel, path: str | Path, *, opset: int = OPSET_VERSION) -> Path:
    """Write the inference graph of ``model`` to ``path`` atomically."""
    path = Path(path)
    m = model.plain_copy().cpu().float().eval()
    m.forward = _piper_forward(m)  # type: ignore[method-assign]
    n_tokens = 50
    gen = torch.Generator().manual_seed(0)
    text = torch.randint(0, model.config.num_symbols, (1, n_tokens), generator=gen, dtype=torch.long)
    lengths = torch.tensor([n_tokens], dtype=torch.long)
    scales = torch.tensor([0.667, 1.0, 0.8], dtype=torch.float32)
    args: tuple = (text, lengths, scales)
    names = ["input", "input_lengths", "scales"]
    if model.config.multi_speaker:
        args = (*args, torch.tensor([0], dtype=torch.long))
        names.append("sid")
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        _world_readable(tmp)
        torch.onnx.export(
            m,
            args,
            str(tmp),
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=["output"],
            dynamic_axes={
                "input": {0: "batch_size", 1: "phonemes"},
                "input_lengths": {0: "batch_size"},
                "output": {0: "batch_size", 3: "time"},
                **({"sid": {0: "batch_size"}} if model.config.multi_speaker else {}),
            },
        )
    return path


def voice_json(model: VitsModel, voice: VoiceConfig) -> dict:
    d = voice.to_piper_dict()
    c = model.config
    d["num_symbols"] = c.num_symbols
    d["num_speakers"] = c.n_speakers
    d["audio"]["sample_rate"] = c.sample_rate
    d["hop_length"] = c.hop_length
    d.setdefault("piper_version", "1.0.0")
    d["voicetune"] = {"vits_config": c.to_dict()}
    return d


def export_piper(model: VitsModel, voice: VoiceConfig, path: str | Path) -> tuple[Path, Path]:
    """Write ``<path>`` (.onnx) and ``<path>.json``; returns both paths."""
    path = Path(path)
    if path.suffix != ".onnx":
        path = path.with_name(path.name + ".onnx")
    export_onnx(model, path)
    json_path = Path(f"{path}.json")
    write_json(json_path, voice_json(model, voice))
    _world_readable(json_path)
    return path, json_path
