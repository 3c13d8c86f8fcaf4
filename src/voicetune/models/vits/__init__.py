"""voicetune's own VITS core (Piper/VITS-compatible parameter names).

Importing this package is cheap; the heavy modules load on first use of their names:
``VitsConfig``/``preset`` (config), ``VitsModel`` (model), ``import_piper_onnx``/``import_piper_checkpoint`` (import_piper; its ``import_piper()`` picks by suffix),
``export_piper`` (export), ``maximum_path`` (mas).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "VitsConfig": "config",
    "preset": "config",
    "VitsModel": "model",
    "InferOutput": "model",
    "TrainOutput": "model",
    "VoiceConfig": "voice",
    "VoiceError": "errors",
    "import_piper_onnx": "import_piper",
    "import_piper_checkpoint": "import_piper",
    "ImportReport": "import_piper",
    "ImportedVoice": "import_piper",
    "export_piper": "export",
    "export_onnx": "export",
    "maximum_path": "mas",
    "save_vits_checkpoint": "checkpoint",
    "load_vits_checkpoint": "checkpoint",
    "MultiPeriodDiscriminator": "discriminators",
    "MultiScaleDiscriminator": "discriminators",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
