"""voicetune: raw recordings in, a fine-tuned, evaluated, exported TTS voice out.

The stages as functions (voicetune.api; the CLI calls the same ones): ``prepare``, ``train``,
``evaluate``, ``export``, ``say``. Backends (Piper/VITS, MMS, XTTS): voicetune.backends.
"""

from __future__ import annotations

from voicetune.api import evaluate, export, prepare, say, train

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "export", "prepare", "say", "train"]
