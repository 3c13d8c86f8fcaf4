"""voicetune: raw recordings in, a fine-tuned, evaluated, exported TTS voice out."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "prepare", "say"]


def prepare(*args, **kwargs):
    """Recordings -> dataset folder. See :func:`voicetune.data.build.prepare`."""
    from voicetune.data.build import prepare as _prepare

    return _prepare(*args, **kwargs)


def say(*args, **kwargs):
    """Text -> wav with a voice. See :func:`voicetune.synth.say`."""
    from voicetune.synth import say as _say

    return _say(*args, **kwargs)
