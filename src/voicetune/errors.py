"""User-facing errors: one line that names the file and the fix, never a traceback."""

from __future__ import annotations


class VoicetuneError(Exception):
    """An error caused by the user's input or environment; the CLI prints it as one line."""


def first_error(exc, prefix: str = "") -> str:
    """A pydantic ValidationError as ``where: what`` (its first error: one line, the one to fix first).
    ``prefix``: the section the model sits in, e.g. ``vits.`` so the key reads as the user wrote it."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{prefix}{where}: {err['msg']}" if where else err["msg"]


class AudioError(VoicetuneError):
    """A source file cannot be read or decoded."""


class DatasetError(VoicetuneError):
    """A dataset folder is missing, malformed or of an unknown format version."""
