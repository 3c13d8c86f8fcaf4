"""User-facing errors: one line that names the file and the fix, never a traceback."""

from __future__ import annotations


class VoicetuneError(Exception):
    """An error caused by the user's input or environment; the CLI prints it as one line."""


class AudioError(VoicetuneError):
    """A source file cannot be read or decoded."""


class DatasetError(VoicetuneError):
    """A dataset folder is missing, malformed or of an unknown format version."""
