"""Import coqui-tts's XTTS code on any torch: the real torchaudio when it works, a shim otherwise.

Decision (docs/xtts.md): the ``xtts`` extra installs coqui-tts and six only. On a CUDA machine the
user's matching torchaudio (and torchcodec) are used unchanged. Where torchaudio is absent or
cannot load (PyPI's torchaudio wheels are CUDA builds that fail beside a CPU torch), voicetune
registers :mod:`voicetune.models.xtts.torchaudio_shim` as ``torchaudio`` and an empty
``torchcodec`` so coqui's import-time checks pass, and points XTTS's ``load_audio`` at soundfile.
Nothing here changes the torch install.

Importing coqui's XTTS *training* dataset module calls ``torch.set_num_threads(1)`` for the
whole process; voicetune never imports it, and :func:`keep_threads` undoes it where a caller
(the benchmark) must.

transformers 5.24 renamed the KV cache argument that ``generate()`` passes to a model's
``forward`` from ``past_key_values`` to ``cache``; coqui-tts 0.28's ``GPT2InferenceModel.forward``
still reads ``past_key_values`` (then ``None``: ``'NoneType' object has no attribute
'get_seq_length'``). :func:`_accept_cache_kwarg` hands the new name to the old parameter; on
transformers releases that still pass ``past_key_values`` it changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterator

from voicetune.errors import VoicetuneError

INSTALL_HINT = "pip install 'voicetune[xtts]' (coqui-tts + six)"
_state: dict[str, str] = {}


def _real_torchaudio_works() -> bool:
    try:
        import torchaudio  # noqa: F401
    except Exception:  # noqa: BLE001 - a CUDA wheel on a CPU torch raises OSError/ImportError/RuntimeError
        for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
            del sys.modules[name]
        return False
    return True


def _register(name: str, module: types.ModuleType) -> None:
    # coqui checks importlib.util.find_spec(name), which reads sys.modules[name].__spec__
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
    sys.modules[name] = module


def _install_shim() -> None:
    from voicetune.models.xtts import torchaudio_shim as shim

    ta = types.ModuleType("torchaudio")
    for attr in ("__version__", "load", "save", "resample"):
        setattr(ta, attr, getattr(shim, attr))
    functional = types.ModuleType("torchaudio.functional")
    functional.resample = shim.resample
    functional.melscale_fbanks = shim.melscale_fbanks
    transforms = types.ModuleType("torchaudio.transforms")
    transforms.MelSpectrogram = shim.MelSpectrogram
    transforms.Resample = shim.Resample
    ta.functional, ta.transforms = functional, transforms
    _register("torchaudio", ta)
    _register("torchaudio.functional", functional)
    _register("torchaudio.transforms", transforms)


def _torchcodec_needed() -> bool:
    import torch
    from packaging.version import Version

    if Version(torch.__version__.split("+")[0]) < Version("2.9"):
        return False
    return importlib.util.find_spec("torchcodec") is None


def import_coqui() -> str:
    """Make ``import TTS`` work; returns how torchaudio is provided ("torchaudio X" or "shim")."""
    if importlib.util.find_spec("TTS") is None:
        raise VoicetuneError(f"the xtts backend needs coqui-tts: {INSTALL_HINT}")
    from voicetune.versions import require_tested

    require_tested("xtts")
    if "mode" in _state:
        return _state["mode"]
    if _real_torchaudio_works():
        import torchaudio

        mode = f"torchaudio {getattr(torchaudio, '__version__', '?')}"
    else:
        _install_shim()
        mode = "shim"
    placeholder = _torchcodec_needed()
    if placeholder:
        # only TTS/__init__.py's import-time check looks for it; XTTS audio loading goes through
        # load_audio below. Removed right after: other libraries (datasets) import torchcodec's
        # submodules when they find it in sys.modules
        _register("torchcodec", types.ModuleType("torchcodec"))
    try:
        import TTS  # noqa: F401
        from TTS.tts.models import xtts
    except ImportError as exc:
        raise VoicetuneError(f"coqui-tts does not import ({str(exc).strip().splitlines()[0]}); {INSTALL_HINT}") from None
    finally:
        if placeholder:
            sys.modules.pop("torchcodec", None)
    if mode == "shim":
        xtts.load_audio = load_audio_soundfile
    _accept_cache_kwarg()
    _state["mode"] = mode
    return mode


def _accept_cache_kwarg() -> None:
    """Let coqui's GPT2InferenceModel.forward take the KV cache as ``cache=`` (transformers >= 5.24)."""
    from TTS.tts.layers.xtts.gpt_inference import GPT2InferenceModel

    forward = GPT2InferenceModel.forward
    if getattr(forward, "_voicetune_cache_kwarg", False):
        return

    @functools.wraps(forward)
    def forward_accepting_cache(self, *args, **kwargs):
        if "cache" in kwargs:
            cache = kwargs.pop("cache")
            if kwargs.get("past_key_values") is None:
                kwargs["past_key_values"] = cache
        return forward(self, *args, **kwargs)

    forward_accepting_cache._voicetune_cache_kwarg = True
    GPT2InferenceModel.forward = forward_accepting_cache


def load_audio_soundfile(audiopath, sampling_rate: int):
    """XTTS's ``load_audio`` (1, frames) in [-1, 1] at ``sampling_rate``, decoded by voicetune.audio."""
    import torch

    from voicetune.audio import load_audio

    return torch.from_numpy(load_audio(audiopath, sampling_rate)).clamp_(-1, 1).unsqueeze(0)


@contextlib.contextmanager
def keep_threads() -> Iterator[None]:
    """Undo torch.set_num_threads() calls made while importing coqui modules inside the block."""
    import torch

    n = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(n)


def status() -> tuple[bool, str]:
    """(ok, detail) for `voicetune doctor`: does the xtts backend import here, and how."""
    try:
        mode = import_coqui()
    except VoicetuneError as exc:
        return False, str(exc)
    import importlib.metadata as md

    return True, f"coqui-tts {md.version('coqui-tts')}, audio ops: {mode}"
