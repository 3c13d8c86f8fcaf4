"""What can be evaluated: anything that turns text into audio, behind one callable.

``synthesizer_for(target)`` asks the backend registry (voicetune.backends) which backend speaks
with the target and uses that backend's loader: XTTS folders and runs through coqui
(models/xtts/voice.py); everything else through ``voicetune.synth.load_voice`` (``vits_synthesizer``
below: a Piper ``.onnx``, a voice folder, a VITS checkpoint folder, ``joe``, a checkpoint of a VITS
or MMS run, the latter with its own character tokenizer). What is evaluated is what `voicetune say`
speaks with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicetune.errors import VoicetuneError

# every evaluation hears the same noise: torch voices speak each sentence with this seed, ONNX voices
# get a session of their own seeded with it (their noise is drawn inside onnxruntime)
EVAL_SEED = 0


@dataclass
class Synthesizer:
    speak: Callable[[str], tuple[np.ndarray, int]]
    label: str
    sample_rate: int
    hop_length: int = 256

    def __call__(self, text: str) -> tuple[np.ndarray, int]:
        return self.speak(text)


def _backend_for(target: str | Path, backend: str) -> str:
    """"auto": onnxruntime for Piper ONNX voices (what piper-tts users hear, and steady timing: in a
    fresh process our torch VITS paid up to ~10 s warm-up per new input shape, measured RTF 0.82
    vs 0.13 over the 20 sentences), torch for checkpoints (they have no ONNX graph)."""
    if backend != "auto":
        return backend
    from voicetune.models.mms.import_hf import is_hf_vits
    from voicetune.models.vits.checkpoint import is_vits_checkpoint

    path = Path(target)
    torch_only = path.is_dir() and (is_vits_checkpoint(path) or is_hf_vits(path))  # no ONNX graph in either
    return "torch" if path.suffix == ".ckpt" or torch_only else "onnx"


def _load_synthesizer(target: str | Path, device: str = "cpu", backend: str = "auto") -> Synthesizer:
    from voicetune.synth import load_voice, say

    # not cached: a run's checkpoints are evaluated one after another and each is used once
    voice = load_voice(target, device=device, backend=_backend_for(target, backend), onnx_seed=EVAL_SEED, cache=False)

    def speak(text: str) -> tuple[np.ndarray, int]:
        return say(text, voice, seed=EVAL_SEED)

    return Synthesizer(speak, str(target), voice.sample_rate, int(voice.config.hop_length))


def _is_voice(path: Path) -> bool:
    from voicetune.models.mms.import_hf import is_hf_vits
    from voicetune.models.vits.checkpoint import is_vits_checkpoint

    if path.is_dir():
        return is_vits_checkpoint(path) or is_hf_vits(path) or any(path.glob("*.onnx"))
    return path.suffix in (".onnx", ".ckpt")


def _trainer_step(path: Path) -> bool:
    return path.is_dir() and (path / "trainer.json").exists()


def _vits_run_step(path: Path) -> bool:
    """A ``RUN/checkpoints/step-N`` folder of a VITS or MMS fine-tune (its voice config is RUN/vits.json)."""
    from voicetune.models.vits.run import RUNS

    return _trainer_step(path) and RUNS.run_of(path) is not None


def _run_step_synthesizer(path: Path, device: str = "cpu", backend: str = "auto") -> Synthesizer:
    if backend == "onnx":
        raise VoicetuneError(f"{path}: a checkpoint has no ONNX graph; use --backend torch (or auto)")
    return _load_synthesizer(path, device, "torch")


def _no_voice_yet(path: Path, device: str = "cpu", backend: str = "auto") -> Synthesizer:
    raise VoicetuneError(
        f"{path}: this trainer checkpoint has no voice config (no voice.json here, no vits.json in its run), "
        "so it cannot speak; evaluate a VITS run's checkpoint, a VITS checkpoint folder or an exported voice"
    )


LOADERS: list[tuple[Callable[[Path], bool], Callable[..., Synthesizer]]] = [
    (_is_voice, _load_synthesizer),
    (_vits_run_step, _run_step_synthesizer),
    (_trainer_step, _no_voice_yet),
]


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "checkpoints").is_dir() and (path / "config.yaml").exists()


def vits_synthesizer(target: str | Path, device: str = "cpu", backend: str = "auto") -> Synthesizer:
    """The Piper/VITS backend's loader (registered in models/vits/spec.py)."""
    from voicetune.synth import SHORTCUTS

    if str(target).lower() in SHORTCUTS:
        return _load_synthesizer(str(target), device, backend)
    path = Path(target)
    for matches, build in LOADERS:
        if matches(path):
            return build(path, device=device, backend=backend)
    raise VoicetuneError(
        f"{path}: not a voice voicetune can load; pass a Piper .onnx (with its .onnx.json), a voice folder, "
        "a VITS checkpoint folder (model.safetensors + voice.json), an XTTS folder, a run folder or 'joe'"
    )


def synthesizer_for(target: str | Path, device: str = "cpu", backend: str = "auto") -> Synthesizer:
    """A callable ``text -> (audio, sample_rate)`` for a voice, checkpoint, run or ``joe``.

    ``backend``: "auto", "torch" (voicetune's VITS, coqui's XTTS) or "onnx" (onnxruntime, Piper voices only).
    """
    from voicetune import backends
    from voicetune.synth import SHORTCUTS

    if backend not in ("auto", "torch", "onnx"):
        raise VoicetuneError(f"unknown backend {backend!r}; use auto, torch or onnx")
    if str(target).lower() in SHORTCUTS:
        return vits_synthesizer(str(target), device, backend)
    path = Path(target).expanduser()
    if not path.exists():
        raise VoicetuneError(f"{path}: not found; pass a Piper .onnx, a voice folder, a checkpoint folder, a run or 'joe'")
    return backends.for_voice(path).synthesizer(path, device=device, backend=backend)
